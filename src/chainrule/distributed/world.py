"""The process group: joining it, and collectives on NumPy arrays and Tensors.

``init()`` reads the MPI launcher's environment. Under ``mpiexec -n 4`` it
imports mpi4py and joins the four processes; run any other way it makes a
world of one, without importing mpi4py, and every collective is a no-op.
The other functions call ``init()`` themselves on first use.
"""
import json
import os
import sys
import time
from traceback import format_exception

import numpy

from ..tensor import Tensor
from .communicator import LocalCommunicator, MPICommunicator, contiguous_buffer

DEFAULT_TIMEOUT = 1800.0
_TIMEOUT_VARIABLE = "CHAINRULE_DISTRIBUTED_TIMEOUT"

# Set by each MPI launcher in every process it starts: MPICH/Hydra and Intel MPI,
# Open MPI, MVAPICH.
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

_world = None


def init(timeout=None):
    """Join the processes started by ``mpiexec``; a lone process is a world of one.

    Under an MPI launcher with more than one process, this rank also
    installs an exception hook: an uncaught exception prints its traceback
    and then aborts every rank (``MPI_Abort``), so the job stops with the
    error shown instead of leaving the other ranks waiting in a collective.
    Calling ``init`` again does nothing.

    Parameters
    ----------
    timeout : float, optional
        Seconds a rank waits for one collective before raising
        ``TimeoutError``; default ``$CHAINRULE_DISTRIBUTED_TIMEOUT``, else 1800.

    Example
    -------
    >>> from chainrule import distributed
    >>> distributed.init()          # under `mpiexec -n 4 python train.py`
    >>> distributed.rank(), distributed.world_size()
    (2, 4)
    """
    global _world
    if _world is not None:
        return
    if timeout is None:
        timeout = float(os.environ.get(_TIMEOUT_VARIABLE, DEFAULT_TIMEOUT))
    launched_size = _launched_world_size()
    if launched_size is None:
        _world = LocalCommunicator()
        return
    try:
        from mpi4py import MPI
    except ImportError:
        if launched_size > 1:
            raise ImportError(
                f"chainrule.distributed: this process was started by an MPI launcher with {launched_size} "
                f"processes, but mpi4py is not installed; install it with: pip install 'chainrule[mpi]'"
            ) from None
        _world = LocalCommunicator()
        return
    _world = MPICommunicator(MPI.COMM_WORLD, timeout)
    if _world.size > 1:
        _abort_all_ranks_on_uncaught_exception(_world)


def _launched_world_size():
    for variable in _LAUNCHER_SIZE_VARIABLES:
        if variable in os.environ:
            return int(os.environ[variable])
    return None


def _abort_all_ranks_on_uncaught_exception(world):
    previous_hook = sys.excepthook

    def print_and_abort(kind, value, traceback):
        message = f"chainrule.distributed: rank {world.rank} of {world.size} failed with {kind.__name__}; " \
                  f"aborting all ranks\n"
        try:
            if previous_hook is sys.__excepthook__:
                # One write: the launcher forwards output in pieces, and MPI_Abort can cut off a second one.
                sys.stderr.write("".join(format_exception(kind, value, traceback)) + message)
            else:
                previous_hook(kind, value, traceback)
                sys.stderr.write(message)
        finally:
            abort(1)

    sys.excepthook = print_and_abort


def is_initialized():
    """Whether ``init()`` has run in this process."""
    return _world is not None


def world():
    """The communicator of all ranks (after ``init()``, which this calls if needed)."""
    init()
    return _world


def rank():
    """This process's rank, 0 … world_size() - 1.

    Example
    -------
    >>> distributed.rank()
    0
    """
    return world().rank


def world_size():
    """How many processes train together (1 outside ``mpiexec``).

    Example
    -------
    >>> distributed.world_size()
    1
    """
    return world().size


def is_main_process():
    """True on rank 0: the one that prints, writes checkpoints and reports.

    Example
    -------
    >>> if distributed.is_main_process():
    ...     print("epoch done")
    """
    return rank() == 0


def barrier():
    """Wait until every rank has called ``barrier()``.

    Example
    -------
    >>> distributed.barrier()
    """
    communicator = world()
    communicator.wait(communicator.start_barrier(), "a barrier")


