"""Activation functions as modules, for use inside Sequential.

``inplace`` is accepted where PyTorch accepts it, so models port unchanged,
and shown in the repr as PyTorch shows it; the result is always a new tensor
(the values are the same, only the input is left untouched).
"""
from ..ops import activation as act
from ..ops.softmax import log_softmax, softmax
from .module import Module


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


def _inplace_repr(module, settings=""):
    """PyTorch prints ``inplace=True`` after the other settings, and nothing when it is False."""
    return ", ".join(filter(None, [settings, "inplace=True" if module.inplace else ""]))
