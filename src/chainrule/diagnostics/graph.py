"""Draw the graph that backpropagation walks, as Graphviz DOT.

``draw_graph(loss)`` follows ``loss.grad_fn`` back through every node's
``edges`` and ``inputs``: one box per op (its name and output shape), one
per leaf that requires grad (its name, shape, and for small tensors its
values and gradient), and a dashed one per constant input (data, masks).
Edges point the way the forward pass ran, so the loss is at the bottom.

With ``color_by="grad_norm"`` each node is filled by the norm of the
gradient flowing into its output, on a log scale from blue (smallest) to
red (largest): the layer where gradients die or blow up stands out. The
gradients come from a backward pass of our own, run through the live graph
with ``retain_graph=True`` and a hook on every node (``autograd.grad``, so
no ``.grad`` is touched): call ``draw_graph`` before your ``backward()``,
or after ``backward(retain_graph=True)``, while the graph still exists.
"""
import math
import os
import shutil
import subprocess
import warnings

import numpy

from ..autograd import Function, grad
from ..files import atomic_write
from ..tensor import Tensor

RENDERED_FORMATS = ("svg", "png", "pdf")
DOT_SUFFIXES = (".dot", ".gv")

# a blue-to-red scale through light grey (the ends of the "coolwarm" map)
_LOW, _MIDDLE, _HIGH = (59, 76, 192), (221, 221, 221), (180, 4, 38)
_ZERO_FILL = "#9e9e9e"  # a gradient of exactly zero: nothing flows here
_NON_FINITE_FILL = "#ff00ff"  # NaN or Inf


def draw_graph(tensor, path=None, color_by=None, max_value_elements=6, names=None):
    """The DOT source of the graph that produced ``tensor``.

    Parameters
    ----------
    tensor : a Tensor with a live graph (before ``backward()``, or after
        ``backward(retain_graph=True)``)
    path : optional file to write: ``.dot``/``.gv`` gets the DOT source;
        ``.svg``, ``.png`` or ``.pdf`` is rendered with Graphviz's ``dot``
        when it is installed, and otherwise the DOT source is written beside
        it (same name, ``.dot``) with a warning that says so
    color_by : None, or ``"grad_norm"`` to fill nodes by the norm of the
        gradient of ``tensor.sum()`` with respect to each node's output
        (log scale; grey: exactly zero; magenta: NaN/Inf)
    max_value_elements : leaves and constants with at most this many
        elements show their values (and leaves their gradient)
    names : a Module, or a dict of name -> Tensor, to label leaves by name
        (e.g. ``model`` labels parameters ``0.weight``, ``0.bias`` …)

    Returns
    -------
    str, the DOT source.

    Example
    -------
    >>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> print(draw_graph(loss, color_by="grad_norm"))      # doctest: +ELLIPSIS
    digraph chainrule {...
    >>> draw_graph(model(x).sum(), "graph.svg", names=model)   # needs Graphviz for the SVG
    """
    if color_by not in (None, "grad_norm"):
        raise ValueError(f"draw_graph: color_by must be None or 'grad_norm', got {color_by!r}")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError("draw_graph: the tensor has no graph (it does not require grad); was it computed "
                         "from parameters or tensors with requires_grad=True, outside no_grad()?")
    graph = _walk(tensor)
    norms, leaf_gradients = _node_gradients(tensor, graph) if color_by == "grad_norm" else (None, {})
    source = _to_dot(tensor, graph, norms, leaf_gradients, max_value_elements, _leaf_names(names))
    if path is not None:
        _write(source, os.fspath(path))
    return source


class _Graph:
    """The nodes reachable from a tensor, in the order they were found."""

    def __init__(self):
        self.ids = {}  # id(op node or leaf) -> DOT identifier
        self.ops = []  # Function nodes
        self.leaves = []  # Tensors that require grad
        self.constants = []  # (identifier, Tensor) inputs that do not require grad
        self.edges = []  # (from identifier, to identifier), in forward direction
        self.output_shapes = {}  # id(op node) -> shape of its output

    def identify(self, item):
        key = id(item)
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
            (self.ops if isinstance(item, Function) else self.leaves).append(item)
        return self.ids[key]


