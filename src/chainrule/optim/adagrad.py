"""Adagrad: per-parameter step sizes from the sum of all squared gradients so far."""
import numpy

from .optimizer import Optimizer, check_non_negative, regularised_gradient


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.): divide each coordinate's step by the root of
    the sum of its squared gradients, so rarely-updated parameters keep
    large steps and often-updated ones slow down.

    ::

        s_t = s_{t-1} + g_t**2                  (s_0 = initial_accumulator_value)
        theta_t = theta_{t-1} - lr / (1 + (t - 1) * lr_decay) * g_t / (sqrt(s_t) + eps)

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-2
    lr_decay : float, default 0
    weight_decay : float, default 0
        L2 penalty, added to the gradient.
    initial_accumulator_value : float, default 0
    eps : float, default 1e-10
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.Adagrad([w], lr=0.1)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        check_non_negative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, sum=numpy.full_like(param, group["initial_accumulator_value"]))
        state["step"] += 1
        grad = regularised_gradient(param, grad, group)
        squares = state["sum"]
        squares += grad * grad
        scale = numpy.sqrt(squares)
        scale += group["eps"]
        param -= group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"]) * grad / scale
