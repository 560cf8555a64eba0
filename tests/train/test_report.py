"""metrics.jsonl, curves.png and report.md."""
import json
import math
import sys

import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Trainer
from chainrule.train.report import (MetricsLog, append_metrics, best_validation_epoch, epoch_rows, epoch_table,
                                    plot_curves, read_metrics, rewrite_metrics, write_report)

HISTORY = {"loss": [1.5, 0.9, 0.7], "accuracy": [0.5, 0.7, 0.8], "val_loss": [1.2, 0.8, 0.85],
           "val_accuracy": [0.6, 0.75, 0.79], "lr": [0.01, 0.005, 0.001], "seconds": [1.0, 2.0, 3.0]}


def test_epoch_rows_number_epochs_from_one():
    rows = epoch_rows(HISTORY)
    assert len(rows) == 3 and rows[1] == {"epoch": 2, "loss": 0.9, "accuracy": 0.7, "val_loss": 0.8,
                                          "val_accuracy": 0.75, "lr": 0.005, "seconds": 2.0}
    assert epoch_rows({}) == []


def test_metrics_lines_are_appended_and_read_back(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_metrics(path, {"epoch": 1, "loss": 0.5})
    append_metrics(path, {"epoch": 2, "loss": float("nan")})
    assert path.read_text() == '{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": null}\n'
    assert read_metrics(path) == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": None}]


def test_a_line_cut_short_by_a_crash_is_skipped_but_a_corrupt_one_is_not(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo')
    assert read_metrics(path) == [{"epoch": 1, "loss": 0.5}]
    path.write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(ValueError, match="metrics.jsonl: line 2 is not JSON"):
        read_metrics(path)


def test_rewrite_replaces_the_file_with_the_history(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3}\n{"epoch": 4}\n')
    rewrite_metrics(path, HISTORY)
    assert read_metrics(path) == epoch_rows(HISTORY)


def test_metrics_log_writes_one_line_per_epoch_of_a_real_run(tmp_path):
    cr.manual_seed(0)
    rng = numpy.random.default_rng(0)
    inputs = rng.standard_normal((64, 3)).astype(numpy.float32)
    labels = (inputs[:, 0] > 0).astype(numpy.int64)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 9}\n')  # left by some other run: replaced when training begins
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False, callbacks=[MetricsLog(path)])
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=16, shuffle=True)
    history = trainer.fit(loader, DataLoader(TensorDataset(inputs, labels), batch_size=64), epochs=3)
    rows = read_metrics(path)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        assert [row[key] for row in rows] == history[key]


def test_best_validation_epoch_prefers_accuracy_then_loss():
    assert best_validation_epoch(HISTORY) == (3, "val_accuracy")
    assert best_validation_epoch({"val_loss": [1.0, 0.5, 0.7]}) == (2, "val_loss")
    assert best_validation_epoch({"val_accuracy": [0.5, 0.9, 0.9]}) == (2, "val_accuracy")  # first of a tie
    assert best_validation_epoch({"loss": [1.0]}) == (None, None)
    assert best_validation_epoch({"val_loss": [math.nan, 2.0]}) == (2, "val_loss")


def test_epoch_table_formats_every_epoch():
    lines = epoch_table(HISTORY).splitlines()
    assert lines[0] == "| epoch | loss | accuracy | val loss | val accuracy | lr | seconds |"
    assert lines[3] == "| 2 | 0.9000 | 70.00% | 0.8000 | 75.00% | 0.005 | 2.00 |"
    assert len(lines) == 2 + 3
    assert epoch_table({"loss": [math.nan]}).splitlines()[2] == "| 1 | – |"


def test_report_sums_up_the_run(tmp_path):
    path = tmp_path / "report.md"
    write_report(path, HISTORY, {"loss": 0.8123, "accuracy": 0.7812, "samples": 1000},
                 summary=["Model: mlp (1,642 parameters)"], files=[("config.toml", "the config")],
                 curves="curves.png")
    text = path.read_text()
    assert "**Test accuracy 78.12%**, loss 0.8123 (1,000 samples)" in text
    assert "Best validation epoch: 3 (validation accuracy 79.00%, validation loss 0.8500" in text
    assert "3 epochs, 2.00 s per epoch (6.0 s of training)" in text
    assert "- Model: mlp (1,642 parameters)" in text
    assert "- [config.toml](config.toml): the config" in text
    assert "![loss and accuracy per epoch](curves.png)" in text
    assert "| 3 | 0.7000 | 80.00% | 0.8500 | 79.00% | 0.001 | 3.00 |" in text
    assert not list(tmp_path.glob(".*.tmp"))  # written through atomic_write, nothing left behind


def test_report_without_validation_or_test(tmp_path):
    write_report(tmp_path / "report.md", {"loss": [1.0, 0.5], "seconds": [1.0, 1.0]})
    text = (tmp_path / "report.md").read_text()
    assert "Test accuracy" not in text and "Best validation epoch" not in text and "## Curves" not in text
    assert "| 2 | 0.5000 | 1.00 |" in text


def test_curves_are_drawn_as_png(tmp_path):
    pytest.importorskip("matplotlib")
    assert plot_curves(HISTORY, tmp_path / "curves.png", title="a run")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_curves({"loss": [1.0, 0.5], "accuracy": [0.4, 0.6]}, tmp_path / "train_only.png")


def test_curves_are_skipped_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    assert plot_curves(HISTORY, tmp_path / "curves.png") is False
    assert not (tmp_path / "curves.png").exists()


def test_json_lines_hold_no_nan_or_infinity(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rewrite_metrics(path, {"loss": [math.inf, 1.0]})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"epoch": 1, "loss": None},
                                                                           {"epoch": 2, "loss": 1.0}]
