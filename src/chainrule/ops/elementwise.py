"""Elementwise arithmetic and maths: forward and vector-Jacobian product side by side.

Binary ops broadcast as NumPy does; their backward returns gradients in the
broadcast shape and the engine sums them back to each input's shape. Their
result dtype is PyTorch's (``result_type``), not NumPy's: an integer tensor
times a float32 one stays float32.
"""
import math
import operator

import numpy

from ..autograd import Function
from ..backend import array_module
from .. import dtypes
from ..tensor import Tensor, as_tensor_args, constant


# ------------------------------------------------------------------ type promotion

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_pair(a, b):
    # NumPy turns int64 with float32 into float64; PyTorch keeps the float type.
    if _CATEGORY[a.kind] != _CATEGORY[b.kind]:
        return a if _CATEGORY[a.kind] > _CATEGORY[b.kind] else b
    return numpy.promote_types(a, b)


def result_type(*arrays):
    """The dtype PyTorch gives an elementwise op on ``arrays``.

    The higher category (bool < integer < floating < complex) wins, and
    within a category a 0-d operand does not widen an operand with
    dimensions: float32 ``(n,)`` with a float64 0-d tensor stays float32.
    Python scalars arrive here as 0-d arrays typed by ``as_tensor_args``.

    Example
    -------
    >>> result_type(numpy.ones(3, numpy.int64), numpy.ones(3, numpy.float32))
    dtype('float32')
    """
    ranked = [None, None]  # promoted dtype of the operands with dimensions, of the 0-d ones
    for array in arrays:
        slot = 0 if array.ndim else 1
        ranked[slot] = array.dtype if ranked[slot] is None else _promote_pair(ranked[slot], array.dtype)
    with_dims, zero_dim = ranked
    if with_dims is None:
        return zero_dim
    if zero_dim is None or _CATEGORY[zero_dim.kind] <= _CATEGORY[with_dims.kind]:
        return with_dims
    return zero_dim


def promoted(a, b):
    """``a`` and ``b`` cast to their common ``result_type``, where NumPy's own
    promotion would give another dtype (int64 with float32, say)."""
    if a.dtype == b.dtype:
        return a, b
    dtype = result_type(a, b)
    if numpy.result_type(a, b) == dtype:  # e.g. a float tensor times a bool mask
        return a, b
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def _float_for_scalars(x, *scalars):
    """``x`` in the default float dtype where a Python float meets an integer
    ``x``, as PyTorch's scalars promote; otherwise ``x`` unchanged."""
    if x.dtype.kind not in "fc" and any(isinstance(s, float) for s in scalars):
        return x.astype(dtypes.get_default_dtype())
    return x


# ------------------------------------------------------------------ binary

class Add(Function):
    saves_inputs = False

    def forward(self, a, b):
        a, b = promoted(a, b)
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    saves_inputs = False

    def forward(self, a, b):
        a, b = promoted(a, b)
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        a, b = promoted(a, b)
        return a * b

    def backward(self, g):
        a, b = self.inputs
        needs_a, needs_b = (edge is not None for edge in self.edges)
        return (g * b if needs_a else None), (g * a if needs_b else None)


class Div(Function):
    def forward(self, a, b):
        a, b = promoted(a, b)
        if a.dtype.kind not in "fc":  # true division of integers gives the default float, as in PyTorch
            default = dtypes.get_default_dtype()
            a, b = a.astype(default), b.astype(default)
        return a / b

    def backward(self, g):
        a, b = self.inputs
        grad_a = g / b
        return grad_a, (-grad_a * a / b if self.edges[1] is not None else None)


class RoundedDiv(Function):
    """a / b rounded toward minus infinity ("floor") or toward zero ("trunc")."""

    saves_inputs = False

    @classmethod
    def op_name(cls):
        return "div"

    def forward(self, a, b, rounding_mode):
        a, b = promoted(a, b)
        xp = array_module(a)
        if rounding_mode == "floor":
            return xp.floor_divide(a, b)
        if a.dtype.kind in "fc":
            return xp.trunc(a / b)
        # Integers: floor division, moved one up where it rounded a negative inexact quotient down.
        quotient = xp.floor_divide(a, b)
        return quotient + ((quotient < 0) & (quotient * b != a))

    def backward(self, g):
        # Piecewise constant: zero almost everywhere, as PyTorch defines it.
        return g * 0, g * 0


class Pow(Function):
    """a ** b with a tensor exponent."""

    def forward(self, a, b):
        a, b = promoted(a, b)
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        needs_a, needs_b = (edge is not None for edge in self.edges)
        grad_a = grad_b = None
        if needs_a:
            # d(a^b)/da = b a^(b-1); where b == 0 it is 0, even at a == 0 (as PyTorch).
            grad_a = where(constant(b.data == 0), 0.0, g * b * a ** (b - 1))
        if needs_b:
            # d(a^b)/db = a^b log a; at a == 0 with b >= 0 the limit is 0, not nan.
            zero_base = constant((a.data == 0) & (b.data >= 0))
            grad_b = where(zero_base, 0.0, g * a ** b * log(where(zero_base, 1.0, a)))
        return grad_a, grad_b


