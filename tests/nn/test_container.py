"""Sequential, ModuleList and ModuleDict: the same edits give the same
names, state-dict keys and reprs as in PyTorch, and a Sequential computes
what PyTorch's does with the same weights."""
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
