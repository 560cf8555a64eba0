"""Softmax and log-softmax along a dimension, shifted by the maximum for stability."""
from ..autograd import Function
from ..backend import array_module
from .elementwise import exp


class Softmax(Function):
    saves_output = True

    def forward(self, x, dim):
        self.dim = dim
        xp = array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)

    def backward(self, g):
        # dL/dx = y * (g - sum(g * y)) along dim
        y = self.output()
        return y * (g - (g * y).sum(dim=self.dim, keepdim=True))


class LogSoftmax(Function):
    saves_output = True

    def forward(self, x, dim):
        self.dim = dim
        xp = array_module(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(self, g):
        # dL/dx = g - softmax(x) * sum(g) along dim
        return g - exp(self.output()) * g.sum(dim=self.dim, keepdim=True)


def _check_dim(name, input, dim):
    if dim is None:
        raise TypeError(f"{name}: pass the dimension to normalise over, e.g. {name}(x, dim=-1)")
    rank = max(input.ndim, 1)  # a 0-d tensor has one dim to normalise over, as in PyTorch
    if not -rank <= dim < rank:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor of shape {input.shape}")
    return dim


def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(input, dim=_check_dim("softmax", input, dim))


def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``, without forming softmax first."""
    if dtype is not None:
        input = input.to(dtype)
    return LogSoftmax.apply(input, dim=_check_dim("log_softmax", input, dim))
