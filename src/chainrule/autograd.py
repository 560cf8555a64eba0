"""Reverse-mode automatic differentiation: recording the graph and walking it back.

Every differentiable op is a ``Function`` subclass with a ``forward`` on
arrays and a ``backward`` on Tensors. ``Function.apply`` runs the forward and,
when grad mode is on and an input asks for gradients, keeps the node as the
output's ``grad_fn``. ``backward`` and ``grad`` walk those nodes in reverse
topological order without recursion, applying each node's vector-Jacobian
product and summing gradients where a tensor was used more than once.

VJPs are written with chainrule's own ops. During an ordinary backward grad
mode is off, so they compute plain arrays; with ``create_graph=True`` they
record, and gradients of gradients follow.
"""
import functools
import weakref

import numpy

from .backend import array_module, ensure_array, ndarray, shares_memory
from .tensor import Tensor


# --------------------------------------------------------------------------
# grad mode

class _GradMode:
    # NOTE: one process-wide flag, not thread-local: cheaper to read on every
    # op, and chainrule runs one training loop per process.
    enabled = True


def is_grad_enabled():
    """Whether ops currently record the graph."""
    return _GradMode.enabled


class set_grad_enabled:
    """Switch recording on or off; usable as a call, a context manager or a decorator."""

    def __init__(self, mode):
        self.previous = _GradMode.enabled
        self.mode = bool(mode)
        _GradMode.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.previous

    def __call__(self, fn):
        mode = self.mode
        _GradMode.enabled = self.previous

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _GradModeContext:
    mode = True

    def __enter__(self):
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.previous

    def __call__(self, fn):
        context = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with context():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator in which ops record no graph.

    Example
    -------
    >>> with chainrule.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    mode = True


class _AnomalyMode:
    enabled = False
    in_backward = 0  # ops run by a VJP are checked as that VJP's result, not one by one


class detect_anomaly(_GradModeContext):
    """Context manager and decorator that finds where NaN or Inf first appears.

    Inside it, an op whose forward turns finite inputs into NaN/Inf, or whose
    backward turns a finite gradient into NaN/Inf, raises an error naming the
    op and the line of your code that called it. Only runs in this mode pay
    for the checks and for recording where each op was called.

    Example
    -------
    >>> with chainrule.autograd.detect_anomaly():
    ...     loss = model(x).log().sum()
    ...     loss.backward()
    FloatingPointError: log produced NaN/Inf in its forward pass, called at train.py:12: ...
    """

    def __enter__(self):
        self.previous = _AnomalyMode.enabled
        _AnomalyMode.enabled = True
        return self

    def __exit__(self, *exc):
        _AnomalyMode.enabled = self.previous


def _user_frame():
    """The innermost stack frame outside chainrule: where the user called the op."""
    import os
    import traceback
    package = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(package):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


def _all_finite(array):
    return array.dtype.kind not in "fc" or bool(array_module(array).isfinite(array).all())


def _check_forward(node, inputs, out):
    if _AnomalyMode.in_backward:
        return
    node.created_at = _user_frame()
    if not _all_finite(out) and all(_all_finite(t.data) for t in inputs):
        raise FloatingPointError(
            f"{node.op_name()} produced NaN/Inf in its forward pass from finite inputs "
            f"(shapes {[t.shape for t in inputs]}), called at {node.created_at}"
        )


def _checked_backward(node, grad):
    _AnomalyMode.in_backward += 1
    try:
        input_grads = node.backward(grad)
    finally:
        _AnomalyMode.in_backward -= 1
    _check_backward(node, input_grads if type(input_grads) is tuple else (input_grads,))
    return input_grads


def _check_backward(node, input_grads):
    for position, grad in enumerate(input_grads):
        if grad is not None and not _all_finite(grad.data):
            raise FloatingPointError(
                f"{node.op_name()} produced NaN/Inf in the gradient of its input {position} "
                f"during backward; the op was called at {node.__dict__.get('created_at', '<outside detect_anomaly>')}"
            )


# --------------------------------------------------------------------------
# the node

