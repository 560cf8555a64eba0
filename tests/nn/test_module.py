"""Module: registration by attribute, traversal, modes, dtypes, hooks,
state dicts and repr, with PyTorch as the reference for names and text."""
import numpy
import pytest

import chainrule
from chainrule import nn
from helpers import random_inputs, requires_torch, torch


def build_block(lib, zeros):
    """A model using every kind of registration, written once for ``torch.nn``
    and ``chainrule.nn`` (``zeros`` is the library's tensor factory)."""

    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.scale = lib.Parameter(zeros(3) + 1)
            self.register_buffer("running_mean", zeros(3))
            self.register_buffer("scratch", zeros(3), persistent=False)
            self.body = lib.Sequential(lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 3, bias=False))
            self.heads = lib.ModuleList([lib.Linear(3, 2), lib.Linear(3, 2), lib.Dropout(0.1)])
            self.extras = lib.ModuleDict({"gate": lib.Sigmoid(), "skip": lib.Identity()})
            self.width = 3  # a plain attribute: not registered anywhere

        def forward(self, x):
            hidden = self.body(x * self.scale - self.running_mean)
            return self.heads[0](hidden) + self.extras["gate"](self.heads[1](hidden))

        def extra_repr(self):
            return f"width={self.width}"

    return Block()


def our_block():
    return build_block(nn, chainrule.zeros)


def their_block():
    return build_block(torch.nn, torch.zeros)


def torch_state_as_numpy(module):
    return {name: value.detach().numpy() for name, value in module.state_dict().items()}


# ---------------------------------------------------------------- registration


def test_attributes_are_registered_by_kind():
    block = our_block()
    assert [name for name, _ in block.named_parameters(recurse=False)] == ["scale"]
    assert [name for name, _ in block.named_buffers(recurse=False)] == ["running_mean", "scratch"]
    assert [name for name, _ in block.named_children()] == ["body", "heads", "extras"]
    assert block.width == 3 and "width" not in block.state_dict()
    assert {"scale", "running_mean", "body"} <= set(dir(block))


def test_plain_tensor_attribute_is_not_registered():
    block = our_block()
    block.constant = chainrule.ones(2)
    assert "constant" not in block.state_dict()
    assert all(p is not block.constant for p in block.parameters())


def test_assigning_before_super_init_explains_the_fix():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Forgetful: call super\(\).__init__\(\) before assigning"):
        Forgetful()


def test_replacing_a_sub_module_keeps_its_place():
    block = our_block()
    block.body = nn.Linear(3, 3)
    assert [name for name, _ in block.named_children()] == ["body", "heads", "extras"]
    assert list(block.state_dict())[:4] == ["scale", "running_mean", "body.weight", "body.bias"]


def test_assigning_another_kind_moves_the_name_between_registries():
    block = our_block()
    block.scale = nn.Linear(1, 1)
    assert "scale" not in dict(block.named_parameters(recurse=False))
    assert isinstance(dict(block.named_children())["scale"], nn.Linear)
    block.body = nn.Parameter(chainrule.zeros(2))
    assert "body" not in dict(block.named_children())
    assert block.body is dict(block.named_parameters(recurse=False))["body"]


def test_assigning_none_keeps_the_slot_but_drops_the_value():
    block = our_block()
    block.scale = None
    block.running_mean = None
    block.body = None
    assert block.scale is None and block.running_mean is None and block.body is None
    assert not [key for key in block.state_dict() if key.split(".")[0] in ("scale", "running_mean", "body")]
    block.scale = nn.Parameter(chainrule.ones(3))
    assert list(block.state_dict())[0] == "scale"


@pytest.mark.parametrize("name, value, message", [
    ("scale", chainrule.ones(3), "Block.scale is a parameter: assign an nn.Parameter or None, not Tensor"),
    ("body", 3, "Block.body is a sub-module: assign a Module or None, not int"),
    ("running_mean", [0.0, 0.0, 0.0], "Block.running_mean is a buffer: assign a Tensor or None, not list"),
])
def test_assigning_the_wrong_type_to_a_registered_name_is_refused(name, value, message):
    with pytest.raises(TypeError, match=message):
        setattr(our_block(), name, value)


def test_a_new_tensor_assigned_to_a_buffer_stays_a_buffer():
    block = our_block()
    block.running_mean = chainrule.ones(3)
    numpy.testing.assert_array_equal(block.state_dict()["running_mean"].data, numpy.ones(3))


