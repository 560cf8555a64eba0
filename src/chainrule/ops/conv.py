"""Convolution lowered to one matrix multiply, and its adjoints.

im2col copies every kernel window of the (padded) input into a column, so
that a convolution is a single product of the flattened weight with that
matrix. A convolution is bilinear in its input x and weight w, and three
maps over one geometry are each other's vector-Jacobian products:

    y = conv(x, w)       x̄ = conv_transpose(ȳ, w)       w̄ = conv_weight(x, ȳ)

conv_transpose scatters columns back onto the input grid (col2im), and
conv_weight multiplies the output gradient with the columns. Each of the three
Functions below differentiates into the other two, so derivatives of any
order follow. 1-D and 3-D convolutions run through the same code.
"""
import collections
import itertools
import math
import operator

from ..autograd import Function
from ..backend import array_module

# One convolution's shape, in spatial dims only: ``padding`` holds a (before,
# after) pair per dim; ``in_size`` is x's spatial size, ``out_size`` y's.
Geometry = collections.namedtuple("Geometry", "kernel stride padding dilation groups in_size out_size")

_SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


# ------------------------------------------------------------------ im2col and col2im
#
# Columns and images are laid out batch-last in memory: (C, *spatial, N), seen
# as (N, C, *spatial) through a transposed view. A window's row then reaches
# across the batch in one contiguous run (out_width * N elements), so im2col's
# copy and col2im's adds move long runs instead of rows a few elements wide.

def pad_spatial(x, padding, value=0):
    """``x`` (N, C, *spatial) with ``padding``'s (before, after) pairs of ``value``
    around it, laid out in memory as ``x`` is."""
    if not any(before or after for before, after in padding):
        return x
    shape = x.shape[:2] + tuple(n + before + after for n, (before, after) in zip(x.shape[2:], padding))
    out = array_module(x).full_like(x, value, shape=shape)
    out[interior(padding, x.shape[2:])] = x
    return out


def interior(padding, size):
    return (slice(None), slice(None)) + tuple(slice(before, before + n) for (before, _), n in zip(padding, size))


def windows(padded, geometry, writeable=False):
    """Every kernel window of ``padded`` as a view (N, C, *kernel, *out), no copy;
    read-only unless ``writeable`` (for windows that never overlap).

    Along each spatial axis, kernel tap k of output position o reads padded
    element o * stride + k * dilation: a tap step is ``dilation`` elements,
    an output step ``stride`` elements.
    """
    spatial_strides = padded.strides[2:]
    shape = padded.shape[:2] + tuple(geometry.kernel) + tuple(geometry.out_size)
    strides = (padded.strides[:2]
               + tuple(s * d for s, d in zip(spatial_strides, geometry.dilation))
               + tuple(s * step for s, step in zip(spatial_strides, geometry.stride)))
    return array_module(padded).lib.stride_tricks.as_strided(padded, shape, strides, writeable=writeable)


def batch_last(x):
    """``x`` (N, C, *spatial) laid out (C, *spatial, N) in memory: a copy unless it is already."""
    xp = array_module(x)
    return xp.moveaxis(xp.ascontiguousarray(xp.moveaxis(x, 0, -1)), -1, 0)


def _batch_to_end(ndim):
    """The axis order that takes (N, C, *kernel, *out) to (C, *kernel, *out, N)."""
    return (*range(1, 2 + 2 * ndim), 0)


def _im2col(x, geometry):
    """The columns of a convolution: (groups, C/groups * prod(kernel), prod(out) * N).

    A row is one (channel, kernel tap), ordered like the flattened weight; a
    column is one (output position, sample). The reshape makes the large copy
    (an input not yet batch-last, or padded, is first copied at its own, smaller size).
    """
    ndim = len(geometry.kernel)
    view = windows(pad_spatial(batch_last(x), geometry.padding), geometry).transpose(_batch_to_end(ndim))
    rows = x.shape[1] // geometry.groups * math.prod(geometry.kernel)
    return view.reshape(geometry.groups, rows, math.prod(geometry.out_size) * x.shape[0])


