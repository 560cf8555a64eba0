"""What every rank runs under ``mpiexec -n 2`` for test_data_parallel.py.

    python mpi_worker.py SCENARIO OUT_DIR

``results`` trains and measures; each rank writes OUT_DIR/rank<r>.npz and
the tests compare those files with single-process runs of the same
functions (this file is imported there too). ``failure`` and ``stall``
break one rank on purpose, to see the job end instead of hang.
``trainer-fresh``, ``trainer-kill`` and ``trainer-resume`` run the Trainer:
uninterrupted, killed by SIGKILL on rank 0 mid-epoch, and resumed.
"""
import os
import signal
import sys

import numpy

import chainrule as cr
from chainrule import distributed, nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.nn.functional import cross_entropy
from chainrule.train import Callback, Trainer, save_checkpoint
from chainrule.train.checkpoint import load_checkpoint_from_rank_0

PER_RANK_BATCH = 4
EPOCHS = 2
SHUFFLE_SEED = 7
SMALL_BUCKETS_MB = 0.0002  # about 200 bytes: the MLP's gradients span several buckets


# ------------------------------------------------------------------ shared with the tests

def classification_data(dtype, size=64):
    rng = numpy.random.default_rng(0)
    inputs = rng.standard_normal((size, 6)).astype(dtype)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).astype(numpy.int64) + (inputs[:, 2] > 0.5)
    return TensorDataset(inputs, labels)


def mlp(dtype, seed):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def batchnorm_net(seed, norm=nn.BatchNorm1d):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), norm(8), nn.Tanh(), nn.Linear(8, 3)).double()


class TwoHeads(nn.Module):
    """A trunk, a head, an ``extra`` head used only when asked, and an ``aux`` output."""

    def __init__(self):
        super().__init__()
        self.trunk, self.head = nn.Linear(6, 8), nn.Linear(8, 3)
        self.extra, self.aux = nn.Linear(8, 3), nn.Linear(8, 2)

    def forward(self, inputs, use_extra):
        hidden = self.trunk(inputs).tanh()
        logits = self.head(hidden)
        if use_extra:
            logits = logits + self.extra(hidden)
        return logits, self.aux(hidden)


# (uses extra, loss uses aux) per step, for rank 0 and rank 1
UNUSED_PLAN = [
    ((True, True), (True, True)),
    ((False, True), (True, True)),  # extra: a gradient on rank 1 only
    ((False, True), (False, True)),  # extra: no gradient anywhere
    ((True, True), (True, False)),  # aux: awaited on rank 1 but its loss ignores it
    ((False, False), (False, False)),  # aux: awaited everywhere, no gradient anywhere
]


def two_heads_loss(model, inputs, targets, use_extra, use_aux):
    logits, aux = model(inputs, use_extra)
    loss = cross_entropy(logits, targets)
    return loss + (aux * aux).mean() if use_aux else loss


def flat_parameters(model):
    return numpy.concatenate([p.data.ravel() for p in model.parameters()])


def flat_gradients(model):
    return numpy.concatenate([p.grad.data.ravel() for p in model.parameters()])


def sharded_loader(dataset, batch_size, num_replicas=None, rank=None):
    sampler = distributed.DistributedSampler(dataset, num_replicas, rank, shuffle=True, seed=SHUFFLE_SEED)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)


def train(model, loader, optimizer, epochs, after_backward=None):
    for _ in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            cross_entropy(model(inputs), targets).backward()
            distributed.synchronize_gradients(model)
            if after_backward is not None:
                after_backward(model)
            optimizer.step()


def gradients_or_nan(model):
    """Each parameter's gradient by name; NaN where it has none."""
    return {name: p.grad.data.copy() if p.grad is not None else numpy.full(p.shape, numpy.nan)
            for name, p in model.named_parameters()}


# ------------------------------------------------------------------ scenarios

ASSORTED_STATE = {"count": numpy.array(7), "mask": numpy.array([True, False]), "half": numpy.ones((2, 3), numpy.float16),
                  "empty": numpy.zeros((0, 3)), "nested": [{"small": numpy.arange(3, dtype=numpy.int8)}, "text", 1.5]}


