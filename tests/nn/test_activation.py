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
    "relu6": lambda lib: lib.ReLU6(),
    "relu6_inplace": lambda lib: lib.ReLU6(inplace=True),
    "hardtanh": lambda lib: lib.Hardtanh(),
    # Integer bounds print as integers in PyTorch's repr; chainrule keeps them as given too.
    "hardtanh_bounds_inplace": lambda lib: lib.Hardtanh(-2, 3.5, inplace=True),
    "selu": lambda lib: lib.SELU(),
    "selu_inplace": lambda lib: lib.SELU(inplace=True),
    "celu": lambda lib: lib.CELU(),
    "celu_alpha_inplace": lambda lib: lib.CELU(alpha=0.5, inplace=True),
    "mish": lambda lib: lib.Mish(),
    "mish_inplace": lambda lib: lib.Mish(inplace=True),
    "hardswish": lambda lib: lib.Hardswish(),
    "hardswish_inplace": lambda lib: lib.Hardswish(inplace=True),  # PyTorch's repr leaves the flag out
    "hardsigmoid_inplace": lambda lib: lib.Hardsigmoid(inplace=True),  # so does this one
    "softsign": lambda lib: lib.Softsign(),
    "logsigmoid": lambda lib: lib.LogSigmoid(),
    "tanhshrink": lambda lib: lib.Tanhshrink(),
    "threshold": lambda lib: lib.Threshold(0.1, 20.0),
    "threshold_int_value_inplace": lambda lib: lib.Threshold(-1.5, 2, inplace=True),
    "hardshrink": lambda lib: lib.Hardshrink(),
    "softshrink": lambda lib: lib.Softshrink(0.3),
    "glu": lambda lib: lib.GLU(dim=1),
    "softmin_middle_dim": lambda lib: lib.Softmin(dim=1),
}
# Compared with a looser tolerance: PyTorch's hardsigmoid backward multiplies
# by 1/6 rounded to float32, even in float64; chainrule uses the exact 1/6.
TORCH_RTOL = {"hardsigmoid_inplace": 1e-7}
SHAPE = (3, 4, 5)


@requires_torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch(name):
    ours, theirs = ACTIVATIONS[name](nn), ACTIVATIONS[name](torch.nn)
    # Inputs that PyTorch's in-place forms would overwrite are cloned first,
    # so the comparison sees the same values.
    compare_with_torch(ours, lambda x: theirs(x.clone()), random_inputs([SHAPE], low=-4.0, high=4.0),
                       rtol=TORCH_RTOL.get(name, 1e-10))


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


@pytest.mark.parametrize("name", ["relu_inplace", "elu", "silu", "relu6_inplace", "hardtanh_bounds_inplace",
                                  "selu_inplace", "celu_alpha_inplace", "mish_inplace", "hardswish_inplace",
                                  "hardsigmoid_inplace", "threshold_int_value_inplace"])
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


def test_softmin_without_dim_asks_for_one():
    with pytest.raises(TypeError, match="softmin: pass the dimension"):
        nn.Softmin()(chainrule.randn(2, 3))


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Hardtanh(1.0, -1.0), r"Hardtanh: max_val \(-1.0\) must be greater than min_val \(1.0\)"),
    (lambda: nn.Hardtanh(0.5, 0.5), "Hardtanh: max_val"),  # PyTorch's module refuses equal bounds too
    (lambda: nn.Softshrink(-0.1), "Softshrink: lambd must be at least 0"),
], ids=["hardtanh_reversed", "hardtanh_equal", "softshrink"])
def test_bad_settings_are_refused_when_the_module_is_built(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_relu6_is_a_hardtanh_on_0_6():
    layer = nn.ReLU6()
    assert isinstance(layer, nn.Hardtanh) and (layer.min_val, layer.max_val) == (0.0, 6.0)


# ---------------------------------------------------------------- PReLU: a learned slope

@requires_torch
@pytest.mark.parametrize("num_parameters", [1, SHAPE[1]])
def test_prelu_matches_torch_including_its_weight_gradient(num_parameters):
    ours = nn.PReLU(num_parameters, init=0.1, dtype=chainrule.float64)
    theirs = torch.nn.PReLU(num_parameters, init=0.1, dtype=torch.float64)
    compare_with_torch(ours, theirs, random_inputs([SHAPE], low=-4.0, high=4.0))
    # compare_with_torch ran the same backward through both, so the weights hold their gradients.
    numpy.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)


@requires_torch
@pytest.mark.parametrize("args", [(), (3, 0.1)], ids=str)
def test_prelu_repr_matches_torch(args):
    assert repr(nn.PReLU(*args)) == repr(torch.nn.PReLU(*args))


def test_prelu_weight_is_a_parameter_filled_with_init():
    layer = nn.PReLU(num_parameters=3, init=0.1)
    assert list(layer.state_dict()) == ["weight"]
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.dtype == chainrule.float32
    numpy.testing.assert_array_equal(layer.weight.data, numpy.full(3, 0.1, numpy.float32))


def test_prelu_gradients_match_finite_differences():
    check_gradients(nn.PReLU(4, dtype=chainrule.float64), random_inputs([(3, 4)], seed=2, low=-3.0, high=3.0))


def test_prelu_keeps_float32():
    layer = nn.PReLU(SHAPE[1])
    x = chainrule.tensor(random_inputs([SHAPE], dtype=numpy.float32)[0], requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == layer.weight.grad.dtype == numpy.float32


def test_prelu_with_one_weight_per_channel_refuses_another_channel_count():
    with pytest.raises(ValueError, match=r"prelu: weight has 3 elements, but the input of shape \(2, 4\)"):
        nn.PReLU(3)(chainrule.ones(2, 4))
