"""Adam and its relatives: moving averages of the gradient and of its square."""
import math

import numpy

from .optimizer import Optimizer, check_betas, check_non_negative, lerp_, regularised_gradient


def _advance_moments(state, grad, beta1, beta2):
    """Adam's two running moments, one step on, in place: m <- m + (1 - beta1)(g - m),
    v <- beta2 v + (1 - beta2) g^2. Returns (m, v)."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    lerp_(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    return exp_avg, exp_avg_sq


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, scaled per parameter by the root of
    its mean square.

    With gradient :math:`g_t` (negated under ``maximize``; plus
    :math:`\lambda \theta_{t-1}` under coupled weight decay)::

        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        v_hat_t = max(v_hat_{t-1}, v_t) with amsgrad, else v_t
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / (sqrt(v_hat_t / (1 - beta2**t)) + eps)

    With ``decoupled_weight_decay`` (that is, AdamW) the decay is not added
    to the gradient but applied to the parameter directly:
    :math:`\theta \leftarrow \theta (1 - \text{lr}\,\lambda)` before the step.

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, bounding the step where ``v`` is tiny.
    weight_decay : float, default 0
    amsgrad : bool, default False
        Divide by the largest second moment seen so far, so that a
        parameter's step size never grows back.
    maximize : bool, default False
    decoupled_weight_decay : bool, default False
        Decay the weights directly, as AdamW does.

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.Adam([w], lr=0.01)
    >>> (w ** 2).sum().backward()
    >>> optimizer.step()     # each coordinate moves by lr on the first step
    >>> w
    tensor([ 0.99, -1.99], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        name = type(self).__name__
        check_non_negative(name, lr=lr, eps=eps)
        check_betas(name, betas)
        check_non_negative(name, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=numpy.zeros_like(param), exp_avg_sq=numpy.zeros_like(param))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = numpy.zeros_like(param)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        state["step"] += 1
        step = state["step"]
        grad = regularised_gradient(param, grad, group)
        exp_avg, exp_avg_sq = _advance_moments(state, grad, beta1, beta2)
        second_moment = exp_avg_sq
        if group["amsgrad"]:
            second_moment = numpy.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1 ** step)
        denominator = numpy.sqrt(second_moment)
        denominator /= math.sqrt(1 - beta2 ** step)
        denominator += group["eps"]
        param -= step_size * exp_avg / denominator


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter).

    The decay shrinks the parameters directly,
    :math:`\theta \leftarrow \theta (1 - \text{lr}\,\lambda)`, instead of
    entering the gradient, where Adam's per-parameter scaling would weaken
    it for exactly the parameters with large gradients. Otherwise as
    :class:`Adam`; note the default ``weight_decay=1e-2``.

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.AdamW([w], lr=0.01, weight_decay=0.1)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class Adamax(Optimizer):
    r"""Adamax: Adam with the second moment replaced by an exponentially
    weighted infinity norm.

    ::

        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        u_t = max(beta2 * u_{t-1}, |g_t| + eps)
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / u_t

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
        L2 penalty, added to the gradient.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.Adamax([w], lr=0.002)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        check_non_negative("Adamax", lr=lr, eps=eps)
        check_betas("Adamax", betas)
        check_non_negative("Adamax", weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=numpy.zeros_like(param), exp_inf=numpy.zeros_like(param))
        beta1, beta2 = group["betas"]
        state["step"] += 1
        grad = regularised_gradient(param, grad, group)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        bounded = numpy.abs(grad)
        bounded += group["eps"]
        numpy.maximum(exp_inf, bounded, out=exp_inf)
        param -= group["lr"] / (1 - beta1 ** state["step"]) * exp_avg / exp_inf


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat), with a warming momentum
    schedule.

    The momentum coefficient ramps up over the first few thousand steps,
    :math:`\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{t\,\psi})` with
    :math:`\psi` = ``momentum_decay``, and the step looks one momentum step
    ahead::

        m_t, v_t as in Adam
        theta_t = theta_{t-1} - lr * ( (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g_t
                                     + mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m_t )
                                   / (sqrt(v_t / (1 - beta2**t)) + eps)

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum_decay : float, default 4e-3
    decoupled_weight_decay : bool, default False
        Decay the weights directly, as AdamW does.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.NAdam([w], lr=0.002)
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        check_non_negative("NAdam", lr=lr, eps=eps)
        check_betas("NAdam", betas)
        check_non_negative("NAdam", weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=numpy.zeros_like(param),
                         exp_avg_sq=numpy.zeros_like(param))
        lr, (beta1, beta2) = group["lr"], group["betas"]
        state["step"] += 1
        step = state["step"]
        grad = regularised_gradient(param, grad, group)
        mu = beta1 * (1 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        exp_avg, exp_avg_sq = _advance_moments(state, grad, beta1, beta2)
        denominator = exp_avg_sq / (1 - beta2 ** step)
        numpy.sqrt(denominator, out=denominator)
        denominator += group["eps"]
        param -= lr * (1 - mu) / (1 - mu_product) * grad / denominator
        param -= lr * mu_next / (1 - mu_product * mu_next) * exp_avg / denominator


class RAdam(Optimizer):
    r"""RAdam (Liu et al.): Adam whose adaptive step is switched on only once
    the second moment rests on enough samples, and then rectified.

    Early on :math:`v_t` averages a handful of squared gradients, and dividing
    by its root gives steps of wildly varying size; that is what warmup
    schedules paper over. RAdam estimates the length of the moving average,
    :math:`\rho_t`, and while it is 5 or less takes a plain momentum step::

        m_t, v_t as in Adam
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t * r_t * sqrt(1 - beta2**t) / (sqrt(v_t) + eps)
                                                                          if rho_t > 5
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t                 otherwise

    Parameters
    ----------
    params : iterable of Tensors or of dicts (parameter groups)
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    decoupled_weight_decay : bool, default False
        Decay the weights directly, as AdamW does, instead of adding
        :math:`\lambda \theta` to the gradient.
    maximize : bool, default False

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> optimizer = chainrule.optim.RAdam([w], lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, maximize=False):
        check_non_negative("RAdam", lr=lr, eps=eps)
        check_betas("RAdam", betas)
        check_non_negative("RAdam", weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, exp_avg=numpy.zeros_like(param), exp_avg_sq=numpy.zeros_like(param))
        lr, (beta1, beta2) = group["lr"], group["betas"]
        state["step"] += 1
        step = state["step"]
        grad = regularised_gradient(param, grad, group)
        exp_avg, exp_avg_sq = _advance_moments(state, grad, beta1, beta2)
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * step * beta2 ** step / bias_correction2
        step_size = lr / (1 - beta1 ** step)
        if rho <= 5:
            # too few samples behind v_t for its root to be trusted: a momentum step
            param -= step_size * exp_avg
            return
        rectification = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        denominator = numpy.sqrt(exp_avg_sq)
        denominator += group["eps"]
        param -= step_size * rectification * math.sqrt(bias_correction2) * exp_avg / denominator
