"""Initialisers: gains and fans equal PyTorch's, each initialiser draws from
the distribution its formula gives (bounds and spread, on a large tensor;
trunc_normal_'s truncated moments, sparse_'s zeros per column),
orthogonal_ is orthogonal, eye_ and dirac_ equal PyTorch's, seeding makes
them repeatable, none records a graph, and every layer's default
initialisation is PyTorch's."""
import math
import re
import warnings

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


# ---------------------------------------------------------------- trunc_normal_, sparse_, eye_, dirac_

def truncated_normal_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) conditioned on [a, b]."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / mass
    variance = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift ** 2
    return mean + std * shift, std * math.sqrt(variance)


# (mean, std, a, b): the default, a transformer's, one interval beside the mean, one far in a tail.
TRUNCATIONS = [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.5, 0.2, 0.0, 0.4), (0.0, 1.0, 3.0, 4.0)]


def assert_truncated_normal(values, mean, std, a, b):
    values = values.astype(numpy.float64).ravel()
    assert a <= values.min() and values.max() <= b
    expected_mean, expected_std = truncated_normal_moments(mean, std, a, b)
    # 65k draws: the standard error of the mean is 0.004 std, of the std about 0.003 std.
    assert values.mean() == pytest.approx(expected_mean, abs=0.02 * expected_std)
    assert values.std() == pytest.approx(expected_std, rel=0.02)


@pytest.mark.parametrize("mean, std, a, b", TRUNCATIONS)
def test_trunc_normal_stays_in_bounds_with_the_truncated_moments(mean, std, a, b):
    chainrule.manual_seed(0)
    assert_truncated_normal(init.trunc_normal_(chainrule.empty(256, 256), mean, std, a, b).data, mean, std, a, b)


@requires_torch
@pytest.mark.parametrize("mean, std, a, b", TRUNCATIONS)
def test_torch_trunc_normal_has_the_same_moments(mean, std, a, b):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns when the mean is far from [a, b]
        values = torch.nn.init.trunc_normal_(torch.empty(256, 256), mean, std, a, b).numpy()
    assert_truncated_normal(values, mean, std, a, b)


@pytest.mark.parametrize("kwargs, message", [
    (dict(std=0.0), "std must be positive, got 0.0"),
    (dict(a=1.0, b=-1.0), r"the interval \[a, b\] = \[1.0, -1.0\] is empty"),
])
def test_trunc_normal_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        init.trunc_normal_(chainrule.empty(3, 3), **kwargs)


@requires_torch
@pytest.mark.parametrize("rows, cols, sparsity", [(10, 6, 0.35), (30, 40, 0.1), (7, 3, 0.0), (5, 4, 1.0)])
def test_sparse_zeroes_the_same_count_per_column_as_torch(rows, cols, sparsity):
    chainrule.manual_seed(0)
    ours = init.sparse_(chainrule.empty(rows, cols), sparsity).data
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity).numpy()
    # ceil(0.1 * 30) is 4 in floating point, in both libraries.
    numpy.testing.assert_array_equal((ours == 0).sum(axis=0), (theirs == 0).sum(axis=0))


def test_sparse_zeroes_random_rows_and_draws_the_rest_from_the_normal():
    chainrule.manual_seed(0)
    values = init.sparse_(chainrule.empty(200, 300), 0.25, std=0.5).data
    zeros = values == 0
    numpy.testing.assert_array_equal(zeros.sum(axis=0), numpy.full(300, 50))
    # Each row is zeroed in about a quarter of the columns (binomial std 0.025; 0.15 is 6 of them).
    assert numpy.abs(zeros.mean(axis=1) - 0.25).max() < 0.15
    assert values[~zeros].std() == pytest.approx(0.5, rel=0.03)


