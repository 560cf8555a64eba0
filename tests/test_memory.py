"""chainrule keeps memory a step frees for the next step (glibc only)."""
import os
import subprocess
import sys
import textwrap

import pytest

from chainrule import memory

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="mallopt's thresholds exist only in glibc's malloc")

# Resident memory after freeing a 16 MB array, as a fraction of that array's size.
RETAINED = textwrap.dedent("""
    import numpy, chainrule
    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    before = resident()
    array = numpy.ones(4 * 1024 * 1024, numpy.float32)
    del array
    print((resident() - before) / (16 * 1024 * 1024))
""")


def retained_fraction(keep):
    env = dict(os.environ, CHAINRULE_KEEP_FREED_MEMORY=keep)
    done = subprocess.run([sys.executable, "-c", RETAINED], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout)


@glibc
def test_import_keeps_freed_arrays_for_reuse():
    assert retained_fraction("1") > 0.9


@glibc
def test_the_environment_variable_leaves_malloc_as_it_was():
    assert retained_fraction("0") < 0.1


@pytest.mark.parametrize("value", ["0", "false", "No", " off "])
def test_opting_out_reports_nothing_done(monkeypatch, value):
    monkeypatch.setenv("CHAINRULE_KEEP_FREED_MEMORY", value)
    assert memory.keep_freed_memory() is False


@glibc
def test_keeping_is_reported_and_can_be_repeated(monkeypatch):
    monkeypatch.delenv("CHAINRULE_KEEP_FREED_MEMORY", raising=False)
    assert memory.keep_freed_memory() is True
    assert memory.keep_freed_memory() is True