def all_reduce(array, op="sum", deterministic=False):
    """Combine ``array`` over all ranks, in place, and return it.

    Parameters
    ----------
    array : numpy.ndarray or Tensor (its ``.data`` is changed), the same shape and dtype on every rank
    op : "sum", "mean" (floating point only) or "max"
    deterministic : gather every rank's array and add them in rank order,
        ``((a0 + a1) + a2) + …``, so the result has the same bits on every
        rank and in every run, whatever algorithm the MPI library picks.
        Costs world_size times the memory; it matters only for sums.

    Example
    -------
    >>> loss = numpy.array([local_loss])
    >>> distributed.all_reduce(loss, op="mean")     # the same mean on every rank
    """
    if op not in ("sum", "mean", "max"):
        raise ValueError(f"all_reduce: op must be 'sum', 'mean' or 'max', got {op!r}")
    data = _array_of(array, "all_reduce")
    if op == "mean" and data.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: op='mean' needs a floating-point array, got {data.dtype}; "
                        f"use op='sum' and divide, or convert first")
    communicator = world()
    if communicator.size > 1:
        if deterministic and op != "max":
            data[...] = ordered_sum(all_gather(data))
        else:
            buffer = contiguous_buffer(data)
            communicator.wait(communicator.start_all_reduce(buffer, "max" if op == "max" else "sum"),
                              f"all_reduce(op={op!r}) of shape {data.shape}")
            if buffer is not data:
                data[...] = buffer
        if op == "mean":
            data /= communicator.size
    _mark_changed(array)
    return array


def broadcast(array, root=0):
    """Overwrite ``array`` on every rank with rank ``root``'s, in place, and return it.

    Example
    -------
    >>> seed = numpy.array([numpy.random.SeedSequence().entropy % 2**63])
    >>> distributed.broadcast(seed)                  # rank 0's seed everywhere
    """
    data = _array_of(array, "broadcast")
    communicator = world()
    if not 0 <= root < communicator.size:
        raise ValueError(f"broadcast: root must be a rank in [0, {communicator.size}), got {root}")
    if communicator.size > 1:
        buffer = contiguous_buffer(data)
        communicator.wait(communicator.start_broadcast(buffer, root),
                          f"broadcast from rank {root} of shape {data.shape}")
        if buffer is not data:
            data[...] = buffer
    _mark_changed(array)
    return array


def all_gather(array):
    """Every rank's ``array``, stacked in rank order: shape (world_size, *array.shape).

    All ranks must pass the same shape and dtype. A Tensor gives a Tensor.

    Example
    -------
    >>> distributed.all_gather(numpy.array([distributed.rank()]))
    array([[0], [1], [2], [3]])
    """
    data = _array_of(array, "all_gather")
    communicator = world()
    gathered = numpy.empty((communicator.size,) + data.shape, dtype=data.dtype)
    communicator.wait(communicator.start_all_gather(numpy.ascontiguousarray(data), gathered),
                      f"all_gather of shape {data.shape}")
    return Tensor(gathered) if isinstance(array, Tensor) else gathered


def broadcast_object(obj, root=0):
    """Rank ``root``'s ``obj`` on every rank: anything JSON can hold (never pickled).

    Example
    -------
    >>> run_dir = distributed.broadcast_object(str(new_run_dir()) if distributed.is_main_process() else None)
    """
    communicator = world()
    if communicator.size == 1:
        return obj
    encoded = json.dumps(obj).encode() if communicator.rank == root else b""
    length = broadcast(numpy.array([len(encoded)], dtype=numpy.int64), root)[0]
    payload = numpy.frombuffer(encoded, dtype=numpy.uint8).copy() if communicator.rank == root \
        else numpy.empty(length, dtype=numpy.uint8)
    return json.loads(broadcast(payload, root).tobytes().decode())


def abort(exit_code=1):
    """End every rank's process at once with ``exit_code`` (``MPI_Abort``).

    For an error a program handles itself on one rank (printing a message
    and returning an exit status), where exiting alone would leave the other
    ranks waiting in their next collective.

    Example
    -------
    >>> except ConfigError as error:
    ...     print(error, file=sys.stderr)
    ...     distributed.abort(1)
    """
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.2)  # time for the launcher to forward what was just printed: the abort ends its forwarding too
    world().abort(exit_code)


def ordered_sum(stacked):
    """``stacked[0] + stacked[1] + …``, added in that order (one fixed rounding)."""
    total = stacked[0].copy()
    for part in stacked[1:]:
        total += part
    return total


def _array_of(array, caller):
    if isinstance(array, Tensor):
        return array.data
    if isinstance(array, numpy.ndarray):
        if not array.flags.writeable and caller != "all_gather":
            raise ValueError(f"{caller}: the array is read-only; it is changed in place")
        return array
    raise TypeError(f"{caller}: expected a NumPy array or a chainrule Tensor, got {type(array).__name__}; "
                    f"wrap numbers in numpy.array([...])")


def _mark_changed(array):
    # A graph that saved this tensor must notice that its values changed.
    if isinstance(array, Tensor):
        array._version[0] += 1
