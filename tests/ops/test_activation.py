"""Activations: finite-difference gradients to second order, values and
gradients against PyTorch (PReLU's weight too), the conventions at their
kinks, NaN, stability far out in the tails, float32, and errors that name
the op."""
from typing import Callable, NamedTuple

import numpy
import pytest

import chainrule
import chainrule.nn.functional as F
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch


def is_torch(t):
    return torch is not None and isinstance(t, torch.Tensor)


def functional(t):
    """Where the activation functions live for a tensor's framework."""
    return torch.nn.functional if is_torch(t) else F


def like(t, values):
    """A tensor of ``values`` from ``t``'s framework, in ``t``'s dtype."""
    return torch.tensor(values, dtype=t.dtype) if is_torch(t) else chainrule.tensor(values, dtype=t.dtype)


class Activation(NamedTuple):
    fn: Callable  # takes chainrule or torch tensors alike
    kinks: tuple = ()  # where a derivative (first or second) jumps
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 even
    # in float64 (relative error 3e-8); chainrule uses the exact 1/6.
    torch_rtol: float = 1e-10


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
    # Inputs are scaled where a kink lies beyond the sampled range [-3, 3).
    "relu6": Activation(lambda x: functional(x).relu6(3 * x), kinks=(0.0, 2.0)),
    "hardtanh": Activation(lambda x: functional(x).hardtanh(x, -1.5, 2.0), kinks=(-1.5, 2.0)),
    "threshold": Activation(lambda x: functional(x).threshold(x, 0.5, -2.0), kinks=(0.5,)),
    "hardshrink": Activation(lambda x: functional(x).hardshrink(x, 0.7), kinks=(-0.7, 0.7)),
    "softshrink": Activation(lambda x: functional(x).softshrink(x, 0.7), kinks=(-0.7, 0.7)),
    "hardsigmoid": Activation(lambda x: functional(x).hardsigmoid(2 * x), kinks=(-1.5, 1.5), torch_rtol=1e-7),
    "hardswish": Activation(lambda x: functional(x).hardswish(2 * x), kinks=(-1.5, 1.5)),
    "selu": Activation(lambda x: functional(x).selu(x), kinks=(0.0,)),
    "celu": Activation(lambda x: functional(x).celu(x, alpha=0.5), kinks=(0.0,)),
    "prelu": Activation(lambda x: functional(x).prelu(x, like(x, [0.1])), kinks=(0.0,)),
    "mish": Activation(lambda x: functional(x).mish(x)),
    "logsigmoid": Activation(lambda x: functional(x).logsigmoid(x)),
    "softsign": Activation(lambda x: functional(x).softsign(x), kinks=(0.0,)),  # |x|'s kink, in f''
    "tanhshrink": Activation(lambda x: functional(x).tanhshrink(x)),
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
    compare_with_torch(activation.fn, activation.fn, [draw(activation, (4, 5))], rtol=activation.torch_rtol)


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_matches_torch_far_out(activation):
    # Beyond softplus's default threshold (20) and where sigmoid and tanh saturate.
    (x,) = random_inputs([(50,)], low=-40.0, high=40.0)
    compare_with_torch(activation.fn, activation.fn, [x], rtol=activation.torch_rtol)


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_kinks_and_nan_match_torch(activation):
    # Exactly at 0 and at softplus's threshold, each op picks a side by
    # convention (relu: gradient 0 at 0); a NaN input gives NaN out.
    compare_with_torch(activation.fn, activation.fn, [numpy.array([-1.0, 0.0, 0.5, 1.0, numpy.nan])],
                       rtol=activation.torch_rtol)


@pytest.mark.parametrize("name, expected_grad", [
    ("relu", [0.0, 0.0, 1.0]),
    ("leaky_relu", [0.1, 0.1, 1.0]),
    ("elu_alpha", [0.5 * numpy.exp(-1.0), 0.5, 1.0]),
])
def test_gradient_at_zero(name, expected_grad):
    x = chainrule.tensor([-1.0, 0.0, 1.0], dtype=chainrule.float64, requires_grad=True)
    ACTIVATIONS[name].fn(x).sum().backward()
    numpy.testing.assert_allclose(x.grad.data, expected_grad, rtol=1e-15)


