"""Reductions: values and gradients against PyTorch, finite differences to
second order, ties and zeros at the edges, and the errors a user can cause."""
import math

import numpy
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

# name -> (chainrule op, torch op), both called as op(x, dim, keepdim).
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(dim=d, keepdim=k), lambda x, d, k: x.sum(dim=d, keepdim=k)),
    "mean": (lambda x, d, k: x.mean(dim=d, keepdim=k), lambda x, d, k: x.mean(dim=d, keepdim=k)),
    "var": (lambda x, d, k: x.var(dim=d, keepdim=k), lambda x, d, k: x.var(dim=d, keepdim=k)),
    "var_correction0": (lambda x, d, k: x.var(dim=d, correction=0, keepdim=k),
                        lambda x, d, k: x.var(dim=d, correction=0, keepdim=k)),
    "std": (lambda x, d, k: x.std(dim=d, keepdim=k), lambda x, d, k: x.std(dim=d, keepdim=k)),
    "amax": (lambda x, d, k: x.amax(dim=d, keepdim=k), lambda x, d, k: x.amax(dim=() if d is None else d, keepdim=k)),
    "amin": (lambda x, d, k: x.amin(dim=d, keepdim=k), lambda x, d, k: x.amin(dim=() if d is None else d, keepdim=k)),
    # torch.logsumexp has no dim=None; all dims spelled out mean the same.
    "logsumexp": (lambda x, d, k: x.logsumexp(dim=d, keepdim=k),
                  lambda x, d, k: x.logsumexp(dim=tuple(range(x.ndim)) if d is None else d, keepdim=k)),
    # torch.norm's 'fro' refuses more than two dims; vector_norm is the same sum of squares.
    "norm_fro": (lambda x, d, k: x.norm(dim=d, keepdim=k),
                 lambda x, d, k: torch.linalg.vector_norm(x, 2, dim=d, keepdim=k)),
}
for _p in (1, 3, 1.5, math.inf, -math.inf):
    REDUCTIONS[f"norm_p{_p}"] = (
        lambda x, d, k, p=_p: x.norm(p=p, dim=d, keepdim=k),
        lambda x, d, k, p=_p: torch.linalg.vector_norm(x, ord=p, dim=d, keepdim=k),
    )

# prod takes a single int dim (or none) in PyTorch; tested on its own below.
DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]
SHAPE = (2, 3, 4)


@requires_torch
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_matches_torch(name, dim, keepdim):
    ours, theirs = REDUCTIONS[name]
    compare_with_torch(lambda x: ours(x, dim, keepdim), lambda x: theirs(x, dim, keepdim), random_inputs([SHAPE]))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_gradients(name, dim, keepdim):
    ours, _ = REDUCTIONS[name]
    check_gradients(lambda x: ours(x, dim, keepdim), random_inputs([(2, 3, 2)], seed=3))


# prod, max, min, argmax and argmin take one int dim, or none (then keepdim is not passed).
SINGLE_DIM_REDUCTIONS = ["prod", "max", "min", "argmax", "argmin"]
SINGLE_DIMS = [(None, False), (0, False), (0, True), (-1, False), (-1, True)]


def single_dim_call(name, dim, keepdim):
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    return lambda x: getattr(x, name)(**kwargs)


@requires_torch
@pytest.mark.parametrize("dim, keepdim", SINGLE_DIMS, ids=str)
@pytest.mark.parametrize("name", SINGLE_DIM_REDUCTIONS)
def test_single_dim_reduction_matches_torch(name, dim, keepdim):
    call = single_dim_call(name, dim, keepdim)
    compare_with_torch(call, call, random_inputs([SHAPE]))


@pytest.mark.parametrize("dim, keepdim", SINGLE_DIMS, ids=str)
@pytest.mark.parametrize("name", ["prod", "max", "min"])
def test_single_dim_reduction_gradients(name, dim, keepdim):
    check_gradients(single_dim_call(name, dim, keepdim), random_inputs([(2, 3, 2)], seed=4))


