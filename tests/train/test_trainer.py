"""The Trainer: it learns, reports, schedules, stops early, and resumes a killed run exactly."""
import pathlib
import signal
import subprocess
import sys

import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import (BestModelCheckpoint, Callback, CheckpointError, EarlyStopping, Trainer,
                             load_checkpoint, save_checkpoint)

RESUME_RUN = pathlib.Path(__file__).with_name("resume_run.py")


def blobs(n=300, seed=0):
    """Three separable Gaussian blobs in 2-D."""
    rng = numpy.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = numpy.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    inputs = (centres[labels] + 0.5 * rng.standard_normal((n, 2))).astype(numpy.float32)
    return TensorDataset(inputs, labels)


def make_trainer(**options):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return Trainer(model, optimizer, progress=False, **options)


def test_fit_learns_and_returns_a_history():
    trainer = make_trainer(metrics=("accuracy", "top5"))
    train, val = DataLoader(blobs(), batch_size=32, shuffle=True), DataLoader(blobs(100, seed=1), batch_size=50)
    history = trainer.fit(train, val, epochs=5)
    assert set(history) >= {"loss", "accuracy", "top5", "val_loss", "val_accuracy", "lr", "seconds"}
    assert len(history["loss"]) == 5 and history["loss"][-1] < history["loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.95 and history["top5"][-1] == 1.0
    assert trainer.step == 5 * 10 and trainer.model.training


def test_evaluate_uses_eval_mode_and_records_no_graph():
    trainer = make_trainer()
    modes = []
    trainer.model.register_forward_hook(lambda m, args, out: modes.append((m.training, out.requires_grad)))
    trainer.evaluate(DataLoader(blobs(20), batch_size=10))
    assert modes == [(False, False), (False, False)] and trainer.model.training


@pytest.mark.parametrize("interval, expected_lr", [("epoch", 0.1 * 0.5 ** 3), ("batch", 0.1 * 0.5 ** 30)])
def test_schedules_step_per_epoch_or_per_batch(interval, expected_lr):
    trainer = make_trainer()
    trainer.scheduler = optim.lr_scheduler.ExponentialLR(trainer.optimizer, gamma=0.5)
    trainer.scheduler_interval = interval
    trainer.fit(DataLoader(blobs(100), batch_size=10), epochs=3)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(expected_lr)


def test_gradient_clipping_bounds_every_step():
    norms = []

    class Record(Callback):
        def on_batch_end(self, trainer, step, logs):
            norms.append(numpy.sqrt(sum((p.grad.data ** 2).sum() for p in trainer.model.parameters())))

    trainer = make_trainer(clip_grad_norm=0.01, callbacks=[Record()])
    trainer.fit(DataLoader(blobs(100), batch_size=10), epochs=1)
    assert max(norms) <= 0.01 * (1 + 1e-5)


def test_early_stopping_and_best_model_checkpoint(tmp_path):
    best = tmp_path / "best.safetensors"
    stopper = EarlyStopping("val_loss", patience=2, min_delta=10.0)  # nothing improves by 10: stop after 3 epochs
    trainer = make_trainer(callbacks=[stopper, BestModelCheckpoint(best, monitor="val_accuracy", mode="max")])
    history = trainer.fit(DataLoader(blobs(), batch_size=30), DataLoader(blobs(60, 2), batch_size=60), epochs=20)
    assert len(history["loss"]) == 3
    saved = cr.load(best)
    assert set(saved) == set(trainer.model.state_dict())


def test_a_non_finite_loss_stops_with_advice():
    inputs = numpy.ones((10, 2), numpy.float32)
    inputs[3, 1] = numpy.nan
    trainer = make_trainer()
    with pytest.raises(FloatingPointError, match="smaller learning rate.*NaN"):
        trainer.fit(DataLoader(TensorDataset(inputs, numpy.zeros(10, numpy.int64)), batch_size=5), epochs=1)


def test_checkpoint_state_round_trips_arrays_numbers_and_int_keys(tmp_path):
    state = {"w": numpy.arange(6.0).reshape(2, 3), "opt": {0: {"step": 3, "m": numpy.ones(2, numpy.float32)}},
             "history": {"loss": [1.5, 0.5]}, "rng": {"state": 2 ** 100}, "none": None}
    save_checkpoint(tmp_path / "c.safetensors", state)
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    numpy.testing.assert_array_equal(loaded["w"], state["w"])
    assert loaded["opt"][0]["step"] == 3 and loaded["opt"][0]["m"].dtype == numpy.float32
    assert loaded["history"] == state["history"] and loaded["rng"]["state"] == 2 ** 100 and loaded["none"] is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "plain weights"])
def test_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": numpy.zeros(100)})
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-50])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        cr.save({"w": cr.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def run(out_dir, *flags):
    return subprocess.run([sys.executable, str(RESUME_RUN), str(out_dir), *flags], capture_output=True, text=True)


def test_a_run_killed_mid_epoch_resumes_to_bitwise_equal_weights(tmp_path):
    uninterrupted, interrupted = tmp_path / "straight", tmp_path / "killed"
    uninterrupted.mkdir()
    interrupted.mkdir()
    assert run(uninterrupted).returncode == 0
    # 13 batches per epoch, checkpoints every 5 steps: step 23 is mid-epoch 2, three steps past a checkpoint.
    killed = run(interrupted, "--kill-at", "23")
    assert killed.returncode == -signal.SIGKILL
    assert not (interrupted / "final.safetensors").exists()
    resumed = run(interrupted, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    expected, actual = cr.load(uninterrupted / "final.safetensors"), cr.load(interrupted / "final.safetensors")
    for name in expected:
        assert expected[name].data.tobytes() == actual[name].data.tobytes(), name


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": numpy.zeros(3)})
    script = (
        "import os, signal, numpy\n"
        "from chainrule.train import save_checkpoint\n"
        "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die after writing, before the rename\n"
        f"save_checkpoint({str(path)!r}, {{'w': numpy.ones(10**6)}})\n"
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == -signal.SIGKILL
    numpy.testing.assert_array_equal(load_checkpoint(path)["w"], numpy.zeros(3))


def test_early_stopping_restored_after_it_fired_keeps_the_run_stopped():
    stopper = EarlyStopping("loss", patience=1)
    stopper.load_state_dict({"best": 0.1, "wait": 1})
    trainer = make_trainer(callbacks=[stopper])
    history = trainer.fit(DataLoader(blobs(30), batch_size=10), epochs=5)
    assert history == {} and trainer.step == 0
