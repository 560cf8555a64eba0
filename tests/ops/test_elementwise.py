"""Elementwise ops: finite-difference gradients to second order, values and
gradients against PyTorch (broadcasting included), the edge points where
PyTorch fixes a convention, IEEE inf and nan, dtypes, errors and in-place use."""
import math
import operator
from typing import Callable, NamedTuple

import numpy
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch


def lib(t):
    """The framework a tensor belongs to, so that one lambda serves both."""
    return torch if torch is not None and isinstance(t, torch.Tensor) else chainrule


class Domain(NamedTuple):
    """Where to draw an input: uniform on [low, high), kept ``margin`` away
    from the kinks, where finite differences would straddle a corner."""
    low: float = -2.0
    high: float = 2.0
    kinks: tuple = ()
    margin: float = 0.05


class Op(NamedTuple):
    fn: Callable  # takes chainrule or torch tensors alike
    domains: tuple = (Domain(),)


def draw(domains, shapes, seed=0):
    arrays = []
    for i, (domain, shape) in enumerate(zip(domains, shapes)):
        (x,) = random_inputs([shape], seed=seed + i, low=domain.low, high=domain.high)
        for kink in domain.kinks:
            x = numpy.where(numpy.abs(x - kink) < domain.margin, x + 2 * domain.margin, x)
        arrays.append(x)
    return arrays


ANY = Domain()
POSITIVE = Domain(0.2, 2.0)
NONZERO = Domain(kinks=(0.0,), margin=0.3)
STEPS = Domain(kinks=tuple(numpy.arange(-2.0, 2.5, 0.5)))  # floor, ceil, round, trunc jump here

UNARY = {
    "neg": Op(lambda x: -x),
    "exp": Op(lambda x: x.exp()),
    "log": Op(lambda x: x.log(), (POSITIVE,)),
    "log1p": Op(lambda x: x.log1p(), (Domain(-0.8, 2.0),)),
    "sqrt": Op(lambda x: x.sqrt(), (POSITIVE,)),
    "rsqrt": Op(lambda x: x.rsqrt(), (POSITIVE,)),
    "abs": Op(lambda x: abs(x), (NONZERO,)),
    "sin": Op(lambda x: x.sin()),
    "cos": Op(lambda x: x.cos()),
    "erf": Op(lambda x: x.erf()),
    "clamp": Op(lambda x: x.clamp(-0.5, 0.5), (Domain(kinks=(-0.5, 0.5)),)),
    "clamp_min": Op(lambda x: x.clamp(min=-0.5), (Domain(kinks=(-0.5,)),)),
    "clamp_max": Op(lambda x: x.clamp(max=0.5), (Domain(kinks=(0.5,)),)),
    "pow_0": Op(lambda x: x ** 0),
    "pow_1": Op(lambda x: x ** 1),
    "pow_2": Op(lambda x: x ** 2),
    "pow_3": Op(lambda x: x ** 3),
    "pow_half": Op(lambda x: x ** 0.5, (POSITIVE,)),
    "pow_-1.5": Op(lambda x: x ** -1.5, (POSITIVE,)),
    "rpow_2": Op(lambda x: 2 ** x),
    "rpow_0.3": Op(lambda x: 0.3 ** x),
    "sign": Op(lambda x: x.sign(), (NONZERO,)),
    "floor": Op(lambda x: x.floor(), (STEPS,)),
    "ceil": Op(lambda x: x.ceil(), (STEPS,)),
    "round": Op(lambda x: x.round(), (STEPS,)),
    "trunc": Op(lambda x: x.trunc(), (STEPS,)),
    "clone": Op(lambda x: x.clone()),
}

