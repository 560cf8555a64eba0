"""Pooling: max and average over sliding windows, and their adaptive forms.

Max pooling finds each window's largest element and its flat input index;
its backward scatters the gradient back to those indices, and the scatter's
backward is the gather at the same indices. Average pooling is a depthwise
convolution with a kernel of ones, divided by each window's count, so its
derivatives come from the convolution's. Adaptive average pooling multiplies
by an averaging matrix along each spatial dim.
"""
import math

from ..autograd import Function
from ..backend import array_module
from ..tensor import constant
from .conv import Convolution, Geometry, as_tuple, check_rank, check_window_fits, pad_spatial, windows


# ------------------------------------------------------------------ gather and scatter by flat index

class TakeAt(Function):
    """out[n, c, *o] = x[n, c].flat[indices[n, c, *o]]: one input element per output.

    ``taken``: those elements, when the caller has them already (max pooling
    finds them on the way to the indices), so that they are not gathered twice.
    """

    saves_inputs = False

    def forward(self, x, *, indices, overlapping, taken=None):
        self.indices, self.in_shape, self.overlapping = indices, x.shape, overlapping
        if taken is not None:
            return taken
        return x.reshape(-1)[_global_indices(indices, x.shape)]

    def backward(self, g):
        return PutAt.apply(g, indices=self.indices, shape=self.in_shape, overlapping=self.overlapping)


class PutAt(Function):
    """Zeros of ``shape`` with g added at the flat ``indices``: the adjoint of ``TakeAt``."""

    saves_inputs = False

    def forward(self, g, *, indices, shape, overlapping):
        self.indices, self.overlapping = indices, overlapping
        xp = array_module(g)
        out = xp.zeros(math.prod(shape), dtype=g.dtype)
        if overlapping:
            # Two windows may pick the same element; only add.at sums repeats.
            xp.add.at(out, _global_indices(indices, shape).reshape(-1), g.reshape(-1))
        else:
            out[_global_indices(indices, shape)] = g
        return out.reshape(shape)

    def backward(self, gg):
        return TakeAt.apply(gg, indices=self.indices, overlapping=self.overlapping)


def _global_indices(indices, shape):
    """Indices into one (n, c) plane of ``shape`` as indices into the whole flattened array."""
    batch, channels = shape[:2]
    planes = array_module(indices).arange(batch * channels).reshape((batch, channels) + (1,) * (indices.ndim - 2))
    return indices + planes * math.prod(shape[2:])


def _window_maxima(window_values, coordinates, in_size):
    """Each window's largest value, and its flat index in the input plane.

    ``window_values`` is (N, C, *kernel, *out); ``coordinates[i]`` (out_i, k_i)
    holds each tap's input coordinate along spatial dim i, which may fall in
    the padding. As in PyTorch, the first largest element wins, the last NaN
    beats any number, and padding never wins.
    """
    xp = array_module(window_values)
    ndim = len(in_size)
    kernel, out_size = window_values.shape[2:2 + ndim], window_values.shape[2 + ndim:]
    taps = math.prod(kernel)
    stacked = _taps_first(window_values, ndim)
    largest = stacked.max(axis=0)
    hits = stacked == largest
    table, real = _tap_table(coordinates, in_size)
    if not real.all() and (largest == -xp.inf).any():
        hits &= real.T.reshape((taps, 1, 1) + out_size)
    # NumPy's argmax along a short leading axis is slow; the first hit is the
    # one with the largest countdown number.
    countdown = xp.arange(taps, 0, -1, dtype=xp.min_scalar_type(taps)).reshape((taps,) + (1,) * (ndim + 2))
    tap = taps - (hits * countdown).max(axis=0)
    not_a_number = largest != largest
    if not_a_number.any():
        # PyTorch takes a NaN over a number and over an earlier NaN: the last NaN wins.
        last_nan = ((stacked != stacked) * countdown[::-1]).max(axis=0) - 1
        tap = xp.where(not_a_number, last_nan, tap)
    window_start = xp.arange(math.prod(out_size)).reshape(out_size) * taps
    return largest, xp.take(table, tap + window_start)


def _taps_first(window_values, ndim):
    """(N, C, *kernel, *out) copied to (taps, N, C, *out); the copy keeps the
    source's order of N and C in memory, so that it reads memory in sequence."""
    channel_major = window_values.strides[1] > window_values.strides[0]
    lead = (1, 0) if channel_major else (0, 1)
    order = (*range(2, 2 + ndim), *lead, *range(2 + ndim, 2 + 2 * ndim))
    taps = math.prod(window_values.shape[2:2 + ndim])
    shape = (taps,) + tuple(window_values.shape[i] for i in lead) + window_values.shape[2 + ndim:]
    stacked = window_values.transpose(order).reshape(shape)
    return stacked.swapaxes(1, 2) if channel_major else stacked


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


def _max_pool_result(x, window_values, coordinates, overlapping, batched, return_indices):
    largest, indices = _window_maxima(window_values, coordinates, x.shape[2:])
    out = TakeAt.apply(x, indices=indices, overlapping=overlapping, taken=largest)
    if not batched:
        out, indices = out.squeeze(0), indices[0]
    return (out, constant(indices)) if return_indices else out


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
    return _max_pool_result(x, view, coordinates, overlapping, batched, return_indices)


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
