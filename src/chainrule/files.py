"""Writing files so that a crash never leaves a half-written one in place."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success, flush it to disk and
    rename it over ``path`` (atomic on POSIX and Windows). On any exception the
    temporary file is removed and ``path`` is left as it was.

    Example
    -------
    >>> with atomic_write("weights.bin") as f:
    ...     f.write(payload)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
