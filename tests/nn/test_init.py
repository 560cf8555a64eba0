"""Initialisers: gains and fans equal PyTorch's, each initialiser draws from
the distribution its formula gives (bounds and spread, on a large tensor),
orthogonal_ is orthogonal, seeding makes it repeatable, and every layer's
default initialisation is PyTorch's."""
import math
import re

import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import init
from helpers import requires_torch, torch

GAINS = [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 1), ("leaky_relu", math.sqrt(5)), ("selu", None),
]


@requires_torch
@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


@pytest.mark.parametrize("nonlinearity, param, message", [
    ("swish", None, "unsupported nonlinearity 'swish'"),
    ("leaky_relu", True, "negative slope True is not a number"),
    ("leaky_relu", "0.1", "negative slope '0.1' is not a number"),
])
def test_calculate_gain_refuses_unknown_input(nonlinearity, param, message):
    with pytest.raises(ValueError, match=message):
        init.calculate_gain(nonlinearity, param)


# Linear (out, in) and convolution (out, in, *kernel) layouts.
WEIGHT_SHAPES = [(3, 5), (5, 3), (8, 4, 3), (16, 3, 5, 5), (6, 2, 3, 4, 5), (4, 1, 1, 1)]


@requires_torch
@pytest.mark.parametrize("shape", WEIGHT_SHAPES, ids=str)
def test_fan_in_and_fan_out_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(chainrule.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


@pytest.mark.parametrize("shape", [(), (5,)], ids=str)
def test_fans_need_two_dims(shape):
    with pytest.raises(ValueError, match=f"at least 2 dims, got shape {re.escape(str(shape))}"):
        init._calculate_fan_in_and_fan_out(chainrule.empty(*shape))


# A large weight, so that spreads come within a few % of their formulas:
# the std of n samples is off by about 1/sqrt(2n) = 0.2% here.
LARGE_SHAPE = (256, 64, 3, 3)
FAN_IN, FAN_OUT = 64 * 9, 256 * 9

# name -> (initialise(init module, tensor), distribution), with the
# distribution written out from the formula PyTorch documents:
# ("uniform", low, high) or ("normal", mean, std).
INITIALISERS = {
    "uniform": (lambda lib, w: lib.uniform_(w, -0.3, 0.7), ("uniform", -0.3, 0.7)),
    "normal": (lambda lib, w: lib.normal_(w, 1.0, 0.5), ("normal", 1.0, 0.5)),
    "xavier_uniform": (lambda lib, w: lib.xavier_uniform_(w),
                       ("uniform", -math.sqrt(6 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT)))),
    "xavier_uniform_tanh_gain": (lambda lib, w: lib.xavier_uniform_(w, gain=5 / 3),
                                 ("uniform", -5 / 3 * math.sqrt(6 / (FAN_IN + FAN_OUT)),
                                  5 / 3 * math.sqrt(6 / (FAN_IN + FAN_OUT)))),
    "xavier_normal": (lambda lib, w: lib.xavier_normal_(w), ("normal", 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)))),
    "kaiming_uniform_relu": (lambda lib, w: lib.kaiming_uniform_(w, nonlinearity="relu"),
                             ("uniform", -math.sqrt(6 / FAN_IN), math.sqrt(6 / FAN_IN))),
    "kaiming_uniform_fan_out": (lambda lib, w: lib.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu"),
                                ("uniform", -math.sqrt(6 / FAN_OUT), math.sqrt(6 / FAN_OUT))),
    # Linear's default: gain sqrt(2 / (1 + 5)) makes the bound 1 / sqrt(fan_in).
    "kaiming_uniform_linear_default": (lambda lib, w: lib.kaiming_uniform_(w, a=math.sqrt(5)),
                                       ("uniform", -1 / math.sqrt(FAN_IN), 1 / math.sqrt(FAN_IN))),
    "kaiming_normal_relu": (lambda lib, w: lib.kaiming_normal_(w, nonlinearity="relu"),
                            ("normal", 0.0, math.sqrt(2 / FAN_IN))),
    "kaiming_normal_fan_out": (lambda lib, w: lib.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
                               ("normal", 0.0, math.sqrt(2 / FAN_OUT))),
    "kaiming_normal_leaky": (lambda lib, w: lib.kaiming_normal_(w, a=0.2),
                             ("normal", 0.0, math.sqrt(2 / (1 + 0.2 ** 2)) / math.sqrt(FAN_IN))),
}


def assert_follows(values, distribution):
    kind, first, second = distribution
    values = values.astype(numpy.float64).ravel()
    if kind == "uniform":
        low, high = first, second
        assert low <= values.min() and values.max() <= high
        # The extremes of 147k draws land within 0.1% of the width from the ends.
        width = high - low
        assert values.min() < low + 0.001 * width and values.max() > high - 0.001 * width
        mean, std = (low + high) / 2, width / math.sqrt(12)
    else:
        mean, std = first, second
        assert abs(numpy.mean(values > mean) - 0.5) < 0.01  # symmetric about the mean
    assert values.mean() == pytest.approx(mean, abs=0.02 * std)
    assert values.std() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("name", INITIALISERS)