@st.composite
def shapes_and_dims(draw, single=False):
    """A shape of 0 to 4 dims and dims of it to reduce (possibly negative; None for all).

    With ``single``, one int dim or None.
    """
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    ndim = len(shape)
    if ndim == 0:
        return shape, draw(st.sampled_from([None, 0, -1]))
    dims = draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim))
    signed = tuple(d - ndim if draw(st.booleans()) else d for d in dims)
    choices = [None, signed[0]] if single else [None, signed[0], signed]
    return shape, draw(st.sampled_from(choices))


@requires_torch
@settings(max_examples=25, deadline=None)
@given(case=shapes_and_dims(), keepdim=st.booleans(), seed=st.integers(0, 2 ** 16))
@pytest.mark.parametrize("name", ["sum", "mean", "var_correction0", "amax", "amin", "logsumexp", "norm_fro", "norm_p3"])
def test_reduction_matches_torch_on_drawn_shapes(name, case, keepdim, seed):
    shape, dim = case
    ours, theirs = REDUCTIONS[name]
    compare_with_torch(lambda x: ours(x, dim, keepdim), lambda x: theirs(x, dim, keepdim),
                       random_inputs([shape], seed=seed))


@requires_torch
@settings(max_examples=25, deadline=None)
@given(case=shapes_and_dims(single=True), keepdim=st.booleans(), seed=st.integers(0, 2 ** 16))
@pytest.mark.parametrize("name", SINGLE_DIM_REDUCTIONS)
def test_single_dim_reduction_matches_torch_on_drawn_shapes(name, case, keepdim, seed):
    shape, dim = case
    call = single_dim_call(name, dim, keepdim)
    compare_with_torch(call, call, random_inputs([shape], seed=seed))


# ------------------------------------------------------------------ edges

TIED = numpy.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])

# (call, the gradient of its sum, worked out by hand)
TIE_CASES = {
    "max_dim_goes_to_index": (lambda x: x.max(dim=1).values, [[0, 1, 0], [1, 0, 0]]),
    "min_dim_goes_to_index": (lambda x: x.min(dim=0).values, [[1, 0, 0], [0, 1, 1]]),
    "max_all_splits": (lambda x: x.max(), [[0, 0.5, 0.5], [0, 0, 0]]),
    "amax_dim_splits": (lambda x: x.amax(dim=1), [[0, 0.5, 0.5], [0.5, 0.5, 0]]),
    "amin_dims_split": (lambda x: x.amin(dim=(0, 1)), [[0, 0, 0], [0, 0, 1]]),
    "amax_all_splits": (lambda x: x.amax(), [[0, 0.5, 0.5], [0, 0, 0]]),
    "norm_inf_splits": (lambda x: x.norm(p=math.inf, dim=1), [[0, 0.5, 0.5], [0.5, 0.5, 0]]),
}


@pytest.mark.parametrize("name", TIE_CASES)
def test_gradient_at_ties(name):
    call, expected = TIE_CASES[name]
    x = chainrule.tensor(TIED, requires_grad=True)
    call(x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, expected)


@requires_torch
@pytest.mark.parametrize("name", TIE_CASES)
def test_gradient_at_ties_matches_torch(name):
    call, _ = TIE_CASES[name]
    compare_with_torch(call, call, [TIED])


def test_max_with_dim_returns_values_and_indices():
    values, indices = chainrule.tensor(TIED).max(dim=1, keepdim=True)
    numpy.testing.assert_array_equal(values.data, [[3.0], [2.0]])
    numpy.testing.assert_array_equal(indices.data, [[1], [0]])
    assert indices.dtype == numpy.int64
    assert chainrule.max(chainrule.tensor(TIED), 0).indices.tolist() == [1, 0, 0]


ZERO_CASES = {  # input, and the dim to reduce
    "one_zero": ([2.0, 0.0, 3.0, -1.5], None),
    "two_zeros": ([2.0, 0.0, 3.0, 0.0], None),
    "zero_in_one_row": ([[2.0, 0.0, 3.0], [1.5, -1.0, 2.0]], 1),
    "two_zeros_in_one_column": ([[0.0, 1.0], [0.0, 2.0], [3.0, 4.0]], 0),
}


