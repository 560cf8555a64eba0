"""Dropout: masks follow chainrule's seed, about p of the elements are
dropped, the rest are scaled by 1/(1-p), gradients flow only through the
kept ones, and evaluation mode is the identity."""
import numpy
import pytest

import chainrule
from chainrule import nn
from chainrule.nn.functional import dropout
from helpers import requires_torch, torch

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
