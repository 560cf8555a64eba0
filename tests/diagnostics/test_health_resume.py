"""GradientHealth in checkpoints: a run killed mid-epoch and resumed writes the same gradient health
files as one that never stopped, from the Trainer and from `chainrule train --grad-health --resume`;
a checkpoint without the monitor's state starts its history where the run resumes, and one with it
resumed without the monitor leaves the other callbacks their own state."""
import contextlib
import io
import json

import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.data import DataLoader, TensorDataset
from chainrule.diagnostics import GradientHealth, GradientHealthCallback
from chainrule.train import Callback, EarlyStopping, Trainer, load_checkpoint, save_checkpoint

rng = numpy.random.default_rng(0)
INPUTS = rng.standard_normal((256, 20)).astype(numpy.float32)
LABELS = (INPUTS @ rng.standard_normal((20, 5))).argmax(1)
EPOCHS, KILL_AT, LAST_CHECKPOINT = 3, 7, 6  # 4 steps an epoch, a checkpoint every 3: step 6 is mid-epoch 2


class Killed(Exception):
    pass


class KillAt(Callback):
    """Die after optimiser step ``step`` (once), a step past the last checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, step, logs):
        if step == self.step:
            self.step = None
            raise Killed


def make_trainer(path, callbacks):
    """The same run each time; ``callbacks(model)`` gives its callbacks."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 5))
    return Trainer(model, optim.Adam(model.parameters(), lr=0.01), progress=False, checkpoint_path=path,
                   checkpoint_every=3, callbacks=callbacks(model))


def make_loader():
    return DataLoader(TensorDataset(INPUTS, LABELS), batch_size=64, shuffle=True)


@pytest.fixture
def plotted(monkeypatch):
    """The histories handed to plot_health (the data behind the pictures), drawing nothing."""
    histories = []

    def record(health, path):
        histories.append(json.dumps(health.history()))
        return False

    monkeypatch.setattr("chainrule.diagnostics.health.plot_health", record)
    return histories


def monitored(folder, every=1, then=()):
    def callbacks(model):
        return [GradientHealthCallback(GradientHealth(model, every=every), folder=folder), *then]
    return callbacks


def files(folder):
    return [(folder / name).read_bytes() for name in ("gradient_health.json", "gradient_health.txt")]


def hooks(model):
    return [len(module._forward_hooks) for module in model.modules()]


@pytest.mark.parametrize("every", [1, 4], ids=["every step", "every 4th (the checkpoint's step not recorded)"])
@pytest.mark.parametrize("same_objects", [False, True], ids=["new process", "same trainer"])
def test_a_killed_and_resumed_run_writes_the_same_health_files(tmp_path, plotted, every, same_objects):
    make_trainer(tmp_path / "straight.safetensors", monitored(tmp_path / "straight", every)).fit(
        make_loader(), epochs=EPOCHS)

    path = tmp_path / "killed.safetensors"
    trainer = make_trainer(path, monitored(tmp_path / "killed", every, then=[KillAt(KILL_AT)]))
    hooks_before = hooks(trainer.model)
    with pytest.raises(Killed):
        trainer.fit(make_loader(), epochs=EPOCHS)
    assert load_checkpoint(path)["step"] == LAST_CHECKPOINT
    if not same_objects:
        trainer = make_trainer(path, monitored(tmp_path / "killed", every))
    trainer.fit(make_loader(), epochs=EPOCHS, resume_from=path)

    assert files(tmp_path / "killed") == files(tmp_path / "straight")
    assert plotted[1] == plotted[0]
    assert hooks(trainer.model) == hooks_before  # loading the state registers no second set


HISTORY_SERIES = {"layers": ("grad_norm", "weight_norm", "update_ratio"),
                  "activations": ("mean", "std", "saturated", "dead")}


def from_step(history, start):
    """The series of ``history`` without the recorded steps before ``start``."""
    keep = history["steps"].index(start)
    trimmed = {"steps": history["steps"][keep:]}
    for part, keys in HISTORY_SERIES.items():
        trimmed[part] = {label: {key: series[key][keep:] for key in keys} for label, series in history[part].items()}
    return trimmed


