"""Pooling: max and average over sliding windows, and their adaptive forms.

Max pooling finds each window's largest element and which tap of the window
holds it; its backward puts the gradient back there (tap by tap through the
windows when they never overlap, else by a scatter to flat indices), and
that backward's own backward is the gather from the same places. Average pooling is a depthwise
convolution with a kernel of ones, divided by each window's count, so its
derivatives come from the convolution's. Adaptive average pooling multiplies
by an averaging matrix along each spatial dim.
"""
import itertools
import math

from ..autograd import Function
from ..backend import array_module
from ..tensor import constant
from .conv import (Convolution, Geometry, batch_last as conv_batch_last, interior, as_tuple, check_rank, check_window_fits, pad_spatial,
                   windows)


# ------------------------------------------------------------------ which element each window picked

class Picks:
    """The element each max-pooling window picked.

    ``tap`` (N, C, *out) numbers the picked kernel tap within its window (taps
    in row-major order); ``coordinates[i]`` (out_i, k_i) gives each tap's input
    coordinate along spatial dim i. ``geometry`` is set when the windows are a
    regular strided view that never overlaps: then the gradient can be spread
    tap by tap through the same view, with no scatter.
    """

    def __init__(self, tap, coordinates, in_size, overlapping, geometry=None):
        self.tap, self.coordinates, self.in_size = tap, coordinates, in_size
        self.overlapping, self.geometry = overlapping, geometry
        self._indices = None

    @property
    def indices(self):
        """Each pick's flat index in its (n, c) input plane, as PyTorch's ``return_indices`` gives it."""
        if self._indices is None:
            xp = array_module(self.tap)
            table = _tap_table(self.coordinates, self.in_size)[0]
            out_size = self.tap.shape[2:]
            window_start = xp.arange(math.prod(out_size)).reshape(out_size) * table.shape[1]
            self._indices = xp.take(table, self.tap + window_start)
        return self._indices

    def flat_indices(self, shape, batch_last):
        """The picks' positions in the flattened input of ``shape``, laid out batch-last or batch-first."""
        xp = array_module(self.tap)
        batch, channels, plane = shape[0], shape[1], math.prod(shape[2:])
        spread = (1,) * (self.tap.ndim - 2)
        n = xp.arange(batch).reshape((batch, 1) + spread)
        c = xp.arange(channels).reshape((1, channels) + spread)
        if batch_last:
            return (c * plane + self.indices) * batch + n
        return (n * channels + c) * plane + self.indices


def is_batch_last(x):
    """Whether ``x`` (N, C, *spatial) lies in memory as a contiguous (C, *spatial, N) array."""
    return array_module(x).moveaxis(x, 0, -1).flags.c_contiguous


class TakeAt(Function):
    """out[n, c, *o] = the element of x[n, c] that window o picked (``picks``).

    ``taken``: those elements, when the caller has them already (max pooling
    finds them on the way to the picks), so that they are not gathered twice.
    """

    saves_inputs = False

    def forward(self, x, *, picks, taken=None):
        self.picks, self.in_shape, self.batch_last = picks, x.shape, is_batch_last(x)
        if taken is not None:
            return taken
        flat = array_module(x).moveaxis(x, 0, -1).reshape(-1) if self.batch_last else x.reshape(-1)
        return flat[picks.flat_indices(x.shape, self.batch_last)]

    def backward(self, g):
        return PutAt.apply(g, picks=self.picks, shape=self.in_shape, batch_last=self.batch_last)


