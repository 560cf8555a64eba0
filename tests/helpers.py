"""Shared test tools: run the same function in chainrule and in PyTorch and
compare values and gradients (tinygrad's ``helper_test_op`` idea)."""
import numbers

import numpy
import pytest

import chainrule

try:
    import torch
except ImportError:  # the PyTorch comparisons skip; everything else runs
    torch = None

requires_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed (pip install torch==2.13.0); it is the independent oracle"
)


def random_inputs(shapes, seed=0, low=-2.0, high=2.0, dtype=numpy.float64):
    """Arrays of the given shapes, uniform on [low, high)."""
    rng = numpy.random.default_rng(seed)
    return [rng.uniform(low, high, size=shape).astype(dtype) for shape in shapes]


def compare_with_torch(chainrule_fn, torch_fn, arrays, rtol=1e-10, atol=1e-12, grad=True):
    """Assert that both frameworks give the same outputs and input gradients.

    ``arrays`` are NumPy arrays; float arrays become inputs that require grad.
    The gradient is taken of sum(output * v) for a fixed random v.
    """
    if torch is None:
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0)")
    ours = [chainrule.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    out = chainrule_fn(*ours)
    expected = torch_fn(*theirs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    expecteds = expected if isinstance(expected, (tuple, list)) else (expected,)
    assert len(outs) == len(expecteds)
    for o, e in zip(outs, expecteds):
        assert o.shape == tuple(e.shape), f"shape {o.shape} != torch's {tuple(e.shape)}"
        numpy.testing.assert_allclose(o.data, e.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    rng = numpy.random.default_rng(1)
    cotangents = [rng.standard_normal(e.shape) if e.dtype.is_floating_point else None for e in expecteds]
    pairs = [(o, e, v) for o, e, v in zip(outs, expecteds, cotangents) if v is not None and e.requires_grad]
    if not pairs:
        return
    sum((o * chainrule.tensor(v)).sum() for o, _, v in pairs).backward()
    sum((e * torch.tensor(v)).sum() for _, e, v in pairs).backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not b.requires_grad:
            continue
        if b.grad is None:
            assert a.grad is None or not a.grad.data.any(), f"input {i}: torch has no gradient, chainrule does"
            continue
        assert a.grad is not None, f"input {i}: chainrule has no gradient, torch does"
        numpy.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol, atol=atol,
                                      err_msg=f"gradient of input {i}")


def check_gradients(fn, arrays, second_order=True, atol=1e-6, rtol=1e-4):
    """Finite-difference gradcheck (and gradgradcheck) of ``fn``; float arrays must be float64."""
    inputs = [chainrule.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    assert chainrule.gradcheck(fn, inputs, atol=atol, rtol=rtol)
    if second_order:
        assert chainrule.gradgradcheck(fn, inputs, atol=atol, rtol=rtol)


def is_plain_data(value):
    """Whether ``value`` holds only what a state dict may: arrays, numbers, strings and None,
    in dicts (with str or int keys), lists and tuples."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and is_plain_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain_data(v) for v in value)
    return value is None or isinstance(value, (numpy.ndarray, numbers.Number, str))
