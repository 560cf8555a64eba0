"""Activation modules: values and input gradients against PyTorch in float64,
finite differences to second order, reprs, and dtypes kept."""
import numpy
import pytest

import chainrule
from chainrule import nn
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

# name -> build(namespace); each takes ``torch.nn`` or ``chainrule.nn``.
ACTIVATIONS = {
    "relu": lambda lib: lib.ReLU(),
    "relu_inplace": lambda lib: lib.ReLU(inplace=True),
    "leaky_relu": lambda lib: lib.LeakyReLU(),
    "leaky_relu_slope": lambda lib: lib.LeakyReLU(0.2),
    "elu": lambda lib: lib.ELU(),
    "elu_alpha": lambda lib: lib.ELU(alpha=0.5),
    "gelu": lambda lib: lib.GELU(),
    "gelu_tanh": lambda lib: lib.GELU(approximate="tanh"),
    "silu": lambda lib: lib.SiLU(),
    "sigmoid": lambda lib: lib.Sigmoid(),
    "tanh": lambda lib: lib.Tanh(),
    "softplus": lambda lib: lib.Softplus(),
    # beta * x passes the threshold inside the input range, so both branches run.
    "softplus_threshold": lambda lib: lib.Softplus(beta=2.0, threshold=3.0),
    "softmax_first_dim": lambda lib: lib.Softmax(dim=0),
    "softmax_last_dim": lambda lib: lib.Softmax(dim=-1),
    "log_softmax_middle_dim": lambda lib: lib.LogSoftmax(dim=1),
    "log_softmax_last_dim": lambda lib: lib.LogSoftmax(dim=-1),
}
SHAPE = (3, 4, 5)


@requires_torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    ours, theirs = ACTIVATIONS[name](nn), ACTIVATIONS[name](torch.nn)
    # Inputs that PyTorch's in-place forms would overwrite are cloned first,
    # so the comparison sees the same values.
    compare_with_torch(ours, lambda x: theirs(x.clone()), random_inputs([SHAPE], low=-4.0, high=4.0))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradients_match_finite_differences(name):
    check_gradients(ACTIVATIONS[name](nn), random_inputs([(3, 4)], seed=2, low=-3.0, high=3.0))


@requires_torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_repr_matches_torch(name):
    assert repr(ACTIVATIONS[name](nn)) == repr(ACTIVATIONS[name](torch.nn))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_float32_stays_float32(name):
    x = chainrule.tensor(random_inputs([SHAPE], dtype=numpy.float32)[0])
    assert ACTIVATIONS[name](nn)(x).dtype == numpy.float32


@pytest.mark.parametrize("name", ["relu_inplace", "elu", "silu"])
def test_inplace_flag_leaves_the_input_untouched(name):
    # chainrule always returns a new tensor; the flag only exists so PyTorch models port unchanged.
    x = chainrule.tensor([-1.0, 0.5, 2.0])
    before = x.data.copy()
    ACTIVATIONS[name](nn)(x)
    numpy.testing.assert_array_equal(x.data, before)


def test_softmax_without_dim_asks_for_one():
    with pytest.raises(TypeError, match="dim"):
        nn.Softmax()(chainrule.randn(2, 3))


def test_softmax_rows_sum_to_one_at_extreme_inputs():
    x = chainrule.tensor([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], dtype=chainrule.float64)
    probabilities = nn.Softmax(dim=1)(x)
    numpy.testing.assert_allclose(probabilities.data.sum(axis=1), [1.0, 1.0], rtol=1e-15)
    numpy.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).data[0], [0.0, -1000.0, -2000.0])
