"""Loss functions, with PyTorch's names, arguments and reductions.

Cross-entropy with softmax and binary cross-entropy on probabilities are
primitives (a forward and its hand-written, differentiable backward side by
side); the other losses are short compositions of stable ops.

``reduction`` is 'mean', 'sum' or 'none' (``kl_div`` also takes 'batchmean').
The deprecated ``size_average`` and ``reduce`` arguments keep their places in
the signatures and mean what they mean in PyTorch.
"""
import math
import warnings

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor, constant
from .activation import softplus
from .elementwise import abs, exp, log, log1p, minimum, where
from .index import gather, index_put
from .reduce import norm, normalize_dims
from .shape import broadcast_to
from .softmax import log_softmax, softmax

_REDUCTIONS = ("mean", "sum", "none")
KL_DIV_REDUCTIONS = ("mean", "batchmean", "sum", "none")

# PyTorch's floor under p (1 - p) in the gradient of binary cross-entropy, so
# that a prediction of exactly 0 or 1 still has a finite gradient. It is 1e-12
# rounded to float32 there, and is here too, so the two gradients agree.
_BCE_EPSILON = 9.999999960041972e-13


# ------------------------------------------------------------------ checks

def resolve_reduction(name, size_average, reduce, reduction, allowed=_REDUCTIONS):
    """The reduction to apply: ``reduction``, or what the deprecated pair
    ``size_average``/``reduce`` means when either is given; an unknown one
    raises, naming ``name`` (the loss) and the value.

    Example
    -------
    >>> resolve_reduction("mse_loss", None, False, "mean")    # reduce=False: one loss per element
    'none'
    """
    if size_average is not None or reduce is not None:
        reduce = True if reduce is None else reduce
        size_average = True if size_average is None else size_average
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"{name}: size_average and reduce are deprecated; pass reduction={reduction!r} instead",
                      DeprecationWarning, stacklevel=3)
    if reduction not in allowed:
        choices = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{name}: reduction must be one of {choices}; got {reduction!r}")
    return reduction


def _check_float(name, role, tensor):
    if tensor.dtype.kind != "f":
        raise ValueError(f"{name}: the {role} must be a floating-point tensor, got {tensor.dtype} "
                         f"(shape {tensor.shape}); convert it with .float() or .double()")


def _check_pair(name, input, target, float_target=True):
    """Elementwise losses: a floating input and a target of exactly its shape."""
    _check_float(name, "input", input)
    if float_target:
        _check_float(name, "target", target)
    if target.shape != input.shape:
        # PyTorch broadcasts here with a warning; (N, 1) against (N,) silently
        # becomes (N, N), so a mismatch is an error instead.
        raise ValueError(f"{name}: target has shape {target.shape} but the input has shape {input.shape}; "
                         f"they must match (reshape one of them)")


def _broadcast_weight(name, role, tensor, input):
    """``tensor`` (a weight) checked to broadcast to the input's shape without
    enlarging it, in the input's dtype."""
    shape, target = tensor.shape, input.shape
    fits = len(shape) <= len(target) and all(n in (1, m) for n, m in zip(reversed(shape), reversed(target)))
    if not fits:
        raise ValueError(f"{name}: {role} of shape {shape} does not broadcast to the input's shape {target}")
    return tensor.to(input.dtype)


def _check_range(name, role, tensor):
    values = tensor.data
    if not ((values >= 0) & (values <= 1)).all():
        raise ValueError(
            f"{name}: every element of the {role} must lie in [0, 1], got values from {values.min()} "
            f"to {values.max()} (shape {tensor.shape})"
            + ("; for raw scores use binary_cross_entropy_with_logits" if role == "input" else "")
        )


def _class_axis(input):
    return 1 if input.ndim > 1 else 0


def _check_logits(name, input):
    _check_float(name, "input", input)
    if input.ndim == 0:
        raise ValueError(f"{name}: the input needs a class dimension: shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got a 0-d tensor")


def _class_weights(name, weight, input):
    """The per-class weight as an array of the input's dtype (ones when there is none)."""
    classes = input.shape[_class_axis(input)]
    if weight is None:
        return array_module(input.data).ones(classes, dtype=input.dtype)
    if weight.shape != (classes,):
        raise ValueError(f"{name}: weight must hold one value per class, shape ({classes},), "
                         f"got shape {weight.shape}")
    if weight.requires_grad and is_grad_enabled():
        raise ValueError(f"{name}: the class weight is not differentiable (as in PyTorch); "
                         f"pass weight.detach()")
    return weight.data.astype(input.dtype, copy=False)


def _class_indices(name, input, target, ignore_index):
    """Check class-index targets; return them with ignored entries set to class 0,
    and the mask of the entries that count (all of them when ``ignore_index`` is None)."""
    dim = _class_axis(input)
    classes = input.shape[dim]
    expected = input.shape[:dim] + input.shape[dim + 1:]
    if target.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: class-index targets must be integers, got {target.dtype} of shape {target.shape}; "
            f"pass .long() class indices of shape {expected}"
            + (f", or class probabilities of the input's shape {input.shape}" if name == "cross_entropy" else "")
        )
    if target.shape != expected:
        raise ValueError(f"{name}: target has shape {target.shape}, but an input of shape {input.shape} "
                         f"needs class indices of shape {expected}")
    indices = target.data
    xp = array_module(indices)
    kept = xp.ones(indices.shape, dtype=bool) if ignore_index is None else indices != ignore_index
    invalid = kept & ((indices < 0) | (indices >= classes))
    if invalid.any():
        ignoring = "" if ignore_index is None else f", or ignore_index={ignore_index}"
        raise ValueError(f"{name}: target holds class index {indices[invalid].flat[0]}, but the input has "
                         f"{classes} classes (valid indices are 0 to {classes - 1}{ignoring})")
    return xp.where(kept, indices, 0), kept


def _every_index_counts(input, target, ignore_index):
    """Whether ``target`` holds valid class indices of the right shape, none of them ignored: the
    common case, checked with two reductions (``_class_indices`` explains anything else)."""
    dim = _class_axis(input)
    indices = target.data
    if indices.dtype.kind not in "iu" or target.shape != input.shape[:dim] + input.shape[dim + 1:]:
        return False
    if indices.size == 0:
        return False
    low, high = indices.min(), indices.max()
    return 0 <= low and high < input.shape[dim] and not low <= ignore_index <= high


def _reduce(losses, reduction):
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _weighted_mean(losses, total_weight):
    """sum(losses) / total_weight. With no weight at all (every target ignored)
    it is 0/0 = nan, and no input moves it: zero gradient, as in PyTorch."""
    if total_weight:
        return losses.sum() / total_weight
    return losses.sum() * 0 + math.nan