def _walk(tensor):
    graph = _Graph()
    if tensor.grad_fn is None:
        graph.identify(tensor)
        return graph
    root = tensor.grad_fn
    graph.output_shapes[id(root)] = tensor.shape
    graph.identify(root)
    stack = [root]
    expanded = set()
    while stack:
        node = stack.pop()
        if id(node) in expanded:
            continue
        expanded.add(id(node))
        if node.edges is None:
            raise RuntimeError(
                f"draw_graph: the graph through {node!r} was already freed by backward(). Call draw_graph "
                f"before backward(), or pass retain_graph=True to backward().")
        target = graph.ids[id(node)]
        for position, (parent, value) in enumerate(zip(node.edges, node.inputs)):
            if parent is None:
                identifier = f"{target}_in{position}"
                graph.constants.append((identifier, value))
                graph.edges.append((identifier, target))
                continue
            if isinstance(parent, Function):
                graph.output_shapes.setdefault(id(parent), value.shape)
                if id(parent) not in graph.ids:
                    stack.append(parent)
            graph.edges.append((graph.identify(parent), target))
    return graph


def _node_gradients(tensor, graph):
    """From one backward pass of ``tensor.sum()`` with hooks: the norm of the
    gradient with respect to each node's output and each leaf (keyed by id),
    and each leaf's gradient (keyed by id)."""
    norms = {}
    handles = []

    def recorder(key):
        def hook(gradient):
            norms[key] = _norm(gradient.data)
        return hook

    for node in graph.ops:
        # A stand-in tensor for the node's output: hooks registered on it
        # fire with the gradient the engine hands to that node.
        stand_in = Tensor._make(None, node, None)
        handles.append(stand_in.register_hook(recorder(id(node))))
    seed = Tensor(numpy.ones(tensor.shape, dtype=tensor.dtype))
    try:
        leaf_gradients = grad(tensor, graph.leaves, grad_outputs=seed, retain_graph=True, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    gradients = {}
    for leaf, gradient in zip(graph.leaves, leaf_gradients):
        norms[id(leaf)] = _norm(gradient.data) if gradient is not None else 0.0
        gradients[id(leaf)] = gradient
    return norms, gradients


def _norm(array):
    with numpy.errstate(over="ignore", invalid="ignore"):
        return float(numpy.linalg.norm(numpy.asarray(array, dtype=numpy.float64).reshape(-1)))


def _leaf_names(names):
    if names is None:
        return {}
    pairs = names.named_parameters() if hasattr(names, "named_parameters") else names.items()
    return {id(t): name for name, t in pairs}


# ---------------------------------------------------------------- DOT text

def _to_dot(tensor, graph, norms, leaf_gradients, max_value_elements, leaf_names):
    """The DOT text; ``norms`` (None when not colouring) fills the nodes."""
    scale = None if norms is None else _ColourScale(norms.values())
    lines = ["digraph chainrule {",
             '  graph [rankdir=TB, fontname="Helvetica", fontsize=10];',
             '  node [fontname="Helvetica", fontsize=10, style="rounded,filled", shape=box, fillcolor="#eeeeee"];',
             '  edge [arrowsize=0.6];']
    root = tensor.grad_fn if tensor.grad_fn is not None else tensor
    for node in graph.ops:
        label = [node.op_name(), _shape(graph.output_shapes.get(id(node)))]
        attributes = {}
        if node is root:
            label.append("(output)")
            attributes["peripheries"] = "2"
        _colour(attributes, label, norms, id(node), scale)
        lines.append(_node_line(graph.ids[id(node)], label, attributes))
    for leaf in graph.leaves:
        label = [leaf_names.get(id(leaf), "leaf"), _shape(leaf.shape)]
        if leaf.numel() <= max_value_elements:
            label.append("value " + _values(leaf.data))
            gradient = leaf_gradients.get(id(leaf), leaf.grad)
            if gradient is not None:
                label.append("grad " + _values(gradient.data))
        attributes = {"shape": "box", "style": "filled", "fillcolor": "#cfe2f3"}
        if leaf is root:
            attributes["peripheries"] = "2"
        _colour(attributes, label, norms, id(leaf), scale)
        lines.append(_node_line(graph.ids[id(leaf)], label, attributes))
    for identifier, value in graph.constants:
        label = ["constant", _shape(value.shape)]
        if value.numel() <= max_value_elements:
            label.append(_values(value.data))
        lines.append(_node_line(identifier, label, {"style": "dashed", "fontcolor": "#666666", "color": "#999999"}))
    for source, target in graph.edges:
        lines.append(f"  {source} -> {target};")
    if scale is not None:
        lines.append(_node_line("legend", [scale.legend()], {"shape": "plaintext", "style": "", "fontsize": "9"}))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _colour(attributes, label, norms, key, scale):
    norm = None if norms is None else norms.get(key)
    if norm is None:
        return
    label.append(f"|grad| {norm:.2g}")
    attributes["fillcolor"] = scale.fill(norm)
    if attributes["fillcolor"] in (_ZERO_FILL, _NON_FINITE_FILL) or scale.is_extreme(norm):
        attributes["fontcolor"] = "white"


class _ColourScale:
    """Maps gradient norms to colours by log10, between the smallest and the largest non-zero finite one."""

    def __init__(self, norms):
        logs = [math.log10(n) for n in norms if n is not None and math.isfinite(n) and n > 0]
        self.low, self.high = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def position(self, norm):
        if self.high - self.low < 1e-12:
            return 0.5
        return (math.log10(norm) - self.low) / (self.high - self.low)

    def fill(self, norm):
        if not math.isfinite(norm):
            return _NON_FINITE_FILL
        if norm == 0:
            return _ZERO_FILL
        t = self.position(norm)
        start, end, t = (_LOW, _MIDDLE, 2 * t) if t < 0.5 else (_MIDDLE, _HIGH, 2 * t - 1)
        return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(start, end))

    def is_extreme(self, norm):
        return math.isfinite(norm) and norm > 0 and abs(self.position(norm) - 0.5) > 0.35

    def legend(self):
        return (f"fill: |grad| on a log scale, blue 1e{self.low:+.1f} to red 1e{self.high:+.1f}; "
                f"grey: zero gradient; magenta: NaN/Inf")


