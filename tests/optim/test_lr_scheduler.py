"""Learning-rate schedules: the same sequence of rates as PyTorch's, step by step."""
import math

import numpy
import pytest
from helpers import requires_torch, torch

import chainrule
from chainrule.optim import lr_scheduler

STEPS = 30

# each builds a schedule from a lr_scheduler module (ours or PyTorch's) and an optimiser
SCHEDULES = {
    "StepLR": lambda S, opt: S.StepLR(opt, step_size=7, gamma=0.5),
    "MultiStepLR": lambda S, opt: S.MultiStepLR(opt, milestones=[3, 8, 8, 20], gamma=0.3),
    "ExponentialLR": lambda S, opt: S.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR-past-T_max": lambda S, opt: S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
    "CosineAnnealingLR": lambda S, opt: S.CosineAnnealingLR(opt, T_max=STEPS),
    "LinearLR-warmup": lambda S, opt: S.LinearLR(opt, start_factor=0.2, total_iters=8),
    "LinearLR-decay": lambda S, opt: S.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=20),
    "LambdaLR": lambda S, opt: S.LambdaLR(opt, lambda epoch: 0.95 ** epoch),
    "LambdaLR-per-group": lambda S, opt: S.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e]),
    "OneCycleLR-cos": lambda S, opt: S.OneCycleLR(opt, max_lr=[0.5, 0.05], total_steps=STEPS),
    "OneCycleLR-linear": lambda S, opt: S.OneCycleLR(opt, max_lr=0.4, epochs=5, steps_per_epoch=6,
                                                     anneal_strategy="linear", pct_start=0.25),
    "OneCycleLR-three-phase": lambda S, opt: S.OneCycleLR(opt, max_lr=0.3, total_steps=STEPS, three_phase=True,
                                                          base_momentum=[0.8, 0.7], max_momentum=0.9),
    "OneCycleLR-fixed-momentum": lambda S, opt: S.OneCycleLR(opt, max_lr=0.3, total_steps=STEPS + 5,
                                                             cycle_momentum=False, div_factor=10.0,
                                                             final_div_factor=100.0),
    "SequentialLR-warmup-cosine": lambda S, opt: S.SequentialLR(
        opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(opt, T_max=25)], milestones=[5]),
    "SequentialLR-three": lambda S, opt: S.SequentialLR(
        opt, [S.ExponentialLR(opt, gamma=0.9), S.StepLR(opt, step_size=3, gamma=0.5),
              S.LambdaLR(opt, lambda e: 1.0 / (1 + e))], milestones=[4, 12]),
    "SequentialLR-multistep-linear": lambda S, opt: S.SequentialLR(
        opt, [S.MultiStepLR(opt, milestones=[2, 4]), S.LinearLR(opt, start_factor=0.5, total_iters=10)],
        milestones=[6]),
    "MultiplicativeLR": lambda S, opt: S.MultiplicativeLR(opt, lambda epoch: 0.9),
    "MultiplicativeLR-per-group": lambda S, opt: S.MultiplicativeLR(opt, [lambda e: 0.95, lambda e: 1 - 0.01 * e]),
    "ConstantLR": lambda S, opt: S.ConstantLR(opt, factor=0.25, total_iters=6),
    "ConstantLR-defaults": lambda S, opt: S.ConstantLR(opt),
    "PolynomialLR": lambda S, opt: S.PolynomialLR(opt, total_iters=20, power=2.0),
    "PolynomialLR-defaults": lambda S, opt: S.PolynomialLR(opt),
    "PolynomialLR-sqrt": lambda S, opt: S.PolynomialLR(opt, total_iters=40, power=0.5),
    # cycles of 8 steps: the 30 steps run through nearly four
    "CyclicLR-triangular": lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "CyclicLR-triangular2": lambda S, opt: S.CyclicLR(
        opt, base_lr=[0.01, 0.001], max_lr=[0.2, 0.05], step_size_up=3, step_size_down=5, mode="triangular2",
        base_momentum=0.85, max_momentum=[0.95, 0.9]),
    "CyclicLR-exp_range": lambda S, opt: S.CyclicLR(opt, base_lr=0.02, max_lr=0.3, step_size_up=5, mode="exp_range",
                                                    gamma=0.95, scale_mode="cycle"),  # exp_range scales by step
    "CyclicLR-fixed-momentum": lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                         step_size_down=6, cycle_momentum=False),
    "CyclicLR-scale_fn-cycle": lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                         scale_fn=lambda c: 1 / c),
    "CyclicLR-scale_fn-iterations": lambda S, opt: S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                              scale_fn=lambda t: 1 / (1 + 0.1 * t),
                                                              scale_mode="iterations"),
    "CosineAnnealingWarmRestarts": lambda S, opt: S.CosineAnnealingWarmRestarts(opt, T_0=7),
    # restarts at 3, 9 and 21
    "CosineAnnealingWarmRestarts-T_mult": lambda S, opt: S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2,
                                                                                       eta_min=0.001),
    "ChainedScheduler": lambda S, opt: S.ChainedScheduler(
        [S.ConstantLR(opt, factor=0.5, total_iters=4), S.ExponentialLR(opt, gamma=0.9)]),
    "ChainedScheduler-three": lambda S, opt: S.ChainedScheduler(
        [S.LinearLR(opt, start_factor=0.2, total_iters=5), S.StepLR(opt, step_size=7, gamma=0.5),
         S.PolynomialLR(opt, total_iters=40, power=1.5)], optimizer=opt),
    "SequentialLR-warmup-restarts": lambda S, opt: S.SequentialLR(
        opt, [S.ConstantLR(opt, factor=0.1, total_iters=3), S.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)],
        milestones=[3]),
    "SequentialLR-polynomial-multiplicative-cyclic": lambda S, opt: S.SequentialLR(
        opt, [S.PolynomialLR(opt, total_iters=8), S.MultiplicativeLR(opt, lambda e: 0.8),
              S.CyclicLR(opt, base_lr=0.01, max_lr=0.05, step_size_up=3)], milestones=[6, 14]),
    "SequentialLR-constant-in-chain": lambda S, opt: S.SequentialLR(
        opt, [S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3), S.ExponentialLR(opt, gamma=0.9)]),
              S.CosineAnnealingLR(opt, T_max=20)], milestones=[10]),
}


