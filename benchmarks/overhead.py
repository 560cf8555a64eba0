"""Framework overhead per op: chainrule and PyTorch side by side in one run.

Three kinds of work, each also written by hand in NumPy as the floor that
no framework on NumPy can beat:

(a) a chain of 1,000 small elementwise ops on a (16,) float32 tensor, where
    the arithmetic is nearly free and the time is the framework's own
    (Python dispatch, graph recording, the backward walk); in microseconds
    per op, for a forward pass under no_grad, a forward pass that records
    the graph, and forward plus backward;
(b) one training step of the seed network (examples/seed_network.py: the
    sin problem, 64 examples, 16 hidden units, float32): forward, loss,
    backward, in-place gradient-descent update; in steps per second;
(c) a chain of eight (256, 256) float32 matmuls, forward and backward,
    where BLAS does nearly all the work and the frameworks should be level.

Repetitions are interleaved (chainrule block, PyTorch block, NumPy block,
chainrule block, ...) so that drifts in machine speed hit all three alike.
Each block runs the work enough times to last about --block-seconds. The
table gives the median over repetitions and the median of the per-repetition
ratios of chainrule's time to PyTorch's: above 1 means chainrule is slower,
whatever the unit of the row.

Two things keep one framework from taxing another in the shared process:

- Before each block the script waits a moment. OpenBLAS (NumPy's, so
  chainrule's) and OpenMP (PyTorch's) leave worker threads spinning after a
  BLAS call; on a machine with few cores, the next block's threads would
  otherwise compete with them, and (c) measured PyTorch twice as slow as it
  is alone.
- The objects present after setup are frozen out of the garbage collector
  (``gc.freeze``). Importing PyTorch leaves about 150,000 of them,
  and every full collection, which chainrule's many small graph objects
  trigger, would walk them all: a cost that a process without PyTorch does
  not pay. The collector still runs; it just skips the frozen objects.

PyTorch runs with ``torch.set_num_threads(2)``; NumPy's BLAS keeps its
default thread count. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` may be
set on benchmark machines (they slow current NumPy's BLAS); this script
leaves them as they are and records their values in the JSON output.

Usage::

    python benchmarks/overhead.py [--quick] [--repeats N] [--json results.json]
"""
import argparse
import gc
import importlib.util
import json
import os
import pathlib
import platform
import statistics

import numpy
import torch

import chainrule
import timing

CHAIN_LENGTH = 1000
MATMUL_SIZE = 256
MATMUL_DEPTH = 8
LEARNING_RATE = 0.05  # below the example's, so thousands of benchmark steps stay far from divergence

FRAMEWORKS = ("chainrule", "pytorch", "numpy")