BINARY = {
    "add": Op(lambda a, b: a + b, (ANY, ANY)),
    "sub": Op(lambda a, b: a - b, (ANY, ANY)),
    "mul": Op(lambda a, b: a * b, (ANY, ANY)),
    "div": Op(lambda a, b: a / b, (ANY, NONZERO)),
    "add_alpha": Op(lambda a, b: a.add(b, alpha=2.5), (ANY, ANY)),
    "sub_alpha": Op(lambda a, b: a.sub(b, alpha=-0.5), (ANY, ANY)),
    "pow": Op(lambda a, b: a ** b, (POSITIVE, ANY)),
    "maximum": Op(lambda a, b: lib(a).maximum(a, b), (ANY, ANY)),
    "minimum": Op(lambda a, b: lib(a).minimum(a, b), (ANY, ANY)),
    "where": Op(lambda a, b: lib(a).where(a > 0, a, b), (NONZERO, ANY)),
    "floor_divide": Op(lambda a, b: lib(a).div(a, b, rounding_mode="floor"), (ANY, NONZERO)),
    "trunc_divide": Op(lambda a, b: lib(a).div(a, b, rounding_mode="trunc"), (ANY, NONZERO)),
}

# Each shape against (n,), in both orders: the broadcasts the engine must undo.
N, K = 3, 2
BROADCAST_PAIRS = [(s, (N,)) for s in [(), (1, N), (N, 1), (K, 1, N)]]
BROADCAST_PAIRS += [(b, a) for a, b in BROADCAST_PAIRS]


def cases(table):
    return [pytest.param(op, id=name) for name, op in table.items()]


# ------------------------------------------------------------------ gradients against finite differences

@pytest.mark.parametrize("shape", [(), (2, 3)], ids=str)
@pytest.mark.parametrize("op", cases(UNARY))
def test_unary_gradients(op, shape):
    check_gradients(op.fn, draw(op.domains, [shape]))


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", cases(BINARY))
def test_binary_gradients_with_broadcasting(op, shapes):
    check_gradients(op.fn, draw(op.domains, shapes))


# ------------------------------------------------------------------ against PyTorch

@requires_torch
@pytest.mark.parametrize("op", cases(UNARY))
def test_unary_matches_torch(op):
    compare_with_torch(op.fn, op.fn, draw(op.domains, [(3, 4)]))


@requires_torch
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", cases(BINARY))
def test_binary_matches_torch(op, shapes):
    compare_with_torch(op.fn, op.fn, draw(op.domains, shapes))


@requires_torch
@pytest.mark.parametrize("op", cases(BINARY))
@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=st.integers(0, 1000))
def test_binary_broadcasting_drawn_by_hypothesis(op, shapes, seed):
    arrays = draw(op.domains, shapes.input_shapes, seed)
    inputs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*inputs)
    assert out.shape == shapes.result_shape
    out.sum().backward()
    assert [x.grad.shape for x in inputs] == [x.shape for x in inputs]
    compare_with_torch(op.fn, op.fn, arrays)


@requires_torch
@pytest.mark.parametrize("cast", [lambda x: x.float(), lambda x: x.double().float().double()],
                         ids=["float64->float32", "round_trip"])
def test_float_casts_match_torch(cast):
    # Not gradchecked: a float32 result rounds away the finite-difference step.
    compare_with_torch(cast, cast, random_inputs([(3, 4)]))


# ------------------------------------------------------------------ edge points where PyTorch fixes a convention

