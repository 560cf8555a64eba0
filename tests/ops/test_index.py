"""Indexing: x[index], x[index] = v, gather, scatter_add, index_select,
masked_fill and index_put, against PyTorch and finite differences."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

SHAPE = (3, 4, 2)

# name -> index(lib), where lib is the chainrule or the torch module (for index tensors).
INDICES = {
    "int": lambda lib: 1,
    "negative_int": lambda lib: -1,
    "two_ints": lambda lib: (2, -3),
    "slice": lambda lib: slice(1, 3),
    "slice_with_step": lambda lib: (slice(None), slice(0, 4, 2)),
    "empty_slice": lambda lib: slice(2, 2),
    "ellipsis": lambda lib: (Ellipsis, 0),
    "ellipsis_in_the_middle": lambda lib: (1, Ellipsis, 1),
    "none": lambda lib: (None, slice(None), 1),
    "none_and_ellipsis": lambda lib: (Ellipsis, None),
    "list": lambda lib: [0, 2],
    "repeated_list": lambda lib: [0, 0, 2, 0],
    "int_tensor": lambda lib: lib.tensor([2, -1, 2]),
    "int_tensor_2d": lambda lib: lib.tensor([[0, 1], [1, 1]]),
    "int_tensor_0d": lambda lib: lib.tensor(1),
    "slice_then_array": lambda lib: (slice(None), lib.tensor([1, 1, 3])),
    "int_then_array": lambda lib: (1, lib.tensor([0, 0, 3])),
    "broadcast_arrays": lambda lib: (lib.tensor([[0], [2]]), lib.tensor([1, 3, 1])),
    "arrays_around_slice": lambda lib: (lib.tensor([0, 2, 2]), slice(None), lib.tensor([1, 0, 1])),
    "bool_mask_first_dim": lambda lib: lib.tensor([True, False, True]),
    "bool_mask_two_dims": lambda lib: lib.tensor(numpy.arange(12).reshape(3, 4) % 3 == 0),
    "bool_mask_full": lambda lib: lib.tensor(numpy.arange(24).reshape(SHAPE) % 5 == 1),
    "bool_mask_after_slice": lambda lib: (slice(None), lib.tensor([False, True, True, False])),
}


@requires_torch
@pytest.mark.parametrize("name", INDICES)
def test_getitem_matches_torch(name):
    index = INDICES[name]
    compare_with_torch(lambda x: x[index(chainrule)], lambda x: x[index(torch)], random_inputs([SHAPE]))


@pytest.mark.parametrize("name", INDICES)
def test_getitem_gradients(name):
    index = INDICES[name](chainrule)
    check_gradients(lambda x: x[index], random_inputs([SHAPE]))


@pytest.mark.parametrize("index", [slice(None, None, -1), (slice(None), slice(3, 0, -2))], ids=str)
def test_getitem_with_negative_step_matches_numpy(index):
    # PyTorch refuses negative steps, so NumPy is the reference here.
    (x,) = random_inputs([SHAPE])
    numpy.testing.assert_array_equal(chainrule.tensor(x)[index].data, x[index])
    check_gradients(lambda x: x[index], [x])


@pytest.mark.parametrize("index, expected", [
    ([0, 0, 2, 0], [[3, 3, 3], [0, 0, 0], [1, 1, 1]]),
    (numpy.array([[1, 1], [1, 2]]), [[0, 0, 0], [3, 3, 3], [1, 1, 1]]),
    ((slice(0, 2), [1, 1]), [[0, 2, 0], [0, 2, 0], [0, 0, 0]]),
    (([0, 0], [1, 1]), [[0, 2, 0], [0, 0, 0], [0, 0, 0]]),
], ids=["rows", "2d_array", "slice_and_columns", "same_element"])
def test_repeated_integer_indices_accumulate_their_gradients(index, expected):
    x = chainrule.ones(3, 3, requires_grad=True)
    x[index].sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, expected)


def test_basic_index_is_a_view_sharing_memory():
    x = chainrule.zeros(3, 4)
    x[1][2:] = 5.0
    assert x.data[1].tolist() == [0.0, 0.0, 5.0, 5.0]


# ------------------------------------------------------------------ setitem

def write_row(lib, w):
    x = lib.zeros(3, 2, dtype=lib.float64)
    x[1] = w * 2
    return x


def zero_positives(lib, x):
    y = x * 1
    y[y > 0] = 0.0
    return y


def write_rows_with_broadcast(lib, x, v):
    y = x.clone()
    y[lib.tensor([0, 2])] = v
    return y


def write_block(lib, x, v):
    y = x * 1
    y[:, 1:3] = v.exp()
    return y + v.sum()  # v is used once more outside the written block


SETITEM_CASES = {
    "row_of_zeros": (write_row, [(2,)]),
    "mask_with_scalar": (zero_positives, [(3, 4)]),
    "rows_from_broadcast_vector": (write_rows_with_broadcast, [(3, 4), (4,)]),
    "block": (write_block, [(3, 4), (3, 2)]),
}


@requires_torch
@pytest.mark.parametrize("name", SETITEM_CASES)
def test_setitem_matches_torch(name):
    op, shapes = SETITEM_CASES[name]
    compare_with_torch(lambda *xs: op(chainrule, *xs), lambda *xs: op(torch, *xs), random_inputs(shapes))


@pytest.mark.parametrize("name", SETITEM_CASES)
def test_setitem_gradients(name):
    op, shapes = SETITEM_CASES[name]
    check_gradients(lambda *xs: op(chainrule, *xs), random_inputs(shapes))


def test_setitem_into_zeros_gives_the_written_values_a_gradient():
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    x = chainrule.zeros(3, 2)
    x[1] = w * 2
    assert x.tolist() == [[0.0, 0.0], [2.0, 4.0], [0.0, 0.0]]
    (x * chainrule.tensor([[1.0, 1.0], [3.0, 5.0], [1.0, 1.0]])).sum().backward()
    assert w.grad.tolist() == [6.0, 10.0]


def test_setitem_on_a_leaf_that_requires_grad_is_refused():
    x = chainrule.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place operation on a leaf tensor"):
        x[0] = 1.0


def test_setitem_after_a_value_was_saved_for_backward_is_caught():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp saves its output for the backward
    y[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


# ------------------------------------------------------------------ gather, scatter_add, index_select, masked_fill, index_put

INDEX_OPS = {
    # name -> (op(lib, *inputs), input shapes)
    "index_select_dim0": (lambda lib, x: x.index_select(0, lib.tensor([2, 0, 2])), [(3, 4)]),
    "index_select_last_dim": (lambda lib, x: x.index_select(-1, lib.tensor([1, 1])), [(2, 3, 4)]),
    "gather_dim0": (lambda lib, x: x.gather(0, lib.tensor([[0, 1, 2, 0], [2, 2, 2, 2]])), [(3, 4)]),
    "gather_dim1_smaller_index": (lambda lib, x: x.gather(1, lib.tensor([[3, 3], [0, 1]])), [(3, 4)]),
    "gather_1d": (lambda lib, x: x.gather(0, lib.tensor([4, 0, 4])), [(5,)]),
    "scatter_add_dim0": (lambda lib, x, src: x.scatter_add(0, lib.tensor([[0, 1, 2, 0], [0, 1, 0, 0]]), src),
                         [(3, 4), (2, 4)]),
    "scatter_add_last_dim": (lambda lib, x, src: x.scatter_add(-1, lib.tensor([[1, 1, 1], [0, 3, 0]]), src),
                             [(2, 4), (2, 3)]),
    "masked_fill_scalar": (lambda lib, x: x.masked_fill(x > 0, -1.5), [(3, 4)]),
    "masked_fill_broadcast_mask": (lambda lib, x: x.masked_fill(lib.tensor([[True, False, False, True]]), 2.0),
                                   [(3, 4)]),
    "masked_fill_tensor_value": (lambda lib, x, v: x.masked_fill(x > 0, v), [(3, 4), ()]),
    "index_put": (lambda lib, x, v: x.index_put((lib.tensor([0, 2]),), v), [(3, 4), (4,)]),
    "index_put_two_indices": (lambda lib, x, v: x.index_put((lib.tensor([0, 2]), lib.tensor([3, 1])), v),
                              [(3, 4), (2,)]),
    "index_put_accumulate": (lambda lib, x, v: x.index_put((lib.tensor([0, 2, 0]),), v, accumulate=True),
                             [(3, 4), (3, 4)]),
}


@requires_torch
@pytest.mark.parametrize("name", INDEX_OPS)
def test_index_op_matches_torch(name):
    op, shapes = INDEX_OPS[name]
    compare_with_torch(lambda *xs: op(chainrule, *xs), lambda *xs: op(torch, *xs), random_inputs(shapes))


@pytest.mark.parametrize("name", INDEX_OPS)
def test_index_op_gradients(name):
    op, shapes = INDEX_OPS[name]
    check_gradients(lambda *xs: op(chainrule, *xs), random_inputs(shapes))


def scatter_add_from_larger_src(lib, x, src):
    return x.scatter_add(0, lib.tensor([[0, 1], [2, 0]]), src)


@requires_torch
def test_scatter_add_from_a_larger_src_matches_torch_and_leaves_the_rest_without_gradient():
    # Only src[:2, :2] is read. PyTorch computes the same values, but its
    # backward fails on this case, so the gradient is checked by hand.
    arrays = random_inputs([(3, 3), (3, 4)])
    compare_with_torch(lambda *xs: scatter_add_from_larger_src(chainrule, *xs),
                       lambda *xs: scatter_add_from_larger_src(torch, *xs), arrays, grad=False)
    check_gradients(lambda *xs: scatter_add_from_larger_src(chainrule, *xs), arrays)
    src = chainrule.tensor(arrays[1], requires_grad=True)
    scatter_add_from_larger_src(chainrule, chainrule.tensor(arrays[0]), src).sum().backward()
    numpy.testing.assert_array_equal(src.grad.data, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])


@st.composite
def index_along_a_dim(draw):
    """A shape, a dim of it, and an int64 index with repeats for that dim."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    index = draw(st.lists(st.integers(0, n - 1), max_size=5))
    return shape, dim, numpy.array(index, dtype=numpy.int64)