def test_initialiser_follows_its_formula(name):
    initialise, distribution = INITIALISERS[name]
    chainrule.manual_seed(0)
    assert_follows(initialise(init, chainrule.empty(*LARGE_SHAPE)).data, distribution)


@requires_torch
@pytest.mark.parametrize("name", INITIALISERS)
def test_torch_initialiser_follows_the_same_formula(name):
    # Guards the formulas in the table: PyTorch's draws must fit them too.
    initialise, distribution = INITIALISERS[name]
    torch.manual_seed(0)
    assert_follows(initialise(torch.nn.init, torch.empty(*LARGE_SHAPE)).numpy(), distribution)


@pytest.mark.parametrize("name", INITIALISERS)
def test_initialiser_fills_in_place_and_keeps_dtype(name):
    initialise, _ = INITIALISERS[name]
    weight = chainrule.zeros(6, 4, dtype=chainrule.float32)
    array = weight.data
    assert initialise(init, weight) is weight
    assert weight.data is array and weight.dtype == numpy.float32
    assert (weight.data != 0).all()


@pytest.mark.parametrize("name", INITIALISERS)
def test_same_seed_gives_same_weights(name):
    initialise, _ = INITIALISERS[name]
    draws = []
    for seed in (5, 5, 6):
        chainrule.manual_seed(seed)
        draws.append(initialise(init, chainrule.empty(6, 4)).data)
    numpy.testing.assert_array_equal(draws[0], draws[1])
    assert (draws[0] != draws[2]).any()


@pytest.mark.parametrize("fill, value", [(lambda w: init.constant_(w, 0.25), 0.25),
                                         (init.zeros_, 0.0), (init.ones_, 1.0)])
def test_constant_fills(fill, value):
    weight = chainrule.randn(3, 4)
    assert fill(weight) is weight
    numpy.testing.assert_array_equal(weight.data, numpy.full((3, 4), value, dtype=numpy.float32))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3, 3), (1, 6)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    chainrule.manual_seed(0)
    weight = init.orthogonal_(chainrule.empty(*shape, dtype=chainrule.float64), gain=gain)
    matrix = weight.data.reshape(shape[0], -1)
    # Of W W^T and W^T W, the smaller is gain^2 I; the larger has rank min(rows, cols).
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    numpy.testing.assert_allclose(gram, gain ** 2 * numpy.eye(len(gram)), atol=1e-12)


def test_orthogonal_needs_two_dims():
    with pytest.raises(ValueError, match=r"orthogonal_: needs a tensor with at least 2 dims, got shape \(4,\)"):
        init.orthogonal_(chainrule.empty(4))


def test_fan_mode_must_be_known():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(chainrule.empty(3, 4), mode="fan_avg")


# name -> (build(namespace), {parameter: bound of its uniform default}).
# Sizes large enough that the extremes sit near the bounds.
DEFAULT_INITIALISATIONS = {
    "linear": (lambda lib: lib.Linear(400, 300), {"weight": 1 / math.sqrt(400), "bias": 1 / math.sqrt(400)}),
    "bilinear": (lambda lib: lib.Bilinear(50, 40, 300), {"weight": 1 / math.sqrt(50), "bias": 1 / math.sqrt(50)}),
}


@pytest.mark.parametrize("name", DEFAULT_INITIALISATIONS)
def test_default_initialisation_is_uniform_on_the_bound(name):
    build, bounds = DEFAULT_INITIALISATIONS[name]
    chainrule.manual_seed(0)
    parameters = dict(build(nn).named_parameters())
    assert parameters.keys() == bounds.keys()
    for key, bound in bounds.items():
        values = parameters[key].data
        assert numpy.abs(values).max() <= bound, key
        # The largest |w| of n uniform draws falls below 0.97 bound with probability 0.97^n < 1e-3 here.
        assert numpy.abs(values).max() > 0.97 * bound, key
        if values.size > 10_000:
            assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02), key


@requires_torch
@pytest.mark.parametrize("name", DEFAULT_INITIALISATIONS)
def test_torch_default_initialisation_has_the_same_bounds(name):
    build, bounds = DEFAULT_INITIALISATIONS[name]
    torch.manual_seed(0)
    for key, parameter in build(torch.nn).named_parameters():
        assert 0.97 * bounds[key] < parameter.detach().abs().max().item() <= bounds[key], key


def test_same_seed_gives_same_layer():
    chainrule.manual_seed(11)
    first = nn.Linear(5, 4).state_dict()
    chainrule.manual_seed(11)
    second = nn.Linear(5, 4).state_dict()
    for key in first:
        numpy.testing.assert_array_equal(first[key].data, second[key].data)


@pytest.mark.parametrize("initialise", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_leaves_an_empty_weight_alone(initialise):
    assert initialise(chainrule.empty(3, 0)).shape == (3, 0)


def test_linear_without_inputs_has_a_zero_bias():
    # PyTorch's behaviour: the bias bound 1 / sqrt(0) is taken as 0.
    layer = nn.Linear(0, 3)
    numpy.testing.assert_array_equal(layer.bias.data, numpy.zeros(3))
    numpy.testing.assert_array_equal(layer(chainrule.zeros(2, 0)).data, numpy.zeros((2, 3)))
