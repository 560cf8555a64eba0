"""Checkpoints: one safetensors file holding every array of a training run
(weights, optimiser moments) with the rest of the state as JSON in its
header. One file, written atomically, so a kill during a save leaves the
previous checkpoint whole; nothing is ever unpickled.
"""
import json

import numpy

from .. import distributed
from ..serialization import load, load_metadata, save

_STATE_KEY = "chainrule.checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, corrupt or not a checkpoint."""


def split_arrays(obj, prefix, arrays):
    """A JSON-friendly copy of ``obj`` whose arrays are moved into ``arrays``
    under path-like names and replaced by ``{"__array__": name}``."""
    if isinstance(obj, numpy.ndarray):
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {"__dict__": [[key, split_arrays(value, f"{prefix}/{key}", arrays)] for key, value in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [split_arrays(value, f"{prefix}/{i}", arrays) for i, value in enumerate(obj)]
    return obj


def join_arrays(obj, arrays):
    """Undo ``split_arrays``."""
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        return {key: join_arrays(value, arrays) for key, value in obj["__dict__"]}
    if isinstance(obj, list):
        return [join_arrays(value, arrays) for value in obj]
    return obj


def save_checkpoint(path, state):
    """Write ``state`` (nested dicts and lists of arrays, numbers and strings) to ``path``."""
    arrays = {}
    skeleton = split_arrays(state, "state", arrays)
    save(arrays, path, metadata={_STATE_KEY: json.dumps(skeleton)})


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; refuse anything else with a clear error."""
    try:
        metadata = load_metadata(path)
        skeleton = json.loads(metadata[_STATE_KEY])
        arrays = {name: tensor.data for name, tensor in load(path).items()}
        return join_arrays(skeleton, arrays)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"checkpoint {path}: not a readable chainrule checkpoint ({err})") from None


def load_checkpoint_from_rank_0(path):
    """``load_checkpoint(path)`` on rank 0, sent to every rank: under ``mpiexec``
    on several machines only rank 0's machine needs the file."""
    if distributed.world_size() == 1:
        return load_checkpoint(path)
    arrays, shared = {}, None
    if distributed.is_main_process():
        skeleton = split_arrays(load_checkpoint(path), "state", arrays)
        shared = {"skeleton": skeleton, "layout": {name: [list(a.shape), a.dtype.str] for name, a in arrays.items()}}
    shared = distributed.broadcast_object(shared)
    for name, (shape, dtype) in shared["layout"].items():
        arrays[name] = distributed.broadcast(arrays[name] if name in arrays else numpy.empty(shape, dtype=dtype))
    return join_arrays(shared["skeleton"], arrays)
