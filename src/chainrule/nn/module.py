"""Module: the base of every layer and model.

Assigning a ``Parameter``, a ``Module`` or a registered buffer to an
attribute registers it, so ``parameters()``, ``state_dict()`` and ``train()``
find everything without the user listing it. Names and nesting follow
PyTorch, so state dicts carry the same keys (``0.weight``, ``fc1.bias`` …).
"""
from collections import OrderedDict, namedtuple

import numpy

from ..autograd import RemovableHandle, is_grad_enabled, no_grad
from ..dtypes import to_dtype
from ..tensor import Tensor
from .hooks import BackwardHooks
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class for layers and models: subclass it, assign sub-modules and
    parameters in ``__init__``, and write ``forward``.

    Example
    -------
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(4, 8)
    ...         self.out = nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    def __init__(self):
        set_attribute = object.__setattr__
        set_attribute(self, "training", True)
        set_attribute(self, "_parameters", OrderedDict())
        set_attribute(self, "_buffers", OrderedDict())
        set_attribute(self, "_non_persistent_buffers", set())
        set_attribute(self, "_modules", OrderedDict())
        set_attribute(self, "_forward_hooks", [])
        set_attribute(self, "_forward_pre_hooks", [])
        set_attribute(self, "_backward_hooks", [])
        set_attribute(self, "_backward_pre_hooks", [])

    # ---------------------------------------------------------------- registration

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, (Parameter, Module)):
            self._register(self._parameters if isinstance(value, Parameter) else self._modules, name, value)
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign an nn.Parameter or None, "
                                f"not {type(value).__name__}")
            self._parameters[name] = None
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a sub-module: assign a Module or None, "
                                f"not {type(value).__name__}")
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer: assign a Tensor or None, "
                                f"not {type(value).__name__}")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _register(self, registry, name, value):
        """Enter ``value`` in ``registry`` and drop ``name`` from everywhere else.

        A name already in ``registry`` keeps its place, as in PyTorch, so
        replacing a layer does not reorder ``state_dict()`` or the repr.
        """
        self._forget(name, keep=registry)
        registry[name] = value

    def _forget(self, name, keep=None):
        """Unregister ``name`` from the instance dict and every registry but ``keep``."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, got {type(param).__name__}")
        self._register(self._parameters, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is part of the module's state but not trained
        (running statistics, masks). Non-persistent buffers stay out of ``state_dict``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._register(self._buffers, name, tensor)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._register(self._modules, name, module)

    register_module = add_module

    # ---------------------------------------------------------------- calling

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in the subclass")

    def __call__(self, *args, **kwargs):
        for hook in self._forward_pre_hooks:
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        # Only a call with backward hooks puts identity nodes in the graph.
        backward_hooks = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward_hooks = BackwardHooks(self)
            args = backward_hooks.tap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hooks is not None:
            output = backward_hooks.tap_outputs(output)
        return output

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after ``forward``; a non-None return replaces the output."""
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before ``forward``; a non-None return replaces the arguments."""
        self._forward_pre_hooks.append(hook)
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` once the gradients of a
        call's inputs are computed.

        ``grad_output`` holds the gradients of the call's tensor outputs (a
        tensor or the tensors of a tuple), ``grad_input`` those of its
        positional arguments: None for a non-tensor, zeros for a tensor that
        received none. A non-None return (a tuple of the same length)
        replaces ``grad_input`` in the rest of backward. Hooks run in
        registration order, or first with ``prepend=True``. Returns a handle
        whose ``remove()`` detaches the hook.

        Example
        -------
        >>> layer = nn.Linear(3, 2)
        >>> handle = layer.register_full_backward_hook(
        ...     lambda module, grad_input, grad_output: (grad_input[0].clamp(-1, 1),))
        >>> layer(chainrule.randn(4, 3, requires_grad=True)).sum().backward()
        >>> handle.remove()
        """
        return _add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients of a call's
        outputs are known, before the module's own backward runs.

        A non-None return (a tuple with one entry per output) replaces
        ``grad_output`` for the module's backward and the full backward
        hooks. Returns a handle whose ``remove()`` detaches the hook.

        Example
        -------
        >>> layer = nn.Linear(3, 2)
        >>> handle = layer.register_full_backward_pre_hook(lambda module, grad_output: (grad_output[0] * 0.5,))
        >>> layer(chainrule.randn(4, 3)).sum().backward()   # layer.weight.grad is halved
        """
        return _add_hook(self._backward_pre_hooks, hook, prepend)

    # ---------------------------------------------------------------- traversal

    def named_modules(self, memo=None, prefix=""):
        """This module and every sub-module, each once, with dotted names."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        return (module for _, module in self.named_children())

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(name, parameter) pairs; a parameter shared by two modules appears once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        """Call ``fn`` on every sub-module (children first), then on self; returns self.

        Example: ``model.apply(init_weights)``.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- modes and dtypes

    def train(self, mode=True):
        """Set training mode (dropout active, batch norm updates its statistics) here and below.

        Each child's own ``train`` is called, so a layer that overrides it
        (to keep its statistics frozen, say) is obeyed, as in PyTorch.
        """
        self.training = bool(mode)
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode; the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of all parameters (to None by default, as in PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def to(self, dtype):
        """Convert floating-point parameters and buffers to ``dtype``, in place; returns self."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        dtype = to_dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"{type(self).__name__}.to: only floating-point dtypes are accepted, got {dtype}; "
                            "integer weights could not be trained")
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dtype)
        return self

    def float(self):
        return self.to(numpy.float32)

    def double(self):
        return self.to(numpy.float64)

    # ---------------------------------------------------------------- state

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name, as tensors sharing
        the module's arrays (``keep_vars=True`` returns the Parameters themselves)."""
        state = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                state[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                state[prefix + name] = b if keep_vars else b.detach()
        # NOTE: no de-duplication here, unlike named_modules(): a module
        # registered under two names is saved under both, as PyTorch does, so
        # the keys of the two libraries agree.
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(state, f"{prefix}{name}.", keep_vars)
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (chainrule tensors or NumPy arrays) into this module's
        parameters and buffers, by name.

        Every problem is collected before anything fails: missing keys,
        unexpected keys (both only with ``strict=True``) and shape mismatches
        (always) are reported together. Returns ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(numpy.shape(_as_array(state_dict[key])))
                if shape != target.shape:
                    mismatched.append(f"{key}: expected shape {target.shape}, got {shape}")
        problems = mismatched + ([f"missing key: {k}" for k in missing] +
                                 [f"unexpected key: {k}" for k in unexpected] if strict else [])
        if problems:
            raise RuntimeError(f"load_state_dict for {type(self).__name__} failed:\n  " + "\n  ".join(problems))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target.data[...] = _as_array(state_dict[key])
                    target._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- printing

    def extra_repr(self):
        """The text between the parentheses of this module's repr line."""
        return ""

    def __repr__(self):
        return _format_repr(self, [(name, repr(module)) for name, module in self._modules.items()])

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


def _add_hook(hooks, hook, prepend):
    hooks.insert(0 if prepend else len(hooks), hook)
    return RemovableHandle(hooks, hook)


def _as_array(value):
    return value.data if isinstance(value, Tensor) else numpy.asarray(value)


def _format_repr(module, children):
    """``Name(extra)`` alone, or one indented line per extra-repr line and per
    ``(label, child repr)`` pair, laid out exactly as PyTorch prints modules."""
    extra = module.extra_repr()
    if not children and "\n" not in extra:
        return f"{type(module).__name__}({extra})"
    lines = (extra.split("\n") if extra else []) + [f"({label}): " + _indent(text) for label, text in children]
    return f"{type(module).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _indent(text):
    return text.replace("\n", "\n  ")