def _node_line(identifier, label, attributes):
    text = "\\n".join(_escape(part) for part in label)
    extras = "".join(f', {key}="{value}"' for key, value in attributes.items())
    return f'  {identifier} [label="{text}"{extras}];'


def _escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _shape(shape):
    return "()" if shape is None else str(tuple(shape))


def _values(array):
    array = numpy.asarray(array)
    if array.ndim == 0:
        return f"{array.item():.4g}"
    text = numpy.array2string(array, precision=4, separator=", ", suppress_small=True, max_line_width=10_000)
    return " ".join(text.split())


# ---------------------------------------------------------------- files

def _write(source, path):
    stem, suffix = os.path.splitext(path)
    suffix = suffix.lower()
    if suffix in DOT_SUFFIXES:
        _write_text(path, source)
        return
    if suffix.lstrip(".") not in RENDERED_FORMATS:
        raise ValueError(f"draw_graph: path must end in {', '.join(DOT_SUFFIXES)} or "
                         f"{', '.join('.' + f for f in RENDERED_FORMATS)}, got {path!r}")
    dot = shutil.which("dot")
    if dot is None:
        fallback = stem + ".dot"
        _write_text(fallback, source)
        warnings.warn(
            f"draw_graph: Graphviz's `dot` is not installed, so {path} was not drawn; the DOT source was "
            f"written to {fallback} instead. Install Graphviz (apt install graphviz, brew install graphviz, "
            f"or conda install graphviz) and run: dot -T{suffix.lstrip('.')} {fallback} -o {path}",
            RuntimeWarning, stacklevel=3)
        return
    rendered = subprocess.run([dot, f"-T{suffix.lstrip('.')}"], input=source.encode(), capture_output=True,
                              check=False)
    if rendered.returncode != 0:
        raise RuntimeError(f"draw_graph: `dot` failed to render {path}: {rendered.stderr.decode().strip()}")
    with atomic_write(path, "wb") as f:
        f.write(rendered.stdout)


def _write_text(path, text):
    with atomic_write(path, "w") as f:
        f.write(text)
