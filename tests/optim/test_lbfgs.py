"""LBFGS against PyTorch's: the same problem, starting point and options give
the same parameters, losses and number of closure evaluations after every step."""

import numpy
import pytest
from helpers import is_plain_data, requires_torch, torch

import chainrule
from chainrule import optim

# ---------------------------------------------------------------- three problems, the same code on both libraries

_rng = numpy.random.default_rng(0)
_M = _rng.normal(size=(6, 6))
A = _M @ _M.T + 0.5 * numpy.eye(6)  # symmetric positive definite
B = _rng.normal(size=6)
X, Y = _rng.normal(size=(16, 3)), _rng.normal(size=(16, 2))


def quadratic(lib, params):
    """x^T A x / 2 - b^T x, with x held as a 2 x 3 matrix."""
    x = params[0].reshape(-1)
    return 0.5 * (x * (lib.tensor(A) @ x)).sum() - (lib.tensor(B) * x).sum()


def rosenbrock(lib, params):
    """The chained Rosenbrock function of all parameters laid end to end."""
    x = lib.cat([p.reshape(-1) for p in params])
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def mlp(lib, params):
    """Mean squared error of a 3-5-2 tanh network on fixed data."""
    W1, b1, W2, b2 = params
    out = (lib.tensor(X) @ W1.T + b1).tanh() @ W2.T + b2
    return ((out - lib.tensor(Y)) ** 2).mean()


PROBLEMS = {
    "quadratic": (quadratic, [_rng.normal(size=(2, 3))]),
    "rosenbrock": (rosenbrock, [numpy.array([-1.2, 1.0, -0.5]), numpy.array([0.8])]),
    "mlp": (mlp, [_rng.normal(scale=0.7, size=shape) for shape in [(5, 3), (5,), (2, 5), (2,)]]),
}


class Run:
    """One library's copy of a problem and an LBFGS on it, counting closure calls."""

    def __init__(self, lib, problem, kwargs, arrays=None):
        self.lib = lib
        self.loss, start = PROBLEMS[problem]
        self.params = [lib.tensor(a.copy(), requires_grad=True) for a in (start if arrays is None else arrays)]
        self.optimizer = lib.optim.LBFGS(self.params, **kwargs)
        self.evaluations = 0

    def closure(self):
        self.evaluations += 1
        self.optimizer.zero_grad()
        loss = self.loss(self.lib, self.params)
        loss.backward()
        return loss

    def step(self):
        """One optimiser step: the loss it returns and how many closure calls it made."""
        before = self.evaluations
        loss = self.optimizer.step(self.closure)
        return float(loss.detach()), self.evaluations - before

    def values(self):
        return [numpy.array(p.detach().numpy()) for p in self.params]


def assert_close(ours, theirs, rtol=1e-9, err_msg=""):
    """Equal to ``rtol`` relative to the array's largest entry: an entry near
    zero inherits the rounding of the sums that made it, which are the size of
    its neighbours (an mlp weight of 0.014 next to weights of 3 differs by 2e-11)."""
    theirs = numpy.asarray(theirs)
    numpy.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * numpy.abs(theirs).max(), err_msg=err_msg)


def assert_params_equal(ours, theirs, step=None):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a, b, err_msg=f"parameter {i} after step {step}")


def compare_steps(problem, kwargs, steps):
    """Step both libraries; after each step the losses, closure calls and parameters agree."""
    ours, theirs = Run(chainrule, problem, kwargs), Run(torch, problem, kwargs)
    start = ours.values()
    for step in range(1, steps + 1):
        our_loss, our_evaluations = ours.step()
        their_loss, their_evaluations = theirs.step()
        assert our_evaluations == their_evaluations, f"closure evaluations in step {step}"
        numpy.testing.assert_allclose(our_loss, their_loss, rtol=1e-9, err_msg=f"loss before step {step}")
        assert_params_equal(ours.values(), theirs.values(), step=step)
    assert any(not numpy.allclose(a, b) for a, b in zip(ours.values(), start)), "the parameters did not move"


