"""L-BFGS: a quasi-Newton method that re-evaluates the loss through a closure."""
import math
import numbers

import numpy

from ..autograd import enable_grad
from .optimizer import Optimizer, check_non_negative


class LBFGS(Optimizer):
    r"""Limited-memory BFGS, with an optional strong-Wolfe line search.

    All parameters are treated as one flat vector :math:`x`. Each iteration
    keeps the last ``history_size`` pairs :math:`s = x_{k+1} - x_k`,
    :math:`y = g_{k+1} - g_k` (only those with :math:`y^\top s > 10^{-10}`,
    so the approximation stays positive definite) and turns the gradient
    into a direction :math:`d = -H g` with the two-loop recursion, starting
    from :math:`H_0 = (y^\top s / y^\top y)\, I` for the latest pair::

        q = -g
        for i from newest to oldest:   a_i = rho_i s_i.q;   q -= a_i y_i      (rho_i = 1 / y_i.s_i)
        r = H_0 q
        for i from oldest to newest:   b_i = rho_i y_i.r;   r += (a_i - b_i) s_i
        d = r

    The step is :math:`x \leftarrow x + t d` with :math:`t` = ``lr``, except
    on the very first iteration, where :math:`d = -g` has no curvature
    behind it and :math:`t = \text{lr} \cdot \min(1, 1/\lVert g \rVert_1)`.
    With ``line_search_fn="strong_wolfe"`` that :math:`t` is only the first
    trial of a line search (cubic interpolation, then zoom) for a step that
    satisfies the strong Wolfe conditions with :math:`c_1 = 10^{-4}`,
    :math:`c_2 = 0.9`.

    One ``step(closure)`` runs up to ``max_iter`` iterations and stops early
    after ``max_eval`` closure evaluations, when the largest gradient entry
    is at most ``tolerance_grad``, or when the step, or the change in the
    loss, falls below ``tolerance_change``. The histories live in the
    optimiser's state, so the next ``step`` carries on from them.

    Parameters
    ----------
    params : iterable of Tensors
        A single parameter group: the method has no per-parameter options.
    lr : float, default 1
    max_iter : int, default 20
        Iterations per ``step``.
    max_eval : int, default ``max_iter * 5 // 4``
        Closure evaluations per ``step`` (the one at its start included).
    tolerance_grad : float, default 1e-7
    tolerance_change : float, default 1e-9
    history_size : int, default 100
        How many (s, y) pairs to keep.
    line_search_fn : None or "strong_wolfe", default None

    Example
    -------
    >>> w = chainrule.tensor([-1.5, 2.0], dtype=chainrule.float64, requires_grad=True)
    >>> optimizer = chainrule.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     optimizer.zero_grad()
    ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2     # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(3):
    ...     loss = optimizer.step(closure)   # the loss before the step
    >>> w                                    # the minimum is at (1, 1)
    tensor([0.99999799, 0.99999734], dtype=float64, requires_grad=True)
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        check_non_negative("LBFGS", lr=lr, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
        for name, value in dict(max_iter=max_iter, max_eval=max_eval, history_size=history_size).items():
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"LBFGS: invalid {name}={value!r}; it must be a whole number >= 1")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: invalid line_search_fn={line_search_fn!r}; it must be None or 'strong_wolfe'")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError(
                "LBFGS: takes a single parameter group (it treats all parameters as one vector, "
                "with one set of options); put every tensor in one list"
            )
        super().add_param_group(param_group)

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations.

        Parameters
        ----------
        closure : callable
            Clears the gradients, re-evaluates the model, calls ``backward``
            and returns the loss. It is called several times per step, with
            grad mode on.

        Returns
        -------
        The closure's loss at the parameters before the step.
        """
        if closure is None:
            raise TypeError(
                "LBFGS.step: needs a closure that clears the gradients, recomputes the loss, calls "
                "backward() and returns the loss, as in optimizer.step(closure)"
            )
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        # NOTE: one state for the whole vector, kept under the first parameter, as in PyTorch
        state = self.state[group["params"][0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss, flat_grad = self._evaluate(closure)
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        if abs(flat_grad).max() <= tolerance_grad:
            return first_loss

        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        for n_iter in range(1, max_iter + 1):
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            else:
                _remember(state, flat_grad - prev_flat_grad, d * t, group["history_size"])
                d = _two_loop(state, flat_grad)
            prev_flat_grad, prev_loss = flat_grad, loss
            # the very first direction is the raw gradient: cap its length, not knowing the curvature yet
            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:  # d no longer goes downhill
                break

            if group["line_search_fn"] == "strong_wolfe":
                start = [p.data.copy() for p in group["params"]]

                def along(step):
                    self._move(step, d)
                    f, g = self._evaluate(closure)
                    self._restore(start)
                    return float(f), g

                # NOTE: as in PyTorch, the search may take one evaluation past max_eval,
                # and its bracket tolerance stays 1e-9 whatever tolerance_change is
                loss, flat_grad, t, line_evals = _strong_wolfe(along, t, d, loss, flat_grad, gtd,
                                                               max_trials=max_eval - evals)
                self._move(t, d)
            else:
                self._move(t, d)
                line_evals = 0
                if n_iter != max_iter:  # the last iteration leaves the evaluation to the next step
                    new_loss, flat_grad = self._evaluate(closure)
                    loss = float(new_loss)
                    line_evals = 1
            evals += line_evals
            state["func_evals"] += line_evals

            if (evals >= max_eval or abs(flat_grad).max() <= tolerance_grad
                    or abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change):
                break

        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    def _evaluate(self, closure):
        """The closure's loss, and the gradient as one flat vector (zeros where a parameter got none)."""
        with enable_grad():
            loss = closure()
        grads = [numpy.zeros(p.data.size, p.data.dtype) if p.grad is None else p.grad.data.ravel()
                 for p in self.param_groups[0]["params"]]
        return loss, numpy.concatenate(grads)

    def _move(self, t, d):
        """x += t d, in place, slice by slice of the flat vector."""
        offset = 0
        for p in self.param_groups[0]["params"]:
            p.data += t * d[offset:offset + p.data.size].reshape(p.data.shape)
            p._version[0] += 1  # a graph that saved p must not differentiate through its new value
            offset += p.data.size

    def _restore(self, arrays):
        for p, a in zip(self.param_groups[0]["params"], arrays):
            p.data[...] = a
            p._version[0] += 1


def _remember(state, y, s, history_size):
    """Store the pair (s, y), dropping the oldest beyond ``history_size``, and rescale H_0.

    The state keys are PyTorch's: ``old_dirs`` holds the y's, ``old_stps`` the s's."""
    ys = float(y @ s)
    if ys <= 1e-10:  # no positive curvature along s: the pair would break positive definiteness
        return
    if len(state["old_dirs"]) == history_size:
        for key in ("old_dirs", "old_stps", "ro"):
            state[key].pop(0)
    state["old_dirs"].append(y)
    state["old_stps"].append(s)
    state["ro"].append(1.0 / ys)
    state["H_diag"] = ys / float(y @ y)


def _two_loop(state, grad):
    """The direction -H grad, H the inverse Hessian approximation of the stored pairs."""
    pairs = list(zip(state["old_dirs"], state["old_stps"], state["ro"]))
    q = -grad
    alphas = []
    for y, s, rho in reversed(pairs):
        alpha = float(s @ q) * rho
        q -= alpha * y
        alphas.append(alpha)
    r = q * state["H_diag"]
    for (y, s, rho), alpha in zip(pairs, reversed(alphas)):
        beta = float(y @ r) * rho
        r += (alpha - beta) * s
    return r


def _strong_wolfe(along, t, d, f0, g0, gtd0, max_trials, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """A step t along d with sufficient decrease, f(t) <= f0 + c1 t gtd0, and small
    slope, |g(t).d| <= c2 |gtd0| (Nocedal & Wright, algorithms 3.5 and 3.6).

    ``along(t)`` returns the loss and flat gradient at x + t d. Trial points are
    tuples (t, loss, gradient, slope); after the first, at most ``max_trials``
    more. Returns (loss, gradient, t, evaluations).
    """
    evaluations = 0

    def probe(step):
        nonlocal evaluations
        evaluations += 1
        f, g = along(step)
        return step, f, g, float(g @ d)

    start = (0, f0, g0, gtd0)
    prev, new = start, probe(t)
    bracket, done, trials = None, False, 0
    # bracketing: lengthen the step until an interval must hold an acceptable one
    while trials < max_trials:
        t, f, _, gtd = new
        # NOTE: "no lower than the previous trial" is tested from the third trial on, as PyTorch does
        if f > f0 + c1 * t * gtd0 or (trials > 1 and f >= prev[1]):
            bracket = [prev, new]
            break
        if abs(gtd) <= -c2 * gtd0:
            bracket, done = [new], True
            break
        if gtd >= 0:
            bracket = [prev, new]
            break
        # still going downhill: extrapolate, at least a little past t and at most to 10 t
        step = _cubic_minimum(prev, new, bounds=(t + 0.01 * (t - prev[0]), 10 * t))
        prev, new = new, probe(step)
        trials += 1
    if bracket is None:
        bracket = [start, new]

    # zoom: shrink the bracket; `low` indexes its end with the lower loss
    low = 0 if bracket[0][1] <= bracket[-1][1] else 1
    insufficient_progress = False
    while not done and trials < max_trials:
        if abs(bracket[1][0] - bracket[0][0]) * abs(d).max() < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket[1])
        left, right = sorted((bracket[0][0], bracket[1][0]))
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:
            # a trial hugging an end barely shrinks the bracket: allow it once, then pull it inside
            if insufficient_progress or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        new = probe(t)
        trials += 1
        _, f, _, gtd = new
        high = 1 - low
        if f > f0 + c1 * t * gtd0 or f >= bracket[low][1]:
            bracket[high] = new
            low = 0 if bracket[0][1] <= bracket[1][1] else 1
        else:
            if abs(gtd) <= -c2 * gtd0:
                done = True
            elif gtd * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]  # the minimum lies on the other side of the new point
            bracket[low] = new

    t, f, g, _ = bracket[low]
    return f, g, t, evaluations


def _cubic_minimum(a, b, bounds=None):
    """The minimiser of the cubic through two trial points with their slopes,
    clamped to ``bounds`` (default: the interval between them); the middle of
    the bounds when the cubic has no minimum."""
    lower, upper = bounds if bounds is not None else sorted((a[0], b[0]))
    if a[0] > b[0]:
        a, b = b, a
    (x1, f1, _, g1), (x2, f2, _, g2) = a, b
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        with numpy.errstate(divide="ignore", invalid="ignore"):  # where the cubic is flat: inf, clamped below
            x = x2 - (x2 - x1) * numpy.divide(g2 + d2 - d1, g2 - g1 + 2 * d2)
        return min(max(x, lower), upper)
    return (lower + upper) / 2
