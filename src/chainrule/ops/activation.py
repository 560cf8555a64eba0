"""Activation functions, each with a hand-written, numerically stable derivative."""
import math

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import constant
from .elementwise import erf, erf_array, exp, neg, promoted, where
from .shape import normalize_dims_ordered, split
from .softmax import _check_dim, softmax

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715
# SELU's constants (Klambauer et al. 2017): they make zero mean and unit
# variance a fixed point of a layer's activations.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _stable_sigmoid(x):
    # e^min(x,0) / (1 + e^-|x|) equals 1 / (1 + e^-x) for either sign, and no
    # exponent is ever positive, so nothing overflows; branch-free, it is
    # several times faster than selecting between two forms with where().
    xp = array_module(x)
    return xp.exp(xp.minimum(x, 0)) / (1 + xp.exp(-xp.abs(x)))


def _log1p_exp(z):
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows, and unlike
    # logaddexp it lets a NaN through without a warning.
    xp = array_module(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def _scaled(g, factor):
    """g * factor for an array ``factor`` (a bool mask, or a slope per element)
    that is constant in x: plain array arithmetic in an ordinary backward, a
    recorded product when the backward itself is differentiated."""
    # A product, not where(): NumPy's where is far slower on a random mask.
    return constant(g.data * factor) if not is_grad_enabled() else g * constant(factor)


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
        return _scaled(g, self.passes)


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
        return xp.where(z > threshold, x, _log1p_exp(z) / beta).astype(x.dtype, copy=False)

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


class Hardtanh(Function):
    """x clipped to [min_val, max_val]; ReLU6 is its setting (0, 6)."""

    saves_inputs = False  # as ReLU: a mask of where the gradient passes is all backward needs

    def forward(self, x, min_val, max_val):
        if is_grad_enabled():
            # Zero at both bounds and beyond them; a NaN passes g on, as in PyTorch.
            self.passes = ~((x <= min_val) | (x >= max_val))
        return array_module(x).clip(x, min_val, max_val)

    def backward(self, g):
        return _scaled(g, self.passes)


class Threshold(Function):
    """x where x > threshold, else value."""

    saves_inputs = False

    def forward(self, x, threshold, value):
        replaced = x <= threshold  # False for NaN, which is kept, as in PyTorch
        if is_grad_enabled():
            self.passes = ~replaced
        return array_module(x).where(replaced, value, x)

    def backward(self, g):
        return _scaled(g, self.passes)


class Hardshrink(Function):
    """0 on [-lambd, lambd] (bounds included), x elsewhere."""

    saves_inputs = False

    def forward(self, x, lambd):
        zeroed = (x >= -lambd) & (x <= lambd)
        if is_grad_enabled():
            self.passes = ~zeroed
        return array_module(x).where(zeroed, 0, x)

    def backward(self, g):
        return _scaled(g, self.passes)


class Softshrink(Function):
    """x moved lambd towards 0, and 0 on [-lambd, lambd]."""

    saves_inputs = False

    def forward(self, x, lambd):
        if is_grad_enabled():
            self.passes = ~((x >= -lambd) & (x <= lambd))
        # x - clip(x) is x - lambd above, x + lambd below and 0 between; NaN stays NaN.
        return x - array_module(x).clip(x, -lambd, lambd)

    def backward(self, g):
        return _scaled(g, self.passes)


class Hardsigmoid(Function):
    """clip(x + 3, 0, 6) / 6: a piecewise-linear sigmoid."""

    saves_inputs = False

    def forward(self, x):
        xp = array_module(x)
        if is_grad_enabled():
            # 1/6 strictly inside (-3, 3), 0 at the bounds, outside them and at
            # NaN (PyTorch's choices), as an array in x's dtype.
            self.slope = ((x > -3) & (x < 3)) / x.dtype.type(6)
        return xp.clip(x + 3, 0, 6) / 6

    def backward(self, g):
        return _scaled(g, self.slope)


class Hardswish(Function):
    """x * clip(x + 3, 0, 6) / 6: a piecewise-quadratic SiLU."""

    def forward(self, x):
        return x * array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, g):
        # (2x + 3) / 6 strictly inside (-3, 3); 0 at and below -3; 1 at and
        # above 3 and at NaN. At -3 and 3 PyTorch takes the outer side's slope,
        # where (2x + 3) / 6 would give -1/2 and 3/2.
        x = self.inputs[0]
        inside = constant((x.data > -3) & (x.data < 3))
        slope_outside = constant((~(x.data < 3)).astype(x.dtype))
        return g * where(inside, x / 3 + 0.5, slope_outside)