def make_optimizer(lib, name="SGD"):
    params = [lib.tensor(numpy.ones(2), requires_grad=True), lib.tensor(numpy.ones(3), requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.01}]
    if name == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))


def momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups]


def trace(scheduler, optimizer, steps):
    """The rates and momenta after construction and after each of ``steps`` steps."""
    lrs, moms = [scheduler.get_last_lr()], [momenta(optimizer)]
    for _ in range(steps):
        optimizer.step()  # no gradients: a no-op, but PyTorch wants it before the schedule's step
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        moms.append(momenta(optimizer))
        assert [float(g["lr"]) for g in optimizer.param_groups] == [float(lr) for lr in lrs[-1]]
    return numpy.array(lrs, dtype=float), numpy.array(moms, dtype=float)


def run(lib, schedule, steps=STEPS, optimizer="SGD"):
    opt = make_optimizer(lib, optimizer)
    module = lr_scheduler if lib is chainrule else torch.optim.lr_scheduler
    return trace(SCHEDULES[schedule](module, opt), opt, steps)


@requires_torch
# PyTorch warns of a step before optimizer.step() when SequentialLR, while being built,
# reruns the first step of the schedules inside a ChainedScheduler
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_rates_match_torch(schedule):
    our_lrs, our_momenta = run(chainrule, schedule)
    their_lrs, their_momenta = run(torch, schedule)
    assert len(set(our_lrs[:, 0])) > 1, "the schedule never changed the rate"
    numpy.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=0)
    numpy.testing.assert_allclose(our_momenta, their_momenta, rtol=1e-12, atol=0)


@requires_torch
@pytest.mark.parametrize("schedule", ["OneCycleLR-cos", "OneCycleLR-three-phase", "CyclicLR-triangular",
                                      "CyclicLR-triangular2"])
def test_cycles_adam_beta1(schedule):
    our_lrs, our_betas = run(chainrule, schedule, optimizer="Adam")
    their_lrs, their_betas = run(torch, schedule, optimizer="Adam")
    numpy.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=0)
    numpy.testing.assert_allclose(our_betas, their_betas, rtol=1e-12, atol=0)
    assert our_betas.min() < 0.9


