"""The learning-rate range test (Smith, "Cyclical Learning Rates for Training
Neural Networks", 2017; popularised by fastai).

Train for a few hundred steps while the learning rate grows exponentially
from tiny to huge, and watch the loss: it stays flat while the rate is too
small to matter, falls once the rate is useful, and explodes once it is too
large. A good rate lies where the loss falls fastest. Afterwards the model,
the optimiser, chainrule's random generator and the loader are put back
exactly as they were, so the test can run just before training.
"""
import copy
import dataclasses
import math

import numpy

from .. import random as chainrule_random
from ..files import atomic_write
from ..nn.utils import clip_grad_norm_

# The suggestion ignores this many first points: the smoothed loss is still
# settling there and its slope says little.
_SKIP_START = 5


@dataclasses.dataclass
class LRFindResult:
    """What the range test saw.

    Attributes
    ----------
    lrs : the learning rate of each step taken
    losses : the smoothed loss after each step (an exponential moving average, bias-corrected)
    raw_losses : each step's own loss
    suggested_lr : where the smoothed loss falls fastest against log(lr), or, with
        too few points for a slope, a tenth of the lr of the lowest loss
    diverged : whether the test stopped early because the loss exploded
    """
    lrs: list
    losses: list
    raw_losses: list
    suggested_lr: float
    diverged: bool

    def plot(self, path):
        """Draw the smoothed loss against the lr (log scale) into a PNG at ``path``,
        marking the suggestion. Returns False, drawing nothing, without matplotlib."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            return False
        figure = Figure(figsize=(6, 4), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        axes.plot(self.lrs, self.raw_losses, color="0.8", linewidth=0.8, label="loss")
        axes.plot(self.lrs, self.losses, label="smoothed loss")
        axes.axvline(self.suggested_lr, color="tab:red", linestyle="--", label=f"suggested lr {self.suggested_lr:.2g}")
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("training loss")
        # Frame the fall from the first loss to the lowest, so that the explosion
        # at the end does not squash it into a flat line.
        first, lowest = self.losses[0], min(self.losses)
        margin = max(first - lowest, 0.05 * abs(first), 1e-3)
        axes.set_ylim(lowest - 0.2 * margin, first + margin)
        axes.grid(alpha=0.3)
        axes.legend()
        with atomic_write(path) as f:
            figure.savefig(f, format="png", dpi=100)
        return True


def suggest_lr(lrs, losses):
    """The lr where the smoothed ``losses`` fall fastest against log(lr),
    looking only up to their minimum; a tenth of the minimum's lr (but not
    below the first lr) when there are too few points for a slope."""
    lrs, losses = numpy.asarray(lrs, dtype=float), numpy.asarray(losses, dtype=float)
    finite = numpy.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    if len(losses) == 0:
        raise ValueError("suggest_lr: no finite loss to suggest a learning rate from")
    lowest = int(numpy.argmin(losses))
    if lowest - _SKIP_START >= 2:
        window = slice(_SKIP_START, lowest + 1)
        slopes = numpy.gradient(losses[window], numpy.log(lrs[window]))
        return float(lrs[window][int(numpy.argmin(slopes))])
    return float(max(lrs[lowest] / 10, lrs[0]))


def lr_find(trainer, loader, start_lr=1e-7, end_lr=10.0, num_steps=100, smoothing=0.98, diverge_factor=4.0,
            plot_path=None):
    """Run the learning-rate range test with ``trainer``'s model, optimiser, loss and clipping.

    Parameters
    ----------
    trainer : Trainer
    loader : the training batches; iterated again from the start if it runs out
    start_lr, end_lr : the range swept, exponentially, over ``num_steps`` steps
    smoothing : the weight of the past in the loss's moving average (0 keeps raw losses)
    diverge_factor : stop once the smoothed loss exceeds this multiple of its lowest value
    plot_path : also draw loss against lr into this PNG (skipped without matplotlib)

    Returns
    -------
    LRFindResult

    The model's weights and buffers, its train/eval mode, its gradients, the
    optimiser's state and options, chainrule's random generator and the
    loader's position are restored afterwards, exactly; the trainer's step
    count, history and schedule are never touched.

    Example
    -------
    >>> result = trainer.lr_find(train_loader)
    >>> optimizer.param_groups[0]["lr"] = result.suggested_lr
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}")
    if not (isinstance(num_steps, int) and num_steps >= 2):
        raise ValueError(f"lr_find: num_steps must be an int >= 2, got {num_steps!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"lr_find: smoothing must be in [0, 1), got {smoothing!r}")
    model, optimizer = trainer.model, trainer.optimizer
    saved_model = {name: numpy.array(tensor.data, copy=True) for name, tensor in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_rng = chainrule_random.get_rng_state()
    saved_loader = copy.deepcopy(loader.state_dict()) if hasattr(loader, "state_dict") else None
    saved_grads = [(p, p.grad) for p in model.parameters()]
    was_training = model.training
    try:
        return _sweep(trainer, loader, start_lr, end_lr, num_steps, smoothing, diverge_factor, plot_path)
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        chainrule_random.set_rng_state(saved_rng)
        if saved_loader is not None:
            loader.load_state_dict(saved_loader)
        for parameter, grad in saved_grads:
            parameter.grad = grad
        model.train(was_training)


def _batches(loader):
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader gave no batches")


def _sweep(trainer, loader, start_lr, end_lr, num_steps, smoothing, diverge_factor, plot_path):
    model, optimizer = trainer.model, trainer.optimizer
    model.train()
    growth = (end_lr / start_lr) ** (1 / (num_steps - 1))
    lrs, losses, raw_losses = [], [], []
    average, lowest, diverged = 0.0, math.inf, False
    batches = _batches(loader)
    for step in range(num_steps):
        lr = start_lr * growth ** step
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = next(batches)
        optimizer.zero_grad()
        loss = trainer.loss_fn(model(inputs), targets)
        value = loss.item()
        if not math.isfinite(value):
            diverged = True
            break
        loss.backward()
        if trainer.clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), trainer.clip_grad_norm)
        optimizer.step()
        average = smoothing * average + (1 - smoothing) * value
        smoothed = average / (1 - smoothing ** (step + 1))
        lrs.append(lr)
        losses.append(smoothed)
        raw_losses.append(value)
        lowest = min(lowest, smoothed)
        if smoothed > diverge_factor * lowest:
            diverged = True
            break
    if not lrs:
        raise FloatingPointError(f"lr_find: the loss was not finite at the first step (lr {start_lr:g}); "
                                 f"check the inputs for NaN")
    result = LRFindResult(lrs, losses, raw_losses, suggest_lr(lrs, losses), diverged)
    if plot_path is not None:
        result.plot(plot_path)
    return result
