"""The IDX parser, the checksummed cache and the no-network message, on small files the tests write."""
import gzip
import hashlib
import importlib
import struct
import urllib.error

import numpy
import pytest

from chainrule.data.datasets import mnist, parse_idx

idx = importlib.import_module("chainrule.data.datasets.idx")


def idx_bytes(array, code):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype, code", [(numpy.uint8, 0x08), (numpy.int16, 0x0B), (numpy.int32, 0x0C),
                                         (numpy.float32, 0x0D), (numpy.float64, 0x0E)])
def test_parse_idx_round_trips_every_type(dtype, code):
    array = (numpy.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    parsed = parse_idx(idx_bytes(array, code))
    assert parsed.shape == (2, 3, 4) and parsed.dtype == numpy.dtype(dtype)
    numpy.testing.assert_array_equal(parsed, array)


def test_parse_idx_refuses_bad_files():
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x01\x02\x03\x04")
    good = idx_bytes(numpy.zeros((2, 2), numpy.uint8), 0x08)
    with pytest.raises(ValueError, match="header promises"):
        parse_idx(good[:-1])


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Four tiny gzipped IDX files in place, with the checksum table pointing at them."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = numpy.random.default_rng(0)
    contents = {"train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (5, 28, 28)).astype(numpy.uint8), 8),
                "train-labels-idx1-ubyte.gz": idx_bytes(numpy.arange(5, dtype=numpy.uint8), 8),
                "t10k-images-idx3-ubyte.gz": idx_bytes(numpy.full((3, 28, 28), 255, numpy.uint8), 8),
                "t10k-labels-idx1-ubyte.gz": idx_bytes(numpy.array([7, 8, 9], numpy.uint8), 8)}
    checksums = {}
    for name, raw in contents.items():
        (folder / name).write_bytes(gzip.compress(raw))
        checksums[name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    monkeypatch.setitem(idx.SOURCES, "mnist", {"mirrors": ["http://mirror.invalid/"], "sha256": checksums})
    return tmp_path


def test_cached_files_load_without_a_download(fake_mnist, monkeypatch):
    monkeypatch.setattr(idx, "_fetch", lambda *a: pytest.fail("downloaded although the files are cached"))
    data = mnist(fake_mnist)
    assert data["x"].shape == (5, 28, 28) and data["x"].dtype == numpy.float32
    assert data["y"].tolist() == [0, 1, 2, 3, 4] and data["y_test"].tolist() == [7, 8, 9]
    assert data["x_test"].max() == 1.0 and 0 <= data["x"].min()


def test_a_damaged_file_is_refused_by_its_checksum(fake_mnist):
    (fake_mnist / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    with pytest.raises(RuntimeError, match="SHA-256"):
        mnist(fake_mnist)


def test_without_a_network_the_error_says_where_to_put_the_files(fake_mnist, monkeypatch):
    (fake_mnist / "mnist" / "train-images-idx3-ubyte.gz").unlink()

    def no_network(url, path, timeout):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(idx, "_fetch", no_network)
    with pytest.raises(RuntimeError, match="place the four files") as caught:
        mnist(fake_mnist)
    assert str(fake_mnist / "mnist") in str(caught.value)


def test_a_download_writes_the_file_and_checks_it(fake_mnist, monkeypatch):
    target = fake_mnist / "mnist" / "train-labels-idx1-ubyte.gz"
    payload = target.read_bytes()
    target.unlink()
    fetched = []

    def serve(url, path, timeout):
        fetched.append(url)
        path.write_bytes(payload)

    monkeypatch.setattr(idx, "_fetch", serve)
    assert mnist(fake_mnist)["y"].tolist() == [0, 1, 2, 3, 4]
    assert fetched == ["http://mirror.invalid/train-labels-idx1-ubyte.gz"]
