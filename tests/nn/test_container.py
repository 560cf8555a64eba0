"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict:
the same edits give the same names, state-dict keys and reprs as in
PyTorch, a PyTorch state dict loads, and a Sequential computes what
PyTorch's does with the same weights."""
from collections import OrderedDict

import numpy
import pytest

import chainrule
from chainrule import nn
from helpers import random_inputs, requires_torch, torch


def ordered_dict_of(lib):
    return OrderedDict([("encoder", lib.Linear(3, 4)), ("act", lib.ReLU()), ("decoder", lib.Linear(4, 3))])


# name -> build(namespace): a container after a series of edits, written once for both libraries.
CONTAINERS = {
    "sequential_mlp": lambda lib: lib.Sequential(lib.Linear(4, 8), lib.Tanh(), lib.Linear(8, 3),
                                                 lib.LogSoftmax(dim=-1)),
    "sequential_named": lambda lib: lib.Sequential(ordered_dict_of(lib)),
    "sequential_slice": lambda lib: lib.Sequential(ordered_dict_of(lib))[1:],
    "sequential_appended": lambda lib: lib.Sequential(lib.Linear(2, 3)).append(lib.Tanh()).append(lib.Linear(3, 2)),
    "sequential_nested": lambda lib: lib.Sequential(lib.Sequential(lib.Linear(2, 2), lib.ReLU()), lib.Linear(2, 1)),
    "sequential_empty": lambda lib: lib.Sequential(),
    "module_list": lambda lib: lib.ModuleList([lib.Linear(2, 2) for _ in range(3)] + [lib.ReLU()]),
    "module_list_extended": lambda lib: lib.ModuleList([lib.ReLU()]).extend([lib.Linear(1, 2), lib.Tanh()]),
    "module_list_slice": lambda lib: lib.ModuleList([lib.ReLU(), lib.Linear(1, 2), lib.Tanh(),
                                                     lib.Linear(2, 1)])[1::2],
    "module_list_inserted": lambda lib: inserted(lib.ModuleList([lib.ReLU(), lib.Linear(1, 2)]), 1, lib.Linear(3, 3)),
    "module_list_replaced": lambda lib: replaced(lib.ModuleList([lib.ReLU(), lib.Linear(1, 2)]), 0, lib.Tanh()),
    "module_list_replaced_from_end": lambda lib: replaced(lib.ModuleList([lib.ReLU(), lib.Linear(1, 2)]), -2,
                                                          lib.Linear(2, 2)),
    "module_list_empty": lambda lib: lib.ModuleList(),
    "module_dict": lambda lib: lib.ModuleDict({"b": lib.Linear(2, 3), "a": lib.ReLU()}),
    "module_dict_updated": lambda lib: updated(lib.ModuleDict({"b": lib.Linear(2, 3)}),
                                               [("a", lib.Linear(3, 1)), ("b", lib.Tanh())]),
    "module_dict_deleted": lambda lib: deleted(lib.ModuleDict({"b": lib.Linear(2, 3), "a": lib.ReLU()}), "b"),
}


def inserted(container, index, module):
    container.insert(index, module)
    return container


def replaced(container, index, module):
    container[index] = module
    return container


def updated(container, items):
    container.update(items)
    return container


def deleted(container, key):
    del container[key]
    return container


@requires_torch
def test_sequential_matches_torch_with_the_same_weights():
    theirs = CONTAINERS["sequential_mlp"](torch.nn).double()
    ours = CONTAINERS["sequential_mlp"](nn).double()
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    (x,) = random_inputs([(5, 4)])
    our_x, their_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(our_x), theirs(their_x)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    numpy.testing.assert_allclose(our_x.grad.data, their_x.grad.numpy(), rtol=1e-10, atol=1e-12)
    their_grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    for name, parameter in ours.named_parameters():
        numpy.testing.assert_allclose(parameter.grad.data, their_grads[name], rtol=1e-10, atol=1e-12, err_msg=name)


@requires_torch
@pytest.mark.parametrize("name", CONTAINERS)
def test_container_names_and_repr_match_torch(name):
    ours, theirs = CONTAINERS[name](nn), CONTAINERS[name](torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_children()] == [name for name, _ in theirs.named_children()]
    assert len(ours) == len(theirs)


