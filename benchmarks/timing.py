"""Timing shared by the benchmarks: interleaved blocks, medians, a profile.

Each framework runs in blocks of about the same wall time, one after
another (chainrule, PyTorch, ..., then again), so slow drifts of the
machine's load touch every framework alike. Before each block the garbage
collector runs and the process sleeps briefly, so that BLAS worker threads
left spinning by the previous block do not steal the next one's cores.
"""
import cProfile
import gc
import pstats
import time

SETTLE_SECONDS = 0.2  # long enough for idle BLAS worker threads to stop spinning


def settle():
    gc.collect()
    time.sleep(SETTLE_SECONDS)


def calls_per_block(run, block_seconds):
    """How many calls of ``run`` fill one block, after a warm-up."""
    for _ in range(3):
        run()
    settle()
    start = time.perf_counter()
    run()
    return max(1, round(block_seconds / max(time.perf_counter() - start, 1e-9)))


def time_block(run, calls):
    """Seconds per call over one block."""
    settle()
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def interleave(runs, repeats, block_seconds):
    """Seconds per call of each of ``runs`` (name -> callable), one sample per block."""
    calls = {name: calls_per_block(run, block_seconds) for name, run in runs.items()}
    seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            seconds[name].append(time_block(run, calls[name]))
    return seconds


def ratios(seconds, ours, theirs):
    """Per-repetition time ratios ours / theirs (paired blocks, so load drifts cancel)."""
    return [a / b for a, b in zip(seconds[ours], seconds[theirs])]


def profile(run, calls, title, lines=15):
    """Print a cProfile of ``calls`` runs, sorted by own time."""
    run()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        run()
    profiler.disable()
    print(f"cProfile of {calls} runs of {title}")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(lines)
