"""Dropout: masks follow chainrule's seed, about p of the elements (or of
the channels) are dropped, the rest are scaled by 1/(1-p) (alpha dropout:
mapped by its affine correction), gradients flow only through the kept
ones, evaluation mode is the identity, and the rules for input dims are
PyTorch's."""
import warnings

import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.nn.functional import dropout
from helpers import compare_with_torch, random_inputs, requires_torch, torch

N_ELEMENTS = 200_000


def test_same_seed_gives_same_mask():
    x = chainrule.ones(50, 40)
    chainrule.manual_seed(7)
    first = nn.Dropout(0.3)(x)
    chainrule.manual_seed(7)
    second = nn.Dropout(0.3)(x)
    chainrule.manual_seed(8)
    other_seed = nn.Dropout(0.3)(x)
    numpy.testing.assert_array_equal(first.data, second.data)
    assert (first.data != other_seed.data).any()


def test_explicit_generator_gives_same_mask_as_its_seed():
    x = chainrule.ones(50, 40)
    first = dropout(x, 0.3, generator=numpy.random.default_rng(3))
    second = dropout(x, 0.3, generator=numpy.random.default_rng(3))
    numpy.testing.assert_array_equal(first.data, second.data)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_fraction_dropped_is_p_and_kept_elements_are_scaled(p):
    chainrule.manual_seed(0)
    x = chainrule.tensor(numpy.random.default_rng(0).uniform(1.0, 2.0, N_ELEMENTS))
    out = nn.Dropout(p)(x).data
    dropped = out == 0
    # The dropped count is binomial: its std is sqrt(p (1 - p) / n) < 0.0012; 0.01 is over 8 of them.
    assert abs(dropped.mean() - p) < 0.01
    numpy.testing.assert_allclose(out[~dropped], x.data[~dropped] / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_gradient_is_zero_where_dropped_and_scaled_where_kept(p):
    chainrule.manual_seed(1)
    x = chainrule.tensor(numpy.random.default_rng(1).uniform(1.0, 2.0, (40, 30)), requires_grad=True)
    out = nn.Dropout(p)(x)
    cotangent = numpy.random.default_rng(2).standard_normal(out.shape)
    (out * chainrule.tensor(cotangent)).sum().backward()
    kept = out.data != 0
    numpy.testing.assert_array_equal(x.grad.data[~kept], 0.0)
    numpy.testing.assert_allclose(x.grad.data[kept], cotangent[kept] / (1 - p), rtol=1e-12)


def test_eval_mode_is_the_identity():
    layer = nn.Dropout(0.5).eval()
    x = chainrule.randn(10, 10)
    assert layer(x) is x
    assert dropout(x, 0.5, training=False) is x


def test_train_mode_switches_dropout_back_on():
    layer = nn.Dropout(0.5).eval().train()
    assert (layer(chainrule.ones(100)).data == 0).any()


# p = 0 keeps everything unscaled; p = 1 drops everything (no division by 1 - p = 0).
@pytest.mark.parametrize("p, factor", [(0.0, 1.0), (1.0, 0.0)])
def test_extreme_probabilities(p, factor):
    x = chainrule.tensor(numpy.linspace(1.0, 2.0, 12), requires_grad=True)
    out = nn.Dropout(p)(x)
    out.sum().backward()
    numpy.testing.assert_array_equal(out.data, factor * x.data)
    numpy.testing.assert_array_equal(x.grad.data, numpy.full(12, factor))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_dtype_is_kept(dtype):
    assert nn.Dropout(0.5)(chainrule.ones(8, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_outside_unit_interval_is_refused(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\]"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        dropout(chainrule.ones(3), p)


@requires_torch
def test_repr_matches_torch():
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))


# ---------------------------------------------------------------- channel and alpha dropout

# SELU's saturation value -α' and the affine correction a·x + b that PyTorch documents for alpha dropout.
SELU_SATURATION = 1.0507009873554805 * 1.6732632423543772


def alpha_affine(p):
    a = ((1 - p) * (1 + p * SELU_SATURATION ** 2)) ** -0.5
    return a, a * p * SELU_SATURATION


# The new functional forms, by the name they share with PyTorch's.
FUNCTIONS = {name: getattr(F, name)
             for name in ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]}
