"""The command line end to end: train a tiny config, read its run directory, eval, predict,
resume finished and killed runs, lr-find, the errors a user meets, --grad-health, --preflight,
and training on two ranks under mpiexec."""
import contextlib
import importlib.util
import io
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import numpy
import pytest
from helpers import requires_torch, torch

import chainrule
from chainrule.cli import CommandError, main, make_optimizer, make_scheduler
from chainrule.data.datasets import mnist1d
from chainrule.models import build_model
from chainrule.train import load_checkpoint
from chainrule.train.config import load_config, loads_config
from chainrule.train.manifest import hash_arrays
from chainrule.train.report import read_metrics

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

[schedule]
name = "cosine"
interval = "batch"

[train]
epochs = 3
batch_size = 400
checkpoint_every = 3
"""

RUN_FILES = ["checkpoint.safetensors", "config.toml", "manifest.json", "metrics.jsonl", "model.safetensors",
             "report.md"]


def run_main(*argv):
    """``main(argv)``'s exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """MNIST-1D generated into a temporary CHAINRULE_DATA, for every test here and their subprocesses."""
    root = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHAINRULE_DATA", str(root))
        yield mnist1d()


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("configs") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def finished(data, config_path, tmp_path_factory):
    """A tiny run trained to the end, uninterrupted: (run directory, stdout)."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    status, out, err = run_main("train", config_path, "--out", run_dir)
    assert status == 0, err
    return run_dir, out


def weights(path):
    return {name: tensor.data for name, tensor in chainrule.load(path).items()}


def model_of(run_dir):
    model = build_model("mlp", (40,), 10, hidden=[32])
    model.load_state_dict(chainrule.load(run_dir / "model.safetensors"))
    model.eval()
    return model


def without_seconds(rows):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def test_train_fills_the_run_directory(finished, data, config_path):
    run_dir, out = finished
    assert sorted(p.name for p in run_dir.iterdir() if p.name != "curves.png") == RUN_FILES
    config = load_config(run_dir / "config.toml")
    assert config.to_dict() == load_config(config_path).to_dict()

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["config"] == config.to_dict()
    assert manifest["data"]["train_sha256"] == hash_arrays({"x": data["x"], "y": data["y"]})
    assert (manifest["data"]["train_size"], manifest["data"]["validation_size"]) == (3200, 800)
    assert manifest["data"]["input_shape"] == [40] and manifest["data"]["num_classes"] == 10
    assert manifest["versions"]["numpy"] == numpy.__version__

    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    for row in rows:  # the line printed for each epoch
        assert (f"epoch {row['epoch']}/3: loss {row['loss']:.4f}, accuracy {row['accuracy']:.2%}, "
                f"val_loss {row['val_loss']:.4f}, val_accuracy {row['val_accuracy']:.2%}, lr {row['lr']:.3g}") in out
    assert all(set(row) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} for row in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]

    checkpoint = load_checkpoint(run_dir / "checkpoint.safetensors")
    assert (checkpoint["epoch"], checkpoint["step"]) == (3, 24)
    assert checkpoint["history"]["loss"] == [row["loss"] for row in rows]
    final = weights(run_dir / "model.safetensors")
    assert final.keys() == checkpoint["model"].keys()
    for name in final:
        numpy.testing.assert_array_equal(final[name], checkpoint["model"][name])
    embedded = chainrule.serialization.load_metadata(run_dir / "model.safetensors")
    assert json.loads(embedded["chainrule.manifest"]) == manifest

    # The printed test accuracy is the saved model's, recomputed here from scratch.
    logits = model_of(run_dir)(chainrule.tensor(data["x_test"])).data
    accuracy = (logits.argmax(1) == data["y_test"]).mean()
    assert 0.2 < accuracy < 1
    assert f"test accuracy {accuracy:.2%}" in out and f"run directory: {run_dir}" in out
    report = (run_dir / "report.md").read_text()
    assert f"**Test accuracy {accuracy:.2%}**" in report and "| 3 |" in report
    if (run_dir / "curves.png").exists():
        assert (run_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert "curves.png was not drawn: matplotlib is not installed" in report


def test_eval_prints_loss_accuracy_and_the_confusion_matrix(finished, data):
    run_dir, train_out = finished
    status, out, err = run_main("eval", run_dir)
    assert status == 0
    assert not [line for line in err.splitlines() if "differs" in line and "source." not in line]
    accuracy_line = next(line for line in out.splitlines() if line.startswith("test loss"))
    accuracy = float(accuracy_line.split("test accuracy ")[1].split("%")[0]) / 100
    assert f"test accuracy {accuracy:.2%}" in train_out
    matrix_lines = out.split("predicted class):\n")[1].splitlines()
    counts = numpy.array([[int(n) for n in line.split(":")[1].split()] for line in matrix_lines[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 1000
    numpy.testing.assert_array_equal(counts.sum(axis=1), numpy.bincount(data["y_test"], minlength=10))
    assert numpy.trace(counts) / 1000 == pytest.approx(accuracy, abs=5e-5)


def test_eval_warns_when_the_environment_differs(finished, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(finished[0], run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["versions"]["numpy"] = "0.0.1"
    manifest["blas"]["threads"] = 97
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    status, out, err = run_main("eval", run_dir)
    assert status == 0 and "test accuracy" in out
    assert f"warning: the environment differs from the run's: versions.numpy: 0.0.1 -> {numpy.__version__}" in err
    assert "blas.threads: 97 -> " in err


def test_predict_prints_classes_and_writes_probabilities(finished, data, tmp_path):
    run_dir = finished[0]
    numpy.save(tmp_path / "inputs.npy", data["x_test"][:7])
    status, out, err = run_main("predict", run_dir, tmp_path / "inputs.npy", "--output", tmp_path / "p.npy")
    assert status == 0
    expected = model_of(run_dir)(chainrule.tensor(data["x_test"][:7])).data
    assert [int(line) for line in out.split()] == expected.argmax(1).tolist()
    probabilities = numpy.load(tmp_path / "p.npy")
    assert probabilities.shape == (7, 10) and probabilities.dtype == numpy.float32
    numpy.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-6)
    shifted = numpy.exp(expected - expected.max(1, keepdims=True))
    numpy.testing.assert_allclose(probabilities, shifted / shifted.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)

    numpy.save(tmp_path / "one.npy", data["x_test"][3].astype(numpy.float64))
    status, out, _ = run_main("predict", run_dir, tmp_path / "one.npy")
    assert status == 0 and out.split() == [str(expected[3].argmax())]


def test_predict_explains_an_input_of_the_wrong_shape(finished, tmp_path):
    numpy.save(tmp_path / "bad.npy", numpy.zeros((5, 39), dtype=numpy.float32))
    status, out, err = run_main("predict", finished[0], tmp_path / "bad.npy")
    assert status == 1 and out == ""
    assert "bad.npy: has shape (5, 39), but the model of" in err
    assert "takes samples of shape (40,) (mnist1d); give an array of shape (N, 40) or (40,)" in err
    (tmp_path / "empty.npy").write_bytes(b"")
    status, _, err = run_main("predict", finished[0], tmp_path / "empty.npy")
    assert status == 1 and "empty.npy: not a readable .npy array" in err


def test_resuming_a_finished_run_changes_nothing(finished, tmp_path):
    run_dir = tmp_path / "again"
    shutil.copytree(finished[0], run_dir)
    (run_dir / "model.safetensors").unlink()
    status, out, err = run_main("train", "--resume", run_dir, "--no-progress")
    assert status == 0, err
    before, after = weights(finished[0] / "model.safetensors"), weights(run_dir / "model.safetensors")
    for name in before:
        numpy.testing.assert_array_equal(before[name], after[name])
    assert read_metrics(run_dir / "metrics.jsonl") == read_metrics(finished[0] / "metrics.jsonl")


KILL_AT_SECOND_EPOCH_END = """
import os, signal, sys
from chainrule.train import Trainer
from chainrule.cli import CommandError, main, make_optimizer, make_scheduler