def _col2im(columns, geometry):
    """The adjoint of ``windows``: add each window's entries back where they were read.

    ``columns`` is (C, *kernel, *out, N); returns (N, C, *in_size), a view of a
    batch-last array (its interior, when there is padding). One strided add
    per kernel tap; each adds into distinct places, so no scatter is needed.
    """
    channels, batch = columns.shape[0], columns.shape[-1]
    padded_size = tuple(n + before + after for n, (before, after) in zip(geometry.in_size, geometry.padding))
    padded = array_module(columns).zeros((channels,) + padded_size + (batch,), dtype=columns.dtype)
    for tap in itertools.product(*map(range, geometry.kernel)):
        region = tuple(slice(k * d, k * d + s * (n - 1) + 1, s)
                       for k, d, s, n in zip(tap, geometry.dilation, geometry.stride, geometry.out_size))
        padded[(slice(None),) + region] += columns[(slice(None),) + tap]
    return array_module(padded).moveaxis(padded, -1, 0)[interior(geometry.padding, geometry.in_size)]


def _from_batch_last(y):
    """(C, *spatial, N) seen as (N, C, *spatial), no copy."""
    return array_module(y).moveaxis(y, -1, 0)


def _rows_per_group(g, groups):
    """(N, O, *out) as (groups, O/groups, prod(out) * N): the output side of the product."""
    return array_module(g).moveaxis(g, 0, -1).reshape(groups, g.shape[1] // groups, -1)


def _bias_gradient(g):
    return g.sum(dim=(0,) + tuple(range(2, g.ndim)))


def _add_bias(out, bias):
    out += bias.reshape((-1,) + (1,) * (out.ndim - 2))
    return out


# ------------------------------------------------------------------ the three bilinear maps

class Convolution(Function):
    """y = conv(x, w) + b with x (N, C, *in), w (O, C/groups, *kernel), y (N, O, *out)."""

    def forward(self, x, weight, bias=None, *, geometry):
        self.geometry = geometry
        self.columns = columns = _im2col(x, geometry)  # kept: the weight's gradient needs them again
        out = weight.reshape(geometry.groups, -1, columns.shape[1]) @ columns
        # Returned batch-last (a transposed view): elementwise ops keep that
        # layout, so the next convolution's im2col and the backward's col2im
        # find it as they want it.
        out = _from_batch_last(out.reshape((weight.shape[0],) + tuple(geometry.out_size) + (x.shape[0],)))
        return out if bias is None else _add_bias(out, bias)

    def backward(self, g):
        x, weight = self.inputs[0], self.inputs[1]
        needs = [edge is not None for edge in self.edges]
        grads = (TransposedConvolution.apply(g, weight, geometry=self.geometry) if needs[0] else None,
                 ConvolutionWeight.apply(x, g, geometry=self.geometry, columns=self.columns) if needs[1] else None)
        if len(needs) == 3:
            grads += (_bias_gradient(g) if needs[2] else None,)
        return grads


class TransposedConvolution(Function):
    """x = conv_transpose(y, w) + b: the adjoint of ``Convolution`` in its input.

    y is (N, O, *out) and w (O, C/groups, *kernel), as in the convolution it
    undoes; x comes out (N, C, *in).
    """

    def forward(self, y, weight, bias=None, *, geometry):
        self.geometry = geometry
        groups = geometry.groups
        rows = _rows_per_group(y, groups)
        columns = weight.reshape(groups, rows.shape[1], -1).transpose(0, 2, 1) @ rows
        channels = weight.shape[1] * groups
        columns = columns.reshape((channels,) + tuple(geometry.kernel) + tuple(geometry.out_size) + (y.shape[0],))
        out = _col2im(columns, geometry)
        return out if bias is None else _add_bias(out, bias)

    def backward(self, g):
        y, weight = self.inputs[0], self.inputs[1]
        needs = [edge is not None for edge in self.edges]
        grads = (Convolution.apply(g, weight, geometry=self.geometry) if needs[0] else None,
                 ConvolutionWeight.apply(g, y, geometry=self.geometry) if needs[1] else None)
        if len(needs) == 3:
            grads += (_bias_gradient(g) if needs[2] else None,)
        return grads


class ConvolutionWeight(Function):
    """w̄ = conv_weight(x, ȳ): the gradient of a convolution's weight, one product
    of the output gradient (O, N*out) with the input's columns (``columns``,
    when the convolution's forward made them already)."""

    def forward(self, x, g, *, geometry, columns=None):
        self.geometry = geometry
        columns = _im2col(x, geometry) if columns is None else columns
        grad = _rows_per_group(g, geometry.groups) @ columns.transpose(0, 2, 1)
        return grad.reshape((g.shape[1], x.shape[1] // geometry.groups) + tuple(geometry.kernel))

    def backward(self, gw):
        x, g = self.inputs
        needs = [edge is not None for edge in self.edges]
        return (TransposedConvolution.apply(g, gw, geometry=self.geometry) if needs[0] else None,
                Convolution.apply(x, gw, geometry=self.geometry) if needs[1] else None)


class Unfold(Function):
    """Every window of x as a column: (N, C, *in) to (N, C * prod(kernel), prod(out))."""

    saves_inputs = False

    def forward(self, x, *, geometry):
        self.geometry = geometry
        view = windows(pad_spatial(x, geometry.padding), geometry)
        columns = view.reshape(x.shape[0], x.shape[1] * math.prod(geometry.kernel), math.prod(geometry.out_size))
        # A 1 x 1 window at stride 1 reshapes without a copy, into a read-only view of x.
        return columns if columns.flags.owndata else columns.copy()

    def backward(self, g):
        return Fold.apply(g, geometry=self.geometry)


class Fold(Function):
    """Sum columns back into an image: the adjoint of ``Unfold``."""

    saves_inputs = False

    def forward(self, columns, *, geometry):
        self.geometry = geometry
        ndim = len(geometry.kernel)
        channels = columns.shape[1] // math.prod(geometry.kernel)
        grid = columns.reshape((columns.shape[0], channels) + tuple(geometry.kernel) + tuple(geometry.out_size))
        return _col2im(grid.transpose(_batch_to_end(ndim)), geometry)

    def backward(self, g):
        return Unfold.apply(g, geometry=self.geometry)


# ------------------------------------------------------------------ arguments and checks

def as_tuple(name, what, value, ndim, minimum):
    """``value`` (an int or a sequence of ``ndim`` ints) as a tuple, each at least ``minimum``."""
    try:
        values = (operator.index(value),) * ndim if not isinstance(value, (tuple, list)) else \
            tuple(operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int or a tuple of {ndim} ints, got {value!r}") from None
    if len(values) != ndim:
        raise ValueError(f"{name}: {what} must be an int or a tuple of {ndim} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name}: {what} must be at least {minimum}, got {value!r}")
    return values


def spatial_shape(channels, ndim, batched=True):
    """How an expected input shape reads in messages: '(N, 3, H, W)'."""
    return "(" + ", ".join((["N"] if batched else []) + [str(channels)] + list(_SPATIAL_NAMES[ndim])) + ")"


def check_rank(name, input, ndim, channels="C"):
    """Raise unless ``input`` is (N, C, *spatial) or unbatched (C, *spatial); return whether it is batched."""
    if input.ndim not in (ndim + 1, ndim + 2):
        raise ValueError(f"{name}: expected input of shape {spatial_shape(channels, ndim)} or "
                         f"{spatial_shape(channels, ndim, batched=False)}, got {input.shape}")
    return input.ndim == ndim + 2


def check_window_fits(name, input, kernel, dilation, padding):
    """Raise unless the (dilated) kernel fits in every padded spatial dim of ``input``."""
    for n, k, d, (before, after) in zip(input.shape[2:], kernel, dilation, padding):
        span = d * (k - 1) + 1
        if span > n + before + after:
            raise ValueError(
                f"{name}: the kernel {tuple(kernel)} (with dilation {tuple(dilation)}) spans {span} elements, "
                f"more than the padded input's {n + before + after}: got input of shape {input.shape} "
                f"with padding {tuple(b for b, _ in padding)}")


def padding_pairs(name, padding, stride, dilation, kernel):
    """PyTorch's padding argument as (before, after) pairs; 'same' puts any odd element after."""
    ndim = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding != "same":
            raise ValueError(f"{name}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((total // 2, total - total // 2) for total in totals)
    return tuple((p, p) for p in as_tuple(name, "padding", padding, ndim, 0))


def positive_int(name, what, value):
    """``value`` as an int of at least 1 (NumPy ints included)."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a positive int, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
    return value


def _check_weight(name, input, weight, bias, groups, ndim, transposed):
    layout = "(in_channels, out_channels/groups, *kernel)" if transposed else \
        "(out_channels, in_channels/groups, *kernel)"
    if weight.ndim != ndim + 2:
        raise ValueError(f"{name}: expected a {ndim + 2}-D weight {layout}, got shape {weight.shape}")
    channels = input.shape[1]
    if channels % groups:
        raise ValueError(f"{name}: the input's {channels} channels (shape {input.shape}) are not divisible "
                         f"by groups={groups}")
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if channels != expected:
        raise ValueError(f"{name}: expected input of shape {spatial_shape(expected, ndim)} for weight of shape "
                         f"{weight.shape} and groups={groups}, got {input.shape}")
    if weight.shape[0] % groups:
        what = "in_channels" if transposed else "out_channels"
        raise ValueError(f"{name}: the weight's {what} {weight.shape[0]} (shape {weight.shape}) are not divisible "
                         f"by groups={groups}")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{name}: expected bias of shape ({out_channels},), got {bias.shape}")


def _batched(input, batched):
    return input if batched else input.unsqueeze(0)


def _unbatched(output, batched):
    return output if batched else output.squeeze(0)


def convolution(name, ndim, input, weight, bias, stride, padding, dilation, groups):
    """``conv{ndim}d`` with errors that name ``name`` (the op or the layer calling it)."""
    groups = positive_int(name, "groups", groups)
    batched = check_rank(name, input, ndim, weight.shape[1] * groups if weight.ndim == ndim + 2 else "C")
    x = _batched(input, batched)
    _check_weight(name, x, weight, bias, groups, ndim, transposed=False)
    kernel = weight.shape[2:]
    stride = as_tuple(name, "stride", stride, ndim, 1)
    dilation = as_tuple(name, "dilation", dilation, ndim, 1)
    pairs = padding_pairs(name, padding, stride, dilation, kernel)
    check_window_fits(name, x, kernel, dilation, pairs)
    out_size = tuple((n + before + after - d * (k - 1) - 1) // s + 1
                     for n, (before, after), d, k, s in zip(x.shape[2:], pairs, dilation, kernel, stride))
    geometry = Geometry(kernel, stride, pairs, dilation, groups, x.shape[2:], out_size)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return _unbatched(Convolution.apply(*inputs, geometry=geometry), batched)


def transposed_output_size(name, in_size, kernel, stride, padding, dilation, output_padding):
    """The spatial size of a transposed convolution's output, checked positive."""
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{name}: output_padding {output_padding} must be smaller than either "
                             f"stride {stride} or dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for n, k, s, p, d, op in zip(in_size, kernel, stride, padding, dilation, output_padding))
    if any(n < 1 for n in size):
        raise ValueError(f"{name}: the output would have spatial size {size} for input size {tuple(in_size)}; "
                         f"reduce padding {padding}")
    return size


def conv_transpose(name, ndim, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """``conv_transpose{ndim}d`` with errors that name ``name``."""
    groups = positive_int(name, "groups", groups)
    batched = check_rank(name, input, ndim, weight.shape[0] if weight.ndim == ndim + 2 else "C")
    y = _batched(input, batched)
    _check_weight(name, y, weight, bias, groups, ndim, transposed=True)
    kernel = weight.shape[2:]
    stride = as_tuple(name, "stride", stride, ndim, 1)
    dilation = as_tuple(name, "dilation", dilation, ndim, 1)
    padding = as_tuple(name, "padding", padding, ndim, 0)
    output_padding = as_tuple(name, "output_padding", output_padding, ndim, 0)
    in_size = transposed_output_size(name, y.shape[2:], kernel, stride, padding, dilation, output_padding)
    # The geometry of the convolution this one is the adjoint of: from the output back to the input.
    geometry = Geometry(kernel, stride, tuple((p, p) for p in padding), dilation, groups, in_size, y.shape[2:])
    inputs = (y, weight) if bias is None else (y, weight, bias)
    return _unbatched(TransposedConvolution.apply(*inputs, geometry=geometry), batched)


# ------------------------------------------------------------------ public functions

def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over (N, C, L) inputs, as PyTorch's ``F.conv1d``.

    Parameters
    ----------
    input : (N, C_in, L) or unbatched (C_in, L)
    weight : (C_out, C_in / groups, k)
    bias : (C_out,) or None
    stride, dilation : int or 1-tuple
    padding : int, 1-tuple, 'valid' (no padding) or 'same' (output as long as the input; stride 1)
    groups : split the channels into this many independent convolutions

    Example
    -------
    >>> x = chainrule.randn(100, 1, 40)
    >>> conv1d(x, chainrule.randn(25, 1, 5), stride=2, padding=1).shape
    (100, 25, 19)
    """
    return convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over (N, C, H, W) inputs, as PyTorch's ``F.conv2d``.

    Lowered to im2col and one matrix product per group; the backward is a
    transposed convolution (input) and one more product (weight).

    Parameters
    ----------
    input : (N, C_in, H, W) or unbatched (C_in, H, W)
    weight : (C_out, C_in / groups, kh, kw)
    bias : (C_out,) or None
    stride, dilation : int or pair
    padding : int, pair, 'valid' or 'same' ('same' pads any odd element after, and needs stride 1)
    groups : split the channels into this many independent convolutions
        (groups = C_in is a depthwise convolution)

    Example
    -------
    >>> x = chainrule.randn(64, 1, 28, 28)
    >>> conv2d(x, chainrule.randn(32, 1, 3, 3), padding="same").shape
    (64, 32, 28, 28)
    """
    return convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation over (N, C, D, H, W) inputs, as PyTorch's ``F.conv3d``.

    Example
    -------
    >>> conv3d(chainrule.randn(2, 3, 8, 8, 8), chainrule.randn(4, 3, 3, 3, 3), stride=2).shape
    (2, 4, 3, 3, 3)
    """
    return convolution("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution (the gradient of ``conv1d`` with respect to its input), as PyTorch's.

    Parameters
    ----------
    input : (N, C_in, L) or unbatched (C_in, L)
    weight : (C_in, C_out / groups, k)
    bias : (C_out,) or None
    stride, padding, dilation : as in the convolution this one transposes
    output_padding : extra length added at the end, to pick among the input
        lengths that a strided convolution maps to the same output length

    The output length is (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.

    Example
    -------
    >>> conv_transpose1d(chainrule.randn(2, 4, 10), chainrule.randn(4, 3, 3), stride=2).shape
    (2, 3, 21)
    """
    return conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                          dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the gradient of ``conv2d`` with respect to its input), as PyTorch's.

    Parameters
    ----------
    input : (N, C_in, H, W) or unbatched (C_in, H, W)
    weight : (C_in, C_out / groups, kh, kw)
    bias : (C_out,) or None
    stride, padding, dilation : int or pair, as in the convolution this one transposes
    output_padding : int or pair added to the far side of each output dim

    Each output dim is (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.

    Example
    -------
    >>> x = chainrule.randn(8, 16, 7, 7)
    >>> conv_transpose2d(x, chainrule.randn(16, 8, 3, 3), stride=2, padding=1, output_padding=1).shape
    (8, 8, 14, 14)
    """
    return conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                          dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution, as PyTorch's ``F.conv_transpose3d``; weight (C_in, C_out / groups, *k).

    Example
    -------
    >>> conv_transpose3d(chainrule.randn(1, 4, 3, 3, 3), chainrule.randn(4, 2, 2, 2, 2), stride=2).shape
    (1, 2, 6, 6, 6)
    """
    return conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                          dilation)


def _unfold_geometry(name, spatial, kernel_size, dilation, padding, stride):
    kernel = as_tuple(name, "kernel_size", kernel_size, 2, 1)
    dilation = as_tuple(name, "dilation", dilation, 2, 1)
    padding = tuple((p, p) for p in as_tuple(name, "padding", padding, 2, 0))
    stride = as_tuple(name, "stride", stride, 2, 1)
    out_size = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                     for n, (p, _), d, k, s in zip(spatial, padding, dilation, kernel, stride))
    return Geometry(kernel, stride, padding, dilation, 1, tuple(spatial), out_size)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding windows as columns, as PyTorch's ``F.unfold`` (im2col).

    Parameters
    ----------
    input : (N, C, H, W) or unbatched (C, H, W)
    kernel_size, dilation, padding, stride : int or pair

    Returns
    -------
    (N, C * kh * kw, L), L the number of window positions; rows run over
    (channel, kernel row, kernel column), columns over the positions row by row.

    Example
    -------
    >>> unfold(chainrule.randn(2, 3, 5, 5), kernel_size=3).shape
    (2, 27, 9)
    """
    batched = check_rank("unfold", input, 2)
    x = _batched(input, batched)
    geometry = _unfold_geometry("unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    check_window_fits("unfold", x, geometry.kernel, geometry.dilation, geometry.padding)
    return _unbatched(Unfold.apply(x, geometry=geometry), batched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns back into an image, as PyTorch's ``F.fold`` (col2im; the adjoint of ``unfold``).

    Parameters
    ----------
    input : (N, C * kh * kw, L) or unbatched (C * kh * kw, L)
    output_size : int or pair, the spatial size (H, W) of the image
    kernel_size, dilation, padding, stride : int or pair, as given to ``unfold``

    Example
    -------
    >>> columns = unfold(chainrule.ones(1, 1, 4, 4), kernel_size=2)
    >>> fold(columns, (4, 4), kernel_size=2)[0, 0, 0]      # how many windows cover each pixel
    tensor([1., 2., 2., 1.])
    """
    if input.ndim not in (2, 3):
        raise ValueError(f"fold: expected input of shape (N, C * kh * kw, L) or (C * kh * kw, L), got {input.shape}")
    batched = input.ndim == 3
    columns = _batched(input, batched)
    size = as_tuple("fold", "output_size", output_size, 2, 1)
    geometry = _unfold_geometry("fold", size, kernel_size, dilation, padding, stride)
    taps = math.prod(geometry.kernel)
    expected_blocks = math.prod(geometry.out_size)
    if columns.shape[1] % taps or columns.shape[2] != expected_blocks or min(geometry.out_size) < 1:
        raise ValueError(
            f"fold: expected input of shape (N, C * {taps}, {expected_blocks}) for output_size {size}, "
            f"kernel_size {geometry.kernel}, dilation {geometry.dilation}, padding "
            f"{tuple(p for p, _ in geometry.padding)} and stride {geometry.stride}, got {input.shape}")
    return _unbatched(Fold.apply(columns, geometry=geometry), batched)
