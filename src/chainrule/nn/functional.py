"""The functional forms of layers, activations and losses (``import chainrule.nn.functional as F``)."""
from ..ops.activation import (celu, elu, gelu, glu, hardshrink, hardsigmoid, hardswish, hardtanh, leaky_relu,
                              logsigmoid, mish, prelu, relu, relu6, selu, sigmoid, silu, softmin, softplus,
                              softshrink, softsign, tanh, tanhshrink, threshold)
from ..ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold,
                       unfold)
from ..ops.embedding import embedding
from ..ops.linear import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_embedding_loss,
                        cosine_similarity, cross_entropy, ctc_loss, gaussian_nll_loss, hinge_embedding_loss, huber_loss,
                        kl_div, l1_loss, margin_ranking_loss, mse_loss, multi_margin_loss, multilabel_margin_loss,
                        multilabel_soft_margin_loss, nll_loss, pairwise_distance, poisson_nll_loss, smooth_l1_loss,
                        soft_margin_loss, triplet_margin_loss)
from ..ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d,
                       avg_pool1d, avg_pool2d, max_pool1d, max_pool2d)
from ..ops.shape import pad
from ..ops.softmax import log_softmax, softmax
from .dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout
from .linear import bilinear

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
           "avg_pool2d", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "fold", "max_pool1d", "max_pool2d", "unfold", "batch_norm", "embedding", "group_norm", "layer_norm", "bilinear", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "elu",
           "alpha_dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
           "gelu", "huber_loss", "kl_div", "l1_loss", "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss",
           "pad", "relu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
           "celu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu",
           "relu6", "selu", "softmin", "softshrink", "softsign", "tanhshrink", "threshold",
           "cosine_embedding_loss", "cosine_similarity", "gaussian_nll_loss", "hinge_embedding_loss",
           "margin_ranking_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
           "pairwise_distance", "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss", "instance_norm",
           "ctc_loss"]
