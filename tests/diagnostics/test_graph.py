"""draw_graph: one DOT node per op, labels with shapes and small values, gradient colouring, files."""
import re
import shutil

import numpy
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.diagnostics import draw_graph
from chainrule.diagnostics import graph as graph_module


def nodes(source):
    """DOT identifier -> label, for every node line."""
    return dict(re.findall(r'^\s+(\w+) \[label="([^"]*)"', source, flags=re.MULTILINE))


def attributes(source, identifier):
    line = re.search(rf'^\s+{identifier} \[(.*)\];$', source, flags=re.MULTILINE).group(1)
    return dict(re.findall(r'(\w+)="([^"]*)"', line))


def edges(source):
    return re.findall(r"^\s+(\w+) -> (\w+);$", source, flags=re.MULTILINE)


def op_names(source):
    return sorted(label.split("\\n")[0] for label in nodes(source).values()
                  if label.split("\\n")[0] not in ("leaf", "constant") and "." not in label.split("\\n")[0])


def leaf(*shape, seed=0):
    return cr.tensor(numpy.random.default_rng(seed).standard_normal(shape), requires_grad=True)


GRAPHS = [
    # (name, build the output from leaves a (2, 3) and b (3,), the op nodes expected)
    ("sum of a product", lambda a, b: (a * b).sum(), ["mul", "sum"]),
    ("tanh and mean", lambda a, b: (a * b).tanh().mean(), ["mean", "mul", "tanh"]),
    ("a result used twice", lambda a, b: (lambda c: (c * c).sum())(a + b), ["add", "mul", "sum"]),
    ("the same op called twice", lambda a, b: ((a + b) * (a + b)).sum(), ["add", "add", "mul", "sum"]),
    ("broadcast and exp", lambda a, b: (a.exp() - b).sum(), ["exp", "sub", "sum"]),
]


@pytest.mark.parametrize("name, build, expected_ops", GRAPHS, ids=[case[0] for case in GRAPHS])
def test_one_node_per_op_and_one_per_leaf(name, build, expected_ops):
    a, b = leaf(2, 3), leaf(3, seed=1)
    source = draw_graph(build(a, b))
    assert source.startswith("digraph chainrule {") and source.rstrip().endswith("}")
    assert op_names(source) == expected_ops
    leaves = [label for label in nodes(source).values() if label.startswith("leaf")]
    assert len(leaves) == 2
    assert all(source_id in nodes(source) and target_id in nodes(source) for source_id, target_id in edges(source))


def test_a_result_used_twice_is_one_node_with_two_edges():
    a, b = leaf(2, 3), leaf(3, seed=1)
    c = a + b
    source = draw_graph((c * c).sum())
    labels = nodes(source)
    add = next(i for i, label in labels.items() if label.startswith("add"))
    mul = next(i for i, label in labels.items() if label.startswith("mul"))
    assert edges(source).count((add, mul)) == 2


def test_labels_carry_output_shapes_and_the_output_is_marked():
    a, b = leaf(2, 3), leaf(3, seed=1)
    source = draw_graph((a * b).sum(dim=1).tanh().sum())
    labels = nodes(source)
    by_op = {label.split("\\n")[0]: label for label in labels.values() if not label.startswith("sum\\n()")}
    assert by_op["mul"] == "mul\\n(2, 3)" and by_op["tanh"] == "tanh\\n(2,)" and by_op["sum"] == "sum\\n(2,)"
    (root,) = [identifier for identifier, label in labels.items() if label == "sum\\n()\\n(output)"]
    assert attributes(source, root)["peripheries"] == "2"


def test_small_leaves_show_values_and_gradients_large_ones_only_their_shape():
    small = cr.tensor([1.0, -2.0], requires_grad=True)
    large = cr.tensor(numpy.ones(7), requires_grad=True)
    loss = (small * small).sum() + large.sum()
    loss.backward(retain_graph=True)
    labels = list(nodes(draw_graph(loss)).values())
    assert "leaf\\n(2,)\\nvalue [ 1., -2.]\\ngrad [ 2., -4.]" in labels
    assert "leaf\\n(7,)" in labels


def test_constants_are_drawn_dashed_with_their_values():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    source = draw_graph((w * cr.tensor([3.0, 4.0])).sum())
    (identifier,) = [i for i, label in nodes(source).items() if label.startswith("constant")]
    assert nodes(source)[identifier] == "constant\\n(2,)\\n[3., 4.]"
    assert attributes(source, identifier)["style"] == "dashed"


