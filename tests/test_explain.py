"""``chainrule explain``: the chain rule worked by hand through the seed network equals the autograd."""
import contextlib
import io

import numpy
import pytest

import chainrule
from chainrule.cli import main
from chainrule.explain import EXAMPLE, PARAMETERS, autograd_loss, explain, format_explanation


def run_main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def autograd_step(example, lr):
    """Loss, gradients, updated parameters and the loss after one SGD step, all by chainrule's autograd."""
    loss, tensors = autograd_loss(example)
    loss.backward()
    gradients = {name: tensors[name].grad.data.copy() for name in PARAMETERS}
    with chainrule.no_grad():
        for tensor in tensors.values():
            tensor -= lr * tensor.grad
    updated = {name: tensors[name].data.copy() for name in PARAMETERS}
    start = {name: value.reshape(-1).tolist() for name, value in updated.items()}
    after, _ = autograd_loss({**example, **start, "b2": start["b2"][0]})
    return loss.item(), gradients, updated, after.item()


@pytest.mark.parametrize("example, lr", [
    (EXAMPLE, 0.1),
    (EXAMPLE, 0.5),
    ({"X": -1.3, "T": 0.25, "W1": (1.7, 0.9), "b1": (-0.4, 0.05), "W2": (-1.1, 2.0), "b2": -0.2}, 0.03),
])
def test_every_number_equals_the_autograd(example, lr):
    e = explain(lr=lr, example=example)
    loss, gradients, updated, loss_after = autograd_step(example, lr)
    assert e.values["L"] == pytest.approx(loss, rel=0, abs=1e-12)
    for name in PARAMETERS:
        assert e.gradients[name].dtype == numpy.float64 and e.gradients[name].shape == gradients[name].shape
        numpy.testing.assert_allclose(e.gradients[name], gradients[name], rtol=0, atol=1e-12, err_msg=name)
        numpy.testing.assert_allclose(e.updated[name], updated[name], rtol=0, atol=1e-12, err_msg=name)
    assert e.loss_after == pytest.approx(loss_after, rel=0, abs=1e-12)
    assert e.loss_after < e.values["L"]


def test_the_printed_steps_are_the_chain_rule_factors():
    e = explain()
    steps = {step.name: step for step in e.backward}
    H1, Y, T = e.values["H1"], e.values["Y"], EXAMPLE["T"]
    assert steps["dL/dW2_1"].formula == "dL/dY · dY/dZ2 · dZ2/dW2_1 = (Y − T) · 1 · H1"
    assert steps["dL/dW2_1"].value == (Y - T) * 1 * H1
    assert steps["dL/dZ1_1"].value == steps["dL/dH1"].value * (1 - H1 ** 2)
    text = format_explanation(e)
    for heading in ("1. Forward pass", "2. Loss", "3. Backward pass", "4. Gradient descent", "5. The forward pass"):
        assert heading in text
    assert ("  dL/dW2_1 = dL/dY · dY/dZ2 · dZ2/dW2_1 = (Y − T) · 1 · H1 = (-0.459015) · 1 · 0.379949 "
            "= -0.174402") in text
    assert "  Z1_1 = W1_1 · X + b1_1 = 0.6 · 0.5 + 0.1 = 0.4" in text
    assert "The loss went from 0.105347 to 0.068944." in text


def test_the_command_prints_the_explanation_and_writes_the_graph(tmp_path):
    status, out, err = run_main("explain", "--lr", 0.1, "--dot", tmp_path / "seed.dot")
    assert status == 0, err
    assert out.startswith(format_explanation(explain(lr=0.1)))
    dot = (tmp_path / "seed.dot").read_text()
    assert dot.startswith("digraph chainrule {") and "tanh" in dot
    # each parameter's node carries its value and its gradient
    assert "W2\\n(1, 2)\\nvalue [[ 0.7, -0.5]]\\ngrad [[-0.1744, -0.0229]]" in dot
    status, _, err = run_main("explain", "--dot", tmp_path / "seed.txt")
    assert status == 1 and "--dot" in err and not (tmp_path / "seed.txt").exists()
