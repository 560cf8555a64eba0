"""Activation functions as modules, for use inside Sequential.

``inplace`` is accepted where PyTorch accepts it, so models port unchanged,
and shown in the repr as PyTorch shows it; the result is always a new tensor
(the values are the same, only the input is left untouched).
"""
from .. import creation
from ..ops import activation as act
from ..ops.softmax import log_softmax, softmax
from . import init
from .module import Module
from .parameter import Parameter


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.relu(input)

    def extra_repr(self):
        return _inplace_repr(self)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return act.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return _inplace_repr(self, f"negative_slope={self.negative_slope}")


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return act.elu(input, self.alpha)

    def extra_repr(self):
        return _inplace_repr(self, f"alpha={self.alpha}")


class GELU(Module):
    """x Phi(x); ``approximate="tanh"`` for the tanh form."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return act.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.silu(input)

    def extra_repr(self):
        return _inplace_repr(self)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), computed without overflow for any x."""

    def forward(self, input):
        return act.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input):
        return act.tanh(input)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above ``threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return act.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val].

    Example
    -------
    >>> nn.Hardtanh(-2.0, 2.0)(chainrule.tensor([-3.0, 1.0, 3.0]))
    tensor([-2.,  1.,  2.])
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return act.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return _inplace_repr(self, f"min_val={self.min_val}, max_val={self.max_val}")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): Hardtanh on [0, 6], as in PyTorch (so isinstance(m, Hardtanh) holds)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self)


class PReLU(Module):
    """x for x > 0, a x otherwise, with the slope ``a`` learned: one for all
    channels, or one per channel (dim 1) with ``num_parameters=C``.

    Example
    -------
    >>> layer = nn.PReLU(num_parameters=3)
    >>> layer.weight.shape, layer(chainrule.randn(8, 3, 5, 5)).shape
    ((3,), (8, 3, 5, 5))
    """

    def __init__(self, num_parameters=1, init=0.25, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(creation.empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return act.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class SELU(Module):
    """scale * ELU(x, alpha) with the self-normalising constants (scale ≈ 1.0507, alpha ≈ 1.6733)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.selu(input)

    def extra_repr(self):
        return _inplace_repr(self)


class CELU(Module):
    """x for x > 0, alpha (exp(x / alpha) - 1) otherwise."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return act.celu(input, self.alpha)

    def extra_repr(self):
        return _inplace_repr(self, f"alpha={self.alpha}")


class Mish(Module):
    """x tanh(softplus(x))."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.mish(input)

    def extra_repr(self):
        return _inplace_repr(self)


class Hardswish(Module):
    """x clip(x + 3, 0, 6) / 6. PyTorch leaves ``inplace`` out of this module's repr; so does chainrule."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.hardswish(input)


class Hardsigmoid(Module):
    """clip(x + 3, 0, 6) / 6. PyTorch leaves ``inplace`` out of this module's repr; so does chainrule."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return act.hardsigmoid(input)


class Threshold(Module):
    """x where x > threshold, else ``value``.

    Example
    -------
    >>> nn.Threshold(0.1, 20.0)(chainrule.tensor([0.0, 0.5]))
    tensor([20. ,  0.5])
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return act.threshold(input, self.threshold, self.value)

    def extra_repr(self):
        return _inplace_repr(self, f"threshold={self.threshold}, value={self.value}")


class Hardshrink(Module):
    """0 where |x| <= lambd, x elsewhere."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return act.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Module):
    """x shrunk towards 0 by lambd; 0 where |x| <= lambd."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be at least 0, got {lambd}")
        self.lambd = lambd

    def forward(self, input):
        return act.softshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class LogSigmoid(Module):
    """log(sigmoid(x)), exact for large |x|."""

    def forward(self, input):
        return act.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input):
        return act.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input):
        return act.tanhshrink(input)


class GLU(Module):
    """a sigmoid(b), with a and b the two halves of the input along ``dim``.

    Example
    -------
    >>> nn.GLU()(chainrule.randn(4, 10)).shape
    (4, 5)
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return act.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (which must be given).

    Example
    -------
    >>> nn.Softmax(dim=-1)(chainrule.tensor([[1.0, 1.0]]))
    tensor([[0.5, 0.5]])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along ``dim``: log-probabilities, without forming
    probabilities that could underflow to 0."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim`` (which must be given)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return act.softmin(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


def _inplace_repr(module, settings=""):
    """PyTorch prints ``inplace=True`` after the other settings, and nothing when it is False."""
    return ", ".join(filter(None, [settings, "inplace=True" if module.inplace else ""]))
