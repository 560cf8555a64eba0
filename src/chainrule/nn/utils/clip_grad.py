"""Gradient clipping: bound the gradients' total norm, or each of their entries, in place."""
import numpy

from ...tensor import Tensor


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The ``norm_type``-norm of all ``tensors`` together, as if concatenated into one vector.

    Parameters
    ----------
    tensors : Tensor or iterable of Tensors
    norm_type : float or 'inf', default 2.0
    error_if_nonfinite : bool, default False
        Raise RuntimeError if the norm is NaN or infinite.

    Returns
    -------
    A 0-d Tensor (0.0 for no tensors).

    Example
    -------
    >>> get_total_norm([chainrule.tensor([3.0]), chainrule.tensor([4.0])])
    tensor(5.)
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(0.0)
    # the norm of the per-tensor norms equals the norm of the concatenation, without copying
    norms = numpy.stack([numpy.linalg.norm(t.data.reshape(-1), ord=norm_type) for t in tensors])
    total = numpy.linalg.norm(norms, ord=norm_type)
    if error_if_nonfinite and not numpy.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
            f"so they cannot be clipped; find where the gradient overflows (or pass "
            f"error_if_nonfinite=False to scale by it anyway)"
        )
    return Tensor(numpy.asarray(total))


def clip_grads_with_norm_(parameters, max_norm, total_norm):
    """Scale the gradients by ``min(max_norm / (total_norm + 1e-6), 1)``, in place.

    ``clip_grad_norm_`` with the total norm already computed (for example
    once for several calls, or all-reduced across workers).

    Example
    -------
    >>> norm = get_total_norm([p.grad for p in params])
    >>> clip_grads_with_norm_(params, max_norm=1.0, total_norm=norm)
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    total = total_norm.data if isinstance(total_norm, Tensor) else numpy.asarray(total_norm)
    # NOTE: the small constant keeps the factor finite for zero gradients;
    # the clamp at 1 means small gradients are never scaled up.
    factor = numpy.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for grad in grads:
        _scale_in_place(grad, factor)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the parameters' gradients, in place, so that their total norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into
    one vector; parameters without a gradient are skipped. Clipping keeps
    the gradient's direction and only shortens it, taming the occasional
    huge step (exploding gradients in recurrent nets, loss spikes).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
    max_norm : float
    norm_type : float or 'inf', default 2.0
    error_if_nonfinite : bool, default False
        Raise RuntimeError if the total norm is NaN or infinite, instead
        of scaling by it.

    Returns
    -------
    The total norm of the gradients before clipping, as a 0-d Tensor.

    Example
    -------
    >>> w = chainrule.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()              # w.grad = [6, 8], norm 10
    >>> clip_grad_norm_([w], max_norm=5.0)
    tensor(10.)
    >>> w.grad                                # now of norm 5 (less 1e-6)
    tensor([2.9999995, 3.9999995])
    """
    parameters = _as_list(parameters)
    total_norm = get_total_norm([p.grad for p in parameters if p.grad is not None], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    Example
    -------
    >>> w = chainrule.tensor([3.0, -4.0], requires_grad=True)
    >>> (w * w).sum().backward()              # w.grad = [6, -8]
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad
    tensor([ 1., -1.])
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            _writable(p.grad)
            numpy.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
            p.grad._version[0] += 1


def _scale_in_place(grad, factor):
    _writable(grad)
    # an infinite entry times a zero factor is NaN, as asked for with error_if_nonfinite=False
    with numpy.errstate(invalid="ignore"):
        grad.data *= factor
    grad._version[0] += 1


def _writable(grad):
    if not grad.data.flags.writeable:
        grad.data = grad.data.copy()