# ------------------------------------------------------------------ regression

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: (input - target)^2 per element, then reduced.

    ``weight`` (the input's shape) scales each element; with it, 'mean'
    divides by the sum of the weights, as in PyTorch.

    Example
    -------
    >>> mse_loss(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 4.0]))
    tensor(2.5)
    """
    reduction = resolve_reduction("mse_loss", size_average, reduce, reduction)
    _check_pair("mse_loss", input, target, float_target=False)
    return _elementwise_weighted("mse_loss", (input - target) ** 2, weight, input, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: |input - target| per element, then reduced.

    ``weight`` (the input's shape) scales each element; with it, 'mean'
    divides by the sum of the weights, as in PyTorch.

    Example
    -------
    >>> l1_loss(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 4.0]))
    tensor(1.5)
    """
    reduction = resolve_reduction("l1_loss", size_average, reduce, reduction)
    _check_pair("l1_loss", input, target, float_target=False)
    return _elementwise_weighted("l1_loss", abs(input - target), weight, input, reduction)


def _element_weight(name, weight, input):
    """A per-element weight, checked to have the input's shape, in the input's dtype."""
    if weight.shape != input.shape:
        raise ValueError(f"{name}: weight has shape {weight.shape} but the input has shape {input.shape}; "
                         f"they must match")
    return weight.to(input.dtype)


def _elementwise_weighted(name, losses, weight, input, reduction):
    """Reduce ``losses``, weighted per element; the weighted 'mean' divides by sum(weight)."""
    if weight is None:
        return _reduce(losses, reduction)
    weight = _element_weight(name, weight, input)
    losses = losses * weight
    return losses.sum() / weight.sum() if reduction == "mean" else _reduce(losses, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) beyond,
    for d = input - target. Quadratic near the target, linear (so robust to
    outliers) far from it.

    ``weight`` (the input's shape) scales each element; with it, 'mean' is
    still the plain mean, as in PyTorch.

    Example
    -------
    >>> huber_loss(chainrule.tensor([0.5, 3.0]), chainrule.tensor([0.0, 0.0]), reduction="none")
    tensor([0.125, 2.5  ])
    """
    reduction = resolve_reduction("huber_loss", None, None, reduction)
    _check_pair("huber_loss", input, target, float_target=False)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    diff = input - target
    distance = abs(diff)
    losses = where(distance < delta, 0.5 * diff ** 2, delta * (distance - 0.5 * delta))
    if weight is not None:
        losses = losses * _element_weight("huber_loss", weight, input)
    return _reduce(losses, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1 loss: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta beyond,
    for d = input - target; ``beta=0`` is the L1 loss. It equals
    ``huber_loss(delta=beta) / beta``: the linear part has slope 1 whatever beta.

    Example
    -------
    >>> smooth_l1_loss(chainrule.tensor([0.5, 3.0]), chainrule.tensor([0.0, 0.0]), reduction="none")
    tensor([0.125, 2.5  ])
    """
    reduction = resolve_reduction("smooth_l1_loss", size_average, reduce, reduction)
    _check_pair("smooth_l1_loss", input, target, float_target=False)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    diff = input - target
    distance = abs(diff)
    losses = where(distance < beta, 0.5 * diff ** 2 / beta, distance - 0.5 * beta)
    return _reduce(losses, reduction)


# ------------------------------------------------------------------ binary classification

class BinaryCrossEntropy(Function):
    """-(y log p + (1 - y) log(1 - p)) per element, each log floored at -100 as in PyTorch."""

    @classmethod
    def op_name(cls):
        return "binary_cross_entropy"

    def forward(self, p, y):
        xp = array_module(p)
        with xp.errstate(divide="ignore"):  # log 0 = -inf, floored just below
            log_p = xp.maximum(xp.log(p), -100)
            log_q = xp.maximum(xp.log1p(-p), -100)
        return -(y * log_p + (1 - y) * log_q)

    def backward(self, g):
        p, y = self.inputs
        needs_p, needs_y = (edge is not None for edge in self.edges)
        grad_p = grad_y = None
        if needs_p:
            # d/dp = (p - y) / (p (1 - p)), the denominator floored so p = 0 or 1 stays finite.
            grad_p = g * (p - y) / (p * (1 - p)).clamp(min=_BCE_EPSILON)
        if needs_y:
            # d/dy = log(1 - p) - log p, unfloored as in PyTorch (infinite at p = 0 or 1).
            with array_module(p.data).errstate(divide="ignore"):
                grad_y = g * (log1p(-p) - log(p))
        return grad_p, grad_y


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross-entropy between predicted probabilities and targets in [0, 1]:
    -weight (y log p + (1 - y) log(1 - p)), with each log floored at -100.

    ``input`` must already be probabilities (after a sigmoid); for raw
    scores use ``binary_cross_entropy_with_logits``, which is stable where
    this one saturates. ``weight`` broadcasts to the input's shape.

    Example
    -------
    >>> binary_cross_entropy(chainrule.tensor([0.9, 0.2]), chainrule.tensor([1.0, 0.0]))
    tensor(0.16425206)
    """
    name = "binary_cross_entropy"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target)
    _check_range(name, "input", input)
    _check_range(name, "target", target)
    losses = BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        losses = losses * _broadcast_weight(name, "weight", weight, input)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits x:
    weight (-pos_weight y log sigmoid(x) - (1 - y) log(1 - sigmoid(x))).

    Computed as ``pos_weight y softplus(-x) + (1 - y) softplus(x)``, which
    never exponentiates a large number, so any logit (±1000 included) gives
    a finite loss and the gradient sigmoid(x) - y. ``pos_weight`` weighs the
    positive term, one value per class along the last dim (num_negative /
    num_positive balances a rare class); ``weight`` broadcasts to the input.

    Example
    -------
    >>> binary_cross_entropy_with_logits(chainrule.tensor([1000.0, -3.0]), chainrule.tensor([1.0, 0.0]))
    tensor(0.02429367)
    """
    name = "binary_cross_entropy_with_logits"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target)
    target = target.to(input.dtype)
    # -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x); no threshold,
    # so the result is exact rather than switching to the identity at 20.
    positive = target * softplus(-input, threshold=math.inf)
    if pos_weight is not None:
        positive = positive * _broadcast_weight(name, "pos_weight", pos_weight, input)
    losses = positive + (1 - target) * softplus(input, threshold=math.inf)
    if weight is not None:
        losses = losses * _broadcast_weight(name, "weight", weight, input)
    return _reduce(losses, reduction)


# ------------------------------------------------------------------ multi-class classification

