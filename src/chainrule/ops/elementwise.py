"""Elementwise arithmetic and maths: forward and vector-Jacobian product side by side.

Binary ops broadcast as NumPy does; their backward returns gradients in the
broadcast shape and the engine sums them back to each input's shape.
"""
import math

import numpy

from ..autograd import Function
from ..backend import array_module
from .. import dtypes
from ..tensor import Tensor, as_tensor_args, constant


# ------------------------------------------------------------------ binary

class Add(Function):
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        needs_a, needs_b = (edge is not None for edge in self.edges)
        return (g * b if needs_a else None), (g * a if needs_b else None)


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.inputs
        grad_a = g / b
        return grad_a, (-grad_a * a / b if self.edges[1] is not None else None)


class Pow(Function):
    """a ** b with a tensor exponent."""

    def forward(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        grad_a = g * b * a ** (b - 1)
        # d(a^b)/db = a^b log a; at a == 0 with b >= 0 the limit is 0, not nan.
        zero_base = constant((a.data == 0) & (b.data >= 0))
        safe_a = where(zero_base, 1.0, a)
        grad_b = where(zero_base, 0.0, g * a ** b * log(safe_a))
        return grad_a, grad_b


class PowScalar(Function):
    """x ** p for a Python number p."""

    def forward(self, x, exponent):
        self.exponent = exponent
        return x ** exponent

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
        return array_module(x).power(x.dtype.type(base), x)

    def backward(self, g):
        return g * self.output() * math.log(self.base)


class Maximum(Function):
    def forward(self, a, b):
        return array_module(a).maximum(a, b)

    def backward(self, g):
        # Ties split the gradient evenly, as PyTorch does.
        a, b = self.inputs
        share_a = constant((a.data > b.data) + 0.5 * (a.data == b.data))
        return g * share_a.to(g.dtype), g * (1 - share_a).to(g.dtype)


class Minimum(Function):
    def forward(self, a, b):
        return array_module(a).minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        share_a = constant((a.data < b.data) + 0.5 * (a.data == b.data))
        return g * share_a.to(g.dtype), g * (1 - share_a).to(g.dtype)


class Where(Function):
    saves_inputs = False

    def forward(self, condition, a, b):
        self.condition = condition
        return array_module(a).where(condition, a, b)

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
    return _erf(x).astype(x.dtype)


class Clamp(Function):
    def forward(self, x, min=None, max=None):
        self.min, self.max = min, max
        return array_module(x).clip(x, min, max)

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
        return g.to(self.source) if self.source.kind in "fc" else None


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
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*as_tensor_args(input, other))


def sub(input, other, alpha=1):
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(*as_tensor_args(input, other))


def mul(input, other):
    return Mul.apply(*as_tensor_args(input, other))


def div(input, other, rounding_mode=None):
    """input / other; ``rounding_mode`` "floor" or "trunc" gives a result without gradient."""
    a, b = as_tensor_args(input, other)
    if rounding_mode is None:
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            a = a.to(dtypes.get_default_dtype())
        return Div.apply(a, b)
    if rounding_mode == "floor":
        return constant(array_module(a.data).floor_divide(a.data, b.data))
    if rounding_mode == "trunc":
        return constant(array_module(a.data).trunc(a.data / b.data).astype(a.dtype))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def pow(input, exponent):
    """input ** exponent, where either may be a Python number."""
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        return PowScalar.apply(input, exponent=exponent)
    if not isinstance(input, Tensor):
        return RPowScalar.apply(exponent, base=input)
    return Pow.apply(*as_tensor_args(input, exponent))


def maximum(input, other):
    return Maximum.apply(*as_tensor_args(input, other))


def minimum(input, other):
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
    """Limit values to [min, max]; the gradient passes inside the bounds (inclusive)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
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


def to(input, dtype):
    """Convert to ``dtype``; a float-to-float cast passes gradients through."""
    if dtype == "cpu":
        return input
    dtype = dtypes.to_dtype(dtype)
    if input.dtype == dtype:
        return input
    return Cast.apply(input, dtype=dtype)
