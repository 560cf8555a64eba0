"""check_model_gradients and preflight: they pass sane setups and name what is wrong in broken ones."""
import numpy
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import Function
from chainrule.data import DataLoader, TensorDataset
from chainrule.diagnostics import check_model_gradients, preflight

try:
    from chainrule.nn.normalization import LayerNorm
except ImportError:  # normalisation layers not built yet: that case skips
    LayerNorm = None

FEATURES, CLASSES = 6, 4


class WrongScale(Function):
    """y = x * w, whose backward gets the gradient of w wrong by a factor of 2."""

    def forward(self, x, weight):
        return x * weight

    def backward(self, grad):
        x, weight = self.inputs
        return grad * weight, 2 * grad * x


class ScaleLayer(nn.Module):
    def __init__(self, features, broken):
        super().__init__()
        self.weight = nn.Parameter(cr.ones(features) + 0.1 * cr.randn(features))
        self.broken = broken

    def forward(self, x):
        return WrongScale.apply(x, self.weight) if self.broken else x * self.weight


def batch(n=5, seed=0):
    rng = numpy.random.default_rng(seed)
    return cr.tensor(rng.standard_normal((n, FEATURES)).astype(numpy.float32)), cr.tensor(rng.integers(0, CLASSES, n))


# ---------------------------------------------------------------- check_model_gradients

LAYER_MODELS = [
    ("linear-tanh", lambda: nn.Sequential(nn.Linear(FEATURES, 5), nn.Tanh(), nn.Linear(5, CLASSES))),
    ("linear-sigmoid", lambda: nn.Sequential(nn.Linear(FEATURES, 5), nn.Sigmoid(), nn.Linear(5, CLASSES))),
    ("gelu-scale", lambda: nn.Sequential(nn.Linear(FEATURES, 5), nn.GELU(), ScaleLayer(5, broken=False),
                                         nn.Linear(5, CLASSES))),
    ("dropout", lambda: nn.Sequential(nn.Linear(FEATURES, 5), nn.Dropout(0.5), nn.Linear(5, CLASSES))),
    ("layer-norm", lambda: nn.Sequential(nn.Linear(FEATURES, 5), LayerNorm(5), nn.Linear(5, CLASSES))),
]


@pytest.mark.parametrize("name, make_model", LAYER_MODELS, ids=[case[0] for case in LAYER_MODELS])
def test_gradient_check_passes_for_nn_layers(name, make_model):
    if name == "layer-norm" and LayerNorm is None:
        pytest.skip("nn.LayerNorm is not available")
    cr.manual_seed(0)
    model = make_model()
    inputs, targets = batch()
    report = check_model_gradients(model, F.cross_entropy, inputs, targets, max_elements=None, verbose=False)
    assert report.ok, report.text
    assert all(entry["checked"] == entry["size"] for entry in report.layers.values())
    assert max(entry["relative_error"] for entry in report.layers.values()) < 1e-5


def test_gradient_check_names_the_layer_and_element_with_a_wrong_backward(capsys):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 5), nn.Tanh(), ScaleLayer(5, broken=True), nn.Linear(5, CLASSES))
    report = check_model_gradients(model, F.cross_entropy, *batch())
    assert not report.ok
    assert report.worst["parameter"] == "2.weight" and report.worst["layer"] == "2"
    assert report.worst["analytic"] == pytest.approx(2 * report.worst["numeric"], rel=1e-6)
    assert not report.layers["2"]["ok"] and report.layers["0"]["ok"] and report.layers["3"]["ok"]
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "2.weight[" in printed


def test_gradient_check_leaves_the_users_model_alone():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 5), nn.Dropout(0.5), nn.Linear(5, CLASSES))
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    state = cr.get_rng_state()
    check_model_gradients(model, F.cross_entropy, *batch(), verbose=False)
    for name, p in model.named_parameters():
        assert p.dtype == numpy.float32 and p.grad is None
        numpy.testing.assert_array_equal(p.data, before[name])
    assert cr.get_rng_state() == state


def test_gradient_check_samples_large_parameters():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 40), nn.Tanh(), nn.Linear(40, CLASSES))
    report = check_model_gradients(model, F.cross_entropy, *batch(), max_elements=10, verbose=False)
    assert report.ok
    assert report.layers["0"] == {**report.layers["0"], "checked": 20, "size": 280}  # 10 of the weight, 10 of the bias


