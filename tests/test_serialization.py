"""safetensors in and out: round trips keep values and dtypes, files move
between chainrule and PyTorch, bad files fail with the file's name, and a
failed save leaves the earlier file whole."""
import os
import pickle

import numpy
import pytest
import safetensors.numpy

import chainrule
from chainrule import nn
from chainrule import serialization
from helpers import random_inputs, requires_torch, torch

DTYPES = [numpy.float16, numpy.float32, numpy.float64, numpy.int8, numpy.int32, numpy.int64, numpy.uint8, numpy.bool_]


def mlp(lib):
    return lib.Sequential(lib.Linear(4, 8), lib.Tanh(), lib.Linear(8, 3))


def files_in(folder):
    return sorted(os.listdir(folder))


def test_model_state_round_trips(tmp_path):
    model = mlp(nn)
    model.register_buffer("steps", chainrule.tensor([7]))
    model.register_buffer("mask", chainrule.tensor([True, False, True]))
    model[2].double()
    path = tmp_path / "model.safetensors"
    serialization.save(model.state_dict(), path)

    loaded = serialization.load(path)
    state = model.state_dict()
    assert list(loaded) == sorted(state)
    for name, value in state.items():
        assert loaded[name].dtype == value.dtype, name
        numpy.testing.assert_array_equal(loaded[name].data, value.data, err_msg=name)
    assert {str(loaded[name].dtype) for name in loaded} == {"float32", "float64", "int64", "bool"}
    assert isinstance(loaded["0.weight"], chainrule.Tensor) and not loaded["0.weight"].requires_grad

    restored = mlp(nn)
    restored.register_buffer("steps", chainrule.tensor([0]))
    restored.register_buffer("mask", chainrule.zeros(3, dtype=chainrule.bool))
    restored[2].double()
    restored.load_state_dict(loaded)
    x = chainrule.randn(5, 4)
    numpy.testing.assert_array_equal(restored(x).data, model(x).data)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: numpy.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)], ids=str)
def test_every_dtype_and_shape_round_trips(tmp_path, dtype, shape):
    values = numpy.random.default_rng(0).uniform(-50, 50, shape).astype(dtype)
    path = tmp_path / "values.safetensors"
    serialization.save({"values": values}, path)
    loaded = serialization.load(path)["values"]
    assert loaded.dtype == dtype and loaded.shape == shape
    numpy.testing.assert_array_equal(loaded.data, values)


def test_non_contiguous_arrays_are_saved_by_value(tmp_path):
    matrix = numpy.arange(12.0).reshape(3, 4)
    path = tmp_path / "views.safetensors"
    serialization.save({"transposed": matrix.T, "strided": chainrule.tensor(matrix)[:, ::2]}, path)
    loaded = serialization.load(path)
    numpy.testing.assert_array_equal(loaded["transposed"].data, matrix.T)
    numpy.testing.assert_array_equal(loaded["strided"].data, matrix[:, ::2])


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    path = tmp_path / "w.safetensors"
    serialization.save({"w": numpy.ones(3)}, path)
    first, second = serialization.load(path)["w"], serialization.load(path)["w"]
    first.data[0] = 5.0
    assert second.data[0] == 1.0


def test_metadata_round_trips(tmp_path):
    path = tmp_path / "m.safetensors"
    serialization.save({"w": numpy.ones(2)}, path, metadata={"epoch": "3", "library": "chainrule"})
    assert serialization.load_metadata(path) == {"epoch": "3", "library": "chainrule"}
    serialization.save({"w": numpy.ones(2)}, path)
    assert serialization.load_metadata(path) == {}


@pytest.mark.parametrize("state, metadata, message", [
    ({1: numpy.ones(2)}, None, "state dict keys must be strings, got 1"),
    ({"w": numpy.ones(2)}, {"epoch": 3}, "metadata must map strings to strings"),
    ({"w": numpy.ones(2)}, ["epoch"], "metadata must map strings to strings"),
    ({"w": numpy.array(["a", "b"])}, None, "'w' has dtype <U1, which safetensors cannot store"),
])
def test_invalid_input_is_refused_before_writing(tmp_path, state, metadata, message):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match=message):
        serialization.save(state, path, metadata=metadata)
    assert files_in(tmp_path) == []


