"""Loss functions: every loss and option against PyTorch in float64 (values and
the gradients of input and target), finite differences to second order,
stability at extreme logits, the fused cross-entropy node's shape in the
graph, float32 in and out, and the errors a user can cause."""
import math

import numpy
import pytest

import chainrule
from chainrule.ops import loss as L
from chainrule.ops.linalg import matmul
from chainrule.ops.softmax import log_softmax
from helpers import check_gradients, compare_with_torch, requires_torch, torch

# torch.nn.functional.kl_div warns that 'mean' is not 'batchmean' on every call.
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")

REDUCTIONS = ["mean", "sum", "none"]
RNG = numpy.random.default_rng(2024)


def uniform(shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def probabilities(shape, axis):
    p = uniform(shape, 0.1, 1.0)
    return p / p.sum(axis=axis, keepdims=True)


def classes(shape, count, ignored=()):
    """Class indices in [0, count), with the flat positions in ``ignored`` set to -100 (ignored)."""
    indices = RNG.integers(0, count, size=shape)
    indices.reshape(-1)[list(ignored)] = -100
    return indices


def in_each_framework(name, kwargs):
    """Loss ``name`` from chainrule and from PyTorch, called with ``kwargs``;
    NumPy arrays among them (weight, pos_weight) become constant tensors."""
    def ours(*inputs):
        options = {k: chainrule.tensor(v) if isinstance(v, numpy.ndarray) else v for k, v in kwargs.items()}
        return getattr(L, name)(*inputs, **options)

    def theirs(*inputs):
        options = {k: torch.tensor(v) if isinstance(v, numpy.ndarray) else v for k, v in kwargs.items()}
        return getattr(torch.nn.functional, name)(*inputs, **options)

    return ours, theirs


# (loss name, keyword arguments, input arrays), each with an id. Float arrays require grad
# in the comparisons, so target gradients are checked wherever PyTorch has them.
CASES = []


def case(name, arrays, tag="", **kwargs):
    label = ",".join(f"{k}={'array' if isinstance(v, numpy.ndarray) else v}" for k, v in kwargs.items())
    CASES.append(pytest.param(name, kwargs, arrays, id=f"{name}[{tag}{label}]"))


# regression
PREDICTION, TARGET, ELEMENT_WEIGHT = uniform((4, 3)), uniform((4, 3)), uniform((4, 3), 0.1, 2.0)
for _reduction in REDUCTIONS:
    for _name in ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]:
        case(_name, [PREDICTION, TARGET], reduction=_reduction)
    for _name in ["mse_loss", "l1_loss", "huber_loss"]:  # 'mean' divides by sum(weight) for mse and l1 only
        case(_name, [PREDICTION, TARGET], reduction=_reduction, weight=ELEMENT_WEIGHT)
for _delta in [0.5, 2.5]:
    case("huber_loss", [PREDICTION, TARGET], delta=_delta)
for _beta in [0.3, 2.5, 0.0]:  # beta 0 is the L1 loss
    case("smooth_l1_loss", [PREDICTION, TARGET], beta=_beta)

# binary classification
PROBS, LOGITS, BINARY = uniform((4, 3), 0.05, 0.95), uniform((4, 3), -4.0, 4.0), uniform((4, 3), 0.0, 1.0)
CLASS_WEIGHT = uniform((3,), 0.2, 2.0)
for _reduction in REDUCTIONS:
    case("binary_cross_entropy", [PROBS, BINARY], reduction=_reduction)
    case("binary_cross_entropy", [PROBS, BINARY], reduction=_reduction, weight=ELEMENT_WEIGHT)
    case("binary_cross_entropy_with_logits", [LOGITS, BINARY], reduction=_reduction)
    case("binary_cross_entropy_with_logits", [LOGITS, BINARY], reduction=_reduction,
         weight=CLASS_WEIGHT, pos_weight=uniform((3,), 0.5, 4.0))
case("binary_cross_entropy", [PROBS, BINARY], weight=CLASS_WEIGHT)  # broadcast along rows
case("binary_cross_entropy_with_logits", [LOGITS, BINARY], pos_weight=uniform((3,), 0.5, 4.0))
case("binary_cross_entropy_with_logits", [LOGITS, BINARY], weight=ELEMENT_WEIGHT)

# multi-class classification: 5 samples, 4 classes; sample 1 is ignored
SCORES = uniform((5, 4), -3.0, 3.0)
LABELS = numpy.array([1, -100, 0, 3, 3])
WEIGHT4 = uniform((4,), 0.2, 2.0)
SCORES_K, LABELS_K = uniform((2, 4, 3, 2), -3.0, 3.0), classes((2, 3, 2), 4, ignored=[4])
for _reduction in REDUCTIONS:
    for _options in [{}, {"weight": WEIGHT4}, {"label_smoothing": 0.2}, {"weight": WEIGHT4, "label_smoothing": 0.3}]:
        case("cross_entropy", [SCORES, LABELS], reduction=_reduction, **_options)
        case("cross_entropy", [SCORES, probabilities((5, 4), 1)], "probabilities,", reduction=_reduction,
             **_options)
    case("cross_entropy", [SCORES_K, LABELS_K], "K-dim,", reduction=_reduction, weight=WEIGHT4,
         label_smoothing=0.1)
    # The common case takes a shorter path through the node: no weight, no smoothing, nothing ignored.
    case("cross_entropy", [SCORES, numpy.array([1, 2, 0, 3, 3])], "every index counts,", reduction=_reduction)
    case("cross_entropy", [SCORES_K, classes((2, 3, 2), 4)], "K-dim, every index counts,", reduction=_reduction)
    case("cross_entropy", [SCORES_K, probabilities((2, 4, 3, 2), 1)], "K-dim probabilities,",
         reduction=_reduction, weight=WEIGHT4, label_smoothing=0.1)
    case("cross_entropy", [uniform((4,)), numpy.array(2)], "unbatched,", reduction=_reduction, label_smoothing=0.1)
    case("nll_loss", [SCORES, LABELS], reduction=_reduction)
    case("nll_loss", [SCORES, LABELS], reduction=_reduction, weight=WEIGHT4)
    case("nll_loss", [SCORES_K, LABELS_K], "K-dim,", reduction=_reduction, weight=WEIGHT4)
    case("nll_loss", [uniform((4,)), numpy.array(1)], "unbatched,", reduction=_reduction)
# ignore_index may name a real class (a padding token, say): its samples drop out.
case("cross_entropy", [SCORES, numpy.array([1, 2, 0, 3, 2])], weight=WEIGHT4, ignore_index=2, label_smoothing=0.1)
case("nll_loss", [SCORES, numpy.array([1, 2, 0, 3, 2])], weight=WEIGHT4, ignore_index=2)