@requires_torch
@pytest.mark.parametrize("op, x, expected_grad", [
    pytest.param(lambda x: x.clamp(-0.5, 0.5), [-1.0, -0.5, 0.0, 0.5, 1.0], [0, 1, 1, 1, 0], id="clamp_bounds_inclusive"),
    pytest.param(lambda x: x.clamp(min=0.0), [-1.0, 0.0, 1.0], [0, 1, 1], id="clamp_min_bound"),
    pytest.param(lambda x: abs(x), [-1.0, 0.0, 1.0], [-1, 0, 1], id="abs_at_0"),
    pytest.param(lambda x: x ** 0, [0.0, 1.0], [0, 0], id="pow_0_at_0"),
    pytest.param(lambda x: x ** 0.5, [0.0, 4.0], [math.inf, 0.25], id="sqrt_pow_at_0"),
    pytest.param(lambda x: x.sqrt(), [0.0, 4.0], [math.inf, 0.25], id="sqrt_at_0"),
    pytest.param(lambda x: x.log(), [0.0, 2.0], [math.inf, 0.5], id="log_at_0"),
    pytest.param(lambda x: x.rsqrt(), [0.0, 4.0], [-math.inf, -1 / 16], id="rsqrt_at_0"),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns where IEEE gives inf: that inf is checked
def test_gradient_at_edge_points(op, x, expected_grad):
    t = chainrule.tensor(x, dtype=chainrule.float64, requires_grad=True)
    op(t).sum().backward()
    numpy.testing.assert_array_equal(t.grad.data, expected_grad)
    compare_with_torch(op, op, [numpy.array(x)])


@requires_torch
@pytest.mark.parametrize("name, a_grad, b_grad", [
    ("maximum", [0.5, 1.0, 0.0], [0.5, 0.0, 1.0]),
    ("minimum", [0.5, 0.0, 1.0], [0.5, 1.0, 0.0]),
])
def test_maximum_minimum_split_ties_evenly(name, a_grad, b_grad):
    a = chainrule.tensor([1.0, 2.0, 3.0], dtype=chainrule.float64, requires_grad=True)
    b = chainrule.tensor([1.0, 0.0, 5.0], dtype=chainrule.float64, requires_grad=True)
    getattr(chainrule, name)(a, b).sum().backward()
    numpy.testing.assert_array_equal(a.grad.data, a_grad)
    numpy.testing.assert_array_equal(b.grad.data, b_grad)
    fn = BINARY[name].fn
    compare_with_torch(fn, fn, [a.data, b.data])


@requires_torch
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_with_nan_match_torch(name):
    # NaN wins and neither input loses: PyTorch gives both the whole gradient.
    fn = BINARY[name].fn
    compare_with_torch(fn, fn, [numpy.array([1.0, math.nan, 2.0]), numpy.array([1.0, 1.0, math.nan])])


@requires_torch
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** -1 and log 0 are inf on purpose
def test_pow_at_zero_base_matches_torch():
    base = numpy.array([0.0, 0.0, 0.0, 0.0, 2.0, -2.0])
    exponent = numpy.array([0.0, 2.0, 0.5, -1.0, 0.0, 2.0])
    a = chainrule.tensor(base, requires_grad=True)
    b = chainrule.tensor(exponent, requires_grad=True)
    (a ** b).sum().backward()
    # d(a^b)/db = a^b log a tends to 0 as a -> 0 for b >= 0: 0, not nan.
    numpy.testing.assert_array_equal(b.grad.data[:3], 0.0)
    assert a.grad.data[0] == 0.0  # b == 0: the base's gradient is 0 even at a == 0
    compare_with_torch(operator.pow, operator.pow, [base, exponent])


@requires_torch
@pytest.mark.parametrize("base", [2, 2.5, 0.3, 1, 0, 0.0, -2])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** -1 is inf on purpose
def test_scalar_base_pow_matches_torch(base):
    # At base 0: d(0^x)/dx is 0 for x >= 0 and -inf below; a negative base gives nan.
    compare_with_torch(lambda x: base ** x, lambda x: base ** x, [numpy.array([-1.0, 0.0, 0.5, 2.0])])


# ------------------------------------------------------------------ IEEE inf and nan pass through

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("op, x, expected", [
    pytest.param(lambda x: x.exp(), INF, INF, id="exp(inf)"),
    pytest.param(lambda x: x.exp(), -INF, 0.0, id="exp(-inf)"),
    pytest.param(lambda x: x.exp(), NAN, NAN, id="exp(nan)"),
    pytest.param(lambda x: x.log(), 0.0, -INF, id="log(0)"),
    pytest.param(lambda x: x.log(), -1.0, NAN, id="log(-1)"),
    pytest.param(lambda x: x.log(), INF, INF, id="log(inf)"),
    pytest.param(lambda x: x.log1p(), -1.0, -INF, id="log1p(-1)"),
    pytest.param(lambda x: x.sqrt(), -1.0, NAN, id="sqrt(-1)"),
    pytest.param(lambda x: x.rsqrt(), 0.0, INF, id="rsqrt(0)"),
    pytest.param(lambda x: 1 / x, 0.0, INF, id="1/0"),
    pytest.param(lambda x: -1 / x, 0.0, -INF, id="-1/0"),
    pytest.param(lambda x: x / x, 0.0, NAN, id="0/0"),
    pytest.param(lambda x: x - x, INF, NAN, id="inf-inf"),
    pytest.param(lambda x: x * 0, INF, NAN, id="inf*0"),
    pytest.param(lambda x: x + 1, NAN, NAN, id="nan+1"),
    pytest.param(lambda x: x ** 2, -INF, INF, id="(-inf)**2"),
    pytest.param(lambda x: 2 ** x, -INF, 0.0, id="2**-inf"),
    pytest.param(lambda x: abs(x), -INF, INF, id="abs(-inf)"),
    pytest.param(lambda x: -x, NAN, NAN, id="neg(nan)"),
    pytest.param(lambda x: x.sin(), INF, NAN, id="sin(inf)"),
    pytest.param(lambda x: x.cos(), NAN, NAN, id="cos(nan)"),
    pytest.param(lambda x: x.erf(), INF, 1.0, id="erf(inf)"),
    pytest.param(lambda x: x.erf(), -INF, -1.0, id="erf(-inf)"),
    pytest.param(lambda x: x.erf(), NAN, NAN, id="erf(nan)"),
    pytest.param(lambda x: x.clamp(-1, 1), NAN, NAN, id="clamp(nan)"),
    pytest.param(lambda x: x.clamp(-1, 1), INF, 1.0, id="clamp(inf)"),
    pytest.param(lambda x: chainrule.maximum(x, 1.0), NAN, NAN, id="maximum(nan,1)"),
    pytest.param(lambda x: chainrule.minimum(x, 1.0), NAN, NAN, id="minimum(nan,1)"),
    pytest.param(lambda x: x.floor(), -INF, -INF, id="floor(-inf)"),
    pytest.param(lambda x: x.round(), NAN, NAN, id="round(nan)"),
    # NOTE: PyTorch's sign(nan) is 0; we keep the NaN rather than hide it.
    pytest.param(lambda x: x.sign(), NAN, NAN, id="sign(nan)"),
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns where IEEE gives inf or nan: those are checked
def test_inf_and_nan_follow_ieee(op, x, expected):
    numpy.testing.assert_array_equal(op(chainrule.tensor([x], dtype=chainrule.float64)).data, [expected])


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize("op", cases(UNARY) + [
    pytest.param(Op(lambda x: x * 2.0), id="x*2.0"),
    pytest.param(Op(lambda x: 2.0 * x), id="2.0*x"),
    pytest.param(Op(lambda x: x + 1), id="x+1"),
    pytest.param(Op(lambda x: 1.5 - x), id="1.5-x"),
    pytest.param(Op(lambda x: x / 3), id="x/3"),
    pytest.param(Op(lambda x: 3.0 / x, (NONZERO,)), id="3.0/x"),
    pytest.param(Op(lambda x: x ** 2.0), id="x**2.0"),
    pytest.param(Op(lambda x: 2.5 ** x), id="2.5**x"),
    pytest.param(Op(lambda x: x.add(1.0, alpha=2)), id="add_alpha"),
    pytest.param(Op(lambda x: chainrule.maximum(x, 0.5)), id="maximum_scalar"),
    pytest.param(Op(lambda x: chainrule.where(x > 0, x, 0.0)), id="where_scalar"),
    pytest.param(Op(lambda x: x ** chainrule.tensor(2.0, dtype=chainrule.float64)), id="pow_float64_0d"),
])
def test_float32_stays_float32(op):
    (array,) = draw(op.domains, [(2, 3)])
    x = chainrule.tensor(array, dtype=chainrule.float32, requires_grad=True)
    out = op.fn(x)
    assert out.dtype == chainrule.float32
    out.sum().backward()
    assert x.grad.dtype == chainrule.float32


@pytest.mark.parametrize("source, target", [(chainrule.float32, chainrule.float64),
                                            (chainrule.float64, chainrule.float32)], ids=str)
def test_cast_returns_gradient_in_source_dtype(source, target):
    x = chainrule.tensor([1.5, -2.0], dtype=source, requires_grad=True)
    (x.to(target) * 3).sum().backward()
    assert x.grad.dtype == source
    numpy.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("cpu",), {}, chainrule.float32),
    (("cpu:0",), {}, chainrule.float32),
    (("float64",), {}, chainrule.float64),
    ((chainrule.float16,), {}, chainrule.float16),
    ((chainrule.zeros(1, dtype=chainrule.float64),), {}, chainrule.float64),
    (("cpu", chainrule.float64), {}, chainrule.float64),
    ((), {"dtype": chainrule.float64, "device": "cpu"}, chainrule.float64),
], ids=["cpu", "cpu:0", "name", "dtype", "like_tensor", "device_and_dtype", "keywords"])
def test_to_accepts_pytorchs_argument_forms(args, kwargs, dtype):
    x = chainrule.tensor([1.5, -2.0])
    y = x.to(*args, **kwargs)
    assert y.dtype == dtype
    assert (y is x) == (dtype == x.dtype)  # no conversion, no copy, as in PyTorch


@pytest.mark.parametrize("cast", [lambda x: x.long(), lambda x: x.int(), lambda x: x.bool(),
                                  lambda x: x.to(chainrule.int64), lambda x: x.to("int32")],
                         ids=["long", "int", "bool", "to_int64", "to_name"])
def test_cast_to_integer_leaves_the_graph(cast):
    out = cast(chainrule.tensor([1.5, -2.0], requires_grad=True))
    assert not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize("make", [
    lambda: chainrule.tensor([1, 2], requires_grad=True),
    lambda: chainrule.tensor([1, 2]).requires_grad_(),
    lambda: chainrule.tensor([True, False]).requires_grad_(),
], ids=["int_factory", "int_requires_grad_", "bool_requires_grad_"])
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        make()


INT = numpy.array([1, -2, 7])

# (operands, op): the result's dtype and values must be PyTorch's.
PROMOTIONS = {
    "int/int": ([INT, numpy.array([2, 4, -3])], lambda a, b: a / b),
    "int/scalar": ([INT], lambda a: a / 2),
    "scalar/int": ([INT], lambda a: 2 / a),
    "int*float32": ([INT, numpy.ones(3, numpy.float32)], lambda a, b: a * b),
    "int*2.5": ([INT], lambda a: a * 2.5),
    "int+float64_0d": ([INT, numpy.array(0.5)], lambda a, b: a + b),
    "float32+float64_0d": ([numpy.ones(3, numpy.float32), numpy.array(0.1)], lambda a, b: a + b),
    "float32*float64": ([numpy.ones(3, numpy.float32), numpy.full(3, 0.1)], lambda a, b: a * b),
    "int32+int64": ([INT.astype(numpy.int32), INT], lambda a, b: a + b),
    "bool+int_0d": ([numpy.array([True, False]), numpy.array(3)], lambda a, b: a + b),
    "uint8+int_0d": ([numpy.array([1, 200], numpy.uint8), numpy.array(3)], lambda a, b: a + b),
    "int**0.5": ([numpy.array([1, 4, 9])], lambda a: a ** 0.5),
    "int**2": ([INT], lambda a: a ** 2),
    "2**int": ([numpy.array([0, 1, 3])], lambda a: 2 ** a),
    "2.5**int": ([numpy.array([0, 1, 3])], lambda a: 2.5 ** a),
    "int//int": ([INT, numpy.array([2, 4, -3])], lambda a, b: a // b),
    "int//2.5": ([INT], lambda a: a // 2.5),
    "int_trunc_div": ([INT, numpy.array([2, 4, -3])], lambda a, b: lib(a).div(a, b, rounding_mode="trunc")),
    "maximum_int_float": ([INT, numpy.zeros(3, numpy.float32)], lambda a, b: lib(a).maximum(a, b)),
    "where_int_0.5": ([INT], lambda a: lib(a).where(a > 0, a, 0.5)),
    "int_clamp_float": ([INT], lambda a: a.clamp(0.5, 2.5)),
    "int_clamp_int": ([INT], lambda a: a.clamp(min=0)),
}


@requires_torch
@pytest.mark.parametrize("arrays, op", PROMOTIONS.values(), ids=PROMOTIONS.keys())
def test_dtype_promotion_matches_torch(arrays, op):
    ours = op(*[chainrule.tensor(a) for a in arrays])
    theirs = op(*[torch.tensor(a) for a in arrays])
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    numpy.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)  # float32 results: 1e-6, not 1e-10


def test_floor_division_operator_has_zero_gradient():
    # PyTorch's // has no derivative at all; ours is div(rounding_mode="floor"), whose is zero.
    x = chainrule.tensor([-3.5, 2.5, 7.0], requires_grad=True)
    y = x // 2
    numpy.testing.assert_array_equal(y.data, [-2.0, 1.0, 3.0])
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, 0.0)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_shape_mismatch_names_the_op_and_both_shapes(name):
    a, b = chainrule.ones(2, 3), chainrule.ones(4)
    with pytest.raises(ValueError, match=rf"^{name}: .*\(2, 3\).*\(4,\)"):
        getattr(chainrule, name)(a, b)


def test_where_shape_mismatch_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"^where: .*\(2, 3\).*\(4,\)"):
        chainrule.where(chainrule.ones(2, 3) > 0, chainrule.ones(2, 3), chainrule.ones(4))


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.clamp(), ValueError, "at least one of min and max"),
    (lambda x: x.clamp(min=chainrule.zeros(3)), TypeError, "use chainrule.maximum"),
    (lambda x: chainrule.div(x, x, rounding_mode="round"), ValueError, "rounding_mode must be"),
    (lambda x: x.to("cuda"), ValueError, "CPU only"),
], ids=["clamp_no_bounds", "clamp_tensor_bound", "div_rounding_mode", "to_cuda"])
def test_bad_arguments_explain_themselves(call, error, message):
    with pytest.raises(error, match=message):
        call(chainrule.ones(3))


