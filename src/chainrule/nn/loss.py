"""Losses as modules: each holds its settings (and weights, as buffers) and
calls the functional form in ``chainrule.ops.loss``.

Constructor arguments match PyTorch's, the deprecated ``size_average`` and
``reduce`` included, so that ``nn.CrossEntropyLoss(weight, ignore_index=0)``
means the same in both, and a weighted loss's state dict has the same keys.
"""
from ..ops.loss import (KL_DIV_REDUCTIONS, binary_cross_entropy, binary_cross_entropy_with_logits,
                        cosine_embedding_loss, cross_entropy, ctc_loss, gaussian_nll_loss, hinge_embedding_loss,
                        huber_loss, kl_div, l1_loss, margin_ranking_loss, mse_loss, multi_margin_loss,
                        multilabel_margin_loss, multilabel_soft_margin_loss, nll_loss, poisson_nll_loss,
                        resolve_reduction, smooth_l1_loss, soft_margin_loss, triplet_margin_loss)
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


class CTCLoss(_Loss):
    """Connectionist temporal classification, for labelling sequences without an
    alignment (speech, handwriting); called as ``loss(log_probs, targets,
    input_lengths, target_lengths)``; see ``ctc_loss``.

    Example
    -------
    >>> log_probs = chainrule.randn(30, 2, 5).log_softmax(dim=2)
    >>> nn.CTCLoss(zero_infinity=True)(log_probs, chainrule.tensor([1, 2, 2, 3, 4]), [30, 25], [3, 2])
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                        reduction=self.reduction, zero_infinity=self.zero_infinity)

    def extra_repr(self):
        return f"{super().extra_repr()}, blank={self.blank}, zero_infinity={self.zero_infinity}"


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


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of count targets; see ``poisson_nll_loss``.

    Example
    -------
    >>> nn.PoissonNLLLoss()(chainrule.tensor([0.0, 1.0]), chainrule.tensor([1.0, 3.0]))   # input is log λ
    tensor(0.359141)
    """

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, input, target):
        return poisson_nll_loss(input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, log_input={self.log_input}, full={self.full}, eps={self.eps}"


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood with a predicted variance, called as
    ``loss(input, target, var)``; see ``gaussian_nll_loss``.

    Example
    -------
    >>> nn.GaussianNLLLoss()(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 2.0]), chainrule.tensor([1.0, 4.0]))
    tensor(0.5965736)
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, full={self.full}, eps={self.eps}"


class MarginRankingLoss(_Loss):
    """Hinge on the ranking of two scores, called as ``loss(input1, input2, target)``;
    see ``margin_ranking_loss``.

    Example
    -------
    >>> nn.MarginRankingLoss(margin=0.5)(chainrule.tensor([2.0, 0.5]), chainrule.tensor([1.0, 1.0]),
    ...                                  chainrule.tensor([1.0, 1.0]))
    tensor(0.5)
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, margin={self.margin}"


class HingeEmbeddingLoss(_Loss):
    """Distance where the target is 1, hinge on ``margin`` where it is -1; see ``hinge_embedding_loss``.

    Example
    -------
    >>> nn.HingeEmbeddingLoss()(chainrule.tensor([0.3, 0.3, 1.5]), chainrule.tensor([1.0, -1.0, -1.0]))
    tensor(0.33333334)
    """

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, margin={self.margin}"


class SoftMarginLoss(_Loss):
    """Logistic loss log(1 + exp(-target input)) for targets of ±1, finite for
    any input; see ``soft_margin_loss``.

    Example
    -------
    >>> nn.SoftMarginLoss()(chainrule.tensor([2.0, -1.0]), chainrule.tensor([1.0, 1.0]))
    tensor(0.7200948)
    """

    def forward(self, input, target):
        return soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic loss averaged over the classes; ``weight`` is a buffer;
    see ``multilabel_soft_margin_loss``.

    Example
    -------
    >>> nn.MultiLabelSoftMarginLoss()(chainrule.tensor([[2.0, -1.0, 0.0]]), chainrule.tensor([[1.0, 0.0, 1.0]]))
    tensor(0.37777892)
    """

    def forward(self, input, target):
        return multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss on class-index targets; ``weight`` (one value per
    class) is a buffer; see ``multi_margin_loss``.

    Example
    -------
    >>> nn.MultiMarginLoss(p=2)(chainrule.tensor([[0.0, 1.5, 1.0]]), chainrule.tensor([1]))
    tensor(0.08333334)
    """

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p}")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: weight must hold one value per class (1-D), got shape {weight.shape}")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                 reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, p={self.p}, margin={self.margin}"


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss on rows of class indices ended by -1; see ``multilabel_margin_loss``.

    Example
    -------
    >>> nn.MultiLabelMarginLoss()(chainrule.tensor([[0.1, 0.2, 0.4, 0.8]]), chainrule.tensor([[3, 0, -1, 1]]))
    tensor(0.85)
    """

    def forward(self, input, target):
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos for similar pairs (target 1), max(0, cos - margin) for dissimilar
    ones (target -1), called as ``loss(input1, input2, target)``; see ``cosine_embedding_loss``.

    Example
    -------
    >>> nn.CosineEmbeddingLoss(margin=0.5)(chainrule.tensor([[1.0, 0.0]]), chainrule.tensor([[1.0, 1.0]]),
    ...                                    chainrule.tensor([-1]))
    tensor(0.20710677)
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, margin={self.margin}"


class TripletMarginLoss(_Loss):
    """Each anchor nearer its positive than its negative by ``margin``, called as
    ``loss(anchor, positive, negative)``; see ``triplet_margin_loss``.

    Example
    -------
    >>> loss = nn.TripletMarginLoss(margin=1.0, swap=True)
    >>> loss(chainrule.randn(8, 16), chainrule.randn(8, 16), chainrule.randn(8, 16))
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                   swap=self.swap, reduction=self.reduction)

    def extra_repr(self):
        return f"{super().extra_repr()}, margin={self.margin}, p={self.p}, eps={self.eps}, swap={self.swap}"