save = Trainer.save_checkpoint

def save_or_die(self, path):
    # Die after epoch 2 was logged to metrics.jsonl, before its checkpoint: the
    # last checkpoint is then the one of step 15, in the middle of epoch 2.
    if self.epoch == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    save(self, path)

Trainer.save_checkpoint = save_or_die
main(sys.argv[1:])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_resumes_to_the_same_weights(finished, config_path, tmp_path):
    run_dir = tmp_path / "killed"
    killed = subprocess.run([sys.executable, "-c", KILL_AT_SECOND_EPOCH_END, "train", str(config_path),
                             "--out", str(run_dir), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (run_dir / "model.safetensors").exists()
    assert len(read_metrics(run_dir / "metrics.jsonl")) == 2
    checkpoint = load_checkpoint(run_dir / "checkpoint.safetensors")
    assert (checkpoint["epoch"], checkpoint["step"]) == (1, 15)

    # eval of an unfinished run falls back on its checkpoint
    status, out, err = run_main("eval", run_dir)
    assert status == 0 and "evaluating the weights of its checkpoint.safetensors" in err

    status, out, err = run_main("train", "--resume", run_dir, "--no-progress")
    assert status == 0, err
    expected, resumed = weights(finished[0] / "model.safetensors"), weights(run_dir / "model.safetensors")
    for name in expected:
        numpy.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert without_seconds(read_metrics(run_dir / "metrics.jsonl")) == \
        without_seconds(read_metrics(finished[0] / "metrics.jsonl"))


def test_bad_configs_are_refused_before_anything_is_written(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("lr = 0.01", "lr = 0.01\nlrr = 0.1"))
    status, out, err = run_main("train", bad)
    assert status == 1
    assert err.startswith(f"chainrule train: error: {bad}: [optimizer] unknown key 'lrr' for optimizer 'adam'")
    bad.write_text(TINY.replace("epochs = 3", 'epochs = "three"'))
    status, _, err = run_main("train", bad)
    assert status == 1 and f"{bad}: [train] epochs must be an integer, got 'three'" in err
    status, _, err = run_main("lr-find", tmp_path / "missing.toml")
    assert status == 1 and "missing.toml: no such config file" in err
    assert not (tmp_path / "runs").exists()


def test_command_line_mistakes(finished, config_path, tmp_path, capsys):
    run_dir = finished[0]
    status, _, err = run_main("train", config_path, "--resume", run_dir)
    assert status == 1 and "do not pass a config file" in err
    status, _, err = run_main("train", "--resume", run_dir, "--seed", "3")
    assert status == 1 and "--seed cannot change when resuming" in err
    status, _, err = run_main("train", config_path, "--out", run_dir)
    assert status == 1 and f"{run_dir} already holds a run; continue it with --resume" in err
    status, _, err = run_main("eval", tmp_path)
    assert status == 1 and f"{tmp_path}: not a run directory (it has no config.toml)" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2 and "must be a positive integer" in capsys.readouterr().err


def test_train_names_its_run_directory_takes_overrides_and_extends_on_resume(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stepped.toml").write_text(TINY.replace('name = "cosine"', 'name = "step"\nstep_size = 8'))
    status, out, err = run_main("train", "stepped.toml", "--epochs", 1, "--seed", 4, "--no-progress")
    assert status == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("stepped-") and len(run_dir.name) == len("stepped-20250101-120000")
    config = load_config(run_dir / "config.toml")
    assert (config.train.epochs, config.train.seed) == (1, 4)
    assert len(read_metrics(run_dir / "metrics.jsonl")) == 1
    assert json.loads((run_dir / "manifest.json").read_text())["seed"] == 4

    status, out, err = run_main("train", "--resume", run_dir, "--epochs", 2, "--no-progress")
    assert status == 0, err
    assert "resuming in a different environment: config.train.epochs: 1 -> 2" in err
    assert load_config(run_dir / "config.toml").train.epochs == 2
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2]
    # the lr is logged after each epoch's 8 batch steps: the schedule went on where it stopped
    assert [row["lr"] for row in rows] == pytest.approx([1e-3, 1e-4])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["train"]["epochs"] == 1  # where the run started
    assert manifest["resumed"][0]["differences"] == ["config.train.epochs: 1 -> 2"]


def test_a_cosine_run_cannot_be_stretched(finished):
    status, _, err = run_main("train", "--resume", finished[0], "--epochs", 5)
    assert status == 1 and "the cosine schedule of" in err and "was built for 3 epochs" in err


def test_a_polynomial_run_cannot_be_stretched(tmp_path):
    # refused while reading the run's config, before the data or a checkpoint is needed
    (tmp_path / "config.toml").write_text(TINY.replace('"cosine"', '"polynomial"'))
    status, _, err = run_main("train", "--resume", tmp_path, "--epochs", 5)
    assert status == 1 and "the polynomial schedule of" in err and "was built for 3 epochs" in err


def test_lr_find_writes_its_plot_and_prints_a_suggestion(data, config_path, tmp_path):
    status, out, err = run_main("lr-find", config_path, "--out", tmp_path / "lr", "--steps", 40)
    assert status == 0, err
    result = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    assert result["lrs"][0] == pytest.approx(1e-7) and len(result["lrs"]) <= 40
    assert 1e-7 <= result["suggested_lr"] <= 10
    assert f"suggested lr: {result['suggested_lr']:.3g}" in out
    if "no plot" not in out:
        assert (tmp_path / "lr" / "lr_find.png").read_bytes()[:4] == b"\x89PNG"


def test_python_dash_m_chainrule_help():
    done = subprocess.run([sys.executable, "-m", "chainrule", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("train", "eval", "predict", "lr-find", "explain"):
        assert command in done.stdout


MINIMAL = '[data]\nname = "mnist1d"\n[model]\nname = "logistic"\n[optimizer]\nname = "sgd"\nlr = 0.1\n'


@pytest.mark.parametrize("schedule, steps, expected_lr", [
    ('name = "none"', 4, 0.1),
    ('name = "step"\nstep_size = 2\ngamma = 0.5', 4, 0.1 * 0.25),
    ('name = "step"\nstep_size = 10\ninterval = "batch"', 20, 0.1 * 0.01),
    ('name = "multistep"\nmilestones = [1, 3]', 4, 0.1 * 0.01),
    ('name = "exponential"\ngamma = 0.9', 4, 0.1 * 0.9 ** 4),
    ('name = "cosine"', 2, 0.05),  # half-way through 4 epochs
    ('name = "cosine"\ninterval = "batch"\neta_min = 0.01', 20, 0.01),  # 4 epochs of 5 batches
    ('name = "onecycle"', 6, 0.1),  # the peak, 30 % into 20 batches
    ('name = "constant"\nfactor = 0.5\ntotal_iters = 2', 1, 0.05),
    ('name = "constant"\nfactor = 0.5\ntotal_iters = 2', 2, 0.1),
    ('name = "linear"\nstart_factor = 0.5\ntotal_iters = 4', 2, 0.075),
    ('name = "polynomial"\npower = 2.0', 2, 0.1 * 0.5 ** 2),  # half-way through 4 epochs
    ('name = "polynomial"\ninterval = "batch"', 15, 0.1 * 0.25),  # 15 of 20 batches
    ('name = "polynomial"\ninterval = "batch"', 20, 0.0),
    ('name = "cosine_restarts"\nT_0 = 3', 3, 0.1),  # the first restart
    ('name = "cosine_restarts"\nT_0 = 2\nT_mult = 2\ninterval = "batch"', 4, 0.05),  # half-way through 2..6
    ('name = "cyclic"\nmax_lr = 0.5\nstep_size_up = 4', 4, 0.5),  # up from the optimiser's lr in 4 batches
    ('name = "cyclic"\nmax_lr = 0.5\nstep_size_up = 4\nstep_size_down = 2', 6, 0.1),
    ('name = "step"\nstep_size = 2\ngamma = 0.5\nwarmup = 1', 0, 0.05),  # 1/2, then the schedule
    ('name = "step"\nstep_size = 2\ngamma = 0.5\nwarmup = 1', 3, 0.05),
    ('name = "cosine"\nwarmup = 2', 1, 0.1 * 2 / 3),  # 1/3, 2/3, then 2 epochs of cosine
    ('name = "cosine"\nwarmup = 2', 3, 0.05),
    ('name = "cosine"\nwarmup = 2', 4, 0.0),
    ('name = "polynomial"\ninterval = "batch"\nwarmup = 4', 12, 0.05),  # half-way through the last 16
])
def test_every_schedule_follows_the_length_of_the_run(schedule, steps, expected_lr):
    config = loads_config(MINIMAL + "[schedule]\n" + schedule + "\n[train]\nepochs = 4\n")
    optimizer = make_optimizer(config, chainrule.nn.Linear(2, 3))
    scheduler = make_scheduler(config, optimizer, steps_per_epoch=5)
    for _ in range(steps - (config.schedule.name == "onecycle")):
        if scheduler is not None:
            scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected_lr, abs=1e-12)


def _their_optimizer(optimizer, options):
    """PyTorch's optimiser of the same class with the config's options, on a parameter of its own."""
    options = {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}
    return getattr(torch.optim, type(optimizer).__name__)([torch.zeros(2, requires_grad=True)], **options)


def _momentum(optimizer):
    group = optimizer.param_groups[0]
    return group["betas"][0] if "betas" in group else group.get("momentum")


@requires_torch
@pytest.mark.parametrize("optimizer, schedule, theirs", [
    ('name = "sgd"\nlr = 0.1', 'name = "constant"\nfactor = 0.25\ntotal_iters = 3',
     lambda S, opt: S.ConstantLR(opt, factor=0.25, total_iters=3)),
    ('name = "sgd"\nlr = 0.1', 'name = "linear"', lambda S, opt: S.LinearLR(opt)),  # PyTorch's defaults
    ('name = "adam"', 'name = "polynomial"\npower = 1.5\ninterval = "batch"',
     lambda S, opt: S.PolynomialLR(opt, total_iters=20, power=1.5)),
    ('name = "sgd"\nlr = 0.1', 'name = "cosine_restarts"\nT_0 = 3\nT_mult = 2\neta_min = 0.01\ninterval = "batch"',
     lambda S, opt: S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01)),
    # momentum cycles where the optimiser has it (SGD with momentum, Adam's beta1), and not otherwise
    ('name = "sgd"\nlr = 0.1\nmomentum = 0.9', 'name = "cyclic"\nmax_lr = 0.4\nstep_size_up = 3\n'
     'step_size_down = 5\nmode = "triangular2"',
     lambda S, opt: S.CyclicLR(opt, 0.1, 0.4, step_size_up=3, step_size_down=5, mode="triangular2")),
    ('name = "adam"', 'name = "cyclic"\nbase_lr = 0.01\nmax_lr = 0.04\nstep_size_up = 2\nmode = "exp_range"\n'
     'gamma = 0.9\nbase_momentum = 0.7', lambda S, opt: S.CyclicLR(opt, 0.01, 0.04, step_size_up=2, mode="exp_range",
                                                                   gamma=0.9, base_momentum=0.7)),
    ('name = "sgd"\nlr = 0.1', 'name = "cyclic"\nmax_lr = 0.4\nstep_size_up = 3',
     lambda S, opt: S.CyclicLR(opt, 0.1, 0.4, step_size_up=3, cycle_momentum=False)),
    ('name = "adagrad"', 'name = "cyclic"\nmax_lr = 0.4\nstep_size_up = 3',
     lambda S, opt: S.CyclicLR(opt, 0.01, 0.4, step_size_up=3, cycle_momentum=False)),
    ('name = "sgd"\nlr = 0.1', 'name = "cosine"\nwarmup = 3\ninterval = "batch"',
     lambda S, opt: S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.25, total_iters=3),
                                         S.CosineAnnealingLR(opt, T_max=17)], milestones=[3])),
])
def test_the_new_schedules_match_pytorch_over_the_run(optimizer, schedule, theirs):
    config = loads_config(MINIMAL.split("[optimizer]")[0] + f"[optimizer]\n{optimizer}\n[schedule]\n{schedule}\n"
                          "[train]\nepochs = 4\n")
    ours = make_optimizer(config, chainrule.nn.Linear(2, 3))
    our_scheduler = make_scheduler(config, ours, steps_per_epoch=5)
    their_optimizer = _their_optimizer(ours, config.optimizer.options)
    their_scheduler = theirs(torch.optim.lr_scheduler, their_optimizer)
    for step in range(20 if config.schedule.interval == "batch" else 4):
        assert ours.param_groups[0]["lr"] == pytest.approx(their_optimizer.param_groups[0]["lr"], rel=1e-12), step
        expected_momentum = _momentum(their_optimizer)  # None for an optimiser without momentum
        assert _momentum(ours) == (expected_momentum if expected_momentum is None
                                   else pytest.approx(expected_momentum, rel=1e-12)), step
        their_optimizer.step()
        our_scheduler.step()
        their_scheduler.step()