class CELU(Function):
    """x for x > 0, alpha (exp(x / alpha) - 1) otherwise: ELU with a slope of 1 at 0 from both sides."""

    def forward(self, x, alpha):
        self.alpha = alpha
        xp = array_module(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0) / alpha))

    def backward(self, g):
        # d/dx alpha (e^(x/alpha) - 1) = e^(x/alpha) for x <= 0; clamped as in ELU.
        x = self.inputs[0]
        return where(constant(x.data <= 0), g * exp(x.clamp(max=0) / self.alpha), g)


class PReLU(Function):
    """x for x > 0, w x otherwise, with w broadcast against x (one per channel)."""

    def forward(self, x, w):
        x, w = promoted(x, w)  # chainrule's type promotion, as for any binary op (PyTorch's prelu refuses mixed dtypes)
        return array_module(x).where(x > 0, x, w * x)

    def backward(self, g):
        x, w = self.inputs
        positive = constant(x.data > 0)  # False at 0 and at NaN: the slope there is w
        return where(positive, g, g * w), where(positive, 0.0, g * x)


class LogSigmoid(Function):
    """log(1 / (1 + exp(-x))) = -softplus(-x)."""

    def forward(self, x):
        return -_log1p_exp(-x)

    def backward(self, g):
        # d/dx -log(1 + e^-x) = e^-x / (1 + e^-x) = sigmoid(-x)
        return g * sigmoid(neg(self.inputs[0]))


class Mish(Function):
    """x tanh(softplus(x))."""

    def forward(self, x):
        return x * array_module(x).tanh(_log1p_exp(x))

    def backward(self, g):
        # d/dx x t = t + x t', with t = tanh(softplus(x)) and t' = (1 - t^2) sigmoid(x).
        # softplus's linear branch (x > 20) starts where tanh is already exactly 1
        # in float64, so it changes nothing here.
        x = self.inputs[0]
        t = tanh(softplus(x))
        return g * (t + x * sigmoid(x) * (1 - t * t))


class Softsign(Function):
    """x / (1 + |x|)."""

    def forward(self, x):
        return x / (1 + array_module(x).abs(x))

    def backward(self, g):
        d = 1 + self.inputs[0].abs()
        return g / (d * d)


class Tanhshrink(Function):
    """x - tanh(x)."""

    def forward(self, x):
        return x - array_module(x).tanh(x)

    def backward(self, g):
        # 1 - (1 - tanh^2 x) = tanh^2 x, written so that it keeps its precision near 0.
        t = tanh(self.inputs[0])
        return g * t * t


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


