"""Reductions over ``dim`` (an int, a tuple, or None for all), with ``keepdim``.

PyTorch's ``dim``/``keepdim`` are the names; NumPy's ``axis``/``keepdims``
are accepted as aliases. Each backward first restores the reduced axes as
size-1 axes (``_unsqueeze_reduced``), then broadcasts.
"""
import builtins
import numbers
from collections import namedtuple

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor, constant
from .elementwise import exp, maximum, minimum, sqrt, where

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def normalize_dims(dim, ndim, name):
    """``dim`` as a sorted tuple of non-negative axes, or None for all axes.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch; it has no axis to
    name, so they become the empty tuple.
    """
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = []
    for d in dims:
        # NOTE: this module defines sum/max/min/all/any; builtins are named so.
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % ndim if ndim else None)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim} names an axis twice")
    return tuple(sorted(d for d in out if d is not None))


def resolve_dim(name, input, dim, keepdim, axis, keepdims):
    """Merge PyTorch's (dim, keepdim) with NumPy's (axis, keepdims) aliases.

    An empty ``dim`` reduces over all axes, as in PyTorch (NumPy would reduce none).
    """
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) == 0:
        dim = None
    return normalize_dims(dim, input.ndim, name), bool(keepdim)


def _kept_shape(shape, dims):
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _unsqueeze_reduced(g, shape, dims, keepdim):
    """Give a reduced result back its reduced axes, as size 1."""
    return g if keepdim else g.reshape(_kept_shape(shape, dims))


def _count(shape, dims):
    n = 1
    for i, size in enumerate(shape):
        if dims is None or i in dims:
            n *= size
    return n


class _Reduction(Function):
    """Keeps the input shape and the reduced axes for the backward."""

    def setup(self, x, dim, keepdim):
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim

    def kept(self, t):
        return _unsqueeze_reduced(t, self.shape, self.dim, self.keepdim)


class Sum(_Reduction):
    saves_inputs = False

    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        return x.sum(axis=dim, keepdims=keepdim)

    def backward(self, g):
        return self.kept(g).expand(self.shape)


class Mean(_Reduction):
    saves_inputs = False

    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        return x.mean(axis=dim, keepdims=keepdim)

    def backward(self, g):
        return (self.kept(g) / _count(self.shape, self.dim)).expand(self.shape)


class Var(_Reduction):
    def forward(self, x, dim, keepdim, correction):
        self.setup(x, dim, keepdim)
        self.correction = correction
        return x.var(axis=dim, ddof=correction, keepdims=keepdim)

    def backward(self, g):
        # d var / dx_i = 2 (x_i - mean) / (n - correction)
        x = self.inputs[0]
        centred = x - x.mean(dim=self.dim, keepdim=True)
        return self.kept(g) * centred * (2 / (_count(self.shape, self.dim) - self.correction))


class _Extremum(_Reduction):
    """amax / amin: ties share the gradient evenly, as in PyTorch."""

    saves_output = True

    def backward(self, g):
        x = self.inputs[0]
        at_extremum = constant((x.data == self.kept(self.output()).data).astype(g.dtype))
        share = at_extremum / at_extremum.sum(dim=self.dim, keepdim=True)
        return self.kept(g) * share


class Amax(_Extremum):
    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        return x.max(axis=dim, keepdims=keepdim)


class Amin(_Extremum):
    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        return x.min(axis=dim, keepdims=keepdim)


class LogSumExp(_Reduction):
    saves_output = True

    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        xp = array_module(x)
        peak = x.max(axis=dim, keepdims=True)
        peak = xp.where(xp.isfinite(peak), peak, 0)
        with xp.errstate(divide="ignore"):  # all -inf: the log of 0 is the right answer
            out = xp.log(xp.exp(x - peak).sum(axis=dim, keepdims=True)) + peak
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if dim is not None and i not in dim])

    def backward(self, g):
        # d logsumexp / dx = softmax(x)
        return self.kept(g) * exp(self.inputs[0] - self.kept(self.output()))


class Prod(_Reduction):
    saves_output = True

    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        return x.prod(axis=dim, keepdims=keepdim)

    def backward(self, g):
        # d prod / dx_i = the product of the other elements = prod / x_i when x_i != 0.
        x = self.inputs[0]
        if not (x.data == 0).any():
            return self.kept(g) * self.kept(self.output()) / x
        return self.kept(g) * _product_of_others(x, self.dim)


