"""Activations: finite-difference gradients to second order, values and
gradients against PyTorch, the conventions at their kinks, NaN, stability
far out in the tails, and float32."""
from typing import Callable, NamedTuple

import numpy
import pytest

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch


def functional(t):
    """Where the activation functions live for a tensor's framework."""
    return torch.nn.functional if torch is not None and isinstance(t, torch.Tensor) else chainrule


class Activation(NamedTuple):
    fn: Callable  # takes chainrule or torch tensors alike
    kinks: tuple = ()  # where a derivative (first or second) jumps


ACTIVATIONS = {
    "sigmoid": Activation(lambda x: x.sigmoid()),
    "tanh": Activation(lambda x: x.tanh()),
    "relu": Activation(lambda x: x.relu(), kinks=(0.0,)),
    "leaky_relu": Activation(lambda x: functional(x).leaky_relu(x, 0.1), kinks=(0.0,)),
    "elu": Activation(lambda x: functional(x).elu(x), kinks=(0.0,)),
    "elu_alpha": Activation(lambda x: functional(x).elu(x, alpha=0.5), kinks=(0.0,)),
    "gelu": Activation(lambda x: functional(x).gelu(x)),
    "gelu_tanh": Activation(lambda x: functional(x).gelu(x, approximate="tanh")),
    "softplus": Activation(lambda x: functional(x).softplus(x)),
    # beta x crosses the threshold inside the sampled range, at x = 0.5.
    "softplus_threshold": Activation(lambda x: functional(x).softplus(x, beta=2.0, threshold=1.0), kinks=(0.5,)),
    "silu": Activation(lambda x: functional(x).silu(x)),
}


def cases():
    return [pytest.param(a, id=name) for name, a in ACTIVATIONS.items()]


def draw(activation, shape, seed=0, margin=0.05):
    (x,) = random_inputs([shape], seed=seed, low=-3.0, high=3.0)
    for kink in activation.kinks:
        x = numpy.where(numpy.abs(x - kink) < margin, x + 2 * margin, x)
    return x


@pytest.mark.parametrize("shape", [(), (2, 3)], ids=str)
@pytest.mark.parametrize("activation", cases())
def test_gradients(activation, shape):
    check_gradients(activation.fn, [draw(activation, shape)])


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_matches_torch(activation):
    compare_with_torch(activation.fn, activation.fn, [draw(activation, (4, 5))])


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_matches_torch_far_out(activation):
    # Beyond softplus's default threshold (20) and where sigmoid and tanh saturate.
    (x,) = random_inputs([(50,)], low=-40.0, high=40.0)
    compare_with_torch(activation.fn, activation.fn, [x])


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_kinks_and_nan_match_torch(activation):
    # Exactly at 0 and at softplus's threshold, each op picks a side by
    # convention (relu: gradient 0 at 0); a NaN input gives NaN out.
    compare_with_torch(activation.fn, activation.fn, [numpy.array([-1.0, 0.0, 0.5, 1.0, numpy.nan])])


@pytest.mark.parametrize("name, expected_grad", [
    ("relu", [0.0, 0.0, 1.0]),
    ("leaky_relu", [0.1, 0.1, 1.0]),
    ("elu_alpha", [0.5 * numpy.exp(-1.0), 0.5, 1.0]),
])
def test_gradient_at_zero(name, expected_grad):
    x = chainrule.tensor([-1.0, 0.0, 1.0], dtype=chainrule.float64, requires_grad=True)
    ACTIVATIONS[name].fn(x).sum().backward()
    numpy.testing.assert_allclose(x.grad.data, expected_grad, rtol=1e-15)


# Limits at x = -1000, 0, 1000, and the derivatives there.
LIMITS = {
    "sigmoid": ([0.0, 0.5, 1.0], [0.0, 0.25, 0.0]),
    "tanh": ([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
    "relu": ([0.0, 0.0, 1000.0], [0.0, 0.0, 1.0]),
    "leaky_relu": ([-100.0, 0.0, 1000.0], [0.1, 0.1, 1.0]),
    "elu": ([-1.0, 0.0, 1000.0], [0.0, 1.0, 1.0]),
    "gelu": ([0.0, 0.0, 1000.0], [0.0, 0.5, 1.0]),
    "gelu_tanh": ([0.0, 0.0, 1000.0], [0.0, 0.5, 1.0]),
    "softplus": ([0.0, numpy.log(2.0), 1000.0], [0.0, 0.5, 1.0]),
    "softplus_threshold": ([0.0, numpy.log(2.0) / 2, 1000.0], [0.0, 0.5, 1.0]),
    "silu": ([0.0, 0.0, 1000.0], [0.0, 0.5, 1.0]),
}


@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64], ids=str)
@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.filterwarnings("error")  # an overflow inside the op, even one masked out later, fails
def test_stable_at_plus_minus_1000(name, dtype):
    values, derivatives = LIMITS[name]
    x = chainrule.tensor([-1000.0, 0.0, 1000.0], dtype=dtype, requires_grad=True)
    y = ACTIVATIONS[name].fn(x)
    y.sum().backward()
    # rtol 1e-6: float32's resolution; atol 1e-30: what is 0 in the limit is 0 or denormal here.
    numpy.testing.assert_allclose(y.data, values, rtol=1e-6, atol=1e-30)
    numpy.testing.assert_allclose(x.grad.data, derivatives, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("activation", cases())
def test_float32_stays_float32(activation):
    x = chainrule.tensor(draw(activation, (2, 3)), dtype=chainrule.float32, requires_grad=True)
    y = activation.fn(x)
    assert y.dtype == chainrule.float32
    y.sum().backward()
    assert x.grad.dtype == chainrule.float32


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        chainrule.gelu(chainrule.ones(2), approximate="erf")