class Function:
    """A primitive op: ``forward`` maps arrays to an array, ``backward`` maps
    the output's gradient to one gradient per input (Tensors, or None).

    A subclass keeps on ``self`` what its backward needs. ``self.inputs``
    holds the input Tensors while the node is part of a live graph.
    ``backward`` may return a gradient in the broadcast (output) shape; the
    engine sums it back to each input's shape.

    Class attributes a subclass may set:

    ``saves_inputs``
        backward reads the inputs' values (False for add, reshape …), so an
        in-place change to an input after the forward must be caught.
    ``is_view``
        the output may share memory with the first input, so both share
        one version counter.
    ``saves_output``
        keep the forward's output array for ``self.output()``.
    """

    saves_inputs = True
    is_view = False
    saves_output = False
    edges = None  # set per node while recording; None again once released

    @classmethod
    def apply(cls, *inputs, **params):
        # NOTE: the hot path of every op; kept flat (no helper calls) on purpose.
        node = cls.__new__(cls)
        try:
            out = node.forward(*[t.data for t in inputs], **params)
        except (ValueError, IndexError, TypeError) as err:
            raise _op_error(cls, inputs, err) from None
        if type(out) is not ndarray:
            out = ensure_array(out)
        if _AnomalyMode.enabled:
            _check_forward(node, inputs, out)
        result = Tensor.__new__(Tensor)
        result.data = out
        result.grad = None
        result.grad_fn = None
        result.requires_grad = False
        result._hooks = None
        if cls.is_view and shares_memory(out, inputs[0].data):
            result._version = inputs[0]._version
        else:
            result._version = [0]
        if not _GradMode.enabled:
            return result
        edges = []
        records = False
        for t in inputs:
            edge = t.grad_fn
            if edge is None and t.requires_grad:
                edge = t
            if edge is not None:
                records = True
            edges.append(edge)
        if not records:
            return result
        node.edges = edges
        node.inputs = inputs
        node.params = params
        result.grad_fn = node
        result.requires_grad = True
        if cls.saves_inputs:
            node.versions = [t._version[0] for t in inputs]
            if cls.saves_output:
                node.out = out
                node.out_version = result._version
                node.versions.append(result._version[0])
        return result

    @classmethod
    def op_name(cls):
        return cls.__name__.lower()

    def output(self):
        """The forward's output as a Tensor for use in ``backward``.

        While recording (``create_graph=True``) it is recomputed from the
        inputs, so that its dependence on them is part of the new graph;
        otherwise the saved array is wrapped. Saving the output Tensor itself
        would make a reference cycle through its own ``grad_fn``.
        """
        if _GradMode.enabled:
            return type(self).apply(*self.inputs, **self.params)
        return Tensor._make(self.out, None, None)

    def check_versions(self):
        for t, version in zip(self.inputs, self.versions):
            if t._version[0] != version:
                self._version_error(t._version[0], version)
        if self.saves_output and self.out_version[0] != self.versions[-1]:
            self._version_error(self.out_version[0], self.versions[-1])

    def _version_error(self, current, version):
        raise RuntimeError(
            f"{self.op_name()}: a tensor it saved for backward was "
            f"modified by an in-place operation after it was used: "
            f"it is at version {current}, the "
            f"backward pass needs version {version}. Use an "
            f"out-of-place op (x = x + y instead of x += y), or "
            f"clone() the tensor before changing it."
        )

    def release(self):
        """Drop everything the backward needed; the node can no longer run."""
        self.__dict__.clear()

    @property
    def next_functions(self):
        return tuple(self.edges or ())

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


def _op_error(cls, inputs, err):
    shapes = " and ".join(str(t.shape) for t in inputs)
    return type(err)(f"{cls.op_name()}: {str(err).strip()} (got input shapes {shapes})")


# --------------------------------------------------------------------------
# walking the graph backwards

def _freed_error(node):
    return RuntimeError(
        f"backward: the graph through {node!r} was already freed by an "
        f"earlier backward() or grad(). Pass retain_graph=True to the first "
        f"call if you need to run backward through the same graph twice."
    )