@requires_torch
@pytest.mark.parametrize("name", ZERO_CASES)
def test_prod_with_zeros_matches_torch(name):
    values, dim = ZERO_CASES[name]
    kwargs = {} if dim is None else {"dim": dim}
    compare_with_torch(lambda x: x.prod(**kwargs), lambda x: x.prod(**kwargs), [numpy.array(values)])


@pytest.mark.parametrize("name", ZERO_CASES)
def test_prod_with_zeros_gradients(name):
    values, dim = ZERO_CASES[name]
    # A product is a polynomial: central differences at 0 are exact up to rounding.
    check_gradients(lambda x: x.prod(dim=dim), [numpy.array(values)])


def test_prod_gradient_with_one_zero_is_product_of_the_others():
    x = chainrule.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    numpy.testing.assert_array_equal(x.grad.data, [0.0, 6.0, 0.0])


NORM_ORDERS = [2, "fro", 1, 3, 1.5, math.inf]


@pytest.mark.parametrize("p", NORM_ORDERS, ids=str)
def test_norm_gradient_at_zero_vector_is_zero(p):
    x = chainrule.zeros(2, 3, dtype=chainrule.float64, requires_grad=True)
    x.norm(p=p).backward()
    numpy.testing.assert_array_equal(x.grad.data, numpy.zeros((2, 3)))


@requires_torch
@pytest.mark.parametrize("p", NORM_ORDERS, ids=str)
def test_norm_with_a_zero_row_matches_torch(p):
    x = numpy.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    theirs = (lambda x: x.norm(p="fro", dim=1)) if p == "fro" else (lambda x: torch.linalg.vector_norm(x, p, dim=1))
    compare_with_torch(lambda x: x.norm(p=p, dim=1), theirs, [x])


@requires_torch
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_and_std_correction_match_torch(correction):
    x = random_inputs([(4, 5)])
    for name in ("var", "std"):
        compare_with_torch(lambda x: getattr(x, name)(dim=1, correction=correction),
                           lambda x: getattr(x, name)(dim=1, correction=correction), x)


def test_var_unbiased_is_correction():
    x = chainrule.tensor(random_inputs([(4, 5)])[0])
    numpy.testing.assert_allclose(x.var(unbiased=False).data, x.var(correction=0).data, rtol=1e-15)
    numpy.testing.assert_allclose(x.var(1, unbiased=True).data, x.data.var(axis=1, ddof=1), rtol=1e-14)


@requires_torch
@pytest.mark.parametrize("values", [[1000.0, 1000.0, -1000.0], [-1e4, -1e4], [-math.inf, 0.0]], ids=str)
def test_logsumexp_is_stable_for_large_magnitudes(values):
    compare_with_torch(lambda x: x.logsumexp(0), lambda x: x.logsumexp(0), [numpy.array(values)])


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    assert chainrule.tensor([-math.inf, -math.inf]).logsumexp(0).item() == -math.inf


@requires_torch
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_a_tensor_are_elementwise(name):
    a, b = random_inputs([(3, 1), (4,)])
    b[1] = a[2, 0]  # a tie: the gradient is split evenly, as in PyTorch
    compare_with_torch(lambda a, b: getattr(chainrule, name)(a, b), lambda a, b: getattr(torch, name)(a, b), [a, b])


@requires_torch
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, -1], ids=str)
def test_argmax_argmin_pick_the_first_of_ties(name, dim):
    x = numpy.array([[1.0, 3.0, 3.0], [0.0, 0.0, 3.0], [1.0, 0.0, 3.0]])
    call = single_dim_call(name, dim, False)
    compare_with_torch(call, call, [x])


@requires_torch
@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (-1, True), ((0, 2), False), ((0, 2), True)],
                         ids=str)