# distributions
LOG_Q = numpy.log(probabilities((3, 4), 1))
for _reduction in ["mean", "batchmean", "sum", "none"]:
    case("kl_div", [LOG_Q, probabilities((3, 4), 1)], reduction=_reduction)
    case("kl_div", [LOG_Q, numpy.log(probabilities((3, 4), 1))], reduction=_reduction, log_target=True)

# likelihoods. full=True adds Stirling's term for a target above 1 only, so the loss jumps
# at 1; its targets stay off 1 here (and off 0, where PyTorch's target gradient is nan).
COUNTS, RATES = RNG.integers(0, 6, (4, 3)).astype(float), uniform((4, 3), 0.5, 3.0)
for _reduction in REDUCTIONS:
    for _full in [False, True]:
        _counts = COUNTS + 0.5 if _full else COUNTS
        case("poisson_nll_loss", [PREDICTION, _counts], reduction=_reduction, full=_full)
        case("poisson_nll_loss", [RATES, _counts], reduction=_reduction, full=_full, log_input=False)
        case("gaussian_nll_loss", [PREDICTION, TARGET, RATES], reduction=_reduction, full=_full)
    case("gaussian_nll_loss", [PREDICTION, TARGET, RATES[:, 0]], "var (N,),", reduction=_reduction)
case("gaussian_nll_loss", [PREDICTION, TARGET, RATES[:, :1]], "var (N, 1),")
case("gaussian_nll_loss", [PREDICTION, TARGET, RATES[:1]], "var (1, C),")
case("gaussian_nll_loss", [PREDICTION, TARGET[:1], RATES], "target (1, C),")
case("gaussian_nll_loss", [PREDICTION, TARGET], var=0.7)
case("poisson_nll_loss", [RATES, COUNTS], log_input=False, eps=0.3)

# margins and rankings: targets of -1 and 1, and 0 where PyTorch gives it a meaning
SIGNS = numpy.where(uniform((4, 3)) > 0, 1, -1)
SIGNS_AND_ZERO = SIGNS.copy()
SIGNS_AND_ZERO[0, :2] = 0
SCORES_43 = uniform((4, 3), -1.0, 1.0)  # within a margin of each other, so that the hinges are active
MULTI_LABELS = numpy.array([[0, 2, -1], [1, -1, 0], [-1, 0, 1], [2, 2, 1]])  # -1 ends a row; 2 counts twice
for _reduction in REDUCTIONS:
    case("margin_ranking_loss", [PREDICTION, TARGET, SIGNS.astype(float)], reduction=_reduction, margin=0.5)
    case("hinge_embedding_loss", [RATES, SIGNS_AND_ZERO], reduction=_reduction, margin=2.0)
    case("soft_margin_loss", [LOGITS, SIGNS], reduction=_reduction)
    case("multilabel_soft_margin_loss", [LOGITS, BINARY], reduction=_reduction)
    case("multilabel_soft_margin_loss", [LOGITS, BINARY], reduction=_reduction, weight=CLASS_WEIGHT)
    case("multi_margin_loss", [SCORES_43, numpy.array([0, 2, 1, 2])], reduction=_reduction)
    case("multi_margin_loss", [SCORES_43, numpy.array([0, 2, 1, 2])], reduction=_reduction, p=2, margin=0.7,
         weight=CLASS_WEIGHT)
    case("multilabel_margin_loss", [SCORES_43, MULTI_LABELS], reduction=_reduction)
case("margin_ranking_loss", [PREDICTION, TARGET[:1], SIGNS[:, :1].astype(float)], "broadcast,")
case("multilabel_soft_margin_loss", [LOGITS, BINARY], weight=ELEMENT_WEIGHT)
case("multilabel_soft_margin_loss", [uniform((3,)), uniform((3,), 0.0, 1.0)], "unbatched,", reduction="none")
case("multi_margin_loss", [uniform((4,)), numpy.array(3)], "unbatched,", p=2)
case("multilabel_margin_loss", [uniform((4,)), numpy.array([3, 0, -1, 2])], "unbatched,")

# embeddings
ANCHOR, POSITIVE, NEGATIVE = uniform((4, 3)), uniform((4, 3)), uniform((4, 3))
for _reduction in REDUCTIONS:
    case("cosine_embedding_loss", [PREDICTION, TARGET, SIGNS_AND_ZERO[:, 0]], reduction=_reduction, margin=0.2)
    case("triplet_margin_loss", [ANCHOR, POSITIVE, NEGATIVE], reduction=_reduction, margin=2.0)
    case("triplet_margin_loss", [ANCHOR, POSITIVE, NEGATIVE], reduction=_reduction, margin=2.0, swap=True)
case("cosine_embedding_loss", [PREDICTION[0], TARGET[0], numpy.array(-1)], "unbatched,", margin=-0.5)
for _p in [1, 3, 0.5, math.inf]:
    case("triplet_margin_loss", [ANCHOR, POSITIVE, NEGATIVE], margin=1.5, p=_p, eps=0.01)
case("triplet_margin_loss", [ANCHOR, POSITIVE[:1], NEGATIVE], "broadcast,", margin=2.0, swap=True)
for _p in [2, 1, 3, 0.5, 0, math.inf, -math.inf]:
    case("pairwise_distance", [ANCHOR, POSITIVE], p=_p)
case("pairwise_distance", [ANCHOR, POSITIVE[0]], "broadcast,", keepdim=True, eps=0.0)
case("pairwise_distance", [ANCHOR[0, 0], POSITIVE[0, 0]], "0-d,")
case("cosine_similarity", [ANCHOR, POSITIVE])
case("cosine_similarity", [ANCHOR[:1], POSITIVE], "broadcast,", dim=0)
case("cosine_similarity", [uniform((2, 3, 4)), uniform((2, 3, 4))], dim=-1)


@requires_torch
@pytest.mark.parametrize("name, kwargs, arrays", CASES)
def test_loss_matches_torch(name, kwargs, arrays):
    ours, theirs = in_each_framework(name, kwargs)
    compare_with_torch(ours, theirs, arrays)


@pytest.mark.parametrize("name, kwargs, arrays", CASES)
def test_loss_gradients(name, kwargs, arrays):
    ours, _ = in_each_framework(name, kwargs)
    check_gradients(ours, arrays)


