"""Backpropagation worked by hand through the seed network, one number at a time.

The seed network (``examples/seed_network.py``) on one example, with one
input, two hidden units and one output::

    Z1 = W1 X + b1        H = f(Z1)        f = tanh
    Z2 = W2 H + b2        Y = g(Z2)        g = identity
    L  = 1/2 (Y - T)^2
    w  <- w - lr * dL/dw  for every parameter w

``explain()`` computes every forward value, every partial derivative as a
product of the chain rule's factors, the gradient-descent update and the loss
after it, in plain float64 arithmetic, and returns them as data;
``format_explanation()`` writes them out, and ``explain_graph()`` draws the
same computation as recorded by chainrule's autograd (values and gradients on
the leaves). The tests check every number against the autograd.

Example
-------
>>> from chainrule.explain import explain, format_explanation
>>> print(format_explanation(explain(lr=0.1)))
"""
import dataclasses
import math

import numpy

# The example: small round numbers, so that each line can be checked with a pocket calculator.
EXAMPLE = {"X": 0.5, "T": 1.0, "W1": (0.6, -0.3), "b1": (0.1, 0.2), "W2": (0.7, -0.5), "b2": 0.3}
PARAMETERS = ("W1", "b1", "W2", "b2")


@dataclasses.dataclass
class Step:
    """One line of the explanation: ``name = formula = substituted = value``.

    ``formula`` is symbolic (``(Y - T) · 1 · H1``); ``substituted`` has the
    numbers in place of the symbols (empty when that would only repeat them).
    """
    name: str
    formula: str
    substituted: str
    value: float


@dataclasses.dataclass
class Explanation:
    """What ``explain`` computed: each stage's steps, and the numbers as arrays.

    Attributes
    ----------
    example : the inputs, target and starting parameters (``EXAMPLE``'s layout)
    lr : the learning rate of the step
    forward, loss, backward, update, after : lists of ``Step``
    values : name -> float of every forward value (Z1_1, H1, …, Y, L)
    gradients : parameter name -> float64 array of dL/d(parameter), shaped
        as the parameter (W1 (2, 1), b1 (2,), W2 (1, 2), b2 (1,))
    updated : parameter name -> float64 array after the step
    loss_after : the loss with the updated parameters
    """
    example: dict
    lr: float
    forward: list
    loss: list
    backward: list
    update: list
    after: list
    values: dict
    gradients: dict
    updated: dict
    loss_after: float


def _n(value):
    """A number as printed: six significant digits, negatives in parentheses inside products."""
    return f"{value:.6g}"


def _p(value):
    return f"({_n(value)})" if value < 0 else _n(value)


def _forward(X, W1, b1, W2, b2):
    Z1 = [W1[j] * X + b1[j] for j in range(2)]
    H = [math.tanh(z) for z in Z1]
    Z2 = W2[0] * H[0] + W2[1] * H[1] + b2
    return Z1, H, Z2, Z2  # g is the identity: Y = Z2


