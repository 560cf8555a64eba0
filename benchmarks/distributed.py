"""Data-parallel training on 1 and 2 ranks, and what its communication costs.

Trains W1 (the MLP 784-512-512-10, batch 128 per rank) and W3 (the MNIST-1D
CNN, batch 100 per rank) of benchmarks/workloads.py under
DistributedDataParallel, in float32 with SGD(lr=0.01, momentum=0.9) and
cross-entropy, on a fixed random batch per rank, in three configurations
launched by mpiexec:

- 1 rank, with the BLAS threads the environment gives it;
- 1 rank, one BLAS thread;
- 2 ranks, one BLAS thread each.

Each timed step alternates with one inside ``model.no_sync()`` (the same
step without communication), so that both feel the same load. Per rank the
table shows the median (min-max) step time, steps/s, samples/s over all
ranks, the backward time with and without communication, and the time the
step spends blocked waiting for the gradient all-reduce.

With 2 ranks it also times a bare ``distributed.all_reduce`` of float32
arrays of several sizes, the gradients of W1 and W3 among them, and fits the
ring all-reduce model T(p) = 2(p-1) alpha + 2(p-1)/p n beta (n bytes) to
them. From alpha, beta and the one-rank compute time it estimates the
weak-scaling efficiency at 8, 64 and 512 ranks, with this machine's numbers
and with two assumed cluster networks.

Each configuration is launched --rounds times, in turn with the others, so
that slow drifts of the machine's load touch them alike, and the samples of
all rounds are pooled. On a small shared machine the numbers are noisy: the
tables show medians, and the load average before the run and after each
round.

    python benchmarks/distributed.py [--rounds 5] [--steps 50] [--warmup 10] [--json results.json]
"""
import argparse
import contextlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy

import chainrule as cr
from chainrule import distributed, nn, optim
from chainrule.nn import functional as F
from workloads import WORKLOADS, build  # beside this script, which Python puts first on sys.path

MEASURED = ("W1", "W3")
CONFIGURATIONS = [  # label, ranks, BLAS threads per rank (None: as the environment has them)
    ("1 rank, default threads", 1, None),
    ("1 rank, 1 thread", 1, 1),
    ("2 ranks, 1 thread each", 2, 1),
]
EXTRA_MESSAGE_BYTES = (1_000, 100_000, 1_000_000, 10_000_000)
ALL_REDUCE_REPEATS = 30
SCALING_RANKS = (8, 64, 512)
ASSUMED_NETWORKS = {  # name: (latency alpha in s, seconds per byte beta); assumptions, not measurements
    "10 Gb/s Ethernet (assumed 30 us, 1.25 GB/s)": (30e-6, 8 / 10e9),
    "100 Gb/s InfiniBand (assumed 2 us, 12.5 GB/s)": (2e-6, 8 / 100e9),
}


def gradient_bytes(workload):
    return sum(p.data.nbytes for p in build(nn, workload).parameters())


# ---------------------------------------------------------------- on each rank, under mpiexec

class WaitTimer:
    """Seconds spent blocked in a communicator's ``wait``.

    DistributedDataParallel has no timing hooks of its own; its step ends in
    ``wait`` on every bucket's all-reduce, so the time there is the
    communication that backward did not hide (and, with several ranks, the
    time waiting for the slowest one to arrive).
    """

    def __init__(self, communicator):
        self.seconds = 0.0
        self._wait = communicator.wait
        communicator.wait = self

    def __call__(self, requests, what):
        start = time.perf_counter()
        try:
            self._wait(requests, what)
        finally:
            self.seconds += time.perf_counter() - start


def timed_step(model, optimizer, inputs, labels, waits, communicate):
    """Seconds of one training step, of its backward, and blocked in the all-reduce."""
    waits.seconds = 0.0
    start = time.perf_counter()
    optimizer.zero_grad()
    with contextlib.nullcontext() if communicate else model.no_sync():
        loss = F.cross_entropy(model(inputs), labels)
        backward_start = time.perf_counter()
        loss.backward()
        backward_end = time.perf_counter()
    model.synchronize()
    optimizer.step()
    return time.perf_counter() - start, backward_end - backward_start, waits.seconds