@pytest.mark.parametrize("name, kwargs, arrays", CASES)
def test_float32_in_float32_out(name, kwargs, arrays):
    # The weights stay float64: a loss follows its input's dtype, not its weight's.
    single = [a.astype(numpy.float32) if a.dtype.kind == "f" else a for a in arrays]
    inputs = [chainrule.tensor(a, requires_grad=a.dtype.kind == "f") for a in single]
    ours, _ = in_each_framework(name, kwargs)
    loss = ours(*inputs)
    loss.sum().backward()
    assert loss.dtype == numpy.float32
    assert all(t.grad.dtype == numpy.float32 for t in inputs if t.requires_grad)
    # float32 carries about 7 digits, so the float64 result is matched to 1e-5.
    reference = ours(*[chainrule.tensor(a) for a in arrays])
    numpy.testing.assert_allclose(loss.data, reference.data, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ stability

EXTREME = numpy.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])


@requires_torch
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "weight": numpy.array([1.0, 2.0, 0.5])}],
                         ids=["plain", "smoothed-weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_stable_at_extreme_logits(reduction, options):
    ours, theirs = in_each_framework("cross_entropy", dict(options, reduction=reduction))
    compare_with_torch(ours, theirs, [EXTREME, numpy.array([1, 2, 0])])
    for target in [numpy.array([1, 2, 0]), probabilities((3, 3), 1)]:
        logits = chainrule.tensor(EXTREME, requires_grad=True)
        loss = ours(logits, chainrule.tensor(target))
        loss.sum().backward()
        assert numpy.isfinite(loss.data).all() and numpy.isfinite(logits.grad.data).all()


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_is_stable_at_extreme_logits(reduction):
    logits = numpy.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0, 35.0])
    target = numpy.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.0])
    ours, theirs = in_each_framework("binary_cross_entropy_with_logits",
                                     {"reduction": reduction, "pos_weight": numpy.array(2.0)})
    compare_with_torch(ours, theirs, [logits, target])
    x = chainrule.tensor(logits, requires_grad=True)
    loss = ours(x, chainrule.tensor(target))
    loss.sum().backward()
    assert numpy.isfinite(loss.data).all() and numpy.isfinite(x.grad.data).all()


def test_bce_with_logits_float32_at_extreme_logits():
    x = chainrule.tensor(numpy.array([1000.0, -1000.0, 88.0, -88.0], dtype=numpy.float32), requires_grad=True)
    loss = L.binary_cross_entropy_with_logits(x, chainrule.tensor(numpy.array([0.0, 1.0, 1.0, 0.0], numpy.float32)),
                                              reduction="none")
    loss.sum().backward()
    numpy.testing.assert_allclose(loss.data, [1000.0, 1000.0, 0.0, 0.0], atol=1e-30)
    numpy.testing.assert_allclose(x.grad.data, [1.0, -1.0, 0.0, 0.0], atol=1e-30)


@requires_torch
def test_cross_entropy_with_a_masked_class_stays_finite():
    # A -inf logit (a class masked out) is fine as long as it is not the target.
    scores = SCORES.copy()
    scores[:, 2] = -math.inf
    ours, theirs = in_each_framework("cross_entropy", {"reduction": "none"})
    compare_with_torch(ours, theirs, [scores, numpy.array([1, 0, 0, 3, 3])])
    ours, theirs = in_each_framework("nll_loss", {"reduction": "sum"})
    compare_with_torch(ours, theirs, [scores, numpy.array([1, -100, 0, 3, 3])])


@requires_torch
def test_binary_cross_entropy_at_certain_predictions_matches_torch():
    # log 0 is floored at -100, and the gradient's denominator p (1 - p) at 1e-12.
    p = numpy.array([0.0, 1.0, 0.0, 1.0, 1e-50])
    y = numpy.array([0.0, 1.0, 1.0, 0.0, 0.5])
    ours, theirs = in_each_framework("binary_cross_entropy", {"reduction": "none"})
    compare_with_torch(ours, theirs, [p, y])  # the target's gradient, log(1 - p) - log p, is infinite in both
    loss = L.binary_cross_entropy(chainrule.tensor(p), chainrule.tensor(y), reduction="none")
    numpy.testing.assert_array_equal(loss.data, [0.0, 0.0, 100.0, 100.0, 50.0])


@requires_torch
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_gives_nan_mean_and_zero_gradient(name):
    ours, theirs = in_each_framework(name, {})
    compare_with_torch(ours, theirs, [SCORES, numpy.full(5, -100)])
    x = chainrule.tensor(SCORES, requires_grad=True)
    loss = ours(x, chainrule.tensor(numpy.full(5, -100)))
    loss.backward()
    assert math.isnan(loss.item())
    numpy.testing.assert_array_equal(x.grad.data, 0.0)


# ------------------------------------------------------------------ the fused cross-entropy node

def test_cross_entropy_is_one_node_whose_only_edge_is_the_logits():
    x = chainrule.tensor(uniform((5, 6)), requires_grad=True)
    w = chainrule.tensor(uniform((6, 4)), requires_grad=True)
    logits = matmul(x, w)
    for options in [{}, {"weight": chainrule.tensor(WEIGHT4), "label_smoothing": 0.1}]:
        loss = L.cross_entropy(logits, chainrule.tensor(LABELS), **options)
        assert type(loss.grad_fn) is L.CrossEntropy
        assert loss.grad_fn.next_functions == (logits.grad_fn,)
    # A leaf's edge is the leaf itself; a probability target that needs no gradient has none.
    leaf = chainrule.tensor(SCORES, requires_grad=True)
    assert L.cross_entropy(leaf, chainrule.tensor(LABELS)).grad_fn.next_functions == (leaf,)
    soft = L.cross_entropy(logits, chainrule.tensor(probabilities((5, 4), 1)))
    assert type(soft.grad_fn) is L.CrossEntropy
    assert soft.grad_fn.next_functions == (logits.grad_fn, None)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = chainrule.tensor(SCORES, requires_grad=True)
    target = numpy.array([1, 0, 0, 3, 2])
    L.cross_entropy(logits, chainrule.tensor(target), reduction="sum").backward()
    softmax = numpy.exp(SCORES) / numpy.exp(SCORES).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(logits.grad.data, softmax - numpy.eye(4)[target], rtol=1e-12, atol=1e-15)


@requires_torch
@pytest.mark.parametrize("target, weighted", [(LABELS, True), (probabilities((5, 4), 1), True),
                                              (numpy.array([1, 2, 0, 3, 3]), False)],
                         ids=["indices", "probabilities", "plain indices"])
