"""The training loop: forward, loss, backward, step, over epochs, with
metrics, a progress bar, callbacks, schedules, clipping and exact resume."""
import math
import sys
import time

import numpy
from tqdm import tqdm

from .. import distributed
from .. import random as chainrule_random
from ..autograd import no_grad
from ..nn.utils import clip_grad_norm_
from ..ops.loss import cross_entropy
from .checkpoint import load_checkpoint_from_rank_0, save_checkpoint
from .lr_find import lr_find
from .metrics import METRICS, RunningMean


def _progress_bar(total, description, enabled):
    return tqdm(total=total, desc=description, unit="batch", leave=True, dynamic_ncols=True,
                disable=not (enabled and sys.stderr.isatty()))


class Trainer:
    """Trains a model with an optimiser, as you would by hand, and watches it.

    Parameters
    ----------
    model : nn.Module
    optimizer : optim.Optimizer over the model's parameters
    loss_fn : (outputs, targets) -> scalar loss; cross-entropy by default
    scheduler : an lr scheduler, stepped every ``scheduler_interval``
        ("epoch" or "batch"); ReduceLROnPlateau is stepped with the
        validation loss (or the training loss without validation)
    clip_grad_norm : clip the gradients' total 2-norm to this value before each step
    metrics : names from ``chainrule.train.metrics.METRICS`` ("accuracy", "top5")
    callbacks : ``Callback`` instances
    progress : show a progress bar per epoch (only when stderr is a terminal)
    checkpoint_path : where to write checkpoints (a .safetensors file)
    checkpoint_every : also checkpoint every this many steps (besides every epoch's end)

    Example
    -------
    >>> trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3))
    >>> history = trainer.fit(train_loader, val_loader, epochs=10)
    >>> history["val_accuracy"][-1]
    """

    def __init__(self, model, optimizer, loss_fn=None, scheduler=None, scheduler_interval="epoch",
                 clip_grad_norm=None, metrics=("accuracy",), callbacks=(), progress=True,
                 checkpoint_path=None, checkpoint_every=None):
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"Trainer: unknown metrics {unknown}; choose from {sorted(METRICS)}")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_fn = loss_fn or cross_entropy
        self.scheduler_interval, self.clip_grad_norm = scheduler_interval, clip_grad_norm
        self.metrics, self.callbacks, self.progress = tuple(metrics), list(callbacks), progress
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps taken
        self.history = {}
        self.stop_training = False
        self._running = None  # this epoch's running means, kept for a mid-epoch checkpoint
        self._train_loader = None

    # ---------------------------------------------------------------- one step

    def train_step(self, inputs, targets):
        """Forward, loss, backward, (clip), step; returns the loss value and the outputs."""
        self.optimizer.zero_grad()
        outputs = self.model(inputs)
        loss = self.loss_fn(outputs, targets)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"Trainer: the loss became {loss_value} at step {self.step}; try a smaller learning rate, "
                f"gradient clipping (clip_grad_norm), or check the inputs for NaN"
            )
        loss.backward()
        distributed.synchronize_gradients(self.model)  # a no-op unless the model is DistributedDataParallel
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        self.step += 1
        if self.scheduler is not None and self.scheduler_interval == "batch":
            self.scheduler.step()
        return loss_value, outputs

    def _measure(self, running, loss_value, outputs, targets):
        count = len(targets)
        running["loss"].update(loss_value, count)
        for name in self.metrics:
            running[name].update(METRICS[name](outputs, targets), count)

    # ---------------------------------------------------------------- loops

    def fit(self, train_loader, val_loader=None, epochs=1, resume_from=None):
        """Train for ``epochs`` epochs in total (counting those a resumed run already did).

        Returns the history: a dict of per-epoch lists (``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``).
        """
        self._train_loader = train_loader
        if resume_from is not None:
            self.load_checkpoint(resume_from)
        self.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin(self)
        while self.epoch < epochs and not self.stop_training:
            logs = self._train_epoch(train_loader, epochs)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            self._end_epoch(logs)
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

    def _train_epoch(self, loader, epochs):
        for callback in self.callbacks:
            callback.on_epoch_begin(self, self.epoch)
        if self._running is None:
            self._running = {name: RunningMean() for name in ("loss",) + self.metrics}
        running = self._running
        self.model.train()
        started = time.perf_counter()
        seen = 0
        bar = _progress_bar(len(loader), f"epoch {self.epoch + 1}/{epochs}",
                            self.progress and distributed.is_main_process())
        bar.update(getattr(loader, "resume_from", 0))  # batches a resumed epoch already did
        with bar:
            for inputs, targets in loader:
                loss_value, outputs = self.train_step(inputs, targets)
                self._measure(running, loss_value, outputs, targets)
                seen += len(targets)
                logs = {name: mean.value for name, mean in running.items()}
                bar.update(1)
                bar.set_postfix(loss=f"{logs['loss']:.4f}", **{
                    name: f"{logs[name]:.3f}" for name in self.metrics},
                    samples_per_s=f"{seen / (time.perf_counter() - started):.0f}")
                for callback in self.callbacks:
                    callback.on_batch_end(self, self.step, logs)
                if self.checkpoint_every and self.step % self.checkpoint_every == 0 and self.checkpoint_path:
                    self.save_checkpoint(self.checkpoint_path)
        logs = distributed.average_metrics({name: mean.value for name, mean in running.items()},
                                           count=running["loss"].count)
        logs["seconds"] = time.perf_counter() - started
        self._running = None
        return logs

    def _end_epoch(self, logs):
        logs["lr"] = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                self.scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                self.scheduler.step()
        self.epoch += 1
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        for callback in self.callbacks:
            callback.on_epoch_end(self, self.epoch - 1, logs)
        if self.checkpoint_path:
            self.save_checkpoint(self.checkpoint_path)

    @no_grad()
    def evaluate(self, loader):
        """Mean loss and metrics over ``loader`` in eval mode, without recording a graph."""
        was_training = self.model.training
        self.model.eval()
        running = {name: RunningMean() for name in ("loss",) + self.metrics}
        try:
            for inputs, targets in loader:
                outputs = self.model(inputs)
                self._measure(running, self.loss_fn(outputs, targets).item(), outputs, targets)
        finally:
            self.model.train(was_training)
        return distributed.average_metrics({name: mean.value for name, mean in running.items()},
                                           count=running["loss"].count)

    def lr_find(self, loader, start_lr=1e-7, end_lr=10.0, num_steps=100, **options):
        """The learning-rate range test: train while the lr grows exponentially from
        ``start_lr`` to ``end_lr``, then put the model and optimiser back exactly.

        Returns an ``LRFindResult`` (lrs, smoothed losses, ``suggested_lr``);
        ``options`` are those of ``chainrule.train.lr_find.lr_find`` (``smoothing``,
        ``diverge_factor``, ``plot_path``).

        Example
        -------
        >>> result = trainer.lr_find(train_loader, plot_path="lr_find.png")
        >>> result.suggested_lr
        """
        return lr_find(self, loader, start_lr, end_lr, num_steps, **options)

    # ---------------------------------------------------------------- checkpoints

    def state_dict(self):
        """Everything needed to continue this run exactly (arrays and JSON-friendly values)."""
        state = {
            "model": {name: t.data for name, t in distributed.unwrap_model(self.model).state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch, "step": self.step, "history": self.history,
            "rng": chainrule_random.get_rng_state(),
            "callbacks": [callback.state_dict() for callback in self.callbacks],
            "callback_types": [type(callback).__name__ for callback in self.callbacks],
            "running": self._running_totals_over_ranks(),
        }
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self._train_loader is not None and hasattr(self._train_loader, "state_dict"):
            state["loader"] = self._train_loader.state_dict()
        return state

    def _running_totals_over_ranks(self):
        """This epoch's [total, count] per metric, summed over ranks (a collective:
        every rank calls it at the same step)."""
        if self._running is None:
            return None
        names = sorted(self._running)
        totals = numpy.array([[self._running[n].total, self._running[n].count] for n in names], dtype=numpy.float64)
        distributed.all_reduce(totals, deterministic=True)
        return {name: [float(total), int(count)] for name, (total, count) in zip(names, totals)}

    def load_state_dict(self, state):
        distributed.unwrap_model(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        chainrule_random.set_rng_state(state["rng"])
        self._load_callbacks(state["callbacks"], state.get("callback_types"))
        self._running = None
        if state["running"] is not None:
            # The saved totals cover every rank; rank 0 carries them, so the
            # epoch's metrics averaged over ranks come out as without the break.
            self._running = {}
            for name, (total, count) in state["running"].items():
                mean = self._running[name] = RunningMean()
                if distributed.is_main_process():
                    mean.total, mean.count = total, count
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if "loader" in state and self._train_loader is not None:
            self._train_loader.load_state_dict(state["loader"])

    def _load_callbacks(self, states, types):
        """Give each callback the next saved state of its own type. By type, not by position:
        a run resumed with a callback added or dropped (``--grad-health``, say) then hands no
        callback another's state, and a callback without a saved state keeps its own."""
        if types is None:  # a checkpoint from before the types were saved: by position
            types = [type(callback).__name__ for callback in self.callbacks]
        saved = {}
        for name, state in zip(types, states):
            saved.setdefault(name, []).append(state)
        for callback in self.callbacks:
            if saved.get(type(callback).__name__):
                callback.load_state_dict(saved[type(callback).__name__].pop(0))

    def save_checkpoint(self, path):
        state = self.state_dict()  # on every rank: it holds collectives
        if distributed.is_main_process():
            save_checkpoint(path, state)

    def load_checkpoint(self, path):
        """Continue from the checkpoint at ``path``; under ``mpiexec`` rank 0 reads it and sends it to the others."""
        self.load_state_dict(load_checkpoint_from_rank_0(path))
