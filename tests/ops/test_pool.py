"""Pooling ops: values, indices and gradients against PyTorch in float64 (ties,
padding, dilation, ceil_mode, count_include_pad, odd sizes), NaN and -inf as
PyTorch treats them, finite differences to second order, and errors."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from chainrule.ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d,
                                avg_pool1d, avg_pool2d, max_pool1d, max_pool2d)
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch


def tied_inputs(shape, seed=0):
    """Small integers, so that windows hold ties and the first-maximum rule is exercised."""
    return [numpy.random.default_rng(seed).integers(-3, 3, size=shape).astype(numpy.float64)]


def same_call(name, **kwargs):
    ours = globals()[name]
    theirs = getattr(torch.nn.functional, name) if torch is not None else None
    return (lambda x: ours(x, **kwargs)), (lambda x: theirs(x, **kwargs))


MAX_POOL_CASES = {
    "2d_k2": ("max_pool2d", (2, 3, 8, 8), dict(kernel_size=2)),
    "2d_odd_size": ("max_pool2d", (2, 3, 7, 9), dict(kernel_size=2)),
    "2d_overlapping": ("max_pool2d", (2, 2, 7, 8), dict(kernel_size=3, stride=1)),
    "2d_padding_ceil": ("max_pool2d", (2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "2d_ceil_overhang": ("max_pool2d", (1, 2, 6, 7), dict(kernel_size=2, stride=3, ceil_mode=True)),
    "2d_dilation": ("max_pool2d", (2, 2, 9, 8), dict(kernel_size=(3, 2), stride=(1, 2), padding=1, dilation=(2, 3))),
    "2d_rect": ("max_pool2d", (1, 3, 10, 7), dict(kernel_size=(2, 3), stride=(3, 1), padding=(1, 0))),
    "2d_unbatched": ("max_pool2d", (3, 6, 5), dict(kernel_size=2, ceil_mode=True)),
    "1d_k2": ("max_pool1d", (2, 3, 10), dict(kernel_size=2)),
    "1d_everything": ("max_pool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    "1d_overlapping": ("max_pool1d", (2, 2, 9), dict(kernel_size=4, stride=1, padding=2)),
}


@requires_torch
@pytest.mark.parametrize("name", MAX_POOL_CASES)
def test_max_pool_matches_torch(name):
    function, shape, kwargs = MAX_POOL_CASES[name]
    ours, theirs = same_call(function, **kwargs)
    compare_with_torch(ours, theirs, random_inputs([shape]))
    compare_with_torch(ours, theirs, tied_inputs(shape))


@requires_torch
@pytest.mark.parametrize("name", MAX_POOL_CASES)
def test_max_pool_indices_match_torch(name):
    function, shape, kwargs = MAX_POOL_CASES[name]
    ours, theirs = same_call(function, return_indices=True, **kwargs)
    (x,) = tied_inputs(shape, seed=1)
    values, indices = ours(chainrule.tensor(x))
    expected_values, expected_indices = theirs(torch.tensor(x))
    numpy.testing.assert_array_equal(values.data, expected_values.numpy())
    numpy.testing.assert_array_equal(indices.data, expected_indices.numpy())
    assert indices.dtype == numpy.int64 and not indices.requires_grad


AVG_POOL_CASES = {
    "2d_k2": ("avg_pool2d", (2, 3, 8, 8), dict(kernel_size=2)),
    "2d_odd_size_stride": ("avg_pool2d", (2, 3, 7, 9), dict(kernel_size=3, stride=2)),
    "2d_padding": ("avg_pool2d", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1)),
    "2d_padding_excluded": ("avg_pool2d", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1,
                                                              count_include_pad=False)),
    "2d_ceil": ("avg_pool2d", (1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "2d_ceil_padding_excluded": ("avg_pool2d", (1, 2, 6, 7), dict(kernel_size=(2, 3), stride=(3, 2), padding=(1, 1),
                                                                  ceil_mode=True, count_include_pad=False)),
    "2d_divisor_override": ("avg_pool2d", (2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1,
                                                             divisor_override=4)),
    "2d_unbatched": ("avg_pool2d", (3, 5, 6), dict(kernel_size=2)),
    "1d_k3": ("avg_pool1d", (2, 3, 10), dict(kernel_size=3)),
    "1d_ceil_padding": ("avg_pool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    "1d_ceil_padding_excluded": ("avg_pool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                                                count_include_pad=False)),
}


@requires_torch
@pytest.mark.parametrize("name", AVG_POOL_CASES)
def test_avg_pool_matches_torch(name):
    function, shape, kwargs = AVG_POOL_CASES[name]
    compare_with_torch(*same_call(function, **kwargs), random_inputs([shape]))


ADAPTIVE_CASES = {
    "avg2d_divides": ("adaptive_avg_pool2d", (2, 3, 8, 6), dict(output_size=(4, 3))),
    "avg2d_uneven": ("adaptive_avg_pool2d", (2, 3, 7, 9), dict(output_size=(3, 4))),
    "avg2d_global": ("adaptive_avg_pool2d", (2, 3, 5, 5), dict(output_size=1)),
    "avg2d_keep_dim": ("adaptive_avg_pool2d", (2, 3, 7, 5), dict(output_size=(3, None))),
    "avg2d_larger_than_input": ("adaptive_avg_pool2d", (1, 2, 3, 4), dict(output_size=(5, 6))),
    "avg2d_unbatched": ("adaptive_avg_pool2d", (3, 7, 5), dict(output_size=2)),
    "avg1d_uneven": ("adaptive_avg_pool1d", (2, 3, 10), dict(output_size=4)),
    "max2d_divides": ("adaptive_max_pool2d", (2, 3, 8, 6), dict(output_size=(4, 3))),
    "max2d_uneven": ("adaptive_max_pool2d", (2, 3, 7, 9), dict(output_size=(3, 4))),
    "max2d_keep_dim": ("adaptive_max_pool2d", (2, 2, 5, 7), dict(output_size=(None, 3))),
    "max2d_larger_than_input": ("adaptive_max_pool2d", (1, 2, 3, 4), dict(output_size=(5, 6))),
    "max1d_uneven": ("adaptive_max_pool1d", (2, 3, 10), dict(output_size=4)),
}


@requires_torch
@pytest.mark.parametrize("name", ADAPTIVE_CASES)
def test_adaptive_pool_matches_torch(name):
    function, shape, kwargs = ADAPTIVE_CASES[name]
    compare_with_torch(*same_call(function, **kwargs), random_inputs([shape]))
    if function.startswith("adaptive_max"):
        compare_with_torch(*same_call(function, **kwargs), tied_inputs(shape))
        ours, theirs = same_call(function, return_indices=True, **kwargs)
        (x,) = tied_inputs(shape, seed=2)
        numpy.testing.assert_array_equal(ours(chainrule.tensor(x))[1].data, theirs(torch.tensor(x))[1].numpy())


@st.composite
def pool_cases(draw):
    """Random windows that PyTorch accepts: padding at most half the kernel, the window inside the padded input."""
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    size = tuple(draw(st.integers(max(1, span - 2 * p), span + 6)) for span, p in zip(spans, padding))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size, dict(
        kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=draw(st.booleans()))


@requires_torch
@settings(max_examples=30, deadline=None)
@given(case=pool_cases(), seed=st.integers(0, 2 ** 16))
def test_max_pool2d_matches_torch_on_drawn_cases(case, seed):
    shape, kwargs = case
    ours, theirs = same_call("max_pool2d", return_indices=True, **kwargs)
    try:
        compare_with_torch(ours, theirs, tied_inputs(shape, seed))
    except ValueError as error:  # dilated windows that miss the input entirely
        assert "hold only padding" in str(error)
        assert (theirs(torch.tensor(tied_inputs(shape, seed)[0]))[0] == -numpy.inf).any()


def test_a_window_of_only_padding_is_refused():
    # Taps at -1 and 2 miss both elements; PyTorch would give -inf and the index 2, outside the input.
    with pytest.raises(ValueError, match=r"max_pool1d: with padding \(1,\) and dilation \(3,\), some windows over "
                                         r"an input of shape \(1, 1, 2\) hold only padding"):
        max_pool1d(chainrule.zeros(1, 1, 2), 2, stride=1, padding=1, dilation=3)


@requires_torch
@settings(max_examples=30, deadline=None)
@given(case=pool_cases(), count_include_pad=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_avg_pool2d_matches_torch_on_drawn_cases(case, count_include_pad, seed):
    shape, kwargs = case
    del kwargs["dilation"]  # average pooling has none
    kwargs["count_include_pad"] = count_include_pad
    compare_with_torch(*same_call("avg_pool2d", **kwargs), random_inputs([shape], seed=seed))


# ------------------------------------------------------------------ NaN, -inf, ties

@requires_torch
@pytest.mark.parametrize("function", ["max_pool2d", "adaptive_max_pool2d"])
def test_nan_and_negative_infinity_are_pooled_as_in_torch(function):
    x = numpy.array([[[[numpy.nan, 1.0, 2.0, -numpy.inf],
                       [3.0, numpy.nan, -numpy.inf, -numpy.inf],
                       [-numpy.inf, -numpy.inf, 5.0, numpy.nan],
                       [-numpy.inf, -numpy.inf, 7.0, 7.0]]]])
    kwargs = dict(kernel_size=2, padding=1) if function == "max_pool2d" else dict(output_size=3)
    ours, theirs = same_call(function, return_indices=True, **kwargs)
    values, indices = ours(chainrule.tensor(x))
    expected_values, expected_indices = theirs(torch.tensor(x))
    numpy.testing.assert_array_equal(values.data, expected_values.numpy())  # NaNs compare equal here
    numpy.testing.assert_array_equal(indices.data, expected_indices.numpy())


def test_changing_the_returned_indices_does_not_move_the_gradient():
    x = chainrule.tensor([[[1.0, 3.0, 3.0, 2.0]]], requires_grad=True)
    out, indices = max_pool1d(x, 2, stride=1, return_indices=True)
    indices.data[...] = 0
    out.sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [[[0.0, 2.0, 1.0, 0.0]]])


def test_max_pool_sends_the_gradient_to_the_first_maximum_and_sums_overlaps():
    x = chainrule.tensor([[[1.0, 3.0, 3.0, 2.0]]], requires_grad=True)
    max_pool1d(x, 2, stride=1).sum().backward()  # windows (1, 3) (3, 3) (3, 2): the first 3 wins twice
    numpy.testing.assert_array_equal(x.grad.data, [[[0.0, 2.0, 1.0, 0.0]]])


# ------------------------------------------------------------------ finite differences

GRADCHECK_CASES = {
    "max_pool2d_overlapping": (lambda x: max_pool2d(x, 3, stride=1, padding=1), (1, 2, 4, 4)),
    "max_pool1d_ceil": (lambda x: max_pool1d(x, 2, stride=2, ceil_mode=True), (2, 2, 5)),
    "avg_pool2d_excluded_padding": (lambda x: avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                                         count_include_pad=False), (1, 2, 4, 5)),
    "avg_pool1d": (lambda x: avg_pool1d(x, 3, stride=2, padding=1), (2, 2, 6)),
    "adaptive_avg_pool2d": (lambda x: adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    "adaptive_max_pool2d": (lambda x: adaptive_max_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    "adaptive_max_pool1d": (lambda x: adaptive_max_pool1d(x, 3), (2, 2, 7)),
}
SECOND_ORDER = {"max_pool2d_overlapping", "avg_pool2d_excluded_padding", "adaptive_avg_pool2d",
                "adaptive_max_pool2d"}


@pytest.mark.parametrize("name", GRADCHECK_CASES)
def test_gradients_by_finite_differences(name):
    # Distinct, well-separated values: finite differences never cross a tie.
    function, shape = GRADCHECK_CASES[name]
    x = numpy.random.default_rng(0).permutation(numpy.prod(shape)).reshape(shape) / 4.0
    check_gradients(lambda t: function(t) ** 2, [x], second_order=name in SECOND_ORDER)


@pytest.mark.parametrize("call", [lambda x: max_pool2d(x, 2), lambda x: avg_pool2d(x, 2),
                                  lambda x: adaptive_max_pool2d(x, 2), lambda x: adaptive_avg_pool2d(x, 2)])
def test_an_empty_batch_pools_to_an_empty_output(call):
    x = chainrule.zeros(0, 3, 4, 5, requires_grad=True)
    out = call(x)
    assert out.shape == (0, 3, 2, 2)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 4, 5)


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize("call", [lambda x: max_pool2d(x, 2), lambda x: avg_pool2d(x, 3, padding=1),
                                  lambda x: adaptive_avg_pool2d(x, 3), lambda x: adaptive_max_pool2d(x, 2)])
def test_float32_stays_float32(call):
    x = chainrule.tensor(random_inputs([(2, 3, 6, 7)], dtype=numpy.float32)[0], requires_grad=True)
    out = call(x)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert x.grad.dtype == numpy.float32


# ------------------------------------------------------------------ errors

ERROR_CASES = {
    "padding_over_half": (lambda x: max_pool2d(x, 2, padding=2),
                          r"max_pool2d: padding \(2, 2\) must be at most half the kernel size \(2, 2\)"),
    "kernel_too_large": (lambda x: max_pool2d(x, (5, 2)),
                         r"max_pool2d: the kernel \(5, 2\).*more than the padded input's 4.*\(1, 2, 4, 6\)"),
    "wrong_rank": (lambda x: max_pool1d(x, 2), r"max_pool1d: expected input of shape \(N, C, L\) or \(C, L\), "
                                               r"got \(1, 2, 4, 6\)"),
    "avg_wrong_rank": (lambda x: avg_pool2d(x[0, 0], 2), r"avg_pool2d: expected input of shape \(N, C, H, W\)"),
    "zero_divisor": (lambda x: avg_pool2d(x, 2, divisor_override=0), r"avg_pool2d: divisor_override must not be 0"),
    "zero_kernel": (lambda x: avg_pool2d(x, 0), r"avg_pool2d: kernel_size must be at least 1"),
    "adaptive_size": (lambda x: adaptive_avg_pool2d(x, (2, 0)), r"adaptive_avg_pool2d: output_size must be at least 1"),
    "adaptive_size_length": (lambda x: adaptive_max_pool2d(x, (2, 3, 4)),
                             r"adaptive_max_pool2d: output_size must be an int or a tuple of 2 ints"),
}


@pytest.mark.parametrize("name", ERROR_CASES)
def test_errors_name_the_op_and_the_shapes(name):
    call, message = ERROR_CASES[name]
    with pytest.raises(ValueError, match=message):
        call(chainrule.zeros(1, 2, 4, 6))


# ------------------------------------------------------------------ memory layouts and the tap-by-tap backward

def batch_last_copy(x):
    """The same values laid out (C, *spatial, N) in memory, as convolutions return them."""
    return numpy.moveaxis(numpy.ascontiguousarray(numpy.moveaxis(x, 0, -1)), -1, 0)


@pytest.mark.parametrize("name", ["2d_k2", "2d_odd_size", "2d_padding_ceil", "2d_overlapping", "1d_everything"])
def test_max_pool_of_a_batch_last_input_equals_the_contiguous_result(name):
    function, shape, kwargs = MAX_POOL_CASES[name]
    if len(shape) < 3 or (function == "max_pool2d" and len(shape) != 4):
        pytest.skip("a batched case is needed")
    x = tied_inputs(shape, seed=2)[0]
    g = numpy.random.default_rng(3).standard_normal(globals()[function](chainrule.tensor(x), **kwargs).shape)
    results = []
    for data in (x, batch_last_copy(x)):
        t = chainrule.tensor(data, requires_grad=True)
        t.register_hook(results.append)
        globals()[function](t, **kwargs).backward(chainrule.tensor(g))
    numpy.testing.assert_array_equal(results[0].data, results[1].data)
    # The gradient comes back in the input's layout, so the ops before it stay on one layout.
    assert numpy.moveaxis(results[1].data, 0, -1).flags.c_contiguous
    assert results[0].data.flags.c_contiguous


@pytest.mark.parametrize("value", [numpy.inf, numpy.nan, -2.5])
def test_a_gradient_reaches_only_the_maximum_and_leaves_positive_zeros(value):
    # As in PyTorch: inf and NaN stay at the maximum, and the rest is +0.0, never -0.0.
    x = chainrule.tensor([[[[1.0, 2.0], [4.0, 3.0]]]], requires_grad=True)
    max_pool2d(x, 2).backward(chainrule.tensor([[[[value]]]]))
    numpy.testing.assert_array_equal(x.grad.data, [[[[0.0, 0.0], [value, 0.0]]]])
    assert not numpy.signbit(x.grad.data.reshape(-1)[[0, 1, 3]]).any()


def test_second_order_through_non_overlapping_windows():
    x = numpy.random.default_rng(0).permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 4.0
    check_gradients(lambda t: max_pool2d(t, 2) ** 2, [x], second_order=True)
    check_gradients(lambda t: max_pool2d(t, 2) ** 2, [batch_last_copy(x)], second_order=True)