def test_cross_entropy_second_derivative_matches_torch(target, weighted):
    """A Hessian-vector product through the fused node, against PyTorch's."""
    direction = uniform(SCORES.shape)

    def hvp(lib, grad, tensor):
        logits = tensor(SCORES, requires_grad=True)
        options = dict(weight=tensor(WEIGHT4), label_smoothing=0.2) if weighted else {}
        loss = lib(logits, tensor(target), **options)
        (g,) = grad(loss, logits, create_graph=True)
        return grad((g * tensor(direction)).sum(), logits)[0]

    ours = hvp(L.cross_entropy, lambda y, x, **k: chainrule.grad(y, x, **k), chainrule.tensor)
    theirs = hvp(torch.nn.functional.cross_entropy, lambda y, x, **k: torch.autograd.grad(y, x, **k), torch.tensor)
    numpy.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-13)


def test_cross_entropy_gradient_ignores_a_later_change_to_the_target():
    logits = chainrule.tensor(SCORES, requires_grad=True)
    target = chainrule.tensor(numpy.array([1, 2, 0, 3, 3]))
    loss = L.cross_entropy(logits, target)
    target.data[:] = 0
    loss.backward()
    expected = chainrule.tensor(SCORES, requires_grad=True)
    L.cross_entropy(expected, chainrule.tensor(numpy.array([1, 2, 0, 3, 3]))).backward()
    numpy.testing.assert_array_equal(logits.grad.data, expected.grad.data)


def test_cross_entropy_backward_catches_in_place_change_of_logits():
    logits = chainrule.tensor(SCORES, requires_grad=True) * 1.0
    loss = L.cross_entropy(logits, chainrule.tensor(LABELS))
    with chainrule.no_grad():
        logits.add_(1.0)
    with pytest.raises(RuntimeError, match="cross_entropy: a tensor it saved for backward was modified"):
        loss.backward()


def test_legacy_size_average_and_reduce():
    x, t = chainrule.tensor(PREDICTION), chainrule.tensor(TARGET)
    with pytest.warns(DeprecationWarning, match="reduction='sum'"):
        summed = L.mse_loss(x, t, size_average=False)
    with pytest.warns(DeprecationWarning, match="reduction='none'"):
        each = L.mse_loss(x, t, reduce=False)
    numpy.testing.assert_allclose(summed.data, ((PREDICTION - TARGET) ** 2).sum())
    assert each.shape == PREDICTION.shape


# ------------------------------------------------------------------ errors

def _raises(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_unknown_reduction_is_named():
    x = chainrule.tensor(PREDICTION)
    for name in ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy_with_logits", "kl_div"]:
        _raises(f"{name}: reduction must be one of .*; got 'average'", getattr(L, name), x, x, reduction="average")
    _raises("cross_entropy: reduction .* got 'batchmean'", L.cross_entropy, chainrule.tensor(SCORES),
            chainrule.tensor(LABELS), reduction="batchmean")
    _raises("nll_loss: reduction .* got 'avg'", L.nll_loss, chainrule.tensor(SCORES), chainrule.tensor(LABELS),
            reduction="avg")


def test_class_index_errors():
    scores = chainrule.tensor(SCORES)
    for name in ["cross_entropy", "nll_loss"]:
        loss = getattr(L, name)
        _raises(rf"{name}: class-index targets must be integers, got float64 of shape \(5,\)",
                loss, scores, chainrule.tensor(LABELS.astype(float)))
        _raises(rf"{name}: target holds class index 4, but the input has 4 classes \(valid indices are 0 to 3",
                loss, scores, chainrule.tensor([1, 2, 4, 0, 0]))
        _raises(f"{name}: target holds class index -1", loss, scores, chainrule.tensor([1, 2, -1, 0, 0]))
        _raises(rf"{name}: target has shape \(4,\), but an input of shape \(5, 4\) needs class indices of "
                rf"shape \(5,\)", loss, scores, chainrule.tensor([1, 2, 3, 0]))
        _raises(rf"{name}: target has shape \(5,\), but an input of shape \(5, 4, 2\) needs class indices of "
                rf"shape \(5, 2\)", loss, chainrule.tensor(uniform((5, 4, 2))), chainrule.tensor(LABELS))
        _raises(rf"{name}: weight must hold one value per class, shape \(4,\), got shape \(3,\)",
                loss, scores, chainrule.tensor(LABELS), weight=chainrule.tensor(CLASS_WEIGHT))
        _raises(f"{name}: the class weight is not differentiable", loss, scores, chainrule.tensor(LABELS),
                weight=chainrule.tensor(WEIGHT4, requires_grad=True))
        _raises(f"{name}: the input needs a class dimension", loss, chainrule.tensor(1.0), chainrule.tensor(0))
        _raises(f"{name}: the input must be a floating-point tensor, got int64", loss,
                chainrule.tensor(LABELS), chainrule.tensor(0))


def test_cross_entropy_option_errors():
    scores = chainrule.tensor(SCORES)
    _raises("cross_entropy: label_smoothing must lie in .0, 1., got 1.5", L.cross_entropy, scores,
            chainrule.tensor(LABELS), label_smoothing=1.5)
    _raises(r"cross_entropy: ignore_index=0 applies to class-index targets only", L.cross_entropy, scores,
            chainrule.tensor(probabilities((5, 4), 1)), ignore_index=0)
    _raises("cross_entropy: the target .class probabilities.* must be a floating-point tensor, got int64",
            L.cross_entropy, scores, chainrule.tensor(numpy.ones((5, 4), dtype=numpy.int64)))


def test_elementwise_loss_errors():
    x = chainrule.tensor(PROBS)
    for name in ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "kl_div"]:
        _raises(rf"{name}: target has shape \(4, 1\) but the input has shape \(4, 3\)", getattr(L, name),
                x, chainrule.tensor(PROBS[:, :1]))
    for name in ["binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]:
        _raises(f"{name}: the target must be a floating-point tensor, got int64", getattr(L, name),
                x, chainrule.tensor(numpy.ones((4, 3), dtype=numpy.int64)))
    _raises(r"binary_cross_entropy: every element of the input must lie in \[0, 1\], got values from -2.0",
            L.binary_cross_entropy, chainrule.tensor([-2.0, 0.5]), chainrule.tensor([0.0, 1.0]))
    _raises(r"binary_cross_entropy: every element of the target must lie in \[0, 1\]",
            L.binary_cross_entropy, chainrule.tensor([0.5, 0.5]), chainrule.tensor([0.0, 3.0]))
    _raises(r"binary_cross_entropy_with_logits: pos_weight of shape \(4,\) does not broadcast to the "
            r"input's shape \(4, 3\)", L.binary_cross_entropy_with_logits, x, x, pos_weight=chainrule.tensor(WEIGHT4))
    _raises(r"mse_loss: weight has shape \(3,\) but the input has shape \(4, 3\)", L.mse_loss, x, x,
            weight=chainrule.tensor(CLASS_WEIGHT))
    _raises("huber_loss: delta must be positive, got 0", L.huber_loss, x, x, delta=0)
    _raises("smooth_l1_loss: beta must not be negative, got -1", L.smooth_l1_loss, x, x, beta=-1)


def test_nll_loss_after_log_softmax_equals_cross_entropy():
    logits = chainrule.tensor(SCORES_K, requires_grad=True)
    fused = L.cross_entropy(logits, chainrule.tensor(LABELS_K), weight=chainrule.tensor(WEIGHT4))
    (fused_grad,) = chainrule.grad(fused, logits)
    composed = L.nll_loss(log_softmax(logits, dim=1), chainrule.tensor(LABELS_K), weight=chainrule.tensor(WEIGHT4))
    (composed_grad,) = chainrule.grad(composed, logits)
    numpy.testing.assert_allclose(fused.data, composed.data, rtol=1e-13)
    numpy.testing.assert_allclose(fused_grad.data, composed_grad.data, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ margins, floors and edges of the new losses

def _column(*values):
    return numpy.array(values, dtype=float)


# At exactly the margin, a loss built on clamp_min passes the gradient and one built on a strict
# z > 0 does not; each row here puts every hinge at its kink (plus an active one to be sure).
KINKS = [
    pytest.param("margin_ranking_loss", {"margin": 0.5, "reduction": "none"},
                 [_column(1.0, 0.5, 1.0), _column(0.5, 1.0, 1.0), _column(1.0, -1.0, 0.5)], id="margin_ranking"),
    pytest.param("hinge_embedding_loss", {"reduction": "none"},
                 [_column(1.0, 0.5, 2.0, 0.3, 0.3), _column(-1, -1, -1, 1, 0.5)], id="hinge_embedding"),
    pytest.param("cosine_embedding_loss", {"margin": 0.0, "reduction": "none"},
                 [numpy.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]), numpy.array([[0.0, 1.0], [0.0, -1.0], [1.0, 2.0]]),
                  numpy.array([-1, -1, 1])], id="cosine_embedding"),
    pytest.param("triplet_margin_loss", {"eps": 0.0, "reduction": "none"},
                 [numpy.array([[0.0, 0.0]]), numpy.array([[1.0, 0.0]]), numpy.array([[2.0, 0.0]])], id="triplet"),
    # d(anchor, negative) = d(positive, negative) = 1: the minimum splits the gradient between them.
    pytest.param("triplet_margin_loss", {"eps": 0.0, "margin": 3.0, "swap": True, "reduction": "none"},
                 [numpy.array([[0.0, 0.0]]), numpy.array([[1.0, 0.0]]), numpy.array([[0.5, 0.5 * 3 ** 0.5]])],
                 id="triplet-swap-tie"),
    pytest.param("multi_margin_loss", {"reduction": "none"}, [numpy.array([[1.0, 2.0, 0.5], [1.0, 2.0, 1.5]]),
                                                               numpy.array([1, 1])], id="multi_margin"),
    pytest.param("multi_margin_loss", {"p": 2, "reduction": "none"},
                 [numpy.array([[1.0, 2.0, 0.5], [1.0, 2.0, 1.5]]), numpy.array([1, 1])], id="multi_margin-p2"),
    pytest.param("multilabel_margin_loss", {"reduction": "none"},
                 [numpy.array([[1.0, 2.0, 1.0], [1.0, 2.0, 1.5]]), numpy.array([[1, -1, 0], [1, 1, -1]])],
                 id="multilabel_margin"),
]