def explain(lr=0.1, example=None):
    """Forward, loss, chain rule, update and new loss of the seed network on one example.

    Parameters
    ----------
    lr : the learning rate of the gradient-descent step
    example : a dict like ``EXAMPLE`` (X, T; W1 and b1 of two hidden units, W2 of two weights, b2)

    Returns
    -------
    Explanation

    Example
    -------
    >>> e = explain(lr=0.1)
    >>> e.gradients["b2"]          # dL/db2 = (Y - T) · 1 · 1
    array([-0.45901491])
    """
    example = dict(EXAMPLE if example is None else example)
    X, T, b2 = float(example["X"]), float(example["T"]), float(example["b2"])
    W1, b1, W2 = ([float(v) for v in example[name]] for name in ("W1", "b1", "W2"))
    Z1, H, Z2, Y = _forward(X, W1, b1, W2, b2)
    L = 0.5 * (Y - T) ** 2

    forward = []
    for j in range(2):
        k = j + 1
        forward.append(Step(f"Z1_{k}", f"W1_{k} · X + b1_{k}", f"{_p(W1[j])} · {_p(X)} + {_p(b1[j])}", Z1[j]))
    for j in range(2):
        k = j + 1
        forward.append(Step(f"H{k}", f"tanh(Z1_{k})", f"tanh({_n(Z1[j])})", H[j]))
    forward.append(Step("Z2", "W2_1 · H1 + W2_2 · H2 + b2",
                        f"{_p(W2[0])} · {_p(H[0])} + {_p(W2[1])} · {_p(H[1])} + {_p(b2)}", Z2))
    forward.append(Step("Y", "g(Z2) = Z2", "", Y))
    loss = [Step("L", "½ (Y − T)²", f"½ ({_n(Y)} − {_n(T)})²", L)]

    dL_dY = Y - T
    dL_dZ2 = dL_dY * 1.0  # g is the identity: dY/dZ2 = 1
    backward = [
        Step("dL/dY", "Y − T", f"{_n(Y)} − {_n(T)}", dL_dY),
        Step("dL/dZ2", "dL/dY · dY/dZ2 = (Y − T) · 1", f"{_p(dL_dY)} · 1", dL_dZ2),
    ]
    dW2 = [dL_dZ2 * H[j] for j in range(2)]
    for j in range(2):
        k = j + 1
        backward.append(Step(f"dL/dW2_{k}", f"dL/dY · dY/dZ2 · dZ2/dW2_{k} = (Y − T) · 1 · H{k}",
                             f"{_p(dL_dY)} · 1 · {_p(H[j])}", dW2[j]))
    db2 = dL_dZ2 * 1.0
    backward.append(Step("dL/db2", "dL/dY · dY/dZ2 · dZ2/db2 = (Y − T) · 1 · 1", f"{_p(dL_dY)} · 1 · 1", db2))
    dH = [dL_dZ2 * W2[j] for j in range(2)]
    dZ1 = [dH[j] * (1 - H[j] ** 2) for j in range(2)]  # tanh'(z) = 1 - tanh(z)^2
    dW1 = [dZ1[j] * X for j in range(2)]
    db1 = [dZ1[j] * 1.0 for j in range(2)]
    for j in range(2):
        k = j + 1
        backward.append(Step(f"dL/dH{k}", f"dL/dZ2 · dZ2/dH{k} = (Y − T) · 1 · W2_{k}",
                             f"{_p(dL_dZ2)} · {_p(W2[j])}", dH[j]))
        backward.append(Step(f"dL/dZ1_{k}", f"dL/dH{k} · dH{k}/dZ1_{k} = dL/dH{k} · (1 − H{k}²)",
                             f"{_p(dH[j])} · (1 − {_p(H[j])}²)", dZ1[j]))
        backward.append(Step(f"dL/dW1_{k}", f"dL/dZ1_{k} · dZ1_{k}/dW1_{k} = dL/dZ1_{k} · X",
                             f"{_p(dZ1[j])} · {_p(X)}", dW1[j]))
        backward.append(Step(f"dL/db1_{k}", f"dL/dZ1_{k} · dZ1_{k}/db1_{k} = dL/dZ1_{k} · 1",
                             f"{_p(dZ1[j])} · 1", db1[j]))

    start = {"W1": W1, "b1": b1, "W2": W2, "b2": [b2]}
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": [db2]}
    new = {name: [w - lr * g for w, g in zip(start[name], grads[name])] for name in PARAMETERS}
    update = []
    for name in PARAMETERS:
        for j, (w, g, v) in enumerate(zip(start[name], grads[name], new[name])):
            label = name if name == "b2" else f"{name}_{j + 1}"
            update.append(Step(f"{label}'", f"{label} − lr · dL/d{label}", f"{_n(w)} − {_n(lr)} · {_p(g)}", v))

    Z1n, Hn, Z2n, Yn = _forward(X, new["W1"], new["b1"], new["W2"], new["b2"][0])
    loss_after = 0.5 * (Yn - T) ** 2
    after = [Step(f"Z1_{j + 1}'", f"W1_{j + 1}' · X + b1_{j + 1}'", "", Z1n[j]) for j in range(2)]
    after += [Step(f"H{j + 1}'", f"tanh(Z1_{j + 1}')", "", Hn[j]) for j in range(2)]
    after += [Step("Y'", "W2_1' · H1' + W2_2' · H2' + b2'", "", Yn),
              Step("L'", "½ (Y' − T)²", f"½ ({_n(Yn)} − {_n(T)})²", loss_after)]

    values = {step.name: step.value for step in forward + loss}
    shapes = {"W1": (2, 1), "b1": (2,), "W2": (1, 2), "b2": (1,)}
    as_arrays = {name: lambda d, n=name: numpy.array(d[n], dtype=numpy.float64).reshape(shapes[n])
                 for name in PARAMETERS}
    return Explanation(
        example=example, lr=lr, forward=forward, loss=loss, backward=backward, update=update, after=after,
        values=values, gradients={name: as_arrays[name](grads) for name in PARAMETERS},
        updated={name: as_arrays[name](new) for name in PARAMETERS}, loss_after=loss_after)


