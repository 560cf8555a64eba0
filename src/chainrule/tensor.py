"""Tensor: an array, its gradient, and the node that made it.

This module holds only what a tensor *is*. The ops (``+``, ``exp``,
``sum``, ``reshape`` …) live in ``chainrule.ops`` and attach themselves to
``Tensor`` when that package is imported, so the engine never imports the ops.
"""
import numpy

from . import dtypes
from .backend import ndarray


class Tensor:
    """A multi-dimensional array that can record the ops applied to it.

    Parameters
    ----------
    data : array-like
        A NumPy array keeps its dtype; Python floats become the default dtype
        (float32), Python ints int64.
    requires_grad : bool
        Record ops on this tensor so that ``backward`` fills ``.grad``.
    dtype : optional dtype to convert to.

    Example
    -------
    >>> x = chainrule.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_version", "_hooks", "__weakref__")
    __hash__ = object.__hash__  # comparisons are elementwise; identity is the key
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = dtypes.as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._version = [0]
        self._hooks = None  # a list once a hook is registered
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn, version):
        """The engine's constructor: no conversion or checks."""
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t.requires_grad = grad_fn is not None
        t._version = [0] if version is None else version
        t._hooks = None
        return t

    # ---------------------------------------------------------------- basics

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return "cpu"

    @property
    def is_leaf(self):
        """True for tensors the user made, and for results of ops that record nothing."""
        return self.grad_fn is None

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        """The shape, or the length of one dimension."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The underlying array (shared, not copied), as ``Tensor.numpy`` in PyTorch."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __repr__(self):
        body = repr(self.data)
        body = body[body.index("(") + 1: body.rindex(")")] if body.startswith("array") else body
        extras = []
        if self.data.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        body = body.split(", dtype=")[0]
        return f"tensor({', '.join([body] + extras)})"

    # ---------------------------------------------------------------- autograd

    def requires_grad_(self, requires_grad=True):
        """Ask (or stop asking) for this leaf's gradient. Returns self."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad: only floating-point tensors can require "
                f"gradients, got dtype {self.data.dtype}; convert with .float() first"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: a non-leaf tensor always requires grad; use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data, None, self._version)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        gradient : the vector in the vector-Jacobian product; may be omitted
            only for a one-element tensor (it is then 1).
        retain_graph : keep the graph so that backward can run through it
            again (default: ``create_graph``).
        create_graph : record the backward pass, so that the gradients can
            themselves be differentiated.
        """
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a replacement gradient. Returns a handle whose
        ``remove()`` detaches it.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        from .autograd import register_tensor_hook
        return register_tensor_hook(self, hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        from .autograd import retain_tensor_grad
        retain_tensor_grad(self)

    # ---------------------------------------------------------------- dtype

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool)

    def type_as(self, other):
        return self.to(other.dtype)

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def cpu(self):
        return self

    def contiguous(self):
        """This tensor if its data is C-contiguous, else a contiguous copy (gradients flow through)."""
        return self if self.data.flags.c_contiguous else self.clone()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def as_tensor_args(*values):
    """Wrap any non-Tensor operands of a binary op, typed to fit the Tensor one.

    A Python scalar takes the Tensor's dtype (as PyTorch's weak scalars do),
    except that a float next to an integer tensor makes both the default
    float dtype.
    """
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is not None and like.data.dtype.kind in "iub" and any(isinstance(v, float) for v in values):
        values = [v.to(dtypes.get_default_dtype()) if isinstance(v, Tensor) else v for v in values]
        like = next(v for v in values if isinstance(v, Tensor))
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, ndarray):
            out.append(Tensor._make(v, None, None))
        else:
            out.append(_scalar_like(v, like))
    return out


def _scalar_like(value, like):
    if like is None:
        return Tensor(value)
    dtype = like.data.dtype
    if isinstance(value, bool) or (isinstance(value, int) and dtype.kind == "b"):
        dtype = numpy.result_type(dtype, type(value))
    return Tensor._make(numpy.asarray(value, dtype=dtype), None, None)


def constant(array):
    """Wrap an array as a tensor outside any graph (masks, saved values)."""
    return Tensor._make(array, None, None)
