"""Stochastic gradient descent, with heavy-ball or Nesterov momentum."""
from .optimizer import Optimizer, check_non_negative, regularised_gradient


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum.

    With gradient :math:`g_t` (plus :math:`\lambda \theta_{t-1}` under weight
    decay :math:`\lambda`, negated under ``maximize``)::

        b_t = mu * b_{t-1} + (1 - dampening) * g_t      (b_1 = g_1)
        d_t = g_t + mu * b_t   if nesterov   else   b_t
        theta_t = theta_{t-1} - lr * d_t

    and :math:`d_t = g_t` when ``momentum`` is 0.

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-3
    momentum : float, default 0
    dampening : float, default 0
        Scales down the gradient's share of the velocity.
    weight_decay : float, default 0
        L2 penalty coefficient :math:`\lambda`.
    nesterov : bool, default False
        Nesterov momentum: look ahead along the velocity; needs
        ``momentum > 0`` and ``dampening == 0``.
    maximize : bool, default False
        Ascend the objective instead of descending it.

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(3):
    ...     optimizer.zero_grad()
    ...     (w ** 2).sum().backward()
    ...     optimizer.step()
    >>> w
    tensor([ 0.06200001, -0.12400001], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        check_non_negative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening == 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        grad = regularised_gradient(param, grad, group)
        momentum = group["momentum"]
        if momentum != 0:
            velocity = state.get("momentum_buffer")
            if velocity is None:
                velocity = state["momentum_buffer"] = grad.copy()
            else:
                velocity *= momentum
                dampening = group["dampening"]
                velocity += (1 - dampening) * grad if dampening else grad  # no temporary in the common case
            grad = grad + momentum * velocity if group["nesterov"] else velocity
        param -= group["lr"] * grad