def relu6(input):
    """min(max(input, 0), 6); the gradient is 0 at 0 and at 6, as in PyTorch.

    Example
    -------
    >>> F.relu6(chainrule.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """
    return Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    """input clipped to [min_val, max_val]; the gradient is 0 at both bounds, as in PyTorch.

    Example
    -------
    >>> F.hardtanh(chainrule.tensor([-3.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be greater than max_val ({max_val})")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def threshold(input, threshold, value):
    """input where input > threshold, else ``value``; the gradient is 0 at the threshold.

    Example
    -------
    >>> F.threshold(chainrule.tensor([0.0, 1.0, 2.0]), 1.0, -5.0)
    tensor([-5., -5.,  2.])
    """
    return Threshold.apply(input, threshold=threshold, value=value)


def hardshrink(input, lambd=0.5):
    """0 where |input| <= lambd, input elsewhere.

    Example
    -------
    >>> F.hardshrink(chainrule.tensor([-1.0, 0.5, 0.7]))
    tensor([-1. ,  0. ,  0.7])
    """
    return Hardshrink.apply(input, lambd=lambd)


def softshrink(input, lambd=0.5):
    """input shrunk towards 0 by ``lambd`` (the proximal step of an L1 penalty); 0 where |input| <= lambd.

    Example
    -------
    >>> F.softshrink(chainrule.tensor([-1.0, 0.2, 2.0]))
    tensor([-0.5,  0. ,  1.5])
    """
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be at least 0, got {lambd}")
    return Softshrink.apply(input, lambd=lambd)


def hardsigmoid(input):
    """clip(input / 6 + 1/2, 0, 1): 0 at and below -3, 1 at and above 3."""
    return Hardsigmoid.apply(input)


def hardswish(input):
    """input * hardsigmoid(input) (MobileNetV3's cheap swish)."""
    return Hardswish.apply(input)


def selu(input):
    """scale * elu(input, alpha) with SELU's fixed constants (scale ≈ 1.0507, alpha ≈ 1.6733)."""
    return _SELU_SCALE * elu(input, _SELU_ALPHA)


def celu(input, alpha=1.0):
    """input for input > 0, alpha (exp(input / alpha) - 1) otherwise."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (the input is divided by it)")
    return CELU.apply(input, alpha=alpha)


def prelu(input, weight):
    """input for input > 0, weight * input otherwise, with a learned ``weight``:
    one value for all elements, or one per channel (dim 1).

    Example
    -------
    >>> x = chainrule.tensor([[-1.0, -1.0], [2.0, 2.0]])
    >>> F.prelu(x, chainrule.tensor([0.1, 0.2]))
    tensor([[-0.1, -0.2],
           [ 2. ,  2. ]])
    """
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or 1-D, got shape {weight.shape}")
    n = weight.numel()
    if n == 1:
        return PReLU.apply(input, weight.reshape(()))
    channels = input.shape[1] if input.ndim > 1 else 1  # PyTorch counts a 0-d or 1-D input as one channel
    if n != channels:
        raise ValueError(
            f"prelu: weight has {n} elements, but the input of shape {input.shape} has {channels} "
            f"channel(s) along dim 1; pass one weight per channel, or a single one"
        )
    # Shaped (C, 1, ..., 1) so that it broadcasts along dim 1; the engine sums its gradient back.
    return PReLU.apply(input, weight.reshape((n,) + (1,) * (input.ndim - 2)))


def logsigmoid(input):
    """log(sigmoid(input)), exact for large |input| (no log of an underflowed 0)."""
    return LogSigmoid.apply(input)


def mish(input):
    """input * tanh(softplus(input)), without overflow for large input."""
    return Mish.apply(input)


def softsign(input):
    """input / (1 + |input|)."""
    return Softsign.apply(input)


def tanhshrink(input):
    """input - tanh(input)."""
    return Tanhshrink.apply(input)


def glu(input, dim=-1):
    """Gated linear unit: a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``.

    Example
    -------
    >>> F.glu(chainrule.tensor([[1.0, 2.0, 0.0, 0.0]])).shape   # a = [1, 2], b = [0, 0]
    (1, 2)
    """
    if input.ndim == 0:
        raise ValueError("glu: input must have a dimension to split in half, got a 0-d tensor")
    (axis,) = normalize_dims_ordered("glu", (dim,), input.ndim)
    n = input.shape[axis]
    if n % 2:
        raise ValueError(f"glu: dim {dim} must have an even size to split in half, got size {n} "
                         f"(input shape {input.shape})")
    a, b = split(input, [n // 2, n // 2], axis)
    return a * sigmoid(b)


def softmin(input, dim=None, dtype=None):
    """softmax(-input) along ``dim``: weights that favour the smallest elements."""
    return softmax(neg(input), _check_dim("softmin", input, dim), dtype)