MODULES = {"Dropout1d": "dropout1d", "Dropout2d": "dropout2d", "Dropout3d": "dropout3d",
           "AlphaDropout": "alpha_dropout", "FeatureAlphaDropout": "feature_alpha_dropout"}
# A shape each function takes without a warning.
SHAPES = {"dropout1d": (4, 6, 5), "dropout2d": (3, 4, 5, 6), "dropout3d": (2, 3, 4, 5, 6),
          "alpha_dropout": (4, 6, 5), "feature_alpha_dropout": (3, 4, 5, 6)}


def expected_output(name, x, keep, p):
    """The output for a given keep mask (broadcast over x), from the formulas."""
    if "alpha" in name:
        a, b = alpha_affine(p)
        return numpy.where(keep, a * x + b, -a * SELU_SATURATION + b)
    return numpy.where(keep, x / (1 - p), 0.0)


def kept_mask(name, x, out, p):
    return out != 0 if "alpha" not in name else numpy.isclose(out, expected_output(name, x, True, p), rtol=1e-12)


# (function, input shape, mask shape): channels share one draw; unbatched inputs draw one per dim-0 channel.
CHANNEL_CASES = [
    ("dropout1d", (16, 256, 3), (16, 256, 1)),
    ("dropout1d", (3000, 3), (3000, 1)),
    ("dropout2d", (8, 512, 2, 3), (8, 512, 1, 1)),
    ("dropout2d", (16, 256, 3), (16, 256, 1)),  # read as (N, C, L), with a warning
    ("dropout3d", (8, 512, 2, 2, 2), (8, 512, 1, 1, 1)),
    ("dropout3d", (3000, 2, 1, 2), (3000, 1, 1, 1)),
    ("feature_alpha_dropout", (8, 512, 2, 3), (8, 512, 1, 1)),
    ("alpha_dropout", (64, 64), (64, 64)),
]


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("name, shape, mask_shape", CHANNEL_CASES, ids=str)
@pytest.mark.parametrize("p", [0.2, 0.6])
def test_whole_channels_are_dropped_and_the_rest_scaled_exactly(name, shape, mask_shape, p):
    chainrule.manual_seed(0)
    x = numpy.random.default_rng(0).uniform(1.0, 2.0, shape)
    out = FUNCTIONS[name](chainrule.tensor(x), p, training=True).data
    keep = kept_mask(name, x, out, p)
    # Every element of a channel shares its channel's fate ...
    channel_keep = keep[tuple(slice(None) if size > 1 else slice(0, 1) for size in mask_shape)]
    numpy.testing.assert_array_equal(keep, numpy.broadcast_to(channel_keep, shape))
    # ... and is kept exactly scaled or dropped exactly.
    numpy.testing.assert_allclose(out, expected_output(name, x, keep, p), rtol=1e-12, atol=1e-15)
    # Binomial: at least 3000 draws, std sqrt(p (1 - p) / n) < 0.0095; 0.05 is over 5 of them.
    assert abs(1 - channel_keep.mean() - p) < 0.05