@requires_torch
def test_two_schedules_on_one_optimizer_compose_as_in_torch():
    sequences = []
    for lib, module in ((chainrule, lr_scheduler), (torch, getattr(torch.optim, "lr_scheduler", None))):
        opt = make_optimizer(lib)
        schedules = [module.StepLR(opt, step_size=4, gamma=0.5), module.ExponentialLR(opt, gamma=0.95)]
        rates = []
        for _ in range(STEPS):
            opt.step()
            for s in schedules:
                s.step()
            rates.append([g["lr"] for g in opt.param_groups])
        sequences.append(rates)
    numpy.testing.assert_allclose(sequences[0], sequences[1], rtol=1e-12, atol=0)


@requires_torch
@pytest.mark.parametrize("T_mult", [1, 3])
def test_warm_restarts_stepped_by_fractional_epochs_match_torch(T_mult):
    batches = 4
    epochs = [epoch + batch / batches for epoch in range(12) for batch in range(batches)]
    epochs += [25.5, 3.0, 40.25, 0.0, 100.75]  # jumps forward and back
    sequences = []
    for lib, module in ((chainrule, lr_scheduler), (torch, getattr(torch.optim, "lr_scheduler", None))):
        opt = make_optimizer(lib)
        scheduler = module.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult, eta_min=0.002)
        rates = []
        for epoch in epochs:
            opt.step()
            scheduler.step(epoch)
            rates.append(scheduler.get_last_lr())
            assert scheduler.last_epoch == math.floor(epoch)
        for _ in range(5):  # plain steps carry on from the last epoch given
            opt.step()
            scheduler.step()
            rates.append(scheduler.get_last_lr())
        sequences.append(numpy.array(rates))
    assert len(set(sequences[0][:, 0])) > batches
    numpy.testing.assert_allclose(sequences[0], sequences[1], rtol=1e-12, atol=1e-15)


def test_known_values():
    opt = make_optimizer(chainrule)
    lrs, _ = trace(lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), opt, 5)
    numpy.testing.assert_allclose(lrs[:, 0], [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    opt = make_optimizer(chainrule)
    lrs, _ = trace(lr_scheduler.CosineAnnealingLR(opt, T_max=4), opt, 4)
    numpy.testing.assert_allclose(lrs[:, 0], [0.1 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)],
                                  rtol=1e-12, atol=1e-15)
    opt = make_optimizer(chainrule)
    lrs, moms = trace(lr_scheduler.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, mode="triangular2"), opt, 8)
    numpy.testing.assert_allclose(lrs[:, 0], [0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1], rtol=1e-12)
    numpy.testing.assert_allclose(moms[:, 0], [0.9, 0.85, 0.8, 0.85, 0.9, 0.875, 0.85, 0.875, 0.9], rtol=1e-12)
    opt = make_optimizer(chainrule)
    lrs, _ = trace(lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2), opt, 7)
    numpy.testing.assert_allclose(lrs[:, 0], [0.1, 0.05, 0.1, 0.1 * (2 + 2 ** 0.5) / 4, 0.05, 0.1 * (2 - 2 ** 0.5) / 4,
                                              0.1, 0.1 * (1 + math.cos(math.pi / 8)) / 2], rtol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_state_dict_round_trip(schedule):
    uninterrupted, _ = run(chainrule, schedule)

    opt = make_optimizer(chainrule)
    scheduler = SCHEDULES[schedule](lr_scheduler, opt)
    first, _ = trace(scheduler, opt, 12)
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()

    opt = make_optimizer(chainrule)
    scheduler = SCHEDULES[schedule](lr_scheduler, opt)  # build first: building sets the rates
    opt.load_state_dict(saved_optimizer)
    scheduler.load_state_dict(saved_scheduler)
    rest, _ = trace(scheduler, opt, STEPS - 12)
    numpy.testing.assert_array_equal(numpy.concatenate([first, rest[1:]]), uninterrupted)


def test_lambda_state_dict_saves_callable_objects_but_not_functions():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = make_optimizer(chainrule)
    scheduler = lr_scheduler.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [{"rate": 0.5}, None]
    other = lr_scheduler.LambdaLR(make_optimizer(chainrule), [Decay(0.9), lambda e: 1.0])
    other.load_state_dict(saved)
    assert other.lr_lambdas[0].rate == 0.5


def test_one_cycle_refuses_to_step_past_the_cycle():
    opt = make_optimizer(chainrule)
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="total_steps=3"):
        scheduler.step()


