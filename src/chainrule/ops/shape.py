"""Ops that move elements without changing them: reshape, permute, expand,
concatenate, pad, flip, and what is composed of those.

Every backward here is another shape op, so these are differentiable to any
order. ``expand``'s backward simply returns the gradient: the engine's one
broadcasting rule sums it back to the input's shape.
"""
import operator

from ..autograd import Function
from ..backend import array_module
from .reduce import normalize_dims


def _shape_args(name, shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{name}: sizes must be ints, got {shape}") from None


class Reshape(Function):
    saves_inputs = False
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    saves_inputs = False
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return g.permute(inverse)


class Expand(Function):
    saves_inputs = False
    is_view = True

    def forward(self, x, shape):
        return array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return g  # summed back to the input's shape by the engine


class Cat(Function):
    saves_inputs = False

    def forward(self, *arrays, dim):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        return array_module(arrays[0]).concatenate(arrays, axis=dim)

    def backward(self, g):
        return tuple(narrow(g, self.dim, start, size) for start, size in _offsets(self.sizes))


def _offsets(sizes):
    start = 0
    for size in sizes:
        yield start, size
        start += size


class Pad(Function):
    saves_inputs = False

    def forward(self, x, widths, value):
        self.region = tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape))
        return array_module(x).pad(x, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.region]


class CopyPad(Function):
    """Pad with copies of the input's own elements (reflect, replicate, circular).

    ``sources`` holds one (axis, before, indices) per padded axis: output
    position i along ``axis`` copies input position ``indices[i]``, and the
    input itself sits at positions before, before + 1, ... unchanged.
    """

    saves_inputs = False

    def forward(self, x, sources):
        self.sources, self.in_shape = sources, x.shape
        for axis, _, indices in sources:
            x = x.take(indices, axis=axis)
        return x

    def backward(self, g):
        return CopyPadAdjoint.apply(g, sources=self.sources, in_shape=self.in_shape)


class CopyPadAdjoint(Function):
    """The adjoint of ``CopyPad``: each padded element's gradient is added back
    onto the element it copies. Linear, so its own backward is the pad again."""

    saves_inputs = False

    def forward(self, g, sources, in_shape):
        self.sources = sources
        for axis, before, indices in reversed(sources):
            lead = (slice(None),) * axis
            n = in_shape[axis]
            folded = g[lead + (slice(before, before + n),)].copy()
            # NOTE: one edge position at a time, not one fancy-indexed add:
            # replicate padding copies one element many times, and those must all add up.
            for position in (*range(before), *range(before + n, len(indices))):
                folded[lead + (indices[position],)] += g[lead + (position,)]
            g = folded
        return g

    def backward(self, g):
        return CopyPad.apply(g, sources=self.sources)


class Flip(Function):
    saves_inputs = False

    def forward(self, x, dims):
        self.dims = dims
        return array_module(x).flip(x, dims)

    def backward(self, g):
        return g.flip(self.dims)


# ------------------------------------------------------------------ public functions

def reshape(input, *shape):
    """The same elements in a new shape; one size may be -1 (inferred)."""
    return Reshape.apply(input, shape=_shape_args("reshape", shape))


def view(input, *shape):
    """Alias of ``reshape`` (NumPy decides whether a copy is needed)."""
    return Reshape.apply(input, shape=_shape_args("view", shape))


def view_as(input, other):
    """``input`` reshaped to ``other``'s shape."""
    return Reshape.apply(input, shape=other.shape)


def reshape_as(input, other):
    """``input`` reshaped to ``other``'s shape."""
    return Reshape.apply(input, shape=other.shape)


def permute(input, *dims):
    """The dims rearranged: dim i of the result is dim ``dims[i]`` of the input."""
    dims = normalize_dims_ordered("permute", _shape_args("permute", dims), input.ndim)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {input.ndim} dims of shape {input.shape}")
    return Permute.apply(input, dims=dims)