def test_sequential_indexing():
    first, second, third = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(first, second, third)
    assert model[0] is first and model[-1] is third
    assert list(model) == [first, second, third]
    assert list(model[1:]) == [second, third]
    with pytest.raises(IndexError):
        model[3]


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers.append(nn.Linear(2, 1))
    assert [name for name, _ in layers.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    assert layers[-1].out_features == 1
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(chainrule.zeros(2))


def test_module_dict_behaves_like_a_dict():
    relu, tanh = nn.ReLU(), nn.Tanh()
    layers = nn.ModuleDict({"relu": relu})
    layers["tanh"] = tanh
    assert "tanh" in layers and "sigmoid" not in layers
    assert list(layers) == list(layers.keys()) == ["relu", "tanh"]
    assert list(layers.values()) == [relu, tanh]
    assert list(layers.items()) == [("relu", relu), ("tanh", tanh)]
    assert layers["relu"] is relu
    del layers["relu"]
    assert list(layers) == ["tanh"] and len(layers) == 1


# ---------------------------------------------------------------- ParameterList and ParameterDict

def edited(container, edit):
    edit(container)
    return container


# name -> build(nn namespace, tensor namespace): a parameter container after a series of edits.
PARAMETER_CONTAINERS = {
    "list": lambda lib, t: lib.ParameterList([t.ones(2, 3), lib.Parameter(t.zeros(4))]),
    "list_single": lambda lib, t: lib.ParameterList([t.ones(2)]),
    "list_empty": lambda lib, t: lib.ParameterList(),
    "list_appended_extended": lambda lib, t: lib.ParameterList([t.ones(1)]).append(t.zeros(2, 2)).extend(
        [t.ones(3), t.zeros(1, 2, 3, dtype=t.float64)]),
    "list_with_other_values": lambda lib, t: lib.ParameterList([t.ones(2), None, "text", t.tensor(1.0)]),
    "list_slice": lambda lib, t: lib.ParameterList([t.ones(i + 1) for i in range(5)])[1::2],
    "list_replaced": lambda lib, t: edited(lib.ParameterList([t.ones(2), t.ones(3)]),
                                           lambda c: c.__setitem__(-2, t.zeros(4, 1))),
    "dict_plain_dict_is_sorted": lambda lib, t: lib.ParameterDict({"b": t.ones(2), "a": t.zeros(3, 2)}),
    "dict_ordered_dict": lambda lib, t: lib.ParameterDict(OrderedDict([("b", t.ones(2)), ("a", t.zeros(3, 2))])),
    "dict_pairs": lambda lib, t: lib.ParameterDict([("z", t.ones(1)), ("a", t.ones(2)), ("m", None)]),
    "dict_empty": lambda lib, t: lib.ParameterDict(),
    "dict_single": lambda lib, t: lib.ParameterDict({"w": t.ones(2, 2, dtype=t.float64)}),
    "dict_updated": lambda lib, t: edited(lib.ParameterDict({"z": t.ones(1)}),
                                          lambda c: (c.update({"b": t.ones(2), "a": t.ones(3)}),
                                                     c.__setitem__("z", t.zeros(5)))),
    "dict_popped_and_set_to_none": lambda lib, t: edited(lib.ParameterDict({"a": t.ones(1), "b": t.ones(2)}),
                                                         lambda c: (c.pop("a"), c.__setitem__("b", None))),
    "dict_merged": lambda lib, t: lib.ParameterDict({"x": t.ones(1)}) | OrderedDict([("c", t.ones(2)),
                                                                                     ("b", 3)]),
    "nested": lambda lib, t: lib.ModuleDict({"weights": lib.ParameterList([t.ones(2, 2), t.ones(2)]),
                                             "scales": lib.ParameterDict({"g": t.ones(2)})}),
}


def torch_repr_in_chainrule_words(text):
    # PyTorch's ParameterDict prints the legacy type name, its ParameterList the dtype; chainrule prints the dtype.
    for legacy, dtype in [("torch.FloatTensor", "float32"), ("torch.DoubleTensor", "float64")]:
        text = text.replace(legacy, "chainrule." + dtype)
    return text.replace("torch.", "chainrule.")


@requires_torch
@pytest.mark.parametrize("name", PARAMETER_CONTAINERS)
def test_parameter_container_names_shapes_and_repr_match_torch(name):
    ours, theirs = PARAMETER_CONTAINERS[name](nn, chainrule), PARAMETER_CONTAINERS[name](torch.nn, torch)
    assert [(key, value.shape) for key, value in ours.state_dict().items()] == [
        (key, tuple(value.shape)) for key, value in theirs.state_dict().items()]
    assert [key for key, _ in ours.named_parameters()] == [key for key, _ in theirs.named_parameters()]
    assert repr(ours) == torch_repr_in_chainrule_words(repr(theirs))
    assert len(ours) == len(theirs)
    if isinstance(ours, nn.ParameterDict):
        assert list(ours) == list(theirs)


@requires_torch
def test_a_torch_state_dict_loads_into_parameter_containers():
    torch.manual_seed(0)
    theirs = PARAMETER_CONTAINERS["nested"](torch.nn, torch)
    for parameter in theirs.parameters():
        torch.nn.init.normal_(parameter)
    ours = PARAMETER_CONTAINERS["nested"](nn, chainrule)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    numpy.testing.assert_array_equal(ours["weights"][0].data, theirs["weights"][0].detach().numpy())
    numpy.testing.assert_array_equal(ours["scales"]["g"].data, theirs["scales"]["g"].detach().numpy())


def test_parameter_list_behaves_like_a_list():
    first, second = nn.Parameter(chainrule.ones(2)), nn.Parameter(chainrule.zeros(3))
    plain = chainrule.ones(4)
    weights = nn.ParameterList([first]).append(second)
    weights += [plain]
    assert len(weights) == 3 and weights[0] is first and weights[-2] is second
    # A plain tensor becomes a Parameter that shares its array.
    assert isinstance(weights[2], nn.Parameter) and weights[2].requires_grad and weights[2].data is plain.data
    assert list(weights)[:2] == [first, second]
    assert list(weights[:2]) == [first, second]
    weights.insert(1, chainrule.ones(5))
    assert [p.shape for p in weights] == [(2,), (5,), (3,), (4,)]
    assert [name for name, _ in weights.named_parameters()] == ["0", "1", "2", "3"]
    assert list(weights.parameters()) == list(weights)


def test_parameter_list_errors():
    weights = nn.ParameterList([chainrule.ones(2)])
    with pytest.raises(IndexError, match="ParameterList: index 1 is out of range for length 1"):
        weights[1]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        weights[-2] = chainrule.ones(1)
    with pytest.raises(TypeError, match="ParameterList.extend: expected an iterable of values, got Tensor"):
        weights.extend(chainrule.ones(3))
    with pytest.raises(TypeError, match="ParameterList.0 is a parameter: assign an nn.Parameter or None"):
        weights[0] = 3


def test_parameters_in_containers_get_gradients():
    weights = nn.ParameterList([chainrule.ones(3)])
    scales = nn.ParameterDict({"g": chainrule.full((3,), 2.0)})
    (weights[0] * scales["g"]).sum().backward()
    numpy.testing.assert_array_equal(weights[0].grad.data, [2.0, 2.0, 2.0])
    numpy.testing.assert_array_equal(scales["g"].grad.data, [1.0, 1.0, 1.0])


def test_parameter_dict_behaves_like_a_dict():
    a, b = nn.Parameter(chainrule.ones(1)), nn.Parameter(chainrule.ones(2))
    params = nn.ParameterDict(OrderedDict([("a", a)]))
    params["b"] = b
    assert "b" in params and "c" not in params and len(params) == 2
    assert list(params) == list(params.keys()) == ["a", "b"] and list(reversed(params)) == ["b", "a"]
    assert list(params.values()) == [a, b] and list(params.items()) == [("a", a), ("b", b)]
    assert params.get("c") is None and params.get("a") is a
    c = params.setdefault("c", chainrule.zeros(3))
    assert isinstance(c, nn.Parameter) and params.setdefault("c") is c
    copy = params.copy()
    assert list(copy.items()) == list(params.items()) and copy is not params
    assert params.pop("a") is a and list(params) == ["b", "c"]
    assert params.popitem() == ("c", c) and list(params.state_dict()) == ["b"]
    del params["b"]
    assert len(params) == 0 and list(params.named_parameters()) == []
    params |= {"y": chainrule.ones(1), "x": chainrule.ones(1)}
    assert list(params) == ["x", "y"]
    params.clear()
    assert len(params) == 0
    assert list(params.fromkeys(["p", "q"], 1.5).items()) == [("p", 1.5), ("q", 1.5)]


def test_parameter_dict_errors():
    params = nn.ParameterDict({"a": chainrule.ones(1)})
    with pytest.raises(KeyError, match="'b'"):
        params["b"]
    with pytest.raises(TypeError, match="ParameterDict: keys must be strings .* got int 1"):
        params[1] = chainrule.ones(1)
    with pytest.raises(TypeError, match="ParameterDict.update: expected a mapping .* got int"):
        params.update(5)
    with pytest.raises(ValueError, match=r"element #0 should be a \(key, value\) pair, got \('x',\)"):
        params.update([("x",)])
    with pytest.raises(KeyError, match="empty"):
        nn.ParameterDict().popitem()
    assert list(params) == ["a"]


@pytest.mark.parametrize("key", ["a.b", "", "update", "forward", "_keys"])
def test_parameter_dict_refuses_keys_that_would_break_names_or_attributes(key):
    # As in PyTorch: a key becomes both an attribute and a state-dict name.
    with pytest.raises(KeyError, match="ParameterDict"):
        nn.ParameterDict()[key] = chainrule.ones(1)