class PutAt(Function):
    """Zeros of ``shape`` with g added where ``picks`` point: the adjoint of ``TakeAt``.

    The result lies in a batch-last array when ``batch_last`` is set (a view
    of its interior, with padding), as the pooled input did, so that the ops
    around it keep one layout.
    """

    saves_inputs = False

    def forward(self, g, *, picks, shape, batch_last):
        self.picks, self.batch_last = picks, batch_last
        xp = array_module(g)
        if picks.geometry is not None:
            return _spread_by_tap(g, picks, shape, batch_last)
        out = xp.zeros(math.prod(shape), dtype=g.dtype)
        indices = picks.flat_indices(shape, batch_last)
        if picks.overlapping:
            # Two windows may pick the same element; only add.at sums repeats.
            xp.add.at(out, indices.reshape(-1), g.reshape(-1))
        else:
            out[indices] = g
        if batch_last:
            return xp.moveaxis(out.reshape(shape[1:] + shape[:1]), -1, 0)
        return out.reshape(shape)

    def backward(self, gg):
        return TakeAt.apply(gg, picks=self.picks)


def _spread_by_tap(g, picks, shape, batch_last):
    """PutAt for windows that never overlap: through a writable view of the
    windows, each tap's places get g where that tap was picked and +0
    elsewhere. The choice is made on the bits (g AND all ones, or AND zero),
    so that an infinite or NaN gradient stays where it belongs, and no -0.0
    appears where a product with the mask would make one."""
    xp = array_module(g)
    geometry = picks.geometry
    if batch_last:
        g = conv_batch_last(g)  # as the picks lie: mixed layouts make every pass slow
    bits = f"i{g.itemsize}"
    padded_shape = shape[:2] + tuple(n + before + after for n, (before, after) in zip(shape[2:], geometry.padding))
    padded = xp.zeros(padded_shape[1:] + padded_shape[:1] if batch_last else padded_shape, dtype=g.dtype)
    if batch_last:
        padded = xp.moveaxis(padded, -1, 0)
    view = windows(padded, geometry, writeable=True)
    for number, tap in enumerate(itertools.product(*map(range, geometry.kernel))):
        keep = (picks.tap == number).view(xp.int8)
        xp.negative(keep, out=keep)  # 0, or -1: every bit set once widened to g's width
        xp.bitwise_and(g.view(bits), keep, out=view[(slice(None), slice(None)) + tap].view(bits))
    return padded[interior(geometry.padding, shape[2:])]


def _window_maxima(window_values, coordinates, in_size):
    """Each window's largest value, and which of its taps holds it.

    ``window_values`` is (N, C, *kernel, *out); ``coordinates[i]`` (out_i, k_i)
    holds each tap's input coordinate along spatial dim i, which may fall in
    the padding. As in PyTorch, the first largest element wins, the last NaN
    beats any number, and padding never wins. One pass per tap over arrays of
    the output's size: no copy of the windows.
    """
    xp = array_module(window_values)
    ndim = len(in_size)
    kernel = window_values.shape[2:2 + ndim]
    planes = [window_values[(slice(None), slice(None)) + tap] for tap in itertools.product(*map(range, kernel))]
    largest = xp.copy(planes[0], order="K")
    for plane in planes[1:]:
        xp.maximum(largest, plane, out=largest)
    real = None
    if (largest == -xp.inf).any():
        real = _tap_table(coordinates, in_size)[1]
        real = None if real.all() else real.T.reshape((len(planes), 1, 1) + largest.shape[2:])
    # The first hit is the one with the largest countdown number (taps, ..., 1).
    count_type = xp.min_scalar_type(len(planes))
    countdown = xp.zeros_like(largest, dtype=count_type)  # laid out as the input is
    for number, plane in enumerate(planes):
        hits = plane == largest
        if real is not None:
            hits &= real[number]
        xp.maximum(countdown, hits * count_type.type(len(planes) - number), out=countdown)
    tap = count_type.type(len(planes)) - countdown  # kept narrow: the backward compares it once per tap
    not_a_number = countdown == 0
    if not_a_number.any():
        # maximum() spread the NaN to largest, so nothing equals it there; PyTorch
        # takes a NaN over a number and over an earlier NaN: the last NaN wins.
        last_nan = xp.zeros_like(countdown)
        for number, plane in enumerate(planes):
            last_nan[plane != plane] = number
        tap = xp.where(not_a_number, last_nan, tap)
    return largest, tap


