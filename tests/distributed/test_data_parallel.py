"""Data-parallel training on two ranks (``mpiexec -n 2``) against single-process runs.

The ranks run mpi_worker.py; these tests compare what each rank wrote with
the same model trained here, in one process, on the same data order.
"""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy
import pytest

from chainrule import optim
from chainrule.train import trainer as trainer_module

WORKER = pathlib.Path(__file__).with_name("mpi_worker.py")
RANKS = 2


def _mpiexec():
    # The launcher installed next to this Python belongs to the MPI that mpi4py was built against.
    beside_python = pathlib.Path(sys.executable).with_name("mpiexec")
    return str(beside_python) if beside_python.exists() else shutil.which("mpiexec")


pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or _mpiexec() is None,
    reason="needs mpi4py and an mpiexec launcher: pip install mpi4py mpich (or chainrule[mpi])",
)


def _load_worker():
    spec = importlib.util.spec_from_file_location("mpi_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


def run_ranks(scenario, out_dir, timeout, worker_timeout=30):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PMI_", "OMPI_"))}
    # One BLAS thread per rank: the ranks share the machine's cores, and a fixed
    # thread count keeps each matrix product's rounding the same as in this process.
    environment.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                       WORKER_TIMEOUT=str(worker_timeout))
    return subprocess.run([_mpiexec(), "-n", str(RANKS), sys.executable, str(WORKER), scenario, str(out_dir)],
                          capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each rank of one two-rank run of the ``results`` scenario measured."""
    out_dir = tmp_path_factory.mktemp("ranks")
    finished = run_ranks("results", out_dir, timeout=120)
    assert finished.returncode == 0, f"mpiexec failed:\n{finished.stdout}\n{finished.stderr}"
    return [dict(numpy.load(out_dir / f"rank{r}.npz")) for r in range(RANKS)]


# ------------------------------------------------------------------ single-process references

def train_with_global_batch(dtype):
    """One process, batch RANKS × per-rank batch, the same epoch orders as the ranks'."""
    model = worker.mlp(dtype, seed=0)
    loader = worker.sharded_loader(worker.classification_data(dtype), RANKS * worker.PER_RANK_BATCH,
                                   num_replicas=1, rank=0)
    worker.train(model, loader, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), worker.EPOCHS)
    return worker.flat_parameters(model)