class CrossEntropy(Function):
    """Log-softmax and cross-entropy in one node, stable for any logits.

    Per sample (one slice along the class axis) the loss is taken against a
    weighted target distribution ``a``:

        loss = -sum_c a_c log q_c,   q = softmax(x)
        d loss / d x_c = q_c * sum_c' a_c' - a_c

    which is q - a when ``a`` sums to one. With per-class weights w, label
    smoothing eps and C classes, ``a`` is, for a class index y,

        a_c = (1 - eps) w_y [c = y] + eps w_c / C      (all 0 where y is ignored)

    and for target probabilities t, an input of the node,

        a_c = (1 - eps) w_c t_c + eps w_c / C,   d loss / d t_c = -(1 - eps) w_c log q_c.

    ``true_weight`` is (1 - eps) w and ``spread`` eps w / C (None without
    smoothing). 'mean' divides by ``denominator``: the total weight of the
    kept class indices, or the number of samples for probabilities.
    ``true_weight`` None means the common case: class indices, no weight,
    no smoothing and nothing ignored, where a is one-hot and the node skips
    the per-sample weights.
    """

    @classmethod
    def op_name(cls):
        return "cross_entropy"

    def forward(self, logits, *probabilities, classes, kept, true_weight, spread, reduction, denominator):
        xp = array_module(logits)
        self.dim = dim = _class_axis(logits)
        self.reduction, self.denominator = reduction, denominator
        self.true_weight = _along_classes(true_weight, logits.ndim, dim)
        self.spread = _along_classes(spread, logits.ndim, dim)
        # log q = x - m - log sum exp(x - m) with m the maximum: no exp exceeds 1.
        shifted = logits - logits.max(axis=dim, keepdims=True)
        exps = xp.exp(shifted)
        sums = exps.sum(axis=dim, keepdims=True)
        log_sums = xp.log(sums)
        if probabilities:
            self.log_probs = shifted - log_sums  # the target's gradient needs log q itself
            losses = -(self.target_distribution(probabilities[0]) * self.log_probs).sum(axis=dim)
        else:
            self.probs = xp.divide(exps, sums, out=exps)
            self.kept, self.index = kept, _picking(classes, dim)
            # Pick the true class rather than multiply by a one-hot row, so that a
            # -inf logit elsewhere (a masked class) costs nothing instead of 0 * -inf.
            picked = shifted[self.index] - log_sums.squeeze(axis=dim)
            if true_weight is None:
                self.sample_weight = None
                losses = -picked
            else:
                self.sample_weight = xp.where(kept, true_weight[classes], 0)
                losses = xp.where(kept, -self.sample_weight * picked, 0)
            if self.spread is not None:
                losses = losses - kept * (self.spread * (shifted - log_sums)).sum(axis=dim)
        losses = losses.astype(logits.dtype, copy=False)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        return losses.sum() / denominator if denominator else xp.asarray(xp.nan, dtype=logits.dtype)

    def target_distribution(self, t):
        """a for target probabilities t: arrays in forward, Tensors in backward."""
        a = t * self.true_weight
        return a if self.spread is None else a + self.spread

    def backward(self, g):
        logits = self.inputs[0]
        # When the backward is itself differentiated, softmax is recomputed from
        # the logits, so that second derivatives see its dependence on them.
        recording = is_grad_enabled()
        if self.reduction == "mean":
            # With every target ignored the mean is nan, yet no logit moves it.
            scale = 1 / self.denominator if self.denominator else 0
            g = g * scale if recording else constant(g.data * scale)
        per_class = g.unsqueeze(self.dim) if self.reduction == "none" else g
        if len(self.inputs) == 2:
            log_q = log_softmax(logits, dim=self.dim) if recording else constant(self.log_probs)
            a = self.target_distribution(self.inputs[1])
            grad_logits = per_class * (exp(log_q) * a.sum(dim=self.dim, keepdim=True) - a)
            grad_target = -per_class * self.true_weight * log_q if self.edges[1] is not None else None
            return grad_logits, grad_target
        # q sum(a) - a, with a's one-hot part subtracted at each sample's class alone.
        xp = array_module(logits.data)
        if self.sample_weight is None:  # a one-hot: sum(a) = 1
            if not recording:
                grad = self.probs * per_class.data
                grad[self.index] -= g.data  # one class per sample: no repeats
                return constant(grad)
            grad = softmax(logits, dim=self.dim) * per_class
            return index_put(grad, self.index, -g * constant(xp.ones(self.index[0].shape, dtype=logits.dtype)),
                             accumulate=True)
        total = self.sample_weight if self.spread is None else self.sample_weight + self.kept * self.spread.sum()
        total = xp.expand_dims(total, self.dim)
        if not recording:
            # An ordinary backward records nothing: the same maths on the arrays.
            grad = self.probs * (per_class.data * total)
            grad[self.index] -= g.data * self.sample_weight  # one class per sample: no repeats
            if self.spread is not None:
                grad -= per_class.data * xp.expand_dims(self.kept, self.dim) * self.spread
            return constant(grad)
        grad = softmax(logits, dim=self.dim) * (per_class * constant(total))
        grad = index_put(grad, self.index, -g * constant(self.sample_weight), accumulate=True)
        if self.spread is not None:
            kept = constant(xp.expand_dims(self.kept, self.dim))
            grad = grad - per_class * kept * self.spread
        return grad


def _picking(classes, dim):
    """The index tuple that picks, at every sample position, its class along ``dim``."""
    xp = array_module(classes)
    positions = [xp.arange(n).reshape((n,) + (1,) * (classes.ndim - i - 1)) for i, n in enumerate(classes.shape)]
    positions.insert(dim, classes)
    return tuple(positions)