@requires_torch
@pytest.mark.parametrize("name, shape", [
    ("dropout1d", (8, 8)), ("dropout1d", (8, 8, 8)), ("dropout2d", (8, 8)), ("dropout2d", (8, 8, 8)),
    ("dropout2d", (8, 8, 8, 8)), ("dropout2d", (4, 8, 8, 4, 4)), ("dropout3d", (8,)), ("dropout3d", (8, 8)),
    ("dropout3d", (8, 8, 8)), ("dropout3d", (8, 8, 4, 4)), ("dropout3d", (4, 8, 4, 4, 4)),
    ("dropout3d", (8, 4, 4, 2, 2, 2)), ("feature_alpha_dropout", (8, 8, 8)), ("alpha_dropout", (8, 8, 8)),
], ids=str)
def test_which_dims_share_a_draw_matches_torch(name, shape):
    def mask_shape(out):
        # The mask has size 1 along the dims where every draw is repeated.
        first = out == out.reshape(-1)[0]
        return tuple(1 if (first == first.take([0], axis=d)).all() else size for d, size in enumerate(shape))

    ours = FUNCTIONS[name]
    chainrule.manual_seed(0)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dims PyTorch warns about are compared in another test
        out = ours(chainrule.ones(*shape), 0.5, training=True).data
        expected = getattr(torch.nn.functional, name)(torch.ones(*shape), 0.5, training=True).numpy()
    assert mask_shape(out) == mask_shape(expected)


@pytest.mark.parametrize("name, batched", [("dropout1d", (5, 40, 3)), ("dropout3d", (5, 40, 2, 3, 2))])
def test_unbatched_input_draws_as_a_batch_of_one(name, batched):
    x = chainrule.tensor(numpy.random.default_rng(0).uniform(1.0, 2.0, batched[1:]))
    chainrule.manual_seed(3)
    alone = FUNCTIONS[name](x, 0.5).data
    chainrule.manual_seed(3)
    in_batch = FUNCTIONS[name](x.reshape(1, *x.shape), 0.5).data
    numpy.testing.assert_array_equal(alone, in_batch[0])


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("p", [0.3, 0.8])
def test_gradient_is_the_mask_times_the_scale(name, p):
    chainrule.manual_seed(1)
    x_array = numpy.random.default_rng(1).uniform(1.0, 2.0, SHAPES[name])
    x = chainrule.tensor(x_array, requires_grad=True)
    out = FUNCTIONS[name](x, p, training=True)
    cotangent = numpy.random.default_rng(2).standard_normal(out.shape)
    (out * chainrule.tensor(cotangent)).sum().backward()
    keep = kept_mask(name, x_array, out.data, p)
    scale = alpha_affine(p)[0] if "alpha" in name else 1 / (1 - p)
    numpy.testing.assert_allclose(x.grad.data, cotangent * keep * scale, rtol=1e-12)


@pytest.mark.parametrize("name", MODULES)
def test_eval_mode_and_training_false_are_the_identity(name):
    x = chainrule.randn(*SHAPES[MODULES[name]])
    assert getattr(nn, name)(0.5).eval()(x) is x
    assert FUNCTIONS[MODULES[name]](x, 0.5, training=False) is x


def test_alpha_dropout_functions_default_to_eval_as_in_torch():
    # NOTE: unlike F.dropout and F.dropout1d/2d/3d, PyTorch's alpha dropouts default to training=False.
    x = chainrule.randn(3, 4, 5)
    assert F.alpha_dropout(x, 0.5) is x and F.feature_alpha_dropout(x, 0.5) is x
    assert not (F.dropout2d(x[None], 0.5).data == x.data[None]).all()