@requires_torch
@pytest.mark.parametrize("name, kwargs, arrays", KINKS)
def test_gradient_at_the_margin_matches_torch(name, kwargs, arrays):
    ours, theirs = in_each_framework(name, kwargs)
    compare_with_torch(ours, theirs, arrays)


def test_which_hinges_pass_the_gradient_at_the_margin():
    x = chainrule.tensor([1.0, 0.5], requires_grad=True)
    L.margin_ranking_loss(x, chainrule.tensor([0.5, 1.0]), chainrule.tensor([1.0, -1.0]), margin=0.5,
                          reduction="sum").backward()
    numpy.testing.assert_array_equal(x.grad.data, [-1.0, 1.0])  # clamp_min: passes at the kink
    x = chainrule.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    L.multi_margin_loss(x, chainrule.tensor([1])).backward()
    numpy.testing.assert_array_equal(x.grad.data, 0.0)  # a strict z > 0: does not


@requires_torch
def test_soft_margin_loss_is_finite_where_torchs_overflows():
    x = numpy.array([1000.0, -1000.0, -800.0, 30.0, -2.0])
    target = numpy.array([-1, 1, 1, -1, 1])
    ours, theirs = in_each_framework("soft_margin_loss", {"reduction": "none"})
    compare_with_torch(ours, theirs, [x[3:], target[3:]])
    inputs = chainrule.tensor(x, requires_grad=True)
    loss = L.soft_margin_loss(inputs, chainrule.tensor(target), reduction="none")
    loss.sum().backward()
    margins = -target * x
    numpy.testing.assert_allclose(loss.data, numpy.logaddexp(0, margins), rtol=1e-15)
    # d/dx log(1 + exp(-t x)) = -t sigmoid(-t x), with sigmoid(z) = (1 + tanh(z / 2)) / 2
    numpy.testing.assert_allclose(inputs.grad.data, -target * (1 + numpy.tanh(margins / 2)) / 2, rtol=1e-15)


def test_soft_margin_loss_target_is_differentiable():
    # PyTorch refuses a target that requires grad; the composition here simply has its gradient.
    check_gradients(lambda x, t: L.soft_margin_loss(x, t), [uniform((4, 3)), uniform((4, 3))])


@requires_torch
def test_multilabel_soft_margin_loss_is_stable_at_extreme_logits():
    ours, theirs = in_each_framework("multilabel_soft_margin_loss", {"reduction": "none"})
    compare_with_torch(ours, theirs, [EXTREME, numpy.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])])


