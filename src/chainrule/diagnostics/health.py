"""Gradient health: watch backpropagation layer by layer while a model trains.

``GradientHealth`` attaches to a model from the outside: a forward hook on
every activation module (``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh`` …) and on
every module that owns parameters, and a look at each parameter's ``.grad``
and value when you call ``health.step()`` after the optimiser's step. Per
recorded step it keeps, for each layer with parameters,

- the gradient norm ‖∇w‖ (all of the layer's own parameters together, as
  the optimiser saw them, so after any clipping),
- the weight norm ‖w‖,
- the update ratio ‖Δw‖ / ‖w‖ of that step (‖w‖ and ‖Δw‖ from a fixed
  sample of about 16,000 entries per parameter, which keeps the monitor
  cheap on large layers; smaller parameters are measured whole),

and for each activation module the mean and standard deviation of its
output, the fraction of saturated outputs (|tanh| > 0.99, sigmoid < 0.01 or
> 0.99) and the fraction of ReLU units that output zero for the whole batch.
A unit counts as dead in ``diagnose`` only if it fired for no example in
any of the recorded steps of the window.

``diagnose()`` turns the most recent ``window`` recorded steps into
findings with the thresholds of ``HealthThresholds``; ``docs/gradient-health.md``
explains each number and why its threshold sits where it does.
"""
import collections
import json
import math
import os
import warnings
from dataclasses import asdict, dataclass

import numpy

from ..autograd import is_grad_enabled
from ..files import atomic_write
from ..nn.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from ..tensor import Tensor

KINDS = ("vanishing", "exploding", "saturated", "dead", "update-too-large", "update-too-small")

TANH_SATURATION = 0.99  # |tanh(x)| > 0.99 means |x| > 2.65, where tanh' < 0.02
SIGMOID_MARGIN = 0.01  # sigmoid within 0.01 of 0 or 1 means sigmoid' < 0.0099
TYPICAL_UPDATE_RATIO = 1e-3  # the usual rule of thumb for ‖Δw‖/‖w‖ per step
CONVERGED_GRADIENT_DROP = 1e-2  # a gradient 100x below its start means training converged
UPDATE_SAMPLE = 16384  # about this many entries per parameter are kept to measure ‖Δw‖/‖w‖

_ACTIVATIONS = (ReLU, LeakyReLU, ELU, GELU, SiLU, Softplus, Sigmoid, Tanh)


@dataclass(frozen=True)
class HealthThresholds:
    """Where ``GradientHealth.diagnose`` draws its lines (see docs/gradient-health.md).

    Every comparison is made on medians over the diagnosis window, so one
    noisy step neither raises nor hides an alarm.

    Parameters
    ----------
    vanishing_ratio : a layer whose gradient norm is below this fraction of
        the last layer's is vanishing (1e-3: three orders of magnitude).
    exploding_depth_ratio : a layer whose gradient norm is above this
        multiple of the last layer's is exploding.
    exploding_growth : the total gradient norm growing by this factor across
        the window (median of its last third over median of its first third)
        is exploding.
    saturated_fraction : a sigmoid/tanh layer with at least this fraction of
        its outputs near the limits is saturated.
    dead_fraction : a ReLU layer with at least this fraction of its units
        silent (zero for every example of every recorded step in the
        window) is dead.
    update_too_large, update_too_small : bounds on ‖Δw‖/‖w‖ per step.

    Example
    -------
    >>> health = GradientHealth(model, thresholds=HealthThresholds(dead_fraction=0.25))
    """

    vanishing_ratio: float = 1e-3
    exploding_depth_ratio: float = 1e3
    exploding_growth: float = 1e2
    saturated_fraction: float = 0.3
    dead_fraction: float = 0.5
    update_too_large: float = 0.1
    update_too_small: float = 1e-6


@dataclass
class Finding:
    """One problem that ``GradientHealth.diagnose`` found.

    Attributes
    ----------
    kind : one of ``KINDS``
    layers : the names of the layers concerned, in forward order
    evidence : the numbers behind the finding (JSON-friendly)
    message : what was measured, in one sentence
    advice : the likely cause and what to try
    """

    kind: str
    layers: list
    evidence: dict
    message: str
    advice: str

    def to_dict(self):
        return asdict(self)

    def __str__(self):
        return f"[{self.kind}] {self.message}\n    likely cause and what to try: {self.advice}"


