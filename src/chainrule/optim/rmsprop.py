"""RMSprop: steps divided by a running root mean square of the gradient."""
import numpy

from .optimizer import Optimizer, check_non_negative, lerp_, regularised_gradient


class RMSprop(Optimizer):
    r"""RMSprop (Hinton): divide each gradient coordinate by the root of its
    running mean square, so every parameter moves at a similar pace.

    With gradient :math:`g_t` (plus :math:`\lambda \theta_{t-1}` under
    weight decay, negated under ``maximize``)::

        v_t = alpha * v_{t-1} + (1 - alpha) * g_t**2
        a_t = alpha * a_{t-1} + (1 - alpha) * g_t          (centered only)
        r_t = sqrt(v_t - a_t**2) + eps   if centered   else   sqrt(v_t) + eps
        b_t = momentum * b_{t-1} + g_t / r_t
        theta_t = theta_{t-1} - lr * b_t                  (lr * g_t / r_t without momentum)

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-2
    alpha : float, default 0.99
        Decay rate of the mean square.
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum : float, default 0
    centered : bool, default False
        Divide by an estimate of the gradient's variance rather than its
        raw second moment.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.RMSprop([w], lr=0.01, momentum=0.9, centered=True)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        check_non_negative("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, square_avg=numpy.zeros_like(param))
            if group["momentum"] > 0:
                state["momentum_buffer"] = numpy.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = numpy.zeros_like(param)
        alpha = group["alpha"]
        state["step"] += 1
        grad = regularised_gradient(param, grad, group)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha)
            root_mean_square = square_avg - grad_avg * grad_avg
            numpy.sqrt(root_mean_square, out=root_mean_square)
        else:
            root_mean_square = numpy.sqrt(square_avg)
        root_mean_square += group["eps"]
        if group["momentum"] > 0:
            velocity = state["momentum_buffer"]
            velocity *= group["momentum"]
            velocity += grad / root_mean_square
            param -= group["lr"] * velocity
        else:
            param -= group["lr"] * grad / root_mean_square
