"""Batch, instance, layer and group norm as functions: values and gradients against
PyTorch, running statistics, the fused node's first and second derivatives
by finite differences and against PyTorch, dtypes, and the errors a user
can cause."""
import numpy
import pytest

import chainrule
from chainrule.ops.normalization import Normalization, batch_norm, group_norm, instance_norm, layer_norm
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

TOLERANCES = {"rtol": 1e-9, "atol": 1e-11}


def _maybe(tensor, given):
    return tensor if given else None


@requires_torch
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)],
                         ids=["weight_bias", "weight", "bias", "plain"])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 3)], ids=str)
def test_batch_norm_training_matches_torch(shape, affine):
    compare_training_with_running_statistics(batch_norm, torch.nn.functional.batch_norm, shape, affine, seed=1)


def compare_training_with_running_statistics(ours, theirs, shape, affine, seed):
    """A training-mode normalisation of 3 channels with running statistics, in both libraries:
    outputs, gradients and the running statistics updated in place."""
    x, weight, bias = random_inputs([shape, (3,), (3,)], seed=seed)

    def run(library, normalize):
        def fn(x, weight, bias):
            mean = library.tensor(numpy.linspace(-1, 1, 3))
            var = library.tensor(numpy.linspace(0.5, 2, 3))
            out = normalize(x, mean, var, _maybe(weight, affine[0]), _maybe(bias, affine[1]), True, 0.3, 1e-3)
            return out, mean, var
        return fn

    compare_with_torch(run(chainrule, ours), run(torch, theirs), [x, weight, bias], **TOLERANCES)


@requires_torch
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 3)], ids=str)
def test_batch_norm_eval_matches_torch(shape):
    x, weight, bias, mean, var = random_inputs([shape, (3,), (3,), (3,), (3,)], seed=2)
    var = numpy.abs(var) + 0.1
    compare_with_torch(
        lambda x, w, b: batch_norm(x, chainrule.tensor(mean), chainrule.tensor(var), w, b, False),
        lambda x, w, b: torch.nn.functional.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b, False),
        [x, weight, bias], **TOLERANCES)


@requires_torch
def test_batch_norm_without_running_statistics_matches_torch():
    x, weight = random_inputs([(5, 3, 2), (3,)], seed=3)
    compare_with_torch(lambda x, w: batch_norm(x, None, None, w, None, True),
                       lambda x, w: torch.nn.functional.batch_norm(x, None, None, w, None, True),
                       [x, weight], **TOLERANCES)


def test_running_statistics_use_the_unbiased_variance():
    x = chainrule.tensor([[1.0], [3.0]], dtype=chainrule.float64)
    mean, var = chainrule.zeros(1, dtype=chainrule.float64), chainrule.ones(1, dtype=chainrule.float64)
    out = batch_norm(x, mean, var, training=True, momentum=0.5, eps=0.0)
    numpy.testing.assert_allclose(out.data, [[-1.0], [1.0]])  # normalised with the biased variance, 1
    numpy.testing.assert_allclose(mean.data, [1.0])  # 0.5 * 0 + 0.5 * 2
    numpy.testing.assert_allclose(var.data, [1.5])  # 0.5 * 1 + 0.5 * 2 (unbiased)
    assert mean._version[0] == 1 and var._version[0] == 1


@requires_torch
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape, normalized_shape", [((4, 5), (5,)), ((2, 3, 4, 5), (4, 5)), ((5,), 5)], ids=str)
def test_layer_norm_matches_torch(shape, normalized_shape, affine):
    trailing = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x, weight, bias = random_inputs([shape, trailing, trailing], seed=4)
    compare_with_torch(
        lambda x, w, b: layer_norm(x, normalized_shape, _maybe(w, affine), _maybe(b, affine), 1e-4),
        lambda x, w, b: torch.nn.functional.layer_norm(x, trailing, _maybe(w, affine), _maybe(b, affine), 1e-4),
        [x, weight, bias], **TOLERANCES)


@requires_torch
@pytest.mark.parametrize("groups", [1, 3, 6])
@pytest.mark.parametrize("shape", [(2, 6), (2, 6, 4), (2, 6, 3, 3)], ids=str)
def test_group_norm_matches_torch(shape, groups):
    x, weight, bias = random_inputs([shape, (6,), (6,)], seed=5)
    compare_with_torch(lambda x, w, b: group_norm(x, groups, w, b),
                       lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b), [x, weight, bias],
                       **TOLERANCES)


@requires_torch
def test_group_norm_without_affine_matches_torch():
    (x,) = random_inputs([(3, 4, 5)], seed=6)
    compare_with_torch(lambda x: group_norm(x, 2), lambda x: torch.nn.functional.group_norm(x, 2), [x],
                       **TOLERANCES)


