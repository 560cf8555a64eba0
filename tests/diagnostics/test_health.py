"""GradientHealth: what it measures, what it diagnoses, and that healthy nets raise no alarm."""
import copy
import json
import math
import sys

import numpy
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.diagnostics import KINDS, GradientHealth, GradientHealthCallback, HealthThresholds
from chainrule.nn import init
from chainrule.train import Trainer

try:
    from chainrule.nn.normalization import BatchNorm1d
except ImportError:  # normalisation layers not built yet: the BatchNorm case skips
    BatchNorm1d = None

FEATURES, CLASSES = 20, 5


def teacher_data(n=512, seed=0):
    """Inputs N(0, 1) labelled by a fixed random linear teacher: learnable, and quick to make."""
    rng = numpy.random.default_rng(seed)
    inputs = rng.standard_normal((n, FEATURES)).astype(numpy.float32)
    labels = (inputs @ rng.standard_normal((FEATURES, CLASSES))).argmax(1)
    return inputs, labels


INPUTS, LABELS = teacher_data()


def mlp(depth, activation, initialise=None, width=32, batch_norm=False):
    sizes = [FEATURES] + [width] * (depth - 1) + [CLASSES]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layer = nn.Linear(fan_in, fan_out)
        if initialise is not None:
            initialise(layer)
        layers.append(layer)
        if batch_norm:
            layers.append(BatchNorm1d(fan_out))
        layers.append(activation())
    if batch_norm:
        layers.pop()
    return nn.Sequential(*layers[:-1])


def normal(std, bias=0.0):
    def initialise(layer):
        init.normal_(layer.weight, 0.0, std)
        init.constant_(layer.bias, bias)
    return initialise


def he(gain=1.0, bias=0.0):
    def initialise(layer):
        init.kaiming_normal_(layer.weight, nonlinearity="relu")
        layer.weight.data *= gain
        init.constant_(layer.bias, bias)
    return initialise


class ResidualBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.act = nn.ReLU()
        self.outer = nn.Linear(width, width)
        self.out_act = nn.ReLU()

    def forward(self, x):
        return self.out_act(x + self.outer(self.act(self.inner(x))))


def residual_mlp(blocks=4, width=32):
    return nn.Sequential(nn.Linear(FEATURES, width), nn.ReLU(), *[ResidualBlock(width) for _ in range(blocks)],
                         nn.Linear(width, CLASSES))


def train(model, optimizer, steps=30, batch=64, clip=None, **health_options):
    """Train on the teacher data with a monitor; stops at a non-finite loss. Returns the monitor."""
    health = GradientHealth(model, **health_options)
    rng = numpy.random.default_rng(1)
    with numpy.errstate(all="ignore"):
        for _ in range(steps):
            rows = rng.integers(0, len(INPUTS), batch)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(cr.tensor(INPUTS[rows])), cr.tensor(LABELS[rows]))
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            health.step()
            if not math.isfinite(loss.item()):
                break
    return health


def sgd(lr, momentum=0.9):
    return lambda model: optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def adam(lr):
    return lambda model: optim.Adam(model.parameters(), lr=lr)


def kinds(health):
    return {finding.kind for finding in health.diagnose()}


# ---------------------------------------------------------------- diagnoses

SICK = [
    # (expected kind, model, optimiser, why)
    ("vanishing", lambda: mlp(10, nn.Sigmoid, normal(0.1)), sgd(0.05), "10 sigmoid layers, small weights"),
    ("exploding", lambda: mlp(10, nn.ReLU, he(gain=1.3), width=64), sgd(0.1), "1.3x He and a large learning rate"),
    ("dead", lambda: mlp(6, nn.ReLU, he(bias=-5.0)), sgd(0.01), "biases at -5 keep every ReLU off"),
    ("saturated", lambda: mlp(4, nn.Tanh, normal(1.0)), sgd(0.01), "N(0, 1) weights drive tanh to +-1"),
    ("update-too-large", lambda: mlp(2, nn.Tanh), sgd(3.0, momentum=0.0), "SGD with lr 3"),
    ("update-too-small", lambda: mlp(3, nn.ReLU), sgd(1e-7), "SGD with lr 1e-7"),
]


@pytest.mark.parametrize("kind, make_model, make_optimizer, why", SICK, ids=[case[0] for case in SICK])
def test_each_problem_is_diagnosed(kind, make_model, make_optimizer, why):
    cr.manual_seed(0)
    model = make_model()
    health = train(model, make_optimizer(model))
    findings = [f for f in health.diagnose() if f.kind == kind]
    assert findings, f"{why}: expected {kind!r}, got {kinds(health)}\n{health.summary()}"
    finding = findings[0]
    names = {name for name, _ in model.named_modules()}
    assert finding.layers and set(finding.layers) <= names
    assert finding.evidence and finding.message and finding.advice
    assert f"[{kind}]" in health.summary()