def checkpoint_arrives_whole(rank, out_dir):
    """Rank 0 writes a checkpoint of assorted arrays; every rank loads it through rank 0 (rank 1 is given
    a path that does not exist) and checks shapes, dtypes and values."""
    path = os.path.join(out_dir, "assorted.safetensors")
    if rank == 0:
        save_checkpoint(path, ASSORTED_STATE)
    distributed.barrier()
    loaded = load_checkpoint_from_rank_0(path if rank == 0 else os.path.join(out_dir, "no-such-file"))
    arrays = [(loaded[k], ASSORTED_STATE[k]) for k in ("count", "mask", "half", "empty")]
    arrays.append((loaded["nested"][0]["small"], ASSORTED_STATE["nested"][0]["small"]))
    return (all(a.shape == b.shape and a.dtype == b.dtype and numpy.array_equal(a, b) for a, b in arrays)
            and loaded["nested"][1:] == ["text", 1.5])


def results(rank, out_dir):
    out = {"checkpoint_from_rank_0": numpy.array(checkpoint_arrives_whole(rank, out_dir))}
    for label, dtype, deterministic in (("float64", numpy.float64, False), ("float32", numpy.float32, True)):
        # Each rank starts from different weights: the wrapper must replace them with rank 0's.
        model = distributed.DistributedDataParallel(mlp(dtype, seed=rank), bucket_cap_mb=SMALL_BUCKETS_MB,
                                                    deterministic=deterministic)
        out[f"{label}_initial"] = flat_parameters(model)
        reductions = []
        start = model.communicator.start_all_gather if deterministic else model.communicator.start_all_reduce
        counting = (lambda *args, **kw: reductions.append(1) or start(*args, **kw))
        if deterministic:
            model.communicator.start_all_gather = counting
        else:
            model.communicator.start_all_reduce = counting
        gradients = []
        loader = sharded_loader(classification_data(dtype), PER_RANK_BATCH)
        train(model, loader, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), EPOCHS,
              lambda m: gradients.append(flat_gradients(m)))
        out[f"{label}_gradients"] = numpy.stack(gradients)
        out[f"{label}_final"] = flat_parameters(model)
        out[f"{label}_buckets"] = numpy.array([len(model.buckets), len(reductions)])

    model = distributed.DistributedDataParallel(TwoHeads(), bucket_cap_mb=SMALL_BUCKETS_MB)
    data = classification_data(numpy.float32, size=2 * PER_RANK_BATCH)
    inputs, targets = data.get_batch(numpy.arange(rank * PER_RANK_BATCH, (rank + 1) * PER_RANK_BATCH))
    for step, plan in enumerate(UNUSED_PLAN):
        use_extra, use_aux = plan[rank]
        model.zero_grad()
        with model.no_sync():
            two_heads_loss(model, inputs, targets, use_extra, use_aux).backward()
        for name, gradient in gradients_or_nan(model.module).items():
            out[f"unused_local_{step}_{name}"] = gradient
        model.zero_grad()
        two_heads_loss(model, inputs, targets, use_extra, use_aux).backward()
        model.synchronize()
        for name, gradient in gradients_or_nan(model.module).items():
            out[f"unused_synced_{step}_{name}"] = gradient

    for label, norm_net in (("syncbn", distributed.convert_sync_batchnorm(batchnorm_net(seed=rank))),
                            ("plainbn", batchnorm_net(seed=rank))):
        model = distributed.DistributedDataParallel(norm_net)
        loader = sharded_loader(classification_data(numpy.float64), PER_RANK_BATCH)
        train(model, loader, optim.SGD(model.parameters(), lr=0.1), 1)
        out[f"{label}_final"] = flat_parameters(model)
        out[f"{label}_running"] = numpy.concatenate([b.data.ravel().astype(numpy.float64)
                                                     for b in model.buffers()])

    for size, drop_last in ((10, False), (11, False), (11, True), (3, False)):
        sampler = distributed.DistributedSampler(range(size), shuffle=True, seed=3, drop_last=drop_last)
        out[f"sampler_{size}_{drop_last}_epoch0"] = sampler.epoch_order()
        out[f"sampler_{size}_{drop_last}_epoch1"] = sampler.epoch_order()

    value = numpy.array([rank + 1.0, 10.0 * rank])
    out["all_reduce_sum"] = distributed.all_reduce(value.copy())
    out["all_reduce_mean"] = distributed.all_reduce(value.copy(), op="mean")
    out["all_reduce_max"] = distributed.all_reduce(value.copy(), op="max")
    out["all_reduce_deterministic"] = distributed.all_reduce(value.copy(), deterministic=True)
    tensor = cr.tensor(value.copy())
    distributed.all_reduce(tensor)
    out["all_reduce_tensor"] = tensor.data
    out["broadcast"] = distributed.broadcast(value.copy(), root=1)
    out["all_gather"] = distributed.all_gather(numpy.array([rank, 2 * rank]))
    sent = {"run": "runs/é-1", "ranks": [rank]} if rank == 1 else None
    out["broadcast_object"] = numpy.array(distributed.broadcast_object(sent, root=1) == {"run": "runs/é-1",
                                                                                           "ranks": [1]})
    metrics = distributed.average_metrics({"loss": rank + 1.0, "accuracy": 0.5 * rank}, count=rank + 1)
    out["metrics"] = numpy.array([metrics["loss"], metrics["accuracy"]])
    distributed.barrier()
    out["identity"] = numpy.array([distributed.rank(), distributed.world_size(), distributed.is_main_process()])
    return out