@requires_torch
def test_poisson_full_counts_stirlings_term_above_one_only():
    targets = numpy.array([0.0, 1.0, 1.5, 2.0, 7.0])
    ours, theirs = in_each_framework("poisson_nll_loss", {"full": True, "reduction": "none"})
    compare_with_torch(ours, theirs, [uniform((4,)), targets[1:]])
    # At a count of 0 PyTorch's target gradient is nan (0 log 0 inside a masked term); it is finite here.
    x, t = chainrule.tensor(uniform((5,)), requires_grad=True), chainrule.tensor(targets, requires_grad=True)
    expected = torch.nn.functional.poisson_nll_loss(torch.tensor(x.data), torch.tensor(targets), full=True,
                                                     reduction="none")
    loss = L.poisson_nll_loss(x, t, full=True, reduction="none")
    loss.sum().backward()
    numpy.testing.assert_allclose(loss.data, expected.numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(t.grad.data[0], -x.data[0], rtol=1e-15)


@requires_torch
@pytest.mark.parametrize("name, kwargs, arrays", [
    ("gaussian_nll_loss", {"eps": 0.5, "reduction": "none"},
     [uniform((4, 3)), uniform((4, 3)), uniform((4, 3), 0.0, 1.0)]),
    ("gaussian_nll_loss", {"eps": 1e-3}, [uniform((3,)), uniform((3,)), numpy.array([1e-4, 0.0, 1e-3])]),
    ("cosine_similarity", {"eps": 0.3, "dim": -1}, [uniform((2, 3, 4)), uniform((2, 3, 4)) * 0.1]),
    ("cosine_similarity", {},
     [numpy.array([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0]]), numpy.array([[1.0, 1.0, 0.0], [1.0, 2.0, 3.0]])]),
], ids=["gaussian-var", "gaussian-var-at-the-floor", "cosine-norms", "cosine-tiny-and-zero"])
def test_floors_guard_a_division_without_cutting_the_gradient_as_in_torch(name, kwargs, arrays):
    ours, theirs = in_each_framework(name, kwargs)
    compare_with_torch(ours, theirs, arrays)


def test_gaussian_variance_gradient_is_taken_at_the_floor():
    # d/dvar ½ (log var + d² / var) = ½ (1 / var - d² / var²), at var = eps though var is below it.
    var = chainrule.tensor(numpy.array([1e-4, 0.0]), requires_grad=True)
    loss = L.gaussian_nll_loss(chainrule.tensor(numpy.array([1.0, 2.0])), chainrule.tensor(numpy.array([0.5, 1.0])),
                               var, eps=1e-3, reduction="sum")
    loss.backward()
    numpy.testing.assert_allclose(var.grad.data, 0.5 * (1e3 - numpy.array([0.25, 1.0]) * 1e6), rtol=1e-14)


def test_legacy_arguments_of_the_new_losses_keep_their_places():
    x, t = chainrule.tensor(PREDICTION), chainrule.tensor(COUNTS)
    with pytest.warns(DeprecationWarning, match="reduction='none'"):
        each = L.poisson_nll_loss(x, t, True, False, None, 1e-8, False)
    assert each.shape == PREDICTION.shape
    with pytest.warns(DeprecationWarning, match="reduction='sum'"):
        summed = L.triplet_margin_loss(x, x + 1, x - 1, 1.0, 2, 1e-6, False, False)
    numpy.testing.assert_allclose(summed.data, L.triplet_margin_loss(x, x + 1, x - 1, reduction="sum").data)


def test_new_loss_errors():
    x, labels = chainrule.tensor(PREDICTION), chainrule.tensor([0, 2, 1, 2])
    for name in ["poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss", "soft_margin_loss",
                 "multilabel_soft_margin_loss"]:
        extra = [x] if name == "gaussian_nll_loss" else []
        _raises(f"{name}: reduction must be one of .*; got 'avg'", getattr(L, name), x, x, *extra, reduction="avg")
    for name in ["margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss"]:
        third = chainrule.tensor([1, -1, 1, 1]) if name == "cosine_embedding_loss" else x
        _raises(f"{name}: reduction must be one of .*; got 'avg'", getattr(L, name), x, x, third, reduction="avg")
    for name in ["poisson_nll_loss", "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss"]:
        _raises(rf"{name}: target has shape \(4, 1\) but the input has shape \(4, 3\)", getattr(L, name),
                x, chainrule.tensor(PREDICTION[:, :1]))
    _raises("multilabel_soft_margin_loss: the input needs a class dimension", L.multilabel_soft_margin_loss,
            chainrule.tensor(1.0), chainrule.tensor(1.0))
    # gaussian_nll_loss: var's shape and sign
    _raises(r"gaussian_nll_loss: var has shape \(3,\), but an input of shape \(4, 3\) needs", L.gaussian_nll_loss,
            x, x, chainrule.tensor(RATES[0]))
    _raises(r"gaussian_nll_loss: var has shape \(1, 1\)", L.gaussian_nll_loss, x, x, chainrule.tensor([[1.0]]))
    _raises("gaussian_nll_loss: var has negative entries", L.gaussian_nll_loss, x, x, -chainrule.tensor(RATES))
    _raises("gaussian_nll_loss: var must not be negative, got -1", L.gaussian_nll_loss, x, x, -1.0)
    _raises(r"gaussian_nll_loss: target of shape \(4, 1, 3\) does not broadcast to the input's shape \(4, 3\)",
            L.gaussian_nll_loss, x, chainrule.tensor(PREDICTION[:, None]), 1.0)
    # the pairwise losses: one number of dims, shapes that broadcast
    _raises(r"margin_ranking_loss: input1 \(4, 3\), input2 \(4, 3\), target \(4,\) must have the same number of dims",
            L.margin_ranking_loss, x, x, chainrule.tensor(SIGNS[:, 0]))
    _raises(r"margin_ranking_loss: .* do not broadcast to one shape", L.margin_ranking_loss, x, x,
            chainrule.tensor(SIGNS[:2]))
    _raises(r"triplet_margin_loss: anchor \(4, 3\), positive \(4, 3\), negative \(3,\) must have the same number",
            L.triplet_margin_loss, x, x, x[0])
    _raises("triplet_margin_loss: margin must be greater than 0, got 0", L.triplet_margin_loss, x, x, x, margin=0)
    _raises(r"cosine_embedding_loss: target has shape \(3,\), but inputs of shape \(4, 3\) need one target per "
            r"pair, shape \(4,\)", L.cosine_embedding_loss, x, x, chainrule.tensor([1, -1, 1]))
    _raises(r"cosine_embedding_loss: the inputs must have shape \(D,\) or \(N, D\)", L.cosine_embedding_loss,
            x[None], x[None], chainrule.tensor([[1]]))
    _raises(r"pairwise_distance: x1 \(4, 3\), x2 \(2,\) do not broadcast", L.pairwise_distance, x, x[0, :2])
    _raises("pairwise_distance: p must be 0, positive, inf or -inf, got -1", L.pairwise_distance, x, x, p=-1)
    _raises("cosine_similarity: the x1 must be a floating-point tensor, got int64", L.cosine_similarity,
            chainrule.tensor([[1, 2]]), x)
    with pytest.raises(IndexError, match="cosine_similarity: dim 2 is out of range"):
        L.cosine_similarity(x, x, dim=2)
    # the multi-class margins: class-index targets
    _raises("multi_margin_loss: p must be 1 or 2, got 3", L.multi_margin_loss, x, labels, p=3)
    _raises(r"multi_margin_loss: the input must have shape \(C,\) or \(N, C\) with C > 0 classes, got shape "
            r"\(4, 3, 1\)", L.multi_margin_loss, x[..., None], labels)
    _raises(r"multi_margin_loss: target holds class index 3, but the input has 3 classes \(valid indices are 0 to "
            r"2\)$", L.multi_margin_loss, x, chainrule.tensor([0, 3, 1, 2]))
    _raises(r"multi_margin_loss: target has shape \(3,\), but an input of shape \(4, 3\) needs class indices of "
            r"shape \(4,\)", L.multi_margin_loss, x, labels[:3])
    _raises(r"multi_margin_loss: weight must hold one value per class, shape \(3,\), got shape \(4,\)",
            L.multi_margin_loss, x, labels, weight=chainrule.tensor(WEIGHT4))
    _raises("multi_margin_loss: the class weight is not differentiable", L.multi_margin_loss, x, labels,
            weight=chainrule.tensor(CLASS_WEIGHT, requires_grad=True))
    _raises("multilabel_margin_loss: target must hold integer class indices, got float64",
            L.multilabel_margin_loss, x, x)
    _raises(r"multilabel_margin_loss: target has shape \(4,\) but the input has shape \(4, 3\)",
            L.multilabel_margin_loss, x, labels)
    _raises(r"multilabel_margin_loss: target holds -2, but the input has 3 classes \(valid entries are 0 to 2, or "
            r"-1 to end a row\)", L.multilabel_margin_loss, x, chainrule.tensor(MULTI_LABELS - 1))


