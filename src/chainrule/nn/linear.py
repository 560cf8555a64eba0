"""Fully connected layers: Identity, Linear, Bilinear."""
import math

from .. import creation
from ..ops.linalg import einsum
from ..ops.linear import linear
from . import init
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """Returns its input; a placeholder where a layer is optional (any
    arguments are accepted and ignored, as in PyTorch).

    Example
    -------
    >>> x = chainrule.randn(4, 8)
    >>> nn.Identity(8, unused="ignored")(x) is x
    True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, with weight (out_features, in_features) and bias (out_features,).

    Initialised as in PyTorch: W and b uniform on ±1/sqrt(in_features)
    (``kaiming_uniform_`` with a = sqrt(5)).

    Example
    -------
    >>> layer = nn.Linear(784, 10)
    >>> layer(chainrule.randn(32, 784)).shape
    (32, 10)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, dtype=dtype))
        # Registered even when absent, as in PyTorch: assigning a plain tensor
        # to ``bias`` later is then refused instead of creating an untrained attribute.
        self.register_parameter("bias", Parameter(creation.empty(out_features, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input of shape (..., {self.in_features}), got {input.shape}"
            )
        return linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k, with weight (out_features, in1_features, in2_features).

    Initialised uniform on ±1/sqrt(in1_features), as in PyTorch.

    Example
    -------
    >>> layer = nn.Bilinear(5, 3, 2)
    >>> layer(chainrule.randn(8, 5), chainrule.randn(8, 3)).shape
    (8, 2)
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(creation.empty(out_features, in1_features, in2_features, dtype=dtype))
        self.register_parameter("bias", Parameter(creation.empty(out_features, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        fits = (input1.ndim > 0 and input1.shape[:-1] == input2.shape[:-1]
                and input1.shape[-1:] == (self.in1_features,) and input2.shape[-1:] == (self.in2_features,))
        if not fits:
            raise ValueError(
                f"{self!r}: expected inputs of shapes (..., {self.in1_features}) and "
                f"(..., {self.in2_features}) with the same leading dims, got {input1.shape} and {input2.shape}"
            )
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


def bilinear(input1, input2, weight, bias=None):
    """y[..., k] = sum_ij input1[..., i] weight[k, i, j] input2[..., j] + bias[k]."""
    out = einsum("...i,kij,...j->...k", input1, weight, input2)
    return out + bias if bias is not None else out
