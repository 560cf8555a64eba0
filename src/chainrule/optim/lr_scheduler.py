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


def _uses_beta1(owner, optimizer):
    """Whether cycling momentum means changing ``betas[0]`` (Adam's kind) rather than ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{owner}: cycle_momentum=True needs an optimiser with momentum or betas, "
            f"{type(optimizer).__name__} has neither; pass cycle_momentum=False"
        )
    return "betas" in optimizer.defaults


def _set_momentum(group, momentum, use_beta1):
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _saved_attributes(fn):
    """What ``state_dict`` keeps of a user's callable: a callable object's
    attributes; nothing (None) of a plain function or lambda."""
    return None if fn is None or isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)


def _restore_attributes(fn, attributes):
    if attributes is not None:
        fn.__dict__.update(copy.deepcopy(attributes))


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
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = _per_group(name, "lr_lambda", lr_lambda, optimizer)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{name}: lr_lambda must be a function of the epoch, got a {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * factor(self.last_epoch) for factor, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [_saved_attributes(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved_lambdas = state_dict.pop("lr_lambdas")
        super().load_state_dict(state_dict)
        for fn, attributes in zip(self.lr_lambdas, saved_lambdas):
            _restore_attributes(fn, attributes)


class MultiplicativeLR(LambdaLR):
    """Multiply the learning rate by ``lr_lambda(epoch)`` every epoch.

    ``lr = base_lr * lr_lambda(1) * lr_lambda(2) * ... * lr_lambda(epoch)``

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callables
        Maps the epoch to this epoch's factor; one function for all groups,
        or one per group. Saved in ``state_dict`` as in :class:`LambdaLR`.
    last_epoch : int, default -1

    Example
    -------
    >>> scheduler = MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.95)
    """

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * factor(self.last_epoch) for factor, lr in zip(self.lr_lambdas, self._current_lrs())]


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


class ConstantLR(LRScheduler):
    """Scale the learning rate by ``factor`` for the first ``total_iters``
    epochs, then return it to the base rate.

    ``lr = base_lr * factor`` while ``epoch < total_iters``, then ``base_lr``.

    Parameters
    ----------
    optimizer : Optimizer
    factor : float in (0, 1], default 1/3
    total_iters : int, default 5
    last_epoch : int, default -1

    Example
    -------
    >>> warmup = ConstantLR(optimizer, factor=0.1, total_iters=3)   # 10x smaller for 3 epochs
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        # NOTE: PyTorch accepts factor=0 and then fails dividing by it at total_iters; refuse it up front.
        if not 0 < factor <= 1:
            raise ValueError(f"ConstantLR: invalid factor={factor!r}; it must be in (0, 1]")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]  # undo the factor, rounded as PyTorch does

    def _closed_form_lr(self):
        factor = 1.0 if self.last_epoch >= self.total_iters else self.factor
        return [base_lr * factor for base_lr in self.base_lrs]


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