def _product_of_others(x, dims):
    """For each element of ``x``, the product of the other elements in its reduction.

    NOTE: an ordinary backward takes it from prefix and suffix products
    (linear in size, no gradient). When the backward itself records
    (create_graph) it is built from differentiable ops instead: row i of an
    n-by-n matrix is the reduced group with element i set to 1, and its
    product is taken with ``prod``. That costs n² per group, but only for
    higher derivatives through a product with zeros.
    """
    axes = tuple(range(x.ndim)) if dims is None else dims
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    order = rest + axes
    moved = x.permute(order)
    outer_shape = moved.shape[: len(rest)]
    flat = moved.reshape(outer_shape + (-1,))
    if is_grad_enabled():
        xp = array_module(x.data)
        n = flat.shape[-1]
        rows = flat.unsqueeze(-2).expand(outer_shape + (n, n))
        others = prod(where(constant(xp.eye(n, dtype=bool)), 1.0, rows), dim=-1)
    else:
        others = constant(_exclusive_products(flat.data))
    return others.reshape(moved.shape).permute(_inverse(order))


def _exclusive_products(flat):
    """Along the last axis, the product of everything before each element times everything after it."""
    xp = array_module(flat)
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([flat[..., 1:], ones], axis=-1), -1), axis=-1), -1)
    return before * after


def _inverse(permutation):
    inverse = [0] * len(permutation)
    for i, d in enumerate(permutation):
        inverse[d] = i
    return tuple(inverse)


class Norm(_Reduction):
    """The vector p-norm for a finite p > 0 other than 1: (sum |x|^p)^(1/p)."""

    saves_output = True

    def forward(self, x, dim, keepdim, p):
        self.setup(x, dim, keepdim)
        self.p = p
        xp = array_module(x)
        if p == 2:
            return xp.sqrt((x * x).sum(axis=dim, keepdims=keepdim))
        return (xp.abs(x) ** p).sum(axis=dim, keepdims=keepdim) ** (1 / p)

    def backward(self, g):
        # d ||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1), taken as 0 where
        # the norm is 0 (as PyTorch), instead of 0/0.
        x, p = self.inputs[0], self.p
        norm = self.kept(self.output())
        is_zero = constant(norm.data == 0)
        direction = x if p == 2 else x.sign() * x.abs() ** (p - 1)
        return where(is_zero, 0.0, self.kept(g) * direction / where(is_zero, 1.0, norm) ** (p - 1))


# ------------------------------------------------------------------ public functions