def _count_dependencies(roots):
    """For every node and leaf reachable from ``roots``: how many edges lead into it."""
    dependencies = {}
    stack = [node for node in roots if isinstance(node, Function)]
    for node in stack:
        dependencies[node] = 0
    while stack:
        node = stack.pop()
        if node.edges is None:
            raise _freed_error(node)
        for parent in node.edges:
            if parent is None:
                continue
            if parent in dependencies:
                dependencies[parent] += 1
            else:
                dependencies[parent] = 1
                if not isinstance(parent, Tensor):
                    stack.append(parent)
    return dependencies


def _accumulate(store, key, grad):
    previous = store.get(key)
    store[key] = grad if previous is None else previous + grad


def _run_hooks(hooks, grad):
    for hook in hooks:
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def _execute(roots, root_grads, retain_graph, create_graph, capture=None, on_leaf=None, wanted=None):
    """Propagate ``root_grads`` from ``roots`` to every leaf that requires grad.

    ``on_leaf(leaf, grad)`` is called with a leaf's summed gradient as soon as
    the last edge into it is done (so that, say, a data-parallel hook can send
    it while the rest of backward runs); leaves it is not called for are
    returned as a dict with their gradients. ``capture`` maps non-leaf
    tensors' nodes to the tensors whose gradient the caller wants back (for
    ``grad``); their totals are returned too. With ``wanted`` (the leaves and
    nodes whose gradients the caller asked for), a node's backward runs only
    if one of them lies below it: no work, and no module hook, off the paths
    asked for.
    """
    grads = {}
    leaf_grads = {}
    for root, grad in zip(roots, root_grads):
        vertex = root.grad_fn if root.grad_fn is not None else root
        _accumulate(leaf_grads if isinstance(vertex, Tensor) else grads, vertex, grad)
    dependencies = _count_dependencies(grads)
    leading = None if wanted is None else _nodes_leading_to(list(grads), set(wanted))
    ready = [node for node in grads if dependencies[node] == 0]
    captured = {}
    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            grad = grads.pop(node, None)
            run = leading is None or node in leading
            if grad is None or not (run or node in capture):
                # Every path into this node sent None, or nothing asked for lies
                # below it: it passes no gradient on, but its parents must still
                # hear that this edge is done.
                input_grads = ()
            else:
                input_grads = _node_backward(node, grad, create_graph, capture, captured, run)
            for position, parent in enumerate(node.edges):
                if parent is None:
                    continue
                input_grad = input_grads[position] if position < len(input_grads) else None
                if input_grad is not None:
                    tensor = node.inputs[position]
                    if input_grad.data.shape != tensor.data.shape or input_grad.data.dtype != tensor.data.dtype:
                        input_grad = _conform(input_grad, tensor, node)
                if isinstance(parent, Tensor):
                    if input_grad is not None:
                        previous = leaf_grads.get(parent)
                        leaf_grads[parent] = input_grad if previous is None else previous + input_grad
                    dependencies[parent] -= 1
                    if on_leaf is not None and dependencies[parent] == 0 and parent in leaf_grads:
                        on_leaf(parent, leaf_grads.pop(parent))
                    continue
                if input_grad is not None:
                    previous = grads.get(parent)
                    grads[parent] = input_grad if previous is None else previous + input_grad
                dependencies[parent] -= 1
                if dependencies[parent] == 0:
                    ready.append(parent)
            if not retain_graph:
                node.release()
    return leaf_grads, captured


def _nodes_leading_to(roots, wanted):
    """The nodes reachable from ``roots`` below which (through their edges) some vertex of ``wanted``
    lies; each parent is settled before its children (a DAG), without recursion."""
    leading, done = set(), set()
    stack = [(node, False) for node in roots]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            if any(parent in wanted or parent in leading for parent in node.edges if parent is not None):
                leading.add(node)
            continue
        if node in done:
            continue
        done.add(node)
        stack.append((node, True))
        stack.extend((parent, False) for parent in node.edges
                     if parent is not None and not isinstance(parent, Tensor) and parent not in done)
    return leading