# (options, steps). A step runs up to max_iter iterations; the runs with the
# default 20 stop after 2 steps, 40 iterations: further on, the mlp and
# Rosenbrock trajectories amplify rounding differences (BLAS summation order,
# PyTorch's fused multiply-add) past 1e-9 -- PyTorch itself, started one ulp
# away, drifts by 1e-7 within 100 iterations.
CASES = [
    (dict(), 2),
    (dict(line_search_fn="strong_wolfe"), 2),
    (dict(max_iter=5, history_size=3), 5),  # the history fills up and drops its oldest pairs
    (dict(max_iter=5, history_size=3, line_search_fn="strong_wolfe"), 5),
    (dict(lr=0.5, max_iter=7, history_size=4), 5),
    (dict(lr=0.5, max_iter=1, history_size=2), 5),  # one iteration per step, as with minibatches
    (dict(lr=0.3, max_iter=1, history_size=2, line_search_fn="strong_wolfe"), 5),  # max_eval = 1: a single trial
    (dict(max_iter=10, max_eval=4, line_search_fn="strong_wolfe"), 5),  # the evaluation budget ends each step
    (dict(lr=0.1, max_iter=8, history_size=5, tolerance_change=1e-2), 3),  # stops on a short step, a flat loss
    (dict(max_iter=8, tolerance_grad=1e-2, line_search_fn="strong_wolfe"), 3),  # on a small gradient, even at once
]
CASE_IDS = ["-".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults" for kwargs, _ in CASES]


@requires_torch
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("kwargs, steps", CASES, ids=CASE_IDS)
def test_matches_torch_step_by_step(problem, kwargs, steps):
    compare_steps(problem, kwargs, steps)


def wavy(lib, params):
    return (0.5 * params[0] ** 2 + 2 * (3 * params[0]).cos()).sum()


def kink(lib, params):
    """|x|, smoothed only within 1e-12 of zero."""
    return (params[0] ** 2 + 1e-24).sqrt().sum()


@requires_torch
@pytest.mark.parametrize("problem, start, kwargs", [
    # far too long a first trial on a non-convex function: zoom steps that hug
    # an end of the bracket, then are pushed back inside
    (wavy, [0.3, -1.7, 2.5], dict(lr=100, max_iter=3, max_eval=40)),
    # far too short: extrapolation, through cubics that have no minimum
    (rosenbrock, [-1.2, 1.0, -0.5, 0.8], dict(lr=1e-3, max_iter=3, max_eval=40)),
    # a minimum narrower than the tolerance: the bracket collapses before the slope test passes
    (kink, [0.3], dict(max_iter=3, max_eval=60)),
], ids=["overshoot", "undershoot", "kink"])
def test_line_search_safeguards_match_torch(problem, start, kwargs, monkeypatch):
    monkeypatch.setitem(PROBLEMS, "extra", (problem, [numpy.array(start)]))
    compare_steps("extra", dict(kwargs, line_search_fn="strong_wolfe"), steps=3)


@requires_torch
@pytest.mark.parametrize("kwargs", [dict(max_iter=4, history_size=2), dict(line_search_fn="strong_wolfe")],
                         ids=["fixed-step", "strong_wolfe"])
def test_state_matches_torch(kwargs):
    ours, theirs = Run(chainrule, "mlp", kwargs), Run(torch, "mlp", kwargs)
    for _ in range(2):
        ours.step(), theirs.step()
    our_state = ours.optimizer.state_dict()["state"]
    their_state = theirs.optimizer.state_dict()["state"]
    assert our_state.keys() == their_state.keys() == {0}
    # PyTorch also keeps "al", scratch space of the two-loop recursion that no step reads back
    assert our_state[0].keys() == their_state[0].keys() - {"al"}
    for key, mine in our_state[0].items():
        pairs = [(mine, their_state[0][key])]
        if isinstance(mine, list):  # the histories
            assert len(mine) == len(their_state[0][key]), key
            pairs = zip(mine, their_state[0][key])
        for a, b in pairs:
            assert_close(a, b.detach().numpy() if torch.is_tensor(b) else b, err_msg=key)


@requires_torch
def test_parameters_without_gradient_count_as_zero_and_stay_put():
    runs = []
    for lib in (chainrule, torch):
        run = Run(lib, "quadratic", dict(max_iter=5, line_search_fn="strong_wolfe"))
        unused = lib.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
        run.optimizer = lib.optim.LBFGS(run.params + [unused], max_iter=5, line_search_fn="strong_wolfe")
        runs.append(([run.step() for _ in range(3)], run, unused))
    (our_steps, ours, unused), (their_steps, theirs, _) = runs
    assert [evaluations for _, evaluations in our_steps] == [evaluations for _, evaluations in their_steps]
    assert_params_equal(ours.values(), theirs.values())
    numpy.testing.assert_array_equal(unused.data, [1.0, 2.0])


@requires_torch
def test_a_stationary_start_evaluates_once_and_does_not_move():
    runs = []
    for lib in (chainrule, torch):
        w = lib.tensor(numpy.zeros(3), requires_grad=True)
        optimizer = lib.optim.LBFGS([w])
        calls = []

        def closure(w=w, optimizer=optimizer, calls=calls):
            calls.append(1)
            optimizer.zero_grad()
            loss = (w ** 2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        runs.append((w, len(calls), optimizer.state_dict()["state"][0]))
    (w, calls, state), (_, their_calls, their_state) = runs
    assert calls == their_calls == 1
    numpy.testing.assert_array_equal(w.data, numpy.zeros(3))
    assert state == {key: int(value) for key, value in their_state.items()} == {"func_evals": 1, "n_iter": 0}


# ---------------------------------------------------------------- chainrule-only behaviour

def test_closure_runs_with_grad_on_and_steps_bump_the_version():
    w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    optimizer = optim.LBFGS([w], max_iter=3)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    stale = (w * w).sum()
    with chainrule.no_grad():  # the closure must still record its graph
        loss = optimizer.step(closure)
    assert float(loss) == 5.0 and float((w * w).sum()) < 5.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


def test_float32_parameters_and_state_stay_float32():
    arrays = [a.astype(numpy.float32) for a in PROBLEMS["mlp"][1]]
    run = Run(chainrule, "mlp", dict(max_iter=5, line_search_fn="strong_wolfe"), arrays=arrays)
    losses = [run.step()[0] for _ in range(3)]
    assert losses[-1] < losses[0]
    assert all(p.dtype == numpy.float32 for p in run.params)
    state = run.optimizer.state[run.params[0]]
    for key in ("d", "prev_flat_grad", "old_dirs", "old_stps"):
        arrays = state[key] if isinstance(state[key], list) else [state[key]]
        assert all(a.dtype == numpy.float32 for a in arrays), key


@pytest.mark.parametrize("problem", ["rosenbrock", "mlp"])
@pytest.mark.parametrize("kwargs", [dict(max_iter=4, history_size=3),
                                    dict(max_iter=4, history_size=3, line_search_fn="strong_wolfe")],
                         ids=["fixed-step", "strong_wolfe"])
def test_state_dict_round_trip_resumes_exactly(problem, kwargs):
    uninterrupted = Run(chainrule, problem, kwargs)
    for _ in range(6):
        uninterrupted.step()

    first = Run(chainrule, problem, kwargs)
    for _ in range(3):
        first.step()
    saved = first.optimizer.state_dict()
    assert is_plain_data(saved), saved
    resumed = Run(chainrule, problem, dict(max_iter=20), arrays=first.values())  # options come from the state dict
    resumed.optimizer.load_state_dict(saved)
    assert resumed.optimizer.param_groups[0]["max_iter"] == 4
    for _ in range(3):
        resumed.step()
    for a, b in zip(resumed.values(), uninterrupted.values()):
        numpy.testing.assert_array_equal(a, b)
    assert resumed.optimizer.state[resumed.params[0]]["func_evals"] == \
        uninterrupted.optimizer.state[uninterrupted.params[0]]["func_evals"]


def test_state_dict_holds_copies():
    run = Run(chainrule, "quadratic", dict(max_iter=3))
    run.step()
    saved = run.optimizer.state_dict()
    saved["state"][0]["d"][...] = 123.0
    saved["state"][0]["old_dirs"][0][...] = 123.0
    live = run.optimizer.state[run.params[0]]
    assert not (live["d"] == 123.0).any() and not (live["old_dirs"][0] == 123.0).any()


# ---------------------------------------------------------------- errors

def test_step_without_a_closure_raises():
    w = chainrule.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"LBFGS.step: needs a closure"):
        optim.LBFGS([w]).step()


def test_more_than_one_parameter_group_raises():
    w = chainrule.tensor([1.0], requires_grad=True)
    b = chainrule.tensor([0.0], requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS: takes a single parameter group"):
        optim.LBFGS([{"params": [w]}, {"params": [b], "lr": 0.5}])
    optimizer = optim.LBFGS([w])
    with pytest.raises(ValueError, match="LBFGS: takes a single parameter group"):
        optimizer.add_param_group({"params": [b]})


def test_defaults_are_torchs():
    w = chainrule.tensor([1.0], requires_grad=True)
    group = optim.LBFGS([w]).param_groups[0]
    assert {key: value for key, value in group.items() if key != "params"} == dict(
        lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100,
        line_search_fn=None)
    assert optim.LBFGS([w], max_iter=7).param_groups[0]["max_eval"] == 8


@pytest.mark.parametrize("kwargs, argument", [
    (dict(lr=-1.0), "lr=-1.0"),
    (dict(lr=float("nan")), "lr=nan"),
    (dict(max_iter=0), "max_iter=0"),
    (dict(max_iter=2.5), "max_iter=2.5"),
    (dict(max_eval=0), "max_eval=0"),
    (dict(tolerance_grad=-1e-7), "tolerance_grad=-1e-07"),
    (dict(tolerance_change=-1e-9), "tolerance_change=-1e-09"),
    (dict(history_size=0), "history_size=0"),
    (dict(line_search_fn="armijo"), "line_search_fn='armijo'"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, argument):
    w = chainrule.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=f"LBFGS: invalid {argument}"):
        optim.LBFGS([w], **kwargs)
