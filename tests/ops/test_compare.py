"""Comparisons and logical ops: bool tensors outside the graph, broadcasting,
NaN as IEEE compares it, PyTorch's values, and the errors a user can cause."""
import math
import operator

import numpy
import pytest

import chainrule
from helpers import random_inputs, requires_torch, torch

COMPARISONS = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}
LOGICAL = {
    "logical_and": operator.and_, "logical_or": operator.or_, "logical_xor": operator.xor,
}
# Values with ties, signed zeros, infinities and NaN.
SPECIAL = numpy.array([-math.inf, -1.0, -0.0, 0.0, 1.0, math.inf, math.nan])


def as_bool_tensor(result):
    assert isinstance(result, chainrule.Tensor)
    assert result.dtype == chainrule.bool and isinstance(result.data, numpy.ndarray)
    assert not result.requires_grad and result.grad_fn is None
    return result.data


@requires_torch
@pytest.mark.parametrize("form", ["operator", "method", "function"])
@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_of_special_values_matches_torch(name, form):
    a, b = numpy.meshgrid(SPECIAL, SPECIAL)  # every pair
    call = {
        "operator": lambda x, y: COMPARISONS[name](x, y),
        "method": lambda x, y: getattr(x, name)(y),
        "function": lambda x, y: getattr(chainrule if isinstance(x, chainrule.Tensor) else torch, name)(x, y),
    }[form]
    ours = as_bool_tensor(call(chainrule.tensor(a, requires_grad=True), chainrule.tensor(b)))
    numpy.testing.assert_array_equal(ours, call(torch.tensor(a), torch.tensor(b)).numpy())


@requires_torch
@pytest.mark.parametrize("shapes", [((), (3,)), ((1, 3), (3,)), ((3, 1), (3,)), ((2, 1, 3), (3,)),
                                    ((2, 3), ())], ids=str)
@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_broadcasts_as_torch(name, shapes):
    # Integers in a small range, so that ties are common.
    a, b = [numpy.round(x) for x in random_inputs(shapes, low=-1.0, high=1.0)]
    ours = as_bool_tensor(COMPARISONS[name](chainrule.tensor(a), chainrule.tensor(b)))
    numpy.testing.assert_array_equal(ours, COMPARISONS[name](torch.tensor(a), torch.tensor(b)).numpy())


@pytest.mark.parametrize("x, scalar, name, expected", [
    (chainrule.tensor([0.1, 0.2], dtype=chainrule.float32), 0.1, "eq", [True, False]),
    (chainrule.tensor([1, 2, 3]), 2, "ge", [False, True, True]),
    (chainrule.tensor([1, 2, 3]), 1.5, "lt", [True, False, False]),
    (chainrule.tensor([True, False]), True, "eq", [True, False]),
    (chainrule.tensor(2.0), 1, "gt", True),
], ids=["float32_vs_0.1", "int_vs_int", "int_vs_float", "bool_vs_bool", "0d"])
def test_comparison_with_a_python_scalar(x, scalar, name, expected):
    # A float32 tensor holding 0.1 equals the scalar 0.1: the scalar takes the tensor's dtype, as in PyTorch.
    numpy.testing.assert_array_equal(as_bool_tensor(getattr(chainrule, name)(x, scalar)), expected)


@requires_torch
@pytest.mark.parametrize("name", LOGICAL)
def test_logical_ops_match_torch(name):
    a = numpy.array([True, True, False, False])
    b = numpy.array([True, False, True, False])
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
    numpy.testing.assert_array_equal(as_bool_tensor(getattr(chainrule, name)(chainrule.tensor(a), chainrule.tensor(b))),
                                     expected)
    numpy.testing.assert_array_equal(as_bool_tensor(LOGICAL[name](chainrule.tensor(a), chainrule.tensor(b))), expected)


@requires_torch
def test_logical_ops_on_numbers_treat_nonzero_as_true():
    a, b = numpy.array([0.0, 2.0, -1.0, math.nan]), numpy.array([0.0, 0.0, 3.0, 0.0])
    for name in LOGICAL:
        expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy()
        numpy.testing.assert_array_equal(as_bool_tensor(getattr(chainrule, name)(chainrule.tensor(a), chainrule.tensor(b))),
                                         expected, err_msg=name)
    numpy.testing.assert_array_equal(as_bool_tensor(chainrule.logical_not(chainrule.tensor(a))),
                                     torch.logical_not(torch.tensor(a)).numpy())


def test_invert_negates_a_bool_tensor():
    numpy.testing.assert_array_equal(as_bool_tensor(~chainrule.tensor([True, False])), [False, True])


@pytest.mark.parametrize("name, expected", [
    ("isnan", [False, False, False, False, False, False, True]),
    ("isinf", [True, False, False, False, False, True, False]),
    ("isfinite", [False, True, True, True, True, False, False]),
])
def test_classifying_special_values(name, expected):
    numpy.testing.assert_array_equal(as_bool_tensor(getattr(chainrule.tensor(SPECIAL), name)()), expected)


@pytest.mark.parametrize("name", ["isnan", "logical_not"] + list(COMPARISONS))
def test_0d_input_gives_a_0d_bool_tensor(name):
    x = chainrule.tensor(math.nan)
    args = (x,) if name in ("isnan", "logical_not") else (x, x)
    assert as_bool_tensor(getattr(chainrule, name)(*args)).shape == ()


def test_comparison_result_carries_no_gradient():
    # A mask from a comparison selects; the gradient flows through where() only.
    x = chainrule.tensor([-1.0, 2.0, 3.0], requires_grad=True)
    chainrule.where(x > 0, x * x, 0.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [0.0, 4.0, 6.0])


@pytest.mark.parametrize("a, b, expected", [
    ([1.0, 2.0], [1.0, 2.0], True),
    ([1.0, 2.0], [1.0, 2.5], False),
    ([1.0, 2.0], [[1.0, 2.0]], False),  # same values, other shape
    ([math.nan], [math.nan], False),
], ids=["same", "different_value", "different_shape", "nan"])
def test_equal(a, b, expected):
    assert chainrule.equal(chainrule.tensor(a), chainrule.tensor(b)) is expected


@pytest.mark.parametrize("b, kwargs, expected", [
    ([1.0, 2.0 + 1e-9], {}, True),
    ([1.0, 2.1], {}, False),
    ([1.0, 2.1], {"atol": 0.2}, True),
    ([1.0, 2.1], {"rtol": 0.1}, True),
], ids=["within_default", "outside_default", "atol", "rtol"])
def test_allclose(b, kwargs, expected):
    assert chainrule.allclose(chainrule.tensor([1.0, 2.0]), chainrule.tensor(b), **kwargs) is expected


@pytest.mark.parametrize("equal_nan", [False, True])
def test_allclose_with_nan(equal_nan):
    x = chainrule.tensor([1.0, math.nan])
    assert chainrule.allclose(x, x, equal_nan=equal_nan) is equal_nan


@pytest.mark.parametrize("name", list(COMPARISONS) + list(LOGICAL))
def test_shape_mismatch_names_the_op_and_both_shapes(name):
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) do not broadcast"):
        getattr(chainrule, name)(chainrule.ones(2, 3), chainrule.ones(4))
