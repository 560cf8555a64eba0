"""Dtype names, the default floating dtype, and turning Python data into arrays.

chainrule's dtypes are NumPy's dtype objects under PyTorch's names, so
``chainrule.float32 == numpy.float32`` and an array's dtype needs no
translation.
"""
import numpy

# NOTE: ``float``, ``int`` and ``bool`` below shadow the builtins inside this
# module, as PyTorch's names do; nothing here uses the builtins.
float16 = half = numpy.dtype("float16")
float32 = float = numpy.dtype("float32")
float64 = double = numpy.dtype("float64")
int8 = numpy.dtype("int8")
int16 = short = numpy.dtype("int16")
int32 = int = numpy.dtype("int32")
int64 = long = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool = numpy.dtype("bool")

_default_float = float32


def set_default_dtype(dtype):
    """Set the dtype that Python floats and the float factories produce.

    Only ``float32`` and ``float64`` are accepted, as in PyTorch.
    """
    global _default_float
    dtype = numpy.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_float = dtype


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float


def is_floating(dtype):
    return dtype.kind == "f"


def to_dtype(dtype):
    """Accept a chainrule/NumPy dtype, a dtype name or a Python type."""
    if dtype is None:
        return None
    return numpy.dtype(dtype)


def as_array(data, dtype=None):
    """An array holding ``data``, typed as PyTorch would type it.

    NumPy arrays keep their dtype; Python floats become the default dtype,
    Python ints int64 and Python bools bool.
    """
    if dtype is not None:
        return numpy.asarray(data, dtype=to_dtype(dtype))
    array = numpy.asarray(data)
    if array.dtype == float64 and not isinstance(data, (numpy.ndarray, numpy.generic)):
        array = array.astype(_default_float, copy=False)
    elif array.dtype.kind == "i" and array.dtype != int64 and not isinstance(data, (numpy.ndarray, numpy.generic)):
        array = array.astype(int64)
    return array
