"""Matrix products and einsum against PyTorch and finite differences, with
broadcast batch dims drawn by hypothesis, and the errors a user can cause."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (2, 1, 4, 2)),
    ((0, 3), (3, 2)),
]


@requires_torch
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_torch(shapes):
    compare_with_torch(lambda a, b: a @ b, lambda a, b: a @ b, random_inputs(shapes))


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradients(shapes):
    check_gradients(chainrule.matmul, random_inputs(shapes))


PRODUCTS = {  # name -> (input shapes, ...) for chainrule.<name> and torch.<name>
    "mm": [(3, 4), (4, 2)],
    "bmm": [(2, 3, 4), (2, 4, 5)],
    "dot": [(4,), (4,)],
    "outer": [(3,), (4,)],
    "matmul": [(2, 3), (3,)],
}


@requires_torch
@pytest.mark.parametrize("name", PRODUCTS)
def test_named_product_matches_torch(name):
    compare_with_torch(getattr(chainrule, name), getattr(torch, name), random_inputs(PRODUCTS[name]))


@pytest.mark.parametrize("name", PRODUCTS)
def test_named_product_gradients(name):
    check_gradients(getattr(chainrule, name), random_inputs(PRODUCTS[name]))


@pytest.mark.parametrize("name", PRODUCTS)
def test_named_product_is_a_method_too(name):
    a, b = (chainrule.tensor(x) for x in random_inputs(PRODUCTS[name]))
    numpy.testing.assert_array_equal(getattr(a, name)(b).data, getattr(chainrule, name)(a, b).data)


def test_matmul_with_a_numpy_array_on_either_side():
    a, b = random_inputs([(2, 3), (3, 2)])
    numpy.testing.assert_allclose((chainrule.tensor(a) @ b).data, a @ b, rtol=1e-15)
    numpy.testing.assert_allclose((a @ chainrule.tensor(b)).data, a @ b, rtol=1e-15)


@st.composite
def matmul_shapes(draw):
    """Two matmul operand shapes with broadcastable batch dims; either may be 1-D."""
    batch_a, batch_b = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a = (k,) if draw(st.booleans()) else batch_a + (n, k)
    b = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return a, b


@requires_torch
@settings(max_examples=25, deadline=None)
@given(shapes=matmul_shapes(), seed=st.integers(0, 2 ** 16))
def test_matmul_matches_torch_on_drawn_shapes(shapes, seed):
    compare_with_torch(lambda a, b: a @ b, lambda a, b: a @ b, random_inputs(shapes, seed=seed))


# ------------------------------------------------------------------ einsum

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output: letters seen once, sorted
    ("ba", [(2, 3)]),  # implicit output transposes
    ("ij->ji", [(2, 3)]),
    ("ij->i", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii->", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iii->i", [(2, 2, 2)]),
    ("iij->ij", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]),
    ("i,ii->i", [(3,), (3, 3)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,kl->ijkl", [(2, 2), (2, 3)]),
    ("ij,jk->", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 4)]),  # ellipsis dims broadcast
    ("...i,...i", [(2, 3), (3,)]),
    ("i...->...", [(2, 3, 4)]),
    ("...", [(2, 3)]),
    ("Ab,bc->Ac", [(2, 3), (3, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
]


@requires_torch
@pytest.mark.parametrize("equation, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_matches_torch(equation, shapes):
    compare_with_torch(lambda *xs: chainrule.einsum(equation, *xs), lambda *xs: torch.einsum(equation, *xs),
                       random_inputs(shapes))


@pytest.mark.parametrize("equation, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_gradients(equation, shapes):
    check_gradients(lambda *xs: chainrule.einsum(equation, *xs), random_inputs(shapes))


def test_einsum_takes_operands_as_a_list():
    a, b = (chainrule.tensor(x) for x in random_inputs([(2, 3), (3, 4)]))
    numpy.testing.assert_allclose(chainrule.einsum("ij,jk->ik", [a, b]).data, (a @ b).data, rtol=1e-14)


def test_einsum_diagonal_gradient_lands_on_the_diagonal():
    x = chainrule.tensor(numpy.arange(9.0).reshape(3, 3), requires_grad=True)
    chainrule.einsum("ii->i", x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, numpy.eye(3))


# ------------------------------------------------------------------ errors and dtypes

BAD_PRODUCTS = {  # call, error type, and a regex the message must match
    "matmul_inner_dims": (lambda: chainrule.ones(2, 3) @ chainrule.ones(4, 5), ValueError,
                          r"^matmul: shapes \(2, 3\) and \(4, 5\) do not fit"),
    "matmul_vector": (lambda: chainrule.ones(2, 3) @ chainrule.ones(2), ValueError,
                      r"^matmul: shapes \(2, 3\) and \(2,\) do not fit"),
    "matmul_batch_dims": (lambda: chainrule.ones(2, 3, 4) @ chainrule.ones(3, 4, 5), ValueError,
                          r"^matmul: the batch dims of shapes \(2, 3, 4\) and \(3, 4, 5\) do not broadcast"),
    "matmul_0d": (lambda: chainrule.matmul(chainrule.ones(()), chainrule.ones(3)), ValueError,
                  r"^matmul: both operands need at least 1 dim, got shapes \(\) and \(3,\)"),
    "mm_of_3d": (lambda: chainrule.mm(chainrule.ones(2, 3, 4), chainrule.ones(4, 5)), ValueError,
                 r"^mm: expects two 2-D tensors, got shapes \(2, 3, 4\) and \(4, 5\)"),
    "bmm_batch": (lambda: chainrule.bmm(chainrule.ones(2, 3, 4), chainrule.ones(3, 4, 5)), ValueError,
                  r"^bmm: expects 3-D tensors with the same batch size"),
    "dot_lengths": (lambda: chainrule.dot(chainrule.ones(3), chainrule.ones(4)), ValueError,
                    r"^dot: expects two 1-D tensors of equal length, got shapes \(3,\) and \(4,\)"),
    "outer_of_2d": (lambda: chainrule.outer(chainrule.ones(3, 1), chainrule.ones(4)), ValueError, r"^outer: "),
    "einsum_operand_count": (lambda: chainrule.einsum("ij,jk->ik", chainrule.ones(2, 3)), ValueError,
                             r"^einsum: the equation names 2 operands, got 1"),
    "einsum_subscripts": (lambda: chainrule.einsum("ijk->i", chainrule.ones(2, 3)), ValueError,
                          r"^einsum: subscripts 'ijk' name 3 dims, but the operand has shape \(2, 3\)"),
    "einsum_sizes": (lambda: chainrule.einsum("ij,jk->ik", chainrule.ones(2, 3), chainrule.ones(4, 5)), ValueError,
                     r"^einsum: .*\(got input shapes \(2, 3\) and \(4, 5\)\)"),
}


@pytest.mark.parametrize("name", BAD_PRODUCTS)
def test_bad_shapes_raise_errors_naming_the_op_and_shapes(name):
    call, error, message = BAD_PRODUCTS[name]
    with pytest.raises(error, match=message):
        call()


FLOAT32_CASES = {
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    "bmm": (chainrule.bmm, [(2, 3, 4), (2, 4, 5)]),
    "outer": (chainrule.outer, [(3,), (4,)]),
    "einsum_diagonal": (lambda a, b: chainrule.einsum("ii,ij->j", a, b), [(3, 3), (3, 2)]),
}


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_stays_float32(name):
    op, shapes = FLOAT32_CASES[name]
    inputs = [chainrule.tensor(a, requires_grad=True) for a in random_inputs(shapes, dtype=numpy.float32)]
    out = op(*inputs)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert all(x.grad.dtype == numpy.float32 for x in inputs)
