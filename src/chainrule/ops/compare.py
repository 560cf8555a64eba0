"""Comparisons and logical ops: bool tensors, outside the graph (no gradient)."""
from ..backend import array_module, ensure_array
from ..tensor import as_tensor_args, constant


def _bool_tensor(array):
    # A ufunc on 0-d arrays returns a NumPy scalar; a tensor holds an array.
    return constant(ensure_array(array))


def _compare(name, ufunc_name):
    def compare(input, other):
        a, b = as_tensor_args(input, other)
        try:
            return _bool_tensor(getattr(array_module(a.data), ufunc_name)(a.data, b.data))
        except ValueError:
            raise ValueError(f"{name}: shapes {a.shape} and {b.shape} do not broadcast") from None
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{ufunc_name}``, broadcasting; a bool tensor without gradient."
    return compare


eq = _compare("eq", "equal")
ne = _compare("ne", "not_equal")
lt = _compare("lt", "less")
le = _compare("le", "less_equal")
gt = _compare("gt", "greater")
ge = _compare("ge", "greater_equal")
logical_and = _compare("logical_and", "logical_and")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")


def logical_not(input):
    return _bool_tensor(array_module(input.data).logical_not(input.data))


def isnan(input):
    return _bool_tensor(array_module(input.data).isnan(input.data))


def isinf(input):
    return _bool_tensor(array_module(input.data).isinf(input.data))


def isfinite(input):
    return _bool_tensor(array_module(input.data).isfinite(input.data))


def equal(input, other):
    """True if both have the same shape and elements."""
    return input.shape == other.shape and bool((input.data == other.data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(array_module(input.data).allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))