def _tap_table(coordinates, in_size):
    """For every window (flattened) and tap: the tap's flat index in the input plane, and
    whether it lies on the input rather than in its padding; both (prod(out), taps)."""
    ndim = len(in_size)
    flat, real = 0, True
    for axis, (table, n) in enumerate(zip(coordinates, in_size)):
        along = _spread(table, axis, ndim)  # (*out, *kernel)
        flat = flat * n + along
        real = real & (along >= 0) & (along < n)
    windows_count = math.prod(table.shape[0] for table in coordinates)
    return flat.reshape(windows_count, -1), real.reshape(windows_count, -1)


def _spread(table, axis, ndim):
    """A 2-D table (a, b) shaped to broadcast against (*A, *B), where it varies
    along A's and B's dim ``axis`` only."""
    shape = [1] * (2 * ndim)
    shape[axis], shape[ndim + axis] = table.shape
    return table.reshape(shape)


def _max_pool_result(x, window_values, coordinates, overlapping, batched, return_indices, geometry=None):
    largest, tap = _window_maxima(window_values, coordinates, x.shape[2:])
    picks = Picks(tap, coordinates, x.shape[2:], overlapping, None if overlapping else geometry)
    out = TakeAt.apply(x, picks=picks, taken=largest)
    if not return_indices:
        return out if batched else out.squeeze(0)
    # A copy: the backward scatters by the picks' own indices, which a change to these must not move.
    indices = (picks.indices if batched else picks.indices[0]).copy()
    return (out if batched else out.squeeze(0)), constant(indices)