def test_schedules_that_do_not_fit_the_run_or_the_optimizer_are_refused():
    config = loads_config(MINIMAL + '[schedule]\nname = "cosine"\nwarmup = 4\n[train]\nepochs = 4\n')
    with pytest.raises(CommandError, match=r"\[schedule\] warmup of 4 epochs leaves nothing of the run's 4 epochs "
                                           r"to the cosine schedule"):
        make_scheduler(config, make_optimizer(config, chainrule.nn.Linear(2, 3)), steps_per_epoch=5)
    config = loads_config(MINIMAL.replace('"sgd"\nlr = 0.1', '"adagrad"') +
                          '[schedule]\nname = "cyclic"\nmax_lr = 0.1\ncycle_momentum = true\n')
    with pytest.raises(CommandError, match=r"\[schedule\] CyclicLR: cycle_momentum=True needs an optimiser with "
                                           r"momentum or betas, Adagrad has neither"):
        make_scheduler(config, make_optimizer(config, chainrule.nn.Linear(2, 3)), steps_per_epoch=5)


def test_plateau_steps_on_the_metric():
    config = loads_config(MINIMAL + '[schedule]\nname = "plateau"\npatience = 1\nfactor = 0.5\n')
    optimizer = make_optimizer(config, chainrule.nn.Linear(2, 3))
    scheduler = make_scheduler(config, optimizer, steps_per_epoch=5)
    for loss in (1.0, 1.0, 1.0):
        scheduler.step(loss)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad",
                                  "adadelta", "rprop", "asgd"])