def measure_training(workload, steps, warmup, bucket_cap_mb):
    cr.manual_seed(0)
    model = distributed.DistributedDataParallel(build(nn, workload), bucket_cap_mb=bucket_cap_mb)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    shape = WORKLOADS[workload][1]
    rng = numpy.random.default_rng(distributed.rank())  # each rank its own batch, as in training
    inputs = cr.tensor(rng.standard_normal(shape).astype(numpy.float32))
    labels = cr.tensor(rng.integers(0, 10, shape[0]))
    waits = WaitTimer(model.communicator)
    samples = {name: [] for name in ("step", "backward", "wait", "step_no_sync", "backward_no_sync")}
    for index in range(warmup + steps):
        step, backward, wait = timed_step(model, optimizer, inputs, labels, waits, communicate=True)
        step_local, backward_local, _ = timed_step(model, optimizer, inputs, labels, waits, communicate=False)
        if index >= warmup:
            for name, value in zip(samples, (step, backward, wait, step_local, backward_local)):
                samples[name].append(value)
    return samples


def measure_all_reduce(message_bytes, warmup):
    """Seconds per bare all-reduce of each size, each started right after a barrier
    so that a rank arriving late is not counted as communication."""
    samples = {}
    for nbytes in message_bytes:
        array = numpy.zeros(nbytes // 4, dtype=numpy.float32)  # zeros: the sums stay finite
        times = []
        for _ in range(warmup + ALL_REDUCE_REPEATS):
            distributed.barrier()
            start = time.perf_counter()
            distributed.all_reduce(array)
            times.append(time.perf_counter() - start)
        samples[str(nbytes)] = times[warmup:]
    return samples


def run_worker(arguments):
    distributed.init()
    results = {workload: measure_training(workload, arguments.steps, arguments.warmup, arguments.bucket_cap_mb)
               for workload in MEASURED}
    if distributed.world_size() > 1:
        sizes = sorted(set(EXTRA_MESSAGE_BYTES) | {gradient_bytes(w) for w in MEASURED})
        results["all_reduce"] = measure_all_reduce(sizes, arguments.warmup)
    # results[group][name][rank] -> samples; every rank gathers the same keys in the same order.
    gathered = {group: {name: distributed.all_gather(numpy.array(values)).tolist() for name, values in entries.items()}
                for group, entries in results.items()}
    if distributed.is_main_process():
        from mpi4py import MPI
        with open(arguments.worker, "w") as f:
            json.dump({"ranks": distributed.world_size(), "mpi": " ".join(MPI.Get_library_version().split()[:3]),
                       "samples": gathered}, f)


# ---------------------------------------------------------------- the launcher

def mpiexec():
    # The launcher beside this Python belongs to the MPI that mpi4py was built against.
    beside_python = pathlib.Path(sys.executable).with_name("mpiexec")
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("benchmarks/distributed.py needs mpi4py and mpiexec: pip install 'chainrule[mpi]'")
    return found


def launch(ranks, threads, arguments, out_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI_", "OMPI_"))}
    if threads is not None:
        # Whichever BLAS NumPy uses; ranks sharing the cores with more threads each would oversubscribe them.
        environment.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                           MKL_NUM_THREADS=str(threads))
    command = [mpiexec(), "-n", str(ranks), sys.executable, str(pathlib.Path(__file__).resolve()),
               "--worker", out_path, "--steps", str(arguments.steps), "--warmup", str(arguments.warmup),
               "--bucket-cap-mb", str(arguments.bucket_cap_mb)]
    subprocess.run(command, env=environment, check=True, timeout=600)
    with open(out_path) as f:
        return json.load(f)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def pooled(runs, group, name, rank):
    """One rank's samples of one quantity from every run of a configuration, together."""
    return [value for raw in runs for value in raw["samples"][group][name][rank]]


def summarise(runs, threads):
    """Medians (min, max) per workload and rank, throughput, and all-reduce times."""
    ranks = runs[0]["ranks"]
    result = {"ranks": ranks, "mpi": runs[0]["mpi"], "blas_threads": threads or os.environ.get(
        "OPENBLAS_NUM_THREADS", "default (OPENBLAS_NUM_THREADS unset)"), "workloads": {}}
    for workload in MEASURED:
        batch = WORKLOADS[workload][1][0]
        per_rank = []
        for rank in range(ranks):
            entry = {name: summary(pooled(runs, workload, name, rank)) for name in runs[0]["samples"][workload]}
            entry["steps_per_s"] = 1 / entry["step"]["median"]
            entry["samples_per_s_all_ranks"] = ranks * batch / entry["step"]["median"]
            per_rank.append(entry)
        result["workloads"][workload] = per_rank
    if "all_reduce" in runs[0]["samples"]:
        # A collective is over when its slowest rank is done: take the largest of the ranks' medians.
        result["all_reduce_s"] = {nbytes: max(statistics.median(pooled(runs, "all_reduce", nbytes, rank))
                                              for rank in range(ranks))
                                  for nbytes in runs[0]["samples"]["all_reduce"]}
    return result


# ---------------------------------------------------------------- the cost model

def fit_alpha_beta(seconds_by_bytes):
    """alpha and beta of T = 2 alpha + n beta (the ring model at p = 2), fitted to
    the relative error, so that the small messages fix alpha and the large ones beta."""
    n = numpy.array([float(b) for b in seconds_by_bytes])
    t = numpy.array(list(seconds_by_bytes.values()))
    design = numpy.stack([numpy.full_like(n, 2.0), n], axis=1) / t[:, None]
    (alpha, beta), *_ = numpy.linalg.lstsq(design, numpy.ones_like(t), rcond=None)
    return float(alpha), float(beta)


def ring_all_reduce_seconds(ranks, nbytes, alpha, beta):
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes * beta


def scaling_estimates(configurations, alpha, beta):
    """Weak-scaling efficiency compute / (compute + all-reduce), with no overlap, per workload and network.

    The compute time is the faster of the one-rank no-communication medians:
    the shorter the compute, the more the communication weighs, so this errs low.
    """
    networks = {"this machine (shared memory, fitted)": (alpha, beta), **ASSUMED_NETWORKS}
    estimates = {}
    for workload in MEASURED:
        compute = min(c["workloads"][workload][0]["step_no_sync"]["median"]
                      for c in configurations.values() if c["ranks"] == 1)
        nbytes = gradient_bytes(workload)
        estimates[workload] = {"compute_s": compute, "gradient_bytes": nbytes, "networks": {
            name: {str(p): {"all_reduce_s": ring_all_reduce_seconds(p, nbytes, a, b),
                            "efficiency": compute / (compute + ring_all_reduce_seconds(p, nbytes, a, b))}
                   for p in SCALING_RANKS}
            for name, (a, b) in networks.items()}}
    return estimates


# ---------------------------------------------------------------- the report

def milliseconds(entry):
    return f"{entry['median'] * 1e3:.2f} ({entry['min'] * 1e3:.2f}-{entry['max'] * 1e3:.2f})"


def markdown(results):
    lines = [f"## Data-parallel step times (ms: median (min-max)), buckets of {results['bucket_cap_mb']:g} MB", "",
             "| configuration | workload | rank | step | step, no_sync | backward | backward, no_sync | "
             "all-reduce wait | steps/s | samples/s, all ranks |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, configuration in results["configurations"].items():
        for workload, per_rank in configuration["workloads"].items():
            for rank, e in enumerate(per_rank):
                lines.append(f"| {label} | {workload} | {rank} | {milliseconds(e['step'])} | "
                             f"{milliseconds(e['step_no_sync'])} | {milliseconds(e['backward'])} | "
                             f"{milliseconds(e['backward_no_sync'])} | {milliseconds(e['wait'])} | "
                             f"{e['steps_per_s']:.0f} | {e['samples_per_s_all_ranks']:.0f} |")
    default = results["configurations"][CONFIGURATIONS[0][0]]
    lines += ["", f"{results['rounds']} rounds of every configuration in turn, {results['steps']} timed steps each "
                  f"(and as many with no_sync) after {results['warmup']} untimed; BLAS threads of the default "
                  f"configuration: {default['blas_threads']}; {default['mpi']}.", "",
              "Load average (1, 5, 15 min) before the run: " + loads(results["load_before"]) + "; after each round: "
              + "; ".join(loads(load) for load in results["load_after_rounds"])
              + " (the benchmark's own ranks count in it).", ""]
    alpha, beta = results["alpha_s"], results["beta_s_per_byte"]
    lines += ["## Bare all-reduce on 2 ranks (float32, largest of the ranks' medians)", "",
              "| bytes | measured ms | fit 2 alpha + n beta, ms |", "|---|---|---|"]
    for nbytes, seconds in results["all_reduce_s"].items():
        lines.append(f"| {int(nbytes):,} | {seconds * 1e3:.3f} | "
                     f"{ring_all_reduce_seconds(2, int(nbytes), alpha, beta) * 1e3:.3f} |")
    lines += ["", f"Fitted: alpha = {alpha * 1e6:.1f} us, beta = {beta * 1e9:.3f} ns/byte "
                  f"({1 / beta / 1e9:.2f} GB/s).", "",
              "## Estimated weak-scaling efficiency (ring all-reduce, no overlap)", "",
              "| workload | compute ms | gradient bytes | network | "
              + " | ".join(f"{p} ranks" for p in SCALING_RANKS) + " |",
              "|---|---|---|---|" + "---|" * len(SCALING_RANKS)]
    for workload, estimate in results["scaling_estimates"].items():
        for network, by_ranks in estimate["networks"].items():
            cells = " | ".join(f"{e['efficiency']:.0%} ({e['all_reduce_s'] * 1e3:.2f} ms)" for e in by_ranks.values())
            lines.append(f"| {workload} | {estimate['compute_s'] * 1e3:.2f} | {estimate['gradient_bytes']:,} | "
                         f"{network} | {cells} |")
    lines += ["", "Compute: the faster of the one-rank `no_sync` step medians. In brackets: the all-reduce time "
                  "T(p) = 2(p-1) alpha + 2(p-1)/p n beta. The two cluster networks' alpha and beta are "
                  "assumptions, not measurements."]
    return "\n".join(lines)


def loads(triple):
    return ", ".join(f"{value:.2f}" for value in triple)


def run(arguments):
    results = {"load_before": os.getloadavg(), "load_after_rounds": [], "cpu_count": os.cpu_count(),
               "numpy": numpy.__version__, "chainrule": cr.__version__, "rounds": arguments.rounds,
               "steps": arguments.steps, "warmup": arguments.warmup, "bucket_cap_mb": arguments.bucket_cap_mb}
    runs = {label: [] for label, _, _ in CONFIGURATIONS}
    with tempfile.TemporaryDirectory() as directory:
        for round_index in range(arguments.rounds):
            for label, ranks, threads in CONFIGURATIONS:
                print(f"round {round_index + 1}/{arguments.rounds}: {label}", file=sys.stderr, flush=True)
                runs[label].append(launch(ranks, threads, arguments, os.path.join(directory, "ranks.json")))
            results["load_after_rounds"].append(os.getloadavg())
    results["configurations"] = {label: summarise(runs[label], threads) for label, _, threads in CONFIGURATIONS}
    results["all_reduce_s"] = next(c["all_reduce_s"] for c in results["configurations"].values()
                                   if "all_reduce_s" in c)
    results["alpha_s"], results["beta_s_per_byte"] = fit_alpha_beta(results["all_reduce_s"])
    results["scaling_estimates"] = scaling_estimates(results["configurations"], results["alpha_s"],
                                                     results["beta_s_per_byte"])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="launches of every configuration, in turn")
    parser.add_argument("--steps", type=int, default=50, help="timed steps, each with and without communication")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps (and all-reduces) first")
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0,
                        help="DistributedDataParallel's bucket size; below a model's gradient size (W1: 2.6 MB) "
                             "the first buckets' all-reduces can overlap the rest of backward")
    parser.add_argument("--json", help="write the results as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # set by the launcher: rank 0 writes here
    arguments = parser.parse_args()
    if arguments.worker:
        run_worker(arguments)
        return
    results = run(arguments)
    print(markdown(results))
    if arguments.json:
        with open(arguments.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
