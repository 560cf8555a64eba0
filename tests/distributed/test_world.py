"""The process group and its collectives in a world of one process (no MPI needed)."""
import os
import subprocess
import sys

import numpy
import pytest

import chainrule as cr
from chainrule import distributed


def run_python(code, **environment):
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("PMI_", "OMPI_", "MV2_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**clean, **environment})


def test_a_process_not_started_by_mpiexec_is_a_world_of_one_without_importing_mpi4py():
    finished = run_python(
        "import sys, chainrule\n"
        "from chainrule import distributed\n"
        "assert 'mpi4py' not in sys.modules\n"
        "assert not distributed.is_initialized()\n"
        "distributed.init()\n"
        "assert (distributed.rank(), distributed.world_size()) == (0, 1)\n"
        "assert 'mpi4py' not in sys.modules\n"
    )
    assert finished.returncode == 0, finished.stderr


def test_several_launched_processes_without_mpi4py_are_told_how_to_install_it():
    finished = run_python(
        "import sys\n"
        "sys.modules['mpi4py'] = None  # as if it were not installed\n"
        "from chainrule import distributed\n"
        "distributed.init()\n",
        PMI_SIZE="4", PMI_RANK="0",
    )
    assert finished.returncode != 0
    assert "with 4 processes, but mpi4py is not installed" in finished.stderr
    assert "pip install 'chainrule[mpi]'" in finished.stderr


def test_one_launched_process_without_mpi4py_is_a_world_of_one():
    finished = run_python(
        "import sys\n"
        "sys.modules['mpi4py'] = None\n"
        "from chainrule import distributed\n"
        "assert distributed.world_size() == 1\n",
        PMI_SIZE="1", PMI_RANK="0",
    )
    assert finished.returncode == 0, finished.stderr


def test_rank_and_size_of_a_world_of_one():
    distributed.init()
    assert distributed.is_initialized()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    distributed.barrier()


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_all_reduce_over_one_rank_leaves_the_values_and_returns_the_same_array(op):
    values = numpy.array([1.5, -2.0, 3.25])
    assert distributed.all_reduce(values, op=op) is values
    numpy.testing.assert_array_equal(values, [1.5, -2.0, 3.25])
    numpy.testing.assert_array_equal(distributed.all_reduce(values.copy(), deterministic=True), values)


def test_all_reduce_on_a_tensor_changes_its_data_and_version():
    tensor = cr.tensor([1.0, 2.0])
    version = tensor._version[0]
    assert distributed.all_reduce(tensor) is tensor
    assert tensor._version[0] == version + 1


def test_collectives_refuse_what_they_cannot_do():
    with pytest.raises(ValueError, match="op must be 'sum', 'mean' or 'max'"):
        distributed.all_reduce(numpy.zeros(2), op="min")
    with pytest.raises(TypeError, match="op='mean' needs a floating-point array"):
        distributed.all_reduce(numpy.arange(3), op="mean")
    with pytest.raises(TypeError, match="expected a NumPy array or a chainrule Tensor, got float"):
        distributed.all_reduce(1.0)
    read_only = numpy.zeros(2)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        distributed.broadcast(read_only)
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\)"):
        distributed.broadcast(numpy.zeros(2), root=1)


def test_broadcast_and_all_gather_over_one_rank():
    values = numpy.arange(6.0).reshape(2, 3)
    assert distributed.broadcast(values) is values
    gathered = distributed.all_gather(values)
    assert gathered.shape == (1, 2, 3)
    numpy.testing.assert_array_equal(gathered[0], values)
    gathered_tensor = distributed.all_gather(cr.tensor(values))
    assert isinstance(gathered_tensor, cr.Tensor) and gathered_tensor.shape == (1, 2, 3)


def test_broadcast_object_over_one_rank_returns_it():
    obj = {"run_dir": "runs/a", "epochs": [1, 2]}
    assert distributed.broadcast_object(obj) is obj


def test_abort_in_a_world_of_one_ends_the_process_with_the_exit_code():
    finished = run_python("from chainrule import distributed\nprint('before')\ndistributed.abort(3)\nprint('after')")
    assert (finished.returncode, finished.stdout) == (3, "before\n")
