"""Gradient health on MNIST-1D: four deep MLPs, four diagnoses.

``GradientHealth`` watches a model while it trains (gradient norm, weight
norm and update size per layer; saturation and dead units per activation)
and says what is wrong. Each case trains for the same few epochs and
prints the monitor's summary:

(a) 10 layers of sigmoid, weights drawn from N(0, 0.1^2): each layer passes
    back at most a quarter of the gradient it receives, so the first layers
    get a millionth of the last one's gradient -> ``vanishing``.
(b) the same depth with ReLU and He initialisation: gradients arrive at
    every layer at the same scale -> no findings, and it learns.
(c) 10 ReLU layers initialised 1.3x larger than He with a large learning
    rate (SGD, lr 0.1, momentum 0.9): every step makes the next gradient
    larger until it overflows -> ``exploding``; then the same run with
    ``clip_grad_norm_(parameters, 1.0)`` before each step trains fine.
(d) 6 ReLU layers whose biases start at -5: almost no unit ever fires, so
    no gradient gets through -> ``dead``.

Run it (about ten seconds)::

    python examples/gradient_health.py [--epochs 3] [--save runs/gradient-health]

``--save`` writes each case's report (JSON, text and a PNG heatmap) into a
sub-folder of that folder.
"""
import argparse
import math
import os
import time

import numpy

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import mnist1d
from chainrule.diagnostics import GradientHealth, GradientHealthCallback
from chainrule.nn import init
from chainrule.train import Trainer

DEPTH = 10  # Linear layers in cases (a) to (c)
WIDTH = 64
BATCH = 100


def deep_mlp(depth, activation, initialise):
    """``depth`` Linear layers (40 -> WIDTH -> ... -> 10) with ``activation`` between them,
    each initialised in place by ``initialise(layer)``."""
    sizes = [40] + [WIDTH] * (depth - 1) + [10]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layer = nn.Linear(fan_in, fan_out)
        initialise(layer)
        layers += [layer, activation()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer: it outputs logits


def small_normal(layer):
    init.normal_(layer.weight, 0.0, 0.1)
    init.zeros_(layer.bias)


def he(layer, gain=1.0):
    init.kaiming_normal_(layer.weight, nonlinearity="relu")
    layer.weight.data *= gain
    init.zeros_(layer.bias)


def he_with_negative_bias(layer):
    he(layer)
    init.constant_(layer.bias, -5.0)


def loaders(data):
    train = DataLoader(TensorDataset(data["x"], data["y"]), batch_size=BATCH, shuffle=True)
    test = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=1000)
    return train, test


def train_with_trainer(model, optimizer, data, epochs, folder):
    """Train with the Trainer, the monitor driven by its callback; returns the monitor and test accuracy."""
    health = GradientHealth(model)
    trainer = Trainer(model, optimizer, callbacks=[GradientHealthCallback(health, folder=folder)], progress=False)
    train, test = loaders(data)
    trainer.fit(train, epochs=epochs)
    return health, trainer.evaluate(test)["accuracy"]


def train_by_hand(model, optimizer, data, epochs, folder, clip=None):
    """The same loop written out, so that clipping can be switched on and a
    diverging run can stop at its first non-finite loss instead of raising."""
    health = GradientHealth(model)
    train, test = loaders(data)
    diverged_at = None
    for _ in range(epochs):
        for inputs, targets in train:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            health.step()
            if not math.isfinite(loss.item()):
                diverged_at = len(health.steps) - 1
                break
        if diverged_at is not None:
            break
    if folder is not None:
        health.save(folder)
    with chainrule.no_grad():
        model.eval()
        inputs, targets = next(iter(test))
        accuracy = float((model(inputs).data.argmax(1) == targets.data).mean())
    return health, accuracy, diverged_at


def report(title, health, accuracy, note=""):
    kinds = sorted({finding.kind for finding in health.diagnose()})
    print(f"\n=== {title}")
    print(f"test accuracy {accuracy:.1%}; findings: {', '.join(kinds) or 'none'}{note}")
    print(health.summary())
    health.close()
    return kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per case (default 3)")
    parser.add_argument("--save", help="write each case's report (JSON, text, PNG) under this folder")
    args = parser.parse_args()
    data = mnist1d()
    started = time.perf_counter()

    def folder(case):
        return None if args.save is None else os.path.join(args.save, case)

    def sgd(model, lr):
        return optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    chainrule.manual_seed(0)
    model = deep_mlp(DEPTH, nn.Sigmoid, small_normal)
    health, accuracy = train_with_trainer(model, sgd(model, 0.05), data, args.epochs, folder("a-sigmoid"))
    sigmoid_accuracy = accuracy
    report("(a) 10-layer sigmoid MLP, N(0, 0.1^2) weights", health, accuracy)

    chainrule.manual_seed(0)
    model = deep_mlp(DEPTH, nn.ReLU, he)
    health, accuracy = train_with_trainer(model, sgd(model, 0.05), data, args.epochs, folder("b-relu-he"))
    report("(b) the same depth, ReLU and He initialisation", health, accuracy,
           f" (sigmoid reached {sigmoid_accuracy:.1%})")

    chainrule.manual_seed(0)
    model = deep_mlp(DEPTH, nn.ReLU, lambda layer: he(layer, gain=1.3))
    with numpy.errstate(over="ignore", invalid="ignore"):  # the overflow is the point of this case
        health, accuracy, diverged_at = train_by_hand(model, sgd(model, 0.1), data, args.epochs,
                                                      folder("c-exploding"))
    report("(c) 10 ReLU layers at 1.3x He, SGD lr 0.1", health, accuracy,
           f" (the loss was NaN/Inf at step {diverged_at})" if diverged_at is not None else "")

    chainrule.manual_seed(0)
    model = deep_mlp(DEPTH, nn.ReLU, lambda layer: he(layer, gain=1.3))
    health, accuracy, _ = train_by_hand(model, sgd(model, 0.1), data, args.epochs, folder("c-clipped"), clip=1.0)
    report("(c') the same, with clip_grad_norm_(parameters, 1.0) before each step", health, accuracy)

    chainrule.manual_seed(0)
    model = deep_mlp(6, nn.ReLU, he_with_negative_bias)
    health, accuracy = train_with_trainer(model, sgd(model, 0.05), data, args.epochs, folder("d-dead"))
    report("(d) 6 ReLU layers with biases at -5", health, accuracy)

    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
