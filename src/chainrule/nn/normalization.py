"""Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm.

Parameter and buffer names follow PyTorch (``weight``, ``bias``,
``running_mean``, ``running_var``, ``num_batches_tracked``), so their state
dicts load into each other.
"""
import warnings

from .. import creation, dtypes
from ..autograd import no_grad
from ..ops.conv import check_rank, spatial_shape
from ..ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from . import init
from .module import Module
from .parameter import Parameter


def _reset_affine(layer):
    """The identity transform: weight 1 and bias 0, where the layer has them."""
    if layer.weight is not None:
        init.ones_(layer.weight)
    if layer.bias is not None:
        init.zeros_(layer.bias)


class _NormBase(Module):
    """What batch and instance norm share: per-channel weight and bias, running statistics, reset and repr."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, dtype, bias):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(creation.empty(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(creation.empty(num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=dtypes.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            for buffer, value in ((self.running_mean, 0), (self.running_var, 1), (self.num_batches_tracked, 0)):
                init.constant_(buffer, value)

    def reset_parameters(self):
        """Forget the running statistics; weight 1, bias 0."""
        self.reset_running_stats()
        _reset_affine(self)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """What BatchNorm1d and BatchNorm2d share; they differ in the input ranks they accept."""

    ranks = ()
    layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def forward(self, input):
        if input.ndim not in self.ranks or input.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input of shape {self.layout.format(C=self.num_features)}, "
                             f"got {input.shape}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.data += 1
                self.num_batches_tracked._version[0] += 1
            if momentum is None:  # a cumulative average: batch k weighs 1/k
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # Without running statistics, batch statistics serve in eval mode too.
        use_batch_stats = self.training or self.running_mean is None
        keep_running = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if keep_running else None,
                          self.running_var if keep_running else None, self.weight, self.bias,
                          use_batch_stats, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C (Ioffe & Szegedy, 2015).

    In training mode each channel is normalised with the batch's mean and
    (biased) variance, and ``running_mean``/``running_var`` move towards
    them by ``momentum`` (``momentum=None``: a cumulative average over all
    batches). In eval mode the running statistics are used instead. Then
    y = weight x̂ + bias (``affine=True``: weight 1, bias 0 at first).

    Example
    -------
    >>> norm = nn.BatchNorm1d(16)
    >>> norm(chainrule.randn(32, 16, 50)).shape
    (32, 16, 50)
    >>> sorted(norm.state_dict())
    ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    ranks = (2, 3)
    layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C; see ``BatchNorm1d``.

    Example
    -------
    >>> nn.BatchNorm2d(8)(chainrule.randn(4, 8, 5, 5)).shape
    (4, 8, 5, 5)
    """

    ranks = (4,)
    layout = "(N, {C}, H, W)"


class _InstanceNorm(_NormBase):
    """What InstanceNorm1d/2d/3d share; they differ in the number of spatial dims."""

    spatial_dims = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias)

    def forward(self, input):
        batched = check_rank(self, input, self.spatial_dims, self.num_features)
        channels = input.shape[1 if batched else 0]
        if channels != self.num_features:
            if self.weight is not None or self.running_mean is not None:
                raise ValueError(f"{self!r}: expected input of shape "
                                 f"{spatial_shape(self.num_features, self.spatial_dims)} or "
                                 f"{spatial_shape(self.num_features, self.spatial_dims, batched=False)}, "
                                 f"got {input.shape}")
            # As in PyTorch: without weights or running statistics num_features is unused.
            warnings.warn(f"{self!r}: the input has {channels} channels, not num_features={self.num_features} "
                          f"(unused without affine parameters or running statistics)", stacklevel=2)
        x = input if batched else input.unsqueeze(0)
        # NOTE: as in PyTorch, momentum=None freezes the running statistics
        # (instance norm counts no batches for a cumulative average).
        momentum = 0.0 if self.momentum is None else self.momentum
        out = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, momentum, self.eps)
        return out if batched else out.squeeze(0)

    def extra_repr(self):
        # PyTorch shows bias here, where BatchNorm's repr (and SyncBatchNorm's) leaves it out.
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) inputs (Ulyanov et al., 2016).

    Each channel of each example is normalised over L with its own mean and
    (biased) variance, so the batch never mixes. With ``affine=True``,
    y = weight x̂ + bias per channel (weight 1, bias 0 at first). With
    ``track_running_stats=True`` the running statistics move towards the
    batch's average of the per-example ones in training (by ``momentum``;
    ``momentum=None`` keeps them fixed), and normalise in eval mode;
    otherwise each input's own statistics serve in both modes.

    Example
    -------
    >>> norm = nn.InstanceNorm1d(16, affine=True)
    >>> norm(chainrule.randn(8, 16, 50)).shape
    (8, 16, 50)
    >>> sorted(norm.state_dict())
    ['bias', 'weight']
    """

    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) inputs; see ``InstanceNorm1d``.

    Example
    -------
    >>> nn.InstanceNorm2d(3)(chainrule.randn(4, 3, 32, 32)).shape   # as in style transfer
    (4, 3, 32, 32)
    """

    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W) inputs; see ``InstanceNorm1d``.

    Example
    -------
    >>> nn.InstanceNorm3d(2, track_running_stats=True)(chainrule.randn(2, 2, 4, 4, 4)).shape
    (2, 2, 4, 4, 4)
    """

    spatial_dims = 3


class LayerNorm(Module):
    """Normalise each example over its last dims, ``normalized_shape`` (Ba et al., 2016).

    ``weight`` (ones) and ``bias`` (zeros) have ``normalized_shape`` when
    ``elementwise_affine``; ``bias=False`` leaves out the bias.

    Example
    -------
    >>> norm = nn.LayerNorm(64)
    >>> norm(chainrule.randn(8, 10, 64)).shape
    (8, 10, 64)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(creation.ones(*shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(creation.zeros(*shape, dtype=dtype)) if elementwise_affine and bias else None

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {input.shape}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise each example's channels in ``num_groups`` groups (Wu & He, 2018).

    Independent of the batch size, so the same in training and eval.
    ``weight`` (ones) and ``bias`` (zeros) are per channel when ``affine``.

    Example
    -------
    >>> norm = nn.GroupNorm(4, 32)      # 4 groups of 8 channels
    >>> norm(chainrule.randn(2, 32, 7, 7)).shape
    (2, 32, 7, 7)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None, *, bias=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups ({num_groups}) must divide num_channels ({num_channels})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = Parameter(creation.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(creation.zeros(num_channels, dtype=dtype)) if affine and bias else None

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_channels}, *), got {input.shape}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
