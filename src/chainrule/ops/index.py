"""Indexing: ``x[index]``, ``x[index] = v``, gather, scatter_add, index_select.

Reading with an index and adding into zeros at that index are each other's
adjoints, so each op's backward is the other and both differentiate to any
order. Repeated integer indices accumulate their gradients.
"""
from ..autograd import Function, assign_inplace
from ..backend import array_module, as_array, ndarray
from ..tensor import Tensor, constant
from .elementwise import where
from .reduce import normalize_dims
from .shape import pad


def normalize_index(index):
    """``index`` with tensors and lists turned into arrays, and whether it is
    basic (ints, slices, None, Ellipsis: the result is a view)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    basic = True
    for part in parts:
        if isinstance(part, Tensor):
            part = part.data
        elif isinstance(part, list):
            part = as_array(part)
        if isinstance(part, ndarray):
            if part.dtype.kind not in "iub":
                raise IndexError(f"getitem: index arrays must be integer or bool, got {part.dtype}")
            basic = False
        elif isinstance(part, bool):
            basic = False
        out.append(part)
    return tuple(out), basic


class _Index(Function):
    saves_inputs = False

    @classmethod
    def op_name(cls):
        return "getitem"

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        return x[index]


class BasicIndex(_Index):
    is_view = True

    def backward(self, g):
        return IndexAdd.apply(g, shape=self.shape, index=self.index, accumulate=False)


class AdvancedIndex(_Index):
    def backward(self, g):
        return IndexAdd.apply(g, shape=self.shape, index=self.index, accumulate=True)


class IndexAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of indexing."""

    saves_inputs = False

    def forward(self, g, shape, index, accumulate):
        self.index = index
        out = array_module(g).zeros(shape, dtype=g.dtype)
        if accumulate:
            array_module(g).add.at(out, index, g)
        else:
            out[index] = g
        return out

    def backward(self, gg):
        return gg[self.index]


class IndexPut(Function):
    """``x`` with ``values`` written (or, accumulating, added) at ``index``, out of place."""

    saves_inputs = False

    def forward(self, x, values, index, accumulate):
        self.index, self.accumulate = index, accumulate
        out = x.copy()
        if accumulate:
            array_module(x).add.at(out, index, values)
        else:
            out[index] = values
        return out

    def backward(self, g):
        # Written values hide what x held there, so x gets no gradient in that region.
        grad_x = g if self.accumulate else index_put(g, self.index, 0.0)
        return grad_x, g[self.index]


def _along(index, dim):
    """An index tuple that picks ``index[i, j, ...]`` along ``dim`` and i, j, ... elsewhere."""
    xp = array_module(index)
    grids = list(xp.ogrid[tuple(slice(n) for n in index.shape)]) if index.ndim else []
    grids[dim] = index
    return tuple(grids)


class Gather(Function):
    saves_inputs = False

    def forward(self, x, dim, index):
        self.shape, self.dim, self.index = x.shape, dim, index
        return x[_along(index, dim)]

    def backward(self, g):
        zeros = constant(array_module(g.data).zeros(self.shape, dtype=g.dtype))
        return ScatterAdd.apply(zeros, g, dim=self.dim, index=self.index)


class ScatterAdd(Function):
    saves_inputs = False

    def forward(self, x, src, dim, index):
        self.dim, self.index, self.src_shape = dim, index, src.shape
        out = x.copy()
        src = src[tuple(slice(n) for n in index.shape)]
        array_module(x).add.at(out, _along(index, dim), src)
        return out

    def backward(self, g):
        # Only the leading index.shape block of src is read; the rest gets zeros.
        grad_src = Gather.apply(g, dim=self.dim, index=self.index)
        unread = [m - n for n, m in zip(grad_src.shape, self.src_shape)]
        if any(unread):
            grad_src = pad(grad_src, [width for n in reversed(unread) for width in (0, n)])
        return g, grad_src


# ------------------------------------------------------------------ public functions

def getitem(input, index):
    """``input[index]`` with ints, slices, None, Ellipsis, bool masks and integer arrays."""
    index, basic = normalize_index(index)
    return (BasicIndex if basic else AdvancedIndex).apply(input, index=index)


def index_put(input, index, values, accumulate=False):
    """A copy of ``input`` with ``values`` (broadcast) written at ``index``,
    or added there when ``accumulate`` (repeated indices then add up).

    Example
    -------
    >>> chainrule.index_put(chainrule.zeros(3), (chainrule.tensor([0, 0]),), chainrule.tensor(1.0), accumulate=True)
    tensor([2., 0., 0.])
    """
    index, _ = normalize_index(index)
    if not isinstance(values, Tensor):
        values = constant(array_module(input.data).asarray(values, dtype=input.dtype))
    return IndexPut.apply(input, values, index=index, accumulate=accumulate)


def setitem(input, index, values):
    """``input[index] = values``, in place; differentiable when recording."""
    assign_inplace(input, index_put, index, values)


def _check_index_tensor(name, input, dim, index):
    index = index.data if isinstance(index, Tensor) else as_array(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got {index.dtype}")
    if index.ndim != input.ndim:
        raise ValueError(f"{name}: index has {index.ndim} dims but the input has {input.ndim} (shape {input.shape})")
    (dim,) = normalize_dims(dim, input.ndim, name)
    n = input.shape[dim]
    if index.size and (index.min() < 0 or index.max() >= n):
        # NOTE: NumPy would wrap a negative index around silently; PyTorch refuses it.
        raise IndexError(f"{name}: index values must lie in [0, {n}) for dim {dim}, "
                         f"got values from {index.min()} to {index.max()}")
    return dim, index


def gather(input, dim, index):
    """``out[i][j] = input[index[i][j]][j]`` for dim=0 (and likewise for other dims)."""
    dim, index = _check_index_tensor("gather", input, dim, index)
    return Gather.apply(input, dim=dim, index=index)


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``src[i][j]`` added at ``[index[i][j]][j]`` (dim=0);
    repeated indices accumulate."""
    dim, index = _check_index_tensor("scatter_add", input, dim, index)
    return ScatterAdd.apply(input, src, dim=dim, index=index)


def index_select(input, dim, index):
    """The entries of ``index`` (1-D) along ``dim``."""
    index = index.data if isinstance(index, Tensor) else as_array(index)
    if index.ndim != 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
    (dim,) = normalize_dims(dim, input.ndim, "index_select")
    n = input.shape[dim]
    if index.size and (index.min() < 0 or index.max() >= n):
        raise IndexError(f"index_select: index {index.tolist()} is out of range for dim {dim} of size {n}")
    return AdvancedIndex.apply(input, index=(slice(None),) * dim + (index,))


def masked_fill(input, mask, value):
    """``input`` with ``value`` where ``mask`` is true."""
    return where(mask, value, input)
