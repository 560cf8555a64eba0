"""The learning-rate range test: it sweeps, suggests, and leaves everything exactly as it was."""
import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Trainer
from chainrule.train.lr_find import LRFindResult, suggest_lr


def blobs(n=512, seed=0):
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = numpy.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return TensorDataset((centres[labels] + 0.7 * rng.standard_normal((n, 2))).astype(numpy.float32), labels)


def make_trainer(optimizer=optim.Adam, **options):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
    return Trainer(model, optimizer(model.parameters(), lr=1e-3), progress=False, **options)


def snapshot(trainer, loader):
    """Every piece of state the range test touches, copied."""
    return {
        "weights": {k: v.data.copy() for k, v in trainer.model.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(),
        "rng": cr.get_rng_state(),
        "loader": loader.state_dict(),
        "grads": [None if p.grad is None else p.grad.data.copy() for p in trainer.model.parameters()],
        "training": trainer.model.training, "step": trainer.step, "history": dict(trainer.history),
    }


def assert_same_state(before, after):
    assert before["weights"].keys() == after["weights"].keys()
    for name in before["weights"]:
        numpy.testing.assert_array_equal(before["weights"][name], after["weights"][name])
    state_before, state_after = before["optimizer"], after["optimizer"]
    assert state_before["param_groups"] == state_after["param_groups"]
    assert state_before["state"].keys() == state_after["state"].keys()
    for index, buffers in state_before["state"].items():
        for key, value in buffers.items():
            numpy.testing.assert_array_equal(value, state_after["state"][index][key])
    assert before["rng"] == after["rng"] and before["loader"] == after["loader"]
    for grad_before, grad_after in zip(before["grads"], after["grads"]):
        assert (grad_before is None) == (grad_after is None)
        if grad_before is not None:
            numpy.testing.assert_array_equal(grad_before, grad_after)
    assert (before["training"], before["step"], before["history"]) == (
        after["training"], after["step"], after["history"])


def train_two_epochs(range_test_between):
    """Final weights of a one-epoch run, then (optionally) a range test, then a second epoch."""
    trainer = make_trainer()
    loader = DataLoader(blobs(), batch_size=32, shuffle=True)
    trainer.fit(loader, epochs=1)  # the optimiser now has moments worth keeping
    trainer.model.eval()
    if range_test_between:
        before = snapshot(trainer, loader)
        result = trainer.lr_find(loader, num_steps=60)
        assert len(result.lrs) > 10
        assert_same_state(before, snapshot(trainer, loader))
    trainer.fit(loader, epochs=2)
    return {name: tensor.data.copy() for name, tensor in trainer.model.state_dict().items()}


def test_weights_optimizer_rng_and_loader_are_left_exactly_as_they_were():
    untouched = train_two_epochs(range_test_between=False)
    tested = train_two_epochs(range_test_between=True)
    # and training goes on exactly as if no range test had run
    for name in untouched:
        numpy.testing.assert_array_equal(tested[name], untouched[name], err_msg=name)


def test_a_fresh_optimizer_stays_fresh():
    trainer = make_trainer(optim.SGD, clip_grad_norm=1.0)
    loader = DataLoader(blobs(), batch_size=64, shuffle=True)
    before = snapshot(trainer, loader)
    trainer.lr_find(loader, num_steps=30)
    assert_same_state(before, snapshot(trainer, loader))
    assert trainer.optimizer.state_dict()["state"] == {}


def test_the_sweep_is_exponential_and_the_suggestion_lies_inside_it():
    trainer = make_trainer()
    result = trainer.lr_find(DataLoader(blobs(), batch_size=32, shuffle=True), start_lr=1e-5, end_lr=1.0,
                             num_steps=50)
    assert isinstance(result, LRFindResult) and not result.diverged and len(result.lrs) == 50
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1.0)
    ratios = numpy.array(result.lrs[1:]) / numpy.array(result.lrs[:-1])
    numpy.testing.assert_allclose(ratios, 10 ** (5 / 49))
    assert result.lrs[0] <= result.suggested_lr <= result.lrs[-1]
    assert result.suggested_lr in result.lrs
    # On these separable blobs the loss falls well below where it started.
    assert min(result.losses) < 0.75 * result.losses[0]
    assert len(result.losses) == len(result.raw_losses) == 50


def test_the_test_stops_when_the_loss_explodes():
    trainer = make_trainer(optim.SGD)
    result = trainer.lr_find(DataLoader(blobs(), batch_size=32, shuffle=True), start_lr=1e-3, end_lr=1e6,
                             num_steps=200)
    assert result.diverged and len(result.lrs) < 200
    assert result.losses[-1] > 4 * min(result.losses) or not numpy.isfinite(result.raw_losses[-1])
    assert 1e-3 <= result.suggested_lr <= result.lrs[-1]


def test_a_short_loader_is_cycled():
    trainer = make_trainer()
    result = trainer.lr_find(DataLoader(blobs(64), batch_size=32), start_lr=1e-4, end_lr=1e-2, num_steps=10)
    assert len(result.lrs) == 10


def test_suggest_lr_finds_the_steepest_fall():
    lrs = numpy.logspace(-6, 0, 61)
    losses = 2.5 - 2 / (1 + numpy.exp(-3 * (numpy.log10(lrs) + 3)))  # steepest at 1e-3
    losses[-8:] = numpy.linspace(losses[-9], 5, 8)  # and exploding at the end
    assert suggest_lr(lrs, losses) == pytest.approx(1e-3)
    # too few points for a slope: a tenth of the lowest point's lr, not below the range
    assert suggest_lr([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0]) == pytest.approx(1e-3)
    assert suggest_lr([1e-2, 1e-1, 1.0], [1.0, 0.9, 0.8]) == pytest.approx(1e-1)
    with pytest.raises(ValueError, match="no finite loss"):
        suggest_lr([1e-3], [float("nan")])


def test_plot_path_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    trainer = make_trainer()
    trainer.lr_find(DataLoader(blobs(), batch_size=32, shuffle=True), num_steps=20, plot_path=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("options, message", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "need 0 < start_lr < end_lr"),
    ({"num_steps": 1}, "num_steps must be an int >= 2"),
    ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\)"),
])
def test_bad_arguments_are_refused_before_anything_changes(options, message):
    trainer = make_trainer()
    with pytest.raises(ValueError, match=message):
        trainer.lr_find(DataLoader(blobs(), batch_size=32), **options)
