"""Dropout: zero elements (or whole channels) at random while training, and
rescale so that evaluation needs no correction.

Every mask comes from chainrule's generator unless a caller passes its own,
so ``chainrule.manual_seed`` makes masks repeatable.
"""
import math
import warnings

import numpy

from ..random import default_generator
from ..tensor import constant
from .module import Module

# SELU's negative saturation value, -scale * alpha: where a SELU unit sits when it is "off".
_SELU_SATURATION = 1.0507009873554805 * 1.6732632423543772


def _check_p(name, p):
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: p must be in [0, 1], got {p}")


def _keep_mask(name, input, p, generator, channel_dims):
    """True where an element survives. With ``channel_dims`` (2 for (N, C, *),
    1 for an unbatched (C, *)) there is one draw per channel, broadcast over
    the dims after it; otherwise one per element."""
    shape = input.shape
    if channel_dims is not None:
        if input.ndim < channel_dims:
            raise ValueError(f"{name}: channel-wise dropout needs an input of at least {channel_dims} dims "
                             f"(N, C, *), got shape {input.shape}")
        shape = shape[:channel_dims] + (1,) * (input.ndim - channel_dims)
    # float32 draws are half the work of float64 ones and fine enough for a coin toss
    return (generator or default_generator()).random(shape, dtype=numpy.float32) >= p


def _dropout(name, input, p, training, generator, channel_dims=None):
    """Inverted dropout; p has been checked."""
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = _keep_mask(name, input, p, generator, channel_dims)
    return input * constant(keep * numpy.asarray(1 / (1 - p), dtype=input.dtype))


def _alpha_dropout(name, input, p, training, generator, channel_dims=None):
    """Dropped units are set to SELU's saturation value -α' instead of 0, then
    an affine map a·x + b restores mean 0 and variance 1; p has been checked.

    For inputs of mean 0 and variance 1 and keep probability q = 1 - p,
    x' = keep·x + (1 - keep)·(-α') has mean -pα' and variance q + pqα'², so
    a = (q (1 + pα'²))^(-1/2) and b = apα'.
    """
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = _keep_mask(name, input, p, generator, channel_dims)
    a = 1 / math.sqrt((1 - p) * (1 + p * _SELU_SATURATION ** 2))
    # a·(keep·x - (1 - keep)·α') + apα' = (a·keep)·x + aα'·(keep - 1 + p)
    scale = (a * keep).astype(input.dtype)
    shift = (a * _SELU_SATURATION * (keep - 1 + p)).astype(input.dtype)
    return input * constant(scale) + constant(shift)


def dropout(input, p=0.5, training=True, generator=None):
    """Inverted dropout: zero each element with probability p and scale the
    rest by 1/(1-p), so the expected value of each element is unchanged and
    evaluation needs no rescaling.

    Example
    -------
    >>> y = F.dropout(x, 0.2, training=model.training)
    """
    _check_p("dropout", p)
    return _dropout("dropout", input, p, training, generator)


def dropout1d(input, p=0.5, training=True, generator=None):
    """Zero whole channels of an (N, C, L) or unbatched (C, L) input with
    probability p, and scale the rest by 1/(1-p).

    Example
    -------
    >>> y = F.dropout1d(chainrule.randn(8, 16, 100), 0.2)
    """
    _check_p("dropout1d", p)
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected an input of shape (N, C, L) or (C, L), got {input.shape}; "
                         "use dropout for element-wise dropout")
    # (N, C, L): channels are dim 1; (C, L): dim 0
    return _dropout("dropout1d", input, p, training, generator, channel_dims=input.ndim - 1)