@requires_torch
@settings(max_examples=25, deadline=None)
@given(case=index_along_a_dim(), seed=st.integers(0, 2 ** 16))
def test_index_select_and_getitem_match_torch_on_drawn_indices(case, seed):
    shape, dim, index = case
    arrays = random_inputs([shape], seed=seed)
    compare_with_torch(lambda x: x.index_select(dim, chainrule.tensor(index)),
                       lambda x: x.index_select(dim, torch.tensor(index)), arrays)
    along = (slice(None),) * (dim % len(shape))
    # The same positions counted from the end, in chainrule only.
    compare_with_torch(lambda x: x[along + (index - shape[dim],)], lambda x: x[along + (torch.tensor(index),)], arrays)


@requires_torch
@settings(max_examples=25, deadline=None)
@given(case=index_along_a_dim(), seed=st.integers(0, 2 ** 16))
def test_gather_and_scatter_add_match_torch_on_drawn_indices(case, seed):
    shape, dim, _ = case
    rng = numpy.random.default_rng(seed)
    index = rng.integers(0, shape[dim], size=shape)
    x, src = random_inputs([shape, shape], seed=seed)
    compare_with_torch(lambda x: x.gather(dim, chainrule.tensor(index)),
                       lambda x: x.gather(dim, torch.tensor(index)), [x])
    compare_with_torch(lambda x, s: x.scatter_add(dim, chainrule.tensor(index), s),
                       lambda x, s: x.scatter_add(dim, torch.tensor(index), s), [x, src])


