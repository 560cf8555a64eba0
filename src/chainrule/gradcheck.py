"""Check analytical gradients against central finite differences, in float64.

``gradcheck`` compares, for every element of every input that requires
grad, the backward pass's d<v, f(x)>/dx_i with the central difference of
<v, f(x)> along x_i, for a fixed random cotangent v. ``gradgradcheck``
does the same for the function that maps inputs to their first gradients,
so it checks the backward pass's own derivatives.
"""
import numpy

from .autograd import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytical gradient disagrees with finite differences."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _cotangents(outputs, seed):
    rng = numpy.random.default_rng(seed)
    return [Tensor(rng.standard_normal(o.shape)) for o in outputs]


def _projection(fn, inputs, cotangents):
    """<v, f(x)> summed over the outputs, as a Python float."""
    with no_grad():
        outputs = _outputs(fn, inputs)
    return float(sum((o.data.astype(numpy.float64) * v.data).sum() for o, v in zip(outputs, cotangents)))


def _check_float64(inputs, name):
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != numpy.float64:
            raise TypeError(
                f"{name}: input {i} is {t.dtype}; finite differences are only "
                f"meaningful in float64: pass it as .double()"
            )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Parameters
    ----------
    fn : callable taking ``*inputs`` and returning a Tensor or a tuple of Tensors
    inputs : a Tensor or a tuple of Tensors (float64 where they require grad)
    eps : finite-difference step
    atol, rtol : an element passes when |analytic - numeric| <= atol + rtol * |numeric|
    raise_exception : raise ``GradcheckError`` on failure (else return False)

    Returns True when every element agrees.

    Example
    -------
    >>> x = chainrule.randn(3, dtype=chainrule.float64, requires_grad=True)
    >>> chainrule.gradcheck(lambda x: (x * x.sin()).sum(), (x,))
    True
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_float64(inputs, "gradcheck")
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    outputs = _outputs(fn, inputs)
    cotangents = _cotangents(outputs, seed)
    projection = sum((o * v.to(o.dtype)).sum() for o, v in zip(outputs, cotangents))
    analytic = grad(projection, [inputs[i] for i in wrt], allow_unused=True)
    for position, g in zip(wrt, analytic):
        x = inputs[position]
        expected = numpy.zeros(x.shape) if g is None else g.data
        numeric = numpy.zeros(x.shape)
        for index in numpy.ndindex(x.shape):  # element by element in place: works for any memory layout
            original = x.data[index]
            x.data[index] = original + eps
            plus = _projection(fn, inputs, cotangents)
            x.data[index] = original - eps
            minus = _projection(fn, inputs, cotangents)
            x.data[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        error = numpy.abs(expected - numeric) - (atol + rtol * numpy.abs(numeric))
        error = numpy.where(numpy.isnan(error), numpy.inf, error)  # a NaN on either side fails
        if (error > 0).any():
            worst = numpy.unravel_index(numpy.argmax(error), x.shape)
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradcheck: the gradient for input {position} (shape {x.shape}) "
                f"disagrees with finite differences; worst element {tuple(int(i) for i in worst)}: "
                f"analytical {expected[worst]!r}, numerical {numeric[worst]!r} "
                f"(atol={atol}, rtol={rtol}, eps={eps})"
            )
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check the second derivatives of ``fn``: gradcheck the map from the
    inputs (and the cotangent v) to the first gradients d<v, f>/dx, which the
    backward pass computes with ``create_graph=True``."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    _check_float64(inputs, "gradgradcheck")
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outputs = _outputs(fn, inputs)
    cotangents = [v.requires_grad_() for v in _cotangents(outputs, seed)]
    n = len(inputs)

    def first_gradients(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():
            outs = _outputs(fn, xs)
            projection = sum((o * v).sum() for o, v in zip(outs, vs))
            grads = grad(projection, [xs[i] for i in wrt], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for g, i in zip(grads, wrt))

    return gradcheck(first_gradients, inputs + tuple(cotangents), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed + 1)