# ---------------------------------------------------------------- ReduceLROnPlateau

LOSSES = [1.0, 0.9, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.88, 0.8799, 0.87, 0.95, 0.95, 0.95,
          0.95, 0.95, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
PLATEAUS = [
    dict(patience=2),
    dict(patience=0, factor=0.5),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.05, threshold_mode="abs"),
    dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs"),
    dict(patience=1, cooldown=2, factor=0.5),
    dict(patience=0, factor=0.1, min_lr=[0.005, 1e-4]),
    dict(patience=0, factor=0.5, eps=0.02),
]


def plateau_trace(lib, kwargs, losses=LOSSES):
    opt = make_optimizer(lib)
    module = lr_scheduler if lib is chainrule else torch.optim.lr_scheduler
    scheduler = module.ReduceLROnPlateau(opt, **kwargs)
    rates = []
    for loss in losses:
        scheduler.step(loss if lib is torch else chainrule.tensor(loss))
        rates.append(scheduler.get_last_lr())
    return numpy.array(rates), scheduler


@requires_torch
@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_plateau_matches_torch(kwargs):
    ours, _ = plateau_trace(chainrule, kwargs)
    theirs, _ = plateau_trace(torch, kwargs)
    assert len(set(ours[:, 0])) > 1
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_plateau_known_sequence():
    rates, scheduler = plateau_trace(chainrule, dict(patience=1, factor=0.5), [1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8])
    numpy.testing.assert_allclose(rates[:, 0], [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert scheduler.best == 0.5 and scheduler.last_epoch == 7


def test_plateau_state_dict_round_trip():
    uninterrupted, _ = plateau_trace(chainrule, dict(patience=1, cooldown=1))
    first, scheduler = plateau_trace(chainrule, dict(patience=1, cooldown=1), LOSSES[:9])
    saved_optimizer, saved = scheduler.optimizer.state_dict(), scheduler.state_dict()
    opt = make_optimizer(chainrule)
    resumed = lr_scheduler.ReduceLROnPlateau(opt)
    opt.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved)
    rest = []
    for loss in LOSSES[9:]:
        resumed.step(loss)
        rest.append(resumed.get_last_lr())
    numpy.testing.assert_array_equal(numpy.concatenate([first, rest]), uninterrupted)


# ---------------------------------------------------------------- arguments

@pytest.mark.parametrize("build, error, match", [
    (lambda opt: lr_scheduler.StepLR(opt, step_size=0), ValueError, "step_size=0"),
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.0), ValueError, "start_factor=0.0"),
    (lambda opt: lr_scheduler.LinearLR(opt, end_factor=1.5), ValueError, "end_factor=1.5"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), ValueError, "T_max=0"),
    (lambda opt: lr_scheduler.LambdaLR(opt, [lambda e: 1.0]), ValueError, "lr_lambda has 1 values"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1), ValueError, "total_steps"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=-5), ValueError, "total_steps=-5"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     "pct_start=1.5"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy='exp'"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=[0.1], total_steps=10), ValueError, "max_lr has 1 values"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), ValueError, "factor=1.0"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="up"), ValueError, "mode='up'"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="x"), ValueError, "threshold_mode='x'"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3]), ValueError,
     "need 0 milestones"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.ReduceLROnPlateau(opt)], milestones=[]),
     ValueError, "ReduceLROnPlateau"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(make_optimizer(chainrule), 2)],
                                           milestones=[]), ValueError, "another optimiser"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=2, last_epoch=4), KeyError, "initial_lr"),
    (lambda opt: lr_scheduler.MultiplicativeLR(opt, [lambda e: 0.9]), ValueError, "MultiplicativeLR: lr_lambda has 1"),
    (lambda opt: lr_scheduler.MultiplicativeLR(opt, 0.9), TypeError, "MultiplicativeLR: lr_lambda must be a function"),
    (lambda opt: lr_scheduler.ConstantLR(opt, factor=1.5), ValueError, "ConstantLR: invalid factor=1.5"),
    (lambda opt: lr_scheduler.ConstantLR(opt, factor=0.0), ValueError, "ConstantLR: invalid factor=0.0"),
    (lambda opt: lr_scheduler.PolynomialLR(opt, total_iters=0), ValueError, "PolynomialLR: invalid total_iters=0"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sine"), ValueError, "CyclicLR: invalid mode='sine'"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_mode="epoch"), ValueError, "scale_mode='epoch'"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=0), ValueError, "step_size_up=0"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_down=-2), ValueError, "step_size_down=-2"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, [0.1]), ValueError, "CyclicLR: max_lr has 1 values"),
    (lambda opt: lr_scheduler.CyclicLR(opt, 0.01, 0.1, base_momentum=[0.8] * 3), ValueError,
     "base_momentum has 3 values"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError, "T_0=0"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2.5), ValueError, "T_0=2.5"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=0), ValueError, "T_mult=0"),
    (lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5).step(-1), ValueError, "epoch=-1"),
    (lambda opt: lr_scheduler.ChainedScheduler([]), ValueError, "ChainedScheduler: schedulers is empty"),
    (lambda opt: lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)]), ValueError,
     "ChainedScheduler: schedulers\\[0\\] is a ReduceLROnPlateau"),
    (lambda opt: lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2),
                                                lr_scheduler.StepLR(make_optimizer(chainrule), 2)]),
     ValueError, "schedulers\\[1\\] \\(StepLR\\) belongs to another optimiser"),
    (lambda opt: lr_scheduler.StepLR("not an optimiser", step_size=2), TypeError, "Optimizer"),
])
def test_bad_arguments_raise(build, error, match):
    with pytest.raises(error, match=match):
        build(make_optimizer(chainrule))


