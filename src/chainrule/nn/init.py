"""Weight initialisation, with fan-in and fan-out computed as PyTorch does.

Every function fills a tensor in place from chainrule's generator
(``manual_seed``) and returns it. Why the scale matters: with n inputs of
unit variance, a weighted sum has variance n Var(w); choosing Var(w) ~ 1/n
keeps activations (and, backwards, gradients) from shrinking or growing
layer by layer. Xavier/Glorot balances fan-in and fan-out for tanh-like
units; He/Kaiming doubles the variance for ReLU, which zeroes half its inputs.
"""
import math

import numpy

from ..random import default_generator


def calculate_gain(nonlinearity, param=None):
    """The factor by which an activation changes its input's standard deviation's target.

    ``linear``/conv/``sigmoid``: 1, ``tanh``: 5/3, ``relu``: sqrt(2),
    ``leaky_relu``: sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01), ``selu``: 3/4.

    Example
    -------
    >>> nn.init.calculate_gain("leaky_relu", 0.2)
    1.3867504905630728
    """
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = in_features x kernel size, fan_out = out_features x kernel size
    (weights are laid out (out, in, *kernel))."""
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dims, got shape {tensor.shape}")
    receptive_field = int(numpy.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _fill(tensor, values):
    tensor.data[...] = values
    tensor._version[0] += 1
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b).

    Example
    -------
    >>> nn.init.uniform_(layer.bias, -0.1, 0.1)
    """
    generator = generator or default_generator()
    return _fill(tensor, generator.uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std^2).

    Example
    -------
    >>> nn.init.normal_(embedding.weight, std=0.02)
    """
    generator = generator or default_generator()
    return _fill(tensor, generator.normal(mean, std, tensor.shape))


def constant_(tensor, val):
    """Fill with ``val``.

    Example
    -------
    >>> nn.init.constant_(layer.bias, 0.1)
    """
    return _fill(tensor, val)


def zeros_(tensor):
    """Fill with 0, the usual start for biases: ``nn.init.zeros_(layer.bias)``."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1, the usual start for a normalisation layer's scale."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    Example
    -------
    >>> nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Example
    -------
    >>> nn.init.xavier_normal_(layer.weight)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); fan by ``mode``,
    gain ``calculate_gain(nonlinearity, a)``.

    Example
    -------
    >>> nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    """
    if tensor.numel() == 0:  # a layer with no inputs (fan 0) has nothing to fill
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan); fan by ``mode``, gain ``calculate_gain(nonlinearity, a)``.

    Example
    -------
    >>> nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    """
    if tensor.numel() == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix
    (Saxe et al., 2013); higher-dimensional tensors are flattened after dim 0.

    Example
    -------
    >>> w = nn.init.orthogonal_(chainrule.empty(3, 5))
    >>> numpy.allclose(w.numpy() @ w.numpy().T, numpy.eye(3))
    True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dims, got shape {tensor.shape}")
    generator = generator or default_generator()
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    flat = generator.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)
    q *= numpy.sign(numpy.diag(r))  # makes the decomposition unique, so q is uniformly distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