@pytest.mark.parametrize("name", ["scale", "running_mean", "scratch", "body"])
def test_deleting_unregisters(name):
    block = our_block()
    delattr(block, name)
    assert not any(key == name or key.startswith(name + ".") for key in block.state_dict())
    assert name not in dict(block.named_buffers())
    with pytest.raises(AttributeError, match=f"'Block' object has no attribute '{name}'"):
        getattr(block, name)


@pytest.mark.parametrize("register, value", [
    ("register_parameter", chainrule.ones(2)),
    ("register_buffer", numpy.ones(2)),
    ("add_module", chainrule.ones(2)),
])
def test_register_methods_check_types(register, value):
    with pytest.raises(TypeError, match=f"{register}: 'extra' must be"):
        getattr(nn.Module(), register)("extra", value)


def test_parameter_wraps_a_tensor_without_copying():
    source = chainrule.randn(3, 2)
    weight = nn.Parameter(source)
    assert weight.requires_grad and weight.is_leaf
    assert weight.data is source.data
    assert not nn.Parameter(source, requires_grad=False).requires_grad
    assert repr(weight).startswith("Parameter containing:\ntensor(")


# ---------------------------------------------------------------- traversal


@requires_torch
def test_traversal_names_match_torch():
    ours, theirs = our_block(), their_block()
    for method in ("named_parameters", "named_buffers", "named_children", "named_modules"):
        assert [name for name, _ in getattr(ours, method)()] == [name for name, _ in getattr(theirs, method)()], method
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len(list(ours.buffers())) == len(list(theirs.buffers())) == 2
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]


@requires_torch
@pytest.mark.parametrize("lib_name", ["chainrule", "torch"])
def test_a_shared_parameter_appears_once_but_is_saved_under_each_name(lib_name):
    lib = {"chainrule": nn, "torch": torch.nn}[lib_name]
    first, second = lib.Linear(3, 3), lib.Linear(3, 3)
    second.weight = first.weight
    model = lib.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


@requires_torch
@pytest.mark.parametrize("lib_name", ["chainrule", "torch"])
def test_a_module_registered_twice_is_visited_once_but_saved_twice(lib_name):
    lib = {"chainrule": nn, "torch": torch.nn}[lib_name]
    layer = lib.Linear(2, 2)
    model = lib.Sequential(layer, lib.ReLU(), layer)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3  # the Sequential, the Linear and the ReLU
    assert len(list(model.children())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


@requires_torch
def test_apply_visits_children_first_as_torch_does():
    visited = {"ours": [], "theirs": []}
    our_block().apply(lambda m: visited["ours"].append(type(m).__name__))
    their_block().apply(lambda m: visited["theirs"].append(type(m).__name__))
    assert visited["ours"] == visited["theirs"]
    assert visited["ours"][-1] == "Block"


def test_apply_returns_the_module_and_can_initialise():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))

    def zero_biases(module):
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)

    assert model.apply(zero_biases) is model
    assert not any(model[i].bias.data.any() for i in (0, 2))


# ---------------------------------------------------------------- modes, gradients, dtypes


def test_train_and_eval_propagate_to_every_sub_module():
    block = our_block()
    assert block.eval() is block
    assert not any(m.training for m in block.modules())
    assert block.train() is block
    assert all(m.training for m in block.modules())
    block.train(False)
    assert not any(m.training for m in block.modules())


def test_train_calls_each_child_s_own_train():
    class AlwaysEval(nn.Module):
        def train(self, mode=True):
            return super().train(False)

    frozen = AlwaysEval()
    frozen.inner = nn.Dropout()
    model = nn.Sequential(nn.Linear(2, 2), frozen)
    model.train()
    assert model.training and model[0].training
    assert not frozen.training and not frozen.inner.training


def run_backward(block):
    block(chainrule.randn(5, 3)).sum().backward()


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    block = our_block()
    run_backward(block)
    assert all(p.grad is not None and p.grad.data.any() for p in block.parameters())
    block.zero_grad(set_to_none=set_to_none)
    for p in block.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            numpy.testing.assert_array_equal(p.grad.data, numpy.zeros(p.shape))


