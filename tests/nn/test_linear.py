"""The layers without a nonlinearity (Linear, Bilinear, Identity) and the
reshaping ones (Flatten, Unflatten): outputs and gradients against PyTorch
in float64 with PyTorch's weights copied in, finite differences to second
order, reprs, and the error a layer gives for an input of the wrong shape."""
import numpy
import pytest

import chainrule
from chainrule import nn
from helpers import random_inputs, requires_torch, torch

# name -> (build(namespace), input shapes); ``build`` takes ``torch.nn`` or
# ``chainrule.nn``, so one line describes the same layer in both libraries.
LAYERS = {
    "linear": (lambda lib: lib.Linear(4, 3), [(5, 4)]),
    "linear_without_bias": (lambda lib: lib.Linear(4, 3, bias=False), [(5, 4)]),
    "linear_leading_dims": (lambda lib: lib.Linear(4, 3), [(2, 3, 5, 4)]),
    "linear_unbatched": (lambda lib: lib.Linear(4, 3), [(4,)]),
    "bilinear": (lambda lib: lib.Bilinear(4, 3, 2), [(5, 4), (5, 3)]),
    "bilinear_without_bias": (lambda lib: lib.Bilinear(4, 3, 2, bias=False), [(5, 4), (5, 3)]),
    "bilinear_leading_dims": (lambda lib: lib.Bilinear(4, 3, 2), [(2, 5, 4), (2, 5, 3)]),
    "identity": (lambda lib: lib.Identity(7, ignored="yes"), [(2, 3)]),
    "flatten": (lambda lib: lib.Flatten(), [(2, 3, 4, 5)]),
    "flatten_middle_dims": (lambda lib: lib.Flatten(1, 2), [(2, 3, 4, 5)]),
    "flatten_negative_dims": (lambda lib: lib.Flatten(-3, -2), [(2, 3, 4, 5)]),
    "unflatten": (lambda lib: lib.Unflatten(1, (2, 3)), [(4, 6, 5)]),
    "unflatten_inferred_size": (lambda lib: lib.Unflatten(-1, (-1, 2)), [(4, 6)]),
}


def twin_layers(build):
    """The same layer in both libraries, in float64, holding PyTorch's weights."""
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


@requires_torch
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name):
    build, shapes = LAYERS[name]
    ours, theirs = twin_layers(build)
    arrays = random_inputs(shapes)
    our_inputs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    their_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]

    out, expected = ours(*our_inputs), theirs(*their_inputs)
    assert out.shape == tuple(expected.shape)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)

    cotangent = numpy.random.default_rng(1).standard_normal(out.shape)
    (out * chainrule.tensor(cotangent)).sum().backward()
    (expected * torch.tensor(cotangent)).sum().backward()
    for i, (a, b) in enumerate(zip(our_inputs, their_inputs)):
        numpy.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"input {i}")
    our_parameters, their_parameters = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert our_parameters.keys() == their_parameters.keys()
    for key, parameter in our_parameters.items():
        numpy.testing.assert_allclose(parameter.grad.data, their_parameters[key].grad.numpy(),
                                      rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients_match_finite_differences(name):
    build, shapes = LAYERS[name]
    chainrule.manual_seed(0)
    layer = build(nn).double()
    inputs = [chainrule.tensor(a, requires_grad=True) for a in random_inputs(shapes)]
    # The parameters go in as extra arguments so that gradcheck perturbs them too.
    arguments = inputs + list(layer.parameters())
    forward = lambda *args: layer(*args[:len(inputs)])  # noqa: E731
    assert chainrule.gradcheck(forward, arguments)
    assert chainrule.gradgradcheck(forward, arguments)


@requires_torch
@pytest.mark.parametrize("name", LAYERS)
def test_layer_repr_matches_torch(name):
    build, _ = LAYERS[name]
    assert repr(build(nn)) == repr(build(torch.nn))


@pytest.mark.parametrize("name", ["linear", "bilinear", "flatten", "unflatten"])
def test_float32_stays_float32(name):
    build, shapes = LAYERS[name]
    inputs = [chainrule.tensor(a) for a in random_inputs(shapes, dtype=numpy.float32)]
    assert build(nn)(*inputs).dtype == numpy.float32


# (layer, input shapes, text the message must hold: the layer, the expected shape, the shape it got)
WRONG_SHAPES = [
    (lambda: nn.Linear(4, 3), [(5, 6)], ["Linear(in_features=4", "(..., 4)", "(5, 6)"]),
    (lambda: nn.Linear(4, 3), [()], ["Linear(in_features=4", "(..., 4)", "()"]),
    (lambda: nn.Bilinear(4, 3, 2), [(5, 4), (5, 2)], ["Bilinear(in1_features=4", "(..., 3)", "(5, 2)"]),
    (lambda: nn.Bilinear(4, 3, 2), [(5, 4), (6, 3)], ["Bilinear(", "same leading dims", "(5, 4) and (6, 3)"]),
    (lambda: nn.Flatten(2), [(2, 3)], ["Flatten(start_dim=2", "at least 3 dims", "(2, 3)"]),
    (lambda: nn.Unflatten(1, (2, 3)), [(2, 5)], ["Unflatten(dim=1", "6 elements", "(2, 5)"]),
    (lambda: nn.Unflatten(1, (4, -1)), [(2, 6)], ["Unflatten(dim=1", "multiple of 4", "(2, 6)"]),
    (lambda: nn.Unflatten(2, (2, 3)), [(2, 6)], ["Unflatten(dim=2", "dim 2", "(2, 6)"]),
]


@pytest.mark.parametrize("build, shapes, expected_parts", WRONG_SHAPES)
def test_wrong_input_shape_names_layer_and_shapes(build, shapes, expected_parts):
    inputs = [chainrule.zeros(*shape) for shape in shapes]
    with pytest.raises(ValueError) as error:
        build()(*inputs)
    for part in expected_parts:
        assert part in str(error.value)


def test_identity_returns_its_input():
    x = chainrule.randn(3, 2)
    assert nn.Identity()(x) is x


def test_linear_without_bias_has_no_bias_parameter():
    layer = nn.Linear(4, 3, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.shape == (3, 4)
    with pytest.raises(TypeError, match="Linear.bias is a parameter"):
        layer.bias = chainrule.zeros(3)  # would silently never train


def test_dtype_argument_sets_parameter_dtype():
    for layer in (nn.Linear(4, 3, dtype=chainrule.float64), nn.Bilinear(4, 3, 2, dtype=chainrule.float64)):
        assert {p.dtype for p in layer.parameters()} == {numpy.dtype(numpy.float64)}
