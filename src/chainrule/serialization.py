"""Weights in and out, in the safetensors format.

A safetensors file is a JSON header (names, dtypes, shapes, byte offsets)
followed by the raw bytes of each array. Reading one parses the header and
copies bytes; nothing in the file is ever executed, unlike a pickle. The
format is PyTorch's too (``safetensors.torch``), and chainrule's parameter
names and layouts are PyTorch's, so a state dict moves between the two
libraries through one file.

Saving writes to a temporary file in the same folder and renames it over the
target only once every byte is on disk, so a crash or an error during a save
leaves an earlier file at that path intact.
"""
import contextlib
import os
from collections import OrderedDict

import numpy
import safetensors
import safetensors.numpy

from .files import atomic_write
from .tensor import Tensor


def save(state_dict, path, metadata=None):
    """Write a state dict (name -> tensor or array) to ``path`` as safetensors.

    Parameters
    ----------
    state_dict : mapping of str to Tensor or array-like
        Typically ``model.state_dict()``; dtypes are kept as they are.
    path : str or os.PathLike
        The file to write; an existing file is replaced only once the new one
        is complete.
    metadata : dict of str to str, optional
        Stored in the file's header (``load_metadata`` reads it back).

    Example
    -------
    >>> chainrule.save(model.state_dict(), "model.safetensors", metadata={"epoch": "3"})
    >>> model.load_state_dict(chainrule.load("model.safetensors"))
    """
    path = os.fspath(path)
    for name in state_dict:
        if not isinstance(name, str):
            raise TypeError(f"save({path!r}): state dict keys must be strings, got {name!r}")
    if metadata is not None and not (isinstance(metadata, dict) and
                                     all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"save({path!r}): metadata must map strings to strings, got {metadata!r}")
    arrays = {name: _contiguous_array(name, value, path) for name, value in state_dict.items()}
    payload = safetensors.numpy.save(arrays, metadata=metadata)
    with atomic_write(path) as f:
        f.write(payload)


def load(path):
    """Read a safetensors file into an OrderedDict of chainrule tensors, sorted by name.

    Files written by PyTorch (``safetensors.torch.save_file``) load as well;
    pass the result to ``Module.load_state_dict``, which matches by name.

    Raises
    ------
    ValueError
        If the file is truncated or is not a safetensors file (a pickle
        checkpoint, say); the message names the file.

    Example
    -------
    >>> state = chainrule.load("model.safetensors")
    >>> model.load_state_dict(state)
    """
    path = os.fspath(path)
    state = OrderedDict()
    with _open(path, "load") as file:
        for name in sorted(file.keys()):
            try:
                array = file.get_tensor(name)
            except TypeError as error:  # a dtype NumPy lacks, such as PyTorch's bfloat16
                raise ValueError(f"load({path!r}): {name!r} is stored as {file.get_slice(name).get_dtype()}, "
                                 "which NumPy cannot hold; convert it to float32 before saving") from error
            state[name] = Tensor._make(array, None, None)
    return state


def load_metadata(path):
    """The string metadata stored in a safetensors file's header (empty if none).

    Example
    -------
    >>> chainrule.save(model.state_dict(), "model.safetensors", metadata={"epoch": "3"})
    >>> load_metadata("model.safetensors")
    {'epoch': '3'}
    """
    path = os.fspath(path)
    with _open(path, "load_metadata") as file:
        return dict(file.metadata() or {})


def _contiguous_array(name, value, path):
    array = value.data if isinstance(value, Tensor) else numpy.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save({path!r}): {name!r} has dtype {array.dtype}, which safetensors cannot store")
    # NOTE: not numpy.ascontiguousarray, which turns a 0-d array into shape (1,).
    return array if array.flags.c_contiguous else array.copy(order="C")


@contextlib.contextmanager
def _open(path, caller):
    """``safetensors.safe_open`` for NumPy, with its errors rewritten to name the caller and the file."""
    try:
        file = safetensors.safe_open(path, framework="numpy")
    except safetensors.SafetensorError as error:
        raise ValueError(f"{caller}({path!r}): not a readable safetensors file; it may be truncated "
                         f"or in another format, such as a pickle ({error})") from error
    with file:
        yield file
