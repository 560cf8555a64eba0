"""Which array module holds a tensor's data.

Ops never import NumPy for array work; they ask ``array_module`` for the
module that owns their inputs. NumPy is the only backend today; the seam is
here so that a GPU array library can slot in without touching the ops.
"""
import numpy

ndarray = numpy.ndarray


def array_module(array):
    """Return the array module (``numpy``) that owns ``array``."""
    return numpy


def ensure_array(value):
    """``value`` as an array: reductions over all axes give NumPy scalars."""
    return value if type(value) is ndarray else numpy.asarray(value)


def as_array(value):
    """``value`` (a list, a scalar, an array) as an array of the default module."""
    return numpy.asarray(value)


def shares_memory(a, b):
    """Whether two arrays may overlap in memory (a cheap bounds check)."""
    return numpy.may_share_memory(a, b)