def test_every_optimizer_builds_with_its_defaults(name):
    config = loads_config(MINIMAL.replace('"sgd"\nlr = 0.1', f'"{name}"'))
    optimizer = make_optimizer(config, chainrule.nn.Linear(2, 3))
    assert type(optimizer).__name__.lower() == name
    assert {key: optimizer.defaults[key] for key in config.optimizer.options} == {
        key: tuple(v) if isinstance(v, list) else v for key, v in config.optimizer.options.items()}


# ---------------------------------------------------------------- --grad-health, --preflight, mpiexec

def test_grad_health_writes_its_files_and_a_report_section(data, config_path, tmp_path):
    run_dir = tmp_path / "health"
    status, out, err = run_main("train", config_path, "--out", run_dir, "--epochs", 1, "--no-progress",
                                "--grad-health", "--grad-health-every", 2)
    assert status == 0, err
    assert {"gradient_health.json", "gradient_health.txt"} <= {p.name for p in run_dir.iterdir()}
    recorded = json.loads((run_dir / "gradient_health.json").read_text())
    assert recorded["history"]["every"] == 2 and recorded["history"]["steps"] == [0, 2, 4, 6]
    summary = (run_dir / "gradient_health.txt").read_text().strip()
    assert summary.startswith("Gradient health of Sequential: 4 steps recorded (every 2)")
    assert summary in out  # printed after training
    report = (run_dir / "report.md").read_text()
    section = report.split("## Gradient health\n")[1]
    assert summary in section
    if (run_dir / "gradient_health.png").exists():
        assert (run_dir / "gradient_health.png").read_bytes()[:4] == b"\x89PNG"
        assert "](gradient_health.png)" in section
    else:
        assert "gradient_health.png was not drawn" in section