# ------------------------------------------------------------------ connectionist temporal classification

def _log_softmax(x, axis=-1):
    return x - numpy.log(numpy.exp(x).sum(axis=axis, keepdims=True))


CTC_LOGITS = uniform((12, 3, 5), -3.0, 3.0)
CTC_LOG_PROBS = _log_softmax(CTC_LOGITS)
# Sample 0 repeats a label (2, 2), so its alignments need a blank between them; the padding
# beyond each target length is ignored, whatever it holds.
CTC_PADDED = numpy.array([[1, 2, 2, 3], [4, 4, -1, -1], [3, 1, 2, 9]])
CTC_CONCATENATED = numpy.array([1, 2, 2, 3, 4, 4, 3, 1, 2])
CTC_TARGET_LENGTHS, CTC_INPUT_LENGTHS = [4, 2, 3], [12, 9, 7]
CTC_IMPOSSIBLE = numpy.array([[1, 2, 0], [1, 1, 1], [3, 3, 0]])  # with 4 steps, 1 1 1 (5 with its blanks) cannot fit


def _ctc_case(tag, log_probs, targets, input_lengths, target_lengths, **kwargs):
    return pytest.param(log_probs, targets, input_lengths, target_lengths, kwargs,
                        id=tag + "," + ",".join(f"{k}={v}" for k, v in kwargs.items()))


CTC_CASES = []
for _reduction in REDUCTIONS:
    # lengths as tensors for padded targets, as lists of ints for concatenated ones
    CTC_CASES += [
        _ctc_case("padded", CTC_LOG_PROBS, CTC_PADDED, numpy.array(CTC_INPUT_LENGTHS),
                  numpy.array(CTC_TARGET_LENGTHS), reduction=_reduction),
        _ctc_case("concatenated", CTC_LOG_PROBS, CTC_CONCATENATED, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS,
                  reduction=_reduction),
        # Not normalised: PyTorch's gradient formula holds for any log_probs.
        _ctc_case("unnormalised", CTC_LOGITS, CTC_CONCATENATED, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS,
                  reduction=_reduction),
        _ctc_case("blank C-1", CTC_LOG_PROBS, CTC_PADDED % 4, CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS, blank=4,
                  reduction=_reduction),
        # An empty target (the mean divides its loss by 1), and an empty input with an empty target (loss 0).
        _ctc_case("empty", CTC_LOG_PROBS, CTC_PADDED, [12, 0, 5], [2, 0, 0], reduction=_reduction),
        _ctc_case("impossible", CTC_LOG_PROBS, CTC_IMPOSSIBLE, [12, 4, 7], [2, 3, 2], reduction=_reduction,
                  zero_infinity=True),
        _ctc_case("unbatched", CTC_LOG_PROBS[:, 0], CTC_PADDED[0], 11, 4, reduction=_reduction),
    ]
# Without zero_infinity the impossible sample's loss is inf and its gradient nan, in both.
CTC_CASES.append(_ctc_case("impossible", CTC_LOG_PROBS, CTC_IMPOSSIBLE, [12, 4, 7], [2, 3, 0], reduction="none"))
# A long sequence: probabilities far below the smallest float, kept in log space.
CTC_CASES.append(_ctc_case("long", _log_softmax(uniform((400, 2, 6), -4.0, 4.0)),
                           RNG.integers(1, 6, (2, 120)), [400, 390], [120, 100], reduction="sum"))


def _ctc_in_each_framework(targets, input_lengths, target_lengths, kwargs):
    def wrap(tensor, value):
        return tensor(value) if isinstance(value, numpy.ndarray) else value
    # PyTorch takes one sequence's lengths as a list or a tensor; chainrule also as an int.
    torch_lengths = [[n] if isinstance(n, int) else n for n in (input_lengths, target_lengths)]

    def ours(log_probs):
        return L.ctc_loss(log_probs, chainrule.tensor(targets), wrap(chainrule.tensor, input_lengths),
                          wrap(chainrule.tensor, target_lengths), **kwargs)

    def theirs(log_probs):
        return torch.nn.functional.ctc_loss(log_probs, torch.tensor(targets), *[wrap(torch.tensor, n)
                                            for n in torch_lengths], **kwargs)

    return ours, theirs


@requires_torch
@pytest.mark.parametrize("log_probs, targets, input_lengths, target_lengths, kwargs", CTC_CASES)
def test_ctc_loss_matches_torch(log_probs, targets, input_lengths, target_lengths, kwargs):
    ours, theirs = _ctc_in_each_framework(targets, input_lengths, target_lengths, kwargs)
    compare_with_torch(ours, theirs, [log_probs])


def test_ctc_loss_gradient_through_log_softmax_matches_finite_differences():
    targets, lengths = chainrule.tensor([[1, 1], [2, 0]]), ([4, 3], [2, 1])
    check_gradients(lambda x: L.ctc_loss(log_softmax(x, dim=-1), targets, *lengths, reduction="sum"),
                    [uniform((4, 2, 3))], second_order=False)