# ------------------------------------------------------------------ errors and dtypes

BAD_INDEXING = {  # a call on a (3, 4) tensor, the error it raises and the start of its message
    "float_index": (lambda x: x[chainrule.tensor([0.5])], IndexError, "getitem: index arrays must be integer"),
    "int_out_of_range": (lambda x: x[3], IndexError, "getitem: index 3 is out of bounds"),
    "array_out_of_range": (lambda x: x[:, [0, 4]], IndexError, "getitem: index 4 is out of bounds"),
    "index_select_out_of_range": (lambda x: x.index_select(0, chainrule.tensor([0, 3])), IndexError,
                                  r"index_select: index \[0, 3\] is out of range for dim 0 of size 3"),
    "index_select_negative": (lambda x: x.index_select(1, chainrule.tensor([-1])), IndexError,
                              r"index_select: index \[-1\] is out of range for dim 1 of size 4"),
    "index_select_2d_index": (lambda x: x.index_select(0, chainrule.tensor([[0]])), ValueError,
                              "index_select: index must be 1-D"),
    "index_select_dim": (lambda x: x.index_select(2, chainrule.tensor([0])), IndexError,
                         "index_select: dim 2 is out of range"),
    "gather_index_dims": (lambda x: x.gather(0, chainrule.tensor([0, 1])), ValueError,
                          "gather: index has 1 dims but the input has 2"),
    "gather_negative_index": (lambda x: x.gather(1, chainrule.tensor([[0, -1]])), IndexError,
                              r"gather: index values must lie in \[0, 4\) for dim 1, got values from -1 to 0"),
    "scatter_add_index_too_large": (lambda x: x.scatter_add(0, chainrule.tensor([[3]]), x), IndexError,
                                    r"scatter_add: index values must lie in \[0, 3\) for dim 0"),
    "gather_float_index": (lambda x: x.gather(0, x), TypeError, "gather: index must be an integer tensor"),
    "gather_dim": (lambda x: x.gather(-3, chainrule.tensor([[0]])), IndexError, "gather: dim -3 is out of range"),
    "scatter_add_dim": (lambda x: x.scatter_add(2, chainrule.tensor([[0]]), x), IndexError,
                        "scatter_add: dim 2 is out of range"),
}


