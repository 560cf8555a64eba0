"""Factories: tensors from data, constants, ranges and random draws.

Random factories draw from chainrule's one generator (``manual_seed``)
unless a ``generator`` is passed.
"""
import operator

import numpy

from . import dtypes
from .random import default_generator
from .tensor import Tensor


def _size(name, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        return tuple(operator.index(n) for n in size)
    except TypeError:
        raise TypeError(f"{name}: sizes must be ints, got {size}") from None


def _float_dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


def _finish(array, requires_grad):
    t = Tensor._make(array, None, None)
    return t.requires_grad_() if requires_grad else t


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    Example
    -------
    >>> chainrule.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    """
    if isinstance(data, Tensor):
        data = data.data
    array = numpy.array(dtypes.as_array(data, dtype), copy=True)
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None):
    """A tensor sharing ``data``'s memory where it can (no copy for an array of the right dtype)."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return Tensor._make(dtypes.as_array(data, dtype), None, None)


def from_numpy(array):
    """A tensor sharing ``array``'s memory and dtype."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array, None, None)


def zeros(*size, dtype=None, requires_grad=False):
    return _finish(numpy.zeros(_size("zeros", size), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _finish(numpy.ones(_size("ones", size), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return _finish(numpy.empty(_size("empty", size), _float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value, as in PyTorch)."""
    if dtype is None:
        dtype = dtypes.as_array(fill_value).dtype
    return _finish(numpy.full(_size("full", (size,)), fill_value, dtypes.to_dtype(dtype)), requires_grad)


def zeros_like(input, dtype=None, requires_grad=False):
    return _finish(numpy.zeros(input.shape, dtype or input.dtype), requires_grad)


def ones_like(input, dtype=None, requires_grad=False):
    return _finish(numpy.ones(input.shape, dtype or input.dtype), requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False):
    return _finish(numpy.full(input.shape, fill_value, dtype or input.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from ``start`` up to (not including) ``end``; int64 for integer
    arguments, the default float dtype otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, int) for v in (start, end, step))
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    return _finish(numpy.arange(start, end, step, dtype=dtypes.to_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _finish(numpy.linspace(start, end, steps, dtype=_float_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _finish(numpy.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    generator = generator or default_generator()
    dtype = _float_dtype(dtype)
    return _finish(generator.random(_size("rand", size), dtype=dtype), requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples."""
    generator = generator or default_generator()
    dtype = _float_dtype(dtype)
    return _finish(generator.standard_normal(_size("randn", size), dtype=dtype), requires_grad)


def randint(low=0, high=None, size=None, generator=None, dtype=None):
    """Integers uniform on [low, high); called as ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    generator = generator or default_generator()
    draw = generator.integers(low, high, _size("randint", (size,)))
    return Tensor._make(draw.astype(dtypes.to_dtype(dtype or dtypes.int64)), None, None)


def rand_like(input, generator=None):
    return rand(*input.shape, generator=generator, dtype=input.dtype)


def randn_like(input, generator=None):
    return randn(*input.shape, generator=generator, dtype=input.dtype)


def randperm(n, generator=None):
    """A random permutation of 0..n-1 (int64)."""
    generator = generator or default_generator()
    return Tensor._make(generator.permutation(n).astype(dtypes.int64), None, None)
