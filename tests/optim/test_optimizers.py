"""The optimisers against PyTorch's: the same model, the same starting
parameters and hyperparameters give the same parameters after many steps."""
import contextlib

import numpy
import pytest
from helpers import is_plain_data, requires_torch, torch

import chainrule
from chainrule import optim

STEPS = 50

# (optimiser name, keyword arguments): every option of every optimiser, alone and combined
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-6)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.7, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, betas=(0.85, 0.99))),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6)),  # a short second-moment average: rho_inf = 19, not 1999
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.95), weight_decay=0.05, decoupled_weight_decay=True, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.05, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5))),
    ("Rprop", dict(lr=0.05, step_sizes=(1e-3, 0.08))),
    ("Rprop", dict(lr=0.02, etas=(0.4, 1.1), step_sizes=(1e-4, 1.0), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.1, t0=10)),  # averaging starts within the run
    ("ASGD", dict(lr=0.1, lambd=0.05, alpha=0.5, t0=0)),
    ("ASGD", dict(lr=0.1, weight_decay=0.1, t0=20)),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=5, weight_decay=0.05, maximize=True)),
]
CASE_IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) for name, kwargs in CASES]
OPTIMIZERS = sorted({name for name, _ in CASES})


# ---------------------------------------------------------------- the model: a 2-layer tanh MLP on raw tensors

def model_arrays(dtype=numpy.float64, seed=0):
    """Starting parameters (W1, b1, W2, b2) and the data (X, Y)."""
    rng = numpy.random.default_rng(seed)
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    params = [rng.normal(scale=0.7, size=s).astype(dtype) for s in shapes]
    data = [rng.normal(size=(16, 3)).astype(dtype), rng.normal(size=(16, 2)).astype(dtype)]
    return params, data


def mlp_loss(params, X, Y):
    """Mean squared error of tanh(X W1^T + b1) W2^T + b2; the same code runs on both libraries."""
    W1, b1, W2, b2 = params
    out = (X @ W1.T + b1).tanh() @ W2.T + b2
    return ((out - Y) ** 2).mean()


class Run:
    """One framework's copy of the model and an optimiser on it."""

    def __init__(self, lib, name, kwargs, arrays=None, data=None, groups=None, dtype=numpy.float64):
        self.lib = lib
        start, default_data = model_arrays(dtype)
        arrays = start if arrays is None else arrays
        self.params = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        self.data = [lib.tensor(d) for d in (default_data if data is None else data)]
        spec = self.params if groups is None else [
            dict(options, params=[self.params[i] for i in indices]) for indices, options in groups
        ]
        self.optimizer = getattr(lib.optim, name)(spec, **kwargs)
        # maximising the negated loss keeps the trajectory bounded
        self.sign = -1.0 if kwargs.get("maximize") else 1.0

    def backward(self):
        objective = self.sign * mlp_loss(self.params, *self.data)
        objective.backward()
        return objective

    def train(self, steps, set_to_none=True):
        for _ in range(steps):
            self.optimizer.zero_grad(set_to_none=set_to_none)
            self.backward()
            self.optimizer.step()
        return self

    def values(self):
        return [numpy.array(p.detach().numpy()) for p in self.params]