@pytest.mark.parametrize("call, message", [
    (lambda: init.sparse_(chainrule.empty(3, 4, 5), 0.5), r"sparse_: needs a 2-dim tensor, got shape \(3, 4, 5\)"),
    (lambda: init.sparse_(chainrule.empty(3, 4), 1.5), r"sparsity .* must be in \[0, 1\], got 1.5"),
    (lambda: init.sparse_(chainrule.empty(3, 4), -0.5), r"must be in \[0, 1\], got -0.5"),
    (lambda: init.eye_(chainrule.empty(2, 3, 4)), r"eye_: needs a 2-dim tensor, got shape \(2, 3, 4\)"),
    (lambda: init.dirac_(chainrule.empty(2, 3)), r"dirac_: needs a convolution weight with 3, 4 or 5 dims"),
    (lambda: init.dirac_(chainrule.empty(5, 3, 3), groups=2), "the 5 output channels .* groups=2 equal groups"),
    (lambda: init.dirac_(chainrule.empty(4, 3, 3), groups=0), "groups=0"),
])
def test_structured_initialisers_refuse_bad_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@requires_torch
@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (1, 1), (0, 3)], ids=str)
def test_eye_matches_torch(shape):
    numpy.testing.assert_array_equal(init.eye_(chainrule.empty(*shape)).data,
                                     torch.nn.init.eye_(torch.empty(*shape)).numpy())


@requires_torch
@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((2, 5, 3), 1), ((5, 2, 4), 1), ((4, 2, 3), 2),
                                           ((6, 3, 3, 3), 1), ((6, 1, 2, 5), 3), ((2, 4, 3, 3, 3), 1),
                                           ((6, 3, 2, 3, 4), 2)], ids=str)
def test_dirac_matches_torch(shape, groups):
    numpy.testing.assert_array_equal(init.dirac_(chainrule.randn(*shape), groups).data,
                                     torch.nn.init.dirac_(torch.randn(*shape), groups).numpy())


def test_dirac_makes_a_convolution_the_identity():
    conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = chainrule.randn(2, 4, 5, 5)
    numpy.testing.assert_allclose(conv(x).data, x.data, rtol=1e-6)


# name -> initialise(tensor, generator): the random initialisers not in INITIALISERS.
RANDOM_FILLS = {
    "trunc_normal": lambda w, g=None: init.trunc_normal_(w, std=0.5, a=-0.4, b=0.6, generator=g),
    "orthogonal": lambda w, g=None: init.orthogonal_(w, gain=2.0, generator=g),
    "sparse": lambda w, g=None: init.sparse_(w, 0.5, std=0.1, generator=g),
}


@pytest.mark.parametrize("name", RANDOM_FILLS)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_random_fill_is_repeatable_in_place_and_keeps_dtype(name, dtype):
    draws = []
    for seed in (5, 5, 6):
        chainrule.manual_seed(seed)
        weight = chainrule.zeros(8, 6, dtype=dtype)
        array = weight.data
        assert RANDOM_FILLS[name](weight) is weight
        assert weight.data is array and weight.dtype == dtype
        draws.append(weight.data)
    numpy.testing.assert_array_equal(draws[0], draws[1])
    assert (draws[0] != draws[2]).any()
    own = [RANDOM_FILLS[name](chainrule.empty(8, 6), numpy.random.default_rng(3)).data for _ in range(2)]
    numpy.testing.assert_array_equal(*own)


# Every initialiser, as (weight shape, initialise).
ALL_FILLS = {**{name: ((6, 4), lambda w, f=f: f(init, w)) for name, (f, _) in INITIALISERS.items()},
             **{name: ((6, 4), fill) for name, fill in RANDOM_FILLS.items()},
             "constant": ((6, 4), lambda w: init.constant_(w, 0.3)), "zeros": ((6, 4), init.zeros_),
             "ones": ((6, 4), init.ones_), "eye": ((6, 4), init.eye_), "dirac": ((6, 4, 3), init.dirac_)}


@pytest.mark.parametrize("name", ALL_FILLS)
def test_initialisers_record_no_graph(name):
    shape, initialise = ALL_FILLS[name]
    weight = chainrule.zeros(*shape, requires_grad=True)
    initialise(weight)
    assert weight.grad_fn is None and weight.is_leaf and weight.requires_grad
