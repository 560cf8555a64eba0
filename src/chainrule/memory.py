"""Keep the memory a training step frees, for the next step to reuse.

Every step allocates the same large temporaries (activations, im2col columns,
gradients) and frees them by its end. glibc's malloc hands each array above a
threshold a fresh mapping from the kernel and gives the top of its heap back
once more than another threshold lies free there, so each step faults its
temporaries' pages in again: on LeNet (workload W4) that was half the step.
Raising both thresholds keeps those pages in the process: arrays up to
``MAP_ABOVE`` come from the heap, and up to ``KEEP_LIMIT`` of free memory at
the top of the heap stays with the process instead of going back to the
system. For a training loop, which frees what it allocated, the peak is
unchanged; a program that keeps small arrays alive between large freed ones
can fragment the heap and hold more than it would otherwise.

``import chainrule`` calls ``keep_freed_memory()``; set the environment
variable ``CHAINRULE_KEEP_FREED_MEMORY=0`` (or false, no, off) before
importing to leave malloc as it was. Other C libraries (macOS, Windows,
musl) are left alone.
"""
import os

# mallopt's parameter numbers, from glibc's malloc.h.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# The largest mmap threshold glibc accepts on 64-bit systems; bigger arrays still get their own mapping.
MAP_ABOVE = 32 * 1024 * 1024
# Free memory at the top of the heap is returned to the system only beyond this.
KEEP_LIMIT = 1024 * 1024 * 1024


def keep_freed_memory():
    """Tell glibc's malloc to keep freed memory for reuse; return whether it did.

    Does nothing (and returns False) where the C library is not glibc, or where
    ``CHAINRULE_KEEP_FREED_MEMORY`` is 0, false, no or off.
    """
    if os.environ.get("CHAINRULE_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import ctypes  # here, not at the top: a Python built without ctypes still imports chainrule

        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MAP_ABOVE) and libc.mallopt(_M_TRIM_THRESHOLD, KEEP_LIMIT))
    except (ImportError, ValueError, OSError, AttributeError):  # no ctypes, no such confstr name, no libc, no mallopt
        return False