def max_pool(name, ndim, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """``max_pool{ndim}d`` with errors that name ``name`` (the op or the layer calling it)."""
    batched = check_rank(name, input, ndim)
    x = input if batched else input.unsqueeze(0)
    geometry = _pool_geometry(name, x, kernel_size, stride, padding, dilation, ceil_mode)
    xp = array_module(x.data)
    view = windows(pad_spatial(x.data, geometry.padding, value=-xp.inf), geometry)
    coordinates = [xp.arange(n)[:, None] * s + xp.arange(k) * d - before
                   for n, k, s, d, (before, _) in zip(geometry.out_size, geometry.kernel, geometry.stride,
                                                      geometry.dilation, geometry.padding)]
    if not all(((table >= 0) & (table < n)).any(axis=1).all() for table, n in zip(coordinates, geometry.in_size)):
        # PyTorch returns -inf there, with an index outside the input.
        raise ValueError(f"{name}: with padding {tuple(p for p, _ in geometry.padding)} and dilation "
                         f"{geometry.dilation}, some windows over an input of shape {x.shape} hold only padding; "
                         f"reduce the padding or the dilation")
    overlapping = any(s < d * (k - 1) + 1 for s, d, k in zip(geometry.stride, geometry.dilation, geometry.kernel))
    return _max_pool_result(x, view, coordinates, overlapping, batched, return_indices, geometry)


def _pool_geometry(name, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Windows as in PyTorch; with ``ceil_mode``, a last partial window is padded out after the input."""
    ndim = x.ndim - 2
    kernel = as_tuple(name, "kernel_size", kernel_size, ndim, 1)
    stride = kernel if stride is None else as_tuple(name, "stride", stride, ndim, 1)
    padding = as_tuple(name, "padding", padding, ndim, 0)
    dilation = as_tuple(name, "dilation", dilation, ndim, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    check_window_fits(name, x, kernel, dilation, [(p, p) for p in padding])
    out_size, pairs = [], []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation):
        room = n + 2 * p - d * (k - 1) - 1
        count = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (count - 1) * s >= n + p:
            count -= 1  # a window may not start in the padding after the input
        out_size.append(count)
        pairs.append((p, p + max(0, (count - 1) * s - room)))
    return Geometry(kernel, stride, tuple(pairs), dilation, 1, x.shape[2:], tuple(out_size))


# ------------------------------------------------------------------ average pooling

def _window_counts(xp, geometry, count_include_pad):
    """How many elements each window averages over, as PyTorch counts them:
    padding counts when ``count_include_pad``, the ceil_mode overhang never."""
    counts = 1
    for axis, (n, k, s, (p, _)) in enumerate(zip(geometry.in_size, geometry.kernel, geometry.stride,
                                                 geometry.padding)):
        starts = xp.arange(geometry.out_size[axis]) * s - p
        ends = xp.minimum(starts + k, n + p)
        if not count_include_pad:
            starts, ends = xp.maximum(starts, 0), xp.minimum(ends, n)
        counts = xp.multiply.outer(counts, ends - starts) if axis else ends - starts
    return counts


def avg_pool(name, ndim, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """``avg_pool{ndim}d`` with errors that name ``name`` (the op or the layer calling it)."""
    batched = check_rank(name, input, ndim)
    x = input if batched else input.unsqueeze(0)
    if divisor_override == 0:
        raise ValueError(f"{name}: divisor_override must not be 0")
    channels = x.shape[1]
    geometry = _pool_geometry(name, x, kernel_size, stride, padding, 1, ceil_mode)._replace(groups=channels)
    xp = array_module(x.data)
    ones = constant(xp.ones((channels, 1) + geometry.kernel, dtype=x.dtype))
    sums = Convolution.apply(x, ones, geometry=geometry)
    if divisor_override is not None:
        out = sums * (1.0 / divisor_override)
    else:
        out = sums * constant((1.0 / _window_counts(xp, geometry, count_include_pad)).astype(x.dtype))
    return out if batched else out.squeeze(0)


# ------------------------------------------------------------------ adaptive pooling

def _adaptive_bounds(xp, n, out):
    """Window i covers [floor(i n / out), ceil((i + 1) n / out))."""
    i = xp.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _averaging_matrix(xp, n, out, dtype):
    """(out, n): row i averages window i."""
    starts, ends = _adaptive_bounds(xp, n, out)
    position = xp.arange(n)
    inside = (position >= starts[:, None]) & (position < ends[:, None])
    return constant((inside / (ends - starts)[:, None]).astype(dtype))


def _adaptive_size(name, output_size, in_size):
    """PyTorch's output_size: an int, or a tuple where None keeps the input's size."""
    ndim = len(in_size)
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * ndim
    sizes = tuple(n if size is None else size for size, n in zip(sizes, in_size)) if len(sizes) == ndim else sizes
    return as_tuple(name, "output_size", sizes, ndim, 1)


def adaptive_avg_pool(name, ndim, input, output_size):
    """``adaptive_avg_pool{ndim}d`` with errors that name ``name`` (the op or the layer calling it)."""
    batched = check_rank(name, input, ndim)
    x = input if batched else input.unsqueeze(0)
    sizes = _adaptive_size(name, output_size, x.shape[2:])
    xp = array_module(x.data)
    out = x @ _averaging_matrix(xp, x.shape[-1], sizes[-1], x.dtype).T
    if ndim == 2:
        out = _averaging_matrix(xp, x.shape[-2], sizes[0], x.dtype) @ out
    return out if batched else out.squeeze(0)


def adaptive_max_pool(name, ndim, input, output_size, return_indices):
    """``adaptive_max_pool{ndim}d`` with errors that name ``name`` (the op or the layer calling it)."""
    batched = check_rank(name, input, ndim)
    x = input if batched else input.unsqueeze(0)
    in_size = x.shape[2:]
    sizes = _adaptive_size(name, output_size, in_size)
    xp = array_module(x.data)
    coordinates = []
    for n, out in zip(in_size, sizes):
        starts, ends = _adaptive_bounds(xp, n, out)
        # Windows differ in length; shorter ones repeat their last element, which changes no maximum.
        offsets = xp.arange((ends - starts).max())
        coordinates.append(xp.minimum(starts[:, None] + offsets, ends[:, None] - 1))
    # One gather of every window, laid out (N, C, *kernel, *out) like a strided view of regular windows.
    index = tuple(_spread(table.T, axis, ndim) for axis, table in enumerate(coordinates))
    window_values = x.data[(slice(None), slice(None)) + index]
    overlapping = any(n % out for n, out in zip(in_size, sizes))
    return _max_pool_result(x, window_values, coordinates, overlapping, batched, return_indices)


# ------------------------------------------------------------------ public functions

def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The largest element of each window of an (N, C, L) input, as PyTorch's ``F.max_pool1d``.

    Parameters
    ----------
    input : (N, C, L) or unbatched (C, L)
    kernel_size : window length
    stride : step between windows (default: kernel_size)
    padding : implicit -inf on both sides, at most half the kernel
    dilation : step between a window's elements
    ceil_mode : keep a last, partial window
    return_indices : also return each maximum's index along L (for ``max_unpool``)

    Example
    -------
    >>> max_pool1d(chainrule.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)
    tensor([[[3., 5.]]])
    """
    return max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The largest element of each window of an (N, C, H, W) input, as PyTorch's ``F.max_pool2d``.

    Parameters are as in ``max_pool1d``, each an int or a pair; indices are
    flat positions in H * W. The gradient goes to each window's maximum
    (the first, on ties), summed where windows overlap.

    Example
    -------
    >>> max_pool2d(chainrule.randn(64, 32, 26, 26), 2).shape
    (64, 32, 13, 13)
    """
    return max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of an (N, C, L) input, as PyTorch's ``F.avg_pool1d``.

    Parameters
    ----------
    input : (N, C, L) or unbatched (C, L)
    kernel_size, stride (default kernel_size), padding, ceil_mode : as in ``max_pool1d``
    count_include_pad : divide by the full window length, zero padding included
        (else by the number of input elements in the window)

    Example
    -------
    >>> avg_pool1d(chainrule.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    return avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window of an (N, C, H, W) input, as PyTorch's ``F.avg_pool2d``.

    Parameters are as in ``avg_pool1d``, each an int or a pair;
    ``divisor_override`` divides every window's sum by that number instead.

    Example
    -------
    >>> avg_pool2d(chainrule.ones(1, 1, 4, 4), 2, padding=1, count_include_pad=False)
    tensor([[[[1., 1., 1.],
             [1., 1., 1.],
             [1., 1., 1.]]]])
    """
    return avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def adaptive_avg_pool1d(input, output_size):
    """Average (N, C, L) down to (N, C, output_size) over windows that cover L evenly, as PyTorch's.

    Example
    -------
    >>> adaptive_avg_pool1d(chainrule.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    tensor([[[2., 4.]]])
    """
    return adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average (N, C, H, W) down to a fixed (N, C, *output_size), as PyTorch's ``F.adaptive_avg_pool2d``.

    ``output_size`` is an int or a pair, where None keeps that input dim.
    Window i along a dim of size n covers [floor(i n / out), ceil((i + 1) n / out)).

    Example
    -------
    >>> adaptive_avg_pool2d(chainrule.randn(8, 64, 7, 7), 1).shape       # global average pooling
    (8, 64, 1, 1)
    """
    return adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """The largest element of each of ``output_size`` windows covering L, as PyTorch's.

    Example
    -------
    >>> adaptive_max_pool1d(chainrule.tensor([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2)
    tensor([[[5., 4.]]])
    """
    return adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The largest element of each window of a fixed (out_h, out_w) grid covering H and W, as PyTorch's.

    Example
    -------
    >>> adaptive_max_pool2d(chainrule.randn(2, 3, 10, 9), (3, None)).shape
    (2, 3, 3, 9)
    """
    return adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)
