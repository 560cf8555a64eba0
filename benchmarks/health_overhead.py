"""What leaving ``GradientHealth`` on costs: the W1 training step with and without it.

W1 of ../shared/workloads.md (Linear(784,512) ReLU Linear(512,512) ReLU
Linear(512,10), batch 128, float32, cross-entropy, SGD(lr=0.01, momentum=0.9)),
trained in blocks of steps, alternately plain and watched by a fresh
``GradientHealth(model, every=1)`` with ``health.step()`` after every
optimiser step. It is one model and one optimiser throughout, since two
copies of the same model can differ in speed by several per cent (where
their arrays lie in memory). Blocks alternate (plain, watched, …) so that drifts
in machine speed hit both alike (and which goes first alternates); each
block runs a fixed number of steps. ``health.step()`` is also timed alone,
which on a busy machine is a steadier figure than the difference of two
noisy step times (the forward hooks' share is not in it: they cost about
0.03 ms per activation layer).
The table gives the median step time of each and the median of the
per-pair ratios watched / plain; the aim is a ratio below 1.10.

A short wait before each block lets idle BLAS threads stop spinning, so
one block's leftovers do not slow the next. On a machine shared with other
work, multi-threaded BLAS makes every step time noisy (see the quartiles);
``OPENBLAS_NUM_THREADS=1`` gives a steadier ratio.

Usage::

    python benchmarks/health_overhead.py [--repeats 30] [--steps 10] [--every 1] [--json out.json]
"""
import argparse
import json
import os
import statistics
import time

import numpy

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.diagnostics import GradientHealth
from chainrule.files import atomic_write

SETTLE_SECONDS = 0.2
BATCH = 128


def w1_model():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def training_step(model, optimizer, inputs, targets, health=None):
    optimizer.zero_grad()
    F.cross_entropy(model(inputs), targets).backward()
    optimizer.step()
    if health is not None:
        health.step()


def time_block(model, optimizer, inputs, targets, steps, every=None):
    """Seconds per training step over ``steps`` steps, watched by a fresh
    GradientHealth when ``every`` is given (attached before the clock starts,
    detached after it stops); returns the time and the monitor."""
    health = None if every is None else GradientHealth(model, every=every, window=20)
    time.sleep(SETTLE_SECONDS)
    started = time.perf_counter()
    for _ in range(steps):
        training_step(model, optimizer, inputs, targets, health)
    elapsed = (time.perf_counter() - started) / steps
    if health is not None:
        health.close()
    return elapsed, health


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="pairs of blocks (default 30)")
    parser.add_argument("--steps", type=int, default=10, help="training steps per block (default 10)")
    parser.add_argument("--every", type=int, default=1, help="GradientHealth(every=...) (default 1)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    chainrule.manual_seed(0)
    rng = numpy.random.default_rng(0)
    inputs = chainrule.tensor(rng.standard_normal((BATCH, 784)).astype(numpy.float32))
    targets = chainrule.tensor(rng.integers(0, 10, BATCH))
    model = w1_model()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    work = (model, optimizer, inputs, targets, args.steps)
    time_block(*work[:4], 3)  # warm-up: first-call allocations, BLAS thread start

    plain_times, watched_times = [], []
    for repeat in range(args.repeats):
        # plain first in even pairs, watched first in odd ones: whichever
        # block runs second in a pair (warmer caches, a drifting clock) does
        # so equally often for both
        if repeat % 2 == 0:
            plain_times.append(time_block(*work)[0])
            elapsed, health = time_block(*work, every=args.every)
            watched_times.append(elapsed)
        else:
            elapsed, health = time_block(*work, every=args.every)
            watched_times.append(elapsed)
            plain_times.append(time_block(*work)[0])
    started = time.perf_counter()
    for _ in range(200):
        health.step()
    own_cost = (time.perf_counter() - started) / 200
    ratios = [w / p for p, w in zip(plain_times, watched_times)]
    lower_quartile, _, upper_quartile = statistics.quantiles(ratios, n=4)
    result = {
        "workload": "W1 mlp-wide, batch 128, float32, SGD(lr=0.01, momentum=0.9)",
        "every": args.every, "repeats": args.repeats, "steps_per_block": args.steps,
        "plain_ms": 1e3 * statistics.median(plain_times), "watched_ms": 1e3 * statistics.median(watched_times),
        "ratio": statistics.median(ratios), "health_step_ms": 1e3 * own_cost,
        "ratio_quartiles": [lower_quartile, upper_quartile],
        "numpy": numpy.__version__, "cpus": os.cpu_count(),
        "openblas_env": {name: os.environ.get(name)
                         for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")},
    }
    print(f"W1 training step, median of {args.repeats} interleaved blocks of {args.steps} steps")
    print(f"  without GradientHealth   {result['plain_ms']:8.2f} ms")
    print(f"  with GradientHealth      {result['watched_ms']:8.2f} ms   (every={args.every})")
    print(f"  ratio with / without     {result['ratio']:8.3f}   (median of per-pair ratios; aim: < 1.10)")
    print(f"  ratio quartiles          {result['ratio_quartiles'][0]:8.3f} .. {result['ratio_quartiles'][1]:.3f}"
          f"   (the spread of the pairs: how noisy this machine is)")
    print(f"  health.step() alone      {1e3 * own_cost:8.2f} ms")
    if args.json:
        with atomic_write(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
