"""Writing files so that a crash never leaves a half-written one in place."""
import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; on success, flush it to disk and
    rename it over ``path`` (atomic on POSIX and Windows). On any exception
    the temporary file is removed and ``path`` is left as it was.

    Example
    -------
    >>> with atomic_write("weights.bin") as f:
    ...     f.write(payload)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    # Mode 0o666 lets the umask decide the permissions, as for any new file
    # (tempfile.mkstemp would leave the result readable by its owner alone).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    # The rename lives in the folder's entry; syncing the folder makes it
    # survive a power cut. Windows cannot open a folder and needs no sync.
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
