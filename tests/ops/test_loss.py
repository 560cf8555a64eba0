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
