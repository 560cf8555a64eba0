"""Normalisation: batch, instance, layer and group norm, all through one fused node.

Each standardises x over some axes, x̂ = (x - μ) / σ with σ = sqrt(var + eps)
(the biased variance), then applies an optional per-feature affine map
y = γ x̂ + β. The four differ only in the axes the statistics run over and
in where γ and β broadcast, so one ``Normalization`` node serves them all.

Its backward is the closed form. With g' = dy γ and means taken over the
normalised axes (N elements),

    dx = (1/σ) (g' - mean(g') - x̂ mean(g' x̂))
       = (1/N) (1/σ) (N g' - Σg' - x̂ Σ(g' x̂)),

since x̂ has zero mean and unit mean square: the two subtracted terms
remove the components of g' along the directions the standardisation
cannot move (a shift and a scale). dγ = Σ dy x̂ and dβ = Σ dy over the
axes γ and β are broadcast along.
"""
import math

from ..autograd import Function, is_grad_enabled, sum_to_shape
from ..backend import array_module
from ..tensor import constant


class Normalization(Function):
    """x standardised over ``dims``, then times ``weight`` plus ``bias``.

    ``weight`` and ``bias`` are optional inputs (``affine`` names which are
    given); both are reshaped to ``affine_shape``, which broadcasts against
    x. With ``running`` = (running_mean, running_var, momentum), the batch
    statistics are blended into those buffers in place.
    """

    def forward(self, x, *params, dims, eps, affine, affine_shape, running=None):
        self.dims, self.eps, self.affine, self.affine_shape = dims, eps, affine, affine_shape
        xp = array_module(x)
        mean = x.mean(axis=dims, keepdims=True)
        centred = x - mean
        var = xp.mean(centred * centred, axis=dims, keepdims=True)
        self.inv_std = 1 / xp.sqrt(var + eps)
        self.x_hat = centred * self.inv_std
        if running is not None:
            _update_running_stats(*running, mean, var, x.size // mean.size)
        weight, bias = _split_affine(params, affine)
        # NOTE: never x̂ itself: an in-place op on the output would change what backward reads.
        out = self.x_hat * weight.reshape(affine_shape) if weight is not None else self.x_hat.copy()
        if bias is not None:
            out += bias.reshape(affine_shape)
        return out

    def standardized(self):
        """x̂ and 1/σ as Tensors: the saved arrays, or, while recording
        (``create_graph=True``), recomputed from x so that their own
        dependence on x enters the new graph."""
        if not is_grad_enabled():
            return constant(self.x_hat), constant(self.inv_std)
        x = self.inputs[0]
        centred = x - x.mean(dim=self.dims, keepdim=True)
        inv_std = ((centred * centred).mean(dim=self.dims, keepdim=True) + self.eps).rsqrt()
        return centred * inv_std, inv_std

    def backward(self, g):
        x_hat, inv_std = self.standardized()
        weight, bias = _split_affine(self.inputs[1:], self.affine)
        g_hat = g * weight.reshape(self.affine_shape) if weight is not None else g
        grad_x = None
        if self.edges[0] is not None:
            mean_g = g_hat.mean(dim=self.dims, keepdim=True)
            mean_g_x_hat = (g_hat * x_hat).mean(dim=self.dims, keepdim=True)
            grad_x = (g_hat - mean_g - x_hat * mean_g_x_hat) * inv_std
        grads = [grad_x]
        needs = iter(self.edges[1:])
        if weight is not None:
            grads.append(sum_to_shape(g * x_hat, self.affine_shape).reshape(weight.shape)
                         if next(needs) is not None else None)
        if bias is not None:
            grads.append(sum_to_shape(g, self.affine_shape).reshape(bias.shape)
                         if next(needs) is not None else None)
        return tuple(grads)


def _split_affine(params, affine):
    """(weight, bias) from the inputs after x, with None for each one absent."""
    params = iter(params)
    return tuple(next(params) if given else None for given in affine)


def _update_running_stats(running_mean, running_var, momentum, mean, var, count):
    # NOTE: the running variance is the unbiased one, as PyTorch keeps it,
    # while the batch is normalised with the biased one. Instance norm has
    # statistics per example and channel; the running ones move towards
    # their average over the batch, as in PyTorch.
    unbiased = var * (count / (count - 1))
    for buffer, batch_value in ((running_mean, mean), (running_var, unbiased)):
        buffer.data *= 1 - momentum
        buffer.data += momentum * batch_value.reshape((-1,) + buffer.shape).mean(axis=0)
        buffer._version[0] += 1


def _normalize(input, weight, bias, dims, eps, affine_shape, running=None):
    affine = (weight is not None, bias is not None)
    params = [p for p in (weight, bias) if p is not None]
    return Normalization.apply(input, *params, dims=dims, eps=eps, affine=affine,
                               affine_shape=affine_shape, running=running)


def _with_running_stats(input, running_mean, running_var, weight, bias, eps, affine_shape):
    """Normalisation with fixed statistics: an affine map per channel, y = x scale + shift."""
    scale = (running_var + eps).rsqrt()
    shift = -running_mean * scale
    if weight is not None:
        scale, shift = scale * weight, shift * weight
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(affine_shape) + shift.reshape(affine_shape)


def _check_shape(name, param, label, expected):
    if param is not None and tuple(param.shape) != tuple(expected):
        raise ValueError(f"{name}: {label} has shape {param.shape}, expected {tuple(expected)}")


# ------------------------------------------------------------------ public functions

def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and every other dim.

    In training, the batch's own statistics are used (one fused node) and,
    when ``running_mean`` and ``running_var`` are given, blended into them
    in place: ``running = (1 - momentum) running + momentum batch``, with the
    unbiased batch variance. Otherwise the running statistics are used.

    Parameters
    ----------
    input : (N, C) or (N, C, *)
    running_mean, running_var : (C,) tensors, or None (training only)
    weight, bias : (C,) tensors, or None
    training : use and update batch statistics
    momentum : weight of the new batch in the running statistics
    eps : added to the variance, for stability

    Example
    -------
    >>> x = chainrule.randn(8, 3, 5)
    >>> mean, var = chainrule.zeros(3), chainrule.ones(3)
    >>> y = batch_norm(x, mean, var, training=True)   # each channel now has mean 0, variance 1
    >>> mean.shape, y.shape                             # mean moved 10% of the way to the batch's
    ((3,), (8, 3, 5))
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, *), got {input.shape}")
    channels = input.shape[1]
    for label, tensor in (("running_mean", running_mean), ("running_var", running_var),
                          ("weight", weight), ("bias", bias)):
        _check_shape("batch_norm", tensor, label, (channels,))
    affine_shape = (1, channels) + (1,) * (input.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: outside training, running_mean and running_var are needed")
        return _with_running_stats(input, running_mean, running_var, weight, bias, eps, affine_shape)
    count = input.numel() // channels
    if count <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of shape "
            f"{input.shape}; use a larger batch, or eval mode"
        )
    dims = (0,) + tuple(range(2, input.ndim))
    tracked = running_mean is not None and running_var is not None
    running = (running_mean, running_var, momentum) if tracked else None
    return _normalize(input, weight, bias, dims, eps, affine_shape, running)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each example over its spatial dims (Ulyanov et al., 2016).

    With ``use_input_stats`` every (example, channel) pair is standardised
    with its own mean and (biased) variance, and ``running_mean`` and
    ``running_var``, when given, move towards the batch's average of those
    statistics, in place: ``running = (1 - momentum) running + momentum
    mean_over_batch(statistic)``, with each variance unbiased. Otherwise the
    running statistics normalise, as in ``batch_norm`` outside training.

    Parameters
    ----------
    input : (N, C, *), with more than one spatial element when ``use_input_stats``
    running_mean, running_var : (C,) tensors, both or neither
    weight, bias : (C,) tensors, or None
    use_input_stats : normalise with the input's statistics (and update the running ones)
    momentum : weight of the new batch in the running statistics
    eps : added to the variance, for stability

    Example
    -------
    >>> x = chainrule.randn(4, 3, 8, 8)
    >>> y = instance_norm(x)                  # each y[n, c] has mean 0, variance 1
    >>> y.shape
    (4, 3, 8, 8)
    """
    if input.ndim < 2:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *), got {input.shape}")
    channels = input.shape[1]
    for label, tensor in (("running_mean", running_mean), ("running_var", running_var),
                          ("weight", weight), ("bias", bias)):
        _check_shape("instance_norm", tensor, label, (channels,))
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: give both running_mean and running_var, or neither")
    affine_shape = (1, channels) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None:
            raise ValueError("instance_norm: without use_input_stats, running_mean and running_var are needed")
        return _with_running_stats(input, running_mean, running_var, weight, bias, eps, affine_shape)
    if math.prod(input.shape[2:]) <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element per channel when using the "
                         f"input's statistics, got input of shape {input.shape}")
    running = (running_mean, running_var, momentum) if running_mean is not None else None
    return _normalize(input, weight, bias, tuple(range(2, input.ndim)), eps, affine_shape, running)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims of each example.

    Parameters
    ----------
    input : (*, *normalized_shape)
    normalized_shape : int or tuple: the trailing shape to normalise over
    weight, bias : tensors of ``normalized_shape``, or None
    eps : added to the variance, for stability

    Example
    -------
    >>> x = chainrule.randn(2, 4, 6)
    >>> layer_norm(x, (6,)).shape      # each row of 6 now has mean 0, variance 1
    (2, 4, 6)
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ValueError(
            f"layer_norm: expected input of shape (*, {', '.join(map(str, normalized_shape))}), "
            f"got {input.shape}"
        )
    _check_shape("layer_norm", weight, "weight", normalized_shape)
    _check_shape("layer_norm", bias, "bias", normalized_shape)
    dims = tuple(range(input.ndim - k, input.ndim))
    return _normalize(input, weight, bias, dims, eps, normalized_shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C / num_groups`` channels, over those
    channels and every dim after them, separately for each example.

    Parameters
    ----------
    input : (N, C, *)
    num_groups : divides C
    weight, bias : (C,) tensors, or None
    eps : added to the variance, for stability

    Example
    -------
    >>> x = chainrule.randn(2, 6, 10)
    >>> group_norm(x, 3).shape         # channels (0, 1), (2, 3), (4, 5) normalised together
    (2, 6, 10)
    """
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got {input.shape}")
    batch, channels = input.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(f"group_norm: num_groups {num_groups} must divide the {channels} channels of "
                         f"input shape {input.shape}")
    _check_shape("group_norm", weight, "weight", (channels,))
    _check_shape("group_norm", bias, "bias", (channels,))
    # Channels split into (groups, channels per group); statistics run over
    # the latter and the flattened remaining dims, while γ and β vary along both.
    spatial = math.prod(input.shape[2:])
    grouped = input.reshape(batch, num_groups, channels // num_groups, spatial)
    out = _normalize(grouped, weight, bias, (2, 3), eps, (num_groups, channels // num_groups, 1))
    return out.reshape(input.shape)

