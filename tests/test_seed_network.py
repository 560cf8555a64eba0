"""The seed network example: its hand-written chain rule equals chainrule's
autograd, its training lowers the loss, and it runs as a script."""
import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy
import pytest

import chainrule

EXAMPLE_PATH = pathlib.Path(__file__).resolve().parents[1] / "examples" / "seed_network.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("seed_network", EXAMPLE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seed_network = _load_example()


def _random_batch(seed, n_points=20):
    """Inputs off the training grid and targets that no network fits exactly,
    so that no gradient is zero by accident."""
    rng = numpy.random.default_rng(seed)
    X = rng.uniform(-numpy.pi, numpy.pi, size=(n_points, 1))
    return X, numpy.sin(X) + 0.1 * rng.standard_normal((n_points, 1))


@pytest.mark.parametrize("seed, hidden", [(0, 16), (1, 3), (2, 32)])
def test_hand_written_gradients_equal_autograd(seed, hidden):
    params = seed_network.init_params(seed, hidden=hidden)
    X, T = _random_batch(seed)
    loss_by_hand, by_hand = seed_network.manual_gradients(params, X, T)
    loss_by_autograd, by_autograd = seed_network.autograd_gradients(params, X, T)

    assert loss_by_autograd == pytest.approx(loss_by_hand, rel=1e-12)
    for name in seed_network.PARAMETER_NAMES:
        assert by_autograd[name].dtype == numpy.float64, name
        assert by_autograd[name].shape == params[name].shape, name
        numpy.testing.assert_allclose(by_autograd[name], by_hand[name], rtol=1e-12, atol=1e-12, err_msg=name)
        assert numpy.abs(by_hand[name]).max() > 1e-6, f"{name}: a zero gradient would make the comparison vacuous"


def test_short_training_lowers_the_loss():
    losses = seed_network.train(steps=300, seed=0)
    assert len(losses) == 301
    assert all(numpy.isfinite(losses))
    assert losses[-1] < losses[0] / 20


def test_script_runs_and_prints_a_falling_loss():
    result = subprocess.run([sys.executable, str(EXAMPLE_PATH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    logged = [float(loss) for loss in re.findall(r"^step\s+\d+\s+loss\s+(\S+)$", result.stdout, flags=re.MULTILINE)]
    assert len(logged) >= 5, result.stdout
    assert all(later < earlier for earlier, later in zip(logged, logged[1:])), logged
    assert logged[-1] < logged[0] / 100
    assert "gradients" in result.stdout


def test_three_versions_follow_the_same_training_curve():
    """By hand in NumPy, with chainrule's autograd, and from nn.Linear + nn.MSELoss + optim.SGD."""
    by_hand = seed_network.train_by_hand(steps=100)
    by_autograd = seed_network.train(steps=100, dtype=chainrule.float64)[:-1]
    with_modules = seed_network.train_with_modules(steps=100)
    numpy.testing.assert_allclose(by_autograd, by_hand, rtol=1e-12)
    numpy.testing.assert_allclose(with_modules, by_hand, rtol=1e-12)
    assert by_hand[-1] < by_hand[0] / 5
