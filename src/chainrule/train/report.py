"""What a training run leaves behind to be read: ``metrics.jsonl``, ``curves.png`` and ``report.md``.

``metrics.jsonl`` holds one JSON object per epoch, appended and flushed as
each epoch ends, so ``tail -f`` follows a run and a killed run keeps every
finished epoch. ``curves.png`` draws loss and accuracy per epoch (training
and validation) with matplotlib's Agg canvas, when matplotlib is installed.
``report.md`` sums the run up. Whole files are written through
``atomic_write``.
"""
import json
import math
import os

from ..files import atomic_write
from .callbacks import Callback

# Columns of the epoch table: (history key, heading, format).
_COLUMNS = (("loss", "loss", "{:.4f}"), ("accuracy", "accuracy", "{:.2%}"), ("val_loss", "val loss", "{:.4f}"),
            ("val_accuracy", "val accuracy", "{:.2%}"), ("lr", "lr", "{:.3g}"), ("seconds", "seconds", "{:.2f}"))


def epoch_rows(history):
    """The history (a dict of per-epoch lists) as one dict per epoch, numbered from 1."""
    count = max((len(values) for values in history.values()), default=0)
    return [{"epoch": i + 1, **{key: values[i] for key, values in history.items() if i < len(values)}}
            for i in range(count)]


def _json_number(value):
    # JSON has no NaN or infinity; null keeps each line parseable by any reader.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_line(row):
    return json.dumps({key: _json_number(value) for key, value in row.items()}, allow_nan=False)


def append_metrics(path, row):
    """Append one epoch's ``row`` (a dict) to ``path`` as a JSON line, flushed to disk."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(_json_line(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def rewrite_metrics(path, history):
    """Replace ``path`` with the lines of ``history``: a resumed run's file then
    holds exactly the epochs its checkpoint had, whatever the killed run appended later."""
    with atomic_write(path, "w") as f:
        f.writelines(_json_line(row) + "\n" for row in epoch_rows(history))


def read_metrics(path):
    """The rows of a ``metrics.jsonl`` file; a last line cut short by a crash is skipped."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise ValueError(f"{path}: line {len(rows) + 1} is not JSON: {line.strip()!r}") from None
    return rows


class MetricsLog(Callback):
    """Appends each epoch's metrics to a ``metrics.jsonl`` file.

    Example
    -------
    >>> Trainer(model, optimizer, callbacks=[MetricsLog("runs/a/metrics.jsonl")])
    """

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, trainer):
        # Called after a resumed run has loaded its checkpoint: start from the
        # epochs the checkpoint holds, dropping any the killed run logged after it.
        rewrite_metrics(self.path, trainer.history)

    def on_epoch_end(self, trainer, epoch, logs):
        append_metrics(self.path, {"epoch": epoch + 1, **logs})


def plot_curves(history, path, title=None):
    """Draw loss and accuracy per epoch, training and validation, into a PNG at ``path``.

    Returns
    -------
    bool : False, drawing nothing, when matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    # A bare Figure on the Agg canvas: no pyplot, so no global backend is switched.
    figure = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(figure)
    epochs = list(range(1, len(history.get("loss", [])) + 1))
    marker = "." if len(epochs) < 30 else None  # dots only while they stay apart
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if history.get(key):
                axes.plot(epochs[:len(history[key])], history[key], label=label, marker=marker)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        if axes.has_data():
            axes.legend()
    if title:
        figure.suptitle(title)
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=100)
    return True


def best_validation_epoch(history):
    """(epoch numbered from 1, criterion) of the highest validation accuracy, else of
    the lowest validation loss; (None, None) without validation."""
    for key, best in (("val_accuracy", max), ("val_loss", min)):
        values = [(v, i) for i, v in enumerate(history.get(key, [])) if v is not None and math.isfinite(v)]
        if values:
            value = best(v for v, _ in values)
            return next(i for v, i in values if v == value) + 1, key
    return None, None


def _formatted(value, form):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else form.format(value)


def epoch_table(history):
    """The history as a Markdown table, one row per epoch."""
    columns = [column for column in _COLUMNS if column[0] in history]
    lines = ["| epoch | " + " | ".join(heading for _, heading, _ in columns) + " |",
             "|---:|" + "---:|" * len(columns)]
    for row in epoch_rows(history):
        cells = [_formatted(row.get(key), form) for key, _, form in columns]
        lines.append(f"| {row['epoch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(path, history, test=None, summary=(), files=(), curves=None):
    """Write ``report.md``: the test result, the best validation epoch, time per
    epoch, links to the run's files, the curves and the table of epochs.

    Parameters
    ----------
    path : where to write the report
    history : the Trainer's history (per-epoch lists)
    test : dict with "loss", "accuracy" and "samples" of the test set, or None
    summary : extra lines for the summary list ("model: cnn1d (5,210 parameters)",
        "curves.png was not drawn: …")
    files : (file name, description) pairs to link, relative to the report
    curves : the file name of the curves' image, shown in the report; None for none

    Example
    -------
    >>> write_report("runs/a/report.md", trainer.history, {"loss": 0.2, "accuracy": 0.95, "samples": 1000})
    """
    lines = ["# Training report", ""]
    if test is not None:
        lines.append(f"- **Test accuracy {test['accuracy']:.2%}**, loss {test['loss']:.4f} "
                     f"({test['samples']:,} samples)")
    epoch, criterion = best_validation_epoch(history)
    if epoch is not None:
        row = epoch_rows(history)[epoch - 1]
        accuracy = f"validation accuracy {row['val_accuracy']:.2%}, " if "val_accuracy" in row else ""
        lines.append(f"- Best validation epoch: {epoch} ({accuracy}validation loss {row['val_loss']:.4f}; "
                     f"chosen by {'highest' if criterion == 'val_accuracy' else 'lowest'} {criterion})")
    seconds = [s for s in history.get("seconds", []) if s is not None]
    if seconds:
        lines.append(f"- {len(seconds)} epochs, {sum(seconds) / len(seconds):.2f} s per epoch "
                     f"({sum(seconds):.1f} s of training)")
    lines += [f"- {line}" for line in summary]
    if files:
        lines += ["", "## Files", ""]
        lines += [f"- [{name}]({name}): {description}" for name, description in files]
    if curves is not None:
        lines += ["", "## Curves", ""]
        lines.append(f"![loss and accuracy per epoch]({curves})")
    if history:
        lines += ["", "## Epochs", "", epoch_table(history)]
    with atomic_write(path, "w") as f:
        f.write("\n".join(lines) + "\n")