def _lines(steps):
    width = max(len(step.name) for step in steps)
    lines = []
    for step in steps:
        parts = [step.formula] + ([step.substituted] if step.substituted else []) + [f"{step.value:.6g}"]
        lines.append(f"  {step.name:<{width}} = " + " = ".join(parts))
    return lines


def format_explanation(explanation):
    """The explanation as text, one ``name = formula = numbers = value`` line per step.

    Example
    -------
    >>> print(format_explanation(explain()))
    """
    e = explanation
    example = e.example
    lines = [
        "The seed network on one example: 1 input, 2 hidden units (tanh), 1 output (identity), "
        "squared-error loss.",
        "  Z1 = W1 X + b1,  H = tanh(Z1),  Z2 = W2 H + b2,  Y = Z2,  L = ½ (Y − T)²",
        "",
        f"Example and parameters: X = {_n(example['X'])}, T = {_n(example['T'])}, "
        f"W1 = ({', '.join(_n(v) for v in example['W1'])}), b1 = ({', '.join(_n(v) for v in example['b1'])}), "
        f"W2 = ({', '.join(_n(v) for v in example['W2'])}), b2 = {_n(example['b2'])}, lr = {_n(e.lr)}",
        "",
        "1. Forward pass, keeping what the backward pass needs:",
        *_lines(e.forward),
        "",
        "2. Loss:",
        *_lines(e.loss),
        "",
        "3. Backward pass: each derivative is a product of local derivatives (the chain rule),",
        "   reusing the one computed just before it (dY/dZ2 = g'(Z2) = 1; tanh'(z) = 1 − tanh(z)²):",
        *_lines(e.backward),
        "",
        "4. Gradient descent, w' = w − lr · dL/dw:",
        *_lines(e.update),
        "",
        "5. The forward pass again, with the new parameters:",
        *_lines(e.after),
        "",
        f"The loss went from {e.loss[0].value:.6g} to {e.loss_after:.6g}. The gradients, the new parameters and "
        f"both losses equal chainrule's autograd (loss.backward()) on the same example to rounding (tested to "
        f"1e-12 in float64).",
    ]
    return "\n".join(lines)


def autograd_loss(example=None):
    """The same example through chainrule's autograd in float64: ``(L, {name: leaf tensor})``.

    Call ``L.backward()`` for the gradients, or draw the graph with
    ``chainrule.diagnostics.draw_graph(L, names=tensors)``.
    """
    import chainrule

    example = dict(EXAMPLE if example is None else example)
    shapes = {"W1": (2, 1), "b1": (2,), "W2": (1, 2), "b2": (1,)}
    tensors = {name: chainrule.tensor(numpy.array(example[name], dtype=numpy.float64).reshape(shapes[name]),
                                      requires_grad=True) for name in PARAMETERS}
    X = chainrule.tensor(numpy.array([[example["X"]]], dtype=numpy.float64))
    T = chainrule.tensor(numpy.array([[example["T"]]], dtype=numpy.float64))
    H = (X @ tensors["W1"].T + tensors["b1"]).tanh()
    Y = H @ tensors["W2"].T + tensors["b2"]
    return 0.5 * ((Y - T) ** 2).sum(), tensors


def explain_graph(path=None, example=None):
    """Draw the example's graph with ``draw_graph``: each parameter's value and gradient on its
    node, each op filled by the size of the gradient flowing into it. Returns the DOT source."""
    from .diagnostics import draw_graph

    loss, tensors = autograd_loss(example)
    return draw_graph(loss, path, color_by="grad_norm", names=tensors)