class _LayerRecord:
    """The measurements of one module that owns parameters."""

    def __init__(self, module, parameters):
        self.type = type(module).__name__
        self.parameters = parameters
        # ‖w‖ and ‖Δw‖ are measured on every k-th slice along the first
        # axis (one output unit's weights: contiguous, so cheap to read),
        # with k chosen to keep about UPDATE_SAMPLE entries per parameter,
        # so that keeping the previous weights costs little memory and time
        # even for large layers. The gradient norm is exact: it must see
        # every NaN.
        self.strides = [max(1, round(p.data.size / UPDATE_SAMPLE)) if p.data.ndim else 1 for p in parameters]
        self.previous = None  # the sampled slices before the step being recorded
        self.grad_norm, self.weight_norm, self.update_ratio = [], [], []

    def _samples(self):
        return [p.data[::stride] if p.data.ndim else p.data for p, stride in zip(self.parameters, self.strides)]

    def snapshot(self):
        samples = self._samples()
        if self.previous is None or any(saved.shape != sample.shape for saved, sample in zip(self.previous, samples)):
            self.previous = [sample.copy() for sample in samples]
            return
        for saved, sample in zip(self.previous, samples):
            numpy.copyto(saved, sample)

    def record(self):
        grad_square = weight_square = previous_square = update_square = 0.0
        any_grad = False
        comparable = self.previous is not None
        for p, sample, saved in zip(self.parameters, self._samples(), self.previous or [None] * len(self.parameters)):
            if p.grad is not None:
                any_grad = True
                grad_square += _square_norm(p.grad.data.reshape(-1))
            # The sample stands for the whole parameter (exactly so when it is one).
            scale = p.data.size / max(sample.size, 1)
            weight_square += scale * _square_norm(sample.reshape(-1))
            if comparable and saved.shape == sample.shape:
                previous_square += scale * _square_norm(saved.reshape(-1))
                # The snapshot is overwritten by the next one anyway, so the
                # difference goes into it instead of a new array.
                update_square += scale * _square_norm(numpy.subtract(sample, saved, out=saved).reshape(-1))
            else:
                comparable = False
        # NaN stands for "not measured" (no gradient this step), so a NaN in
        # the arrays themselves is kept as Inf: broken, not missing.
        self.grad_norm.append(_norm(grad_square) if any_grad else math.nan)
        self.weight_norm.append(_norm(weight_square))
        # Relative to the weights the step started from: against the new
        # weights, a step that multiplies them by 1000 would read as 1.
        measured = comparable and previous_square > 0
        self.update_ratio.append(_norm(update_square / previous_square) if measured else math.nan)

    def state_dict(self):
        return {"grad_norm": _series(self.grad_norm), "weight_norm": _series(self.weight_norm),
                "update_ratio": _series(self.update_ratio),
                # the next step's update is measured against these
                "previous": [saved.copy() for saved in self.previous]}

    def load_state_dict(self, state):
        self.grad_norm, self.weight_norm, self.update_ratio = (
            state[key].tolist() for key in ("grad_norm", "weight_norm", "update_ratio"))
        self.previous = [numpy.array(saved) for saved in state["previous"]]


def _series(values):
    """A recorded series as a float64 array, for a checkpoint: NaN and Inf survive, bit for bit."""
    return numpy.array(values, dtype=numpy.float64)


def _finite_or_inf(value):
    return value if math.isfinite(value) else math.inf


def _norm(square):
    return math.sqrt(square) if math.isfinite(square) else math.inf


def _square_norm(flat):
    square = float(numpy.dot(flat, flat))
    if not math.isfinite(square) and flat.dtype != numpy.float64:
        # float32 overflows at a norm of 1.8e19; recount in float64 so that a
        # large but finite gradient is not reported as infinite.
        wide = flat.astype(numpy.float64)
        square = float(numpy.dot(wide, wide))
    return square