HEALTHY = [
    ("relu-he-sgd", lambda: mlp(8, nn.ReLU, he()), sgd(0.02)),
    ("relu-he-adam", lambda: mlp(8, nn.ReLU, he()), adam(1e-3)),
    ("relu-default-init", lambda: mlp(3, nn.ReLU, width=100), sgd(0.01)),
    ("tanh-xavier", lambda: mlp(4, nn.Tanh, lambda layer: init.xavier_normal_(layer.weight)), sgd(0.02)),
    ("batch-norm", lambda: mlp(6, nn.ReLU, he(), batch_norm=True), sgd(0.02)),
    ("residual", lambda: residual_mlp(), sgd(0.02)),
]


@pytest.mark.parametrize("name, make_model, make_optimizer", HEALTHY, ids=[case[0] for case in HEALTHY])
def test_healthy_nets_raise_no_alarm(name, make_model, make_optimizer):
    if name == "batch-norm" and BatchNorm1d is None:
        pytest.skip("nn.BatchNorm1d is not available")
    cr.manual_seed(0)
    model = make_model()
    health = train(model, make_optimizer(model), steps=60)
    assert health.diagnose() == [], health.summary()
    assert "No problems found" in health.summary()


def test_vanishing_names_the_early_layers_and_the_size_of_the_fall():
    cr.manual_seed(0)
    model = mlp(10, nn.Sigmoid, normal(0.1))
    (finding,) = [f for f in train(model, sgd(0.05)(model)).diagnose() if f.kind == "vanishing"]
    assert finding.layers[0] == "0"  # the first Linear
    assert "18" not in finding.layers  # the last Linear is the reference
    assert max(finding.evidence["ratio_to_last_layer"].values()) < 1e-3
    assert "He" in finding.advice and "ReLU" in finding.advice


def test_exploding_reports_the_first_non_finite_step_and_the_growth_before_it():
    cr.manual_seed(0)
    model = mlp(10, nn.ReLU, he(gain=1.3), width=64)
    health = train(model, sgd(0.1)(model))
    (finding,) = health.diagnose()  # nothing else is reported once the weights are NaN
    assert finding.kind == "exploding"
    assert finding.evidence["first_non_finite_step"] <= health.steps[-1]
    assert finding.evidence["growth"] > 100
    assert "clip" in finding.advice


def test_clipping_fixes_the_exploding_case():
    cr.manual_seed(0)
    model = mlp(10, nn.ReLU, he(gain=1.3), width=64)
    health = train(model, sgd(0.1)(model), steps=60, clip=1.0)
    assert "exploding" not in kinds(health), health.summary()
    assert all(math.isfinite(p.data.sum()) for p in model.parameters())


def test_dead_layers_also_explain_the_missing_gradient():
    cr.manual_seed(0)
    model = mlp(6, nn.ReLU, he(bias=-5.0))
    findings = train(model, sgd(0.01)(model)).diagnose()
    assert [f.kind for f in findings] == ["dead"]
    assert findings[0].evidence["layers_without_gradient"] == ["0", "2", "4", "6", "8"]


def test_a_layer_cut_from_the_loss_is_reported_as_receiving_no_gradient():
    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Linear(FEATURES, 16), nn.Linear(16, CLASSES)

        def forward(self, x):
            return self.second(self.first(x).detach())

    cr.manual_seed(0)
    model = Detached()
    (finding,) = train(model, sgd(0.05)(model), steps=5).diagnose()
    assert (finding.kind, finding.layers) == ("vanishing", ["first"])
    assert "detach" in finding.advice


def recorded(grad_norms, update_ratio=1e-3):
    """A monitor of a two-layer model whose history is ``grad_norms`` (one list per layer), as if trained."""
    health = GradientHealth(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2)))
    for layer, norms in zip(health._layers.values(), grad_norms):
        layer.grad_norm += norms
        layer.weight_norm += [1.0] * len(norms)
        layer.update_ratio += [update_ratio] * len(norms)
    health.steps += list(range(len(grad_norms[0])))
    return health


SYNTHETIC = [
    # (history, per layer from first to last, kinds expected)
    ("level", [[1.0] * 8, [1.0] * 8], set()),
    ("noisy but level", [[1, 5, 0.5, 3, 1, 2, 0.7, 4], [2, 1, 3, 0.5, 1, 1, 2, 1]], set()),
    ("first layer 1e4 times the last", [[1e4] * 8, [1.0] * 8], {"exploding"}),
    ("first layer 1e-4 times the last", [[1e-4] * 8, [1.0] * 8], {"vanishing"}),
    ("growing tenfold every step", [[10.0 ** k for k in range(8)]] * 2, {"exploding"}),
    ("growing fivefold in all", [[1.0, 1, 2, 2, 3, 3, 5, 5]] * 2, set()),
]