def test_names_label_the_parameters():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    source = draw_graph(F.cross_entropy(model(cr.randn(4, 3)), cr.tensor([0, 1, 1, 0])), names=model)
    labels = [label.split("\\n")[0] for label in nodes(source).values()]
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(labels)
    assert labels.count("linear") == 2 and "relu" in labels and "cross_entropy" in labels


def test_colouring_by_gradient_norm_marks_where_the_gradient_dies():
    x = cr.tensor([[30.0, -30.0, 25.0]], requires_grad=True)
    w = cr.tensor([[1.0], [1.0], [1.0]], requires_grad=True)
    # sigmoid far out in its tails passes back a gradient of ~1e-13: x's side of the graph goes blue
    loss = (x.sigmoid() @ w).sum()
    source = draw_graph(loss, color_by="grad_norm")
    labels = nodes(source)
    fills = {labels[i].split("\\n")[0] + labels[i].split("\\n")[1]: attributes(source, i).get("fillcolor")
             for i in labels if i != "legend"}
    norms = {key: float(re.search(r"\|grad\| (\S+)", labels[i]).group(1))
             for i, key in zip(labels, fills) if i != "legend"}
    smallest, largest = min(norms, key=norms.get), max(norms, key=norms.get)
    assert smallest == "leaf(1, 3)"  # x, behind the saturated sigmoid
    assert fills[smallest] == "#3b4cc0" and fills[largest] == "#b40426"
    assert "log scale" in labels["legend"]


def test_colouring_shows_zero_and_non_finite_gradients_apart():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    v = cr.tensor([0.0, 1.0], requires_grad=True)
    with numpy.errstate(divide="ignore"):
        loss = (w * 0.0).sum() + (v.log() * 1.0).sum()  # d log(v)/dv at 0 is Inf
        source = draw_graph(loss, color_by="grad_norm")
    fill = {label.split("\\n")[2] if label.startswith("leaf") else None: attributes(source, i).get("fillcolor")
            for i, label in nodes(source).items()}
    assert fill["value [1., 2.]"] == graph_module._ZERO_FILL
    assert fill["value [0., 1.]"] == graph_module._NON_FINITE_FILL


def test_colouring_leaves_gradients_and_the_graph_as_they_were():
    a, b = leaf(2, 3), leaf(3, seed=1)
    loss = (a @ b).sum()
    draw_graph(loss, color_by="grad_norm")
    assert a.grad is None and b.grad is None
    loss.backward()  # the graph is still there for the user's own backward
    numpy.testing.assert_allclose(a.grad.data, numpy.broadcast_to(b.data, (2, 3)))
    assert not loss.grad_fn.__dict__.get("tensor_hooks")


def test_a_freed_graph_is_refused_with_the_fix():
    a = leaf(3)
    loss = (a * a).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        draw_graph(loss)


@pytest.mark.parametrize("value, message", [(cr.tensor([1.0]), "no graph"), ([1.0], "expected a Tensor")])
def test_a_tensor_without_a_graph_is_refused(value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        draw_graph(value)


def test_dot_paths_get_the_source(tmp_path):
    a = leaf(2)
    source = draw_graph((a * a).sum(), tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == source


def test_without_graphviz_an_svg_path_gets_the_dot_file_and_a_plain_message(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    a = leaf(2)
    with pytest.warns(RuntimeWarning, match="`dot` is not installed") as warned:
        source = draw_graph((a * a).sum(), tmp_path / "graph.svg")
    assert "graph.dot instead" in str(warned[0].message)
    assert (tmp_path / "graph.dot").read_text() == source
    assert not (tmp_path / "graph.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_with_graphviz_an_svg_is_rendered(tmp_path):
    a = leaf(2)
    draw_graph((a * a).sum(), tmp_path / "graph.svg", color_by="grad_norm")
    assert "<svg" in (tmp_path / "graph.svg").read_text()


def test_unknown_file_types_and_colourings_are_refused(tmp_path):
    loss = (leaf(2) * 2.0).sum()
    with pytest.raises(ValueError, match="must end in"):
        draw_graph(loss, tmp_path / "graph.jpg")
    with pytest.raises(ValueError, match="color_by"):
        draw_graph(loss, color_by="value")