def test_zero_grad_defaults_to_none():
    block = our_block()
    run_backward(block)
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_requires_grad_false_freezes_every_parameter():
    block = our_block()
    assert block.requires_grad_(False) is block
    assert not any(p.requires_grad for p in block.parameters())
    x = chainrule.randn(5, 3, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None
    assert all(p.grad is None for p in block.parameters())
    block.requires_grad_()
    assert all(p.requires_grad for p in block.parameters())


@pytest.mark.parametrize("convert, dtype", [
    (lambda m: m.double(), numpy.float64),
    (lambda m: m.double().float(), numpy.float32),
    (lambda m: m.to(chainrule.float64), numpy.float64),
    (lambda m: m.to("float64"), numpy.float64),
    (lambda m: m.to(chainrule.float16), numpy.float16),
])
def test_dtype_conversion_changes_floating_state_only(convert, dtype):
    block = our_block()
    block.register_buffer("steps", chainrule.tensor([3]))
    run_backward(block)
    parameters = list(block.parameters())
    assert convert(block) is block
    assert list(block.parameters()) == parameters  # converted in place: optimisers keep working
    for p in block.parameters():
        assert p.dtype == dtype and p.grad.dtype == dtype
    assert block.running_mean.dtype == dtype and block.scratch.dtype == dtype
    assert block.steps.dtype == numpy.int64


def test_to_refuses_integer_dtypes():
    with pytest.raises(TypeError, match="only floating-point dtypes are accepted, got int64"):
        our_block().to(chainrule.int64)


def test_to_cpu_is_a_no_op():
    block = our_block()
    assert block.to("cpu") is block
    assert block.scale.dtype == numpy.float32


# ---------------------------------------------------------------- hooks


def test_forward_hook_sees_module_arguments_and_output():
    layer = nn.Linear(3, 2)
    seen = []
    layer.register_forward_hook(lambda module, args, output: seen.append((module, args, output)))
    x = chainrule.randn(4, 3)
    out = layer(x)
    [(module, args, output)] = seen
    assert module is layer and args[0] is x and output is out


def test_forward_hook_can_replace_the_output():
    layer = nn.Linear(3, 2)
    layer.register_forward_hook(lambda module, args, output: output * 0)
    assert not layer(chainrule.randn(4, 3)).data.any()


@pytest.mark.parametrize("replacement", [
    lambda module, args: (args[0] * 2,),  # a tuple replaces all arguments
    lambda module, args: args[0] * 2,  # a single value is wrapped into one
])
def test_forward_pre_hook_can_replace_the_arguments(replacement):
    seen = []
    layer = nn.Identity()
    layer.register_forward_pre_hook(replacement)
    layer.register_forward_hook(lambda module, args, output: seen.append(args))
    x = chainrule.tensor([1.0, 2.0])
    numpy.testing.assert_array_equal(layer(x).data, [2.0, 4.0])
    numpy.testing.assert_array_equal(seen[0][0].data, [2.0, 4.0])  # the forward hook sees the new arguments


def test_hooks_run_in_order_and_remove_stops_them():
    calls = []
    layer = nn.Identity()
    pre = layer.register_forward_pre_hook(lambda module, args: calls.append("pre"))
    first = layer.register_forward_hook(lambda module, args, output: calls.append("first"))
    layer.register_forward_hook(lambda module, args, output: calls.append("second"))
    layer(chainrule.zeros(1))
    assert calls == ["pre", "first", "second"]
    pre.remove()
    first.remove()
    first.remove()  # removing twice is harmless
    calls.clear()
    layer(chainrule.zeros(1))
    assert calls == ["second"]


# ---------------------------------------------------------------- backward hooks


def build_two_in_two_out(lib):
    class TwoInTwoOut(lib.Module):
        def __init__(self):
            super().__init__()
            self.mix = lib.Linear(3, 3)

        def forward(self, a, scale, b):
            return self.mix(a) * b, (a - b).tanh() * scale

    return TwoInTwoOut()


# Each case: a model written once for both libraries, how it is called, and
# its inputs as (shape, requires_grad).
BACKWARD_HOOK_CASES = {
    "linear": (lambda lib: lib.Linear(3, 2), lambda m, x: m(x), [((4, 3), True)]),
    "sequential": (lambda lib: lib.Sequential(lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 2)),
                   lambda m, x: m(x), [((4, 3), True)]),
    "two_in_two_out": (build_two_in_two_out, lambda m, a, b: m(a, 2.0, b), [((4, 3), True), ((4, 3), True)]),
    "input_without_grad": (build_two_in_two_out, lambda m, a, b: m(a, 2.0, b), [((4, 3), True), ((4, 3), False)]),
    "no_input_requires_grad": (lambda lib: lib.Linear(3, 2), lambda m, x: m(x), [((4, 3), False)]),
    "unused_output": (build_two_in_two_out, lambda m, a, b: m(a, 2.0, b)[0], [((4, 3), True), ((4, 3), True)]),
    "called_twice": (lambda lib: lib.Linear(3, 3), lambda m, x: m(m(x).tanh()), [((4, 3), True)]),
}