class PolynomialLR(LRScheduler):
    """Decay the learning rate to 0 along a polynomial over ``total_iters`` epochs, then keep it there.

    ``lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``

    Parameters
    ----------
    optimizer : Optimizer
    total_iters : int, default 5
    power : float, default 1.0
        1 is a straight line to zero; above 1 it drops fast and flattens
        out, below 1 it stays high and falls at the end.
    last_epoch : int, default -1

    Example
    -------
    >>> scheduler = PolynomialLR(optimizer, total_iters=100, power=2.0)
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        if not total_iters > 0:
            raise ValueError(f"PolynomialLR: invalid total_iters={total_iters!r}; it must be > 0")
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch, total = self.last_epoch, self.total_iters
        if self._is_initial or epoch > total:
            return self._current_lrs()
        # the ratio of consecutive factors, so that the rate is rescaled, not reset
        ratio = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [lr * ratio for lr in self._current_lrs()]

    def _closed_form_lr(self):
        factor = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
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


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter): anneal
    from ``base_lr`` to ``eta_min`` along a cosine over ``T_0`` epochs, jump back
    to ``base_lr``, and repeat, each period ``T_mult`` times longer than the last.

    .. math::
        \eta_t = \eta_{min} + \tfrac12 (\eta_{base} - \eta_{min})
                 \left(1 + \cos\frac{\pi T_{cur}}{T_i}\right)

    with :math:`T_{cur}` the epochs since the last restart and :math:`T_i`
    the length of the current period.

    Parameters
    ----------
    optimizer : Optimizer
    T_0 : int
        The length of the first period.
    T_mult : int, default 1
    eta_min : float, default 0
    last_epoch : int, default -1

    ``step()`` advances one epoch; ``step(epoch)`` jumps to ``epoch``, which
    may be fractional, so that the schedule can be stepped every batch with
    ``step(epoch + batch / batches_per_epoch)``.

    Example
    -------
    >>> scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)   # restarts at 10, 30, 70, ...
    >>> for epoch in range(70):
    ...     for i, batch in enumerate(loader):
    ...         train_batch(model, optimizer, batch)
    ...         scheduler.step(epoch + i / len(loader))
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if not (isinstance(T_0, int) and T_0 > 0):
            raise ValueError(f"CosineAnnealingWarmRestarts: invalid T_0={T_0!r}; it must be a positive int")
        if not (isinstance(T_mult, int) and T_mult >= 1):
            raise ValueError(f"CosineAnnealingWarmRestarts: invalid T_mult={T_mult!r}; it must be an int >= 1")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]

    def step(self, epoch=None):
        """Advance one epoch, or go to ``epoch`` (a float is allowed) when given."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                # a modulo, not a subtraction: built with last_epoch past a whole period, T_cur may span several
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: invalid epoch={epoch!r}; it must be >= 0")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # periods T_0, T_0 m, T_0 m^2, ... end at T_0 (m^n - 1) / (m - 1): find the n-th one holding epoch
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())

    def _restart(self):
        self.step(0)


class CyclicLR(LRScheduler):
    """Cycle the learning rate between ``base_lr`` and ``max_lr`` (Smith's
    cyclical learning rates), stepping once per batch. Momentum (SGD's
    ``momentum`` or Adam's ``beta1``) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``.

    Each cycle rises linearly for ``step_size_up`` steps and falls for
    ``step_size_down``; the height of cycle ``c`` (from 1) at step ``t`` is
    ``max_lr - base_lr`` scaled by:

    ``'triangular'``
        1: every cycle the same.
    ``'triangular2'``
        ``1 / 2 ** (c - 1)``: halved every cycle.
    ``'exp_range'``
        ``gamma ** t``: shrinking every step.

    Parameters
    ----------
    optimizer : Optimizer
    base_lr, max_lr : float or list of floats (one per group)
        The bottom and the top of the cycle. ``base_lr`` replaces the
        optimiser's rates when the schedule is built.
    step_size_up : int, default 2000
    step_size_down : int, optional
        Defaults to ``step_size_up``.
    mode : {'triangular', 'triangular2', 'exp_range'}, default 'triangular'
    gamma : float, default 1.0
        The base of ``'exp_range'``.
    scale_fn : callable, optional
        Your own scaling, which replaces ``mode``: a function of the cycle
        number or of the step, as ``scale_mode`` says. A callable object's
        attributes are saved in ``state_dict``, a plain function is not.
    scale_mode : {'cycle', 'iterations'}, default 'cycle'
    cycle_momentum : bool, default True
    base_momentum, max_momentum : float or list, default 0.8 and 0.9
    last_epoch : int, default -1
        The index of the last batch.

    Example
    -------
    >>> scheduler = CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=4 * len(loader))
    >>> for epoch in range(40):
    ...     for batch in loader:
    ...         train_batch(model, optimizer, batch)
    ...         scheduler.step()
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        _check_optimizer("CyclicLR", optimizer)
        self.optimizer = optimizer
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(
                f"CyclicLR: invalid mode={mode!r}; use 'triangular', 'triangular2' or 'exp_range', or give a scale_fn"
            )
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: invalid scale_mode={scale_mode!r}; use 'cycle' or 'iterations'")
        step_size_down = step_size_up if step_size_down is None else step_size_down
        for name, value in (("step_size_up", step_size_up), ("step_size_down", step_size_down)):
            if not value > 0:
                raise ValueError(f"CyclicLR: invalid {name}={value!r}; it must be > 0")
        base_lrs = _per_group("CyclicLR", "base_lr", base_lr, optimizer)
        self.max_lrs = _per_group("CyclicLR", "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr
        self.total_size = float(step_size_up + step_size_down)
        self.step_ratio = step_size_up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        # the built-in modes fix what they scale by, whatever scale_mode says (as in PyTorch)
        self.scale_mode = scale_mode if scale_fn is not None else "iterations" if mode == "exp_range" else "cycle"
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1("CyclicLR", optimizer)
            self.base_momentums = _per_group("CyclicLR", "base_momentum", base_momentum, optimizer)
            self.max_momentums = _per_group("CyclicLR", "max_momentum", max_momentum, optimizer)
            if last_epoch == -1:
                for group, momentum in zip(optimizer.param_groups, self.max_momentums):
                    _set_momentum(group, momentum, self.use_beta1)
        super().__init__(optimizer, last_epoch)
        # NOTE: the first step above used the groups' initial_lr; from now on base_lr is the bottom
        self.base_lrs = base_lrs

    def scale_fn(self, x):
        """The height of the cycle, relative to ``max_lr - base_lr``, at cycle or step ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        position = 1.0 + self.last_epoch / self.total_size - cycle  # in [0, 1) within the cycle
        if position <= self.step_ratio:
            rise = position / self.step_ratio
        else:
            rise = (position - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * rise * scale for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, high - (high - low) * rise * scale, self.use_beta1)
        return lrs

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_scale_fn_custom")}
        state["_scale_fn_custom"] = _saved_attributes(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        attributes = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        _restore_attributes(self._scale_fn_custom, attributes)


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
            self.use_beta1 = _uses_beta1("OneCycleLR", optimizer)
            if last_epoch == -1:
                highs = _per_group("OneCycleLR", "max_momentum", max_momentum, optimizer)
                lows = _per_group("OneCycleLR", "base_momentum", base_momentum, optimizer)
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

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
                _set_momentum(group, self._anneal(group[momentum_from], group[momentum_to], fraction), self.use_beta1)
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


class _CompositeScheduler(LRScheduler):
    """A schedule made of other schedules on the same optimiser; its state dict holds theirs."""

    def _take_schedulers(self, schedulers, optimizer):
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name}: schedulers is empty; give at least one schedule")
        _check_optimizer(name, optimizer)
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{name}: schedulers[{i}] is a ReduceLROnPlateau, whose step needs a metric; "
                    f"it cannot be combined with other schedules"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"{name}: schedulers[{i}] ({type(scheduler).__name__}) belongs to another optimiser"
                )
        self._schedulers = list(schedulers)
        self.optimizer = optimizer

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


