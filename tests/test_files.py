"""atomic_write leaves either the old file or the new one, never a mix."""
import pytest

from chainrule.files import atomic_write


def test_writes_the_new_content(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failure_midway_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"half")
            raise RuntimeError("crash during the save")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(path, "w") as f:
        f.write("text")
    assert path.read_text() == "text"
