"""softmax and log_softmax: finite-difference gradients to second order,
PyTorch along every dim, stability at +-1000 and with -inf (masked) entries,
dtypes and the errors a user can cause."""
import re
import warnings

import numpy
import pytest

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

# name -> op(x, dim), the same call for chainrule and torch tensors.
OPS = {
    "softmax": lambda x, dim: x.softmax(dim=dim),
    "log_softmax": lambda x, dim: x.log_softmax(dim=dim),
}
SHAPES_AND_DIMS = [((), 0), ((), -1), ((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                   ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1)]


@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS, ids=str)
@pytest.mark.parametrize("name", OPS)
def test_gradients(name, shape, dim):
    check_gradients(lambda x: OPS[name](x, dim), random_inputs([shape]))


@requires_torch
@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS, ids=str)
@pytest.mark.parametrize("name", OPS)
def test_matches_torch(name, shape, dim):
    op = OPS[name]
    compare_with_torch(lambda x: op(x, dim), lambda x: op(x, dim), random_inputs([shape], low=-5.0, high=5.0))


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    (x,) = random_inputs([(4, 6)], low=-10.0, high=10.0)
    x = chainrule.tensor(x)
    probabilities = chainrule.softmax(x, dim=1)
    numpy.testing.assert_allclose(probabilities.sum(dim=1).data, 1.0, rtol=1e-14)
    numpy.testing.assert_allclose(chainrule.log_softmax(x, dim=1).data, numpy.log(probabilities.data), rtol=1e-12)


@pytest.mark.parametrize("dtype", [chainrule.float32, chainrule.float64], ids=str)
@pytest.mark.filterwarnings("error")  # no overflow, not even one that would be masked out
def test_stable_at_plus_minus_1000(dtype):
    x = chainrule.tensor([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype, requires_grad=True)
    p = chainrule.softmax(x, dim=1)
    log_p = chainrule.log_softmax(x, dim=1)
    log_2 = numpy.log(2.0)
    numpy.testing.assert_allclose(p.data, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-30)
    numpy.testing.assert_allclose(log_p.data, [[0, -1000, -2000], [-log_2, -log_2, -2000 - log_2]],
                                  rtol=1e-6)  # float32 holds 2000 + log 2 to about 1e-7
    (p[:, 0] + log_p[:, 0]).sum().backward()
    # d(p_0 + log p_0)/dx = (p_0 + 1)(e_0 - p): zero where p = e_0 (first row);
    # (3/2)(1/2, -1/2, 0) where p = (1/2, 1/2, 0) (second row).
    numpy.testing.assert_allclose(x.grad.data, [[0, 0, 0], [0.75, -0.75, 0]], atol=1e-30)


@requires_torch
@pytest.mark.parametrize("name", OPS)
def test_masked_entries_match_torch(name):
    # -inf is how attention masks a position: probability 0, gradients finite.
    x = numpy.array([[0.5, -numpy.inf, 2.0], [-numpy.inf, 1.0, -numpy.inf]])
    op = OPS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = chainrule.tensor(x, requires_grad=True)
        op(t, 1).backward(chainrule.ones_like(t))
    assert numpy.isfinite(t.grad.data).all()
    with warnings.catch_warnings():
        # compare_with_torch sums log_softmax's -inf times random signs: nan, with a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        compare_with_torch(lambda t: op(t, 1), lambda t: op(t, 1), [x])


@pytest.mark.parametrize("name", OPS)
def test_float32_stays_float32(name):
    x = chainrule.tensor(random_inputs([(3, 4)])[0], dtype=chainrule.float32, requires_grad=True)
    y = OPS[name](x, -1)
    assert y.dtype == chainrule.float32
    (y * chainrule.arange(4.0)).sum().backward()
    assert x.grad.dtype == chainrule.float32


@requires_torch
@pytest.mark.parametrize("name", OPS)
def test_dtype_argument_casts_first_as_in_torch(name):
    x = random_inputs([(3, 4)], dtype=numpy.float32)[0]
    ours = getattr(chainrule, name)(chainrule.tensor(x, requires_grad=True), dim=1, dtype=chainrule.float64)
    theirs = getattr(torch, name)(torch.tensor(x), dim=1, dtype=torch.float64)
    assert ours.dtype == chainrule.float64
    numpy.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("shape, dim", [((3, 4), 2), ((3, 4), -3), ((), 1)], ids=str)
def test_dim_out_of_range_names_op_dim_and_shape(name, shape, dim):
    message = f"{name}: dim {dim} is out of range for a tensor of shape {shape}"
    with pytest.raises(IndexError, match="^" + re.escape(message)):
        getattr(chainrule, name)(chainrule.ones(*shape), dim=dim)


@pytest.mark.parametrize("name", OPS)
def test_missing_dim_explains_itself(name):
    with pytest.raises(TypeError, match=rf"{name}: pass the dimension"):
        getattr(chainrule, name)(chainrule.ones(3))
