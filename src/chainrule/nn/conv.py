"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d, shaped like PyTorch's.

Weights are (out_channels, in_channels / groups, *kernel_size), transposed
ones (in_channels, out_channels / groups, *kernel_size), so state dicts move
between chainrule and PyTorch unchanged.
"""
import math

from .. import creation
from ..ops.conv import (as_tuple, check_rank, check_window_fits, conv_transpose, convolution, padding_pairs,
                        positive_int, transposed_output_size)
from ..ops.shape import pad_for
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: checked arguments, parameters, init and repr."""

    spatial_dims = None
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, dtype):
        super().__init__()
        name = type(self).__name__
        groups = positive_int(name, "groups", groups)
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"{name}: {what}={channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_tuple(name, "kernel_size", kernel_size, self.spatial_dims, 1)
        self.stride = as_tuple(name, "stride", stride, self.spatial_dims, 1)
        self.dilation = as_tuple(name, "dilation", dilation, self.spatial_dims, 1)
        self.padding = self._checked_padding(name, padding)
        self.output_padding = as_tuple(name, "output_padding", output_padding, self.spatial_dims, 0)
        self.padding_mode = padding_mode
        shape = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(creation.empty(*shape, *self.kernel_size, dtype=dtype))
        self.bias = Parameter(creation.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def _checked_padding(self, name, padding):
        if not isinstance(padding, str):
            return as_tuple(name, "padding", padding, self.spatial_dims, 0)
        if self.transposed or padding not in ("same", "valid"):
            allowed = "an int or a tuple" if self.transposed else "'same', 'valid', an int or a tuple"
            raise ValueError(f"{name}: padding must be {allowed}, got {padding!r}")
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
        return padding

    def reset_parameters(self):
        """PyTorch's default: weight kaiming_uniform_(a=sqrt(5)), bias uniform on ±1/sqrt(fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.spatial_dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.spatial_dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.spatial_dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, input):
        padding = self.padding
        if self.padding_mode != "zeros":
            # Padded in that mode first; the convolution itself then pads nothing.
            pairs = padding_pairs(self, padding, self.stride, self.dilation, self.kernel_size)
            batched = check_rank(self, input, self.spatial_dims, self.in_channels)
            check_window_fits(self, input if batched else input.unsqueeze(0), self.kernel_size, self.dilation, pairs)
            input = pad_for(self, input, [w for pair in reversed(pairs) for w in pair], self.padding_mode)
            padding = 0
        return convolution(self, self.spatial_dims, input, self.weight, self.bias, self.stride, padding,
                           self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, in_channels, L) inputs; weight (out_channels, in_channels / groups, k).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or 1-tuple
    padding : int, 1-tuple, 'valid' or 'same'
    groups : int dividing both channel counts
    bias : add a learned bias per output channel
    padding_mode : 'zeros', 'reflect', 'replicate' or 'circular': how ``padding``
        fills in, as in ``F.pad`` ('same' padding too)
    dtype : of the parameters (default float32)

    Example
    -------
    >>> layer = nn.Conv1d(1, 25, 5, stride=2, padding=1)
    >>> layer(chainrule.randn(100, 1, 40)).shape
    (100, 25, 19)
    """

    spatial_dims = 1


class Conv2d(_Conv):
    """2-D convolution over (N, in_channels, H, W) inputs; weight (out_channels, in_channels / groups, kh, kw).

    Parameters are as in ``Conv1d``, each an int or a pair. Initialised as
    in PyTorch: kaiming_uniform_(a=sqrt(5)) weights, bias uniform on ±1/sqrt(fan_in).

    Example
    -------
    >>> layer = nn.Conv2d(1, 32, 3)
    >>> layer(chainrule.randn(64, 1, 28, 28)).shape
    (64, 32, 26, 26)
    """

    spatial_dims = 2


class Conv3d(_Conv):
    """3-D convolution over (N, in_channels, D, H, W) inputs; parameters as in ``Conv2d``, in triples.

    Example
    -------
    >>> nn.Conv3d(3, 8, 3, padding=1)(chainrule.randn(2, 3, 8, 8, 8)).shape
    (2, 8, 8, 8, 8)
    """

    spatial_dims = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)

    def forward(self, input, output_size=None):
        """``output_size`` (the spatial sizes, optionally with N and C in front) picks the output_padding."""
        output_padding = self.output_padding
        if output_size is not None:
            check_rank(self, input, self.spatial_dims, self.in_channels)
            dims = self.spatial_dims
            output_padding = self._output_padding(input.shape[-dims:], tuple(output_size)[-dims:])
        return conv_transpose(self, self.spatial_dims, input, self.weight, self.bias, self.stride, self.padding,
                              output_padding, self.groups, self.dilation)

    def _output_padding(self, in_size, output_size):
        smallest = transposed_output_size(self, in_size, self.kernel_size, self.stride, self.padding, self.dilation,
                                          (0,) * self.spatial_dims)
        extra = tuple(want - least for want, least in zip(output_size, smallest))
        if any(not 0 <= e < max(s, d) for e, s, d in zip(extra, self.stride, self.dilation)):
            largest = tuple(least + max(s, d) - 1 for least, s, d in zip(smallest, self.stride, self.dilation))
            raise ValueError(f"{self}: output_size {output_size} is not reachable from input size {in_size}: "
                             f"each dim must lie between {smallest} and {largest}")
        return extra


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the input-gradient of a ``Conv1d``); weight (in, out / groups, k).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding, dilation : int or 1-tuple, as in the convolution transposed
    output_padding : int or 1-tuple, extra length at the end (less than stride or dilation)
    groups, bias, dtype : as in ``Conv1d``
    padding_mode : only 'zeros'

    Example
    -------
    >>> layer = nn.ConvTranspose1d(16, 8, 4, stride=2, padding=1)
    >>> layer(chainrule.randn(2, 16, 10)).shape
    (2, 8, 20)
    """

    spatial_dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the input-gradient of a ``Conv2d``); weight (in, out / groups, kh, kw).

    Parameters are as in ``ConvTranspose1d``, each an int or a pair.
    ``forward(input, output_size=None)``: an ``output_size`` chooses the
    output_padding that gives exactly that size.

    Example
    -------
    >>> layer = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1)
    >>> layer(chainrule.randn(2, 16, 7, 7), output_size=(14, 14)).shape
    (2, 8, 14, 14)
    """

    spatial_dims = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution; parameters as in ``ConvTranspose2d``, in triples.

    Example
    -------
    >>> nn.ConvTranspose3d(4, 2, 2, stride=2)(chainrule.randn(1, 4, 3, 3, 3)).shape
    (1, 2, 6, 6, 6)
    """

    spatial_dims = 3
