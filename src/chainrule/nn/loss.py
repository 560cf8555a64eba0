"""Losses as modules: each holds its settings (and weights, as buffers) and
calls the functional form in ``chainrule.ops.loss``.

Constructor arguments match PyTorch's, the deprecated ``size_average`` and
``reduce`` included, so that ``nn.CrossEntropyLoss(weight, ignore_index=0)``
means the same in both, and a weighted loss's state dict has the same keys.
"""
from ..ops.loss import (KL_DIV_REDUCTIONS, binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                        huber_loss, kl_div, l1_loss, mse_loss, nll_loss, resolve_reduction, smooth_l1_loss)
from .module import Module


class _Loss(Module):
    """Stores ``reduction``, checked once here rather than on every call."""

    _reductions = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = resolve_reduction(type(self).__name__, size_average, reduce, reduction, self._reductions)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` tensor, registered as a buffer (None when absent)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error, (input - target)^2 reduced; see ``mse_loss``.

    Example
    -------
    >>> nn.MSELoss()(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 4.0]))
    tensor(2.5)
    """

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, |input - target| reduced; see ``l1_loss``.

    Example
    -------
    >>> nn.L1Loss()(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 4.0]))
    tensor(1.5)
    """

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Quadratic within ``delta`` of the target, linear beyond; see ``huber_loss``.

    Example
    -------
    >>> nn.HuberLoss(delta=1.0)(chainrule.tensor([0.5, 3.0]), chainrule.tensor([0.0, 0.0]))
    tensor(1.3125)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self):
        return f"{super().extra_repr()}, delta={self.delta}"


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``: slope 1 beyond ``beta``; see ``smooth_l1_loss``.

    Example
    -------
    >>> nn.SmoothL1Loss(beta=1.0)(chainrule.tensor([0.5, 3.0]), chainrule.tensor([0.0, 0.0]))
    tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must not be negative, got {beta}")
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self):
        return f"{super().extra_repr()}, beta={self.beta}"


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities; see ``binary_cross_entropy``.

    For raw scores prefer ``BCEWithLogitsLoss``, which folds the sigmoid in
    and stays finite for any logit.

    Example
    -------
    >>> nn.BCELoss()(chainrule.tensor([0.9, 0.2]), chainrule.tensor([1.0, 0.0]))
    tensor(0.16425206)
    """

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable expression; see
    ``binary_cross_entropy_with_logits``. ``weight`` and ``pos_weight`` are buffers.

    Example
    -------
    >>> loss = nn.BCEWithLogitsLoss(pos_weight=chainrule.tensor([3.0]))   # positives count 3x
    >>> loss(chainrule.tensor([[0.3], [-1.2]]), chainrule.tensor([[1.0], [0.0]]))
    tensor(0.9631741)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax and cross-entropy over the class dim (dim 1, or 0 for unbatched
    input) as one stable node; see ``cross_entropy``.

    Example
    -------
    >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> loss(chainrule.tensor([[2.0, 0.5, -1.0]]), chainrule.tensor([0]))
    tensor(0.39131123)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must lie in [0, 1], got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return (f"{super().extra_repr()}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}")


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities; see ``nll_loss``.

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
    >>> nn.NLLLoss()(model(chainrule.randn(2, 4)), chainrule.tensor([0, 2]))
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, ignore_index={self.ignore_index}"


class KLDivLoss(_Loss):
    """KL(target || exp(input)) for log-probabilities ``input``; see ``kl_div``.
    Pass ``reduction='batchmean'`` for the true divergence per sample.

    Example
    -------
    >>> log_q = chainrule.tensor([[1.0, 2.0, 3.0]]).log_softmax(dim=1)
    >>> nn.KLDivLoss(reduction="batchmean")(log_q, chainrule.tensor([[0.2, 0.3, 0.5]]))
    tensor(0.07795301)
    """

    _reductions = KL_DIV_REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self):
        return f"{super().extra_repr()}, log_target={self.log_target}"
