"""ASGD: stochastic gradient descent with a decaying rate and a running average of the iterates."""
import numpy

from .optimizer import Optimizer, check_non_negative, lerp_, regularised_gradient


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent (Polyak & Juditsky): plain SGD
    steps with a slowly decaying rate, plus an average of the parameters
    visited since step ``t0``, kept in ``optimizer.state[p]["ax"]``.

    The parameters themselves follow the SGD trajectory; the average, which
    is less noisy, is what one evaluates or copies in at the end. With
    gradient :math:`g_t` (plus :math:`\lambda \theta_{t-1}` under weight
    decay, negated under ``maximize``)::

        theta_t = theta_{t-1} * (1 - lambd * eta_t) - eta_t * g_t
        ax_t = ax_{t-1} + mu_t * (theta_t - ax_{t-1})
        eta_{t+1} = lr / (1 + lambd * lr * t)**alpha        (eta_1 = lr)
        mu_{t+1} = 1 / max(1, t - t0)                       (mu_1 = 1)

    so ``ax`` copies the parameters up to step ``t0 + 2`` and from then on
    is their running mean since that step (with t0 = 3: the mean of steps
    5, 6, … at step 6 and after).

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-2
    lambd : float, default 1e-4
        Decay term: shrinks the parameters and slows the rate's decay.
    alpha : float, default 0.75
        Power of the rate's decay.
    t0 : float, default 1e6
        The step at which averaging starts.
    weight_decay : float, default 0
        L2 penalty, added to the gradient.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.ASGD([w], lr=0.05, t0=100)
    >>> # ... train ..., then evaluate with the averaged parameters:
    >>> w.data[...] = optimizer.state[w]["ax"]
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False):
        check_non_negative("ASGD", lr=lr, lambd=lambd, alpha=alpha, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, eta=float(group["lr"]), mu=1.0, ax=numpy.zeros_like(param))
        lr, lambd = group["lr"], group["lambd"]
        state["step"] += 1
        step, eta = state["step"], state["eta"]
        grad = regularised_gradient(param, grad, group)
        param *= 1 - lambd * eta
        param -= eta * grad
        if state["mu"] == 1:
            state["ax"][...] = param
        else:
            lerp_(state["ax"], param, state["mu"])
        # the rate and averaging weight of the next step
        state["eta"] = lr / (1 + lambd * lr * step) ** group["alpha"]
        state["mu"] = 1 / max(1, step - group["t0"])
