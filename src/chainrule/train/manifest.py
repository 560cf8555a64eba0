"""The manifest of a training run: what it takes to reproduce it, or to see why it does not.

A manifest records the seed, the versions of chainrule, NumPy and Python,
the BLAS library NumPy uses and its thread count, a SHA-256 hash of the
training and test arrays, the full config, and the source revision when
chainrule runs from a git checkout. ``compare_manifest`` lists what differs
between a saved manifest and the running environment, so that a result that
does not reproduce points at its likely cause.
"""
import datetime
import hashlib
import json
import os
import pathlib
import platform
import subprocess

import numpy

from ..files import atomic_write
from .callbacks import Callback

MANIFEST_VERSION = 1

# Entries that differ between any two runs and say nothing about reproducibility
# (when a manifest was made, and the notes a resumed run adds to it).
_NOT_COMPARED = ("created", "resumed")


def hash_arrays(arrays):
    """SHA-256 (hex) of named arrays: their names, dtypes, shapes and bytes, in the order given.

    Example
    -------
    >>> hash_arrays({"x": data["x"], "y": data["y"]})
    '3f5c…'
    """
    digest = hashlib.sha256()
    for name, array in arrays.items():
        array = numpy.ascontiguousarray(array)
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def blas_info():
    """The BLAS library NumPy calls and how many threads it uses, as far as can be told.

    The name and version come from NumPy's build configuration; the thread
    count from threadpoolctl when it is installed (None otherwise, with the
    environment variables that usually set it).
    """
    info = {"name": None, "version": None, "threads": None}
    try:
        dependencies = numpy.show_config(mode="dicts")["Build Dependencies"]
        blas = dependencies.get("blas", {})
        info["name"], info["version"] = blas.get("name"), blas.get("version")
    except Exception:  # show_config's layout is not a stable API; a manifest must never fail on it
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["thread_env"] = {name: os.environ[name] for name in
                              ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if name in os.environ}
        return info
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    if pools:
        info["threads"] = pools[0].get("num_threads")
        info["internal_api"] = pools[0].get("internal_api")
        info["version"] = info["version"] or pools[0].get("version")
    return info


def source_revision(folder=None):
    """The git commit of the checkout holding ``folder`` (chainrule's own source
    by default), and whether it has local changes.

    Returns None when the folder is not inside a git checkout (chainrule
    installed from a wheel, say) or git cannot be run; it never raises.
    """
    folder = pathlib.Path(folder or pathlib.Path(__file__).parent).resolve()
    root = next((parent for parent in (folder, *folder.parents) if (parent / ".git").exists()), None)
    if root is None:
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"git_commit": commit, "git_dirty": bool(changes)}


def make_manifest(config, data_info):
    """The manifest of a run of ``config`` on data described by ``data_info``.

    Parameters
    ----------
    config : Config
    data_info : dict of plain values about the data (name, shapes, sizes and
        hashes; see ``chainrule.cli``); stored as given under ``"data"``.
    """
    # NOTE: imported here, not at the top: chainrule/__init__.py sets __version__
    # after its imports, so a top-level import would break if it ever imported train.
    from .. import __version__
    return {
        "manifest_version": MANIFEST_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": config.train.seed,
        "versions": {"chainrule": __version__, "numpy": numpy.__version__, "python": platform.python_version()},
        "platform": platform.platform(),
        "blas": blas_info(),
        "data": data_info,
        "source": source_revision(),
        "config": config.to_dict(),
    }


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        flat = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def compare_manifest(saved, current):
    """What differs between two manifests, one line per entry, as ``"key: saved -> current"``.

    The creation time and the notes of resumes are left out; an empty list
    means the environment matches the one the run was made in.

    Example
    -------
    >>> compare_manifest(saved, make_manifest(config, data_info))
    ['versions.numpy: 2.1.0 -> 2.2.1', 'blas.threads: 2 -> 8']
    """
    saved_flat, current_flat = _flatten(saved), _flatten(current)
    differences = []
    for key in sorted(set(saved_flat) | set(current_flat)):
        if key.split(".")[0] in _NOT_COMPARED:
            continue
        before, after = saved_flat.get(key, "(absent)"), current_flat.get(key, "(absent)")
        # Through JSON, tuples become lists and so on: compare what a file would hold.
        if json.dumps(before, sort_keys=True, default=str) != json.dumps(after, sort_keys=True, default=str):
            differences.append(f"{key}: {before} -> {after}")
    return differences


def write_manifest(path, manifest):
    """Write ``manifest`` to ``path`` as indented JSON, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False, default=str)
        f.write("\n")


def read_manifest(path):
    """The manifest stored at ``path``, or None if the file is missing."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a readable manifest ({error})") from None


class ManifestRecord(Callback):
    """Carries a run's manifest inside its checkpoints, and on resume reports
    what changed since the checkpoint was written.

    Parameters
    ----------
    manifest : the manifest of the run as it is now
    warn : called with one message per difference found on resume

    Example
    -------
    >>> Trainer(model, optimizer, callbacks=[ManifestRecord(manifest, warn=print)])
    """

    def __init__(self, manifest, warn):
        self.manifest, self.warn = manifest, warn
        self.saved = None

    def state_dict(self):
        return {"manifest": self.manifest}

    def load_state_dict(self, state):
        self.saved = state.get("manifest")

    def on_train_begin(self, trainer):
        if self.saved is not None:
            for difference in compare_manifest(self.saved, self.manifest):
                self.warn(f"resuming in a different environment: {difference}")