def test_all_any_match_torch(name, dim, keepdim):
    x = numpy.random.default_rng(0).uniform(size=(3, 2, 4)) > 0.3
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    compare_with_torch(lambda x: getattr(x, name)(**kwargs), lambda x: getattr(x, name)(**kwargs), [x])


@requires_torch
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "prod", "max", "argmax", "all", "logsumexp", "norm"])
@pytest.mark.parametrize("dim", [0, -1])
def test_zero_dim_tensor_reduces_over_dim_0_or_minus_1(name, dim):
    x = numpy.array(1.5)
    compare_with_torch(lambda x: getattr(x, name)(dim=dim), lambda x: getattr(x, name)(dim=dim), [x])


# NOTE: not var: torch 2.13 agrees on its value but gives an infinite gradient.
@requires_torch
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "norm"])
def test_empty_dim_tuple_reduces_everything_as_in_torch(name):
    compare_with_torch(lambda x: getattr(x, name)(dim=()), lambda x: getattr(x, name)(dim=()), random_inputs([SHAPE]))


# ------------------------------------------------------------------ aliases, errors, dtypes

ALL_REDUCTIONS = ["sum", "mean", "var", "std", "amax", "amin", "logsumexp", "norm", "all", "any",
                  *SINGLE_DIM_REDUCTIONS]


@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_numpy_axis_and_keepdims_are_aliases(name):
    x = chainrule.tensor(random_inputs([SHAPE])[0])
    if name in ("all", "any"):
        x = x > 0
    ours = getattr(x, name)(dim=1, keepdim=True)
    numpys = getattr(x, name)(axis=1, keepdims=True)
    for a, b in zip(*(o if isinstance(o, tuple) else (o,) for o in (ours, numpys))):
        assert a.shape == b.shape == (2, 1, 4)
        numpy.testing.assert_array_equal(a.data, b.data)


def test_dim_and_axis_together_are_refused():
    with pytest.raises(TypeError, match="sum: pass dim or axis"):
        chainrule.ones(2, 3).sum(dim=0, axis=0)


OUT_OF_RANGE_DIMS = [(name, dim) for name in ALL_REDUCTIONS for dim in (3, -4)] + [
    (name, (0, 3)) for name in ALL_REDUCTIONS if name not in SINGLE_DIM_REDUCTIONS]


@pytest.mark.parametrize("name, dim", OUT_OF_RANGE_DIMS, ids=str)
def test_out_of_range_dim_raises_index_error_naming_the_op(name, dim):
    bad = dim if isinstance(dim, int) else 3
    with pytest.raises(IndexError, match=f"^{name}: dim {bad} is out of range for a tensor with 3 dimensions"):
        getattr(chainrule.ones(2, 3, 4), name)(dim=dim)


def test_mean_of_integers_is_refused():
    with pytest.raises(TypeError, match="mean: needs a floating-point tensor, got int64"):
        chainrule.tensor([1, 2]).mean()


def test_repeated_dim_is_refused():
    with pytest.raises(ValueError, match=r"sum: dim \(1, -2\) names an axis twice"):
        chainrule.ones(2, 3, 4).sum(dim=(1, -2))


FLOAT32_CALLS = {name: (lambda x, op=op: op(x, 1, False)) for name, (op, _) in REDUCTIONS.items()}
FLOAT32_CALLS.update({"prod": lambda x: x.prod(dim=1), "max": lambda x: x.max(dim=1).values,
                      "min": lambda x: x.min(dim=1).values})


@pytest.mark.parametrize("name", FLOAT32_CALLS)
def test_float32_stays_float32(name):
    x = chainrule.tensor(random_inputs([SHAPE], dtype=numpy.float32)[0], requires_grad=True)
    out = FLOAT32_CALLS[name](x)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert x.grad.dtype == numpy.float32


def test_float32_with_zeros_in_prod_and_norm_stays_float32():
    x = chainrule.zeros(2, 3, requires_grad=True)
    (x.prod(dim=1).sum() + x.norm(p=3)).backward()
    assert x.grad.dtype == numpy.float32
