"""Learning-rate schedules: each sets ``group["lr"]`` of its optimiser on ``step()``.

The values follow PyTorch's step by step. Most schedules update the current
learning rate recursively (multiply by gamma, rescale along the cosine), as
PyTorch does, so that two schedules can act on one optimiser and so that the
numbers agree with PyTorch's to rounding; each also has the closed form that
``SequentialLR`` uses when it hands over to it.
"""
import bisect
import copy
import math
import types
from collections import Counter

from .optimizer import Optimizer


def _check_optimizer(owner, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected a chainrule.optim.Optimizer, got {type(optimizer).__name__}")


def _per_group(owner, name, value, optimizer):
    """``value`` repeated for every parameter group, or checked to have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{owner}: {name} has {len(value)} values but the optimiser has "
                f"{len(optimizer.param_groups)} parameter groups"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class of the schedules.

    A subclass implements ``get_lr()``: the learning rates for
    ``self.last_epoch``, usually computed from the current
    ``group["lr"]``. The constructor records each group's starting rate as
    ``group["initial_lr"]`` (kept in ``base_lrs``) and takes the first step,
    to epoch 0.

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int, default -1
        The index of the last epoch; leave at -1 except when resuming,
        where the groups must already hold ``"initial_lr"``.

    Example
    -------
    >>> scheduler = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    >>> for epoch in range(30):
    ...     train_one_epoch(model, optimizer)      # calls optimizer.step()
    ...     scheduler.step()
    >>> scheduler.get_last_lr()
    """

    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', which resuming with "
                        f"last_epoch={last_epoch} needs; load the optimiser's state dict first, or pass "
                        f"last_epoch=-1 to start afresh"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The learning rates of every group at ``self.last_epoch``; called by ``step``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def _closed_form_lr(self):
        """The learning rates at ``self.last_epoch`` computed from ``base_lrs`` alone."""
        return self.get_lr()

    def get_last_lr(self):
        """The learning rates this schedule set most recently, one per group."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch (or batch) and set the optimiser's learning rates.

        Call it after ``optimizer.step()``.
        """
        self._step_count += 1
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _restart(self):
        """Jump to epoch 0 by the closed form; how ``SequentialLR`` hands over to this schedule."""
        self.last_epoch = 0
        self._set_lrs(self._closed_form_lr())

    def _set_lrs(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything the schedule holds except the optimiser, as plain data."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the schedule from ``state_dict()``'s result.

        Load the optimiser's own state dict too; build the schedule before
        loading it, since building one sets the learning rates.
        """
        self.__dict__.update(copy.deepcopy(state_dict))


class LambdaLR(LRScheduler):
    """Learning rate ``base_lr * lr_lambda(epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        Maps the epoch to a factor; one function for all groups, or one per
        group. In ``state_dict`` a callable object's attributes are saved,
        a plain function or lambda is not.
    last_epoch : int, default -1

    Example
    -------
    >>> scheduler = LambdaLR(optimizer, lr_lambda=lambda epoch: 0.95 ** epoch)
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer("LambdaLR", optimizer)
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = _per_group("LambdaLR", "lr_lambda", lr_lambda, optimizer)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * factor(self.last_epoch) for factor, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved_lambdas = state_dict.pop("lr_lambdas")
        super().load_state_dict(state_dict)
        for fn, attributes in zip(self.lr_lambdas, saved_lambdas):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``

    Example
    -------
    >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)   # 0.05 until 30, 0.005 until 60, ...
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not step_size > 0:
            raise ValueError(f"StepLR: invalid step_size={step_size!r}; it must be > 0")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch.

    ``lr = base_lr * gamma ** (number of milestones <= epoch)``; a milestone
    listed twice counts twice.

    Example
    -------
    >>> scheduler = MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def _closed_form_lr(self):
        passed = bisect.bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``.

    Example
    -------
    >>> scheduler = ExponentialLR(optimizer, gamma=0.95)
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        # NOTE: the first step only records the rates; when resuming it must
        # not decay them once more.
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor that moves linearly from
    ``start_factor`` to ``end_factor`` over ``total_iters`` epochs, then stays.

    ``lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float in (0, 1], default 1/3
    end_factor : float in [0, 1], default 1.0
    total_iters : int, default 5
    last_epoch : int, default -1

    Example
    -------
    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=10)
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor={start_factor!r}; it must be in (0, 1]")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor={end_factor!r}; it must be in [0, 1]")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # the ratio of consecutive factors, so that the rate is rescaled, not reset
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in self._current_lrs()]

    def _closed_form_lr(self):
        change = self.end_factor - self.start_factor
        factor = self.start_factor + change * min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * factor for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate along a cosine from ``base_lr`` to ``eta_min``
    over ``T_max`` epochs.

    .. math::
        \eta_t = \eta_{min} + \tfrac12 (\eta_{base} - \eta_{min})
                 \left(1 + \cos\frac{\pi t}{T_{max}}\right)

    The rate is updated recursively, as in PyTorch, so the schedule also
    composes with changes made by others; past ``T_max`` it climbs back
    along the cosine (a period of ``2 T_max``), without restarts.

    Example
    -------
    >>> scheduler = CosineAnnealingLR(optimizer, T_max=100, eta_min=1e-5)
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: invalid T_max={T_max!r}; it must be > 0")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch, period = self.last_epoch, self.T_max
        if self._is_initial:
            return self._current_lrs()
        if (epoch - 1 - period) % (2 * period) == 0:
            # the ratio below would divide by 1 + cos(pi) = 0 at the trough: add the first rise instead
            rise = (1 - math.cos(math.pi / period)) / 2
            return [lr + (base_lr - self.eta_min) * rise for lr, base_lr in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (1 + math.cos(math.pi * (epoch - 1) / period))
        return [ratio * (lr - self.eta_min) + self.eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith): warm the learning rate up from
    ``max_lr / div_factor`` to ``max_lr``, then anneal it to
    ``max_lr / (div_factor * final_div_factor)``, stepping once per batch.
    Momentum (SGD's ``momentum`` or Adam's ``beta1``) moves the opposite way,
    between ``max_momentum`` and ``base_momentum``.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of floats (one per group)
    total_steps : int, optional
        The number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float, default 0.3
        The fraction of the cycle spent warming up.
    anneal_strategy : {'cos', 'linear'}, default 'cos'
    cycle_momentum : bool, default True
    base_momentum, max_momentum : float or list, default 0.85 and 0.95
    div_factor : float, default 25
    final_div_factor : float, default 1e4
    three_phase : bool, default False
        Warm up, come back down to the initial rate symmetrically, then
        anneal to the minimum (the paper's schedule), instead of two phases.
    last_epoch : int, default -1
        The index of the last batch.

    Example
    -------
    >>> scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    >>> for epoch in range(10):
    ...     for batch in loader:
    ...         train_batch(model, optimizer, batch)
    ...         scheduler.step()
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_optimizer("OneCycleLR", optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not (isinstance(total_steps, int) and total_steps > 0):
                raise ValueError(f"OneCycleLR: invalid total_steps={total_steps!r}; it must be a positive int")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not (isinstance(value, int) and value > 0):
                    raise ValueError(f"OneCycleLR: invalid {name}={value!r}; it must be a positive int")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give either total_steps, or both epochs and steps_per_epoch")
        if not (isinstance(pct_start, float) and 0 <= pct_start <= 1):
            raise ValueError(f"OneCycleLR: invalid pct_start={pct_start!r}; it must be a float in [0, 1]")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: invalid anneal_strategy={anneal_strategy!r}; use 'cos' or 'linear'")
        self.anneal_strategy = anneal_strategy
        warmup_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, _per_group("OneCycleLR", "max_lr", max_lr, optimizer)):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum=True needs an optimiser with momentum or betas, "
                    f"{type(optimizer).__name__} has neither; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                highs = _per_group("OneCycleLR", "max_momentum", max_momentum, optimizer)
                lows = _per_group("OneCycleLR", "base_momentum", base_momentum, optimizer)
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start, end, fraction):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step} times, but the cycle has total_steps={self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for i, (phase_end, lr_from, lr_to, momentum_from, momentum_to) in enumerate(self._phases):
                if step <= phase_end or i == len(self._phases) - 1:
                    fraction = (step - phase_start) / (phase_end - phase_start)
                    break
                phase_start = phase_end
            lrs.append(self._anneal(group[lr_from], group[lr_to], fraction))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[momentum_from], group[momentum_to], fraction))
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    ``step(metric)`` counts the epochs since the metric last improved on its
    best value by more than ``threshold``; once that count exceeds
    ``patience`` the rates drop (never below ``min_lr``, and not at all if
    the drop would be smaller than ``eps``) and ``cooldown`` epochs follow
    in which nothing is counted.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {'min', 'max'}, default 'min'
        Whether the metric improves by going down (a loss) or up (an accuracy).
    factor : float < 1, default 0.1
    patience : int, default 10
    threshold : float, default 1e-4
    threshold_mode : {'rel', 'abs'}, default 'rel'
        Improvement means beating ``best * (1 - threshold)`` ('rel', in
        'min' mode) or ``best - threshold`` ('abs'); mirrored in 'max' mode.
    cooldown : int, default 0
    min_lr : float or list of floats (one per group), default 0
    eps : float, default 1e-8

    Example
    -------
    >>> scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
    >>> for epoch in range(100):
    ...     train_one_epoch(model, optimizer)
    ...     scheduler.step(validation_loss(model))
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        _check_optimizer("ReduceLROnPlateau", optimizer)
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: invalid factor={factor!r}; it must be < 1.0")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: invalid mode={mode!r}; use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: invalid threshold_mode={threshold_mode!r}; use 'rel' or 'abs'")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", min_lr, optimizer)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.mode = mode
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics):
        """Record one epoch's ``metrics`` (a number or a one-element tensor)."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lrs()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _is_better(self, value):
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bar

    def _reduce_lrs(self):
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimiser now has {len(groups)} parameter groups but min_lr "
                    f"was given for {len(self.min_lrs)}; set scheduler.min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr


class SequentialLR(LRScheduler):
    """Run schedules one after another, switching at the milestone epochs.

    At each milestone the next schedule restarts from its epoch 0 (from
    the base learning rates), so ``milestones`` must have one entry fewer
    than ``schedulers``.

    Example
    -------
    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    >>> decay = CosineAnnealingLR(optimizer, T_max=95)
    >>> scheduler = SequentialLR(optimizer, schedulers=[warmup, decay], milestones=[5])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer("SequentialLR", optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: schedulers is empty; give at least one schedule")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric; "
                    f"it cannot be sequenced"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) belongs to another optimiser"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                f"got milestones={list(milestones)!r}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Each schedule took its first step when it was built; undo them all
        # and let only the first one start.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @classmethod
    def _undo_initial_steps(cls, scheduler):
        if isinstance(scheduler, SequentialLR):
            for inner in scheduler._schedulers:
                cls._undo_initial_steps(inner)
        else:
            scheduler.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved_schedulers = state_dict.pop("_schedulers")
        super().load_state_dict(state_dict)
        for scheduler, saved in zip(self._schedulers, saved_schedulers):
            scheduler.load_state_dict(saved)