class PowScalar(Function):
    """x ** p for a Python number p."""

    def forward(self, x, exponent):
        self.exponent = exponent
        return _float_for_scalars(x, exponent) ** exponent

    def backward(self, g):
        (x,) = self.inputs
        p = self.exponent
        if p == 0:
            return g * 0
        return g * p * x ** (p - 1) if p != 1 else g


class RPowScalar(Function):
    """c ** x for a Python number c."""

    saves_output = True

    def forward(self, x, base):
        self.base = base
        x = _float_for_scalars(x, base)
        return array_module(x).power(x.dtype.type(base), x)

    def backward(self, g):
        # d(c^x)/dx = c^x log c. log 0 = -inf, but for x >= 0 PyTorch takes the
        # derivative of 0^x as 0; log of a negative base is nan.
        c = self.base
        log_c = math.log(c) if c > 0 else (-math.inf if c == 0 else math.nan)
        grad = g * self.output() * log_c
        return where(constant(self.inputs[0].data >= 0), 0.0, grad) if c == 0 else grad


def _shares(g, a, b, a_loses):
    """The gradient of maximum or minimum, split between its inputs: all of it
    to the winner, half to each on a tie, all of it to both where either is
    NaN (neither loses), as in PyTorch."""
    a, b = a.data, b.data
    xp = array_module(a)
    tie = 0.5 * (a == b)
    share_a = constant(xp.asarray(1 - a_loses(a, b) - tie, dtype=g.dtype))
    share_b = constant(xp.asarray(1 - a_loses(b, a) - tie, dtype=g.dtype))
    return g * share_a, g * share_b


class Maximum(Function):
    def forward(self, a, b):
        return array_module(a).maximum(*promoted(a, b))

    def backward(self, g):
        return _shares(g, *self.inputs, a_loses=operator.lt)


class Minimum(Function):
    def forward(self, a, b):
        return array_module(a).minimum(*promoted(a, b))

    def backward(self, g):
        return _shares(g, *self.inputs, a_loses=operator.gt)


class Where(Function):
    saves_inputs = False

    def forward(self, condition, a, b):
        self.condition = condition
        return array_module(a).where(condition, *promoted(a, b))

    def backward(self, g):
        mask = constant(self.condition)
        return None, where(mask, g, 0.0), where(mask, 0.0, g)


# ------------------------------------------------------------------ unary

class Neg(Function):
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).exp(x)

    def backward(self, g):
        return g * self.output()


class Log(Function):
    def forward(self, x):
        return array_module(x).log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Log1p(Function):
    def forward(self, x):
        return array_module(x).log1p(x)

    def backward(self, g):
        return g / (1 + self.inputs[0])


class Sqrt(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).sqrt(x)

    def backward(self, g):
        return g / (2 * self.output())


class Rsqrt(Function):
    saves_output = True

    def forward(self, x):
        return 1 / array_module(x).sqrt(x)

    def backward(self, g):
        return -0.5 * g * self.output() ** 3


class Abs(Function):
    def forward(self, x):
        return array_module(x).abs(x)

    def backward(self, g):
        return g * sign(self.inputs[0])


class Sin(Function):
    def forward(self, x):
        return array_module(x).sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x):
        return array_module(x).cos(x)

    def backward(self, g):
        return -g * sin(self.inputs[0])


class Erf(Function):
    def forward(self, x):
        return erf_array(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (2 / math.sqrt(math.pi)) * exp(-x * x)


# NOTE: NumPy has no erf. math.erf is exact but runs once per element, so
# erf (and exact GELU) is slow on large arrays; a vectorised erf accurate to
# float64 would replace it. This is NumPy-only: the one place ops touch NumPy.
_erf = numpy.frompyfunc(math.erf, 1, 1)


def erf_array(x):
    """erf of every element, in ``x``'s dtype (a 0-d ``x`` included)."""
    return numpy.asarray(_erf(x), dtype=x.dtype)


class Clamp(Function):
    def forward(self, x, min=None, max=None):
        self.min, self.max = min, max
        return array_module(x).clip(_float_for_scalars(x, min, max), min, max)

    def backward(self, g):
        # The gradient passes where min <= x <= max (bounds included, as PyTorch).
        x = self.inputs[0].data
        inside = True
        if self.min is not None:
            inside = inside & (x >= self.min)
        if self.max is not None:
            inside = inside & (x <= self.max)
        return g * constant(array_module(x).asarray(inside, dtype=g.dtype))


class Cast(Function):
    saves_inputs = False

    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype, copy=False)

    def backward(self, g):
        return g.to(self.source)


class Clone(Function):
    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


class _ZeroGradient(Function):
    """Piecewise-constant maps: their derivative is zero almost everywhere."""

    saves_inputs = False

    def backward(self, g):
        return g * 0


class Sign(_ZeroGradient):
    def forward(self, x):
        return array_module(x).sign(x)


class Floor(_ZeroGradient):
    def forward(self, x):
        return array_module(x).floor(x)


class Ceil(_ZeroGradient):
    def forward(self, x):
        return array_module(x).ceil(x)


