"""The functional forms of layers, activations and losses (``import chainrule.nn.functional as F``)."""
from ..ops.activation import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from ..ops.linear import linear
from ..ops.shape import pad
from ..ops.softmax import log_softmax, softmax
from .dropout import dropout
from .linear import bilinear

__all__ = ["bilinear", "dropout", "elu", "gelu", "leaky_relu", "linear", "log_softmax", "pad", "relu",
           "sigmoid", "silu", "softmax", "softplus", "tanh"]
