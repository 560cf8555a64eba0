"""scikit-learn's bundled digits, split reproducibly."""
import numpy
import pytest

from chainrule.data.datasets import digits

pytest.importorskip("sklearn", reason="the digits ship with scikit-learn (pip install scikit-learn)")


def test_digits_split():
    data = digits()
    assert data["x"].shape[1:] == (8, 8) and len(data["x"]) + len(data["x_test"]) == 1797
    assert len(data["x_test"]) == 359 and data["x"].dtype == numpy.float32 and data["x"].max() <= 1.0
    assert sorted(numpy.unique(data["y"])) == list(range(10))
    numpy.testing.assert_array_equal(digits()["y_test"], data["y_test"])