def test_preflight_passes_a_sane_config_and_trains_as_without_it(finished, config_path, tmp_path):
    run_dir = tmp_path / "checked"
    status, out, err = run_main("train", config_path, "--out", run_dir, "--no-progress", "--preflight")
    assert status == 0, err
    assert out.startswith("Preflight checks:") and "All checks passed." in out
    assert out.index("All checks passed.") < out.index("training mlp")
    # preflight reads a loader of its own and works on copies: the run is the one without it
    expected, checked = weights(finished[0] / "model.safetensors"), weights(run_dir / "model.safetensors")
    for name in expected:
        numpy.testing.assert_array_equal(checked[name], expected[name], err_msg=name)


def test_a_failed_preflight_stops_the_run_before_anything_is_written(data, config_path, tmp_path, monkeypatch):
    from chainrule.diagnostics import PreflightReport

    calls = []

    def failing(model, loss_fn, loader, **options):
        calls.append(next(iter(loader))[0].shape)
        return PreflightReport([("overfit one batch", False, "did not memorise 16 examples")])

    monkeypatch.setattr("chainrule.cli.preflight", failing)
    status, out, err = run_main("train", config_path, "--out", tmp_path / "stopped", "--preflight")
    assert status == 1 and calls == [(400, 40)]
    assert "[FAIL] overfit one batch: did not memorise 16 examples" in out
    assert "chainrule train: error: the preflight checks failed, so the run did not start" in err
    assert not (tmp_path / "stopped").exists()

    status, out, err = run_main("train", config_path, "--out", tmp_path / "forced", "--epochs", 1,
                                "--no-progress", "--preflight", "--force")
    assert status == 0 and "training anyway (--force)" in err
    assert (tmp_path / "forced" / "model.safetensors").exists()