@requires_torch
@pytest.mark.parametrize("affine", [(True, True), (False, True), (False, False)], ids=["weight_bias", "bias", "plain"])
@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3, 4, 3), (2, 3, 2, 3, 2)], ids=str)
def test_instance_norm_with_running_statistics_matches_torch(shape, affine):
    compare_training_with_running_statistics(instance_norm, torch.nn.functional.instance_norm, shape, affine,
                                             seed=10)


@requires_torch
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4, 3)], ids=str)
def test_instance_norm_with_running_statistics_only_matches_torch(shape):
    x, weight, bias, mean, var = random_inputs([shape, (3,), (3,), (3,), (3,)], seed=11)
    var = numpy.abs(var) + 0.1
    compare_with_torch(
        lambda x, w, b: instance_norm(x, chainrule.tensor(mean), chainrule.tensor(var), w, b, False),
        lambda x, w, b: torch.nn.functional.instance_norm(x, torch.tensor(mean), torch.tensor(var), w, b, False),
        [x, weight, bias], **TOLERANCES)


@requires_torch
def test_instance_norm_without_running_statistics_matches_torch():
    x, weight = random_inputs([(3, 2, 5), (2,)], seed=12)
    compare_with_torch(lambda x, w: instance_norm(x, weight=w),
                       lambda x, w: torch.nn.functional.instance_norm(x, weight=w), [x, weight], **TOLERANCES)


def test_instance_norm_running_statistics_average_each_example_unbiased():
    # Two examples of one channel: means 2 and 4, unbiased variances 2 and 8.
    x = chainrule.tensor([[[1.0, 3.0]], [[2.0, 6.0]]], dtype=chainrule.float64)
    mean, var = chainrule.zeros(1, dtype=chainrule.float64), chainrule.ones(1, dtype=chainrule.float64)
    out = instance_norm(x, mean, var, momentum=0.5, eps=0.0)
    numpy.testing.assert_allclose(out.data, [[[-1.0, 1.0]], [[-1.0, 1.0]]])
    numpy.testing.assert_allclose(mean.data, [1.5])  # 0.5 * 0 + 0.5 * (2 + 4) / 2
    numpy.testing.assert_allclose(var.data, [3.0])  # 0.5 * 1 + 0.5 * (2 + 8) / 2


# ------------------------------------------------------------------ one fused node, twice differentiable

def test_batch_norm_training_is_one_node():
    x, weight, bias = (chainrule.tensor(a, requires_grad=True) for a in random_inputs([(4, 3), (3,), (3,)]))
    out = batch_norm(x, chainrule.zeros(3), chainrule.ones(3), weight, bias, training=True)
    assert isinstance(out.grad_fn, Normalization)
    assert out.grad_fn.next_functions == (x, weight, bias)