def _load_seed_network():
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "seed_network.py"
    spec = importlib.util.spec_from_file_location("seed_network", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_network = _load_seed_network()


# ---------------------------------------------------------------- (a) a chain of small ops

def elementwise_chain(x, scale, shift):
    """CHAIN_LENGTH ops, in a cycle of two binary and two unary ones; the same code runs on either framework."""
    for _ in range(CHAIN_LENGTH // 4):
        x = (x * scale + shift).tanh().sigmoid()
    return x


def numpy_chain_forward(x, scale, shift):
    for _ in range(CHAIN_LENGTH // 4):
        x = 1 / (1 + numpy.exp(-numpy.tanh(x * scale + shift)))
    return x


def numpy_chain_forward_backward(x, scale, shift):
    """The chain and the gradient of its sum with respect to x, by hand."""
    saved = []
    for _ in range(CHAIN_LENGTH // 4):
        t = numpy.tanh(x * scale + shift)
        x = 1 / (1 + numpy.exp(-t))
        saved.append((t, x))
    grad = numpy.ones_like(x)
    for t, s in reversed(saved):
        grad = grad * s * (1 - s) * (1 - t * t) * scale
    return grad


def chain_runs(framework, x, scale, shift):
    """The three timed calls of (a) for one framework: a forward pass under
    no_grad, a forward pass that records the graph, forward and backward."""
    leaf = framework.tensor(x, requires_grad=True)
    scale, shift = framework.tensor(scale), framework.tensor(shift)

    def forward_no_grad():
        with framework.no_grad():
            elementwise_chain(leaf, scale, shift)

    def forward_recording():
        elementwise_chain(leaf, scale, shift)

    def forward_backward():
        elementwise_chain(leaf, scale, shift).sum().backward()
        leaf.grad = None

    return forward_no_grad, forward_recording, forward_backward


def chain_cases(rng):
    x, scale, shift = (rng.uniform(0.5, 1.5, size=16).astype(numpy.float32) for _ in range(3))
    by_hand = (
        lambda: numpy_chain_forward(x, scale, shift),
        lambda: numpy_chain_forward(x, scale, shift),
        lambda: numpy_chain_forward_backward(x, scale, shift),
    )
    titles = ("forward, no_grad", "forward, recording", "forward+backward")
    runs = zip(titles, chain_runs(chainrule, x, scale, shift), chain_runs(torch, x, scale, shift), by_hand)
    return [
        (f"(a) {CHAIN_LENGTH}-op chain, {title}", "µs/op", 1e6 / CHAIN_LENGTH,
         {"chainrule": ours, "pytorch": theirs, "numpy": numpy_run})
        for title, ours, theirs, numpy_run in runs
    ]


# ---------------------------------------------------------------- (b) the seed network's training step

def autograd_training_step(framework, params, X, T):
    def step():
        seed_network.loss(params, X, T).backward()
        with framework.no_grad():
            for p in params.values():
                p -= LEARNING_RATE * p.grad
                p.grad = None
    return step


def numpy_training_step(params, X, T):
    def step():
        _, grads = seed_network.manual_gradients(params, X, T)
        for name, p in params.items():
            p -= LEARNING_RATE * grads[name]
    return step


def seed_network_case():
    X, T = (a.astype(numpy.float32) for a in seed_network.sin_dataset())
    params = seed_network.init_params(seed=0, dtype=numpy.float32)

    def framework_step(framework):
        tensors = {name: framework.tensor(value, requires_grad=True) for name, value in params.items()}
        return autograd_training_step(framework, tensors, framework.tensor(X), framework.tensor(T))

    return ("(b) seed network step (batch 64, 16 hidden)", "steps/s", None, {
        "chainrule": framework_step(chainrule),
        "pytorch": framework_step(torch),
        "numpy": numpy_training_step({name: value.copy() for name, value in params.items()}, X, T),
    })


# ---------------------------------------------------------------- (c) a BLAS-bound matmul chain

def matmul_chain(x, weights):
    for w in weights:
        x = x @ w
    return x


def numpy_matmul_chain_forward_backward(x, weights):
    """The chain and the gradient of its sum with respect to every weight, by hand."""
    inputs = []
    for w in weights:
        inputs.append(x)
        x = x @ w
    grad = numpy.ones_like(x)
    weight_grads = []
    for w, a in zip(reversed(weights), reversed(inputs)):
        weight_grads.append(a.T @ grad)
        grad = grad @ w.T
    return weight_grads


def matmul_case(rng):
    # Scaled so that activations neither vanish nor overflow through the chain.
    scale = 1 / numpy.sqrt(MATMUL_SIZE)
    x = rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(numpy.float32)
    weights = [(scale * rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE))).astype(numpy.float32)
               for _ in range(MATMUL_DEPTH)]

    def forward_backward(framework):
        leaves = [framework.tensor(w, requires_grad=True) for w in weights]
        inputs = framework.tensor(x)

        def run():
            matmul_chain(inputs, leaves).sum().backward()
            for w in leaves:
                w.grad = None
        return run

    return (f"(c) {MATMUL_DEPTH} x ({MATMUL_SIZE},{MATMUL_SIZE}) matmuls, fwd+bwd", "ms", 1e3, {
        "chainrule": forward_backward(chainrule),
        "pytorch": forward_backward(torch),
        "numpy": lambda: numpy_matmul_chain_forward_backward(x, weights),
    })


# ---------------------------------------------------------------- timing

def measure(case, repeats, block_seconds):
    name, unit, factor, runs = case
    seconds = timing.interleave({framework: runs[framework] for framework in FRAMEWORKS}, repeats, block_seconds)
    ratios = timing.ratios(seconds, "chainrule", "pytorch")

    def in_unit(per_call):
        # A factor scales seconds per call; without one the unit is a rate.
        return per_call * factor if factor is not None else 1 / per_call

    result = {"case": name, "unit": unit,
              "ratio_chainrule_over_pytorch": statistics.median(ratios), "ratios": ratios}
    for framework in FRAMEWORKS:
        result[framework] = {
            "median": in_unit(statistics.median(seconds[framework])),
            "samples": [in_unit(s) for s in seconds[framework]],
        }
    return result


def print_table(results):
    header = f"{'case':46s} {'unit':>8s} {'chainrule':>11s} {'PyTorch':>11s} {'NumPy':>11s} {'chainrule/PyTorch':>18s}"
    print(header)
    print("-" * len(header))
    for r in results:
        medians = " ".join(f"{r[framework]['median']:11.3g}" for framework in FRAMEWORKS)
        print(f"{r['case']:46s} {r['unit']:>8s} {medians} {r['ratio_chainrule_over_pytorch']:18.2f}")
    print()
    print("medians over interleaved repetitions; the last column is the median of per-repetition")
    print("time ratios (above 1: chainrule slower). NumPy is the same work written by hand.")


def environment(args):
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "chainrule": chainrule.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "repeats": args.repeats,
        "block_seconds": args.block_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int,
                        help="interleaved repetitions per case (default 9, or 3 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="shorter blocks and fewer repetitions, for a smoke run")
    parser.add_argument("--block-seconds", type=float,
                        help="target length of one block (default 0.2, or 0.03 with --quick)")
    parser.add_argument("--json", type=pathlib.Path,
                        help="also write the results, with every sample, to this file")
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 3 if args.quick else 9
    if args.block_seconds is None:
        args.block_seconds = 0.03 if args.quick else 0.2

    torch.set_num_threads(2)
    rng = numpy.random.default_rng(0)
    cases = chain_cases(rng) + [seed_network_case(), matmul_case(rng)]
    gc.collect()
    gc.freeze()
    # Other processes on the machine are the largest source of noise; the load average makes them visible.
    load_before = os.getloadavg()
    results = [measure(case, args.repeats, args.block_seconds) for case in cases]
    load_after = os.getloadavg()
    print_table(results)
    print(f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on {os.cpu_count()} CPUs")
    if args.json:
        run = {**environment(args), "load_average_before": load_before, "load_average_after": load_after}
        args.json.write_text(json.dumps({"environment": run, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