def _mpiexec():
    beside_python = pathlib.Path(sys.executable).with_name("mpiexec")
    return str(beside_python) if beside_python.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None or _mpiexec() is None,
                               reason="needs mpi4py and an mpiexec launcher: pip install mpi4py mpich "
                                      "(or chainrule[mpi])")


def _rank_environment():
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI_", "OMPI_"))}
    environment.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                       CHAINRULE_DISTRIBUTED_TIMEOUT="60")
    return environment


def _run_ranks(*argv, cwd, ranks=2):
    return subprocess.run([_mpiexec(), "-n", str(ranks), sys.executable, "-m", "chainrule", *map(str, argv)],
                          capture_output=True, text=True, timeout=180, cwd=cwd, env=_rank_environment())


@needs_mpi
def test_ranks_that_read_different_configs_refuse_to_train(data, tmp_path):
    # One relative path, two working directories: as on two machines whose copies of the file differ.
    for rank, lr in ((0, "0.01"), (1, "0.07")):
        (tmp_path / f"rank{rank}").mkdir()
        (tmp_path / f"rank{rank}" / "tiny.toml").write_text(TINY.replace("lr = 0.01", f"lr = {lr}"))
    command = [sys.executable, "-m", "chainrule", "train", "tiny.toml", "--no-progress"]
    done = subprocess.run([_mpiexec(), "-n", "1", "-wdir", str(tmp_path / "rank0"), *command, ":",
                           "-n", "1", "-wdir", str(tmp_path / "rank1"), *command],
                          capture_output=True, text=True, timeout=180, env=_rank_environment())
    assert done.returncode != 0
    assert "rank 1 read a config (tiny.toml) that differs from rank 0's" in done.stderr
    assert "[optimizer] lr: 0.07 here, 0.01 on rank 0" in done.stderr
    assert not (tmp_path / "rank0" / "runs").exists()


