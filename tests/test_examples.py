"""The examples: each file compiles, and the MNIST-1D CNN it builds learns.

The examples themselves train for minutes, so they are not run here; one
short training of the example's own CNN stands in for them.
"""
import importlib.util
import pathlib
import py_compile

import numpy
import pytest

import chainrule
from chainrule import optim
from chainrule.nn import functional as F

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    """The example file as a module, without running its ``main``."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_example_compiles(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "example.pyc"), doraise=True)


def test_the_mnist1d_cnn_example_learns(tmp_path):
    pytest.importorskip("mnist1d", reason="the mnist1d package generates the dataset (pip install mnist1d)")
    data = chainrule.data.datasets.mnist1d(tmp_path)
    inputs, labels = chainrule.from_numpy(data["x"][:500]), chainrule.from_numpy(data["y"][:500])

    chainrule.manual_seed(0)
    model = load_example("mnist1d_cnn").paper_cnn()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    def loss_on_subset():
        with chainrule.no_grad():
            return F.cross_entropy(model(inputs), labels).item()

    initial = loss_on_subset()
    for step in range(30):
        batch = slice(step * 50 % 500, step * 50 % 500 + 50)
        loss = F.cross_entropy(model(inputs[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = loss_on_subset()

    assert numpy.isfinite(final)
    # Chance is ln 10 = 2.30; 30 steps of Adam bring this CNN well below it.
    assert initial > 2.0
    assert final < 0.75 * initial