def _node_backward(node, grad, create_graph, capture, captured, run=True):
    """Run one node's hooks and, if ``run``, its backward; its input gradients as a tuple
    (empty when the backward did not run)."""
    hooks = node.__dict__.get("tensor_hooks")
    if hooks:
        grad = _run_hooks(hooks, grad)
    retained = node.__dict__.get("retained")
    if retained is not None and retained() is not None:
        retained().grad = grad if create_graph else grad.detach()
    if capture is not None and node in capture:
        captured[capture[node]] = grad
    if not run:
        return ()
    if node.saves_inputs:
        node.check_versions()
    if _AnomalyMode.enabled:
        input_grads = _checked_backward(node, grad)
    else:
        input_grads = node.backward(grad)
    return input_grads if type(input_grads) is tuple else (input_grads,)


def _conform(grad, tensor, node):
    """Sum a gradient back to its input's shape and keep the input's dtype."""
    if grad.shape != tensor.shape:
        if not _broadcasts_to(tensor.shape, grad.shape):
            raise RuntimeError(
                f"{node.op_name()}: backward produced a gradient of shape "
                f"{grad.shape} for an input of shape {tensor.shape}"
            )
        grad = sum_to_shape(grad, tensor.shape)
    if grad.dtype != tensor.dtype:
        grad = grad.to(tensor.dtype)
    return grad


def _broadcasts_to(shape, target):
    if len(shape) > len(target):
        return False
    return all(n == 1 or n == m for n, m in zip(reversed(shape), reversed(target)))


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so that
    it takes ``shape``. The one place where broadcasting is undone."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    if not _broadcasts_to(shape, grad.shape):
        raise ValueError(f"sum_to_shape: shape {shape} does not broadcast to {grad.shape}")
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if not _GradMode.enabled:  # an ordinary backward: no graph to record, so skip the op machinery
        return Tensor._make(grad.data.sum(axis=axes).reshape(shape), None, None)
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def _seed_gradients(tensors, grad_tensors, caller):
    seeds = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(
                f"{caller}: element {i} of the outputs (shape {t.shape}) does "
                f"not require grad and has no grad_fn; is it computed from a "
                f"tensor with requires_grad=True, outside no_grad()?"
            )
        if g is None:
            if t.numel() != 1:
                raise RuntimeError(
                    f"{caller}: gradient can be created implicitly only for a "
                    f"scalar output, got shape {t.shape}; pass a `gradient` of "
                    f"that shape (e.g. ones_like(output))"
                )
            g = Tensor._make(array_module(t.data).ones_like(t.data), None, None)
        else:
            g = g if isinstance(g, Tensor) else Tensor(g)
            if g.shape != t.shape:
                raise RuntimeError(
                    f"{caller}: gradient has shape {g.shape} but the output it "
                    f"belongs to has shape {t.shape}"
                )
        seeds.append(g)
    return seeds