def dropout2d(input, p=0.5, training=True, generator=None):
    """Zero whole channels of an (N, C, H, W) input with probability p, and
    scale the rest by 1/(1-p).

    As in PyTorch, a 3-D input is read as a batch (N, C, L), not as an
    unbatched (C, H, W), with a warning; other dims are accepted with a
    warning too, and read as (N, C, *).

    Example
    -------
    >>> y = F.dropout2d(chainrule.randn(8, 16, 32, 32), 0.1)
    """
    _check_p("dropout2d", p)
    if input.ndim == 3:
        warnings.warn("dropout2d: a 3-D input is read as (N, C, L), so whole rows are dropped, as PyTorch "
                      "does for now (it plans to read it as an unbatched (C, H, W)); use dropout1d for (N, C, L), "
                      "or add a batch dim to a (C, H, W) image", stacklevel=2)
    elif input.ndim != 4:
        warnings.warn(f"dropout2d: expected a 4-D (N, C, H, W) input, got shape {input.shape}, read as "
                      "(N, C, *); PyTorch will refuse it in a future release: use dropout instead", stacklevel=2)
    return _dropout("dropout2d", input, p, training, generator, channel_dims=2)


def dropout3d(input, p=0.5, training=True, generator=None):
    """Zero whole channels of an (N, C, D, H, W) or unbatched (C, D, H, W)
    input with probability p, and scale the rest by 1/(1-p).

    Other dims are accepted with a warning, as in PyTorch, and read as
    unbatched (C, *).

    Example
    -------
    >>> y = F.dropout3d(chainrule.randn(2, 4, 8, 8, 8), 0.1)
    """
    _check_p("dropout3d", p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: expected a 5-D (N, C, D, H, W) or 4-D (C, D, H, W) input, got shape "
                      f"{input.shape}, read as (C, *); PyTorch will refuse it in a future release: "
                      "use dropout instead", stacklevel=2)
    # (N, C, D, H, W) has a batch dim; every other shape is read as unbatched (C, *)
    return _dropout("dropout3d", input, p, training, generator, channel_dims=2 if input.ndim == 5 else 1)


def alpha_dropout(input, p=0.5, training=False, generator=None):
    """Dropout for self-normalising (SELU) networks: keeps mean 0 and variance 1.

    NOTE: ``training`` defaults to False, as in PyTorch: pass it.

    Example
    -------
    >>> y = F.alpha_dropout(F.selu(x), 0.1, training=True)
    """
    _check_p("alpha_dropout", p)
    return _alpha_dropout("alpha_dropout", input, p, training, generator)


def feature_alpha_dropout(input, p=0.5, training=False, generator=None):
    """Alpha dropout of whole channels of an (N, C, *) input.

    NOTE: ``training`` defaults to False, as in PyTorch: pass it.

    Example
    -------
    >>> y = F.feature_alpha_dropout(F.selu(x), 0.1, training=True)
    """
    _check_p("feature_alpha_dropout", p)
    return _alpha_dropout("feature_alpha_dropout", input, p, training, generator, channel_dims=2)


class _DropoutNd(Module):
    """What the dropout layers share: p, the accepted ``inplace`` flag and the repr."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(type(self).__name__, p)
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Active in training mode, the identity in eval mode.

    Example
    -------
    >>> layer = nn.Dropout(0.2)
    >>> layer.eval()(x) is x
    True
    """

    def forward(self, input):
        return dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Drops whole channels of (N, C, L) or (C, L) inputs, where neighbouring
    positions are correlated and element-wise dropout would barely regularise.

    Example
    -------
    >>> nn.Dropout1d(0.2)(chainrule.randn(8, 16, 100)).shape
    (8, 16, 100)
    """

    def forward(self, input):
        return dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Drops whole channels (feature maps) of (N, C, H, W) inputs.

    Example
    -------
    >>> nn.Dropout2d(0.1)(chainrule.randn(8, 16, 32, 32)).shape
    (8, 16, 32, 32)
    """

    def forward(self, input):
        return dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Drops whole channels of (N, C, D, H, W) or (C, D, H, W) inputs.

    Example
    -------
    >>> nn.Dropout3d(0.1)(chainrule.randn(2, 4, 8, 8, 8)).shape
    (2, 4, 8, 8, 8)
    """

    def forward(self, input):
        return dropout3d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps a SELU network's activations at mean 0 and variance 1.

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(64, 64), nn.SELU(), nn.AlphaDropout(0.1))
    """

    def forward(self, input):
        return alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) inputs.

    Example
    -------
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.SELU(), nn.FeatureAlphaDropout(0.1))
    """

    def forward(self, input):
        return feature_alpha_dropout(input, self.p, self.training)
