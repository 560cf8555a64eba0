"""Activation functions, each with a hand-written, numerically stable derivative."""
import math

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import constant
from .elementwise import erf, erf_array, exp, where

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715


def _stable_sigmoid(x):
    # e^min(x,0) / (1 + e^-|x|) equals 1 / (1 + e^-x) for either sign, and no
    # exponent is ever positive, so nothing overflows; branch-free, it is
    # several times faster than selecting between two forms with where().
    xp = array_module(x)
    return xp.exp(xp.minimum(x, 0)) / (1 + xp.exp(-xp.abs(x)))


class Sigmoid(Function):
    saves_output = True

    def forward(self, x):
        return _stable_sigmoid(x)

    def backward(self, g):
        y = self.output()
        return g * y * (1 - y)


class Tanh(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).tanh(x)

    def backward(self, g):
        y = self.output()
        return g * (1 - y * y)


class ReLU(Function):
    # The backward needs only which elements pass, a bool mask a quarter of x's
    # size, made while x is at hand; x itself need not be kept.
    saves_inputs = False

    def forward(self, x):
        xp = array_module(x)
        if is_grad_enabled():
            # Zero where x <= 0, so at x == 0 too; a NaN input passes g on, as in PyTorch.
            self.passes = ~(x <= 0)
        return xp.maximum(x, 0)

    def backward(self, g):
        # A product, not where(): NumPy's where is far slower on a random mask.
        return constant(g.data * self.passes) if not is_grad_enabled() else g * constant(self.passes)


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.slope = negative_slope
        return array_module(x).where(x > 0, x, x * negative_slope)

    def backward(self, g):
        return where(constant(self.inputs[0].data > 0), g, g * self.slope)


class ELU(Function):
    def forward(self, x, alpha):
        self.alpha = alpha
        xp = array_module(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, g):
        # d/dx alpha (e^x - 1) = alpha e^x for x <= 0. Clamping keeps e^x from
        # overflowing in the branch that where() discards for large x.
        x = self.inputs[0]
        return where(constant(x.data <= 0), g * self.alpha * exp(x.clamp(max=0)), g)


class GELU(Function):
    """x * Phi(x), with Phi the standard normal CDF (exact, or its tanh approximation)."""

    def forward(self, x, approximate):
        self.approximate = approximate
        xp = array_module(x)
        if approximate == "tanh":
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3)))
        return 0.5 * x * (1 + erf_array(x / math.sqrt(2)))

    def backward(self, g):
        x = self.inputs[0]
        if self.approximate == "tanh":
            t = (_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3)).tanh()
            du_dx = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)
        cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        pdf = exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return g * (cdf + x * pdf)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold."""

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        xp = array_module(x)
        z = x * beta
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows, and unlike
        # logaddexp it lets a NaN through without a warning.
        log1p_exp = xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
        return xp.where(z > threshold, x, log1p_exp / beta).astype(x.dtype, copy=False)

    def backward(self, g):
        z = self.inputs[0] * self.beta
        return where(constant(z.data > self.threshold), g, g * sigmoid(z))


class SiLU(Function):
    def forward(self, x):
        return x * _stable_sigmoid(x)

    def backward(self, g):
        x = self.inputs[0]
        s = sigmoid(x)
        return g * s * (1 + x * (1 - s))


def sigmoid(input):
    """1 / (1 + exp(-input)), computed without overflow."""
    return Sigmoid.apply(input)


def tanh(input):
    return Tanh.apply(input)


def relu(input):
    """max(input, 0); the gradient at 0 is 0, as in PyTorch."""
    return ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01):
    return LeakyReLU.apply(input, negative_slope=negative_slope)


def elu(input, alpha=1.0):
    return ELU.apply(input, alpha=alpha)


def gelu(input, approximate="none"):
    """Gaussian error linear unit; ``approximate="tanh"`` uses the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(input, beta=beta, threshold=threshold)


def silu(input):
    """input * sigmoid(input) (also called swish)."""
    return SiLU.apply(input)
