"""The one library-wide random generator.

Every random draw in chainrule (factories, initialisation, dropout,
shuffling) comes from this generator unless a caller passes its own, so
``manual_seed`` makes a run repeatable and a checkpoint can save and restore
the state exactly.
"""
import numpy

_generator = numpy.random.Generator(numpy.random.PCG64())


def manual_seed(seed):
    """Seed chainrule's generator; returns it."""
    global _generator
    _generator = numpy.random.Generator(numpy.random.PCG64(seed))
    return _generator


def default_generator():
    """The generator that random factories and layers draw from."""
    return _generator


def get_rng_state():
    """The generator's state as a JSON-friendly dict."""
    return _generator.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = state
