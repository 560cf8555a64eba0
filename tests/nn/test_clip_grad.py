"""Gradient clipping and parameter flattening, against PyTorch's."""
import numpy
import pytest
from helpers import requires_torch, torch

import chainrule
from chainrule.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
                                parameters_to_vector, vector_to_parameters)

SHAPES = [(3, 4), (4,), (2, 3, 2), ()]


def with_grads(lib, seed=0, scale=1.0, dtype=numpy.float64):
    """Parameters of SHAPES whose .grad holds fixed random values."""
    rng = numpy.random.default_rng(seed)
    params = []
    for shape in SHAPES:
        p = lib.tensor(rng.normal(size=shape).astype(dtype), requires_grad=True)
        p.grad = lib.tensor((scale * rng.normal(size=shape)).astype(dtype))
        params.append(p)
    return params


def grads(params):
    return [numpy.array(p.grad.numpy()) for p in params]


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, 0.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 2.0, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = with_grads(chainrule), with_grads(torch)
    our_norm = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    their_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(our_norm, chainrule.Tensor) and our_norm.shape == ()
    numpy.testing.assert_allclose(our_norm.item(), their_norm.item(), rtol=1e-12)
    for a, b in zip(grads(ours), grads(theirs)):
        numpy.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_known_values():
    w = chainrule.tensor([3.0, 4.0], requires_grad=True)
    w.grad = chainrule.tensor([6.0, 8.0])
    b = chainrule.tensor([0.0], requires_grad=True)  # no gradient: skipped
    norm = clip_grad_norm_([w, b], max_norm=5.0)
    assert norm.item() == 10.0
    numpy.testing.assert_allclose(w.grad.data, [3.0, 4.0], rtol=1e-6)
    assert b.grad is None
    # under the limit nothing changes
    clip_grad_norm_(w, max_norm=100.0)
    numpy.testing.assert_allclose(w.grad.data, [3.0, 4.0], rtol=1e-6)


def test_clip_grad_norm_keeps_float32():
    params = with_grads(chainrule, dtype=numpy.float32)
    norm = clip_grad_norm_(params, 0.5)
    assert norm.dtype == numpy.float32
    assert all(p.grad.dtype == numpy.float32 for p in params)
    total = numpy.sqrt(sum((g.astype(numpy.float64) ** 2).sum() for g in grads(params)))
    numpy.testing.assert_allclose(total, 0.5, rtol=1e-5)


def test_empty_and_gradless_parameters_give_a_zero_norm():
    assert clip_grad_norm_([], 1.0).item() == 0.0
    w = chainrule.tensor([1.0], requires_grad=True)
    assert clip_grad_norm_([w], 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [numpy.inf, -numpy.inf, numpy.nan])
def test_nonfinite_norm(bad):
    params = with_grads(chainrule)
    params[1].grad.data[2] = bad
    with pytest.raises(RuntimeError, match="non-finite|inf|nan"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[0].grad.data.any() and numpy.isfinite(params[0].grad.data).all(), "unchanged after the error"
    norm = clip_grad_norm_(params, 1.0)  # without the check: the norm comes back, gradients are scaled by it
    assert not numpy.isfinite(norm.item())


@requires_torch
def test_get_total_norm_and_clip_with_norm_match_clip_grad_norm():
    ours, theirs = with_grads(chainrule), with_grads(torch)
    norm = get_total_norm([p.grad for p in ours], norm_type=3.0)
    clip_grads_with_norm_(ours, 0.3, norm)
    torch.nn.utils.clip_grad_norm_(theirs, 0.3, norm_type=3.0)
    for a, b in zip(grads(ours), grads(theirs)):
        numpy.testing.assert_allclose(a, b, rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("clip_value", [0.05, 0.5, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = with_grads(chainrule), with_grads(torch)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for a, b in zip(grads(ours), grads(theirs)):
        numpy.testing.assert_array_equal(a, b)
    assert max(numpy.abs(g).max() for g in grads(ours)) <= clip_value


def test_clip_grad_value_on_a_single_tensor():
    w = chainrule.tensor([3.0, -4.0, 0.5], requires_grad=True)
    w.grad = chainrule.tensor([6.0, -8.0, 0.5])
    clip_grad_value_(w, 1.0)
    numpy.testing.assert_array_equal(w.grad.data, [1.0, -1.0, 0.5])


def test_clipping_a_read_only_gradient_replaces_its_array():
    w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    frozen = numpy.array([10.0, -10.0], dtype=numpy.float32)
    frozen.flags.writeable = False
    w.grad = chainrule.from_numpy(frozen)
    clip_grad_value_([w], 1.0)
    numpy.testing.assert_array_equal(w.grad.data, [1.0, -1.0])
    numpy.testing.assert_array_equal(frozen, [10.0, -10.0])


# ---------------------------------------------------------------- flattening

@requires_torch
def test_parameters_to_vector_matches_torch():
    ours, theirs = with_grads(chainrule), with_grads(torch)
    vector = parameters_to_vector(ours)
    numpy.testing.assert_array_equal(vector.data, torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    assert vector.shape == (sum(numpy.prod(s, dtype=int) for s in SHAPES),)


def test_vector_round_trip():
    params = with_grads(chainrule)
    original = [p.data.copy() for p in params]
    vector = parameters_to_vector(params)
    vector_to_parameters(vector * 2.0, params)
    for p, before in zip(params, original):
        numpy.testing.assert_array_equal(p.data, 2.0 * before)
    vector_to_parameters(vector, params)
    for p, before in zip(params, original):
        numpy.testing.assert_array_equal(p.data, before)
        assert p.requires_grad and p.is_leaf
    numpy.testing.assert_array_equal(parameters_to_vector(params).data, vector.data)


def test_parameters_to_vector_is_differentiable():
    params = with_grads(chainrule)
    for p in params:
        p.grad = None
    weights = chainrule.tensor(numpy.arange(parameters_to_vector(params).numel(), dtype=numpy.float64))
    (parameters_to_vector(params) * weights).sum().backward()
    numpy.testing.assert_array_equal(numpy.concatenate([p.grad.data.reshape(-1) for p in params]), weights.data)


@pytest.mark.parametrize("vec, error, match", [
    (numpy.zeros(25), TypeError, "Tensor"),
    (chainrule.zeros(5, 5), ValueError, "1-d"),
    (chainrule.zeros(24), ValueError, "24 elements"),
])
def test_vector_to_parameters_checks_its_input(vec, error, match):
    with pytest.raises(error, match=match):
        vector_to_parameters(vec, with_grads(chainrule))
