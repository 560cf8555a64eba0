"""Loss modules: the same constructor arguments as PyTorch's, the same values
and gradients, weights registered as buffers under the same state-dict keys,
a readable repr, and constructor errors that name the module."""
import inspect

import numpy
import pytest

import chainrule
from chainrule.nn import loss as nn_loss
from chainrule.nn.module import Module
from helpers import compare_with_torch, requires_torch, torch

pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")

NAMES = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
         "NLLLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
         "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
         "CosineEmbeddingLoss", "TripletMarginLoss", "CTCLoss"]
RNG = numpy.random.default_rng(11)
SCORES = RNG.uniform(-3, 3, (5, 4))
LABELS = numpy.array([1, -100, 0, 3, 3])
WEIGHT4 = RNG.uniform(0.2, 2.0, 4)
PROBS = RNG.uniform(0.05, 0.95, (5, 4))
DISTRIBUTION = PROBS / PROBS.sum(axis=1, keepdims=True)
SIGNS = numpy.array([1, -1, -1, 1, 1])
MULTI_LABELS = numpy.array([[0, 3, -1, 2], [1, -1, 0, 0], [-1, 0, 0, 0], [2, 1, 0, 3], [3, 3, -1, 1]])
STEPS = RNG.uniform(-3, 3, (8, 2, 4))
LOG_PROBS = STEPS - numpy.log(numpy.exp(STEPS).sum(axis=2, keepdims=True))

# (module name, constructor keywords, forward inputs); NumPy arrays among the
# keywords become each framework's tensors.
CASES = [
    ("MSELoss", {}, [SCORES, PROBS]),
    ("MSELoss", {"reduction": "none"}, [SCORES, PROBS]),
    ("L1Loss", {"reduction": "sum"}, [SCORES, PROBS]),
    ("HuberLoss", {"delta": 0.7}, [SCORES, PROBS]),
    ("SmoothL1Loss", {"beta": 0.4, "reduction": "none"}, [SCORES, PROBS]),
    ("BCELoss", {"weight": WEIGHT4}, [PROBS, DISTRIBUTION]),
    ("BCEWithLogitsLoss", {"weight": WEIGHT4, "pos_weight": WEIGHT4 * 2, "reduction": "sum"}, [SCORES, PROBS]),
    ("CrossEntropyLoss", {}, [SCORES, LABELS]),
    ("CrossEntropyLoss", {"weight": WEIGHT4, "label_smoothing": 0.15, "reduction": "none"}, [SCORES, LABELS]),
    ("CrossEntropyLoss", {"weight": WEIGHT4, "ignore_index": 3}, [SCORES, numpy.array([1, 3, 0, 3, 2])]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, [SCORES, DISTRIBUTION]),
    ("NLLLoss", {"weight": WEIGHT4}, [SCORES, LABELS]),
    ("NLLLoss", {"ignore_index": 0, "reduction": "sum"}, [SCORES, numpy.array([1, 0, 0, 3, 2])]),
    ("KLDivLoss", {"reduction": "batchmean"}, [numpy.log(DISTRIBUTION), DISTRIBUTION[::-1].copy()]),
    ("KLDivLoss", {"log_target": True}, [numpy.log(DISTRIBUTION), numpy.log(DISTRIBUTION[::-1])]),
    ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-4}, [PROBS, SCORES ** 2 + 1.5]),
    ("GaussianNLLLoss", {"full": True, "eps": 0.1, "reduction": "sum"}, [SCORES, DISTRIBUTION, PROBS[:, :1]]),
    ("MarginRankingLoss", {"margin": 0.3, "reduction": "none"}, [SCORES, PROBS, SIGNS[:, None] * 1.0]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [PROBS, numpy.tile(SIGNS[:, None], 4)]),
    ("SoftMarginLoss", {"reduction": "sum"}, [SCORES, numpy.tile(SIGNS[:, None], 4)]),
    ("MultiLabelSoftMarginLoss", {"weight": WEIGHT4}, [SCORES, DISTRIBUTION]),
    ("MultiMarginLoss", {"p": 2, "margin": 2.0, "weight": WEIGHT4}, [SCORES, numpy.array([1, 2, 0, 3, 3])]),
    ("MultiLabelMarginLoss", {"reduction": "none"}, [SCORES, MULTI_LABELS]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, [SCORES, PROBS, SIGNS]),
    ("TripletMarginLoss", {"margin": 3.0, "p": 1.0, "swap": True}, [SCORES, PROBS, DISTRIBUTION]),
    ("CTCLoss", {}, [LOG_PROBS, numpy.array([[1, 1, 2], [3, 0, 0]]), numpy.array([8, 6]), numpy.array([3, 1])]),
    # concatenated targets, the last class as blank; the second sample cannot fit 1 1 1 1 (7 steps with its
    # blanks) into 6
    ("CTCLoss", {"blank": 3, "reduction": "sum", "zero_infinity": True},
     [LOG_PROBS, numpy.array([2, 0, 1, 1, 1, 1]), numpy.array([8, 6]), numpy.array([2, 4])]),
]


