"""W5 (gru-mnist1d): one GRU training step, chainrule and PyTorch side by side in one run.

The model of ``shared/workloads.md``: a (100, 40) float32 batch reshaped to
(100, 40, 1); GRU(input_size=1, hidden_size=6, batch_first=True,
bidirectional=True) with h0 = 0; all 40 outputs flattened (480) into
Linear(480, 10); cross-entropy against integer labels; backward; an
SGD(lr=0.01, momentum=0.9) step. Both frameworks start from the same
weights (PyTorch's, copied through the state dict). The same step written
by hand in NumPy (forward, backward through time, update) runs alongside:
the floor for anything built on NumPy.

Repetitions are interleaved (chainrule block, PyTorch block, NumPy
block, chainrule block, ...); before each block the script collects
garbage and waits a moment, so that idle BLAS/OpenMP worker threads of one
framework stop spinning before the next runs, and the objects present
after setup are frozen out of the garbage collector (``gc.freeze``), so
that PyTorch's hundreds of thousands of import-time objects do not tax
chainrule's collections. It prints medians of steps per second and the
medians of the per-repetition ratios of chainrule's time to PyTorch's and
to NumPy's (above 1: chainrule slower). PyTorch runs with
``torch.set_num_threads(2)`` (or ``--torch-threads``); NumPy's BLAS keeps
its default. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are left as
they are and printed.

``--profile`` then runs chainrule's step under cProfile and prints where
the time goes.

Usage::

    python benchmarks/rnn.py [--quick] [--repeats N] [--profile] [--torch-threads N]
"""
import argparse
import cProfile
import gc
import os
import pstats
import statistics

import numpy
import torch

import chainrule
import timing
from chainrule.nn.linear import Linear
from chainrule.nn.rnn import GRU

try:
    from chainrule.ops.loss import cross_entropy
except ImportError:  # NOTE: before chainrule.ops.loss lands: the same loss in three nodes
    def cross_entropy(logits, labels):
        """Mean negative log-likelihood of integer ``labels`` (N,) under ``logits`` (N, C)."""
        return -logits.log_softmax(dim=1).gather(1, labels.reshape(-1, 1)).mean()

BATCH, STEPS, HIDDEN, CLASSES = 100, 40, 6, 10
LEARNING_RATE, MOMENTUM = 0.01, 0.9


class TorchModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(1, HIDDEN, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(STEPS * 2 * HIDDEN, CLASSES)

    def forward(self, x):
        h0 = torch.zeros(2, x.shape[0], HIDDEN)
        output, _ = self.gru(x.reshape(x.shape[0], STEPS, 1), h0)
        return self.head(output.reshape(x.shape[0], -1))


class ChainruleModel(chainrule.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = GRU(1, HIDDEN, batch_first=True, bidirectional=True)
        self.head = Linear(STEPS * 2 * HIDDEN, CLASSES)

    def forward(self, x):
        h0 = chainrule.zeros(2, x.shape[0], HIDDEN)
        output, _ = self.gru(x.reshape(x.shape[0], STEPS, 1), h0)
        return self.head(output.reshape(x.shape[0], -1))


def torch_step(model, x, labels):
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()
    return step


def chainrule_step(model, x, labels):
    # NOTE: SGD with momentum by hand, in place, as torch.optim.SGD does it,
    # until chainrule.optim exists.
    params = list(model.parameters())
    velocities = [numpy.zeros_like(p.data) for p in params]

    def step():
        model.zero_grad()
        cross_entropy(model(x), labels).backward()
        for p, v in zip(params, velocities):
            v *= MOMENTUM
            v += p.grad.data
            p.data -= LEARNING_RATE * v
    return step


def numpy_step(params, x, labels):
    """The same training step written by hand in NumPy: the floor for any framework on NumPy.

    ``params`` maps PyTorch's parameter names to arrays, updated in place.
    """
    velocities = {name: numpy.zeros_like(value) for name, value in params.items()}
    directions = (("", False), ("_reverse", True))
    inputs = numpy.ascontiguousarray(x.T[:, :, None])  # (T, N, 1), time first
    one_hot = numpy.eye(CLASSES, dtype=x.dtype)[labels]

    def sigmoid(a):
        return 0.5 + 0.5 * numpy.tanh(0.5 * a)

    def step():
        grads, outputs, caches = {}, [], []
        for suffix, reverse in directions:
            w_ih, w_hh, b_ih, b_hh = (params[f"gru.{kind}_l0{suffix}"]
                                      for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            gates_x = inputs @ w_ih.T + b_ih
            h = numpy.zeros((BATCH, HIDDEN), dtype=x.dtype)
            hiddens, cache = numpy.empty((STEPS, BATCH, HIDDEN), dtype=x.dtype), {}
            for t in (range(STEPS - 1, -1, -1) if reverse else range(STEPS)):
                gates_h = h @ w_hh.T + b_hh
                reset_update = sigmoid(gates_x[t, :, :2 * HIDDEN] + gates_h[:, :2 * HIDDEN])
                r, z = reset_update[:, :HIDDEN], reset_update[:, HIDDEN:]
                n = numpy.tanh(gates_x[t, :, 2 * HIDDEN:] + r * gates_h[:, 2 * HIDDEN:])
                cache[t] = (r, z, n, gates_h[:, 2 * HIDDEN:], h)
                h = n + z * (h - n)
                hiddens[t] = h
            outputs.append(hiddens)
            caches.append(cache)
        features = numpy.concatenate(outputs, axis=2).transpose(1, 0, 2).reshape(BATCH, -1)
        logits = features @ params["head.weight"].T + params["head.bias"]
        exp = numpy.exp(logits - logits.max(axis=1, keepdims=True))
        d_logits = (exp / exp.sum(axis=1, keepdims=True) - one_hot) / BATCH
        grads["head.weight"], grads["head.bias"] = d_logits.T @ features, d_logits.sum(axis=0)
        d_outputs = (d_logits @ params["head.weight"]).reshape(BATCH, STEPS, 2 * HIDDEN).transpose(1, 0, 2)
        for d, ((suffix, reverse), cache) in enumerate(zip(directions, caches)):
            w_hh = params[f"gru.weight_hh_l0{suffix}"]
            d_gates_x = numpy.empty((STEPS, BATCH, 3 * HIDDEN), dtype=x.dtype)
            d_w_hh, d_b_hh = numpy.zeros_like(w_hh), numpy.zeros(3 * HIDDEN, dtype=x.dtype)
            dh = numpy.zeros((BATCH, HIDDEN), dtype=x.dtype)
            for t in (range(STEPS) if reverse else range(STEPS - 1, -1, -1)):
                r, z, n, hidden_part, previous = cache[t]
                dh = dh + d_outputs[t, :, d * HIDDEN:(d + 1) * HIDDEN]
                d_a_n = dh * (1 - z) * (1 - n * n)
                d_a_r = d_a_n * hidden_part * r * (1 - r)
                d_a_z = dh * (previous - n) * z * (1 - z)
                d_gates_x[t] = numpy.concatenate([d_a_r, d_a_z, d_a_n], axis=1)
                d_gates_h = numpy.concatenate([d_a_r, d_a_z, d_a_n * r], axis=1)
                d_w_hh += d_gates_h.T @ previous
                d_b_hh += d_gates_h.sum(axis=0)
                dh = dh * z + d_gates_h @ w_hh
            rows = d_gates_x.reshape(-1, 3 * HIDDEN)
            grads[f"gru.weight_ih_l0{suffix}"] = rows.T @ inputs.reshape(-1, 1)
            grads[f"gru.bias_ih_l0{suffix}"] = rows.sum(axis=0)
            grads[f"gru.weight_hh_l0{suffix}"], grads[f"gru.bias_hh_l0{suffix}"] = d_w_hh, d_b_hh
        for name, value in params.items():
            velocities[name] *= MOMENTUM
            velocities[name] += grads[name]
            value -= LEARNING_RATE * velocities[name]
    return step


def setup():
    torch.manual_seed(0)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS)).astype(numpy.float32)
    labels = rng.integers(0, CLASSES, BATCH)
    theirs = TorchModel()
    ours = ChainruleModel()
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    by_hand = {name: value.numpy().copy() for name, value in theirs.state_dict().items()}
    return {
        "chainrule": chainrule_step(ours, chainrule.tensor(x), chainrule.tensor(labels)),
        "pytorch": torch_step(theirs, torch.tensor(x), torch.tensor(labels)),
        "numpy": numpy_step(by_hand, x, labels),
    }


def measure(runs, repeats, block_seconds):
    seconds = timing.interleave(runs, repeats, block_seconds)
    return seconds, {other: timing.ratios(seconds, "chainrule", other) for other in ("pytorch", "numpy")}


def profile(run, steps):
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"\ncProfile of {steps} chainrule steps, by own time:")
    stats.sort_stats("tottime").print_stats(15)
    print("by cumulative time, chainrule's own functions:")
    stats.sort_stats("cumulative").print_stats("chainrule", 20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, help="interleaved repetitions (default 7, or 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="shorter blocks and fewer repetitions")
    parser.add_argument("--block-seconds", type=float,
                        help="target length of one block (default 1, or 0.2 with --quick)")
    parser.add_argument("--profile", action="store_true", help="then profile chainrule's step with cProfile")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="PyTorch's thread count (default 2, as workloads.md fixes; 1 shows PyTorch "
                             "without OpenMP's spinning on a machine with few, busy cores)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    block_seconds = args.block_seconds or (0.2 if args.quick else 1.0)

    torch.set_num_threads(args.torch_threads)
    runs = setup()
    gc.collect()
    gc.freeze()
    seconds, ratios = measure(runs, repeats, block_seconds)
    print(f"W5 gru-mnist1d training step, batch {BATCH}, float32; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}")
    for name, samples in seconds.items():
        rates = ", ".join(f"{1 / s:.1f}" for s in samples)
        print(f"  {name:10s} median {1 / statistics.median(samples):8.1f} steps/s "
              f"({statistics.median(samples) * 1e3:.2f} ms/step)  [{rates}]")
    for other, label in (("pytorch", "PyTorch"), ("numpy", "NumPy by hand")):
        print(f"  chainrule / {label} time: median ratio {statistics.median(ratios[other]):.2f} "
              f"[{', '.join(f'{r:.2f}' for r in ratios[other])}]")
    if args.profile:
        profile(runs["chainrule"], steps=20)


if __name__ == "__main__":
    main()
