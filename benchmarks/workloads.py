"""The canonical workloads (shared/workloads.md), chainrule and PyTorch side by side.

One training step is: zero the gradients, forward, cross-entropy against
integer labels, backward, SGD(lr=0.01, momentum=0.9) step, in float32 on a
fixed random batch. Both frameworks run in this process, in interleaved
blocks (chainrule, PyTorch, chainrule, ...); each block's steps/s is one
sample and the table shows the medians and the ratio chainrule / PyTorch
(above 1: chainrule is faster). W1 and W2 also run as a hand-written NumPy
step (forward, the backward worked out by hand, the momentum update): what
the arithmetic alone costs here.

Also measured: achieved GFLOP/s of each step against NumPy's own float32
matmul peak in the same run; peak resident memory of a fresh process running
50 W1 steps, per framework; and the time to import each framework.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be set on the machine (older
OpenBLAS builds need them; they slow a current NumPy). They are left as the
environment has them; run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`
to measure as on a user's machine. The table says which was used.

    python benchmarks/workloads.py [--repeats 5] [--seconds 1.0] [--only W1,W2]
                                   [--json results.json] [--markdown docs/performance.md]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time

import numpy

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

WORKLOADS = {
    "W1": ("mlp-wide", (128, 784)),
    "W2": ("mlp-small", (32, 40)),
    "W3": ("cnn1d-mnist1d", (100, 1, 40)),
    "W4": ("cnn2d-lenet", (64, 1, 28, 28)),
    "W5": ("gru-mnist1d", (100, 40)),
}


# ---------------------------------------------------------------- the models, written once per framework

def build(lib, workload):
    """The workload's model in chainrule (lib=chainrule.nn) or PyTorch (lib=torch.nn)."""
    if workload == "W1":
        return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(), lib.Linear(512, 10))
    if workload == "W2":
        return lib.Sequential(lib.Linear(40, 100), lib.ReLU(), lib.Linear(100, 100), lib.ReLU(), lib.Linear(100, 10))
    if workload == "W3":
        return lib.Sequential(lib.Conv1d(1, 25, 5, stride=2, padding=1), lib.ReLU(),
                              lib.Conv1d(25, 25, 3, stride=2, padding=1), lib.ReLU(),
                              lib.Conv1d(25, 25, 3, stride=2, padding=1), lib.ReLU(),
                              lib.Flatten(), lib.Linear(125, 10))
    if workload == "W4":
        return lib.Sequential(lib.Conv2d(1, 32, 3), lib.ReLU(), lib.MaxPool2d(2), lib.Conv2d(32, 64, 3), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Flatten(), lib.Linear(1600, 128), lib.ReLU(), lib.Linear(128, 10))
    return GRUClassifier(lib)


def GRUClassifier(lib):
    class Model(lib.Module):
        def __init__(self):
            super().__init__()
            self.gru = lib.GRU(input_size=1, hidden_size=6, batch_first=True, bidirectional=True)
            self.head = lib.Linear(480, 10)

        def forward(self, x):
            output, _ = self.gru(x.reshape(x.shape[0], 40, 1))
            return self.head(output.reshape(x.shape[0], 480))

    return Model()


def flops_per_step(workload, batch):
    """Multiply-adds x 2 of every matmul and convolution, forward and backward
    (weight gradients everywhere, input gradients except for the first layer)."""
    def layer(forward, first=False):
        return forward * (2 if first else 3)

    if workload == "W1":
        sizes = [(784, 512), (512, 512), (512, 10)]
        return sum(layer(2 * batch * i * o, k == 0) for k, (i, o) in enumerate(sizes))
    if workload == "W2":
        sizes = [(40, 100), (100, 100), (100, 10)]
        return sum(layer(2 * batch * i * o, k == 0) for k, (i, o) in enumerate(sizes))
    if workload == "W3":
        convs = [(1, 25, 5, 19), (25, 25, 3, 10), (25, 25, 3, 5)]  # in, out, kernel, output length
        total = sum(layer(2 * batch * o * length * i * k, n == 0) for n, (i, o, k, length) in enumerate(convs))
        return total + layer(2 * batch * 125 * 10)
    if workload == "W4":
        convs = [(1, 32, 9, 26 * 26), (32, 64, 9, 11 * 11)]
        total = sum(layer(2 * batch * o * pixels * i * k, n == 0) for n, (i, o, k, pixels) in enumerate(convs))
        return total + layer(2 * batch * 1600 * 128) + layer(2 * batch * 128 * 10)
    # W5: per step and direction, input (1 -> 18) and hidden (6 -> 18) products
    per_direction = 40 * (2 * batch * 1 * 18 + 2 * batch * 6 * 18)
    return 2 * layer(per_direction) + layer(2 * batch * 480 * 10)