def build(name, kwargs, library):
    """The loss module ``name`` of ``library`` ("chainrule" or "torch") built from ``kwargs``."""
    if library == "torch":
        return getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, numpy.ndarray) else v
                                          for k, v in kwargs.items()})
    return getattr(nn_loss, name)(**{k: chainrule.tensor(v) if isinstance(v, numpy.ndarray) else v
                                     for k, v in kwargs.items()})


@requires_torch
@pytest.mark.parametrize("name, kwargs, arrays", CASES,
                         ids=[f"{n}-{','.join(k) or 'defaults'}-{i}" for i, (n, k, _) in enumerate(CASES)])
def test_module_matches_torch(name, kwargs, arrays):
    compare_with_torch(build(name, kwargs, "chainrule"), build(name, kwargs, "torch"), arrays)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_constructor_matches_torch(name):
    ours = inspect.signature(getattr(nn_loss, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
    assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


@pytest.mark.parametrize("name", NAMES)
def test_is_a_module_with_default_mean_reduction(name):
    module = getattr(nn_loss, name)()
    assert isinstance(module, Module)
    assert module.reduction == "mean"
    assert list(module.parameters()) == []


@requires_torch
@pytest.mark.parametrize("name, kwargs", [
    ("BCELoss", {"weight": WEIGHT4}),
    ("CrossEntropyLoss", {"weight": WEIGHT4}),
    ("NLLLoss", {"weight": WEIGHT4}),
    ("BCEWithLogitsLoss", {"weight": WEIGHT4, "pos_weight": WEIGHT4}),
    ("BCEWithLogitsLoss", {"pos_weight": WEIGHT4}),
    ("CrossEntropyLoss", {}),
    ("MultiMarginLoss", {"weight": WEIGHT4}),
    ("MultiLabelSoftMarginLoss", {"weight": WEIGHT4}),
])
def test_weights_are_buffers_with_torchs_state_dict_keys(name, kwargs):
    ours, theirs = build(name, kwargs, "chainrule"), build(name, kwargs, "torch")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        numpy.testing.assert_array_equal(ours.state_dict()[key].data, value.numpy())
    ours.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
    for key, value in theirs.state_dict().items():
        numpy.testing.assert_array_equal(getattr(ours, key).data, value.numpy() * 2)


def test_weight_buffer_follows_dtype_changes():
    loss = nn_loss.CrossEntropyLoss(weight=chainrule.tensor(WEIGHT4.astype(numpy.float32)))
    assert [name for name, _ in loss.named_buffers()] == ["weight"]
    assert loss.double().weight.dtype == numpy.float64
    assert nn_loss.BCEWithLogitsLoss().weight is None and nn_loss.BCEWithLogitsLoss().pos_weight is None


def test_modules_train_a_classifier():
    # Gradients reach the parameters of a model through the module form.
    from chainrule.nn.linear import Linear
    chainrule.manual_seed(0)
    model = Linear(4, 4)
    loss_fn = nn_loss.CrossEntropyLoss(label_smoothing=0.05)
    inputs, targets = chainrule.tensor(SCORES.astype(numpy.float32)), chainrule.tensor([1, 2, 0, 3, 3])
    losses = []
    for _ in range(30):
        loss = loss_fn(model(inputs), targets)
        model.zero_grad()
        loss.backward()
        with chainrule.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_repr():
    assert repr(nn_loss.MSELoss()) == "MSELoss(reduction='mean')"
    assert repr(nn_loss.HuberLoss(delta=2.0)) == "HuberLoss(reduction='mean', delta=2.0)"
    assert repr(nn_loss.SmoothL1Loss(reduction="sum")) == "SmoothL1Loss(reduction='sum', beta=1.0)"
    assert repr(nn_loss.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean', log_target=False)"
    assert (repr(nn_loss.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1))
            == "CrossEntropyLoss(reduction='mean', ignore_index=0, label_smoothing=0.1)")
    assert repr(nn_loss.NLLLoss(reduction="none")) == "NLLLoss(reduction='none', ignore_index=-100)"
    assert (repr(nn_loss.PoissonNLLLoss(full=True))
            == "PoissonNLLLoss(reduction='mean', log_input=True, full=True, eps=1e-08)")
    assert repr(nn_loss.GaussianNLLLoss(eps=0.1)) == "GaussianNLLLoss(reduction='mean', full=False, eps=0.1)"
    assert repr(nn_loss.MarginRankingLoss(0.5)) == "MarginRankingLoss(reduction='mean', margin=0.5)"
    assert repr(nn_loss.HingeEmbeddingLoss()) == "HingeEmbeddingLoss(reduction='mean', margin=1.0)"
    assert repr(nn_loss.SoftMarginLoss(reduction="sum")) == "SoftMarginLoss(reduction='sum')"
    assert repr(nn_loss.MultiLabelSoftMarginLoss()) == "MultiLabelSoftMarginLoss(reduction='mean')"
    assert repr(nn_loss.MultiMarginLoss(p=2)) == "MultiMarginLoss(reduction='mean', p=2, margin=1.0)"
    assert repr(nn_loss.MultiLabelMarginLoss()) == "MultiLabelMarginLoss(reduction='mean')"
    assert repr(nn_loss.CosineEmbeddingLoss()) == "CosineEmbeddingLoss(reduction='mean', margin=0.0)"
    assert repr(nn_loss.CTCLoss(blank=3)) == "CTCLoss(reduction='mean', blank=3, zero_infinity=False)"
    assert (repr(nn_loss.TripletMarginLoss(swap=True))
            == "TripletMarginLoss(reduction='mean', margin=1.0, p=2.0, eps=1e-06, swap=True)")


@requires_torch
def test_legacy_arguments_mean_what_they_mean_in_torch():
    with pytest.warns(DeprecationWarning):
        ours = nn_loss.MSELoss(size_average=False)
    with pytest.warns(UserWarning):
        theirs = torch.nn.MSELoss(size_average=False)
    assert ours.reduction == theirs.reduction == "sum"
    with pytest.warns(DeprecationWarning):
        assert nn_loss.NLLLoss(None, None, -100, False).reduction == "none"


def test_constructor_errors_name_the_module():
    for name in NAMES:
        with pytest.raises(ValueError, match=f"{name}: reduction must be one of .*; got 'avg'"):
            getattr(nn_loss, name)(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction .* got 'batchmean'"):
        nn_loss.CrossEntropyLoss(reduction="batchmean")
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive, got -1"):
        nn_loss.HuberLoss(delta=-1)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must not be negative, got -0.5"):
        nn_loss.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match="CrossEntropyLoss: label_smoothing must lie in .0, 1., got -0.1"):
        nn_loss.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="MultiMarginLoss: p must be 1 or 2, got 3"):
        nn_loss.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match=r"MultiMarginLoss: weight must hold one value per class \(1-D\), got shape "
                                         r"\(2, 2\)"):
        nn_loss.MultiMarginLoss(weight=chainrule.tensor(numpy.ones((2, 2))))
    with pytest.raises(ValueError, match="TripletMarginLoss: margin must be greater than 0, got -1"):
        nn_loss.TripletMarginLoss(margin=-1)
    with pytest.raises(TypeError):
        nn_loss.GaussianNLLLoss(True)  # keyword-only, as in PyTorch


def test_forward_errors_name_the_loss():
    with pytest.raises(ValueError, match=r"cross_entropy: target holds class index 7, but the input has 4 classes"):
        nn_loss.CrossEntropyLoss()(chainrule.tensor(SCORES), chainrule.tensor([1, 7, 0, 3, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: class-index targets must be integers, got float64"):
        nn_loss.NLLLoss()(chainrule.tensor(SCORES), chainrule.tensor(LABELS.astype(float)))
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: target holds 4, but the input has 4 classes"):
        nn_loss.MultiLabelMarginLoss()(chainrule.tensor(SCORES), chainrule.tensor(MULTI_LABELS + 1))
    with pytest.raises(ValueError, match="ctc_loss: targets hold the blank, class 3"):
        nn_loss.CTCLoss(blank=3)(chainrule.tensor(LOG_PROBS), chainrule.tensor([[1, 3], [2, 2]]), [8, 8], [2, 2])
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var has shape \(4,\)"):
        nn_loss.GaussianNLLLoss()(chainrule.tensor(SCORES), chainrule.tensor(PROBS), chainrule.tensor(WEIGHT4))
