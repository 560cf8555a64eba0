"""Data-parallel training over MPI: one process per rank, the same model on each.

Launch the same script on several processes with ``mpiexec -n 4 python
train.py`` (or ``mpiexec -n 4 chainrule train config.toml``). Each rank
reads its own shard of every epoch (``DistributedSampler``) and wraps its
model in ``DistributedDataParallel``, which averages the gradients over
ranks during ``backward``. Run without ``mpiexec``, the world has one
process and everything works unchanged; mpi4py is imported only under an
MPI launcher (install it with ``pip install 'chainrule[mpi]'``).

Example
-------
>>> from chainrule import distributed
>>> distributed.init()
>>> model = distributed.DistributedDataParallel(make_model())
>>> loader = DataLoader(train_set, batch_size=32, sampler=distributed.DistributedSampler(train_set))
"""
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm
from .training import average_metrics, shard_loader, synchronize_gradients, unwrap_model
from .world import (abort, all_gather, all_reduce, barrier, broadcast, broadcast_object, init, is_initialized,
                    is_main_process, rank, world_size)

__all__ = ["DistributedDataParallel", "DistributedSampler", "SyncBatchNorm", "abort", "all_gather", "all_reduce",
           "average_metrics", "barrier", "broadcast", "broadcast_object", "convert_sync_batchnorm", "init",
           "is_initialized", "is_main_process", "rank", "shard_loader", "synchronize_gradients", "unwrap_model",
           "world_size"]
