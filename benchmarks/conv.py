"""Convolution and pooling: chainrule and PyTorch side by side in one run.

Each case is one layer of the canonical CNN workloads (../shared/workloads.md),
in float32 at the workload's batch size, timed as forward plus backward of
sum(output * v) for a fixed random v:

- W3, the MNIST-1D CNN, batch 100: its three Conv1d layers;
- W4, LeNet on 28 x 28 images, batch 64: its two Conv2d layers and two MaxPool2d(2);
- and each whole network, forward and backward (no loss, no optimiser step).

The input of a network's first layer needs no gradient (as in training), the
others do. Repetitions are interleaved (chainrule block, PyTorch block,
chainrule block, ...) so that drifts in machine speed hit both alike; the
table gives medians and the median of the per-repetition ratios of
chainrule's time to PyTorch's (above 1: chainrule slower).

On a busy machine, multithreaded BLAS and OpenMP times swing widely; for a
steadier single-core comparison run
``OPENBLAS_NUM_THREADS=1 python benchmarks/conv.py --torch-threads 1``.

Before each block the script lets idle BLAS and OpenMP worker threads stop
spinning, and the objects present after setup are frozen out of the garbage
collector (see benchmarks/overhead.py for why both matter). PyTorch runs with
``torch.set_num_threads(2)`` unless told otherwise; NumPy's BLAS keeps its
default thread count; ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are left
as they are and printed.

Usage::

    python benchmarks/conv.py [--quick] [--repeats N] [--torch-threads N] [--profile CASE]

``--profile`` runs one case's chainrule side under cProfile instead (a
substring of the case name, e.g. ``"W4 conv2"``) and prints the top entries.
"""
import argparse
import gc
import os
import statistics
import types

import numpy
import torch

import chainrule
import timing
from chainrule.nn import Flatten, Linear, ReLU, Sequential, Unflatten
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.pooling import MaxPool2d

# chainrule's layers under torch.nn's names, so one builder makes either framework's model.
CHAINRULE_NN = types.SimpleNamespace(Conv1d=Conv1d, Conv2d=Conv2d, MaxPool2d=MaxPool2d, Flatten=Flatten,
                                     Linear=Linear, ReLU=ReLU, Sequential=Sequential, Unflatten=Unflatten)



def layer_cases():
    """(name, input shape, input needs grad, builder) per layer; builder(framework_nn) makes the layer."""
    return [
        ("W3 conv1  Conv1d(1,25,5,s2,p1)  (100,1,40)", (100, 1, 40), False,
         lambda nn: nn.Conv1d(1, 25, 5, stride=2, padding=1)),
        ("W3 conv2  Conv1d(25,25,3,s2,p1) (100,25,19)", (100, 25, 19), True,
         lambda nn: nn.Conv1d(25, 25, 3, stride=2, padding=1)),
        ("W3 conv3  Conv1d(25,25,3,s2,p1) (100,25,10)", (100, 25, 10), True,
         lambda nn: nn.Conv1d(25, 25, 3, stride=2, padding=1)),
        ("W4 conv1  Conv2d(1,32,3)  (64,1,28,28)", (64, 1, 28, 28), False, lambda nn: nn.Conv2d(1, 32, 3)),
        ("W4 pool1  MaxPool2d(2)    (64,32,26,26)", (64, 32, 26, 26), True, lambda nn: nn.MaxPool2d(2)),
        ("W4 conv2  Conv2d(32,64,3) (64,32,13,13)", (64, 32, 13, 13), True, lambda nn: nn.Conv2d(32, 64, 3)),
        ("W4 pool2  MaxPool2d(2)    (64,64,11,11)", (64, 64, 11, 11), True, lambda nn: nn.MaxPool2d(2)),
    ]


def cnn1d(nn):
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10))


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def network_cases():
    return [("W3 cnn1d-mnist1d network (100,40)", (100, 40), False, cnn1d),
            ("W4 cnn2d-lenet network (64,1,28,28)", (64, 1, 28, 28), False, lenet)]


def runner(framework, framework_nn, build, x, v, input_grad):
    """forward + backward of sum(layer(x) * v), with PyTorch's weights copied in for chainrule."""
    layer = build(framework_nn)
    if framework is chainrule:
        reference = build(torch.nn)
        layer.load_state_dict({k: t.detach().numpy() for k, t in reference.state_dict().items()})
    inputs = framework.tensor(x, requires_grad=input_grad)
    cotangent = framework.tensor(v)
    parameters = list(layer.parameters())

    def run():
        (layer(inputs) * cotangent).sum().backward()
        inputs.grad = None
        for p in parameters:
            p.grad = None
    return run


def build_cases(rng):
    cases = []
    for name, shape, input_grad, build in layer_cases() + network_cases():
        x = rng.standard_normal(shape).astype(numpy.float32)
        with torch.no_grad():
            out_shape = build(torch.nn)(torch.tensor(x)).shape
        v = rng.standard_normal(tuple(out_shape)).astype(numpy.float32)
        cases.append((name, {
            "chainrule": runner(chainrule, CHAINRULE_NN, build, x, v, input_grad),
            "pytorch": runner(torch, torch.nn, build, x, v, input_grad),
        }))
    return cases


def profile_case(cases, pattern):
    name, runs = next((name, runs) for name, runs in cases if pattern in name)
    timing.profile(runs["chainrule"], 20, f"chainrule {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, help="interleaved repetitions per case (default 7, or 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="shorter blocks and fewer repetitions")
    parser.add_argument("--block-seconds", type=float, help="target length of one block (default 0.3, or 0.05 quick)")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch's thread count (default 2)")
    parser.add_argument("--profile", metavar="CASE",
                        help="profile chainrule on the first case whose name contains CASE")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    block_seconds = args.block_seconds or (0.05 if args.quick else 0.3)

    torch.set_num_threads(args.torch_threads)
    cases = build_cases(numpy.random.default_rng(0))
    gc.collect()
    gc.freeze()
    if args.profile:
        profile_case(cases, args.profile)
        return
    print(f"numpy {numpy.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; float32, forward+backward")
    header = f"{'case':46s} {'chainrule ms':>13s} {'PyTorch ms':>11s} {'chainrule/PyTorch':>18s}"
    print(header)
    print("-" * len(header))
    for name, runs in cases:
        seconds = timing.interleave(runs, repeats, block_seconds)
        medians = {name: statistics.median(s) for name, s in seconds.items()}
        ratio = statistics.median(timing.ratios(seconds, "chainrule", "pytorch"))
        print(f"{name:46s} {medians['chainrule'] * 1e3:13.3f} {medians['pytorch'] * 1e3:11.3f} {ratio:18.2f}",
              flush=True)


if __name__ == "__main__":
    main()
