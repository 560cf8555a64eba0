"""Dropout: zero each element with probability p while training, scale the rest by 1/(1-p)."""
import numpy

from ..random import default_generator
from ..tensor import constant
from .module import Module


def dropout(input, p=0.5, training=True, generator=None):
    """Inverted dropout: the expected value of each element is unchanged, so
    evaluation needs no rescaling. The mask comes from chainrule's generator."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    generator = generator or default_generator()
    # float32 draws are half the work of float64 ones and fine enough for a coin toss
    keep = generator.random(input.shape, dtype=numpy.float32) >= p
    return input * constant(keep * numpy.asarray(1 / (1 - p), dtype=input.dtype))


class Dropout(Module):
    """Active in training mode, the identity in eval mode.

    Example
    -------
    >>> layer = nn.Dropout(0.2)
    >>> layer.eval()(x) is x
    True
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input):
        return dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