def _along_classes(vector, ndim, dim):
    """A per-class vector shaped to broadcast along the class axis; None passes through."""
    return None if vector is None else vector.reshape(vector.shape + (1,) * (ndim - dim - 1))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between softmax(input) over the class dim and the target.

    Parameters
    ----------
    input : logits (unnormalised scores) of shape (C,), (N, C) or (N, C, d1, ...)
    target : class indices of shape (), (N,) or (N, d1, ...), or class
        probabilities of the input's shape
    weight : optional per-class weight, shape (C,); not differentiable
    ignore_index : a class index whose samples count neither in the loss nor
        in the 'mean' denominator (class-index targets only)
    reduction : 'mean' divides by the total weight of the kept targets
        (their number without ``weight``), or by N * d1 * ... for
        probabilities; 'sum'; 'none' gives one loss per sample
    label_smoothing : eps in [0, 1]: the target becomes (1 - eps) of itself
        plus eps spread uniformly over the classes

    The whole computation is one node: its gradient is softmax(input) minus
    the (weighted, smoothed) target distribution, and stays finite for any
    logits.

    Example
    -------
    >>> logits = chainrule.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, chainrule.tensor([0, 2]))
    >>> loss.backward()                       # logits.grad = (softmax - one_hot) / 2
    """
    name = "cross_entropy"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_logits(name, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    if weight is None and not label_smoothing and _every_index_counts(input, target, ignore_index):
        # A copy: the backward picks by these indices, and the caller may change the target in place.
        return CrossEntropy.apply(input, classes=target.data.copy(), kept=None, true_weight=None, spread=None,
                                  reduction=reduction, denominator=target.data.size)
    w = _class_weights(name, weight, input)
    xp = array_module(input.data)
    classes = input.shape[_class_axis(input)]
    true_weight = (1 - label_smoothing) * w
    spread = label_smoothing / classes * w if label_smoothing else None
    settings = dict(true_weight=true_weight, spread=spread, reduction=reduction)
    if target.shape == input.shape:
        _check_float(name, "target (class probabilities, as it has the input's shape)", target)
        if ignore_index >= 0:
            raise ValueError(f"{name}: ignore_index={ignore_index} applies to class-index targets only; "
                             f"this target holds probabilities (it has the input's shape {input.shape})")
        samples = input.data.size // classes
        return CrossEntropy.apply(input, target.to(input.dtype), classes=None, kept=None,
                                  denominator=samples, **settings)
    indices, kept = _class_indices(name, input, target, ignore_index)
    total_weight = float(xp.where(kept, w[indices], 0).sum())
    return CrossEntropy.apply(input, classes=indices, kept=kept, denominator=total_weight, **settings)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood: -weight[y] input[y] for each sample's class index y.

    ``input`` holds log-probabilities (e.g. from ``log_softmax``), shaped
    (C,), (N, C) or (N, C, d1, ...); ``target`` holds class indices, shaped
    (), (N,) or (N, d1, ...). Samples whose target is ``ignore_index`` count
    neither in the loss nor in the 'mean' denominator, which is the total
    weight of the kept targets. ``weight`` (shape (C,)) is not differentiable.

    Example
    -------
    >>> log_probs = log_softmax(chainrule.tensor([[2.0, 0.5, -1.0]]), dim=1)
    >>> nll_loss(log_probs, chainrule.tensor([0]))    # the same as cross_entropy on the logits
    tensor(0.24131124)
    """
    name = "nll_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_logits(name, input)
    w = _class_weights(name, weight, input)
    indices, kept = _class_indices(name, input, target, ignore_index)
    xp = array_module(input.data)
    dim = _class_axis(input)
    sample_weight = xp.where(kept, w[indices], 0)
    picked = gather(input, dim, xp.expand_dims(indices, dim)).squeeze(dim)
    # where, not a product with 0: an ignored sample's -inf log-probability must not become nan.
    losses = where(kept, -picked * constant(sample_weight), 0.0)
    if reduction == "mean":
        return _weighted_mean(losses, float(sample_weight.sum()))
    return _reduce(losses, reduction)


# ------------------------------------------------------------------ sequences

def _shift(x, k):
    """``x`` moved ``k`` positions along its last axis (towards higher positions for k > 0,
    lower for k < 0), -inf filling the positions left empty."""
    xp = array_module(x)
    empty = xp.full(x.shape[:-1] + (max(k, -k),), -xp.inf, dtype=x.dtype)  # this module's abs is the tensor op
    if k > 0:
        return xp.concatenate([empty, x], axis=-1)[..., :x.shape[-1]]
    return xp.concatenate([x, empty], axis=-1)[..., -k:]


class CTC(Function):
    """Connectionist temporal classification: -log p(labels | log_probs) per sample,
    summed over every alignment in log space. See docs/losses.md for the maths.

    Each sample's labels l become the extended sequence l' = (blank, l1, blank,
    l2, ..., blank) of 2 S + 1 positions. alpha_t(s), the log-probability of
    emitting the first s + 1 positions of l' in the first t + 1 steps, runs forward:

        alpha_t(s) = u_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))

    with u = log_probs, and the skip from s - 2 allowed only onto a label that
    differs from the one two positions back (so repeated labels need a blank
    between them). beta, the same from the end, runs backward;
    exp(alpha_t(s) + beta_t(s) - u_t(l'_s) + nll) is the probability that the
    alignment is at position s at step t. The gradient is PyTorch's: exp(u)
    minus those occupancies summed per class, within each input length.
    """

    @classmethod
    def op_name(cls):
        return "ctc_loss"

    def forward(self, log_probs, *, labels, input_lengths, target_lengths, blank, zero_infinity):
        xp = array_module(log_probs)
        steps, batch, _ = log_probs.shape
        self.input_lengths, self.zero_infinity = input_lengths, zero_infinity
        # The extended labels l' (positions beyond a sample's labels hold the blank too,
        # and nothing reaches its end from them) and where the skip from s - 2 is allowed.
        self.extended = xp.full((batch, 2 * labels.shape[1] + 1), blank, dtype=labels.dtype)
        self.extended[:, 1::2] = labels
        self.skip = xp.zeros(self.extended.shape, dtype=bool)
        self.skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
        emitted = self.emissions(log_probs)
        positions = xp.arange(self.extended.shape[1])
        # log 1 where an alignment may start (the first blank or label) and end (the last ones).
        start = xp.where(positions < 2, 0, -xp.inf).astype(log_probs.dtype)
        ends = (positions >= 2 * target_lengths[:, None] - 1) & (positions <= 2 * target_lengths[:, None])
        self.last = xp.where(ends, 0, -xp.inf).astype(log_probs.dtype)
        self.alpha = xp.empty_like(emitted)
        self.alpha[0] = emitted[0] + start
        for t in range(1, steps):
            previous = self.alpha[t - 1]
            into = xp.logaddexp(previous, _shift(previous, 1))
            self.alpha[t] = emitted[t] + xp.logaddexp(into, xp.where(self.skip, _shift(previous, 2), -xp.inf))
        # Each sample ends at its step T_n - 1, on its last label or the blank after it.
        rows = xp.arange(batch)
        final = self.alpha[xp.maximum(input_lengths - 1, 0), rows]
        on_label = xp.where(target_lengths > 0, final[rows, xp.maximum(2 * target_lengths - 1, 0)], -xp.inf)
        likelihood = xp.logaddexp(final[rows, 2 * target_lengths], on_label)
        # No steps at all: the empty labelling has probability 1, any other 0.
        likelihood = xp.where(input_lengths > 0, likelihood, xp.where(target_lengths == 0, 0, -xp.inf))
        self.nll = -likelihood.astype(log_probs.dtype)
        return xp.where(self.nll == xp.inf, 0, self.nll) if zero_infinity else self.nll

    def emissions(self, log_probs):
        """u_t(l'_s) for every step, sample and extended position: shape (T, N, 2 S + 1)."""
        xp = array_module(log_probs)
        return log_probs[:, xp.arange(log_probs.shape[1])[:, None], self.extended]

    def backward(self, g):
        log_probs = self.inputs[0].data
        xp = array_module(log_probs)
        steps, batch, classes = log_probs.shape
        emitted = self.emissions(log_probs)
        # beta_t(s): the log-probability of emitting positions s.. of l' in steps t..T_n - 1,
        # u_t(l'_s) included; it starts at each sample's own last step.
        beta = xp.empty_like(emitted)
        later = xp.full(emitted.shape[1:], -xp.inf, dtype=emitted.dtype)
        for t in reversed(range(steps)):
            into = xp.logaddexp(later, _shift(later, -1))
            stepped = emitted[t] + xp.logaddexp(into, _shift(xp.where(self.skip, later, -xp.inf), -2))
            later = beta[t] = xp.where((t == self.input_lengths - 1)[:, None], emitted[t] + self.last, stepped)
        within = (xp.arange(steps)[:, None] < self.input_lengths)[..., None]
        impossible = (self.nll == xp.inf)[:, None]
        # alpha + beta counts u_t(l'_s) twice, hence the one subtraction.
        with xp.errstate(invalid="ignore"):  # inf - inf for an impossible sample, replaced below
            occupancy = xp.where(within, xp.exp(self.alpha + beta + self.nll[:, None] - emitted), 0)
        # Sum the occupancies of the positions that hold each class.
        slots = (xp.arange(steps * batch).reshape(steps, batch, 1) * classes + self.extended).ravel()
        per_class = xp.bincount(slots, weights=occupancy.ravel(), minlength=steps * batch * classes)
        grad = xp.where(within, xp.exp(log_probs), 0) - per_class.reshape(log_probs.shape).astype(log_probs.dtype)
        # An impossible sample's gradient is nan within its input length, as in PyTorch, or 0 with zero_infinity.
        grad = xp.where(within & impossible, 0 if self.zero_infinity else xp.nan, grad) * g.data[:, None]
        if is_grad_enabled():
            return CTCGradient.apply(self.inputs[0], g, value=grad)
        return constant(grad)


