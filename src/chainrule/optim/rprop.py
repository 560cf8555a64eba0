"""Rprop: steps that follow only the sign of the gradient, with sizes adapted per coordinate."""
import numpy

from .optimizer import Optimizer, check_non_negative


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun): each coordinate moves
    by its own step size in the direction against the gradient's sign; the
    step size grows while the sign holds and shrinks when it flips.

    With gradient :math:`g_t` (negated under ``maximize``) and
    ``etas = (eta_minus, eta_plus)``::

        s_t = clip(eta_plus * s_{t-1},  *step_sizes)   where g_t * g_{t-1} > 0
              clip(eta_minus * s_{t-1}, *step_sizes)   where g_t * g_{t-1} < 0
              s_{t-1}                                  otherwise       (s_0 = lr)
        g_t = 0                                        where the sign flipped
        theta_t = theta_{t-1} - sign(g_t) * s_t

    After a sign flip the coordinate stands still for one step and its
    stored gradient is zero, so the next step neither grows nor shrinks it.
    Rprop is meant for full-batch training: minibatch noise flips signs.

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-2
        The initial step size of every coordinate. It is read once, at a
        parameter's first step, so schedules do not affect Rprop.
    etas : (float, float), default (0.5, 1.2)
        The factors that shrink and grow the step size: 0 < eta_minus < 1 < eta_plus.
    step_sizes : (float, float), default (1e-6, 50)
        The smallest and largest step size allowed.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.Rprop([w], lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 1.0))
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
        check_non_negative("Rprop", lr=lr)
        if len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid etas={etas!r}; it must be a pair with 0 < eta_minus < 1 < eta_plus")
        if len(step_sizes) != 2 or not 0.0 <= step_sizes[0] <= step_sizes[1]:
            raise ValueError(
                f"Rprop: invalid step_sizes={step_sizes!r}; it must be a pair (smallest, largest) "
                f"with 0 <= smallest <= largest"
            )
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, prev=numpy.zeros_like(param), step_size=numpy.full_like(param, group["lr"]))
        eta_minus, eta_plus = group["etas"]
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        agreement = grad * state["prev"]
        # built in the parameter's dtype, so float32 step sizes are scaled in float32
        factor = numpy.ones_like(param)
        factor[agreement > 0] = eta_plus
        factor[agreement < 0] = eta_minus
        step_size = state["step_size"]
        step_size *= factor
        numpy.clip(step_size, *group["step_sizes"], out=step_size)
        grad = numpy.where(agreement < 0, 0, grad)
        param -= numpy.sign(grad) * step_size
        state["prev"] = grad
