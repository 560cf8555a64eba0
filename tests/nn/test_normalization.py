"""Normalisation layers against PyTorch in float64, with PyTorch's state
copied in: outputs and gradients in training and eval mode, running
statistics over several steps (also with momentum=None), unbatched inputs
to instance norm, state dicts that move across, reprs, and the errors for
inputs of the wrong shape."""
import numpy
import pytest

import chainrule
from chainrule.nn.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                                        InstanceNorm3d, LayerNorm)
from helpers import requires_torch, torch

TOLERANCES = {"rtol": 1e-9, "atol": 1e-11}
OURS = {"BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d, "LayerNorm": LayerNorm, "GroupNorm": GroupNorm,
        "InstanceNorm1d": InstanceNorm1d, "InstanceNorm2d": InstanceNorm2d, "InstanceNorm3d": InstanceNorm3d}


def twins(name, *args, **kwargs):
    """The same layer in both libraries, in float64, with random affine
    parameters (so that they matter) and PyTorch's state copied into ours."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    rng = numpy.random.default_rng(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape))))
    ours = OURS[name](*args, **kwargs).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours, theirs


def assert_step_agrees(ours, theirs, x):
    """One forward and backward of sum(output * v): outputs, input and parameter gradients."""
    ours.zero_grad()
    theirs.zero_grad()
    xo = chainrule.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, expected = ours(xo), theirs(xt)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), **TOLERANCES)
    v = numpy.random.default_rng(1).standard_normal(x.shape)
    (out * chainrule.tensor(v)).sum().backward()
    (expected * torch.tensor(v)).sum().backward()
    numpy.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOLERANCES)
    their_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(their_params)
    for name, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(), **TOLERANCES, err_msg=name)


def assert_state_agrees(ours, theirs):
    their_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(their_state)
    for name, value in ours.state_dict().items():
        numpy.testing.assert_allclose(value.data, their_state[name].numpy(), **TOLERANCES, err_msg=name)


BATCH_NORMS = {
    "1d_features": ("BatchNorm1d", {}, (8, 3)),
    "1d_sequence": ("BatchNorm1d", {}, (4, 3, 5)),
    "2d": ("BatchNorm2d", {}, (4, 3, 3, 2)),
    "1d_cumulative": ("BatchNorm1d", {"momentum": None}, (4, 3, 5)),
    "2d_cumulative": ("BatchNorm2d", {"momentum": None}, (2, 3, 2, 2)),
    "2d_momentum": ("BatchNorm2d", {"momentum": 0.5, "eps": 1e-3}, (4, 3, 3, 2)),
    "no_affine": ("BatchNorm1d", {"affine": False}, (4, 3, 5)),
    "no_bias": ("BatchNorm2d", {"bias": False}, (4, 3, 3, 2)),
    "untracked": ("BatchNorm1d", {"track_running_stats": False}, (4, 3, 5)),
}


@requires_torch
@pytest.mark.parametrize("case", BATCH_NORMS)
def test_batch_norm_over_several_steps_then_eval_matches_torch(case):
    name, kwargs, shape = BATCH_NORMS[case]
    ours, theirs = twins(name, 3, **kwargs)
    rng = numpy.random.default_rng(2)
    for step in range(4):
        # Shifted and scaled batches, so that the running statistics move.
        assert_step_agrees(ours, theirs, rng.standard_normal(shape) * (1 + step) + step)
        assert_state_agrees(ours, theirs)
    ours.eval()
    theirs.eval()
    assert_step_agrees(ours, theirs, rng.standard_normal(shape))
    assert_state_agrees(ours, theirs)


INSTANCE_NORMS = {
    "1d": ("InstanceNorm1d", {}, (4, 3, 5)),
    "1d_unbatched_affine": ("InstanceNorm1d", {"affine": True}, (3, 5)),
    "1d_unbatched_tracked": ("InstanceNorm1d", {"track_running_stats": True}, (3, 4)),
    "2d_tracked_affine": ("InstanceNorm2d", {"affine": True, "track_running_stats": True}, (4, 3, 3, 2)),
    "2d_tracked_momentum_none": ("InstanceNorm2d", {"track_running_stats": True, "momentum": None}, (2, 3, 2, 3)),
    "2d_unbatched": ("InstanceNorm2d", {"affine": True, "eps": 1e-3}, (3, 4, 2)),
    "3d_tracked_no_bias": ("InstanceNorm3d", {"affine": True, "bias": False, "track_running_stats": True,
                                              "momentum": 0.5}, (2, 3, 2, 3, 2)),
    "3d_unbatched": ("InstanceNorm3d", {}, (3, 2, 2, 3)),
}


@requires_torch
@pytest.mark.parametrize("case", INSTANCE_NORMS)
def test_instance_norm_over_several_steps_then_eval_matches_torch(case):
    name, kwargs, shape = INSTANCE_NORMS[case]
    ours, theirs = twins(name, 3, **kwargs)
    rng = numpy.random.default_rng(4)
    for step in range(3):
        assert_step_agrees(ours, theirs, rng.standard_normal(shape) * (1 + step) + step)
        assert_state_agrees(ours, theirs)
    # Eval mode: the running statistics where they are tracked, each input's own otherwise.
    ours.eval()
    theirs.eval()
    assert_step_agrees(ours, theirs, rng.standard_normal(shape) * 2 - 1)
    assert_state_agrees(ours, theirs)


def test_instance_norm_counts_no_batches_and_momentum_none_freezes_the_statistics():
    x = chainrule.randn(4, 2, 6) * 3 + 1
    moving, frozen = InstanceNorm1d(2, track_running_stats=True), InstanceNorm1d(2, track_running_stats=True,
                                                                                 momentum=None)
    moving(x)
    frozen(x)
    assert moving.running_mean.data.any() and moving.num_batches_tracked.item() == 0
    assert frozen.running_var.data.tolist() == [1, 1] and not frozen.running_mean.data.any()


def test_instance_norm_keeps_float32():
    layer = InstanceNorm2d(3, affine=True, track_running_stats=True)
    x = chainrule.randn(2, 3, 4, 4, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == layer.weight.grad.dtype == layer.running_var.dtype == numpy.float32


def test_momentum_none_is_the_cumulative_average():
    layer = BatchNorm1d(2, momentum=None).double()
    batches = [chainrule.tensor(numpy.random.default_rng(k).standard_normal((5, 2)) + k) for k in range(3)]
    for batch in batches:
        layer(batch)
    means = [b.data.mean(axis=0) for b in batches]
    numpy.testing.assert_allclose(layer.running_mean.data, numpy.mean(means, axis=0), **TOLERANCES)
    assert layer.num_batches_tracked.item() == 3


def test_eval_mode_leaves_running_statistics_alone():
    layer = BatchNorm2d(3).eval()
    x = chainrule.randn(2, 3, 4, 4) * 5 + 2
    out = layer(x)
    # Running mean 0 and variance 1: eval mode is nearly the identity.
    numpy.testing.assert_allclose(out.data, x.data / numpy.sqrt(1 + 1e-5), rtol=1e-5)
    assert layer.num_batches_tracked.item() == 0
    assert not layer.running_mean.data.any()


@requires_torch
@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("LayerNorm", (5,), {}, (4, 5)),
    ("LayerNorm", ((3, 5),), {"eps": 1e-3}, (2, 4, 3, 5)),
    ("LayerNorm", (5,), {"bias": False}, (2, 3, 5)),
    ("LayerNorm", (5,), {"elementwise_affine": False}, (2, 3, 5)),
    ("GroupNorm", (2, 6), {}, (3, 6, 4)),
    ("GroupNorm", (3, 6), {}, (2, 6, 2, 3)),
    ("GroupNorm", (6, 6), {"affine": False}, (2, 6, 5)),
    ("GroupNorm", (1, 6), {"bias": False}, (2, 6)),
], ids=["layer", "layer_2d", "layer_no_bias", "layer_no_affine", "group", "group_2d", "instance_like",
        "group_single"])
def test_layer_and_group_norm_match_torch_in_both_modes(name, args, kwargs, shape):
    ours, theirs = twins(name, *args, **kwargs)
    x = numpy.random.default_rng(3).standard_normal(shape) * 3 + 1
    assert_step_agrees(ours, theirs, x)
    ours.eval()
    theirs.eval()
    assert_step_agrees(ours, theirs, x)
    assert_state_agrees(ours, theirs)


@requires_torch
@pytest.mark.parametrize("name, args, kwargs", [
    ("BatchNorm1d", (4,), {}), ("BatchNorm2d", (4,), {"affine": False}),
    ("BatchNorm1d", (4,), {"track_running_stats": False}), ("LayerNorm", ((2, 3),), {}),
    ("GroupNorm", (2, 4), {}), ("InstanceNorm1d", (4,), {}), ("InstanceNorm2d", (4,), {"affine": True}),
    ("InstanceNorm3d", (4,), {"affine": True, "track_running_stats": True}),
    ("InstanceNorm2d", (4,), {"affine": True, "bias": False, "track_running_stats": True}),
])
def test_state_dict_moves_both_ways(name, args, kwargs):
    ours = OURS[name](*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    for p in ours.parameters():
        p.data[...] = numpy.random.default_rng(0).standard_normal(p.shape)
    theirs.load_state_dict({k: torch.tensor(numpy.array(v.data)) for k, v in ours.state_dict().items()})
    assert_state_agrees(ours, theirs)


def test_defaults_and_dtypes():
    layer = BatchNorm2d(3)
    assert layer.weight.data.tolist() == [1, 1, 1] and layer.bias.data.tolist() == [0, 0, 0]
    assert layer.running_var.data.tolist() == [1, 1, 1]
    assert layer.num_batches_tracked.dtype == numpy.int64
    out = layer(chainrule.randn(2, 3, 4, 4))
    assert out.dtype == numpy.float32 and layer.running_mean.dtype == numpy.float32
    layer.double()
    assert layer.running_mean.dtype == numpy.float64 and layer.num_batches_tracked.dtype == numpy.int64


@requires_torch
def test_reprs_match_torch():
    assert repr(BatchNorm1d(3, momentum=None)).replace(", bias=True", "") == \
           repr(torch.nn.BatchNorm1d(3, momentum=None)).replace(", bias=True", "")
    assert repr(LayerNorm((3, 4))).replace(", bias=True", "") == \
           repr(torch.nn.LayerNorm((3, 4))).replace(", bias=True", "")
    assert repr(GroupNorm(2, 4)).replace(", bias=True", "") == \
           repr(torch.nn.GroupNorm(2, 4)).replace(", bias=True", "")


@requires_torch
@pytest.mark.parametrize("name, kwargs", [
    ("InstanceNorm1d", {}), ("InstanceNorm2d", {"affine": True, "momentum": None}),
    ("InstanceNorm3d", {"affine": True, "bias": False, "track_running_stats": True, "eps": 1e-3}),
])
def test_instance_norm_reprs_match_torch_exactly(name, kwargs):
    assert repr(OURS[name](3, **kwargs)) == repr(getattr(torch.nn, name)(3, **kwargs))


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("layer, shape, message", [
    (BatchNorm1d(3), (4, 5), r"BatchNorm1d\(3, .*\): expected input of shape \(N, 3\) or \(N, 3, L\), got \(4, 5\)"),
    (BatchNorm1d(3), (4, 3, 2, 2), r"expected input of shape \(N, 3\) or \(N, 3, L\), got \(4, 3, 2, 2\)"),
    (BatchNorm2d(3), (4, 3, 5), r"BatchNorm2d\(3, .*\): expected input of shape \(N, 3, H, W\), got \(4, 3, 5\)"),
    (LayerNorm((4, 5)), (2, 5, 4), r"LayerNorm\(\(4, 5\), .*\): expected input of shape \(\*, 4, 5\), got \(2, 5, 4\)"),
    (GroupNorm(2, 6), (2, 4, 3), r"GroupNorm\(2, 6, .*\): expected input of shape \(N, 6, \*\), got \(2, 4, 3\)"),
    (InstanceNorm2d(3), (3, 5), r"InstanceNorm2d\(3, .*\): expected input of shape \(N, 3, H, W\) or \(3, H, W\), "
                                r"got \(3, 5\)"),
    (InstanceNorm1d(3, affine=True), (2, 4, 5), r"InstanceNorm1d\(3, .*affine=True.*\): expected input of shape "
                                                r"\(N, 3, L\) or \(3, L\), got \(2, 4, 5\)"),
    (InstanceNorm3d(3, track_running_stats=True), (4, 2, 2, 2),
     r"InstanceNorm3d\(3, .*\): expected .* got \(4, 2, 2, 2\)"),
], ids=["batch1d_features", "batch1d_rank", "batch2d_rank", "layer", "group", "instance_rank", "instance_affine",
        "instance_tracked"])
def test_wrong_input_shape_names_layer_expected_and_given(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(chainrule.zeros(*shape))


def test_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(chainrule.zeros(1, 3))
    BatchNorm1d(3).eval()(chainrule.zeros(1, 3))  # fine with running statistics


def test_instance_norm_without_affine_or_statistics_warns_of_unused_num_features():
    # As PyTorch: num_features is then unused, and any channel count is normalised.
    with pytest.warns(UserWarning, match=r"InstanceNorm1d\(3, .*\): the input has 4 channels, not num_features=3"):
        out = InstanceNorm1d(3)(chainrule.randn(2, 4, 5))
    assert out.shape == (2, 4, 5)


def test_instance_norm_needs_more_than_one_spatial_element_unless_tracked_in_eval():
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element"):
        InstanceNorm1d(3)(chainrule.zeros(3, 1))
    InstanceNorm1d(3, track_running_stats=True).eval()(chainrule.zeros(3, 1))  # fine with running statistics


def test_group_norm_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"num_groups \(4\) must divide num_channels \(6\)"):
        GroupNorm(4, 6)
