"""Manifests: what a run records about its environment, and how differences are found."""
import json
import pathlib
import platform
import subprocess
import sys

import numpy
import pytest

import chainrule
from chainrule.train.config import load_config
from chainrule.train.manifest import (ManifestRecord, blas_info, compare_manifest, hash_arrays, make_manifest,
                                      read_manifest, source_revision, write_manifest)

DATA_INFO = {"name": "mnist1d", "input_shape": [40], "num_classes": 10, "train_sha256": "ab" * 32}


def test_a_manifest_records_seed_versions_blas_data_and_config():
    config = load_config().with_overrides("test", seed=5)
    manifest = make_manifest(config, DATA_INFO)
    assert manifest["seed"] == 5
    assert manifest["versions"] == {"chainrule": chainrule.__version__, "numpy": numpy.__version__,
                                    "python": platform.python_version()}
    assert manifest["data"] == DATA_INFO
    assert manifest["config"] == config.to_dict() and manifest["config"]["train"]["seed"] == 5
    assert set(manifest["blas"]) >= {"name", "version", "threads"}
    assert json.loads(json.dumps(manifest)) == manifest  # plain JSON all the way down


def test_hash_arrays_sees_every_change_of_values_dtype_shape_and_name():
    x = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    y = numpy.array([0, 1, 2])
    reference = hash_arrays({"x": x, "y": y})
    assert reference == hash_arrays({"x": x.copy(), "y": y.copy()}) and len(reference) == 64
    changed = x.copy()
    changed[2, 3] += 1
    variants = [{"x": changed, "y": y}, {"x": x.astype(numpy.float64), "y": y}, {"x": x.reshape(4, 3), "y": y},
                {"inputs": x, "y": y}, {"y": y, "x": x}, {"x": numpy.asfortranarray(x).T, "y": y}]
    hashes = {hash_arrays(v) for v in variants}
    assert reference not in hashes and len(hashes) == len(variants)
    assert hash_arrays({"x": numpy.asfortranarray(x)}) == hash_arrays({"x": x})  # values, not memory layout


def test_compare_manifest_lists_exactly_what_differs():
    saved = make_manifest(load_config(), DATA_INFO)
    current = json.loads(json.dumps(saved))
    assert compare_manifest(saved, current) == []
    current["created"] = "2099-01-01T00:00:00+00:00"
    current["versions"]["numpy"] = "0.0.1"
    current["blas"]["threads"] = 97
    current["data"]["train_sha256"] = "cd" * 32
    del current["platform"]
    assert compare_manifest(saved, current) == [
        f"blas.threads: {saved['blas']['threads']} -> 97",
        f"data.train_sha256: {'ab' * 32} -> {'cd' * 32}",
        f"platform: {saved['platform']} -> (absent)",
        f"versions.numpy: {numpy.__version__} -> 0.0.1",
    ]


def test_lists_and_tuples_compare_as_a_file_would_hold_them():
    assert compare_manifest({"shape": (40,)}, {"shape": [40]}) == []


def test_source_revision_in_this_checkout():
    root = pathlib.Path(chainrule.__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("chainrule is not running from a git checkout")
    revision = source_revision()
    if revision is None:
        pytest.skip("git cannot be run here")
    assert len(revision["git_commit"]) == 40 and int(revision["git_commit"], 16) >= 0
    assert isinstance(revision["git_dirty"], bool)


def test_source_revision_never_fails(tmp_path, monkeypatch):
    assert source_revision(tmp_path) is None  # not a checkout
    (tmp_path / ".git").mkdir()  # looks like one, but git refuses it
    assert source_revision(tmp_path) is None

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert source_revision() is None


def test_blas_info_without_threadpoolctl(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if not installed
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    info = blas_info()
    assert info["threads"] is None and info["thread_env"]["OPENBLAS_NUM_THREADS"] == "3"


def test_blas_info_with_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    if not pools:
        pytest.skip("threadpoolctl sees no BLAS library")
    assert blas_info()["threads"] == pools[0]["num_threads"]


def test_write_and_read_back(tmp_path):
    manifest = make_manifest(load_config(), DATA_INFO)
    write_manifest(tmp_path / "manifest.json", manifest)
    assert read_manifest(tmp_path / "manifest.json") == manifest
    assert read_manifest(tmp_path / "missing.json") is None
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json: not a readable manifest"):
        read_manifest(tmp_path / "broken.json")


def test_manifest_record_travels_in_checkpoints_and_warns_on_resume():
    saved = make_manifest(load_config(), DATA_INFO)
    current = json.loads(json.dumps(saved))
    current["versions"]["numpy"] = "0.0.1"
    warnings = []
    record = ManifestRecord(current, warnings.append)
    assert record.state_dict() == {"manifest": current}
    record.on_train_begin(trainer=None)  # a fresh run: nothing to compare
    assert warnings == []
    record.load_state_dict({"manifest": saved})
    record.on_train_begin(trainer=None)
    assert warnings == [f"resuming in a different environment: versions.numpy: {numpy.__version__} -> 0.0.1"]