@pytest.mark.parametrize("name, grad_norms, expected", SYNTHETIC, ids=[case[0] for case in SYNTHETIC])
def test_gradient_norm_histories(name, grad_norms, expected):
    assert kinds(recorded(grad_norms)) == expected


def test_tiny_updates_after_convergence_are_not_called_too_small():
    health = GradientHealth(nn.Linear(3, 2), window=5)
    layer = health._layers["Linear"]
    layer.grad_norm += [1.0] * 5 + [1e-4] * 5
    layer.update_ratio += [1e-3] * 5 + [1e-8] * 5
    layer.weight_norm += [1.0] * 10
    health.steps += list(range(10))
    assert health.diagnose() == []
    layer.grad_norm[:5] = [1e-4] * 5  # the same tiny updates from the start: the learning rate
    assert kinds(health) == {"update-too-small"}


# ---------------------------------------------------------------- measurements

def test_gradient_norm_and_update_ratio_are_what_the_step_did():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    health = GradientHealth(model)
    before = [p.data.copy() for p in model.parameters()]
    optimizer.zero_grad()
    F.cross_entropy(model(cr.randn(8, 4)), cr.tensor([0, 1, 2, 0, 1, 2, 0, 1])).backward()
    optimizer.step()
    health.step()
    grads = numpy.concatenate([p.grad.data.ravel() for p in model.parameters()])
    change = numpy.concatenate([(p.data - b).ravel() for p, b in zip(model.parameters(), before)])
    weights = numpy.concatenate([p.data.ravel() for p in model.parameters()])
    layer = health.history()["layers"]["0"]
    assert layer["grad_norm"][0] == pytest.approx(numpy.linalg.norm(grads), rel=1e-5)
    assert layer["weight_norm"][0] == pytest.approx(numpy.linalg.norm(weights), rel=1e-5)
    previous = numpy.concatenate([b.ravel() for b in before])
    assert layer["update_ratio"][0] == pytest.approx(numpy.linalg.norm(change) / numpy.linalg.norm(previous), rel=1e-4)


def test_update_ratio_of_a_large_layer_is_estimated_closely_from_its_sample():
    cr.manual_seed(0)
    layer = nn.Linear(512, 512)
    health = GradientHealth(layer)
    before = layer.weight.data.copy()
    with cr.no_grad():
        layer.weight.data += 1e-3 * numpy.random.default_rng(0).standard_normal(before.shape).astype(numpy.float32)
    health.step()
    exact = numpy.linalg.norm(layer.weight.data - before) / numpy.linalg.norm(before)
    assert health.history()["layers"]["Linear"]["update_ratio"][0] == pytest.approx(exact, rel=0.1)


ACTIVATION_CASES = [
    # (module, input, expected mean, saturated fraction, dead fraction)
    (nn.ReLU(), [[-1.0, 2.0, -3.0], [-1.0, 4.0, 0.0]], 1.0, math.nan, 2 / 3),
    (nn.Tanh(), [[-5.0, 0.0], [5.0, 0.1]], None, 0.5, math.nan),
    (nn.Sigmoid(), [[-10.0, 0.0], [10.0, 0.0]], 0.5, 0.5, math.nan),
]


@pytest.mark.parametrize("module, values, mean, saturated, dead", ACTIVATION_CASES,
                         ids=[type(case[0]).__name__ for case in ACTIVATION_CASES])
def test_activation_statistics(module, values, mean, saturated, dead):
    model = nn.Sequential(nn.Linear(2, 2), module)
    health = GradientHealth(model)
    module(cr.tensor(values))  # a forward of the activation alone, seen by its hook
    health.step()
    record = health.history()["activations"]["1"]
    output = module(cr.tensor(values)).data
    assert record["mean"][0] == pytest.approx(output.mean() if mean is None else mean, abs=1e-6)
    assert record["std"][0] == pytest.approx(output.std(), rel=1e-4)
    for measured, expected in ((record["saturated"][0], saturated), (record["dead"][0], dead)):
        assert measured == pytest.approx(expected, nan_ok=True)


def test_a_unit_that_fires_once_in_the_window_is_not_dead():
    relu = nn.ReLU()
    health = GradientHealth(nn.Sequential(nn.Linear(2, 2), relu), window=3)
    for values in ([[1.0, -1.0]], [[-1.0, -1.0]], [[-1.0, -1.0]]):
        relu(cr.tensor(values))
        health.step()
    assert health._activations["1"].dead_across_window() == 0.5


def test_every_k_records_only_every_kth_step_and_its_forward_pass():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(2, 2), relu)
    health = GradientHealth(model, every=3)
    for step in range(7):
        relu(cr.tensor([[float(step), 1.0]]))
        health.step()
    assert health.steps == [0, 3, 6]
    assert health.history()["activations"]["1"]["mean"] == [0.5, 2.0, 3.5]


