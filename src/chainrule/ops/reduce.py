"""Reductions over ``dim`` (an int, a tuple, or None for all), with ``keepdim``.

PyTorch's ``dim``/``keepdim`` are the names; NumPy's ``axis``/``keepdims``
are accepted as aliases. Each backward first restores the reduced axes as
size-1 axes (``_unsqueeze_reduced``), then broadcasts.
"""
import builtins
from collections import namedtuple

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor, constant
from .elementwise import exp, maximum, minimum, sqrt, where

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def normalize_dims(dim, ndim, name):
    """``dim`` as a sorted tuple of non-negative axes, or None for all axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        # NOTE: this module defines sum/max/min/all/any; builtins are named so.
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{name}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: dim {dim} names an axis twice")
    return tuple(sorted(out))


def resolve_dim(name, input, dim, keepdim, axis, keepdims):
    """Merge PyTorch's (dim, keepdim) with NumPy's (axis, keepdims) aliases."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
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
        x = self.inputs[0]
        if not (x.data == 0).any():
            return self.kept(g) * self.kept(self.output()) / x
        # NOTE: with zeros present, the product of the other elements is
        # computed directly and taken as constant: exact first derivatives,
        # but no second derivative through this branch.
        return self.kept(g) * constant(_product_of_others(x.data, self.dim))


def _product_of_others(x, dims):
    """For each element, the product of all other elements in its reduction."""
    xp = array_module(x)
    axes = tuple(range(x.ndim)) if dims is None else dims
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = xp.moveaxis(x, list(axes), list(range(x.ndim - len(axes), x.ndim)))
    flat = moved.reshape(moved.shape[: len(rest)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([flat[..., 1:], ones], axis=-1), -1), axis=-1), -1)
    others = (before * after).reshape(moved.shape)
    return xp.moveaxis(others, list(range(x.ndim - len(axes), x.ndim)), list(axes))


class Norm2(_Reduction):
    saves_output = True

    def forward(self, x, dim, keepdim):
        self.setup(x, dim, keepdim)
        xp = array_module(x)
        return xp.sqrt((x * x).sum(axis=dim, keepdims=keepdim))

    def backward(self, g):
        # d ||x|| / dx = x / ||x||, taken as 0 where the norm is 0 (as PyTorch).
        x = self.inputs[0]
        norm = self.kept(self.output())
        is_zero = constant(norm.data == 0)
        return self.kept(g) * x / where(is_zero, 1.0, norm) * constant(~is_zero.data)


# ------------------------------------------------------------------ public functions

def sum(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    """Sum over ``dim`` (all dims by default)."""
    dim, keepdim = resolve_dim("sum", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    return Sum.apply(input, dim=dim, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
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
    """Standard deviation: sqrt(var(...))."""
    return sqrt(var(input, dim, correction=correction, keepdim=keepdim, unbiased=unbiased,
                    axis=axis, keepdims=keepdims))


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim``; tied maxima share the gradient evenly."""
    dim, keepdim = resolve_dim("amax", input, dim, keepdim, axis, keepdims)
    return Amax.apply(input, dim=dim, keepdim=keepdim)


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = resolve_dim("amin", input, dim, keepdim, axis, keepdims)
    return Amin.apply(input, dim=dim, keepdim=keepdim)


def _values_and_indices(name, input, dim, keepdim, find_index):
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
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is not None:
        normalize_dims(dim, input.ndim, "argmin")
    xp = array_module(input.data)
    return constant(xp.asarray(input.data.argmin(axis=dim, keepdims=keepdim), dtype="int64"))


def logsumexp(input, dim, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(input))) over ``dim``, shifted by the maximum so it never overflows."""
    dim, keepdim = resolve_dim("logsumexp", input, dim, keepdim, axis, keepdims)
    return LogSumExp.apply(input, dim=dim, keepdim=keepdim)


def prod(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=None):
    dim, keepdim = resolve_dim("prod", input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    return Prod.apply(input, dim=dim, keepdim=keepdim)


def norm(input, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The vector p-norm over ``dim`` (all elements by default).

    ``p`` may be a number, ``"fro"`` (= 2) or ``inf``/``-inf``. The gradient
    of the 2-norm at zero is taken as 0, as in PyTorch.
    """
    dim, keepdim = resolve_dim("norm", input, dim, keepdim, axis, keepdims)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(input, dim=dim, keepdim=keepdim)
    if p == float("inf"):
        return amax(input.abs(), dim=dim, keepdim=keepdim)
    if p == float("-inf"):
        return amin(input.abs(), dim=dim, keepdim=keepdim)
    if p == 1:
        return sum(input.abs(), dim=dim, keepdim=keepdim)
    if isinstance(p, (int, float)) and p > 0:
        return sum(input.abs() ** p, dim=dim, keepdim=keepdim) ** (1 / p)
    raise ValueError(f"norm: p must be a positive number, 'fro', inf or -inf, got {p!r}")


def all(input, dim=None, keepdim=False):
    return constant(array_module(input.data).asarray(input.data.all(axis=dim, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    return constant(array_module(input.data).asarray(input.data.any(axis=dim, keepdims=keepdim)))
