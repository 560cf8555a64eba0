"""The primitive ops, one family per module, and their attachment to Tensor.

Importing this package gives ``Tensor`` its operators and methods
(``x + y``, ``x.exp()``, ``x.sum(dim=1)``); ``tensor.py`` never imports the
ops, so the engine stays below them.
"""
import numpy

from ..autograd import assign_inplace
from ..creation import full_like
from ..tensor import Tensor, as_tensor_args, constant
from . import activation, compare, elementwise, index, linalg, reduce, shape, softmax
from .activation import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from .compare import (allclose, eq, equal, ge, gt, isfinite, isinf, isnan, le, logical_and,
                      logical_not, logical_or, logical_xor, lt, ne)
from .elementwise import (Add, Mul, Sub, abs, add, ceil, clamp, clone, cos, div, erf, exp, floor,
                          log, log1p, maximum, minimum, mul, neg, pow, round, rsqrt, sign, sin, sqrt,
                          sub, to, trunc, where)
from .index import gather, getitem, index_put, index_select, masked_fill, scatter_add, setitem
from .linalg import bmm, dot, einsum, matmul, mm, outer
from .reduce import all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, prod, std, sum, var
from .shape import (broadcast_to, cat, chunk, concat, concatenate, expand, expand_as, flatten, flip, narrow, pad,
                    permute, repeat, reshape, reshape_as, split, squeeze, stack, swapaxes, swapdims, t, tile,
                    transpose, unflatten, unsqueeze, view, view_as)
from .softmax import log_softmax, softmax

clip = clamp


def remainder(input, other):
    """input - floor(input / other) * other: the sign follows the divisor, as Python's %."""
    return sub(input, mul(div(input, other, rounding_mode="floor"), other))


_SCALARS = {}  # (value, dtype) -> a 0-d constant tensor, so `x * 2.0` allocates nothing new


def _scalar(value, dtype):
    key = (value, dtype)
    tensor = _SCALARS.get(key)
    if tensor is None:
        if len(_SCALARS) > 1024:
            _SCALARS.clear()
        tensor = _SCALARS[key] = constant(numpy.asarray(value, dtype))
    return tensor


def _binary(function_class, reflected=False):
    """``x op other`` (or ``other op x``), with a fast path for Python numbers
    next to float tensors, the common case in model code."""
    apply = function_class.apply

    def method(self, other):
        if isinstance(other, Tensor):
            return apply(other, self) if reflected else apply(self, other)
        if type(other) in (float, int) and self.data.dtype.kind == "f":
            other = _scalar(other, self.data.dtype)
            return apply(other, self) if reflected else apply(self, other)
        return apply(*as_tensor_args(other, self)) if reflected else apply(*as_tensor_args(self, other))
    return method


def _reflected(function):
    def method(self, other):
        return function(other, self)
    return method


def _inplace(function):
    def method(self, *args, **kwargs):
        return assign_inplace(self, function, *args, **kwargs)
    method.__name__ = function.__name__ + "_"
    method.__doc__ = f"In-place ``{function.__name__}``; returns self."
    return method


def _fill(self, value):
    return full_like(self, value.item() if isinstance(value, Tensor) else value)


def _copy(self, source):
    return source.to(self.dtype).expand(self.shape) if source.shape != self.shape else source.to(self.dtype)


_METHODS = {
    # arithmetic and maths
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "exp": exp, "log": log,
    "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "abs": abs, "sin": sin, "cos": cos, "erf": erf,
    "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "clamp": clamp, "clip": clamp, "sign": sign,
    "floor": floor, "ceil": ceil, "round": round, "trunc": trunc, "clone": clone, "to": to,
    "maximum": maximum, "minimum": minimum, "remainder": remainder, "softmax": softmax, "log_softmax": log_softmax,
    "where": lambda self, condition, other: where(condition, self, other),
    # reductions
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax,
    "amin": amin, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "prod": prod,
    "norm": norm, "all": all, "any": any,
    # shape
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as, "permute": permute,
    "transpose": transpose, "swapaxes": swapaxes, "swapdims": swapdims, "t": t, "expand": expand,
    "expand_as": expand_as, "broadcast_to": broadcast_to, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "flatten": flatten, "unflatten": unflatten, "split": split, "chunk": chunk, "flip": flip,
    "repeat": repeat, "tile": tile, "narrow": narrow,
    # indexing and linear algebra
    "gather": gather, "scatter_add": scatter_add, "index_select": index_select, "masked_fill": masked_fill,
    "index_put": index_put, "matmul": matmul, "mm": mm, "bmm": bmm, "dot": dot, "outer": outer,
    # comparisons
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "logical_and": logical_and,
    "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "equal": equal, "allclose": allclose,
    # in place
    "add_": _inplace(add), "sub_": _inplace(sub), "mul_": _inplace(mul), "div_": _inplace(div),
    "clamp_": _inplace(clamp), "masked_fill_": _inplace(masked_fill), "fill_": _inplace(_fill),
    "zero_": _inplace(lambda self: full_like(self, 0)), "copy_": _inplace(_copy),
}

_OPERATORS = {
    "__add__": _binary(Add), "__radd__": _binary(Add, reflected=True), "__iadd__": _inplace(add),
    "__sub__": _binary(Sub), "__rsub__": _binary(Sub, reflected=True), "__isub__": _inplace(sub),
    "__mul__": _binary(Mul), "__rmul__": _binary(Mul, reflected=True), "__imul__": _inplace(mul),
    "__truediv__": div, "__rtruediv__": _reflected(div), "__itruediv__": _inplace(div),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": lambda self, other: matmul(self, *as_tensor_args(other)),
    "__rmatmul__": lambda self, other: matmul(*as_tensor_args(other), self),
    "__neg__": neg, "__pos__": lambda self: self, "__abs__": abs,
    # x == None is False, as for any Python object, not an elementwise comparison
    "__eq__": lambda self, other: False if other is None else eq(self, other),
    "__ne__": lambda self, other: True if other is None else ne(self, other), "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": logical_and, "__or__": logical_or, "__xor__": logical_xor, "__invert__": logical_not,
    "__getitem__": getitem, "__setitem__": setitem,
    "__floordiv__": lambda self, other: div(self, other, rounding_mode="floor"),
    "__rfloordiv__": lambda self, other: div(other, self, rounding_mode="floor"),
    "__mod__": lambda self, other: remainder(self, other),
    "__rmod__": lambda self, other: remainder(other, self),
}

for _name, _function in {**_METHODS, **_OPERATORS}.items():
    setattr(Tensor, _name, _function)

Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
Tensor.mT = property(lambda self: self.transpose(-2, -1))

__all__ = [name for name in _METHODS if not name.endswith("_")] + [
    "activation", "compare", "elementwise", "index", "linalg", "reduce", "shape", "softmax",
    "cat", "concat", "concatenate", "stack", "pad", "einsum", "elu", "gelu", "leaky_relu", "silu", "softplus",
    "setitem", "getitem",
]
