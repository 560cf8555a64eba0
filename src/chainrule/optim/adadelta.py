"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
import numpy

from .optimizer import Optimizer, check_non_negative, regularised_gradient


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler): divide the gradient by its running root mean
    square and multiply by that of the past updates, so that the step comes
    out in the units of the parameter and needs no hand-tuned rate.

    With gradient :math:`g_t` (plus :math:`\lambda \theta_{t-1}` under
    weight decay, negated under ``maximize``)::

        v_t = rho * v_{t-1} + (1 - rho) * g_t**2
        d_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
        u_t = rho * u_{t-1} + (1 - rho) * d_t**2
        theta_t = theta_{t-1} - lr * d_t

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1.0
        Scales the step; the method's own scaling is meant to make 1.0 work.
    rho : float in [0, 1], default 0.9
        Decay rate of both running averages.
    eps : float, default 1e-6
        Starts the updates off (u is 0 at first) and bounds the division.
    weight_decay : float, default 0
        L2 penalty, added to the gradient.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.Adadelta([w], rho=0.95)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        check_non_negative("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho={rho!r}; it must be in [0, 1]")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, square_avg=numpy.zeros_like(param), acc_delta=numpy.zeros_like(param))
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        grad = regularised_gradient(param, grad, group)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = acc_delta + eps
        numpy.sqrt(delta, out=delta)
        delta /= numpy.sqrt(square_avg + eps)
        delta *= grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