@contextlib.contextmanager
def torch_float64_scalars():
    """PyTorch keeps scalar state (step, NAdam's mu_product) in the default
    dtype; float64 makes its arithmetic comparable to ours at 1e-9."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torch_run(name, kwargs, steps=STEPS, **run_kwargs):
    with torch_float64_scalars():
        return Run(torch, name, kwargs, **run_kwargs).train(steps)


def assert_params_equal(ours, theirs, rtol=1e-9, atol=1e-12):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        numpy.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"parameter {i}")


# ---------------------------------------------------------------- against PyTorch

@requires_torch
@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_matches_torch_after_many_steps(name, kwargs):
    ours = Run(chainrule, name, kwargs).train(STEPS)
    theirs = torch_run(name, kwargs)
    start, _ = model_arrays()
    assert any(not numpy.allclose(a, b) for a, b in zip(ours.values(), start)), "the parameters did not move"
    assert_params_equal(ours.values(), theirs.values())


@requires_torch
@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_state_matches_torch(name, kwargs):
    ours = Run(chainrule, name, kwargs).train(10).optimizer.state_dict()
    theirs = torch_run(name, kwargs, steps=10).optimizer.state_dict()
    assert ours["state"].keys() == theirs["state"].keys()
    for index, buffers in theirs["state"].items():
        assert ours["state"][index].keys() == buffers.keys()
        for key, value in buffers.items():
            numpy.testing.assert_allclose(ours["state"][index][key], value.numpy() if torch.is_tensor(value) else value,
                                          rtol=1e-9, atol=1e-12, err_msg=f"state[{index}][{key!r}]")
    for our_group, their_group in zip(ours["param_groups"], theirs["param_groups"]):
        for key, value in our_group.items():
            assert their_group[key] == value, key


@requires_torch
@pytest.mark.parametrize("name, kwargs, options", [
    ("SGD", dict(lr=0.05, momentum=0.9), dict(weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True), dict(weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True), dict(weight_decay=0.1)),
    ("RAdam", dict(lr=0.01), dict(weight_decay=0.1, decoupled_weight_decay=True, betas=(0.8, 0.9))),
    ("Adadelta", dict(lr=1.0), dict(weight_decay=0.1, rho=0.7, eps=1e-5)),
    ("Rprop", dict(lr=0.02), dict(etas=(0.2, 1.3), step_sizes=(1e-3, 0.1))),
    ("ASGD", dict(lr=0.1, t0=10), dict(weight_decay=0.1, lambd=0.01, alpha=0.6, t0=3)),
])
def test_param_groups_with_their_own_options(name, kwargs, options):
    groups = [([0, 1], {}), ([2, 3], dict(options, lr=kwargs["lr"] / 5))]
    ours = Run(chainrule, name, kwargs, groups=groups).train(STEPS)
    theirs = torch_run(name, kwargs, groups=groups)
    assert [g["lr"] for g in ours.optimizer.param_groups] == [kwargs["lr"], kwargs["lr"] / 5]
    assert_params_equal(ours.values(), theirs.values())


@requires_torch
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_add_param_group_mid_run(name):
    kwargs = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    runs = []
    for lib in (chainrule, torch):
        with torch_float64_scalars():
            run = Run(lib, name, kwargs, groups=[([0, 1], {})]).train(10)
            run.optimizer.add_param_group({"params": run.params[2:], "lr": 0.03})
            runs.append(run.train(20))
    assert_params_equal(runs[0].values(), runs[1].values())


@requires_torch
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters_stay_float32(name):
    kwargs = dict(next(k for n, k in CASES if n == name), lr=0.01)
    ours = Run(chainrule, name, kwargs, dtype=numpy.float32).train(10)
    theirs = Run(torch, name, kwargs, dtype=numpy.float32).train(10)
    for p in ours.params:
        assert p.dtype == numpy.float32
    for state in ours.optimizer.state.values():
        for key, value in state.items():
            assert not isinstance(value, numpy.ndarray) or value.dtype == numpy.float32, key
    assert_params_equal(ours.values(), theirs.values(), rtol=1e-4, atol=1e-6)


@requires_torch
def test_closure_is_evaluated_with_grad_on_and_its_loss_returned():
    runs = []
    for lib in (chainrule, torch):
        run = Run(lib, "SGD", dict(lr=0.1, momentum=0.9))

        def closure(run=run):
            run.optimizer.zero_grad()
            return run.backward()

        losses = []
        for _ in range(10):
            with lib.no_grad():  # the closure must still record its graph
                losses.append(float(run.optimizer.step(closure)))
        runs.append((run, losses))
    (ours, our_losses), (theirs, their_losses) = runs
    numpy.testing.assert_allclose(our_losses, their_losses, rtol=1e-12)
    assert our_losses[-1] < our_losses[0]
    assert_params_equal(ours.values(), theirs.values())


@requires_torch
def test_parameters_without_gradient_are_skipped_as_in_torch():
    # zero_grad(set_to_none=True) and an unused parameter: no step, no state
    runs = []
    for lib in (chainrule, torch):
        run = Run(lib, "Adam", dict(lr=0.01))
        unused = lib.tensor(numpy.array([1.0, 2.0]), requires_grad=True)
        run.optimizer.add_param_group({"params": [unused]})
        run.train(5)
        runs.append((run, unused))
    (ours, unused), (theirs, _) = runs
    numpy.testing.assert_array_equal(unused.data, [1.0, 2.0])
    assert unused not in ours.optimizer.state or not ours.optimizer.state[unused]
    assert len(ours.optimizer.state_dict()["state"]) == len(theirs.optimizer.state_dict()["state"]) == 4


@requires_torch
def test_zero_gradients_still_move_parameters_under_weight_decay():
    # zero_grad(set_to_none=False) keeps zero gradients, which do take a step
    runs = []
    for lib in (chainrule, torch):
        run = Run(lib, "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1))
        run.train(3, set_to_none=False)
        run.optimizer.zero_grad(set_to_none=False)
        run.optimizer.step()
        runs.append(run)
    assert_params_equal(runs[0].values(), runs[1].values())


# ---------------------------------------------------------------- zero_grad

def test_zero_grad_sets_to_none_by_default():
    run = Run(chainrule, "SGD", dict(lr=0.1))
    run.backward()
    run.optimizer.zero_grad()
    assert all(p.grad is None for p in run.params)


def test_zero_grad_in_place_keeps_the_gradient_tensor_and_zeroes_it():
    run = Run(chainrule, "SGD", dict(lr=0.1))
    run.backward()
    grads = [p.grad for p in run.params]
    run.optimizer.zero_grad(set_to_none=False)
    for p, g in zip(run.params, grads):
        assert p.grad is g
        assert p.grad.shape == p.shape and not p.grad.data.any()
    run.backward()  # accumulates into the zeroed gradients: a fresh gradient again
    fresh = Run(chainrule, "SGD", dict(lr=0.1))
    fresh.backward()
    for p, q in zip(run.params, fresh.params):
        numpy.testing.assert_array_equal(p.grad.data, q.grad.data)


def test_zero_grad_detaches_a_gradient_that_has_a_graph():
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    (w ** 3).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    optimizer = optim.SGD([w], lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and not w.grad.requires_grad
    numpy.testing.assert_array_equal(w.grad.data, [0.0, 0.0])


# ---------------------------------------------------------------- state dict

@pytest.mark.parametrize("name, kwargs", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_resumes_exactly(name, kwargs):
    uninterrupted = Run(chainrule, name, kwargs).train(STEPS)

    first = Run(chainrule, name, kwargs).train(20)
    saved = first.optimizer.state_dict()
    assert is_plain_data(saved), saved
    resumed = Run(chainrule, name, kwargs, arrays=first.values())
    resumed.optimizer.load_state_dict(saved)
    resumed.train(STEPS - 20)

    for a, b in zip(resumed.values(), uninterrupted.values()):
        numpy.testing.assert_array_equal(a, b)


def to_torch_state(saved):
    state = {index: {key: torch.tensor(value if isinstance(value, numpy.ndarray) else float(value))
                     for key, value in buffers.items()}
             for index, buffers in saved["state"].items()}
    return {"state": state, "param_groups": saved["param_groups"]}


def from_torch_state(saved):
    state = {index: {key: value.item() if value.ndim == 0 else value.numpy() for key, value in buffers.items()}
             for index, buffers in saved["state"].items()}
    return {"state": state, "param_groups": saved["param_groups"]}


NEW_CASES = [(name, kwargs) for name, kwargs in CASES if name in ("RAdam", "Adadelta", "Rprop", "ASGD")]


@requires_torch
@pytest.mark.parametrize("name, kwargs", NEW_CASES, ids=[CASE_IDS[CASES.index(case)] for case in NEW_CASES])
def test_state_dict_moves_between_chainrule_and_torch_mid_run(name, kwargs):
    # the state layout is PyTorch's: a state saved by either library after 20
    # steps continues in the other onto PyTorch's uninterrupted trajectory
    uninterrupted = torch_run(name, kwargs)

    ours = Run(chainrule, name, kwargs).train(20)
    with torch_float64_scalars():
        theirs = Run(torch, name, kwargs, arrays=ours.values())
        theirs.optimizer.load_state_dict(to_torch_state(ours.optimizer.state_dict()))
        theirs.train(STEPS - 20)
    assert_params_equal(theirs.values(), uninterrupted.values())

    theirs = torch_run(name, kwargs, steps=20)
    ours = Run(chainrule, name, kwargs, arrays=theirs.values())
    ours.optimizer.load_state_dict(from_torch_state(theirs.optimizer.state_dict()))
    ours.train(STEPS - 20)
    assert_params_equal(ours.values(), uninterrupted.values())


def test_state_dict_holds_copies_both_ways():
    run = Run(chainrule, "Adam", dict(lr=0.01)).train(3)
    saved = run.optimizer.state_dict()
    saved["state"][0]["exp_avg"][...] = 123.0
    live = run.optimizer.state[run.params[0]]["exp_avg"]
    assert not (live == 123.0).any()

    other = Run(chainrule, "Adam", dict(lr=0.01))
    other.optimizer.load_state_dict(saved)
    saved["state"][0]["exp_avg"][...] = -1.0
    numpy.testing.assert_array_equal(other.optimizer.state[other.params[0]]["exp_avg"], 123.0)
    saved["param_groups"][0]["lr"] = 5.0
    assert other.optimizer.param_groups[0]["lr"] == 0.01


def test_state_dict_indexes_parameters_across_groups_and_restores_group_options():
    run = Run(chainrule, "SGD", dict(lr=0.1, momentum=0.9), groups=[([0, 1], {}), ([2, 3], dict(lr=0.02))])
    run.train(2)
    saved = run.optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    other = Run(chainrule, "SGD", dict(lr=0.5, momentum=0.9), groups=[([0, 1], {}), ([2, 3], {})])
    other.optimizer.load_state_dict(saved)
    assert [g["lr"] for g in other.optimizer.param_groups] == [0.1, 0.02]
    assert other.optimizer.param_groups[1]["params"][0] is other.params[2]


def test_load_state_dict_casts_arrays_to_the_parameter_dtype():
    saved = Run(chainrule, "Adam", dict(lr=0.01)).train(2).optimizer.state_dict()
    run32 = Run(chainrule, "Adam", dict(lr=0.01), dtype=numpy.float32)
    run32.optimizer.load_state_dict(saved)
    run32.train(2)
    assert all(p.dtype == numpy.float32 for p in run32.params)
    assert run32.optimizer.state[run32.params[0]]["exp_avg"].dtype == numpy.float32


@pytest.mark.parametrize("groups", [
    [([0, 1, 2, 3], {}), ([], {})],
    [([0, 1, 2], {})],
])
def test_load_state_dict_rejects_a_different_layout(groups):
    saved = Run(chainrule, "SGD", dict(lr=0.1), groups=[([0, 1], {}), ([2, 3], {})]).optimizer.state_dict()
    groups = [(indices, options) for indices, options in groups if indices]
    other = Run(chainrule, "SGD", dict(lr=0.1), groups=groups)
    with pytest.raises(ValueError, match="parameter group"):
        other.optimizer.load_state_dict(saved)


# ---------------------------------------------------------------- parameters and arguments

def test_steps_bump_the_version_so_stale_graphs_fail_loudly():
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    optimizer = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


def test_named_parameters_are_accepted_and_their_names_kept():
    w = chainrule.tensor([1.0], requires_grad=True)
    b = chainrule.tensor([0.0], requires_grad=True)
    optimizer = optim.SGD([("weight", w), ("bias", b)], lr=0.1)
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(w), id(b)]
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


@pytest.mark.parametrize("params, error, match", [
    ([], ValueError, "empty parameter list"),
    (iter([]), ValueError, "empty parameter list"),
    ("tensor", TypeError, "single Tensor"),
    ("set", TypeError, "ordered collection"),
    ("non-leaf", ValueError, "non-leaf"),
    ("number", TypeError, "can only optimise Tensors"),
    ("shared", ValueError, "more than one parameter group"),
    ("repeated", ValueError, "more than once"),
])
def test_bad_parameters_raise(params, error, match):
    w = chainrule.tensor([1.0], requires_grad=True)
    params = {
        "tensor": w, "set": [{"params": {w}}], "non-leaf": [w * 2], "number": [1.0],
        "shared": [{"params": [w]}, {"params": [w]}], "repeated": [w, w],
    }.get(params, params) if isinstance(params, str) else params
    with pytest.raises(error, match=match):
        optim.SGD(params, lr=0.1)


@pytest.mark.parametrize("name, kwargs, argument", [
    ("SGD", dict(lr=-0.1), "lr=-0.1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum=-0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4), "weight_decay=-0.0001"),
    ("SGD", dict(lr=0.1, nesterov=True), "momentum=0"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening=0.1"),
    ("Adam", dict(lr=-1.0), "lr=-1.0"),
    ("Adam", dict(eps=-1e-8), "eps=-1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), r"betas\[0\]=1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), r"betas\[1\]=-0.1"),
    ("Adam", dict(betas=(0.9,)), "pair"),
    ("Adam", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("AdamW", dict(betas=(0.9, 1.5)), r"betas\[1\]=1.5"),
    ("AdamW", dict(lr=float("nan")), "lr=nan"),
    ("RMSprop", dict(alpha=-0.9), "alpha=-0.9"),
    ("RMSprop", dict(momentum=-0.1), "momentum=-0.1"),
    ("RMSprop", dict(eps=-1.0), "eps=-1.0"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay=-0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value=-1.0"),
    ("Adamax", dict(betas=(-0.1, 0.9)), r"betas\[0\]=-0.1"),
    ("NAdam", dict(momentum_decay=-0.004), "momentum_decay=-0.004"),
    ("NAdam", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("RAdam", dict(lr=-0.01), "lr=-0.01"),
    ("RAdam", dict(betas=(0.9, 1.0)), r"betas\[1\]=1.0"),
    ("RAdam", dict(eps=-1e-8), "eps=-1e-08"),
    ("RAdam", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("Adadelta", dict(lr=-1.0), "lr=-1.0"),
    ("Adadelta", dict(rho=1.1), "rho=1.1"),
    ("Adadelta", dict(rho=-0.1), "rho=-0.1"),
    ("Adadelta", dict(eps=-1e-6), "eps=-1e-06"),
    ("Adadelta", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("Rprop", dict(lr=-0.01), "lr=-0.01"),
    ("Rprop", dict(etas=(1.0, 1.2)), r"etas=\(1.0, 1.2\)"),
    ("Rprop", dict(etas=(0.5, 0.9)), r"etas=\(0.5, 0.9\)"),
    ("Rprop", dict(etas=(0.0, 1.2)), r"etas=\(0.0, 1.2\)"),
    ("Rprop", dict(etas=(0.5,)), r"etas=\(0.5,\)"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), r"step_sizes=\(1.0, 0.1\)"),
    ("Rprop", dict(step_sizes=(-1e-6, 50)), r"step_sizes=\(-1e-06, 50\)"),
    ("ASGD", dict(lr=-0.01), "lr=-0.01"),
    ("ASGD", dict(lambd=-1e-4), "lambd=-0.0001"),
    ("ASGD", dict(alpha=-0.75), "alpha=-0.75"),
    ("ASGD", dict(weight_decay=-0.1), "weight_decay=-0.1"),
])
def test_bad_hyperparameters_raise_value_error_naming_them(name, kwargs, argument):
    w = chainrule.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=f"{name}: .*{argument}"):
        getattr(optim, name)([w], **kwargs)


def test_adamw_defaults_and_decoupled_decay():
    w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    optimizer = optim.AdamW([w])
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    assert group["decoupled_weight_decay"] is True
    # with a zero gradient only the decay acts: theta * (1 - lr * wd)
    w.grad = chainrule.zeros(2)
    optimizer.step()
    numpy.testing.assert_allclose(w.data, numpy.array([1.0, -2.0], numpy.float32) * (1 - 1e-5), rtol=1e-7)


def test_repr_lists_the_groups():
    w = chainrule.tensor([1.0], requires_grad=True)
    text = repr(optim.SGD([w], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text
