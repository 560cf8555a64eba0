"""Module backward hooks: identity nodes around one module call.

When a module has backward hooks, ``Module.__call__`` passes the call's
tensor arguments, and later its tensor outputs, through ``_join``: each
tensor that requires grad is replaced by an identity (a ``BackwardHookTap``)
and all the taps of one side hang off one shared ``BackwardHookJoin`` node.
In backward a tap only records the gradient it receives; the engine runs the
join once every tap that the loss reaches has run, so it sees the
gradients of all the tensors of that side together, lets the hooks read or
replace them, and sends them on. The output side runs the pre-hooks; the
input side, reached after the module's own backward, runs the full hooks.
"""
import numpy

from ..autograd import Function
from ..tensor import Tensor


class BackwardHookJoin(Function):
    """Sends the gradients its taps collected on to the tapped tensors, once per backward."""

    saves_inputs = False

    def forward(self, *arrays, received, positions, on_grads):
        self.received = received
        self.positions = positions
        self.on_grads = on_grads
        return numpy.zeros(())  # a placeholder: only the taps read it

    def backward(self, grad):
        grads = tuple(self.received)
        self.received[:] = [None] * len(grads)  # ready for another backward with retain_graph
        grads = self.on_grads(grads)
        return tuple(grads[i] for i in self.positions)


class BackwardHookTap(Function):
    """The identity on its first input; its gradient goes to the join, not straight back."""

    saves_inputs = False
    is_view = True

    def forward(self, x, join, slot, received):
        self.slot = slot
        self.received = received
        return x.view()

    def backward(self, grad):
        self.received[self.slot] = grad
        # The tapped tensor hears from the join instead; the join needs any
        # gradient at all, so that the engine runs it.
        return None, Tensor._make(numpy.zeros(()), None, None)


def _join(values, on_grads):
    """``values`` with a tap in place of each tensor that requires grad.

    ``on_grads(grads)`` runs once per backward that reaches a tap, with one
    gradient per value (None where none arrived), and returns the gradients
    to pass on. Returns None when no value requires grad.
    """
    positions = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not positions:
        return None
    received = [None] * len(values)
    join = BackwardHookJoin.apply(*[values[i] for i in positions], received=received,
                                  positions=positions, on_grads=on_grads)
    tapped = list(values)
    for i in positions:
        tapped[i] = BackwardHookTap.apply(values[i], join, slot=i, received=received)
    return tapped


class BackwardHooks:
    """The backward hooks of one module call, and the gradients they are shown.

    The hook lists are copied at the call, as in PyTorch: removing a hook
    after the forward does not stop it for that forward's backward.
    """

    def __init__(self, module):
        self.module = module
        self.hooks = list(module._backward_hooks)
        self.pre_hooks = list(module._backward_pre_hooks)
        self.grad_output = None

    def tap_inputs(self, args):
        self.inputs = [(a.shape, a.dtype) if isinstance(a, Tensor) else None for a in args]  # no arrays kept
        tapped = _join(args, self._run_full_hooks)
        self.inputs_tapped = tapped is not None
        return args if tapped is None else tuple(tapped)

    def tap_outputs(self, output):
        single = isinstance(output, Tensor)
        if not single and not isinstance(output, tuple):
            return output  # as in PyTorch, hooks see only a tensor or the tensors of a tuple
        tapped = _join((output,) if single else output, self._run_pre_hooks)
        if tapped is None:
            return output
        if single:
            return tapped[0]
        return tuple(tapped) if type(output) is tuple else type(output)(*tapped)

    def _run_pre_hooks(self, grad_output):
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = self._replacement(result, grad_output, "a backward pre-hook", "grad_output")
        if self.inputs_tapped:
            self.grad_output = grad_output  # for the full hooks, when the input side is reached
        else:
            self._run_hooks_without_inputs(grad_output)
        return grad_output

    def _run_full_hooks(self, grads):
        grad_output, self.grad_output = self.grad_output, None
        if grad_output is None:
            # The gradient reached the inputs without passing through the
            # outputs (a double backward): there is nothing to show the hooks.
            return grads
        # PyTorch shows zeros for tensor arguments that got no gradient.
        grad_input = tuple(Tensor._make(numpy.zeros(*spec), None, None) if g is None and spec else g
                           for g, spec in zip(grads, self.inputs))
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                grad_input = self._replacement(result, grad_input, "a full backward hook", "grad_input")
        return grad_input

    def _run_hooks_without_inputs(self, grad_output):
        # No argument requires grad, so nothing leads back to the inputs:
        # the full hooks run now, with None for every grad_input.
        grad_input = (None,) * len(self.inputs)
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is not None and any(g is not None for g in result):
                raise RuntimeError(
                    f"{type(self.module).__name__}: a full backward hook returned gradients for "
                    f"the inputs, but none of them requires grad; return None instead"
                )

    def _replacement(self, result, previous, what, name):
        result = (result,) if isinstance(result, Tensor) else tuple(result)
        if len(result) != len(previous):
            raise RuntimeError(
                f"{type(self.module).__name__}: {what} returned {len(result)} gradients for {name}, "
                f"but the call has {len(previous)}; return a tuple with one entry (or None) per position"
            )
        return result