def test_ctc_loss_gradient_is_exp_log_probs_plus_the_derivative():
    # PyTorch's gradient, and so chainrule's, is exp(log_probs) plus the partial derivative with
    # respect to log_probs, within each input length: log_softmax's backward maps the exp(log_probs)
    # part to 0, so the gradient with respect to the logits is exact.
    values = uniform((4, 2, 3))
    log_probs = chainrule.tensor(values, requires_grad=True)
    targets, lengths = chainrule.tensor([[1, 1], [2, 0]]), ([4, 3], [2, 1])
    L.ctc_loss(log_probs, targets, *lengths, reduction="sum").backward()
    steps = 1e-6 * numpy.eye(values.size).reshape((-1,) + values.shape)
    differences = [(L.ctc_loss(chainrule.tensor(values + h), targets, *lengths, reduction="sum").item()
                    - L.ctc_loss(chainrule.tensor(values - h), targets, *lengths, reduction="sum").item()) / 2e-6
                   for h in steps]
    within = (numpy.arange(4)[:, None] < numpy.array([4, 3]))[..., None]
    numpy.testing.assert_allclose(log_probs.grad.data - within * numpy.exp(values),
                                  numpy.reshape(differences, values.shape), atol=1e-7)


def test_ctc_loss_float32_in_float32_out():
    log_probs = chainrule.tensor(CTC_LOG_PROBS.astype(numpy.float32), requires_grad=True)
    loss = L.ctc_loss(log_probs, chainrule.tensor(CTC_PADDED), CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS)
    loss.backward()
    assert loss.dtype == log_probs.grad.dtype == numpy.float32
    reference = chainrule.tensor(CTC_LOG_PROBS, requires_grad=True)
    L.ctc_loss(reference, chainrule.tensor(CTC_PADDED), CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS).backward()
    numpy.testing.assert_allclose(log_probs.grad.data, reference.grad.data, rtol=1e-4, atol=1e-6)


def test_ctc_loss_is_one_node_whose_gradient_cannot_be_differentiated_again():
    log_probs = chainrule.tensor(CTC_LOG_PROBS, requires_grad=True)
    loss = L.ctc_loss(log_probs, chainrule.tensor(CTC_PADDED), CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS,
                      reduction="none")
    assert type(loss.grad_fn) is L.CTC and loss.grad_fn.next_functions == (log_probs,)
    # create_graph gives the right first derivative; differentiating it again raises.
    (recorded,) = chainrule.grad(loss.sum(), log_probs, create_graph=True)
    (plain,) = chainrule.grad(loss.sum(), log_probs)
    numpy.testing.assert_array_equal(recorded.data, plain.data)
    with pytest.raises(RuntimeError, match="ctc_loss: second derivatives are not supported"):
        recorded.sum().backward()


def test_ctc_loss_errors():
    log_probs, targets = chainrule.tensor(CTC_LOG_PROBS), chainrule.tensor(CTC_PADDED)
    lengths = (CTC_INPUT_LENGTHS, CTC_TARGET_LENGTHS)

    def raises(match, log_probs=log_probs, targets=targets, input_lengths=lengths[0], target_lengths=lengths[1],
               **kwargs):
        _raises(match, L.ctc_loss, log_probs, targets, input_lengths, target_lengths, **kwargs)

    raises("ctc_loss: reduction must be one of .*; got 'avg'", reduction="avg")
    raises("ctc_loss: the log_probs must be a floating-point tensor, got int64",
           log_probs=chainrule.tensor(numpy.zeros((12, 3, 5), dtype=numpy.int64)))
    raises(r"ctc_loss: log_probs must have shape \(T, N, C\), or \(T, C\) for one sequence, with no dim 0; got "
           r"shape \(12, 3, 5, 1\)", log_probs=log_probs[..., None])
    raises(r"ctc_loss: log_probs .* got shape \(0, 3, 5\)", log_probs=log_probs[:0])
    raises("ctc_loss: blank must be a class index, 0 to 4, got 5", blank=5)
    raises("ctc_loss: blank must be a class index, 0 to 4, got -1", blank=-1)
    raises("ctc_loss: input_lengths must be integers, got float64", input_lengths=[12.0, 9.0, 7.0])
    raises(r"ctc_loss: input_lengths must hold one length per sequence, shape \(3,\), got shape \(2,\)",
           input_lengths=[12, 9])
    raises(r"ctc_loss: target_lengths must hold one length per sequence, shape \(3,\), got shape \(4,\)",
           target_lengths=chainrule.tensor([4, 2, 3, 1]))
    raises("ctc_loss: input_lengths must not be negative, got -1", input_lengths=[12, -1, 7])
    raises("ctc_loss: target_lengths must not be negative, got -2", target_lengths=[4, -2, 3])
    raises("ctc_loss: input_lengths must be at most T = 12, the steps of log_probs; got 13", input_lengths=[13, 9, 7])
    raises("ctc_loss: targets must hold integer class indices, got float64", targets=chainrule.tensor(CTC_PADDED * 1.0))
    raises(r"ctc_loss: padded targets of shape \(3, 4\) must have shape \(N, S\) with N = 3 sequences and S at least "
           r"the longest target length, 5", target_lengths=[5, 2, 3])
    raises(r"ctc_loss: padded targets of shape \(2, 4\)", targets=targets[:2])
    raises("ctc_loss: concatenated targets hold 9 labels, but target_lengths add up to 8",
           targets=chainrule.tensor(CTC_CONCATENATED), target_lengths=[4, 1, 3])
    raises(r"ctc_loss: targets must be padded, shape \(N, S\), or concatenated, 1-D; got shape \(1, 3, 4\)",
           targets=targets[None])
    raises(r"ctc_loss: targets hold class 5, but log_probs has 5 classes \(valid labels are 0 to 4\)",
           targets=chainrule.tensor([[1, 2, 5, 3], [1, 1, 0, 0], [1, 1, 1, 0]]))
    raises("ctc_loss: targets hold class -1", targets=chainrule.tensor(CTC_CONCATENATED - 2))
    raises("ctc_loss: targets hold the blank, class 0; it separates labels and cannot be one",
           targets=chainrule.tensor([[1, 2, 0, 3], [1, 1, 0, 0], [1, 1, 1, 0]]))
    raises("ctc_loss: targets hold the blank, class 4", blank=4)
    raises(r"ctc_loss: for one sequence, \(T, C\) log_probs, targets must be 1-D, got shape \(3, 4\)",
           log_probs=log_probs[:, 0], input_lengths=12, target_lengths=4)