def _as_list(tensors):
    if tensors is None:
        return None
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of every leaf
    that requires grad. See ``Tensor.backward``."""
    tensors = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors) or [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed_gradients(tensors, grad_tensors, "backward")
    handed_out = {id(g.data) for g in seeds}

    def accumulate_into_leaf(leaf, grad):
        grad = _run_hooks(leaf._hooks, grad) if leaf._hooks else grad
        if create_graph:
            leaf.grad = grad if leaf.grad is None else leaf.grad + grad
        elif leaf.grad is None:
            leaf.grad = _owned(grad, handed_out)
        elif leaf.grad.data.flags.writeable:
            leaf.grad.data += grad.data
        else:
            leaf.grad = Tensor._make(leaf.grad.data + grad.data, None, None)

    leaf_grads, _ = _execute(tensors, seeds, retain_graph, create_graph, on_leaf=accumulate_into_leaf)
    for leaf, grad in leaf_grads.items():  # leaves that were roots themselves
        accumulate_into_leaf(leaf, grad)


def _owned(grad, handed_out):
    """``grad`` as a Tensor whose array no other tensor or gradient shares.

    An op's backward may hand the same array to two inputs (add) or return a
    read-only broadcast view (sum); a leaf's ``.grad`` must be its own
    writable array, since optimisers update it in place.
    """
    data = grad.data
    if id(data) in handed_out or not data.flags.owndata or not data.flags.writeable:
        data = data.copy()
    handed_out.add(id(data))
    return Tensor._make(data, None, None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned as a
    tuple instead of accumulated into ``.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
    inputs : Tensor or sequence of Tensors (leaves or intermediate results)
    grad_outputs : the vector in the vector-Jacobian product; ones for scalars
    retain_graph : keep the graph for another backward (default: create_graph)
    create_graph : record the backward pass, so the result can be differentiated
    allow_unused : return None for an input the outputs do not depend on,
        instead of raising

    Example
    -------
    >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = chainrule.grad((x ** 3).sum(), x, create_graph=True)
    >>> chainrule.grad(g.sum(), x)       # second derivative: 6 x
    (tensor([ 6., 12.]),)
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    seeds = _seed_gradients(outputs, grad_outputs, "grad")
    capture = {t.grad_fn: t for t in inputs if t.grad_fn is not None}
    leaf_grads, captured = _execute(outputs, seeds, retain_graph, create_graph, capture,
                                    wanted=[t.grad_fn if t.grad_fn is not None else t for t in inputs])
    results = []
    for i, t in enumerate(inputs):
        if t.grad_fn is not None:
            g = captured.get(t)
        else:
            g = leaf_grads.get(t)
            if g is not None and t._hooks:
                g = _run_hooks(t._hooks, g)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the "
                f"outputs; pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph:
            g = g.detach()
        results.append(g)
    return tuple(results)


def assign_inplace(tensor, function, *args, **kwargs):
    """Make ``tensor`` hold ``function(tensor, *args, **kwargs)``, in its own
    memory, as in-place ops do.

    When the result is recorded, the function runs on a snapshot of the old
    values and ``tensor`` takes over the new node, so later ops differentiate
    through the change while earlier nodes keep the values they saw.
    """
    recording = _GradMode.enabled and (
        tensor.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
    )
    if recording and tensor.requires_grad and tensor.grad_fn is None:
        raise RuntimeError(
            f"in-place operation on a leaf tensor (shape {tensor.shape}) that "
            f"requires grad: its gradient would refer to values that no longer "
            f"exist. Do it inside chainrule.no_grad(), or on a clone()."
        )
    if recording and not tensor.data.flags.owndata:
        raise RuntimeError(
            f"in-place operation on a view (shape {tensor.shape}) while recording: the "
            f"change would also reach the tensor it views, which the graph would not "
            f"know. Write into that tensor directly (x[1, 0] = v rather than "
            f"x[1][0] = v), or clone() the view first."
        )
    source = Tensor._make(tensor.data.copy(), tensor.grad_fn, None) if recording else tensor
    result = function(source, *args, **kwargs)
    if not numpy.can_cast(result.dtype, tensor.dtype, "same_kind"):
        raise TypeError(
            f"in-place operation: the result is {result.dtype}, which cannot be stored "
            f"in this {tensor.dtype} tensor; use the out-of-place form (x = x + y)"
        )
    if result.shape != tensor.shape:
        raise ValueError(
            f"in-place operation: the result has shape {result.shape}, which "
            f"does not fit the tensor's shape {tensor.shape}"
        )
    tensor.data[...] = result.data
    if result.grad_fn is not None:
        tensor.grad_fn = result.grad_fn
        tensor.requires_grad = True
    tensor._version[0] += 1
    return tensor


def register_tensor_hook(tensor, hook):
    """Attach ``hook`` to ``tensor``'s gradient; see ``Tensor.register_hook``."""
    if tensor.grad_fn is None:
        if tensor._hooks is None:
            tensor._hooks = []
        hooks = tensor._hooks
    else:
        hooks = tensor.grad_fn.__dict__.setdefault("tensor_hooks", [])
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def retain_tensor_grad(tensor):
    if tensor.grad_fn is not None:
        tensor.grad_fn.retained = weakref.ref(tensor)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` detaches the hook."""

    def __init__(self, hooks, hook):
        self.hooks = hooks
        self.hook = hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