# ------------------------------------------------------------------ in place

IN_PLACE = {
    "add_": (lambda x: x.add_(1.0), [2.0, 3.0]),
    "sub_": (lambda x: x.sub_(1.0), [0.0, 1.0]),
    "mul_": (lambda x: x.mul_(3.0), [3.0, 6.0]),
    "div_": (lambda x: x.div_(2.0), [0.5, 1.0]),
    "clamp_": (lambda x: x.clamp_(max=1.5), [1.0, 1.5]),
    "+=": (lambda x: operator.iadd(x, 1.0), [2.0, 3.0]),
    "*=": (lambda x: operator.imul(x, 3.0), [3.0, 6.0]),
}


@pytest.mark.parametrize("op, expected", IN_PLACE.values(), ids=IN_PLACE.keys())
def test_in_place_under_no_grad_changes_the_data(op, expected):
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    with chainrule.no_grad():
        result = op(x)
    assert result is x and x.requires_grad
    numpy.testing.assert_array_equal(x.data, expected)


@pytest.mark.parametrize("op", [op for op, _ in IN_PLACE.values()], ids=IN_PLACE.keys())
def test_in_place_on_a_leaf_that_requires_grad_raises(op):
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation on a leaf"):
        op(x)
    numpy.testing.assert_array_equal(x.data, [1.0, 2.0])


def test_in_place_change_of_a_saved_input_is_caught():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y  # saves y for its backward
    y.mul_(3.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
