"""Communicators: MPI through mpi4py, or a stand-in for a lone process.

Every collective here is started non-blocking and finished by ``wait``,
which gives up after a timeout. A rank that died, or stopped calling
collectives, then makes the others raise a ``TimeoutError`` that says what
they were waiting for, instead of hanging the job for ever.

The rest of ``chainrule.distributed`` talks only to the small interface
below (``rank``, ``size``, ``start_*``, ``test``, ``wait``, ``duplicate``,
``abort``), so it runs unchanged on one process without MPI installed.
"""
import os
import time

import numpy

_MPI_OPS = {"sum": "SUM", "max": "MAX"}


class LocalCommunicator:
    """The world of a single process: every collective is complete as soon as it starts.

    Example
    -------
    >>> world = LocalCommunicator()
    >>> world.size, world.rank
    (1, 0)
    """

    rank = 0
    size = 1
    timeout = float("inf")

    def start_all_reduce(self, array, op="sum"):
        return []

    def start_all_gather(self, array, out):
        out[0] = array
        return []

    def start_broadcast(self, array, root=0):
        return []

    def start_barrier(self):
        return []

    def test(self, requests):
        return True

    def wait(self, requests, what):
        pass

    def duplicate(self):
        return LocalCommunicator()

    def abort(self, exit_code):
        os._exit(exit_code)


class MPICommunicator:
    """An mpi4py communicator, with collectives that time out.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
    timeout : seconds a rank waits for one collective before raising TimeoutError

    Example
    -------
    >>> from mpi4py import MPI
    >>> world = MPICommunicator(MPI.COMM_WORLD, timeout=60)
    >>> world.wait(world.start_barrier(), "a barrier")
    """

    def __init__(self, comm, timeout):
        from mpi4py import MPI
        self._MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout

    def start_all_reduce(self, array, op="sum"):
        """Begin reducing ``array`` (contiguous) over all ranks, in place."""
        return [self.comm.Iallreduce(self._MPI.IN_PLACE, array, getattr(self._MPI, _MPI_OPS[op]))]

    def start_all_gather(self, array, out):
        """Begin filling ``out[r]`` with rank r's ``array``; ``out`` has shape (size, *array.shape)."""
        return [self.comm.Iallgather(array, out)]

    def start_broadcast(self, array, root=0):
        """Begin overwriting ``array`` (contiguous) with rank ``root``'s values."""
        return [self.comm.Ibcast(array, root=root)]

    def start_barrier(self):
        return [self.comm.Ibarrier()]

    def test(self, requests):
        """Whether ``requests`` are complete; also lets MPI move them along."""
        return self._MPI.Request.Testall(requests)

    def wait(self, requests, what):
        """Block until ``requests`` complete, or raise TimeoutError naming ``what``."""
        if not requests:
            return
        # NOTE: a spin on Testall rather than Wait, so that the deadline is
        # ours to check; MPICH's own Wait spins the same way.
        deadline = time.monotonic() + self.timeout
        while not self._MPI.Request.Testall(requests):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"chainrule.distributed: rank {self.rank} of {self.size} waited more than "
                    f"{self.timeout:g} s for {what}. Another rank has probably failed, exited, or "
                    f"taken a different path through the code (a different number of batches or "
                    f"collectives). Set the limit with distributed.init(timeout=...) or "
                    f"CHAINRULE_DISTRIBUTED_TIMEOUT."
                )

    def duplicate(self):
        """A new communicator over the same ranks, whose collectives never match this one's."""
        comm, request = self.comm.Idup()
        self.wait([request], "the creation of a communicator")
        return MPICommunicator(comm, self.timeout)

    def abort(self, exit_code):
        self.comm.Abort(exit_code)


def contiguous_buffer(array):
    """``array`` itself if MPI can read and write it in place, else a contiguous copy."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array
    return numpy.ascontiguousarray(array)