# ---------------------------------------------------------------- one training step per framework

def chainrule_step(workload, inputs, labels):
    cr.manual_seed(0)
    model = build(nn, workload)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = cr.tensor(inputs), cr.tensor(labels)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def torch_step(torch, workload, inputs, labels):
    torch.manual_seed(0)
    model = build(torch.nn, workload)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.tensor(inputs), torch.tensor(labels)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def numpy_mlp_step(sizes, inputs, labels):
    """The MLP step with the chain rule worked by hand: the arithmetic's own cost."""
    rng = numpy.random.default_rng(0)
    weights = [(rng.uniform(-1, 1, (o, i)) / numpy.sqrt(i)).astype(numpy.float32) for i, o in sizes]
    biases = [numpy.zeros(o, numpy.float32) for _, o in sizes]
    velocities = [numpy.zeros_like(p) for p in weights + biases]
    one_hot = numpy.eye(sizes[-1][1], dtype=numpy.float32)[labels]
    batch = len(labels)

    def step():
        activations = [inputs]
        for w, b in zip(weights[:-1], biases[:-1]):
            activations.append(numpy.maximum(activations[-1] @ w.T + b, 0))
        logits = activations[-1] @ weights[-1].T + biases[-1]
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = numpy.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        grad = (probabilities - one_hot) / batch  # d loss / d logits
        grads_w, grads_b = [], []
        for k in range(len(weights) - 1, -1, -1):
            grads_w.append(grad.T @ activations[k])
            grads_b.append(grad.sum(axis=0))
            if k:
                grad = (grad @ weights[k]) * (activations[k] > 0)
        for p, g, v in zip(weights + biases, grads_w[::-1] + grads_b[::-1], velocities):
            v *= 0.9
            v += g
            p -= 0.01 * v
    return step


# ---------------------------------------------------------------- timing

def steps_per_second(step, seconds):
    step()  # warm up (allocations, lazy imports)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        count += 1
    return count / (time.perf_counter() - started)


def matmul_peak(seconds=1.0):
    a = numpy.random.default_rng(0).standard_normal((1024, 1024)).astype(numpy.float32)
    rate = steps_per_second(lambda: a @ a, seconds)
    return rate * 2 * 1024 ** 3 / 1e9