@pytest.mark.parametrize("name", BAD_INDEXING)
def test_bad_indexing_raises_errors_naming_the_op(name):
    call, error, message = BAD_INDEXING[name]
    with pytest.raises(error, match=f"^{message}"):
        call(chainrule.ones(3, 4))


FLOAT32_CASES = {  # name -> op(x, v) for x of shape (3, 4) and v of shape (4,)
    "getitem": lambda x, v: x[[0, 0], 1:],
    "setitem": lambda x, v: write_rows_with_broadcast(chainrule, x, v),
    "index_select": lambda x, v: x.index_select(0, chainrule.tensor([2, 0, 2])),
    "gather": lambda x, v: x.gather(0, chainrule.tensor([[0, 1, 2, 0]])),
    "scatter_add": lambda x, v: x.scatter_add(1, chainrule.tensor([[0, 0, 1, 1]] * 3), x),
    "masked_fill": lambda x, v: x.masked_fill(x > 0, -1.5),
    "masked_fill_tensor_value": lambda x, v: x.masked_fill(x > 0, v.sum()),
    "index_put": lambda x, v: x.index_put((chainrule.tensor([1]),), v),
}


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_stays_float32(name):
    x, v = (chainrule.tensor(a, requires_grad=True) for a in random_inputs([(3, 4), (4,)], dtype=numpy.float32))
    out = FLOAT32_CASES[name](x, v)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert x.grad.dtype == numpy.float32
    assert v.grad is None or v.grad.dtype == numpy.float32
