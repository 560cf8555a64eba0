"""Pooling layers: max, average and adaptive, shaped (and printed) like PyTorch's."""
from ..ops import pool
from ..ops.conv import as_tuple
from .module import Module


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The largest element of each window of an (N, C, L) input; see ``max_pool1d``.

    Parameters
    ----------
    kernel_size : window length
    stride : step between windows (default: kernel_size)
    padding : implicit -inf on both sides, at most half the kernel
    dilation : step between a window's elements
    return_indices : also return the position of each maximum
    ceil_mode : keep a last, partial window

    Example
    -------
    >>> nn.MaxPool1d(2)(chainrule.randn(4, 3, 10)).shape
    (4, 3, 5)
    """

    def forward(self, input):
        return pool.max_pool(self, 1, input, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode, self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The largest element of each window of an (N, C, H, W) input; see ``max_pool2d``.

    Parameters are as in ``MaxPool1d``, each an int or a pair.

    Example
    -------
    >>> nn.MaxPool2d(2)(chainrule.randn(64, 32, 26, 26)).shape
    (64, 32, 13, 13)
    """

    def forward(self, input):
        return pool.max_pool(self, 2, input, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode, self.return_indices)


class AvgPool1d(Module):
    """The mean of each window of an (N, C, L) input; see ``avg_pool1d``.

    Parameters
    ----------
    kernel_size : window length
    stride : step between windows (default: kernel_size)
    padding : zeros on both sides, at most half the kernel
    ceil_mode : keep a last, partial window
    count_include_pad : count the zero padding in each window's divisor

    Example
    -------
    >>> nn.AvgPool1d(3, stride=2)(chainrule.randn(4, 3, 11)).shape
    (4, 3, 5)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        # As PyTorch does, the 1-d layer keeps its sizes as 1-tuples.
        self.kernel_size = as_tuple(self, "kernel_size", kernel_size, 1, 1)
        self.stride = as_tuple(self, "stride", stride if stride is not None else kernel_size, 1, 1)
        self.padding = as_tuple(self, "padding", padding, 1, 0)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return pool.avg_pool(self, 1, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, None)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window of an (N, C, H, W) input; see ``avg_pool2d``.

    Parameters are as in ``AvgPool1d``, each an int or a pair, and
    ``divisor_override``: divide every window's sum by this number instead.

    Example
    -------
    >>> nn.AvgPool2d(2)(chainrule.randn(8, 16, 10, 10)).shape
    (8, 16, 5, 5)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return pool.avg_pool(self, 2, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average (N, C, L) down to (N, C, output_size); see ``adaptive_avg_pool1d``.

    Example
    -------
    >>> nn.AdaptiveAvgPool1d(5)(chainrule.randn(2, 3, 12)).shape
    (2, 3, 5)
    """

    def forward(self, input):
        return pool.adaptive_avg_pool(self, 1, input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average (N, C, H, W) down to (N, C, *output_size); None in ``output_size`` keeps that dim.

    Example
    -------
    >>> nn.AdaptiveAvgPool2d((1, 1))(chainrule.randn(8, 64, 7, 7)).shape
    (8, 64, 1, 1)
    """

    def forward(self, input):
        return pool.adaptive_avg_pool(self, 2, input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """The largest element of each of ``output_size`` windows covering L; see ``adaptive_max_pool1d``.

    Example
    -------
    >>> nn.AdaptiveMaxPool1d(4)(chainrule.randn(2, 3, 10)).shape
    (2, 3, 4)
    """

    def forward(self, input):
        return pool.adaptive_max_pool(self, 1, input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """The largest element of each window of an output_size grid covering H and W.

    Example
    -------
    >>> nn.AdaptiveMaxPool2d((2, 3), return_indices=True)(chainrule.randn(1, 4, 7, 7))[1].shape
    (1, 4, 2, 3)
    """

    def forward(self, input):
        return pool.adaptive_max_pool(self, 2, input, self.output_size, self.return_indices)