class SequentialLR(_CompositeScheduler):
    """Run schedules one after another, switching at the milestone epochs.

    At each milestone the next schedule restarts from its epoch 0: from the
    base learning rates for a schedule with a closed form, from the current
    rate for MultiplicativeLR (as in PyTorch). ``milestones`` has one entry
    fewer than ``schedulers``.

    Example
    -------
    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    >>> decay = CosineAnnealingLR(optimizer, T_max=95)
    >>> scheduler = SequentialLR(optimizer, schedulers=[warmup, decay], milestones=[5])
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        self._take_schedulers(schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                f"got milestones={list(milestones)!r}"
            )
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
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
        if isinstance(scheduler, _CompositeScheduler):
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


class ChainedScheduler(_CompositeScheduler):
    """Step several schedules together, each scaling the rate the one before it left.

    Every ``step()`` steps each schedule in turn on the same optimiser, so
    their effects multiply. (Those that compute the rate from the base rate,
    as :class:`CyclicLR`, :class:`CosineAnnealingWarmRestarts` and
    :class:`LambdaLR` do, override the schedules before them in the chain.)

    Parameters
    ----------
    schedulers : list of schedules, all on one optimiser
    optimizer : Optimizer, optional
        Defaults to the first schedule's.

    Example
    -------
    >>> warmup = ConstantLR(optimizer, factor=0.1, total_iters=2)
    >>> decay = ExponentialLR(optimizer, gamma=0.9)
    >>> scheduler = ChainedScheduler([warmup, decay])   # 0.1 * 0.9**t for two epochs, then 0.9**t
    """

    def __init__(self, schedulers, optimizer=None):
        if optimizer is None and len(schedulers) > 0:
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._take_schedulers(schedulers, optimizer)
        self._last_lr = self._current_lrs()

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()