def normalize_dims_ordered(name, dims, ndim):
    """``dims`` as non-negative axes, in the given order (repeats allowed)."""
    for d in dims:
        if not -ndim <= d < ndim:
            raise IndexError(f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(d % ndim for d in dims)


def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    if input.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    dims = list(range(input.ndim))
    a, b = normalize_dims_ordered("transpose", (dim0, dim1), input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    """Transpose a tensor of at most 2 dimensions."""
    if input.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dims, got shape {input.shape}; use transpose or mT")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def expand(input, *sizes):
    """Broadcast to a larger shape without copying; -1 keeps a size."""
    sizes = _shape_args("expand", sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {input.shape} to fewer dims {sizes}")
    if -1 in sizes[:lead]:
        raise ValueError(f"expand: -1 cannot size a new leading dim, got sizes {sizes} for shape {input.shape}")
    shape = tuple(input.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return broadcast_to(input, shape)


def broadcast_to(input, shape):
    """``input`` broadcast to ``shape`` without copying; the gradient sums over the copies.

    Example
    -------
    >>> chainrule.broadcast_to(chainrule.tensor([1.0, 2.0]), (3, 2)).shape
    (3, 2)
    """
    shape = tuple(shape)
    if input.shape == shape:
        return input
    return Expand.apply(input, shape=shape)


def expand_as(input, other):
    """``input`` broadcast to ``other``'s shape."""
    return broadcast_to(input, other.shape)


def squeeze(input, dim=None):
    """Remove size-1 dims (all of them, or those in ``dim``)."""
    if dim is None:
        dims = [i for i, n in enumerate(input.shape) if n == 1]
    else:
        dims = [d for d in normalize_dims(dim, input.ndim, "squeeze") if input.shape[d] == 1]
    if not dims:
        return input
    return Reshape.apply(input, shape=tuple(n for i, n in enumerate(input.shape) if i not in dims))


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (negative counts from the new end)."""
    ndim = input.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result with {ndim} dims")
    dim %= ndim
    return Reshape.apply(input, shape=input.shape[:dim] + (1,) + input.shape[dim:])


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    if input.ndim == 0:
        return Reshape.apply(input, shape=(1,))
    start, end = normalize_dims_ordered("flatten", (start_dim, end_dim), input.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:start] + (-1,) + input.shape[end + 1:]
    if 0 in input.shape:
        merged = 1
        for n in input.shape[start:end + 1]:
            merged *= n
        shape = input.shape[:start] + (merged,) + input.shape[end + 1:]
    return Reshape.apply(input, shape=shape)


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one of which may be -1): the inverse of ``flatten``.

    Example
    -------
    >>> chainrule.ones(2, 12).unflatten(1, (3, 4)).shape
    (2, 3, 4)
    """
    (dim,) = normalize_dims_ordered("unflatten", (dim,), input.ndim)
    return Reshape.apply(input, shape=input.shape[:dim] + tuple(sizes) + input.shape[dim + 1:])


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other sizes must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("cat: 0-d tensors cannot be concatenated; use stack, or unsqueeze them first")
    (axis,) = normalize_dims_ordered("cat", (dim,), first.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis):
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape}, which does not match tensor 0's "
                f"shape {first.shape} outside dim {dim}"
            )
    return Cat.apply(*tensors, dim=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    normalize_dims_ordered("stack", (dim,), tensors[0].ndim + 1)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, tensor 0 has {tensors[0].shape}; all must match")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


def narrow(input, dim, start, length):
    """The slice start:start+length along ``dim`` (a view); a negative ``start`` counts from the end."""
    (dim,) = normalize_dims_ordered("narrow", (dim,), input.ndim)
    n = input.shape[dim]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n}")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise ValueError(f"narrow: start {start} + length {length} exceeds dim {dim} of size {n}")
    index = [slice(None)] * input.ndim
    index[dim] = slice(start, start + length)
    return input[tuple(index)]


def split(input, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    (axis,) = normalize_dims_ordered("split", (dim,), input.ndim)
    n = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - start) for start in range(0, n, split_size_or_sections)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, but dim {dim} has size {n}")
    return tuple(narrow(input, axis, start, size) for start, size in _offsets(sizes))


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n / chunks) elements (fewer if n runs out)."""
    if chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be positive, got {chunks}")
    (dim,) = normalize_dims_ordered("chunk", (dim,), input.ndim)
    n = input.shape[dim]
    return split(input, max(1, -(-n // chunks)), dim)


def pad(input, pad, mode="constant", value=None):
    """Pad the last dims, as PyTorch's ``F.pad``: ``pad`` lists (before, after)
    widths from the last dim backwards, so ``(left, right)`` pads the last dim
    and ``(left, right, top, bottom)`` the last two.

    Modes
    -----
    'constant'  : ``value`` (default 0) around the input, on up to every dim
    'reflect'   : the input mirrored at its edge, edge not repeated: [c b | a b c d | c b];
                  widths smaller than the dim
    'replicate' : the edge element repeated: [a a | a b c d | d d]
    'circular'  : the input wrapped around: [c d | a b c d | a b]; widths at most the dim

    The last three pad the last 1, 2 or 3 dims of a batched (N, C, *) or
    unbatched (C, *) input. In their backward each padded element's gradient
    is added onto the element it copies.

    Example
    -------
    >>> pad(chainrule.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    return pad_for("pad", input, pad, mode, value)


def _reflected(i, n):
    return (n - 1) - abs((n - 1) - abs(i))


def _replicated(i, n):
    return min(max(i, 0), n - 1)


def _wrapped(i, n):
    return i % n


# mode -> the input position that output position i copies, for i in -before .. n + after - 1
_SOURCES = {"reflect": _reflected, "replicate": _replicated, "circular": _wrapped}


def _check_copy_widths(name, mode, axis, before, after, n, shape):
    widest = max(before, after)
    if mode == "reflect" and widest >= n:
        raise ValueError(f"{name}: reflect padding {(before, after)} must be smaller than the size {n} of dim "
                         f"{axis}, got input of shape {shape}")
    if mode == "circular" and widest > n:
        raise ValueError(f"{name}: circular padding {(before, after)} must be at most the size {n} of dim {axis} "
                         f"(it would wrap around more than once), got input of shape {shape}")
    if mode == "replicate" and widest and not n:
        raise ValueError(f"{name}: replicate padding has no edge to copy in the empty dim {axis} of shape {shape}")


def pad_for(name, input, pad, mode="constant", value=None):
    """``pad`` with errors that name ``name`` (the op or the layer calling it)."""
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"{name}: expected an even number of at most {2 * input.ndim} widths, got {pad}")
    if any(w < 0 for w in pad):
        raise ValueError(f"{name}: widths must be non-negative, got {pad}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return Pad.apply(input, widths=tuple(widths), value=0.0 if value is None else value)
    if mode not in _SOURCES:
        raise ValueError(f"{name}: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value:
        raise ValueError(f"{name}: mode={mode!r} pads with the input's own elements and takes no value, "
                         f"got value={value}")
    padded = len(pad) // 2
    if not 1 <= padded <= 3 or input.ndim not in (padded + 1, padded + 2):
        raise NotImplementedError(
            f"{name}: mode={mode!r} pads the last 1, 2 or 3 dims of an (N, C, *) or (C, *) input; "
            f"{len(pad)} widths need an input of {padded + 1} or {padded + 2} dims, got shape {input.shape}")
    sources = []
    for axis in range(input.ndim - padded, input.ndim):
        (before, after), n = widths[axis], input.shape[axis]
        _check_copy_widths(name, mode, axis, before, after, n, input.shape)
        sources.append((axis, before, tuple(_SOURCES[mode](i, n) for i in range(-before, n + after))))
    return CopyPad.apply(input, sources=tuple(sources))


def flip(input, dims):
    """Reverse the order of elements along ``dims`` (an int or a tuple)."""
    dims = normalize_dims((dims,) if isinstance(dims, int) else tuple(dims), input.ndim, "flip")
    return Flip.apply(input, dims=dims)


def repeat(input, *sizes):
    """Tile the tensor ``sizes[i]`` times along dim i (PyTorch's ``Tensor.repeat``).

    Composed as reshape, expand, reshape, so its gradient needs no rule of its own.
    """
    sizes = _shape_args("repeat", sizes)
    if len(sizes) < input.ndim:
        raise ValueError(f"repeat: needs at least {input.ndim} sizes for shape {input.shape}, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + input.shape
    interleaved = [n for size in shape for n in (1, size)]
    expanded = [n for pair in zip(sizes, shape) for n in pair]
    result = [r * size for r, size in zip(sizes, shape)]
    return input.reshape(interleaved).expand(expanded).reshape(result)


def tile(input, dims):
    """Like ``repeat``, but fewer ``dims`` than the tensor has are padded with 1s in front."""
    dims = tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)