# ---------------------------------------------------------------- preflight

def loader(labels_offset=0, n=64, float_targets=False, seed=0):
    rng = numpy.random.default_rng(seed)
    inputs = rng.standard_normal((n, FEATURES)).astype(numpy.float32)
    labels = (inputs @ rng.standard_normal((FEATURES, CLASSES))).argmax(1) + labels_offset
    targets = inputs[:, 0].copy() if float_targets else labels
    return DataLoader(TensorDataset(inputs, targets), batch_size=32)


def sane_model():
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, CLASSES))


class DetachedHead(nn.Module):
    """The last layer uses its weight through .detach(): it never learns."""

    def __init__(self):
        super().__init__()
        self.hidden, self.out = nn.Linear(FEATURES, 32), nn.Linear(32, CLASSES)

    def forward(self, x):
        return F.linear(self.hidden(x).relu(), self.out.weight.detach(), self.out.bias)


def frozen_last_layer():
    model = sane_model()
    model[2].requires_grad_(False)
    return model


def dead_hidden_layer():
    model = sane_model()
    with cr.no_grad():
        model[0].bias.data[...] = -100.0
    return model


def overconfident_init():
    model = sane_model()
    with cr.no_grad():
        model[2].weight.data *= 50
    return model


def regression_head():
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, 1))


PREFLIGHT_FAILURES = [
    # (case, model, loss, loader, the check that fails, words its message must hold)
    ("frozen last layer", frozen_last_layer, F.cross_entropy, loader(), "frozen parameters", "2.weight"),
    ("detached last layer", DetachedHead, F.cross_entropy, loader(), "gradients", "no gradient reaches out.weight"),
    ("dead hidden layer", dead_hidden_layer, F.cross_entropy, loader(), "gradients", "exactly zero"),
    ("labels out of range", sane_model, F.cross_entropy, loader(labels_offset=2), "labels and outputs",
     "valid labels are 0..3"),
    ("shape mismatch", regression_head, F.mse_loss, loader(float_targets=True), "labels and outputs", "broadcast"),
    ("initial loss far from ln C", overconfident_init, F.cross_entropy, loader(), "initial loss", "far above"),
]


@pytest.mark.parametrize("case, make_model, loss_fn, batches, failing, words", PREFLIGHT_FAILURES,
                         ids=[case[0] for case in PREFLIGHT_FAILURES])
def test_preflight_flags_each_broken_setup(case, make_model, loss_fn, batches, failing, words):
    cr.manual_seed(0)
    report = preflight(make_model(), loss_fn, batches, verbose=False)
    assert not report.ok
    failed = {name: message for name, passed, message in report.checks if not passed}
    assert failing in failed, report.text
    assert words in failed[failing], report.text
    assert "FAIL" in report.text


def test_preflight_passes_a_sane_setup_and_leaves_everything_alone():
    cr.manual_seed(0)
    model = sane_model()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    state = cr.get_rng_state()
    report = preflight(model, F.cross_entropy, loader(), verbose=False)
    assert report.ok, report.text
    assert [name for name, _, _ in report.checks] == ["labels and outputs", "initial loss", "gradients",
                                                      "overfit one batch"]
    assert cr.get_rng_state() == state
    for name, p in model.named_parameters():
        assert p.grad is None
        numpy.testing.assert_array_equal(p.data, before[name])


def test_preflight_allows_deliberately_frozen_layers():
    cr.manual_seed(0)
    model = sane_model()
    model[0].requires_grad_(False)  # fine-tuning the head on frozen features
    report = preflight(model, F.cross_entropy, loader(), allow_frozen=True, verbose=False)
    assert report.ok, report.text
    assert ("frozen parameters", True) in [(name, passed) for name, passed, _ in report.checks]


def test_preflight_flags_a_model_that_cannot_learn():
    class Constant(nn.Module):
        """Ignores its input: it cannot tell the examples apart."""

        def __init__(self):
            super().__init__()
            self.logits = nn.Parameter(cr.zeros(CLASSES))

        def forward(self, x):
            return self.logits + x[:, :1] * 0

    report = preflight(Constant(), F.cross_entropy, loader(), verbose=False)
    failed = {name: message for name, passed, message in report.checks if not passed}
    assert set(failed) == {"overfit one batch"} and "memorises" in failed["overfit one batch"]