def twin_models(build):
    """The same float64 model in chainrule and in PyTorch."""
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict(torch_state_as_numpy(theirs))
    return ours, theirs


def backward_through(lib, model, call, inputs):
    """Call ``model`` on fresh tensors made from ``inputs`` and backpropagate a fixed
    weighted sum of its outputs; returns the input tensors."""
    tensors = [lib.tensor(array, requires_grad=flag) for array, flag in inputs]
    outputs = call(model, *tensors)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    rng = numpy.random.default_rng(1)
    sum((out * lib.tensor(rng.standard_normal(out.shape))).sum() for out in outputs).backward()
    return tensors


def as_numpy(grads):
    return tuple(None if g is None else numpy.asarray(g.detach().numpy() if torch.is_tensor(g) else g.data)
                 for g in grads)


def record_backward_hooks(model, calls):
    """Hook every module of ``model``; each hook appends what it was shown to ``calls``."""
    for name, module in model.named_modules():
        module.register_full_backward_pre_hook(
            lambda m, grad_output, name=name: calls.append(("pre", name, as_numpy(grad_output))))
        module.register_full_backward_hook(
            lambda m, grad_input, grad_output, name=name: calls.append(
                ("full", name, as_numpy(grad_input), as_numpy(grad_output))))


def assert_same_grads(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@requires_torch
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # PyTorch's note when no input requires grad
@pytest.mark.parametrize("case", list(BACKWARD_HOOK_CASES))
def test_backward_hooks_see_what_torch_s_see(case):
    build, call, shapes = BACKWARD_HOOK_CASES[case]
    ours, theirs = twin_models(build)
    inputs = [(array, flag) for array, (_, flag) in zip(random_inputs([s for s, _ in shapes]), shapes)]
    our_calls, their_calls = [], []
    record_backward_hooks(ours, our_calls)
    record_backward_hooks(theirs, their_calls)
    backward_through(chainrule, ours, call, inputs)
    backward_through(torch, theirs, call, inputs)
    assert our_calls and [c[:2] for c in our_calls] == [c[:2] for c in their_calls]  # which fired, in which order
    for mine, expected in zip(our_calls, their_calls):
        for grads, expected_grads in zip(mine[2:], expected[2:]):
            assert_same_grads(grads, expected_grads)


@requires_torch
def test_backward_hooks_under_double_backward_match_torch():
    ours, theirs = twin_models(BACKWARD_HOOK_CASES["sequential"][0])
    our_calls, their_calls = [], []
    record_backward_hooks(ours, our_calls)
    record_backward_hooks(theirs, their_calls)
    (x,) = random_inputs([(4, 3)])
    for lib, model, grad in ((chainrule, ours, chainrule.grad), (torch, theirs, torch.autograd.grad)):
        inputs = lib.tensor(x, requires_grad=True)
        (g,) = grad(model(inputs).tanh().sum(), inputs, create_graph=True)
        (g * g).sum().backward()  # a gradient penalty
    assert [c[:2] for c in our_calls] == [c[:2] for c in their_calls]
    for mine, expected in zip(our_calls, their_calls):
        for grads, expected_grads in zip(mine[2:], expected[2:]):
            assert_same_grads(grads, expected_grads)
    assert_same_grads(as_numpy([p.grad for p in ours.parameters()]), as_numpy([p.grad for p in theirs.parameters()]))

def halve_grad_output(module, grad_output):
    return tuple(None if g is None else g * 0.5 for g in grad_output)


def triple_grad_input(module, grad_input, grad_output):
    return tuple(None if g is None else g * 3 for g in grad_input)


def drop_second_output(module, grad_output):
    return grad_output[0], None


@requires_torch
@pytest.mark.parametrize("case, path, register, hook", [
    ("sequential", "2", "register_full_backward_pre_hook", halve_grad_output),
    ("sequential", "2", "register_full_backward_hook", triple_grad_input),
    ("sequential", "", "register_full_backward_hook", triple_grad_input),
    ("called_twice", "", "register_full_backward_pre_hook", halve_grad_output),
    ("two_in_two_out", "", "register_full_backward_pre_hook", drop_second_output),
    ("two_in_two_out", "mix", "register_full_backward_hook", triple_grad_input),
])
def test_replaced_gradients_change_grad_as_in_torch(case, path, register, hook):
    build, call, shapes = BACKWARD_HOOK_CASES[case]
    ours, theirs = twin_models(build)
    getattr(dict(ours.named_modules())[path], register)(hook)
    getattr(dict(theirs.named_modules())[path], register)(hook)
    inputs = [(array, flag) for array, (_, flag) in zip(random_inputs([s for s, _ in shapes]), shapes)]
    our_inputs = backward_through(chainrule, ours, call, inputs)
    their_inputs = backward_through(torch, theirs, call, inputs)
    assert_same_grads(as_numpy([t.grad for t in our_inputs]), as_numpy([t.grad for t in their_inputs]))
    assert_same_grads(as_numpy([p.grad for p in ours.parameters()]), as_numpy([p.grad for p in theirs.parameters()]))


def test_removed_backward_hooks_stop_and_prepend_runs_first():
    layer = nn.Linear(3, 2)
    calls = []
    pre = layer.register_full_backward_pre_hook(lambda m, grad_output: calls.append("pre"))
    full = layer.register_full_backward_hook(lambda m, grad_input, grad_output: calls.append("full"))
    layer.register_full_backward_hook(lambda m, grad_input, grad_output: calls.append("first"), prepend=True)
    x = chainrule.randn(4, 3, requires_grad=True)
    out = layer(x).sum()
    out.backward(retain_graph=True)
    out.backward()  # once per backward
    assert calls == ["pre", "first", "full"] * 2
    pre.remove()
    full.remove()
    calls.clear()
    layer(x).sum().backward()
    assert calls == ["first"]


def test_without_backward_hooks_the_graph_has_no_extra_nodes():
    layer = nn.Linear(3, 2)
    x = chainrule.randn(4, 3, requires_grad=True)
    plain = layer(x).grad_fn
    handle = layer.register_full_backward_hook(lambda m, grad_input, grad_output: None)
    hooked = layer(x).grad_fn
    assert repr(hooked) == "<BackwardHookTapBackward>"
    handle.remove()
    assert type(layer(x).grad_fn) is type(plain)
    assert all(not isinstance(edge, chainrule.Function) for edge in layer(x).grad_fn.next_functions)
    layer.register_full_backward_pre_hook(lambda m, grad_output: None)
    with chainrule.no_grad():
        assert layer(x).grad_fn is None


def test_a_hooked_call_passes_values_through_and_shares_the_version_counter():
    layer = nn.Identity()
    layer.register_full_backward_hook(lambda m, grad_input, grad_output: None)
    x = chainrule.randn(3, requires_grad=True) * 1
    out = layer(x)
    assert numpy.shares_memory(out.data, x.data)
    assert out._version is x._version


@pytest.mark.parametrize("register, hook, message", [
    ("register_full_backward_pre_hook", lambda m, grad_output: (grad_output[0], grad_output[0]),
     "Linear: a backward pre-hook returned 2 gradients for grad_output, but the call has 1"),
    ("register_full_backward_hook", lambda m, grad_input, grad_output: (),
     "Linear: a full backward hook returned 0 gradients for grad_input, but the call has 1"),
])
def test_a_replacement_of_the_wrong_length_is_refused(register, hook, message):
    layer = nn.Linear(3, 2)
    getattr(layer, register)(hook)
    with pytest.raises(RuntimeError, match=message):
        layer(chainrule.randn(4, 3, requires_grad=True)).sum().backward()


def test_the_legacy_register_backward_hook_is_absent():
    # PyTorch's legacy hook shows the last op's gradients, not the module's:
    # an alias with other values would mislead, so there is none.
    assert not hasattr(nn.Linear(3, 2), "register_backward_hook")


# ---------------------------------------------------------------- state dicts


@requires_torch
def test_state_dict_keys_match_torch():
    assert list(our_block().state_dict()) == list(their_block().state_dict())
    assert list(our_block().state_dict(prefix="model.")) == list(their_block().state_dict(prefix="model."))


def test_state_dict_shares_memory_but_not_the_graph():
    block = our_block()
    state = block.state_dict()
    weight = block.body[0].weight
    assert numpy.shares_memory(state["body.0.weight"].data, weight.data)
    assert not state["body.0.weight"].requires_grad
    assert block.state_dict(keep_vars=True)["body.0.weight"] is weight


@requires_torch
@pytest.mark.parametrize("as_value", [chainrule.tensor, numpy.array], ids=["chainrule", "numpy"])
def test_loading_torch_weights_gives_torch_outputs(as_value):
    theirs = their_block().double()
    ours = our_block().double()
    with torch.no_grad():
        theirs.running_mean.uniform_(-1, 1)
        theirs.scale.uniform_(0.5, 1.5)
    result = ours.load_state_dict({name: as_value(array) for name, array in torch_state_as_numpy(theirs).items()})
    assert result == ([], [])
    (x,) = random_inputs([(6, 3)])
    expected = theirs.eval()(torch.tensor(x)).detach().numpy()
    numpy.testing.assert_allclose(ours.eval()(chainrule.tensor(x)).data, expected, rtol=1e-10, atol=1e-12)


def test_loading_copies_values_instead_of_sharing_them():
    source = {name: value.data.copy() for name, value in our_block().state_dict().items()}
    block = our_block()
    block.load_state_dict(source)
    source["scale"][...] = 42.0
    assert not (block.scale.data == 42.0).any()


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    block = our_block()
    state = {name: value.data.copy() for name, value in block.state_dict().items()}
    before = {name: value.copy() for name, value in state.items()}
    del state["body.0.bias"], state["heads.1.weight"]
    state["body.0.weight"] = numpy.zeros((5, 3))
    state["scale"] = numpy.zeros((3, 1))
    state["heads.2.weight"] = numpy.zeros(1)
    state["stray"] = numpy.zeros(1)
    with pytest.raises(RuntimeError) as error:
        block.load_state_dict(state)
    message = str(error.value)
    for expected in ["load_state_dict for Block failed",
                     "missing key: body.0.bias", "missing key: heads.1.weight",
                     "unexpected key: heads.2.weight", "unexpected key: stray",
                     "scale: expected shape (3,), got (3, 1)",
                     "body.0.weight: expected shape (4, 3), got (5, 3)"]:
        assert expected in message
    for name, value in block.state_dict().items():
        numpy.testing.assert_array_equal(value.data, before[name], err_msg=name)


def test_non_strict_loading_returns_missing_and_unexpected_keys():
    block = our_block()
    replacement = numpy.full((3, 4), 0.5)
    result = block.load_state_dict({"body.2.weight": replacement, "stray": numpy.zeros(2)}, strict=False)
    assert result.unexpected_keys == ["stray"]
    assert result.missing_keys == [key for key in block.state_dict() if key != "body.2.weight"]
    numpy.testing.assert_array_equal(block.body[2].weight.data, replacement)


def test_non_strict_loading_still_refuses_wrong_shapes():
    with pytest.raises(RuntimeError, match=r"scale: expected shape \(3,\), got \(4,\)"):
        our_block().load_state_dict({"scale": numpy.zeros(4)}, strict=False)


# ---------------------------------------------------------------- repr


@requires_torch
def test_nested_repr_matches_torch():
    assert repr(our_block()) == repr(their_block())


@requires_torch
@pytest.mark.parametrize("extra", ["", "width=3", "width=3\ndepth=2"], ids=["none", "one_line", "two_lines"])
@pytest.mark.parametrize("with_child", [False, True])
def test_extra_repr_layout_matches_torch(extra, with_child):
    def build(lib):
        class Custom(lib.Module):
            def __init__(self):
                super().__init__()
                if with_child:
                    self.act = lib.ReLU()

            def extra_repr(self):
                return extra

        return Custom()

    assert repr(build(nn)) == repr(build(torch.nn))


def test_backward_hooks_stay_quiet_when_grad_asks_only_for_a_tensor_after_the_module():
    encoder, fired = nn.Linear(3, 3), []
    encoder.register_full_backward_hook(lambda module, grad_input, grad_output: fired.append("full"))
    encoder.register_full_backward_pre_hook(lambda module, grad_output: fired.append("pre"))
    x = chainrule.ones(2, 3, requires_grad=True)
    features = encoder(x)
    chainrule.grad((features ** 2).sum(), features)
    assert fired == []  # as in PyTorch: the module lies below what was asked for