class _ActivationRecord:
    """The measurements of one activation module's output."""

    def __init__(self, module, window):
        self.type = type(module).__name__
        # which units fired in each of the last ``window`` recorded steps: a
        # unit is dead only if it fired in none of them, so a sparse but
        # living unit that missed one batch is not counted
        self.recent_alive = collections.deque(maxlen=window)
        if isinstance(module, ReLU):
            self.measure = "dead"
        elif isinstance(module, (Sigmoid, Tanh)):
            self.measure = "saturated"
        else:
            self.measure = None
        self.mean, self.std, self.saturated, self.dead = [], [], [], []
        self._reset()

    def _reset(self):
        self.count = 0
        self.total = self.total_square = 0.0
        self.saturated_count = 0
        self.alive = None  # per unit: non-zero somewhere in the batch, over every call this step

    def observe(self, output):
        values = output.reshape(-1)
        self.count += values.size
        total = float(values.sum())
        self.total += total if math.isfinite(total) else float(values.sum(dtype=numpy.float64))
        self.total_square += _square_norm(values)
        if self.measure == "saturated":
            if self.type == "Tanh":
                self.saturated_count += int(numpy.count_nonzero(values > TANH_SATURATION))
                self.saturated_count += int(numpy.count_nonzero(values < -TANH_SATURATION))
            else:
                self.saturated_count += int(numpy.count_nonzero(values < SIGMOID_MARGIN))
                self.saturated_count += int(numpy.count_nonzero(values > 1 - SIGMOID_MARGIN))
        elif self.measure == "dead":
            # A unit is one entry of axis 1 (a feature, or a channel of a
            # convolution); ReLU outputs are never negative, so the maximum
            # over the other axes is zero exactly when the unit never fired.
            if output.ndim >= 2:
                other_axes = (0,) + tuple(range(2, output.ndim))
                alive = output.max(axis=other_axes) > 0
            else:
                alive = output > 0
            self.alive = alive if self.alive is None or self.alive.shape != alive.shape else self.alive | alive

    def record(self):
        if self.count == 0:
            self.mean.append(math.nan)
            self.std.append(math.nan)
        else:
            # NaN means "not called this step", so NaN/Inf in the output
            # itself is kept as Inf: broken.
            mean = _finite_or_inf(self.total / self.count)
            self.mean.append(mean)
            variance = self.total_square / self.count - mean * mean
            self.std.append(math.sqrt(max(variance, 0.0)) if math.isfinite(variance) else math.inf)
        seen = self.count > 0
        self.saturated.append(self.saturated_count / self.count if seen and self.measure == "saturated" else math.nan)
        dead = self.measure == "dead" and self.alive is not None and self.alive.size
        self.dead.append(1.0 - float(self.alive.mean()) if dead else math.nan)
        if dead:
            self.recent_alive.append(self.alive)
        self._reset()

    def state_dict(self):
        return {"mean": _series(self.mean), "std": _series(self.std), "saturated": _series(self.saturated),
                "dead": _series(self.dead), "recent_alive": list(self.recent_alive),
                # what the step in progress has seen so far
                "count": self.count, "total": self.total, "total_square": self.total_square,
                "saturated_count": self.saturated_count, "alive": self.alive}

    def load_state_dict(self, state):
        self.mean, self.std, self.saturated, self.dead = (
            state[key].tolist() for key in ("mean", "std", "saturated", "dead"))
        self.recent_alive = collections.deque(state["recent_alive"], maxlen=self.recent_alive.maxlen)
        self.count, self.total, self.total_square = state["count"], state["total"], state["total_square"]
        self.saturated_count, self.alive = state["saturated_count"], state["alive"]

    def dead_across_window(self):
        """The fraction of units that fired in none of the recent recorded steps."""
        masks = [mask for mask in self.recent_alive if mask.shape == self.recent_alive[-1].shape] \
            if self.recent_alive else []
        if not masks:
            return math.nan
        return 1.0 - float(numpy.logical_or.reduce(masks).mean())


