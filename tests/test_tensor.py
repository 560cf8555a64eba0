"""The Tensor object itself: attributes, conversions, dtypes."""
import numpy
import pytest

import chainrule as cr


def test_attributes():
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6 and len(x) == 2
    assert x.dtype == cr.float32 and x.is_leaf and x.grad is None and x.grad_fn is None
    assert not x.requires_grad


def test_python_data_is_typed_as_in_pytorch():
    assert cr.tensor(1.5).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64


@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.int32, numpy.uint8, numpy.bool_])
def test_numpy_arrays_keep_their_dtype(dtype):
    array = numpy.zeros(3, dtype=dtype)
    assert cr.tensor(array).dtype == dtype
    shared = cr.from_numpy(array)
    assert shared.dtype == dtype and shared.data is array


def test_tensor_copies_but_from_numpy_shares():
    array = numpy.zeros(3)
    copied, shared = cr.tensor(array), cr.from_numpy(array)
    array[0] = 5
    assert copied.data[0] == 0 and shared.data[0] == 5
    assert shared.numpy() is array


def test_item_tolist_and_python_conversions():
    x = cr.tensor([[1.5]])
    assert x.item() == 1.5 and float(x) == 1.5 and int(x) == 1 and bool(x)
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="one-element"):
        cr.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(cr.tensor([1.0, 2.0]))
    assert numpy.asarray(cr.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]


def test_iteration_yields_rows():
    rows = list(cr.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]


@pytest.mark.parametrize("method, dtype", [("float", cr.float32), ("double", cr.float64), ("long", cr.int64),
                                           ("int", cr.int32), ("bool", cr.bool), ("half", cr.float16)])
def test_dtype_conversions(method, dtype):
    assert getattr(cr.tensor([1.0, 0.0]), method)().dtype == dtype


def test_to_and_type_as_carry_gradients_between_float_dtypes():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = x.to(cr.float32)
    assert y.dtype == cr.float32 and x.to(cr.float64) is x
    (y * 3).sum().backward()
    assert x.grad.dtype == cr.float64 and x.grad.tolist() == [3.0, 3.0]
    assert cr.tensor([1, 2]).type_as(y).dtype == cr.float32
    assert x.to("cpu") is x


def test_default_dtype_can_be_float64():
    assert cr.get_default_dtype() == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor(1.0).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64 and cr.randn(2).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        cr.set_default_dtype(cr.int64)


def test_scalars_take_the_tensor_dtype():
    x = cr.ones(2)
    assert (x * 2.5).dtype == cr.float32 and (2.5 - x).dtype == cr.float32
    assert (cr.arange(3) * 2).dtype == cr.int64
    assert (cr.arange(3) * 0.5).dtype == cr.float32


def test_comparisons_give_bool_tensors_without_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == cr.bool and not mask.requires_grad and mask.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert (~mask).tolist() == [True, False, False]


def test_tensors_hash_by_identity():
    a, b = cr.tensor([1.0]), cr.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1}[a] == 1


def test_repr():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(cr.tensor([1.0], dtype=cr.float64)) == "tensor([1.], dtype=float64)"
    assert "grad_fn=<MulBackward>" in repr(cr.tensor([1.0], requires_grad=True) * 2)


def test_requires_grad_flag_and_non_leaves():
    x = cr.zeros(2).requires_grad_()
    y = x * 2
    assert x.requires_grad and x.is_leaf and y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.zeros(2).register_hook(print)