@pytest.mark.parametrize("written_by", ["a run without the monitor", "a chainrule that did not save it"])
def test_a_checkpoint_without_the_monitor_state_starts_the_history_where_the_run_resumes(tmp_path, written_by):
    straight = make_trainer(tmp_path / "straight.safetensors", monitored(None))
    straight.fit(make_loader(), epochs=EPOCHS)

    path = tmp_path / "killed.safetensors"
    if written_by == "a run without the monitor":
        killed = make_trainer(path, lambda model: [KillAt(KILL_AT)])
    else:
        killed = make_trainer(path, monitored(None, then=[KillAt(KILL_AT)]))
    with pytest.raises(Killed):
        killed.fit(make_loader(), epochs=EPOCHS)
    if written_by == "a chainrule that did not save it":
        # what older checkpoints hold: the callback's empty state, and no callback types
        state = load_checkpoint(path)
        state["callbacks"][0] = {}
        del state["callback_types"]
        save_checkpoint(path, state)

    resumed = make_trainer(path, monitored(None))
    with pytest.warns(UserWarning, match=f"joins the run at step {LAST_CHECKPOINT} with no history"):
        resumed.fit(make_loader(), epochs=EPOCHS, resume_from=path)
    health = resumed.callbacks[0].health
    assert health.steps == list(range(LAST_CHECKPOINT, 4 * EPOCHS))
    # numbered as the trainer's steps, and the first update measured from the checkpoint's weights
    expected = from_step(straight.callbacks[0].health.history(), LAST_CHECKPOINT)
    assert json.dumps(from_step(health.history(), LAST_CHECKPOINT)) == json.dumps(expected)


def test_a_checkpoint_with_the_monitor_state_resumed_without_the_monitor_ignores_it(tmp_path):
    path = tmp_path / "killed.safetensors"
    killed = make_trainer(path, monitored(None, then=[EarlyStopping("loss", patience=5), KillAt(KILL_AT)]))
    with pytest.raises(Killed):
        killed.fit(make_loader(), epochs=EPOCHS)
    saved_best = killed.callbacks[1].best  # set at the end of epoch 1, before the last checkpoint

    stopper = EarlyStopping("loss", patience=5)
    resumed = make_trainer(path, lambda model: [stopper])
    resumed.load_checkpoint(path)
    assert stopper.best == saved_best and stopper.wait == 0  # its own state, not the monitor's
    resumed.fit(make_loader(), epochs=EPOCHS, resume_from=path)
    assert resumed.step == 4 * EPOCHS


def test_loading_the_state_of_another_model_is_refused():
    health = GradientHealth(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match=r"layers \['Linear'\] and activations \[\]; this one watches \['0', '2'\]"):
        health.load_state_dict(GradientHealth(nn.Linear(2, 2)).state_dict())


# ---------------------------------------------------------------- chainrule train --grad-health --resume

# 3,200 training signals in batches of 400: 8 steps an epoch, a checkpoint every 3 steps.
TINY = """\
[data]
name = "mnist1d"
validation_fraction = 0.2

[model]
name = "mlp"
hidden = [32]

[optimizer]
name = "adam"
lr = 0.01

[train]
epochs = 2
batch_size = 400
checkpoint_every = 3
"""


def run_main(*argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        status = main([str(a) for a in argv])
    return status, err.getvalue()


def test_chainrule_train_grad_health_resumed_writes_the_same_report(tmp_path, monkeypatch, plotted):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "data"))
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    status, err = run_main("train", config, "--out", tmp_path / "straight", "--no-progress", "--grad-health")
    assert status == 0, err

    train_step = Trainer.train_step

    def interrupted_at_step_13(self, inputs, targets):
        # Ctrl-C in epoch 2, a step past its checkpoint of step 12
        if self.step == 13:
            raise KeyboardInterrupt
        return train_step(self, inputs, targets)

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_step", interrupted_at_step_13)
        status, err = run_main("train", config, "--out", tmp_path / "killed", "--no-progress", "--grad-health")
    assert status == 130 and "continue with: chainrule train --resume" in err
    assert not (tmp_path / "killed" / "gradient_health.json").exists()
    status, err = run_main("train", "--resume", tmp_path / "killed", "--no-progress", "--grad-health")
    assert status == 0, err

    assert files(tmp_path / "killed") == files(tmp_path / "straight")
    assert plotted[1] == plotted[0]