def test_optimizer_without_momentum_cannot_cycle_it():
    w = chainrule.tensor([1.0], requires_grad=True)
    opt = chainrule.optim.Adagrad([w])
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum=True .* Rprop has neither"):
        lr_scheduler.CyclicLR(chainrule.optim.Rprop([w]), base_lr=0.01, max_lr=0.1)
    lr_scheduler.CyclicLR(chainrule.optim.Rprop([w]), base_lr=0.01, max_lr=0.1, cycle_momentum=False)


def test_cyclic_scale_fn_object_is_saved_with_the_schedule():
    class Halving:
        def __init__(self):
            self.base = 2.0

        def __call__(self, cycle):
            return self.base ** (1 - cycle)

    def build(base):
        opt = make_optimizer(chainrule)
        fn = Halving()
        fn.base = base
        return opt, lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=fn)

    opt, scheduler = build(3.0)
    for _ in range(5):
        scheduler.step()
    saved = scheduler.state_dict()
    assert saved["_scale_fn_custom"] == {"base": 3.0}
    other_opt, other = build(2.0)
    other.load_state_dict(saved)
    other_opt.load_state_dict(opt.state_dict())
    scheduler.step()
    other.step()
    assert other._scale_fn_custom.base == 3.0 and other.get_last_lr() == scheduler.get_last_lr()


@requires_torch
@pytest.mark.parametrize("T_0, T_mult, last_epoch", [(3, 1, 10), (2, 2, 9)])
def test_warm_restarts_built_past_several_periods_match_torch(T_0, T_mult, last_epoch):
    # Built with last_epoch beyond two periods, T_cur must wrap by a modulo, as in PyTorch.
    rates = []
    for library in (chainrule, torch):
        parameter = library.zeros(1, requires_grad=True)
        optimizer = library.optim.SGD([{"params": [parameter], "initial_lr": 0.1}], lr=0.1)
        scheduler = library.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=T_0, T_mult=T_mult,
                                                                           last_epoch=last_epoch)
        lrs = [optimizer.param_groups[0]["lr"]]
        for _ in range(6):
            optimizer.step()
            scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        rates.append(lrs)
    numpy.testing.assert_allclose(rates[0], rates[1], rtol=1e-12)
