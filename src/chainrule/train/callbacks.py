"""Callbacks: code that runs at fixed points of ``Trainer.fit``.

Subclass ``Callback`` and override any of its methods; each receives the
trainer, and ``logs`` (a dict of the metrics so far) where it has them.
Set ``trainer.stop_training = True`` to end training after this epoch.
"""
import math

from .. import distributed
from ..serialization import save


class Callback:
    """Base class; every method does nothing by default."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass

    def state_dict(self):
        """What this callback must remember across a resume: numbers, strings and arrays in dicts and
        lists (a checkpoint holds the arrays as tensors and the rest as JSON). A resumed run gives
        each callback the saved state of its own class."""
        return {}

    def load_state_dict(self, state):
        pass


class _Monitor(Callback):
    """Tracks the best value of one metric (``mode`` "min" or "max")."""

    def __init__(self, monitor, mode, min_delta=0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, min_delta
        self.best = math.inf if mode == "min" else -math.inf

    def improved(self, logs):
        if self.monitor not in logs:
            raise KeyError(f"{type(self).__name__}: no metric {self.monitor!r} in {sorted(logs)}; "
                           f"pass a validation loader for val_* metrics")
        value = logs[self.monitor]
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if better:
            self.best = value
        return better

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Example
    -------
    >>> Trainer(model, optimizer, callbacks=[EarlyStopping("val_loss", patience=3)])
    """

    def __init__(self, monitor="val_loss", patience=5, mode="min", min_delta=0.0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.wait = patience, 0

    def on_train_begin(self, trainer):
        # A run resumed from the checkpoint of the epoch that ended it stays ended.
        if self.wait >= self.patience:
            trainer.stop_training = True

    def on_epoch_end(self, trainer, epoch, logs):
        if self.improved(logs):
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True

    def state_dict(self):
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state):
        self.best, self.wait = state["best"], state["wait"]


class BestModelCheckpoint(_Monitor):
    """Save the model's weights (safetensors) whenever ``monitor`` improves.

    Example
    -------
    >>> BestModelCheckpoint("runs/best.safetensors", monitor="val_accuracy", mode="max")
    """

    def __init__(self, path, monitor="val_loss", mode="min"):
        super().__init__(monitor, mode)
        self.path = path

    def on_epoch_end(self, trainer, epoch, logs):
        if self.improved(logs) and distributed.is_main_process():
            save(distributed.unwrap_model(trainer.model).state_dict(), self.path, metadata={"epoch": str(epoch), self.monitor: repr(self.best)})