class CTCGradient(Function):
    """The gradient of ctc_loss as a recorded node, for a backward run with
    ``create_graph=True``: its value is right, and differentiating it again
    raises rather than silently giving zero second derivatives."""

    saves_inputs = False

    @classmethod
    def op_name(cls):
        return "ctc_loss_backward"

    def forward(self, log_probs, g, *, value):
        return value

    def backward(self, g):
        raise RuntimeError("ctc_loss: second derivatives are not supported (PyTorch has none either); its "
                           "gradient was recorded with create_graph=True but cannot be differentiated again")


def _sequence_lengths(name, role, lengths, batch, xp):
    """``lengths`` (a Tensor, a sequence of ints, or an int for one sequence) as an integer array of shape (N,)."""
    values = xp.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if values.dtype.kind not in "iu":
        raise ValueError(f"{name}: {role} must be integers, got {values.dtype}")
    if values.shape != (batch,) and values.size == batch == 1:
        values = values.reshape(1)
    if values.shape != (batch,):
        raise ValueError(f"{name}: {role} must hold one length per sequence, shape ({batch},), "
                         f"got shape {values.shape}")
    if (values < 0).any():
        raise ValueError(f"{name}: {role} must not be negative, got {values.min()}")
    return values.astype("int64")


def _ctc_labels(name, targets, target_lengths, batch, blank, classes):
    """The labels as an (N, longest target) array, each row filled with the blank beyond its
    length, from padded (N, S) targets or their concatenation (sum of target_lengths,)."""
    xp = array_module(targets)
    longest = int(target_lengths.max(initial=0))
    within = xp.arange(longest) < target_lengths[:, None]
    if targets.dtype.kind not in "iu":
        raise ValueError(f"{name}: targets must hold integer class indices, got {targets.dtype}")
    if targets.ndim == 2:
        if targets.shape[0] != batch or targets.shape[1] < longest:
            raise ValueError(f"{name}: padded targets of shape {targets.shape} must have shape (N, S) with "
                             f"N = {batch} sequences and S at least the longest target length, {longest}")
        labels = targets[:, :longest]
    elif targets.ndim == 1:
        total = int(target_lengths.sum())
        if targets.shape[0] != total:
            raise ValueError(f"{name}: concatenated targets hold {targets.shape[0]} labels, but "
                             f"target_lengths add up to {total}")
        starts = xp.cumsum(target_lengths) - target_lengths
        labels = targets[xp.where(within, starts[:, None] + xp.arange(longest), 0)]
    else:
        raise ValueError(f"{name}: targets must be padded, shape (N, S), or concatenated, 1-D; "
                         f"got shape {targets.shape}")
    labels = xp.where(within, labels, blank)
    outside = within & ((labels < 0) | (labels >= classes))
    if outside.any():
        raise ValueError(f"{name}: targets hold class {labels[outside][0]}, but log_probs has {classes} classes "
                         f"(valid labels are 0 to {classes - 1})")
    if (within & (labels == blank)).any():
        raise ValueError(f"{name}: targets hold the blank, class {blank}; it separates labels and cannot be one")
    return labels


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss: -log p(target | log_probs),
    summed over every way of aligning the target with the T steps of the input
    (labels may repeat over steps, and a ``blank`` may come between them).

    Parameters
    ----------
    log_probs : (T, N, C) log-probabilities (from ``log_softmax`` over C), or (T, C) for one sequence
    targets : padded labels (N, S), or all samples' labels concatenated, shape (sum(target_lengths),);
        labels are class indices other than ``blank``
    input_lengths, target_lengths : per sample, as Tensors or sequences of ints
        (an int for one sequence); input lengths at most T
    reduction : 'mean' divides each sample's loss by its target length (at
        least 1), then averages over the batch, as in PyTorch; 'sum'; 'none'
    zero_infinity : make the loss of a sample no alignment can explain (a
        target too long for its input) and its gradient 0, instead of inf and nan

    The loss is one node, with the alpha-beta gradient of PyTorch. It has no
    second derivatives: differentiating its gradient raises.

    Example
    -------
    >>> log_probs = chainrule.randn(30, 2, 5, requires_grad=True).log_softmax(dim=2)
    >>> targets = chainrule.tensor([[1, 2, 2], [3, 4, 0]])     # padded: the second has 2 labels
    >>> ctc_loss(log_probs, targets, [30, 25], [3, 2]).backward()
    """
    name = "ctc_loss"
    reduction = resolve_reduction(name, None, None, reduction)
    _check_float(name, "log_probs", log_probs)
    if log_probs.ndim not in (2, 3) or log_probs.data.size == 0:
        raise ValueError(f"{name}: log_probs must have shape (T, N, C), or (T, C) for one sequence, with no "
                         f"dim 0; got shape {log_probs.shape}")
    unbatched = log_probs.ndim == 2
    steps, classes = log_probs.shape[0], log_probs.shape[-1]
    batch = 1 if unbatched else log_probs.shape[1]
    if not 0 <= blank < classes:
        raise ValueError(f"{name}: blank must be a class index, 0 to {classes - 1}, got {blank}")
    xp = array_module(log_probs.data)
    input_lengths = _sequence_lengths(name, "input_lengths", input_lengths, batch, xp)
    target_lengths = _sequence_lengths(name, "target_lengths", target_lengths, batch, xp)
    if (input_lengths > steps).any():
        raise ValueError(f"{name}: input_lengths must be at most T = {steps}, the steps of log_probs; "
                         f"got {input_lengths.max()}")
    if unbatched and targets.ndim != 1:
        raise ValueError(f"{name}: for one sequence, (T, C) log_probs, targets must be 1-D, "
                         f"got shape {targets.shape}")
    labels = _ctc_labels(name, targets.data[None] if unbatched else targets.data, target_lengths, batch, blank,
                         classes)
    losses = CTC.apply(log_probs.unsqueeze(1) if unbatched else log_probs, labels=labels,
                       input_lengths=input_lengths, target_lengths=target_lengths, blank=blank,
                       zero_infinity=zero_infinity)
    if reduction == "mean":
        return (losses / constant(xp.maximum(target_lengths, 1).astype(log_probs.dtype))).mean()
    if reduction == "sum":
        return losses.sum()
    return losses[0] if unbatched else losses


# ------------------------------------------------------------------ distributions

def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || q) per element, with ``input`` = log q:
    target (log target - input), where 0 log 0 = 0; with ``log_target`` the
    target is given as log-probabilities too: exp(target) (target - input).

    'batchmean' divides the sum by the batch size (input.shape[0]): the
    divergence per sample, the mathematically meaningful mean. 'mean'
    divides by the number of elements, as in PyTorch.

    Example
    -------
    >>> q = log_softmax(chainrule.tensor([[1.0, 2.0, 3.0]]), dim=1)
    >>> kl_div(q, chainrule.tensor([[0.2, 0.3, 0.5]]), reduction="batchmean")
    tensor(0.07795301)
    """
    name = "kl_div"
    reduction = resolve_reduction(name, size_average, reduce, reduction, KL_DIV_REDUCTIONS)
    _check_pair(name, input, target)
    if log_target:
        losses = exp(target) * (target - input)
    else:
        losses = target * log(where(target == 0, 1.0, target)) - target * input  # 0 log 0 = 0
    if reduction == "batchmean":
        return losses.sum() / input.shape[0] if input.ndim else losses.sum()
    return _reduce(losses, reduction)