CASES = {
    "batch_norm_training": (lambda x, w, b: batch_norm(x, None, None, w, b, True), [(3, 2, 2), (2,), (2,)]),
    "batch_norm_eval": (lambda x, w, b: batch_norm(x, chainrule.tensor(numpy.array([0.3, -0.2])),
                                                   chainrule.tensor(numpy.array([0.5, 2.0])), w, b, False),
                        [(3, 2, 2), (2,), (2,)]),
    "layer_norm": (lambda x, w, b: layer_norm(x, (2, 2), w, b), [(3, 2, 2), (2, 2), (2, 2)]),
    "group_norm": (lambda x, w, b: group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    "layer_norm_no_affine": (lambda x: layer_norm(x, (4,)), [(3, 4)]),
    "instance_norm": (lambda x, w, b: instance_norm(x, weight=w, bias=b), [(2, 2, 3, 2), (2,), (2,)]),
    "instance_norm_running": (lambda x, w: instance_norm(x, chainrule.zeros(2, dtype=chainrule.float64),
                                                         chainrule.ones(2, dtype=chainrule.float64), w),
                              [(2, 2, 3), (2,)]),
    "instance_norm_eval": (lambda x, w, b: instance_norm(x, chainrule.tensor(numpy.array([0.3, -0.2])),
                                                         chainrule.tensor(numpy.array([0.5, 2.0])), w, b, False),
                           [(2, 2, 3), (2,), (2,)]),
}


@pytest.mark.parametrize("name", CASES)
def test_gradients_to_second_order(name):
    fn, shapes = CASES[name]
    check_gradients(fn, random_inputs(shapes, seed=7))


@requires_torch
@pytest.mark.parametrize("name", ["batch_norm", "instance_norm", "layer_norm", "group_norm"])
def test_gradient_penalty_matches_torch(name):
    """d/dθ |d<v, f(x)>/dx|²: differentiates the fused backward itself."""
    functions = {
        "batch_norm": (lambda F, x, w, b: F.nn.functional.batch_norm(x, None, None, w, b, True)
                       if F is torch else batch_norm(x, None, None, w, b, True)),
        "instance_norm": (lambda F, x, w, b: F.nn.functional.instance_norm(x, weight=w, bias=b)
                          if F is torch else instance_norm(x, weight=w, bias=b)),
        "layer_norm": (lambda F, x, w, b: F.nn.functional.layer_norm(x, (3,), w, b)
                       if F is torch else layer_norm(x, (3,), w, b)),
        "group_norm": (lambda F, x, w, b: F.nn.functional.group_norm(x, 3, w, b)
                       if F is torch else group_norm(x, 3, w, b)),
    }
    arrays = random_inputs([(4, 3, 3), (3,), (3,), (4, 3, 3)], seed=8)
    results = []
    for F, grad in ((chainrule, chainrule.grad), (torch, torch.autograd.grad)):
        x, w, b = (F.tensor(a, requires_grad=True) for a in arrays[:3])
        (gx,) = grad((functions[name](F, x, w, b) * F.tensor(arrays[3])).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        # The penalty does not depend on the bias, which gets no gradient.
        assert b.grad is None
        results.append([t.grad.numpy() for t in (x, w)])
    for ours, theirs in zip(*results):
        numpy.testing.assert_allclose(ours, theirs, **TOLERANCES)


@requires_torch
def test_in_place_change_of_the_output_leaves_the_gradient_right():
    x, v = random_inputs([(3, 4), (3, 4)], seed=9)
    compare_with_torch(lambda x: layer_norm(x, (4,)).mul_(2) * chainrule.tensor(v),
                       lambda x: torch.nn.functional.layer_norm(x, (4,)).mul_(2) * torch.tensor(v), [x],
                       **TOLERANCES)


@pytest.mark.parametrize("fn", [
    lambda x: batch_norm(x, None, None, training=True),
    lambda x: layer_norm(x, (3,)),
    lambda x: group_norm(x, 3),
    lambda x: instance_norm(x, chainrule.zeros(3), chainrule.ones(3)),
    lambda x: instance_norm(x, chainrule.zeros(3), chainrule.ones(3), use_input_stats=False),
], ids=["batch_norm", "layer_norm", "group_norm", "instance_norm", "instance_norm_eval"])
def test_float32_stays_float32(fn):
    x = chainrule.randn(4, 3, 3, requires_grad=True)
    out = fn(x)
    out.sum().backward()
    assert out.dtype == numpy.float32 and x.grad.dtype == numpy.float32


# ------------------------------------------------------------------ errors

def test_batch_norm_needs_two_values_per_channel_in_training():
    with pytest.raises(ValueError, match=r"more than 1 value per channel .* shape \(1, 3\)"):
        batch_norm(chainrule.zeros(1, 3), None, None, training=True)


def test_batch_norm_eval_needs_running_statistics():
    with pytest.raises(ValueError, match="running_mean and running_var"):
        batch_norm(chainrule.zeros(4, 3), None, None, training=False)


def test_batch_norm_parameter_shape_mismatch():
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(4,\), expected \(3,\)"):
        batch_norm(chainrule.zeros(4, 3), None, None, chainrule.ones(4), training=True)


def test_layer_norm_shape_mismatch():
    with pytest.raises(ValueError, match=r"layer_norm: expected input of shape \(\*, 4, 5\), got \(2, 5, 4\)"):
        layer_norm(chainrule.zeros(2, 5, 4), (4, 5))


def test_group_norm_groups_must_divide_channels():
    with pytest.raises(ValueError, match=r"num_groups 4 must divide the 6 channels"):
        group_norm(chainrule.zeros(2, 6, 3), 4)


INSTANCE_NORM_ERRORS = {
    "one_spatial_element": (lambda: instance_norm(chainrule.zeros(4, 3, 1)),
                            r"instance_norm: expected more than 1 spatial element .* shape \(4, 3, 1\)"),
    "no_spatial_dims": (lambda: instance_norm(chainrule.zeros(4, 3)), "instance_norm: expected more than 1 spatial"),
    "rank": (lambda: instance_norm(chainrule.zeros(4)), r"instance_norm: expected input of shape \(N, C, \*\)"),
    "one_running_statistic": (lambda: instance_norm(chainrule.zeros(4, 3, 2), chainrule.zeros(3)),
                              "instance_norm: give both running_mean and running_var, or neither"),
    "no_statistics": (lambda: instance_norm(chainrule.zeros(4, 3, 2), use_input_stats=False),
                      "instance_norm: without use_input_stats, running_mean and running_var are needed"),
    "weight_shape": (lambda: instance_norm(chainrule.zeros(4, 3, 2), weight=chainrule.ones(4)),
                     r"instance_norm: weight has shape \(4,\), expected \(3,\)"),
}


@pytest.mark.parametrize("name", INSTANCE_NORM_ERRORS)
def test_instance_norm_errors_name_the_op(name):
    call, message = INSTANCE_NORM_ERRORS[name]
    with pytest.raises(ValueError, match=f"^{message}"):
        call()