class Round(_ZeroGradient):
    def forward(self, x, decimals=0):
        return array_module(x).round(x, decimals)


class Trunc(_ZeroGradient):
    def forward(self, x):
        return array_module(x).trunc(x)


# ------------------------------------------------------------------ public functions

def add(input, other, alpha=1):
    """input + alpha * other, broadcasting.

    Example
    -------
    >>> chainrule.add(chainrule.tensor([1.0, 2.0]), 1.0, alpha=2)
    tensor([3., 4.])
    """
    a, b = as_tensor_args(input, other)
    return Add.apply(a, b if alpha == 1 else mul(b, alpha))


def sub(input, other, alpha=1):
    """input - alpha * other, broadcasting."""
    a, b = as_tensor_args(input, other)
    return Sub.apply(a, b if alpha == 1 else mul(b, alpha))


def mul(input, other):
    """input * other, broadcasting."""
    return Mul.apply(*as_tensor_args(input, other))


def div(input, other, rounding_mode=None):
    """input / other, broadcasting; integers divide into the default float dtype.

    ``rounding_mode`` "floor" or "trunc" rounds the quotient (keeping an
    integer dtype); its gradient is zero, as in PyTorch.

    Example
    -------
    >>> chainrule.div(chainrule.tensor([-7, 7]), 2, rounding_mode="trunc")
    tensor([-3,  3])
    """
    a, b = as_tensor_args(input, other)
    if rounding_mode is None:
        return Div.apply(a, b)
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    return RoundedDiv.apply(a, b, rounding_mode=rounding_mode)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pow(input, exponent):
    """input ** exponent, broadcasting, where either may be a Python number.

    Example
    -------
    >>> x = chainrule.tensor([1.0, 2.0, 3.0])
    >>> x ** 2, 2 ** x
    (tensor([1., 4., 9.]), tensor([2., 4., 8.]))
    """
    if _is_number(exponent) and isinstance(input, Tensor):
        return PowScalar.apply(input, exponent=exponent)
    if _is_number(input) and isinstance(exponent, Tensor):
        return RPowScalar.apply(exponent, base=input)
    return Pow.apply(*as_tensor_args(input, exponent))


def maximum(input, other):
    """The larger of each pair of elements, broadcasting; a tie splits the gradient evenly."""
    return Maximum.apply(*as_tensor_args(input, other))


def minimum(input, other):
    """The smaller of each pair of elements, broadcasting; a tie splits the gradient evenly."""
    return Minimum.apply(*as_tensor_args(input, other))


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    condition = condition.data if isinstance(condition, Tensor) else condition
    a, b = as_tensor_args(input, other)
    return Where.apply(constant(array_module(a.data).asarray(condition, dtype=bool)), a, b)


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def log1p(input):
    return Log1p.apply(input)


def sqrt(input):
    return Sqrt.apply(input)


def rsqrt(input):
    """1 / sqrt(input)."""
    return Rsqrt.apply(input)


def abs(input):
    return Abs.apply(input)


def sin(input):
    return Sin.apply(input)


def cos(input):
    return Cos.apply(input)


def erf(input):
    """The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x."""
    return Erf.apply(input)


def clamp(input, min=None, max=None):
    """Limit values to [min, max] (Python numbers); the gradient passes inside
    the bounds, bounds included, as in PyTorch.

    Example
    -------
    >>> chainrule.tensor([-2.0, 0.5, 3.0]).clamp(0.0, 1.0)
    tensor([0. , 0.5, 1. ])
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        raise TypeError("clamp: min and max must be numbers; for tensor bounds use "
                        "chainrule.maximum(input, low) and chainrule.minimum(input, high)")
    return Clamp.apply(input, min=min, max=max)


def sign(input):
    return Sign.apply(input)


def floor(input):
    return Floor.apply(input)


def ceil(input):
    return Ceil.apply(input)


def round(input, decimals=0):
    return Round.apply(input, decimals=decimals)


def trunc(input):
    return Trunc.apply(input)


def clone(input):
    """A copy with its own memory; gradients flow through unchanged."""
    return Clone.apply(input)


_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta")


def to(input, *args, dtype=None, device=None):
    """Convert to a dtype, given directly, by name, or as another tensor's.

    A float-to-float cast passes gradients through (converted back to the
    input's dtype); a cast to an integer or bool dtype gives a tensor
    outside the graph, as in PyTorch. ``"cpu"`` is accepted as a device and
    changes nothing.

    Example
    -------
    >>> x = chainrule.tensor([1.5, 2.5], requires_grad=True)
    >>> x.to(chainrule.float64).dtype, x.to(chainrule.int64).requires_grad
    (dtype('float64'), False)
    """
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) and arg.split(":")[0] in _DEVICES:
            device = arg
        else:
            dtype = arg
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"to: chainrule runs on the CPU only, got device {device!r}")
    if dtype is None:
        return input
    dtype = dtypes.to_dtype(dtype)
    if input.dtype == dtype:
        return input
    if dtype.kind not in "fc":
        return constant(input.data.astype(dtype))
    return Cast.apply(input, dtype=dtype)
