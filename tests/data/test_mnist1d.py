"""MNIST-1D is generated offline, cached, and rebuilt when the cache is damaged."""
import importlib

import numpy
import pytest

from chainrule.data.datasets import mnist1d

# The package re-exports the function under the module's name; patch the module itself.
mnist1d_module = importlib.import_module("chainrule.data.datasets.mnist1d")

pytest.importorskip("mnist1d", reason="the mnist1d package generates the dataset (pip install mnist1d)")


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, mnist1d(root)


def test_the_standard_split(cached):
    _, data = cached
    assert data["x"].shape == (4000, 40) and data["x_test"].shape == (1000, 40)
    assert data["x"].dtype == numpy.float32 and data["y"].dtype == numpy.int64
    assert sorted(numpy.unique(data["y"])) == list(range(10))
    assert data["t"].shape == (40,)


def test_the_second_call_reads_the_cache(cached, monkeypatch):
    root, data = cached
    monkeypatch.setattr(mnist1d_module, "_generate", lambda: pytest.fail("regenerated instead of reading the cache"))
    again = mnist1d(root)
    numpy.testing.assert_array_equal(again["x"], data["x"])
    assert [p.name for p in root.iterdir()] == ["mnist1d.npz"]  # no temporary file left behind


def test_a_corrupt_cache_is_rebuilt(cached, tmp_path):
    _, data = cached
    (tmp_path / "mnist1d.npz").write_bytes(b"not an npz file")
    rebuilt = mnist1d(tmp_path)
    numpy.testing.assert_array_equal(rebuilt["y_test"], data["y_test"])


def test_the_data_folder_can_be_set_by_environment(cached, tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    monkeypatch.setattr(mnist1d_module, "_generate", lambda: {"x": numpy.zeros((1, 40))})
    mnist1d()
    assert (tmp_path / "mnist1d.npz").exists()