def failure(rank):
    """Rank 1 raises in the middle of a step while rank 0 waits in the all-reduce."""
    model = distributed.DistributedDataParallel(mlp(numpy.float32, seed=0))
    inputs, targets = classification_data(numpy.float32).get_batch(numpy.arange(4))
    for step in range(3):
        if step == 1 and rank == 1:
            raise ValueError("deliberate failure on rank 1")
        cross_entropy(model(inputs), targets).backward()


def stall(rank):
    """Rank 1 leaves after one step; rank 0 waits for its gradients until the timeout."""
    model = distributed.DistributedDataParallel(mlp(numpy.float32, seed=0))
    inputs, targets = classification_data(numpy.float32).get_batch(numpy.arange(4))
    for step in range(3):
        if step == 1 and rank == 1:
            return
        cross_entropy(model(inputs), targets).backward()


class KillRank0At(Callback):
    """SIGKILL rank 0 right after optimiser step ``step``: no cleanup, and the launcher ends the job."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, step, logs):
        if step == self.step and distributed.rank() == 0:
            os.kill(os.getpid(), signal.SIGKILL)


def trainer_run(rank, out_dir, mode):
    """Three epochs of 7 steps with dropout, Adam, clipping and validation;
    a checkpoint every 5 steps, so the kill at step 12 resumes mid-epoch."""
    cr.manual_seed(1234)
    data = classification_data(numpy.float32, size=100)
    loader = DataLoader(data, batch_size=8, sampler=distributed.DistributedSampler(data, seed=3))
    validation = DataLoader(data, batch_size=16, sampler=distributed.DistributedSampler(data, shuffle=False))
    model = distributed.DistributedDataParallel(
        nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3)))
    checkpoint = os.path.join(out_dir, "checkpoint.safetensors")
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.01), clip_grad_norm=1.0, progress=False,
                      checkpoint_path=checkpoint, checkpoint_every=5,
                      callbacks=[KillRank0At(12)] if mode == "kill" else [])
    # Only rank 0 reads the checkpoint (as on several machines, where only its machine has the run directory).
    resume_from = (checkpoint if rank == 0 else os.path.join(out_dir, "no-such-file")) if mode == "resume" else None
    history = trainer.fit(loader, validation, epochs=3, resume_from=resume_from)
    # 37 samples split 19 / 18 over the ranks without padding, against all 37 on each rank.
    odd = classification_data(numpy.float32, size=37)
    unpadded = distributed.DistributedSampler(odd, shuffle=False, pad=False)
    evaluations = {"sharded": trainer.evaluate(DataLoader(odd, batch_size=16, sampler=unpadded)),
                   "whole": trainer.evaluate(DataLoader(odd, batch_size=16))}
    numpy.savez(os.path.join(out_dir, f"{mode}{rank}.npz"), final=flat_parameters(model),
                **{f"eval_{kind}": [metrics["loss"], metrics["accuracy"]] for kind, metrics in evaluations.items()},
                **{key: numpy.array(values) for key, values in history.items() if key != "seconds"})


def main(scenario, out_dir):
    distributed.init(timeout=float(os.environ.get("WORKER_TIMEOUT", 30)))
    rank = distributed.rank()
    if scenario == "results":
        numpy.savez(os.path.join(out_dir, f"rank{rank}.npz"), **results(rank, out_dir))
    elif scenario.startswith("trainer-"):
        trainer_run(rank, out_dir, scenario.removeprefix("trainer-"))
    else:
        {"failure": failure, "stall": stall}[scenario](rank)


if __name__ == "__main__":
    main(*sys.argv[1:])
