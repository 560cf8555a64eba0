"""The functional forms of layers, activations and losses (``import chainrule.nn.functional as F``)."""
from ..ops.activation import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from ..ops.embedding import embedding
from ..ops.linear import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
                        l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from ..ops.normalization import batch_norm, group_norm, layer_norm
from ..ops.shape import pad
from ..ops.softmax import log_softmax, softmax
from .dropout import dropout
from .linear import bilinear

__all__ = ["batch_norm", "embedding", "group_norm", "layer_norm", "bilinear", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "elu",
           "gelu", "huber_loss", "kl_div", "l1_loss", "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss",
           "pad", "relu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh"]