class GradientHealth:
    """Watch gradients, weights, updates and activations of a model while it trains.

    Attaches forward hooks to the model's activation modules and to the
    modules that own parameters; the model's code is not changed. Call
    ``step()`` after every optimiser step; every ``every``-th step is
    recorded. ``diagnose()`` names what is wrong, ``summary()`` prints it,
    ``save(folder)`` writes JSON, text and a picture, ``close()`` detaches.

    Parameters
    ----------
    model : nn.Module
    every : record every ``every``-th step (1: all of them)
    window : how many of the most recent recorded steps ``diagnose`` reads
    thresholds : a ``HealthThresholds`` (defaults documented there)

    Notes
    -----
    Only parameters with ``requires_grad=True`` when the monitor is created
    are watched. Activations are seen when they are modules (``nn.ReLU()``
    in a ``Sequential``, say); ``F.relu`` inside a ``forward`` is invisible
    to hooks. Forward passes in eval mode or under ``no_grad`` (validation)
    are not counted.

    Example
    -------
    >>> health = GradientHealth(model)
    >>> for x, y in loader:
    ...     optimizer.zero_grad()
    ...     F.cross_entropy(model(x), y).backward()
    ...     optimizer.step()
    ...     health.step()
    >>> print(health.summary())
    >>> [finding.kind for finding in health.diagnose()]
    []
    >>> health.close()
    """

    def __init__(self, model, every=1, window=20, thresholds=None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientHealth: every must be a positive int, got {every!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"GradientHealth: window must be a positive int, got {window!r}")
        self.model, self.every, self.window = model, every, window
        self.thresholds = thresholds or HealthThresholds()
        self.steps = []  # the step index of each recorded step
        self._step_count = 0
        self._layers = {}
        self._activations = {}
        self._forward_order = []  # module names, as their first recorded forward ran
        self._seen = set()
        self._handles = []
        claimed = set()
        for name, module in model.named_modules():
            own = [p for _, p in module.named_parameters(recurse=False) if p.requires_grad and id(p) not in claimed]
            claimed.update(id(p) for p in own)
            label = name or type(module).__name__
            if own:
                self._layers[label] = _LayerRecord(module, own)
            elif isinstance(module, _ACTIVATIONS):
                self._activations[label] = _ActivationRecord(module, window)
            else:
                continue
            self._handles.append(module.register_forward_hook(self._hook_for(label, module)))
        if not self._layers:
            raise ValueError(f"GradientHealth: {type(model).__name__} has no parameters that require grad")
        self._snapshot()

    # ---------------------------------------------------------------- recording

    def _recording(self):
        return self._step_count % self.every == 0

    def _hook_for(self, label, watched):
        activation = self._activations.get(label)

        def hook(module, args, output):
            # A deep copy of the model (preflight's, say) carries this hook
            # along; its forward passes are not the watched model's.
            if module is not watched or not (module.training and is_grad_enabled() and self._recording()):
                return None
            if label not in self._seen:
                self._seen.add(label)
                self._forward_order.append(label)
            if activation is not None:
                tensor = output if isinstance(output, Tensor) else next(
                    (o for o in output if isinstance(o, Tensor)), None)
                if tensor is not None:
                    with numpy.errstate(over="ignore", invalid="ignore"):
                        activation.observe(tensor.data)
            return None

        return hook

    def _snapshot(self):
        for layer in self._layers.values():
            layer.snapshot()

    def step(self):
        """Record this step's measurements (on recorded steps); call after ``optimizer.step()``."""
        if self._recording():
            with numpy.errstate(over="ignore", invalid="ignore"):
                for layer in self._layers.values():
                    layer.record()
            for activation in self._activations.values():
                activation.record()
            self.steps.append(self._step_count)
        self._step_count += 1
        if self._recording():
            self._snapshot()

    def close(self):
        """Remove the hooks from the model; what was recorded stays readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ---------------------------------------------------------------- checkpoints

    def state_dict(self):
        """Everything recorded, and what the next step needs, as arrays and JSON-friendly
        values: what a checkpoint keeps so that a resumed run continues the history exactly.
        The settings (``every``, ``window``, ``thresholds``) are the constructor's, not state."""
        return {"step_count": self._step_count, "steps": numpy.array(self.steps, dtype=numpy.int64),
                "forward_order": list(self._forward_order),
                "layers": {label: layer.state_dict() for label, layer in self._layers.items()},
                "activations": {label: record.state_dict() for label, record in self._activations.items()}}

    def load_state_dict(self, state):
        """Continue from a ``state_dict()`` of a monitor of the same model; what this one
        recorded is replaced. The hooks are left as the constructor registered them, so
        loading (once or many times) never adds a second set."""
        if set(state["layers"]) != set(self._layers) or set(state["activations"]) != set(self._activations):
            raise ValueError(f"GradientHealth.load_state_dict: the state is of a model with layers "
                             f"{list(state['layers'])} and activations {list(state['activations'])}; "
                             f"this one watches {list(self._layers)} and {list(self._activations)}")
        self._step_count, self.steps = state["step_count"], state["steps"].tolist()
        self._forward_order = list(state["forward_order"])
        self._seen = set(self._forward_order)
        for label, layer in self._layers.items():
            layer.load_state_dict(state["layers"][label])
        for label, record in self._activations.items():
            record.load_state_dict(state["activations"][label])

    def start_at(self, step):
        """Join a run that has already taken ``step`` optimiser steps: number the next
        step ``step`` and measure its update from the weights as they are now (a resumed
        run whose checkpoint holds no monitor state). Only before anything is recorded."""
        if self.steps:
            raise ValueError(f"GradientHealth.start_at: {len(self.steps)} steps are already recorded")
        self._step_count = step
        if self._recording():
            self._snapshot()

    # ---------------------------------------------------------------- reading

    def layer_names(self):
        """Layers with parameters in the order their forward ran (unused ones last)."""
        ordered = [label for label in self._forward_order if label in self._layers]
        return ordered + [label for label in self._layers if label not in ordered]

    def activation_names(self):
        ordered = [label for label in self._forward_order if label in self._activations]
        return ordered + [label for label in self._activations if label not in ordered]

    def history(self):
        """Everything recorded, as JSON-friendly lists (NaN where nothing was measured).

        Returns a dict with ``steps``, ``layers`` (name -> type, grad_norm,
        weight_norm, update_ratio) and ``activations`` (name -> type, mean,
        std, saturated, dead).
        """
        layers = {}
        for label in self.layer_names():
            layer = self._layers[label]
            layers[label] = {"type": layer.type, "grad_norm": list(layer.grad_norm),
                             "weight_norm": list(layer.weight_norm), "update_ratio": list(layer.update_ratio)}
        activations = {}
        for label in self.activation_names():
            record = self._activations[label]
            activations[label] = {"type": record.type, "mean": list(record.mean), "std": list(record.std),
                                  "saturated": list(record.saturated), "dead": list(record.dead)}
        return {"steps": list(self.steps), "every": self.every, "layers": layers, "activations": activations}

    def _recent(self, series):
        return numpy.asarray(series[-self.window:], dtype=numpy.float64)

    # ---------------------------------------------------------------- diagnosis

    def diagnose(self):
        """The problems visible in the last ``window`` recorded steps, as ``Finding``s.

        An empty list means no threshold of ``self.thresholds`` was crossed.

        Example
        -------
        >>> [(f.kind, f.layers) for f in health.diagnose()]
        [('vanishing', ['0', '2', '4'])]
        """
        if not self.steps:
            return []
        non_finite, blown_at = self._non_finite()
        if non_finite is not None:
            # With NaN/Inf in the weights every later number is meaningless:
            # report how it blew up, from the steps before, and nothing else.
            growth = self._exploding_in_time(end=blown_at)
            return [_merged([non_finite] + ([growth] if growth is not None else []))]
        names = self.layer_names()
        grad_norms = {label: _finite_median(self._recent(self._layers[label].grad_norm)) for label in names}
        update_ratios = {label: _finite_median(self._recent(self._layers[label].update_ratio)) for label in names}
        flowing = [label for label in names if grad_norms[label] > 0]
        without_gradient = [label for label in names if label not in flowing]
        exploding = [f for f in (self._exploding_in_time(end=len(self.steps)),
                                 self._exploding_with_depth(flowing, grad_norms)) if f is not None]
        dead = self._dead()
        findings = [f for f in (self._vanishing(flowing, grad_norms), self._saturated(), dead) if f is not None]
        if exploding:
            findings.append(_merged(exploding))
        if without_gradient and dead is not None:
            dead.evidence["layers_without_gradient"] = without_gradient
            dead.message += f"; no gradient at all reaches {_list(without_gradient)} behind them"
        elif without_gradient:
            findings.append(self._no_gradient(without_gradient))
        vanishing = {label for f in findings if f.kind == "vanishing" for label in f.layers}
        findings += self._updates(flowing, update_ratios, grad_norms, vanishing)
        return sorted(findings, key=lambda f: KINDS.index(f.kind))

    def _non_finite(self):
        """The finding for the first recorded step with NaN/Inf, and its position (or None, None)."""
        first = {}  # label -> position of its first non-finite value
        for label, layer in self._layers.items():
            flags = numpy.isinf(layer.grad_norm) | numpy.isinf(layer.weight_norm)
            if flags.any():
                first[label] = int(numpy.argmax(flags))
        for label, record in self._activations.items():
            flags = numpy.isinf(record.mean) | numpy.isinf(record.std)
            if flags.any():
                first[label] = int(numpy.argmax(flags))
        if not first:
            return None, None
        position = min(first.values())
        broken = [label for label in self.layer_names() if first.get(label) == position]
        overflowing = [label for label in self.activation_names() if first.get(label) == position]
        where = [f"gradients or weights of {_list(broken)}"] if broken else []
        where += [f"the outputs of {_list(overflowing)}"] if overflowing else []
        step = self.steps[position]
        return Finding(
            "exploding", [label for label in self._forward_order if label in first and first[label] == position]
            + [label for label in broken if label not in self._forward_order],
            {"first_non_finite_step": step,
             "grad_norm": {label: self._layers[label].grad_norm[position] for label in broken},
             "weight_norm": {label: self._layers[label].weight_norm[position] for label in broken},
             "overflowing_activations": overflowing},
            f"values overflow to NaN/Inf first at step {step}, in {' and '.join(where)}",
            _EXPLODING_ADVICE), position

    @staticmethod
    def _ratios_to_last(names, grad_norms):
        """Each earlier layer's gradient norm over the last layer's (names in forward order)."""
        return {label: grad_norms[label] / grad_norms[names[-1]] for label in names[:-1]}

    def _vanishing(self, names, grad_norms):
        last = names[-1] if names else None
        ratios = self._ratios_to_last(names, grad_norms)
        weak = [label for label, ratio in ratios.items() if ratio < self.thresholds.vanishing_ratio]
        if not weak:
            return None
        first = names[0]
        return Finding(
            "vanishing", weak,
            {"grad_norm": {label: grad_norms[label] for label in names},
             "ratio_to_last_layer": {label: ratios[label] for label in weak},
             "threshold": self.thresholds.vanishing_ratio},
            f"the gradient norm falls {_orders(grad_norms[first] / grad_norms[last])} from the last layer "
            f"({last}: {grad_norms[last]:.2g}) to the first ({first}: {grad_norms[first]:.2g}); "
            f"{_list(weak)} get less than {self.thresholds.vanishing_ratio:g} of the last layer's gradient",
            "each sigmoid or tanh multiplies the gradient by its derivative (at most 0.25 for sigmoid), and "
            "small weights shrink it further, so the early layers barely learn. Try ReLU-family activations "
            "(ReLU, LeakyReLU, GELU) with He initialisation (nn.init.kaiming_normal_), or Xavier initialisation "
            "for tanh; normalisation layers (BatchNorm1d, LayerNorm) between layers; residual connections; "
            "or fewer layers.")

    def _exploding_with_depth(self, names, grad_norms):
        last = names[-1] if names else None
        ratios = self._ratios_to_last(names, grad_norms)
        strong = [label for label, ratio in ratios.items() if ratio > self.thresholds.exploding_depth_ratio]
        if not strong:
            return None
        return Finding(
            "exploding", strong,
            {"grad_norm": {label: grad_norms[label] for label in names},
             "ratio_to_last_layer": {label: ratios[label] for label in strong},
             "threshold": self.thresholds.exploding_depth_ratio},
            f"the gradient norm grows {_orders(max(ratios[label] for label in strong))} from the last layer "
            f"({last}: {grad_norms[last]:.2g}) back to {_list(strong)}",
            _EXPLODING_ADVICE)

    def _exploding_in_time(self, end):
        """Whether the total gradient norm grew across the ``window`` recorded steps before position ``end``."""
        begin = max(end - self.window, 0)
        totals = numpy.sqrt(sum(
            numpy.nan_to_num(numpy.asarray(self._layers[label].grad_norm[begin:end], dtype=numpy.float64), nan=0.0) ** 2
            for label in self._layers))
        totals = totals[numpy.isfinite(totals)]
        if totals.size < 4:
            return None
        third = totals.size // 3
        before, after = float(numpy.median(totals[:third])), float(numpy.median(totals[-third:]))
        if not (before > 0 and after / before > self.thresholds.exploding_growth):
            return None
        rising = float(numpy.mean(numpy.diff(totals) > 0))
        first_step, last_step = self.steps[begin], self.steps[end - 1]
        return Finding(
            "exploding", self.layer_names(),
            {"total_grad_norm_before": before, "total_grad_norm_after": after, "growth": after / before,
             "fraction_of_steps_rising": rising, "steps": [first_step, last_step],
             "threshold": self.thresholds.exploding_growth},
            f"the total gradient norm grew {_orders(after / before)} within steps {first_step}-{last_step} "
            f"(median of the first third {before:.2g}, of the last third {after:.2g}; it rose in "
            f"{rising:.0%} of the steps)",
            _EXPLODING_ADVICE)

    def _saturated(self):
        fractions = {label: _finite_median(self._recent(record.saturated))
                     for label, record in self._activations.items() if record.measure == "saturated"}
        hit = [label for label in self.activation_names()
               if label in fractions and fractions[label] >= self.thresholds.saturated_fraction]
        if not hit:
            return None
        return Finding(
            "saturated", hit,
            {"saturated_fraction": {label: fractions[label] for label in hit},
             "threshold": self.thresholds.saturated_fraction},
            f"outputs near the activation's limits (|tanh| > {TANH_SATURATION}, sigmoid < {SIGMOID_MARGIN} or "
            f"> {1 - SIGMOID_MARGIN}), where its derivative is nearly zero: {self._percentages(hit, fractions)}",
            "the pre-activations are too large: weights initialised too large, inputs not normalised, or a "
            "learning rate that pushed them out. Try normalising the inputs; Xavier initialisation "
            "(nn.init.xavier_normal_); a normalisation layer (BatchNorm1d, LayerNorm) before the activation; "
            "a smaller learning rate; or ReLU-family activations, which do not saturate for positive inputs.")

    def _dead(self):
        fractions = {label: record.dead_across_window()
                     for label, record in self._activations.items() if record.measure == "dead"}
        hit = [label for label in self.activation_names()
               if label in fractions and fractions[label] >= self.thresholds.dead_fraction]
        if not hit:
            return None
        return Finding(
            "dead", hit,
            {"dead_fraction": {label: fractions[label] for label in hit},
             "threshold": self.thresholds.dead_fraction},
            f"ReLU units that output zero for every example of the last {min(self.window, len(self.steps))} "
            f"recorded steps, so that no gradient passes through them: {self._percentages(hit, fractions)}",
            "pre-activations pushed below zero for every input: large negative biases, a learning rate so "
            "large that one step knocked the units out, or poor initialisation. Try a smaller learning rate; "
            "He initialisation with zero biases; LeakyReLU, ELU or GELU, which keep a gradient for negative "
            "inputs; or a normalisation layer (BatchNorm1d) before the ReLU.")

    def _no_gradient(self, labels):
        return Finding(
            "vanishing", labels, {"grad_norm": {label: 0.0 for label in labels}},
            f"no gradient at all reaches {_list(labels)}",
            "a layer with exactly zero (or no) gradient is cut off from the loss: its output is detached "
            "(.detach(), .data, a NumPy round trip), multiplied by zero, or not used in forward; or every unit "
            "after it is dead (ReLU modules are checked for that, F.relu calls cannot be). Follow the layer's "
            "output to the loss.")

    def _updates(self, names, ratios, grad_norms, explained):
        measured = {label: ratios[label] for label in names if math.isfinite(ratios[label])}
        large = [label for label, ratio in measured.items() if ratio > self.thresholds.update_too_large]
        small = [label for label, ratio in measured.items()
                 if ratio < self.thresholds.update_too_small and label not in explained
                 and not self._converged(label, grad_norms[label])]
        findings = []
        if large:
            findings.append(Finding(
                "update-too-large", large,
                {"update_ratio": {label: measured[label] for label in large},
                 "threshold": self.thresholds.update_too_large, "typical": TYPICAL_UPDATE_RATIO},
                f"each step changes the weights of {self._ratios(large, measured)} of their norm (median "
                f"‖Δw‖/‖w‖; around {TYPICAL_UPDATE_RATIO:g} is typical of healthy training)",
                "the learning rate is too large for these weights: training will be noisy or diverge. Try a "
                "learning rate 10x smaller, a warm-up, or gradient clipping (clip_grad_norm_)."))
        if small:
            findings.append(Finding(
                "update-too-small", small,
                {"update_ratio": {label: measured[label] for label in small},
                 "threshold": self.thresholds.update_too_small, "typical": TYPICAL_UPDATE_RATIO},
                f"each step changes the weights of {self._ratios(small, measured)} of their norm (median "
                f"‖Δw‖/‖w‖; around {TYPICAL_UPDATE_RATIO:g} is typical of healthy training)",
                "the learning rate is too small (or a scheduler has decayed it to almost nothing), so these "
                "layers hardly move. Try a learning rate 10x larger, or Adam, which scales steps per parameter."))
        return findings

    def _describe(self, label):
        record = self._layers.get(label) or self._activations[label]
        return f"{label} ({record.type})"

    def _percentages(self, labels, fractions):
        return ", ".join(f"{fractions[label]:.0%} in {self._describe(label)}" for label in labels)

    def _ratios(self, labels, ratios):
        return ", ".join(f"{self._describe(label)} by {ratios[label]:.2g}" for label in labels)

    def _converged(self, label, recent_grad_norm):
        """Whether the layer's gradient has fallen 100-fold since the first
        recorded steps: then tiny updates mean training has converged, not
        that the learning rate is too small."""
        early = _finite_median(numpy.asarray(self._layers[label].grad_norm[:self.window], dtype=numpy.float64))
        return recent_grad_norm < CONVERGED_GRADIENT_DROP * early

    # ---------------------------------------------------------------- reporting

    def summary(self):
        """A text report: a table per layer (medians over the window) and the findings.

        Example
        -------
        >>> print(health.summary())
        """
        lines = [f"Gradient health of {type(self.model).__name__}: {len(self.steps)} steps recorded "
                 f"(every {self.every}), medians over the last {min(self.window, len(self.steps))}."]
        if not self.steps:
            lines.append("Nothing recorded yet: call health.step() after each optimizer.step().")
            return "\n".join(lines)
        names = self.layer_names()
        width = max(len("layer"), len("activation"), *(len(label) for label in names + self.activation_names()))
        lines += ["", f"{'layer':<{width}}  {'type':<12}{'grad norm':>11}{'weight norm':>13}{'update/weight':>15}"]
        for label in names:
            layer = self._layers[label]
            lines.append(f"{label:<{width}}  {layer.type:<12}"
                         f"{_number(_finite_median(self._recent(layer.grad_norm))):>11}"
                         f"{_number(_finite_median(self._recent(layer.weight_norm))):>13}"
                         f"{_number(_finite_median(self._recent(layer.update_ratio))):>15}")
        if self._activations:
            lines += ["", f"{'activation':<{width}}  {'type':<12}{'mean':>11}{'std':>13}{'saturated':>11}{'dead':>8}"]
            for label in self.activation_names():
                record = self._activations[label]
                lines.append(f"{label:<{width}}  {record.type:<12}"
                             f"{_number(_finite_median(self._recent(record.mean))):>11}"
                             f"{_number(_finite_median(self._recent(record.std))):>13}"
                             f"{_fraction(_finite_median(self._recent(record.saturated))):>11}"
                             f"{_fraction(record.dead_across_window()):>8}")
        findings = self.diagnose()
        lines.append("")
        if not findings:
            lines.append("No problems found: gradients reach every layer at a similar scale, and updates are "
                         "neither too large nor too small.")
        else:
            lines.append(f"{len(findings)} finding{'s' if len(findings) > 1 else ''}:")
            lines += [str(finding) for finding in findings]
        return "\n".join(lines)

    def save(self, folder):
        """Write ``gradient_health.json``, ``gradient_health.txt`` and ``gradient_health.png`` into ``folder``.

        The picture (a layers x steps heatmap of log10 gradient norm beside
        the update ratio curves) needs matplotlib; without it the PNG is
        skipped with a warning. Returns the paths written.

        Example
        -------
        >>> health.save("runs/health")
        ['runs/health/gradient_health.json', 'runs/health/gradient_health.txt', 'runs/health/gradient_health.png']
        """
        os.makedirs(folder, exist_ok=True)
        findings = self.diagnose()
        report = {"history": self.history(), "window": self.window,
                  "thresholds": asdict(self.thresholds), "findings": [f.to_dict() for f in findings]}
        written = []
        path = os.path.join(folder, "gradient_health.json")
        with atomic_write(path, "w") as f:
            json.dump(_json_safe(report), f, indent=1)
        written.append(path)
        path = os.path.join(folder, "gradient_health.txt")
        with atomic_write(path, "w") as f:
            f.write(self.summary() + "\n")
        written.append(path)
        path = os.path.join(folder, "gradient_health.png")
        if plot_health(self, path):
            written.append(path)
        return written


_EXPLODING_ADVICE = (
    "weights initialised too large, or a learning rate so large that each update makes the next gradient "
    "larger still. Try gradient clipping (nn.utils.clip_grad_norm_(model.parameters(), 1.0) before "
    "optimizer.step(), or Trainer(clip_grad_norm=1.0)); a smaller learning rate; He or Xavier "
    "initialisation instead of large weights; normalisation layers; for recurrent nets, clipping and "
    "orthogonal recurrent weights.")


def _merged(findings):
    """One ``exploding`` finding from several pieces of evidence for it."""
    if len(findings) == 1:
        return findings[0]
    layers = []
    for finding in findings:
        layers += [label for label in finding.layers if label not in layers]
    evidence = {}
    for finding in findings:
        evidence.update(finding.evidence)
    return Finding("exploding", layers, evidence, "; ".join(f.message for f in findings), _EXPLODING_ADVICE)


def _is_broken(layer, position):
    return math.isinf(layer.grad_norm[position]) or math.isinf(layer.weight_norm[position])


def _finite_median(values):
    values = values[numpy.isfinite(values)]
    return float(numpy.median(values)) if values.size else math.nan


def _orders(factor):
    if not factor > 0:
        return "to zero"
    return f"{max(factor, 1 / factor):.2g}x (10^{abs(math.log10(factor)):.1f})"


def _list(labels):
    return ", ".join(str(label) for label in labels)




def _number(value):
    return "-" if not math.isfinite(value) else f"{value:.2e}"


def _fraction(value):
    return "-" if not math.isfinite(value) else f"{value:.0%}"


def _json_safe(value):
    """NaN and Inf become None: JSON has no spelling for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, numpy.generic):
        return _json_safe(value.item())
    return value


def plot_health(health, path):
    """Draw ``health``'s heatmap of log10 gradient norms and its update-ratio
    curves into the PNG at ``path``. Returns False (with a warning) when
    matplotlib is not installed.

    Example
    -------
    >>> plot_health(health, "health.png")
    True
    """
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        warnings.warn("GradientHealth.save: matplotlib is not installed, so gradient_health.png was skipped "
                      "(pip install 'chainrule[plots]'); the JSON and text reports were written", stacklevel=3)
        return False
    history = health.history()
    names = list(history["layers"])
    steps = numpy.asarray(history["steps"])
    grad_norms = numpy.array([history["layers"][label]["grad_norm"] for label in names], dtype=numpy.float64)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        log_norms = numpy.log10(grad_norms)
    log_norms[~numpy.isfinite(log_norms) & (grad_norms != 0)] = numpy.nan
    finite = log_norms[numpy.isfinite(log_norms)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    # a zero gradient is drawn below the colour scale (black), apart from
    # "not measured" and NaN/Inf (blank)
    log_norms[grad_norms == 0] = low - 1
    # An object-oriented figure with its own Agg canvas: no pyplot, so the
    # user's global backend and open figures are left alone.
    figure = Figure(figsize=(11, 1.2 + 0.3 * max(len(names), 6)), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    heat, curves = figure.subplots(1, 2, width_ratios=(1.25, 1))
    extent = (steps[0] - 0.5, steps[-1] + 0.5, len(names) - 0.5, -0.5) if steps.size else None
    colours = matplotlib.colormaps["viridis"].with_extremes(under="black", bad="white")
    image = heat.imshow(numpy.ma.masked_invalid(log_norms), aspect="auto", interpolation="nearest",
                        cmap=colours, vmin=low, vmax=max(high, low + 1e-6), extent=extent)
    heat.set_yticks(range(len(names)), [f"{label} ({history['layers'][label]['type']})" for label in names])
    heat.set_xlabel("step")
    heat.set_title("log10 gradient norm (black: zero; blank: none, or NaN/Inf)")
    figure.colorbar(image, ax=heat, label="log10 ‖∇w‖")
    for label in names:
        ratios = numpy.asarray(history["layers"][label]["update_ratio"], dtype=numpy.float64)
        curves.plot(steps, numpy.where(ratios > 0, ratios, numpy.nan), label=label, linewidth=1.2)
    thresholds = health.thresholds
    for level, style, text in ((thresholds.update_too_large, "--", "too large"),
                               (TYPICAL_UPDATE_RATIO, ":", "typical"),
                               (thresholds.update_too_small, "--", "too small")):
        curves.axhline(level, color="grey", linestyle=style, linewidth=0.8)
        curves.annotate(text, (0.01, level), xycoords=("axes fraction", "data"), fontsize=7, color="grey",
                        va="bottom")
    curves.set_yscale("log")
    curves.set_xlabel("step")
    curves.set_title("update ratio ‖Δw‖ / ‖w‖ per step")
    curves.legend(fontsize=7, ncol=2 if len(names) > 6 else 1, loc="best")
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format="png")
    return True