def train_averaging_per_rank_gradients(dtype):
    """One process, doing by hand what the ranks do together: each rank's
    gradient on its own batch, summed in rank order, divided by the rank count."""
    model = worker.mlp(dtype, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = worker.classification_data(dtype)
    loaders = [worker.sharded_loader(data, worker.PER_RANK_BATCH, RANKS, r) for r in range(RANKS)]
    for _ in range(worker.EPOCHS):
        for batches in zip(*loaders):
            per_rank = []
            for inputs, targets in batches:
                model.zero_grad()
                worker.cross_entropy(model(inputs), targets).backward()
                per_rank.append([p.grad.data.copy() for p in model.parameters()])
            for param, *gradients in zip(model.parameters(), *per_rank):
                param.grad.data[...] = sum(gradients[1:], gradients[0].copy()) / RANKS
            optimizer.step()
    return worker.flat_parameters(model)


# ------------------------------------------------------------------ training equals one process with the global batch

def test_every_rank_starts_from_rank_0s_parameters(ranks):
    for dtype in ("float64", "float32"):
        expected = worker.flat_parameters(worker.mlp(getattr(numpy, dtype), seed=0))
        for rank_results in ranks:
            numpy.testing.assert_array_equal(rank_results[f"{dtype}_initial"], expected)


@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-5, 2e-6)])
def test_training_on_two_ranks_equals_one_process_with_twice_the_batch(ranks, dtype, rtol, atol):
    # Not bit for bit: one process sums the 2B per-sample terms in one go, the
    # ranks sum B each and then add the two sums; only the rounding differs.
    expected = train_with_global_batch(getattr(numpy, dtype))
    for rank_results in ranks:
        numpy.testing.assert_allclose(rank_results[f"{dtype}_final"], expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_on_two_ranks_is_bitwise_the_average_of_per_rank_gradients(ranks, dtype):
    expected = train_averaging_per_rank_gradients(getattr(numpy, dtype))
    for rank_results in ranks:
        numpy.testing.assert_array_equal(rank_results[f"{dtype}_final"], expected)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_are_identical_on_every_rank_after_every_step(ranks, dtype):
    gradients = [rank_results[f"{dtype}_gradients"] for rank_results in ranks]
    assert gradients[0].shape[0] == worker.EPOCHS * 64 // (RANKS * worker.PER_RANK_BATCH)
    for other in gradients[1:]:
        numpy.testing.assert_array_equal(other, gradients[0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_collective_per_bucket_per_step(ranks, dtype):
    buckets, collectives = ranks[0][f"{dtype}_buckets"]
    steps = ranks[0][f"{dtype}_gradients"].shape[0]
    assert buckets > 1
    assert collectives == buckets * steps


# ------------------------------------------------------------------ parameters without gradients

def _unused_results(ranks, kind, step, name):
    return [rank_results[f"unused_{kind}_{step}_{name}"] for rank_results in ranks]


@pytest.mark.parametrize("step", range(len(worker.UNUSED_PLAN)))
def test_each_gradient_is_the_mean_of_the_ranks_gradients_with_zeros_for_missing_ones(ranks, step):
    for name, _ in worker.TwoHeads().named_parameters():
        local = _unused_results(ranks, "local", step, name)
        synced = _unused_results(ranks, "synced", step, name)
        for other in synced[1:]:
            numpy.testing.assert_array_equal(other, synced[0])
        if all(numpy.isnan(g).all() for g in local):
            assert numpy.isnan(synced[0]).all(), f"{name} got a gradient at step {step} though no rank had one"
            continue
        contributions = [numpy.nan_to_num(g, nan=0.0) for g in local]
        numpy.testing.assert_array_equal(synced[0], sum(contributions[1:], contributions[0]) / RANKS)


def test_the_plan_covers_a_gradient_on_one_rank_only_and_on_none():
    uses_extra = [tuple(plan[r][0] for r in range(RANKS)) for plan in worker.UNUSED_PLAN]
    uses_aux = [tuple(plan[r][1] for r in range(RANKS)) for plan in worker.UNUSED_PLAN]
    assert (False, True) in uses_extra and (False, False) in uses_extra
    assert (True, False) in uses_aux and (False, False) in uses_aux


# ------------------------------------------------------------------ batch norm

def test_sync_batchnorm_on_two_ranks_equals_batchnorm_in_one_process_with_twice_the_batch(ranks):
    model = worker.batchnorm_net(seed=0)
    loader = worker.sharded_loader(worker.classification_data(numpy.float64),
                                   RANKS * worker.PER_RANK_BATCH, num_replicas=1, rank=0)
    worker.train(model, loader, optim.SGD(model.parameters(), lr=0.1), 1)
    running = numpy.concatenate([b.data.ravel().astype(numpy.float64) for b in model.buffers()])
    for rank_results in ranks:
        numpy.testing.assert_allclose(rank_results["syncbn_final"], worker.flat_parameters(model),
                                      rtol=1e-12, atol=1e-14)
        numpy.testing.assert_allclose(rank_results["syncbn_running"], running, rtol=1e-12, atol=1e-14)


def test_plain_batchnorm_running_statistics_are_rank_0s_on_every_rank(ranks):
    numpy.testing.assert_array_equal(ranks[1]["plainbn_running"], ranks[0]["plainbn_running"])
    numpy.testing.assert_array_equal(ranks[1]["plainbn_final"], ranks[0]["plainbn_final"])


# ------------------------------------------------------------------ sampler and collectives

@pytest.mark.parametrize("size, drop_last", [(10, False), (11, False), (11, True), (3, False)])
def test_sampler_shards_are_disjoint_equal_and_cover_the_dataset(ranks, size, drop_last):
    for epoch in (0, 1):
        shards = [rank_results[f"sampler_{size}_{drop_last}_epoch{epoch}"] for rank_results in ranks]
        assert len({len(shard) for shard in shards}) == 1
        together = numpy.concatenate(shards)
        if drop_last:
            assert len(together) == size - size % RANKS and len(set(together.tolist())) == len(together)
        else:
            assert set(together.tolist()) == set(range(size))
            assert len(together) - len(set(together.tolist())) == -size % RANKS  # only the padding repeats
    epochs = [numpy.concatenate([r[f"sampler_{size}_{drop_last}_epoch{e}"] for r in ranks]) for e in (0, 1)]
    assert not numpy.array_equal(epochs[0], epochs[1])


def test_collectives_on_arrays_and_tensors(ranks):
    for rank, rank_results in enumerate(ranks):
        numpy.testing.assert_array_equal(rank_results["all_reduce_sum"], [3.0, 10.0])
        numpy.testing.assert_array_equal(rank_results["all_reduce_mean"], [1.5, 5.0])
        numpy.testing.assert_array_equal(rank_results["all_reduce_max"], [2.0, 10.0])
        numpy.testing.assert_array_equal(rank_results["all_reduce_deterministic"], [3.0, 10.0])
        numpy.testing.assert_array_equal(rank_results["all_reduce_tensor"], [3.0, 10.0])
        numpy.testing.assert_array_equal(rank_results["broadcast"], [2.0, 10.0])
        numpy.testing.assert_array_equal(rank_results["all_gather"], [[0, 0], [1, 2]])
        assert rank_results["broadcast_object"]
        numpy.testing.assert_array_equal(rank_results["identity"], [rank, RANKS, rank == 0])


def test_a_checkpoint_read_on_rank_0_arrives_whole_on_every_rank(ranks):
    # 0-d, bool, float16, empty and nested arrays keep their shapes, dtypes and values.
    assert all(rank_results["checkpoint_from_rank_0"] for rank_results in ranks)


def test_metrics_are_sample_weighted_means_identical_on_every_rank(ranks):
    # rank 0: loss 1, accuracy 0 over 1 sample; rank 1: loss 2, accuracy 0.5 over 2 samples
    for rank_results in ranks:
        numpy.testing.assert_allclose(rank_results["metrics"], [5 / 3, 1 / 3], rtol=1e-15)
    numpy.testing.assert_array_equal(ranks[1]["metrics"], ranks[0]["metrics"])


# ------------------------------------------------------------------ failures end the job

def test_an_error_on_one_rank_ends_the_job_with_the_error_shown(tmp_path):
    started = time.monotonic()
    finished = run_ranks("failure", tmp_path, timeout=60, worker_timeout=30)
    assert finished.returncode != 0
    assert "ValueError: deliberate failure on rank 1" in finished.stderr
    assert "rank 1 of 2 failed with ValueError; aborting all ranks" in finished.stderr
    assert time.monotonic() - started < 25, "the job ended by the collective timeout, not by the abort"


def test_a_rank_that_stops_taking_part_makes_the_others_time_out(tmp_path):
    finished = run_ranks("stall", tmp_path, timeout=60, worker_timeout=2)
    assert finished.returncode != 0
    assert "TimeoutError" in finished.stderr
    assert "rank 0 of 2 waited more than 2 s for the gradient all-reduce" in finished.stderr



# ------------------------------------------------------------------ the Trainer on two ranks

@pytest.mark.skipif(not hasattr(trainer_module, "distributed"),
                    reason="the Trainer does not use chainrule.distributed yet (metrics per rank, every rank "
                           "writes checkpoints); see docs/distributed.md")
def test_the_trainer_on_two_ranks_resumes_after_a_kill_to_the_same_weights_and_history(tmp_path):
    uninterrupted, interrupted = tmp_path / "uninterrupted", tmp_path / "interrupted"
    uninterrupted.mkdir(), interrupted.mkdir()
    finished = run_ranks("trainer-fresh", uninterrupted, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert run_ranks("trainer-kill", interrupted, timeout=60).returncode != 0
    finished = run_ranks("trainer-resume", interrupted, timeout=60)
    assert finished.returncode == 0, finished.stderr
    expected = dict(numpy.load(uninterrupted / "fresh0.npz"))
    assert expected["loss"].shape == (3,) and expected["loss"][-1] < expected["loss"][0]
    # Evaluation over unpadded shards counts each sample once: the same as one process over all of them.
    numpy.testing.assert_allclose(expected["eval_sharded"], expected["eval_whole"], rtol=1e-6)
    for directory, mode in ((uninterrupted, "fresh"), (interrupted, "resume")):
        for rank in range(RANKS):
            got = dict(numpy.load(directory / f"{mode}{rank}.npz"))
            assert sorted(got) == sorted(expected)
            for key, values in expected.items():
                numpy.testing.assert_array_equal(got[key], values, err_msg=f"{mode} rank {rank}: {key}")