def _floored(x, floor):
    """max(x, floor) in value, with the gradient of x itself. PyTorch floors a
    variance or a norm in place under no_grad: the floor keeps a division
    finite without cutting the gradient, which is that of the unfloored x."""
    # x - x.detach() is exactly 0, so the floored value is exactly the floor.
    return where(constant(x.data < floor), x - x.detach() + floor, x)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of a count ``target`` under a Poisson
    distribution of rate λ, dropping the constant log(target!):

        exp(input) - target * input          (log_input=True: input is log λ)
        input - target * log(input + eps)    (log_input=False: input is λ)

    ``full`` adds Stirling's approximation of log(target!),
    target log target - target + ½ log(2π target), where target > 1 (it is
    0 for target 0 or 1). Predicting log λ is the stable choice: any input
    gives a positive rate.

    Example
    -------
    >>> poisson_nll_loss(chainrule.tensor([0.0, 1.0]), chainrule.tensor([1.0, 3.0]), reduction="none")
    tensor([ 1.        , -0.28171802])
    """
    name = "poisson_nll_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target, float_target=False)
    target = target.to(input.dtype)
    losses = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        counted = constant(target.data > 1)
        # Where the term is not counted, t = 1 keeps log(t) finite, so that a target
        # of 0 gets the gradient 0 (PyTorch's is nan there: 0 times log 0).
        t = where(counted, target, 1.0)
        stirling = t * log(t) - t + 0.5 * log(2 * math.pi * t)
        losses = losses + where(counted, stirling, 0.0)
    return _reduce(losses, reduction)


def _variance_like(name, var, input):
    """``var`` shaped to broadcast against the input, by PyTorch's rules: the
    input's shape; its shape without the last dim (homoscedastic over that
    dim); the input's dims with one of them 1; or a number (one variance for all)."""
    xp = array_module(input.data)
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError(f"{name}: var must not be negative, got {var}")
        return constant(xp.full(input.shape, var, dtype=input.dtype))
    _check_float(name, "var", var)
    if (var.data < 0).any():
        raise ValueError(f"{name}: var has negative entries (the smallest is {var.data.min()})")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.unsqueeze(-1)
        elif var.ndim != input.ndim or [n for n, m in zip(var.shape, input.shape) if n != m] != [1]:
            raise ValueError(f"{name}: var has shape {var.shape}, but an input of shape {input.shape} needs a "
                             f"var of its shape, of its shape without the last dim {input.shape[:-1]}, or of "
                             f"its shape with one dim 1")
    return var.to(input.dtype)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input``
    and variance ``var``:

        ½ (log max(var, eps) + (input - target)² / max(var, eps))  (+ ½ log 2π with ``full``)

    ``var`` has the input's shape (one variance per prediction), its shape
    without the last dim or with one dim 1 (shared along that dim), or is a
    number. It must not be negative; the floor ``eps`` keeps the division
    finite, yet the gradient is the one at the floored value with respect to
    var itself, as in PyTorch (the floor does not cut it to zero). ``target``
    has the input's shape, or broadcasts to it.

    Example
    -------
    >>> gaussian_nll_loss(chainrule.tensor([1.0, 2.0]), chainrule.tensor([0.0, 2.0]), chainrule.tensor([1.0, 4.0]))
    tensor(0.5965736)
    """
    name = "gaussian_nll_loss"
    reduction = resolve_reduction(name, None, None, reduction)
    _check_float(name, "input", input)
    target = _broadcast_weight(name, "target", target, input)
    var = _floored(_variance_like(name, var, input), eps)
    losses = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(losses, reduction)


# ------------------------------------------------------------------ margins and rankings
#
# NOTE: PyTorch builds margin_ranking, hinge_embedding, cosine_embedding and triplet_margin
# from clamp_min, whose gradient passes at exactly the margin, and multi_margin and
# multilabel_margin from a strict z > 0, whose gradient does not. clamp(min=0) and relu give
# the two, so the derivative at the kink matches PyTorch's in each loss.

def _broadcast_shape(name, tensors, roles, same_ndim=True):
    """The shape the tensors broadcast to. Where PyTorch requires it (``same_ndim``), they
    must have one number of dims, so an (N, 1) column never meets an (N,) row."""
    shapes = [t.shape for t in tensors]
    described = ", ".join(f"{role} {shape}" for role, shape in zip(roles, shapes))
    if same_ndim and len({len(shape) for shape in shapes}) > 1:
        raise ValueError(f"{name}: {described} must have the same number of dims")
    try:
        return array_module(tensors[0].data).broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{name}: {described} do not broadcast to one shape") from None


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """Ranking hinge: max(0, -target (input1 - input2) + margin), with target 1
    where input1 should rank higher by at least ``margin`` and -1 where input2
    should. The three tensors have the same number of dims and broadcast.

    Example
    -------
    >>> margin_ranking_loss(chainrule.tensor([2.0, 0.5]), chainrule.tensor([1.0, 1.0]),
    ...                     chainrule.tensor([1.0, 1.0]), margin=0.5, reduction="none")
    tensor([0., 1.])
    """
    name = "margin_ranking_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_float(name, "input1", input1)
    _check_float(name, "input2", input2)
    _broadcast_shape(name, (input1, input2, target), ("input1", "input2", "target"))
    target = target.to(input1.dtype)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """For a distance ``input`` and a target of 1 (similar) or -1 (dissimilar):
    input where target is 1, max(0, margin - input) where it is -1. (A target
    that is neither counts both terms, as in PyTorch.)

    Example
    -------
    >>> hinge_embedding_loss(chainrule.tensor([0.3, 0.3, 1.5]), chainrule.tensor([1.0, -1.0, -1.0]),
    ...                      reduction="none")
    tensor([0.3, 0.7, 0. ])
    """
    name = "hinge_embedding_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target, float_target=False)
    labels = target.data
    losses = where(labels != 1, (margin - input).clamp(min=0), 0.0) + where(labels != -1, input, 0.0)
    return _reduce(losses, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Logistic loss for targets of 1 or -1: log(1 + exp(-target input)).

    Computed as softplus(-target input), so it stays finite for any input
    (PyTorch's overflows to inf, with a nan gradient, once -target input
    passes about 88 in float32 or 709 in float64), and its gradient is
    -target sigmoid(-target input).

    Example
    -------
    >>> soft_margin_loss(chainrule.tensor([2.0, -1000.0]), chainrule.tensor([1.0, 1.0]), reduction="none")
    tensor([1.26928e-01, 1.00000e+03])
    """
    name = "soft_margin_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target, float_target=False)
    return _reduce(softplus(-target.to(input.dtype) * input, threshold=math.inf), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Multi-label logistic loss: binary cross-entropy of every class's logit
    against its 0/1 target, weighted by ``weight`` (which broadcasts to the
    input), averaged over the classes (the last dim); one loss per sample.

    Example
    -------
    >>> multilabel_soft_margin_loss(chainrule.tensor([[2.0, -1.0, 0.0]]), chainrule.tensor([[1.0, 0.0, 1.0]]))
    tensor(0.37777892)
    """
    name = "multilabel_soft_margin_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_pair(name, input, target, float_target=False)
    if input.ndim == 0:
        raise ValueError(f"{name}: the input needs a class dimension (its last), got a 0-d tensor")
    target = target.to(input.dtype)
    # -log sigmoid(x) = softplus(-x) and -log sigmoid(-x) = softplus(x), exact for any logit.
    losses = target * softplus(-input, threshold=math.inf) + (1 - target) * softplus(input, threshold=math.inf)
    if weight is not None:
        losses = losses * _broadcast_weight(name, "weight", weight, input)
    return _reduce(losses.sum(dim=-1) / input.shape[-1], reduction)


def _check_scores(name, input):
    """Multi-class margin losses: a floating input of shape (C,) or (N, C), C > 0."""
    _check_float(name, "input", input)
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(f"{name}: the input must have shape (C,) or (N, C) with C > 0 classes, "
                         f"got shape {input.shape}")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss (a multi-class SVM): for each sample with class
    y and scores x over C classes,

        weight[y] / C * sum over i != y of max(0, margin - x[y] + x[i])^p

    so the loss is 0 once the true class beats every other by ``margin``.
    ``p`` is 1 or 2; ``weight`` (C,) is not differentiable, as in PyTorch.

    Example
    -------
    >>> multi_margin_loss(chainrule.tensor([[0.0, 1.5, 1.0]]), chainrule.tensor([1]))   # (1 - 1.5 + 1) / 3
    tensor(0.16666667)
    """
    name = "multi_margin_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{name}: p must be 1 or 2, got {p}")
    _check_scores(name, input)
    classes, _ = _class_indices(name, input, target, ignore_index=None)
    xp = array_module(input.data)
    hinges = (margin - gather(input, -1, classes[..., None]) + input).relu()
    if p == 2:
        hinges = hinges * hinges
    if weight is not None:
        hinges = hinges * constant(_class_weights(name, weight, input)[classes][..., None])
    hinges = where(classes[..., None] == xp.arange(input.shape[-1]), 0.0, hinges)  # the true class is no rival
    return _reduce(hinges.sum(dim=-1) / input.shape[-1], reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss. Each row of ``target`` lists a sample's classes
    by index, ended by -1 if it has fewer than C (what follows the -1 does not
    count, but must still be valid); with those classes Y and scores x over C classes,

        1/C * sum over j in Y, i not in Y of max(0, 1 - (x[j] - x[i]))

    so every listed class must beat every unlisted one by 1. A class listed
    twice counts twice, as in PyTorch.

    Example
    -------
    >>> multilabel_margin_loss(chainrule.tensor([[0.1, 0.2, 0.4, 0.8]]), chainrule.tensor([[3, 0, -1, 1]]))
    tensor(0.85)
    """
    name = "multilabel_margin_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_scores(name, input)
    if target.dtype.kind not in "iu":
        raise ValueError(f"{name}: target must hold integer class indices, got {target.dtype} "
                         f"of shape {target.shape}")
    if target.shape != input.shape:
        raise ValueError(f"{name}: target has shape {target.shape} but the input has shape {input.shape}; "
                         f"they must match (class indices, each row ended by -1)")
    labels, count = target.data, input.shape[-1]
    if ((labels < -1) | (labels >= count)).any():
        raise ValueError(f"{name}: target holds {labels[(labels < -1) | (labels >= count)].flat[0]}, but the "
                         f"input has {count} classes (valid entries are 0 to {count - 1}, or -1 to end a row)")
    xp = array_module(labels)
    listed = xp.logical_and.accumulate(labels != -1, axis=-1)  # the entries before a row's first -1
    width = int(listed.sum(axis=-1).max(initial=0))  # the longest list: no need to compare beyond it
    listed = listed[..., :width]
    labels = xp.where(listed, labels[..., :width], 0)
    is_label = ((labels[..., None] == xp.arange(count)) & listed[..., None]).any(axis=-2)
    # margins[..., j, i] = 1 - (x[label j] - x[i]), counted for listed j and unlisted i.
    margins = 1 - gather(input, -1, labels).unsqueeze(-1) + input.unsqueeze(-2)
    counted = listed[..., :, None] & ~is_label[..., None, :]
    return _reduce(where(counted, margins.relu(), 0.0).sum(dim=(-2, -1)) / count, reduction)


# ------------------------------------------------------------------ embeddings

def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm distance ||x1 - x2 + eps||_p along the last dim, for rows
    that broadcast against each other. ``eps`` (added, as in PyTorch) keeps
    the gradient defined where x1 equals x2. ``p`` is 0 (the number of
    differing elements, which has no gradient), a positive number or ±inf.

    Example
    -------
    >>> pairwise_distance(chainrule.tensor([[0.0, 0.0]]), chainrule.tensor([[3.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    name = "pairwise_distance"
    _check_float(name, "x1", x1)
    _check_float(name, "x2", x2)
    _broadcast_shape(name, (x1, x2), ("x1", "x2"), same_ndim=False)
    if not (p >= 0 or p == -math.inf):
        raise ValueError(f"{name}: p must be 0, positive, inf or -inf, got {p}")
    difference = x1 - x2 + eps
    if p == 0:
        return difference.sign().abs().sum(dim=-1, keepdim=keepdim)  # a count: its gradient is 0
    return norm(difference, p, dim=-1, keepdim=keepdim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 · x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim``, for tensors
    that broadcast. Each input is divided by its norm before the product, so
    the result stays within [-1, 1]. As in PyTorch, the floor ``eps`` guards
    the division without cutting the gradient through the norm.

    Example
    -------
    >>> cosine_similarity(chainrule.tensor([[1.0, 0.0]]), chainrule.tensor([[1.0, 1.0]]))
    tensor([0.70710677])
    """
    name = "cosine_similarity"
    _check_float(name, "x1", x1)
    _check_float(name, "x2", x2)
    shape = _broadcast_shape(name, (x1, x2), ("x1", "x2"), same_ndim=False)
    normalize_dims(dim, len(shape), name)
    # Broadcast first: along a broadcast dim, the norm is that of the repeated vector.
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    unit1 = x1 / _floored(norm(x1, 2, dim=dim, keepdim=True), eps)
    unit2 = x2 / _floored(norm(x2, 2, dim=dim, keepdim=True), eps)
    return (unit1 * unit2).sum(dim=dim)


# PyTorch's floor under the squared norms in cosine_embedding_loss: 1e-12 rounded to
# float32, as for binary cross-entropy, which matters where a vector is 0.
_COSINE_EMBEDDING_EPSILON = 9.999999960041972e-13


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """For pairs of embeddings (rows of ``input1`` and ``input2``) and a target
    of 1 (similar) or -1 (dissimilar): 1 - cos where target is 1,
    max(0, cos - margin) where it is -1, and 0 for any other target. The
    cosine is x1 · x2 / sqrt((||x1||² + ε) (||x2||² + ε)), ε = 1e-12, as in PyTorch.

    Example
    -------
    >>> cosine_embedding_loss(chainrule.tensor([[1.0, 0.0], [1.0, 0.0]]), chainrule.tensor([[1.0, 1.0], [1.0, 1.0]]),
    ...                       chainrule.tensor([1, -1]), reduction="none")
    tensor([0.29289323, 0.70710677])
    """
    name = "cosine_embedding_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    _check_float(name, "input1", input1)
    _check_float(name, "input2", input2)
    shape = _broadcast_shape(name, (input1, input2), ("input1", "input2"))
    if len(shape) not in (1, 2):
        raise ValueError(f"{name}: the inputs must have shape (D,) or (N, D), got {input1.shape} and {input2.shape}")
    if target.shape != shape[:-1]:
        raise ValueError(f"{name}: target has shape {target.shape}, but inputs of shape {shape} need one "
                         f"target per pair, shape {shape[:-1]}")
    product = (input1 * input2).sum(dim=-1)
    squares1 = (input1 * input1).sum(dim=-1) + _COSINE_EMBEDDING_EPSILON
    squares2 = (input2 * input2).sum(dim=-1) + _COSINE_EMBEDDING_EPSILON
    cos = product / (squares1 * squares2).sqrt()
    labels = target.data
    losses = where(labels == 1, 1 - cos, 0.0) + where(labels == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(losses, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """Triplet loss: max(0, margin + d(anchor, positive) - d(anchor, negative)),
    with d the ``pairwise_distance`` (p-norm, ``eps`` added) along the last
    dim: each anchor must be nearer its positive than its negative by
    ``margin``. With ``swap``, d(anchor, negative) becomes the smaller of it
    and d(positive, negative) (Balntas et al. 2016).

    Example
    -------
    >>> anchor = chainrule.tensor([[0.0, 0.0]])
    >>> triplet_margin_loss(anchor, chainrule.tensor([[1.0, 0.0]]), chainrule.tensor([[0.0, 1.5]]), eps=0.0)
    tensor(0.5)
    """
    name = "triplet_margin_loss"
    reduction = resolve_reduction(name, size_average, reduce, reduction)
    if not margin > 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    for role, tensor in [("anchor", anchor), ("positive", positive), ("negative", negative)]:
        _check_float(name, role, tensor)
    _broadcast_shape(name, (anchor, positive, negative), ("anchor", "positive", "negative"))
    to_positive = pairwise_distance(anchor, positive, p, eps)
    to_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        to_negative = minimum(to_negative, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + to_positive - to_negative).clamp(min=0), reduction)