def peak_memory(framework):
    """Peak RSS (MB) of a fresh process running 50 W1 steps."""
    script = textwrap.dedent(f"""
        import resource, sys, numpy
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import workloads
        rng = numpy.random.default_rng(0)
        x = rng.standard_normal((128, 784)).astype(numpy.float32)
        y = rng.integers(0, 10, 128)
        if {framework!r} == "torch":
            import torch
            torch.set_num_threads(2)
            step = workloads.torch_step(torch, "W1", x, y)
        else:
            step = workloads.chainrule_step("W1", x, y)
        for _ in range(50):
            step()
        # VmHWM starts afresh at exec; ru_maxrss would inherit the parent's peak across fork and exec.
        peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
        print(int(peak[0]) / 1024 if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def import_seconds(module, repeats=5):
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", f"import time; t = time.perf_counter(); import {module}; "
                              "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def run(arguments):
    import torch
    torch.set_num_threads(2)
    rng = numpy.random.default_rng(0)
    results = {"workloads": {}}
    peak = matmul_peak()
    for workload in arguments.only:
        name, shape = WORKLOADS[workload]
        inputs = rng.standard_normal(shape).astype(numpy.float32)
        labels = rng.integers(0, 10, shape[0])
        candidates = {"chainrule": chainrule_step(workload, inputs, labels),
                      "pytorch": torch_step(torch, workload, inputs, labels)}
        if workload in ("W1", "W2"):
            sizes = [(784, 512), (512, 512), (512, 10)] if workload == "W1" else [(40, 100), (100, 100), (100, 10)]
            candidates["numpy"] = numpy_mlp_step(sizes, inputs, labels)
        samples = {key: [] for key in candidates}
        for _ in range(arguments.repeats):  # interleaved blocks
            for key, step in candidates.items():
                samples[key].append(steps_per_second(step, arguments.seconds))
        medians = {key: statistics.median(values) for key, values in samples.items()}
        flops = flops_per_step(workload, shape[0])
        entry = {"name": name, "steps_per_s": {k: {"median": medians[k], "min": min(v), "max": max(v)}
                                               for k, v in samples.items()},
                 "ratio_vs_pytorch": medians["chainrule"] / medians["pytorch"],
                 "gflops": {k: medians[k] * flops / 1e9 for k in medians},
                 "fraction_of_matmul_peak": medians["chainrule"] * flops / 1e9 / peak}
        if "numpy" in medians:
            entry["fraction_of_numpy"] = medians["chainrule"] / medians["numpy"]
        results["workloads"][workload] = entry
        print(f"{workload} {name:14s} chainrule {medians['chainrule']:8.1f}  pytorch {medians['pytorch']:8.1f} steps/s"
              f"  ratio {entry['ratio_vs_pytorch']:.2f}"
              + (f"  numpy {medians['numpy']:8.1f} (chainrule at {entry['fraction_of_numpy']:.0%})"
                 if "numpy" in medians else ""), flush=True)
    results["matmul_peak_gflops"] = peak
    results["peak_memory_mb_50_w1_steps"] = {"chainrule": peak_memory("chainrule"), "pytorch": peak_memory("torch")}
    results["import_seconds"] = {"chainrule": import_seconds("chainrule"), "pytorch": import_seconds("torch")}
    results["machine"] = {
        "python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__,
        "chainrule": cr.__version__, "cpu_count": os.cpu_count(), "processor": platform.machine(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        "keeps_freed_memory": cr.memory.keep_freed_memory(),
        "repeats": arguments.repeats, "seconds_per_block": arguments.seconds,
    }
    return results


def markdown(results):
    machine = results["machine"]
    lines = [
        "# Performance", "",
        "Written by `benchmarks/workloads.py` (the canonical workloads of shared/workloads.md: float32,",
        "SGD with momentum, cross-entropy; PyTorch with 2 threads; medians of interleaved blocks).",
        "Ratios above 1 mean chainrule is faster.", "",
        f"Machine: {machine['processor']}, {machine['cpu_count']} cores; Python {machine['python']}, "
        f"NumPy {machine['numpy']}, PyTorch {machine['torch']}, chainrule {machine['chainrule']}; "
        f"OPENBLAS_CORETYPE={machine['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={machine['OPENBLAS_L2_SIZE']}; "
        f"chainrule keeps freed memory (chainrule.memory): {'yes' if machine['keeps_freed_memory'] else 'no'}.", "",
        "| workload | chainrule steps/s | PyTorch steps/s | chainrule / PyTorch | hand-written NumPy | "
        "chainrule / NumPy | chainrule GFLOP/s | of matmul peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, entry in results["workloads"].items():
        s = entry["steps_per_s"]
        numpy_rate = f"{s['numpy']['median']:.0f}" if "numpy" in s else ""
        numpy_ratio = f"{entry['fraction_of_numpy']:.2f}" if "fraction_of_numpy" in entry else ""
        lines.append(f"| {key} {entry['name']} | {s['chainrule']['median']:.0f} | {s['pytorch']['median']:.0f} | "
                     f"{entry['ratio_vs_pytorch']:.2f} | {numpy_rate} | {numpy_ratio} | "
                     f"{entry['gflops']['chainrule']:.1f} | {entry['fraction_of_matmul_peak']:.0%} |")
    memory, imports = results["peak_memory_mb_50_w1_steps"], results["import_seconds"]
    lines += ["", f"NumPy float32 matmul peak (1024x1024) in the same run: {results['matmul_peak_gflops']:.0f} GFLOP/s.",
              "", f"Peak resident memory of a fresh process running 50 W1 steps: chainrule {memory['chainrule']:.0f} MB, "
              f"PyTorch {memory['pytorch']:.0f} MB.", "",
              f"Import time: chainrule {imports['chainrule'] * 1000:.0f} ms, PyTorch {imports['pytorch'] * 1000:.0f} ms "
              f"({imports['pytorch'] / imports['chainrule']:.1f}x).", ""]
    return "\n".join(lines)


BEGIN, END = "<!-- written by benchmarks/workloads.py: begin -->", "<!-- written by benchmarks/workloads.py: end -->"


def write_section(path, text):
    """Put ``text`` between the BEGIN and END markers of ``path``, keeping what is written around them
    (the analysis of the numbers); a file without the markers gets them, with ``text``, at its top."""
    section = f"{BEGIN}\n{text}\n{END}\n"
    try:
        with open(path) as f:
            current = f.read()
    except FileNotFoundError:
        current = ""
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        updated = before + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        updated = section + ("\n" + current if current else "")
    with open(path, "w") as f:
        f.write(updated)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved blocks per framework")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each block")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workload ids")
    parser.add_argument("--json", help="write the results as JSON here")
    parser.add_argument("--markdown", help="write the table as Markdown here (e.g. docs/performance.md)")
    arguments = parser.parse_args()
    arguments.only = [w.strip() for w in arguments.only.split(",")]
    results = run(arguments)
    print(markdown(results))
    if arguments.json:
        with open(arguments.json, "w") as f:
            json.dump(results, f, indent=2)
    if arguments.markdown:
        write_section(arguments.markdown, markdown(results))


if __name__ == "__main__":
    main()
