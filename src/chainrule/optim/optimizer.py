"""The optimiser base: parameter groups, per-parameter state, and its state dict.

An optimiser sees only parameters and their gradients. ``step`` walks the
parameters that have a gradient and hands each one's arrays to the
subclass's ``_update``, which changes the parameter in place with NumPy and
records nothing in the graph.
"""
import copy
from collections import defaultdict

import numpy

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class of the optimisers.

    Parameters
    ----------
    params : iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts
        The tensors to optimise, or parameter groups: dicts with a
        ``"params"`` entry and any per-group options, which override
        ``defaults``.
    defaults : dict
        The options of every group that does not set its own.

    Attributes
    ----------
    param_groups : list of dicts, each with ``"params"`` and every option.
    state : dict mapping each parameter to its own dict of buffers (empty
        until its first step).

    Subclasses implement ``_update(param, grad, state, group)`` on arrays.

    Example
    -------
    >>> w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> b = chainrule.tensor([0.0], requires_grad=True)
    >>> optimizer = chainrule.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> (w * w).sum().backward()
    >>> optimizer.step()          # b has no gradient, so it is skipped
    >>> w
    tensor([0.8, 1.6], requires_grad=True)
    """

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, "
                f"got a single Tensor; wrap it in a list: [tensor]"
            )
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key not in ("params", "param_names")]
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group):
        """Add a group of parameters, with its own options, to those being optimised.

        Useful to unfreeze layers part-way through training. Options the
        group does not set take the optimiser's defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be in an ordered collection (a list), not a set, "
                f"so that their order, and the state dict, is the same on every run"
            )
        params = list(params)
        named = [isinstance(p, tuple) for p in params]
        if any(named):
            if not all(named):
                raise ValueError(f"{name}: either every parameter comes with a name or none does")
            group["param_names"] = [p[0] for p in params]
            params = [p[1] for p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimise Tensors, got a {type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError(
                    f"{name}: can't optimise a non-leaf tensor (shape {p.shape}, made by {p.grad_fn!r}); "
                    f"optimise the leaf it was computed from, or detach() it and set requires_grad"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group holds the same tensor more than once")
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        if self.param_groups and any(("param_names" in g) != ("param_names" in group) for g in self.param_groups):
            raise ValueError(f"{name}: either every parameter group has names or none does")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimised parameters.

        Parameters
        ----------
        set_to_none : bool
            Set ``.grad`` to None (the default), so that the next ``step``
            skips parameters that get no new gradient. With False, the
            gradients are filled with zeros in place, and such parameters
            take a step with a zero gradient (which still moves them under
            momentum or weight decay).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                p.grad.requires_grad = False
                if p.grad.data.flags.writeable:
                    p.grad.data.fill(0)
                else:
                    p.grad.data = numpy.zeros_like(p.grad.data)
                p.grad._version[0] += 1

    def step(self, closure=None):
        """Update every parameter that has a gradient, once.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss; it runs with grad
            mode on, before the update, so it can call ``backward``.

        Returns
        -------
        The closure's loss, or None without a closure.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self._update(p.data, p.grad.data, self.state[p], group)
                    # NOTE: a graph that saved p before this step must not
                    # differentiate through the new values: bump its version.
                    p._version[0] += 1
        return loss

    def _update(self, param, grad, state, group):
        """Change the array ``param`` in place, given its gradient array,
        its state dict (empty on the first step) and its group's options."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    def state_dict(self):
        """The optimiser's state as plain data: NumPy arrays and Python numbers.

        Returns
        -------
        dict with two entries, as in PyTorch:

        ``"state"``
            maps each parameter's index (its position counting through all
            groups) to a copy of its buffers.
        ``"param_groups"``
            one dict per group: its options, and ``"params"``, the indices
            of its parameters.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {key: _copied(value) for key, value in buffers.items()}
            for p, buffers in self.state.items()
            if buffers and id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take the state and the group options from ``state_dict``.

        The optimiser must hold the same number of groups, of the same sizes,
        as the one that saved it; parameters are matched by position. Arrays
        are copied, and cast to their parameter's dtype.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"this optimiser has {len(self.param_groups)}"
            )
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} parameters "
                    f"in the state dict and {len(group['params'])} in this optimiser"
                )
        param_of = {
            index: p
            for saved, group in zip(saved_groups, self.param_groups)
            for index, p in zip(saved["params"], group["params"])
        }
        self.state = defaultdict(dict, {
            param_of[index]: {key: _copied(value, param_of[index].dtype) for key, value in buffers.items()}
            for index, buffers in state_dict["state"].items()
            if index in param_of
        })
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = {key: copy.deepcopy(value) for key, value in saved.items() if key != "params"}
            restored["params"] = group["params"]
            if "param_names" in group and "param_names" not in restored:
                restored["param_names"] = group["param_names"]
            new_groups.append(restored)
        self.param_groups = new_groups


def _copied(value, dtype=None):
    if isinstance(value, numpy.ndarray):
        return numpy.array(value, dtype=dtype, copy=True)
    return copy.deepcopy(value)


# ---------------------------------------------------------------- shared pieces of the update rules

def regularised_gradient(param, grad, group):
    """The gradient the update follows, after ``maximize`` and ``weight_decay``.

    The gradient is negated under ``maximize``. Weight decay is either
    coupled, ``grad + weight_decay * param`` (L2 regularisation), or, when
    the group has ``decoupled_weight_decay``, applied to the parameter
    itself: ``param *= 1 - lr * weight_decay``, in place. A new array is
    returned whenever it differs from ``grad``, so ``.grad`` is never changed.
    """
    if group["maximize"]:
        grad = -grad
    weight_decay = group["weight_decay"]
    if weight_decay != 0:
        if group.get("decoupled_weight_decay"):
            param *= 1 - group["lr"] * weight_decay
        else:
            grad = grad + weight_decay * param
    return grad


def lerp_(average, target, weight):
    """``average += weight * (target - average)``: an exponential moving average, in place."""
    delta = numpy.subtract(target, average)
    delta *= weight
    average += delta


def check_non_negative(owner, **values):
    """Raise ValueError naming the first of ``values`` that is negative (or NaN)."""
    for name, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"{owner}: invalid {name}={value!r}; it must be >= 0")


def check_betas(owner, betas):
    """Raise ValueError unless ``betas`` is a pair of numbers in [0, 1)."""
    if len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{owner}: invalid betas[{i}]={beta!r}; it must be in [0, 1)")