@needs_mpi
def test_train_under_mpiexec_writes_one_run_directory(data, config_path, tmp_path):
    done = _run_ranks("train", config_path, "--epochs", 2, "--no-progress", "--grad-health", cwd=tmp_path)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    (run_dir,) = (tmp_path / "runs").iterdir()  # chosen on rank 0, shared with rank 1
    assert sorted(p.name for p in run_dir.iterdir() if p.suffix != ".png") == sorted(
        RUN_FILES + ["gradient_health.json", "gradient_health.txt"])
    assert done.stdout.count("test accuracy") == 1 and done.stdout.count("training mlp") == 1
    assert "on 2 ranks" in done.stdout
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2]
    # batch_size is per rank: 3,200 samples in batches of 400 on each of 2 ranks are 4 steps an epoch
    assert load_checkpoint(run_dir / "checkpoint.safetensors")["step"] == 8
    saved = weights(run_dir / "model.safetensors")
    assert not any(name.startswith("module.") for name in saved)
    accuracy = float(done.stdout.split("test accuracy ")[1].split("%")[0]) / 100
    logits = model_of(run_dir)(chainrule.tensor(data["x_test"])).data
    assert (logits.argmax(1) == data["y_test"]).mean() == pytest.approx(accuracy, abs=5e-5)


@needs_mpi
def test_lr_find_refuses_to_run_under_mpiexec(data, config_path, tmp_path):
    done = _run_ranks("lr-find", config_path, cwd=tmp_path)
    assert done.returncode != 0
    assert "chainrule lr-find: error: lr-find runs in one process; run it without mpiexec" in done.stderr
    assert not (tmp_path / "runs").exists()
