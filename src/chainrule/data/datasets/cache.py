"""Where datasets are cached: ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``."""
import os
import pathlib

import numpy

from ...files import atomic_write


def data_dir(root=None):
    """The folder datasets are cached in (created if missing)."""
    root = root or os.environ.get("CHAINRULE_DATA") or pathlib.Path.home() / ".cache" / "chainrule"
    path = pathlib.Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_arrays(path):
    """The arrays of an ``.npz`` cache file, or None if it is missing or unreadable."""
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError):  # missing, truncated or corrupt: rebuild it
        return None


def save_arrays(path, arrays):
    with atomic_write(path) as f:
        numpy.savez(f, **arrays)