@requires_torch
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_extreme_probabilities_match_torch(name, p):
    # p = 0 keeps the input; p = 1 gives zeros (alpha dropout too), no division by 1 - p = 0.
    ours = FUNCTIONS[name]
    theirs = getattr(torch.nn.functional, name)
    compare_with_torch(lambda x: ours(x, p, training=True), lambda x: theirs(x, p, training=True),
                       random_inputs([SHAPES[name]]), rtol=0, atol=0)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_same_seed_gives_same_mask_for_every_function(name):
    x = chainrule.ones(*SHAPES[name])
    draws = []
    for seed in (7, 7, 8):
        chainrule.manual_seed(seed)
        draws.append(FUNCTIONS[name](x, 0.5, training=True).data)
    numpy.testing.assert_array_equal(draws[0], draws[1])
    assert (draws[0] != draws[2]).any()
    generated = [FUNCTIONS[name](x, 0.5, True, numpy.random.default_rng(3)).data for _ in range(2)]
    numpy.testing.assert_array_equal(*generated)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_dtype_is_kept_by_every_layer(name, dtype):
    assert getattr(nn, name)(0.5)(chainrule.ones(*SHAPES[MODULES[name]], dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_every_dropout_refuses_p_outside_the_unit_interval(name, p):
    with pytest.raises(ValueError, match=rf"{name}: p must be in \[0, 1\], got {p}"):
        getattr(nn, name)(p)
    function = MODULES[name]
    with pytest.raises(ValueError, match=rf"{function}: p must be in \[0, 1\], got {p}"):
        FUNCTIONS[function](chainrule.ones(*SHAPES[function]), p, training=False)


@requires_torch
@pytest.mark.parametrize("name", ["dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"])
@pytest.mark.parametrize("ndim", range(1, 7))
def test_input_dims_warn_and_fail_where_torch_does(name, ndim):
    shape = (2, 3, 2, 2, 1, 2)[:ndim]

    def outcome(function, x):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                function(x, 0.5, training=True)
            except (ValueError, RuntimeError):  # PyTorch raises RuntimeError, chainrule ValueError
                return "error"
        return "warning" if caught else "ok"

    ours = FUNCTIONS[name]
    expected = outcome(getattr(torch.nn.functional, name), torch.ones(*shape))
    assert outcome(ours, chainrule.ones(*shape)) == expected


def test_dim_errors_and_warnings_explain():
    with pytest.raises(ValueError, match=r"dropout1d: expected an input of shape \(N, C, L\) or \(C, L\), got \(3,\)"):
        F.dropout1d(chainrule.ones(3))
    with pytest.warns(UserWarning, match=r"dropout2d: a 3-D input is read as \(N, C, L\)"):
        F.dropout2d(chainrule.ones(2, 3, 4))
    with pytest.warns(UserWarning, match=r"dropout3d: expected a 5-D .* got shape \(2, 3, 4\)"):
        F.dropout3d(chainrule.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"feature_alpha_dropout: .* at least 2 dims \(N, C, \*\), got shape \(3,\)"):
        F.feature_alpha_dropout(chainrule.ones(3), 0.5, training=True)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_mean_zero_and_variance_one(p):
    chainrule.manual_seed(0)
    x = numpy.random.default_rng(0).standard_normal(200_000)
    out = nn.AlphaDropout(p)(chainrule.tensor(x)).data
    # Standard errors: mean 1/sqrt(n) = 0.0022, variance about 0.004 here; the tolerances are over 5 of them.
    assert abs(out.mean()) < 0.015
    assert abs(out.var() - 1) < 0.03
    assert abs(1 - kept_mask("alpha_dropout", x, out, p).mean() - p) < 0.01


@requires_torch
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_torch_alpha_dropout_follows_the_same_formula(p):
    # Guards the formula above: PyTorch's kept values are a·x + b, its dropped ones -a·α' + b.
    torch.manual_seed(0)
    x = numpy.random.default_rng(0).standard_normal(200_000)
    out = torch.nn.functional.alpha_dropout(torch.tensor(x), p, training=True).numpy()
    keep = kept_mask("alpha_dropout", x, out, p)
    numpy.testing.assert_allclose(out, expected_output("alpha_dropout", x, keep, p), rtol=1e-12, atol=1e-15)
    assert abs(1 - keep.mean() - p) < 0.01
    assert abs(out.mean()) < 0.015 and abs(out.var() - 1) < 0.03


@requires_torch
@pytest.mark.parametrize("name", MODULES)
def test_new_reprs_match_torch(name):
    assert repr(getattr(nn, name)(0.25)) == repr(getattr(torch.nn, name)(0.25))
    assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