def sum(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    """Sum over ``dim``.

    Parameters
    ----------
    input : Tensor
    dim : int, tuple of ints or None
        The dims to reduce; None (or an empty tuple) reduces all of them.
    keepdim : bool
        Keep the reduced dims, with size 1.
    dtype : optional dtype to convert ``input`` to first.
    axis, keepdims : NumPy's names for ``dim`` and ``keepdim``.

    Example
    -------
    >>> chainrule.ones(2, 3).sum(dim=1)
    tensor([3., 3.])
    """
    dim, keepdim = resolve_dim("sum", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    return Sum.apply(input, dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    """The mean over ``dim``, of a floating-point tensor; arguments as for ``sum``."""
    dim, keepdim = resolve_dim("mean", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind not in "fc":
        raise TypeError(f"mean: needs a floating-point tensor, got {input.dtype}; convert with .float()")
    return Mean.apply(input, dim=dim, keepdim=keepdim)


def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None, axis=None, keepdims=None):
    """Variance over ``dim``, dividing by N - correction (Bessel's correction by default)."""
    dim, keepdim = resolve_dim("var", input, dim, keepdim, axis, keepdims)
    if unbiased is not None:
        correction = int(unbiased)
    return Var.apply(input, dim=dim, keepdim=keepdim, correction=correction)


def std(input, dim=None, *, correction=1, keepdim=False, unbiased=None, axis=None, keepdims=None):
    """Standard deviation: the square root of ``var`` with the same arguments."""
    dim, keepdim = resolve_dim("std", input, dim, keepdim, axis, keepdims)
    if unbiased is not None:
        correction = int(unbiased)
    return sqrt(Var.apply(input, dim=dim, keepdim=keepdim, correction=correction))


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim``; tied maxima share the gradient evenly."""
    dim, keepdim = resolve_dim("amax", input, dim, keepdim, axis, keepdims)
    return Amax.apply(input, dim=dim, keepdim=keepdim)


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim``; tied minima share the gradient evenly."""
    dim, keepdim = resolve_dim("amin", input, dim, keepdim, axis, keepdims)
    return Amin.apply(input, dim=dim, keepdim=keepdim)


def _values_and_indices(name, input, dim, keepdim, find_index):
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}; use amax/amin to reduce several dims")
    if input.ndim == 0:  # as in PyTorch: one element along dim 0 (or -1)
        normalize_dims(dim, 0, name)
        return _values_and_indices(name, input.reshape(1), 0, False, find_index)
    (axis,) = normalize_dims(dim, input.ndim, name)
    indices = find_index(input, axis, keepdim=True)
    values = input.gather(axis, indices)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return ValuesIndices(values, indices)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The maximum of all elements; with ``dim``, ``(values, indices)`` along it;
    with a tensor as second argument, the elementwise maximum.

    With ``dim`` the gradient goes to the element that ``indices`` names;
    over all elements, tied maxima share it evenly (as in PyTorch).
    """
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        return amax(input)
    return _values_and_indices("max", input, dim, keepdim, argmax)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The minimum; see ``max``."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        return amin(input)
    return _values_and_indices("min", input, dim, keepdim, argmin)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is not None:
        normalize_dims(dim, input.ndim, "argmax")
    xp = array_module(input.data)
    return constant(xp.asarray(input.data.argmax(axis=dim, keepdims=keepdim), dtype="int64"))


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the minimum (of the flattened tensor when ``dim`` is None)."""
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is not None:
        normalize_dims(dim, input.ndim, "argmin")
    xp = array_module(input.data)
    return constant(xp.asarray(input.data.argmin(axis=dim, keepdims=keepdim), dtype="int64"))


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(input))) over ``dim`` (all dims if None), shifted by the
    maximum so that it neither overflows nor underflows.

    Example
    -------
    >>> chainrule.tensor([1000.0, 1000.0]).logsumexp(0)
    tensor(1000.6932)
    """
    dim, keepdim = resolve_dim("logsumexp", input, dim, keepdim, axis, keepdims)
    return LogSumExp.apply(input, dim=dim, keepdim=keepdim)


def prod(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    """The product over ``dim``; arguments as for ``sum``.

    The gradient is the product of the other elements, so it stays exact
    where inputs are zero (where dividing the product by them would not).

    Example
    -------
    >>> chainrule.tensor([2.0, 0.0, 3.0]).prod()
    tensor(0.)
    """
    dim, keepdim = resolve_dim("prod", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    return Prod.apply(input, dim=dim, keepdim=keepdim)


def norm(input, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The vector p-norm over ``dim`` (all elements by default).

    ``p`` may be a positive number, ``"fro"`` (= 2) or ``inf``/``-inf``.
    Where the norm is 0 its gradient is taken as 0, as in PyTorch.

    Example
    -------
    >>> chainrule.tensor([3.0, 4.0]).norm()
    tensor(5.)
    """
    dim, keepdim = resolve_dim("norm", input, dim, keepdim, axis, keepdims)
    if p == "fro":
        p = 2
    if p == float("inf"):
        return amax(input.abs(), dim=dim, keepdim=keepdim)
    if p == float("-inf"):
        return amin(input.abs(), dim=dim, keepdim=keepdim)
    if p == 1:
        return sum(input.abs(), dim=dim, keepdim=keepdim)
    if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0:
        return Norm.apply(input, dim=dim, keepdim=keepdim, p=p)
    raise ValueError(f"norm: p must be a positive number, 'fro', inf or -inf, got {p!r}")


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether every element (along ``dim``) is true; a bool tensor without gradient."""
    dim, keepdim = resolve_dim("all", input, dim, keepdim, axis, keepdims)
    return constant(array_module(input.data).asarray(input.data.all(axis=dim, keepdims=keepdim)))


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether some element (along ``dim``) is true; a bool tensor without gradient."""
    dim, keepdim = resolve_dim("any", input, dim, keepdim, axis, keepdims)
    return constant(array_module(input.data).asarray(input.data.any(axis=dim, keepdims=keepdim)))