@requires_torch
@pytest.mark.parametrize("activation", cases())
def test_exactly_at_the_kinks_matches_torch(activation):
    # Every kink above is exact in binary, so x lands on it, not beside it.
    x = [kink + step for kink in activation.kinks for step in (-0.25, 0.0, 0.25)] + [numpy.nan]
    compare_with_torch(activation.fn, activation.fn, [numpy.array(x)], rtol=activation.torch_rtol)


def _weight(value):
    return chainrule.tensor([value], dtype=chainrule.float64)


# PyTorch's conventions at the kinks and at NaN, written out so that they hold without it.
@pytest.mark.parametrize("fn, x, expected_grad", [
    (F.relu6, [0.0, 3.0, 6.0, numpy.nan], [0.0, 1.0, 0.0, 1.0]),
    (lambda x: F.hardtanh(x, -2.0, 1.0), [-2.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
    (lambda x: F.threshold(x, 0.5, 9.0), [0.5, 0.75, numpy.nan], [0.0, 1.0, 1.0]),
    (F.hardshrink, [-0.5, 0.5, 0.75, numpy.nan], [0.0, 0.0, 1.0, 1.0]),
    (F.softshrink, [-0.5, 0.5, 0.75, numpy.nan], [0.0, 0.0, 1.0, 1.0]),
    # hardsigmoid passes no gradient through NaN; hardswish passes all of it.
    (F.hardsigmoid, [-3.0, 0.0, 3.0, numpy.nan], [0.0, 1 / 6, 0.0, 0.0]),
    (F.hardswish, [-3.0, 0.0, 3.0, numpy.nan], [0.0, 0.5, 1.0, 1.0]),
    (lambda x: F.prelu(x, _weight(0.25)), [0.0, numpy.nan], [0.25, 0.25]),
    (F.selu, [0.0], [1.0507009873554805 * 1.6732632423543772]),
    (lambda x: F.celu(x, 0.5), [0.0, numpy.nan], [1.0, 1.0]),
], ids=["relu6", "hardtanh", "threshold", "hardshrink", "softshrink", "hardsigmoid", "hardswish", "prelu", "selu",
        "celu"])
def test_gradient_at_the_kinks(fn, x, expected_grad):
    x = chainrule.tensor(x, dtype=chainrule.float64, requires_grad=True)
    fn(x).sum().backward()
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
    "relu6": ([0.0, 0.0, 6.0], [0.0, 0.0, 0.0]),
    "hardtanh": ([-1.5, 0.0, 2.0], [0.0, 1.0, 0.0]),
    "threshold": ([-2.0, -2.0, 1000.0], [0.0, 0.0, 1.0]),
    "hardshrink": ([-1000.0, 0.0, 1000.0], [1.0, 0.0, 1.0]),
    "softshrink": ([-999.3, 0.0, 999.3], [1.0, 0.0, 1.0]),
    "hardsigmoid": ([0.0, 0.5, 1.0], [0.0, 1 / 3, 0.0]),
    "hardswish": ([0.0, 0.0, 2000.0], [0.0, 1.0, 2.0]),
    "selu": ([-1.7580993408473766, 0.0, 1050.7009873554805], [0.0, 1.7580993408473766, 1.0507009873554805]),
    "celu": ([-0.5, 0.0, 1000.0], [0.0, 1.0, 1.0]),
    "prelu": ([-100.0, 0.0, 1000.0], [0.1, 0.1, 1.0]),
    "mish": ([0.0, 0.0, 1000.0], [0.0, 0.6, 1.0]),
    "logsigmoid": ([-1000.0, -numpy.log(2.0), 0.0], [1.0, 0.5, 0.0]),
    "softsign": ([-1000 / 1001, 0.0, 1000 / 1001], [1 / 1001 ** 2, 1.0, 1 / 1001 ** 2]),
    "tanhshrink": ([-999.0, 0.0, 999.0], [1.0, 0.0, 1.0]),
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


# ---------------------------------------------------------------- prelu's weight, glu, softmin: more than x

PRELU_SHAPES = [((2, 3, 4), (3,)), ((2, 3, 4), (1,)), ((2, 3), (3,)), ((5,), (1,)), ((), (1,)), ((2, 3), ())]


@requires_torch
@pytest.mark.parametrize("x_shape, weight_shape", PRELU_SHAPES, ids=str)
def test_prelu_input_and_weight_gradients_match_torch(x_shape, weight_shape):
    compare_with_torch(F.prelu, torch.nn.functional.prelu, random_inputs([x_shape, weight_shape], seed=3))


@pytest.mark.parametrize("x_shape, weight_shape", PRELU_SHAPES[:3], ids=str)
def test_prelu_gradients(x_shape, weight_shape):
    check_gradients(F.prelu, random_inputs([x_shape, weight_shape], seed=4))


def test_prelu_keeps_a_float32_input_float32():
    x = chainrule.randn(2, 3, requires_grad=True)
    weight = chainrule.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = F.prelu(x, weight)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == weight.grad.dtype == chainrule.float32


GLU_CASES = [((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1), ((2,), 0)]


@requires_torch
@pytest.mark.parametrize("shape, dim", GLU_CASES, ids=str)
def test_glu_matches_torch(shape, dim):
    compare_with_torch(lambda x: F.glu(x, dim), lambda x: torch.nn.functional.glu(x, dim), random_inputs([shape]))


@pytest.mark.parametrize("shape, dim", GLU_CASES[1:3], ids=str)
def test_glu_gradients(shape, dim):
    check_gradients(lambda x: F.glu(x, dim), random_inputs([shape], seed=5))


@requires_torch
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmin_matches_torch(dim):
    compare_with_torch(lambda x: F.softmin(x, dim), lambda x: torch.nn.functional.softmin(x, dim),
                       random_inputs([(3, 4)], low=-5.0, high=5.0))


def test_softmin_gradients():
    check_gradients(lambda x: F.softmin(x, 1), random_inputs([(2, 3)], seed=6))


def test_softmin_weights_the_smallest_most_and_takes_a_dtype():
    x = chainrule.tensor([[1.0, 2.0, 1000.0]])
    weights = F.softmin(x, dim=1, dtype=chainrule.float64)
    assert weights.dtype == chainrule.float64
    numpy.testing.assert_allclose(weights.data, [[1 / (1 + numpy.exp(-1.0)), 1 / (1 + numpy.exp(1.0)), 0.0]])


@pytest.mark.parametrize("fn", [lambda x: F.glu(x, 0), lambda x: F.softmin(x, 0)], ids=["glu", "softmin"])
def test_glu_and_softmin_keep_float32(fn):
    x = chainrule.randn(4, 2, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == chainrule.float32


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.prelu(chainrule.ones(2, 4), chainrule.ones(3)), ValueError,
     r"prelu: weight has 3 elements, but the input of shape \(2, 4\) has 4 channel"),
    (lambda: F.prelu(chainrule.ones(3), chainrule.ones(3)), ValueError, "prelu: weight has 3 elements"),
    (lambda: F.prelu(chainrule.ones(2, 3), chainrule.ones(3, 1)), ValueError, "prelu: weight must be a scalar or 1-D"),
    (lambda: F.glu(chainrule.ones(2, 5)), ValueError, "glu: dim -1 must have an even size.*got size 5"),
    (lambda: F.glu(chainrule.ones(())), ValueError, "glu: .*0-d"),
    (lambda: F.glu(chainrule.ones(2, 4), dim=2), IndexError, "glu: dim 2 is out of range"),
    (lambda: F.hardtanh(chainrule.ones(2), 1.0, -1.0), ValueError, r"hardtanh: min_val \(1.0\) must not be greater"),
    (lambda: F.softshrink(chainrule.ones(2), -0.5), ValueError, "softshrink: lambd must be at least 0"),
    (lambda: F.celu(chainrule.ones(2), 0.0), ValueError, "celu: alpha must not be 0"),
    (lambda: F.softmin(chainrule.ones(2, 3)), TypeError, "softmin: pass the dimension"),
], ids=["prelu_channels", "prelu_1d", "prelu_2d_weight", "glu_odd", "glu_0d", "glu_dim", "hardtanh", "softshrink",
        "celu", "softmin"])
def test_bad_arguments_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()