def test_evaluation_forward_passes_are_not_counted():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(2, 2), relu)
    health = GradientHealth(model)
    relu(cr.tensor([[1.0, 1.0]]))
    with cr.no_grad():
        relu(cr.tensor([[9.0, 9.0]]))
    model.eval()
    relu(cr.tensor([[9.0, 9.0]]))
    health.step()
    assert health.history()["activations"]["1"]["mean"] == [1.0]


def test_forward_passes_of_a_deep_copy_are_not_counted():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(2, 2), relu)
    health = GradientHealth(model)
    relu(cr.tensor([[1.0, 1.0]]))
    copy.deepcopy(model)[1](cr.tensor([[9.0, 9.0]]))  # the copy carries the hook along
    health.step()
    assert health.history()["activations"]["1"]["mean"] == [1.0]


def test_layers_are_listed_in_forward_order_and_frozen_parameters_are_skipped():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.last, self.first, self.frozen = nn.Linear(4, 2), nn.Linear(3, 4), nn.Linear(2, 2)
            self.frozen.requires_grad_(False)

        def forward(self, x):
            return self.frozen(self.last(self.first(x)))

    model = Backwards()
    health = GradientHealth(model)
    model(cr.randn(2, 3))
    health.step()
    assert health.layer_names() == ["first", "last"]


def test_close_removes_every_hook_and_keeps_the_record():
    model = mlp(3, nn.ReLU)
    health = GradientHealth(model)
    model(cr.randn(4, FEATURES))
    health.step()
    health.close()
    assert all(not module._forward_hooks for module in model.modules())
    assert health.steps == [0] and health.summary()


def test_a_model_without_trainable_parameters_is_refused():
    with pytest.raises(ValueError, match="no parameters that require grad"):
        GradientHealth(nn.Sequential(nn.ReLU()))


def test_nothing_recorded_yet_says_how_to_record():
    health = GradientHealth(nn.Linear(2, 2))
    assert health.diagnose() == []
    assert "health.step()" in health.summary()


def test_custom_thresholds_are_obeyed():
    cr.manual_seed(0)
    model = mlp(3, nn.ReLU, he())
    health = train(model, sgd(0.02)(model), thresholds=HealthThresholds(update_too_large=1e-6))
    assert kinds(health) == {"update-too-large"}


# ---------------------------------------------------------------- reports

def test_save_writes_json_text_and_picture(tmp_path):
    cr.manual_seed(0)
    model = mlp(10, nn.Sigmoid, normal(0.1))
    health = train(model, sgd(0.05)(model), steps=10)
    written = health.save(tmp_path / "report")
    assert sorted(p.rsplit("/", 1)[-1] for p in map(str, written)) == [
        "gradient_health.json", "gradient_health.png", "gradient_health.txt"]
    report = json.loads((tmp_path / "report" / "gradient_health.json").read_text())
    assert report["history"]["steps"] == list(range(10))
    assert [f["kind"] for f in report["findings"]] == ["vanishing"]
    assert all(f["kind"] in KINDS for f in report["findings"])
    assert (tmp_path / "report" / "gradient_health.txt").read_text().startswith("Gradient health")
    assert (tmp_path / "report" / "gradient_health.png").read_bytes()[:4] == b"\x89PNG"


def test_save_without_matplotlib_skips_the_picture_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    health = train(mlp(3, nn.ReLU), sgd(0.01)(mlp(3, nn.ReLU)), steps=2)
    with pytest.warns(UserWarning, match="matplotlib is not installed"):
        written = health.save(tmp_path)
    assert len(written) == 2 and not (tmp_path / "gradient_health.png").exists()


def test_non_finite_values_are_written_as_json_null(tmp_path):
    cr.manual_seed(0)
    model = mlp(10, nn.ReLU, he(gain=1.3), width=64)
    health = train(model, sgd(0.1)(model))
    health.save(tmp_path)
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    report = json.loads((tmp_path / "gradient_health.json").read_text(), parse_constant=refuse)
    assert report["findings"][0]["kind"] == "exploding"
    assert None in report["history"]["layers"]["0"]["grad_norm"]


def test_callback_steps_the_monitor_after_every_trainer_step(tmp_path):
    cr.manual_seed(0)
    model = mlp(3, nn.ReLU, he())
    health = GradientHealth(model)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.02), progress=False,
                      callbacks=[GradientHealthCallback(health, folder=tmp_path)])
    loader = DataLoader(TensorDataset(INPUTS[:256], LABELS[:256]), batch_size=64)
    trainer.fit(loader, loader, epochs=2)
    assert health.steps == list(range(8))  # 4 batches x 2 epochs; validation passes not counted
    assert (tmp_path / "gradient_health.json").exists()