# ---------------------------------------------------------------- PyTorch interoperation


def twin_outputs(ours, theirs):
    (x,) = random_inputs([(6, 4)], dtype=numpy.float32)
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    return ours(chainrule.tensor(x)).data, expected


@requires_torch
def test_file_saved_by_torch_loads_into_chainrule(tmp_path):
    import safetensors.torch

    theirs = mlp(torch.nn)
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), str(path))
    ours = mlp(nn)
    ours.load_state_dict(serialization.load(path))
    out, expected = twin_outputs(ours, theirs)
    numpy.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


@requires_torch
def test_file_saved_by_chainrule_loads_into_torch(tmp_path):
    import safetensors.torch

    ours = mlp(nn)
    path = tmp_path / "chainrule.safetensors"
    serialization.save(ours.state_dict(), path)
    theirs = mlp(torch.nn)
    theirs.load_state_dict(safetensors.torch.load_file(str(path)))
    out, expected = twin_outputs(ours, theirs)
    numpy.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


@requires_torch
def test_dtype_numpy_cannot_hold_is_named(tmp_path):
    import safetensors.torch

    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(path))
    with pytest.raises(ValueError, match="'w' is stored as BF16, which NumPy cannot hold"):
        serialization.load(path)


# ---------------------------------------------------------------- bad files


def good_file_bytes():
    return safetensors.numpy.save({"w": numpy.arange(10.0), "b": numpy.ones(3, dtype=numpy.float32)})


@pytest.mark.parametrize("corrupt", [
    lambda data: data[:-5],  # the last tensor's bytes cut short
    lambda data: data[:12],  # the header cut short
    lambda data: b"",
    lambda data: b"\xff" * 64,  # a header length larger than the file
    lambda data: pickle.dumps({"w": [1.0, 2.0]}),
], ids=["truncated_data", "truncated_header", "empty", "garbage", "pickle"])
def test_unreadable_file_raises_an_error_naming_it(tmp_path, corrupt):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(corrupt(good_file_bytes()))
    for reader in (serialization.load, serialization.load_metadata):
        with pytest.raises(ValueError, match="not a readable safetensors file") as error:
            reader(path)
        assert f"{reader.__name__}({str(path)!r})" in str(error.value)


class ExecutesOnLoad:
    """Unpickling this creates a file: the proof that a loader ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "payload.safetensors"
    path.write_bytes(pickle.dumps(ExecutesOnLoad(str(marker))))
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        serialization.load(path)
    assert not marker.exists()


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        serialization.load(tmp_path / "absent.safetensors")


# ---------------------------------------------------------------- atomic saves


def fail(*args, **kwargs):
    raise OSError("disk full")


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, step):
    path = tmp_path / "model.safetensors"
    serialization.save({"w": numpy.zeros(3)}, path)
    # The new bytes are fully written to the temporary file before either step fails.
    monkeypatch.setattr(serialization.os, step, fail)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"w": numpy.ones(1000)}, path)
    monkeypatch.undo()
    assert files_in(tmp_path) == ["model.safetensors"]
    numpy.testing.assert_array_equal(serialization.load(path)["w"].data, numpy.zeros(3))


def test_failed_serialisation_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    serialization.save({"w": numpy.zeros(3)}, path)
    monkeypatch.setattr(serialization.safetensors.numpy, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"w": numpy.ones(3)}, path)
    monkeypatch.undo()
    assert files_in(tmp_path) == ["model.safetensors"]
    numpy.testing.assert_array_equal(serialization.load(path)["w"].data, numpy.zeros(3))


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.safetensors"
    serialization.save({"w": numpy.zeros(3)}, path)
    serialization.save({"v": numpy.ones(2)}, str(path))
    assert list(serialization.load(path)) == ["v"]
    assert files_in(tmp_path) == ["model.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_saved_file_gets_the_usual_permissions(tmp_path):
    path = tmp_path / "model.safetensors"
    serialization.save({"w": numpy.zeros(3)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
