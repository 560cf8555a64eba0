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


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with samples from N(mean, std^2) conditioned on lying in [a, b]
    (absolute bounds, not multiples of std); the usual start for transformer
    weights.

    Rejection sampling, so the distribution is exact however far [a, b] lies
    in a tail: normal draws outside [a, b] are redrawn while the interval
    holds a good share of the mass; otherwise uniform draws on [a, b] are
    kept with probability proportional to the normal density.

    Example
    -------
    >>> nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04)
    """
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a <= b:
        raise ValueError(f"trunc_normal_: the interval [a, b] = [{a}, {b}] is empty; a must not exceed b")
    generator = generator or default_generator()
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    peak = min(max(mean, a), b)  # where the density is highest on [a, b]
    values = numpy.empty(tensor.shape, dtype=tensor.dtype)
    missing = numpy.arange(values.size)  # flat indices still to fill
    while missing.size:
        if mass > 0.3:
            draws = generator.normal(mean, std, missing.size)
            keep = numpy.ones(missing.size, dtype=bool)
        else:
            draws = generator.uniform(a, b, missing.size)
            # accepted with probability density(draw) / density(peak)
            ratio = numpy.exp(((peak - mean) ** 2 - (draws - mean) ** 2) / (2 * std ** 2))
            keep = generator.random(missing.size) < ratio
        # Compared after rounding to the tensor's dtype, so rounding cannot carry a kept value past a bound.
        draws = draws.astype(values.dtype)
        keep &= (a <= draws) & (draws <= b)
        values.flat[missing[keep]] = draws[keep]
        missing = missing[~keep]
    return _fill(tensor, values)


def _normal_cdf(x):
    return (1 + math.erf(x / math.sqrt(2))) / 2


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


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D tensor with N(0, std^2) samples, then zero ceil(sparsity x rows)
    randomly chosen entries of every column (Martens, 2010).

    Example
    -------
    >>> w = nn.init.sparse_(chainrule.empty(10, 4), sparsity=0.3)
    >>> ((w.numpy() == 0).sum(axis=0) >= 3).all()
    True
    """
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: needs a 2-dim tensor, got shape {tensor.shape}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity is the fraction of zeros in each column and must be in [0, 1], "
                         f"got {sparsity}")
    generator = generator or default_generator()
    rows, cols = tensor.shape
    values = generator.normal(0.0, std, (rows, cols))
    # The rows with the lowest random keys are a uniform random choice, independently per column.
    zero_rows = generator.random((rows, cols)).argsort(axis=0)[:math.ceil(sparsity * rows)]
    values[zero_rows, numpy.arange(cols)] = 0
    return _fill(tensor, values)


def eye_(tensor):
    """Fill a 2-D tensor with the identity: ones on the diagonal, zeros
    elsewhere, so a square linear layer starts as the identity map.

    Example
    -------
    >>> nn.init.eye_(chainrule.empty(2, 3)).numpy()
    array([[1., 0., 0.],
           [0., 1., 0.]], dtype=float32)
    """
    if tensor.ndim != 2:
        raise ValueError(f"eye_: needs a 2-dim tensor, got shape {tensor.shape}")
    return _fill(tensor, numpy.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a convolution weight (3, 4 or 5 dims) so that the convolution
    passes its input through: in each of ``groups`` groups of output
    channels, output channel d takes input channel d at the kernel's centre,
    for as many channels as both sides have; the rest are zero.

    Example
    -------
    >>> conv = nn.Conv2d(16, 16, 3, padding=1)
    >>> nn.init.dirac_(conv.weight)  # with a zero bias, conv(x) equals x
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: needs a convolution weight with 3, 4 or 5 dims, got shape {tensor.shape}")
    if groups < 1 or tensor.shape[0] % groups:
        raise ValueError(f"dirac_: the {tensor.shape[0]} output channels (dim 0) must split into "
                         f"groups={groups} equal groups")
    per_group = tensor.shape[0] // groups
    channels = numpy.arange(min(per_group, tensor.shape[1]))
    outputs = (per_group * numpy.arange(groups)[:, None] + channels).ravel()
    centre = tuple(size // 2 for size in tensor.shape[2:])
    values = numpy.zeros(tensor.shape)
    values[(outputs, numpy.tile(channels, groups)) + centre] = 1
    return _fill(tensor, values)
