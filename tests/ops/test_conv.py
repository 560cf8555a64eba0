"""Convolution ops: values and gradients (input, weight, bias) against PyTorch in
float64 over strides, paddings, dilations, groups and odd sizes; finite
differences to second order; dtypes; and the errors a user can cause."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from chainrule.ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                                fold, unfold)
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

# (input shape, weight shape, with bias, keyword arguments)
CONV2D_CASES = {
    "plain": ((2, 3, 7, 9), (4, 3, 3, 3), True, {}),
    "stride2_padding1": ((2, 3, 8, 7), (5, 3, 3, 3), True, dict(stride=2, padding=1)),
    "rect_kernel_mixed": ((1, 2, 9, 8), (3, 2, 2, 4), True, dict(stride=(2, 1), padding=(1, 2))),
    "dilation": ((2, 2, 9, 10), (3, 2, 3, 2), False, dict(dilation=(2, 3), padding=1)),
    "groups": ((2, 4, 6, 7), (6, 2, 3, 3), True, dict(groups=2, stride=2)),
    "depthwise": ((2, 4, 7, 6), (4, 1, 3, 3), True, dict(groups=4, padding=1)),
    "depthwise_multiplier": ((1, 3, 6, 6), (6, 1, 2, 2), False, dict(groups=3)),
    "same_odd": ((2, 3, 7, 8), (4, 3, 3, 5), True, dict(padding="same")),
    "same_even_kernel": ((1, 2, 6, 7), (3, 2, 4, 2), True, dict(padding="same")),
    "same_dilated": ((1, 2, 7, 5), (2, 2, 2, 3), False, dict(padding="same", dilation=(3, 2))),
    "valid": ((1, 2, 5, 6), (3, 2, 2, 2), True, dict(padding="valid")),
    "kernel_fills_input": ((2, 2, 3, 4), (3, 2, 3, 4), True, {}),
    "stride_exceeds_kernel": ((1, 2, 11, 10), (2, 2, 2, 2), True, dict(stride=3)),
    "one_by_one": ((2, 5, 4, 3), (3, 5, 1, 1), True, {}),
    "everything": ((2, 6, 11, 9), (4, 3, 3, 2), True, dict(stride=(2, 3), padding=(2, 1), dilation=(2, 1), groups=2)),
}

CONV1D_CASES = {
    "mnist1d_conv1": ((3, 1, 40), (5, 1, 5), True, dict(stride=2, padding=1)),
    "mnist1d_conv2": ((3, 4, 19), (4, 4, 3), True, dict(stride=2, padding=1)),
    "dilation_groups": ((2, 4, 13), (6, 2, 3), True, dict(dilation=3, groups=2, padding=2)),
    "depthwise": ((2, 3, 9), (3, 1, 4), False, dict(groups=3)),
    "same_even": ((2, 2, 8), (3, 2, 4), True, dict(padding="same")),
    "valid": ((1, 2, 6), (2, 2, 6), True, dict(padding="valid")),
}

# (input shape, weight shape (in, out / groups, *k), with bias, keyword arguments)
TRANSPOSE2D_CASES = {
    "plain": ((2, 3, 4, 5), (3, 2, 3, 3), True, {}),
    "stride2_padding1": ((2, 3, 4, 3), (3, 4, 3, 3), True, dict(stride=2, padding=1)),
    "output_padding": ((1, 2, 4, 5), (2, 3, 3, 2), True, dict(stride=(2, 3), padding=1, output_padding=(1, 2))),
    "output_padding_below_dilation": ((1, 2, 4, 4), (2, 2, 2, 3), True, dict(dilation=3, output_padding=(2, 1))),
    "groups": ((2, 4, 3, 4), (4, 3, 2, 2), True, dict(groups=2, stride=2)),
    "depthwise": ((1, 3, 4, 4), (3, 1, 3, 3), False, dict(groups=3, padding=1)),
    "everything": ((2, 4, 3, 5), (4, 2, 3, 2), True, dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1),
                                                         groups=2, dilation=(1, 2))),
}

TRANSPOSE1D_CASES = {
    "plain": ((2, 3, 5), (3, 2, 3), True, {}),
    "stride_padding_output_padding": ((2, 3, 6), (3, 4, 4), True, dict(stride=3, padding=1, output_padding=2)),
    "dilation_groups": ((1, 4, 5), (4, 1, 3), False, dict(dilation=2, groups=2)),
}


def _inputs(input_shape, weight_shape, bias, out_channels, seed=0):
    shapes = [input_shape, weight_shape] + ([(out_channels,)] if bias else [])
    return random_inputs(shapes, seed=seed)


def _call(function, kwargs):
    return lambda x, w, b=None: function(x, w, b, **kwargs)


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # PyTorch's, about its speed
@pytest.mark.parametrize("name", CONV2D_CASES)
def test_conv2d_matches_torch(name):
    input_shape, weight_shape, bias, kwargs = CONV2D_CASES[name]
    compare_with_torch(_call(conv2d, kwargs), _call(torch.nn.functional.conv2d, kwargs),
                       _inputs(input_shape, weight_shape, bias, weight_shape[0]))


@requires_torch
@pytest.mark.parametrize("name", CONV1D_CASES)
def test_conv1d_matches_torch(name):
    input_shape, weight_shape, bias, kwargs = CONV1D_CASES[name]
    compare_with_torch(_call(conv1d, kwargs), _call(torch.nn.functional.conv1d, kwargs),
                       _inputs(input_shape, weight_shape, bias, weight_shape[0]))


@requires_torch
@pytest.mark.parametrize("name", TRANSPOSE2D_CASES)
def test_conv_transpose2d_matches_torch(name):
    input_shape, weight_shape, bias, kwargs = TRANSPOSE2D_CASES[name]
    out_channels = weight_shape[1] * kwargs.get("groups", 1)
    compare_with_torch(_call(conv_transpose2d, kwargs), _call(torch.nn.functional.conv_transpose2d, kwargs),
                       _inputs(input_shape, weight_shape, bias, out_channels))


@requires_torch
@pytest.mark.parametrize("name", TRANSPOSE1D_CASES)
def test_conv_transpose1d_matches_torch(name):
    input_shape, weight_shape, bias, kwargs = TRANSPOSE1D_CASES[name]
    out_channels = weight_shape[1] * kwargs.get("groups", 1)
    compare_with_torch(_call(conv_transpose1d, kwargs), _call(torch.nn.functional.conv_transpose1d, kwargs),
                       _inputs(input_shape, weight_shape, bias, out_channels))


@requires_torch
def test_conv3d_and_its_transpose_match_torch():
    kwargs = dict(stride=(2, 1, 2), padding=1, dilation=(1, 2, 1))
    compare_with_torch(_call(conv3d, kwargs), _call(torch.nn.functional.conv3d, kwargs),
                       _inputs((2, 2, 5, 6, 5), (3, 2, 3, 2, 2), True, 3))
    kwargs = dict(stride=2, padding=(1, 0, 1), output_padding=(1, 0, 0), groups=2)
    compare_with_torch(_call(conv_transpose3d, kwargs), _call(torch.nn.functional.conv_transpose3d, kwargs),
                       _inputs((1, 4, 3, 2, 3), (4, 1, 3, 2, 3), True, 2))


@requires_torch
@pytest.mark.parametrize("function, torch_name, weight_shape", [
    (conv1d, "conv1d", (3, 2, 3)), (conv2d, "conv2d", (3, 2, 2, 3)),
    (conv_transpose1d, "conv_transpose1d", (2, 3, 3)), (conv_transpose2d, "conv_transpose2d", (2, 3, 2, 3)),
])
def test_unbatched_input_matches_torch(function, torch_name, weight_shape):
    spatial = (6,) * (len(weight_shape) - 2)
    compare_with_torch(lambda x, w: function(x, w, stride=2), lambda x, w: getattr(torch.nn.functional, torch_name)(
        x, w, stride=2), random_inputs([(2,) + spatial, weight_shape]))


UNFOLD_CASES = {
    "plain": ((2, 3, 5, 6), dict(kernel_size=2)),
    "everything": ((2, 2, 7, 8), dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))),
    "unbatched": ((3, 5, 4), dict(kernel_size=3, padding=1)),
}


@requires_torch
@pytest.mark.parametrize("name", UNFOLD_CASES)
def test_unfold_matches_torch(name):
    shape, kwargs = UNFOLD_CASES[name]
    compare_with_torch(lambda x: unfold(x, **kwargs), lambda x: torch.nn.functional.unfold(x, **kwargs),
                       random_inputs([shape]))


@requires_torch
@pytest.mark.parametrize("name", UNFOLD_CASES)
def test_fold_matches_torch_and_inverts_unfold_counts(name):
    shape, kwargs = UNFOLD_CASES[name]
    columns_shape = tuple(torch.nn.functional.unfold(torch.zeros(shape), **kwargs).shape)
    size = shape[-2:]
    compare_with_torch(lambda c: fold(c, size, **kwargs), lambda c: torch.nn.functional.fold(c, size, **kwargs),
                       random_inputs([columns_shape]))


def test_fold_of_unfold_counts_the_windows_over_each_pixel():
    counts = fold(unfold(chainrule.ones(1, 1, 4, 4, dtype=chainrule.float64), 2), (4, 4), 2)
    numpy.testing.assert_array_equal(counts.data[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


@st.composite
def convolution_cases(draw, transposed=False):
    """Random sizes, strides, paddings, dilations and groups that make a valid 2-D (transposed) convolution."""
    groups = draw(st.integers(1, 3))
    in_channels, out_channels = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(2))
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    size = tuple(draw(st.integers(max(1, span - 2 * p), span + 6)) for span, p in zip(spans, padding))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if transposed:
        kwargs["output_padding"] = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        weight = (in_channels, out_channels // groups) + kernel
        # The transposed output must not vanish: (n - 1) s - 2p + d (k - 1) + op + 1 >= 1.
        size = tuple(max(n, -(-(2 * p - span + 1) // s) + 1) for n, p, span, s in zip(size, padding, spans, stride))
    else:
        weight = (out_channels, in_channels // groups) + kernel
    shape = (draw(st.integers(1, 2)), in_channels) + size
    return shape, weight, draw(st.booleans()), kwargs


@requires_torch
@settings(max_examples=40, deadline=None)
@given(case=convolution_cases(), seed=st.integers(0, 2 ** 16))
def test_conv2d_matches_torch_on_drawn_cases(case, seed):
    shape, weight_shape, bias, kwargs = case
    compare_with_torch(_call(conv2d, kwargs), _call(torch.nn.functional.conv2d, kwargs),
                       _inputs(shape, weight_shape, bias, weight_shape[0], seed))


@requires_torch
@settings(max_examples=40, deadline=None)
@given(case=convolution_cases(transposed=True), seed=st.integers(0, 2 ** 16))
def test_conv_transpose2d_matches_torch_on_drawn_cases(case, seed):
    shape, weight_shape, bias, kwargs = case
    compare_with_torch(_call(conv_transpose2d, kwargs), _call(torch.nn.functional.conv_transpose2d, kwargs),
                       _inputs(shape, weight_shape, bias, weight_shape[1] * kwargs["groups"], seed))


# ------------------------------------------------------------------ finite differences

GRADCHECK_CASES = {
    "conv1d": (lambda x, w, b: conv1d(x, w, b, stride=2, padding=1, dilation=2), [(2, 2, 7), (3, 2, 2), (3,)]),
    "conv2d_groups": (lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=(1, 0), groups=2),
                      [(1, 4, 4, 3), (2, 2, 2, 2), (2,)]),
    "conv2d_same": (lambda x, w: conv2d(x, w, padding="same", dilation=(1, 2)), [(1, 2, 3, 4), (2, 2, 2, 2)]),
    "conv_transpose2d": (lambda x, w, b: conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         [(1, 2, 2, 3), (2, 2, 3, 2), (2,)]),
    "conv_transpose1d_groups": (lambda x, w: conv_transpose1d(x, w, stride=3, groups=2, dilation=2),
                                [(2, 2, 3), (2, 2, 2)]),
    "unfold_fold": (lambda x: fold(unfold(x, 2, padding=1) ** 2, (3, 3), 2, padding=1), [(1, 2, 3, 3)]),
}


# gradgradcheck too: each backward (a transposed convolution and a weight
# convolution) is differentiated through the other two's rules.
SECOND_ORDER = {"conv2d_groups", "conv_transpose2d", "unfold_fold"}


@pytest.mark.parametrize("name", GRADCHECK_CASES)
def test_gradients_by_finite_differences(name):
    function, shapes = GRADCHECK_CASES[name]
    check_gradients(function, random_inputs(shapes, seed=2), second_order=name in SECOND_ORDER)


@requires_torch
def test_gradient_penalty_matches_torch():
    """d/dw of |d(sum conv(x, w)^2)/dx|^2: a second derivative through both the
    input's and the weight's gradient rules."""
    x_array, w_array = random_inputs([(2, 2, 5, 5), (3, 2, 3, 3)], seed=5)

    def penalty(framework, conv, x, w):
        (grad_x,) = framework.autograd.grad((conv(x, w, stride=2, padding=1) ** 2).sum(), x, create_graph=True)
        return (grad_x ** 2).sum()

    x, w = chainrule.tensor(x_array, requires_grad=True), chainrule.tensor(w_array, requires_grad=True)
    ours = penalty(chainrule, conv2d, x, w)
    ours.backward()
    tx, tw = torch.tensor(x_array, requires_grad=True), torch.tensor(w_array, requires_grad=True)
    theirs = penalty(torch, torch.nn.functional.conv2d, tx, tw)
    theirs.backward()
    numpy.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    numpy.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ dtypes and invariants

@pytest.mark.parametrize("function, weight_shape", [(conv2d, (3, 2, 3, 3)), (conv_transpose2d, (2, 3, 3, 3))])
def test_float32_stays_float32(function, weight_shape):
    x_array, w_array, b_array = random_inputs([(2, 2, 6, 6), weight_shape, (3,)], dtype=numpy.float32)
    x, w, b = (chainrule.tensor(a, requires_grad=True) for a in (x_array, w_array, b_array))
    out = function(x, w, b, stride=2, padding=1)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == numpy.float32


def test_inputs_are_not_modified_and_gradients_are_writable():
    x_array, w_array = random_inputs([(2, 2, 5, 5), (3, 2, 3, 3)])
    x, w = chainrule.tensor(x_array.copy(), requires_grad=True), chainrule.tensor(w_array.copy(), requires_grad=True)
    conv2d(x, w, padding=1).sum().backward()
    numpy.testing.assert_array_equal(x.data, x_array)
    numpy.testing.assert_array_equal(w.data, w_array)
    assert x.grad.data.flags.writeable and w.grad.data.flags.writeable


def test_an_in_place_change_after_the_forward_is_caught():
    x = chainrule.tensor(random_inputs([(1, 1, 4, 4)])[0], requires_grad=True)
    w = chainrule.tensor(random_inputs([(1, 1, 2, 2)])[0], requires_grad=True)
    hidden = x * 1.0
    out = conv2d(hidden, w)
    hidden.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()


def test_an_empty_batch_gives_an_empty_output_and_a_zero_weight_gradient():
    x, w = chainrule.zeros(0, 3, 5, 5, requires_grad=True), chainrule.ones(4, 3, 3, 3, requires_grad=True)
    out = conv2d(x, w, padding=1)
    assert out.shape == (0, 4, 5, 5)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 5, 5)
    numpy.testing.assert_array_equal(w.grad.data, numpy.zeros((4, 3, 3, 3)))
    assert unfold(x, 2).shape == (0, 12, 16) and fold(unfold(x, 2), 5, 2).shape == (0, 3, 5, 5)


def test_unfold_with_a_one_by_one_window_returns_its_own_writable_array():
    x = chainrule.randn(2, 3, 4, 4)
    columns = unfold(x, 1)
    assert columns.data.flags.writeable and not numpy.shares_memory(columns.data, x.data)


def test_no_grad_records_nothing():
    x, w = (chainrule.tensor(a, requires_grad=True) for a in random_inputs([(1, 2, 4, 4), (2, 2, 3, 3)]))
    with chainrule.no_grad():
        out = conv2d(x, w)
    assert out.grad_fn is None and not out.requires_grad


# ------------------------------------------------------------------ memory layout

@pytest.mark.parametrize("name", ["plain", "stride2_padding1", "groups", "depthwise"])
def test_outputs_and_gradients_are_batch_last_and_do_not_depend_on_the_input_layout(name):
    # Convolutions keep images as (C, *spatial, N) in memory; any input layout gives the same numbers.
    input_shape, weight_shape, bias, kwargs = CONV2D_CASES[name]
    arrays = _inputs(input_shape, weight_shape, bias, weight_shape[0])
    layouts = {"batch-first": arrays[0],
               "batch-last": numpy.moveaxis(numpy.ascontiguousarray(numpy.moveaxis(arrays[0], 0, -1)), -1, 0),
               "channel-major": numpy.ascontiguousarray(arrays[0].swapaxes(0, 1)).swapaxes(0, 1)}
    results = {}
    for layout, data in layouts.items():
        x, *rest = (chainrule.tensor(a, requires_grad=True) for a in [data] + arrays[1:])
        seen = []
        x.register_hook(seen.append)
        out = conv2d(x, *rest, **kwargs)
        (out * out).sum().backward()
        assert numpy.moveaxis(out.data, 0, -1).flags.c_contiguous
        assert numpy.moveaxis(seen[0].data, 0, -1).flags.c_contiguous or kwargs.get("padding")
        results[layout] = [out.data, x.grad.data] + [t.grad.data for t in rest]
    for layout in ("batch-last", "channel-major"):
        for ours, reference in zip(results[layout], results["batch-first"]):
            numpy.testing.assert_array_equal(ours, reference)


# ------------------------------------------------------------------ errors

def _tensors(*shapes):
    return [chainrule.zeros(*shape) for shape in shapes]


ERROR_CASES = {
    "wrong_channels": (lambda: conv2d(*_tensors((2, 4, 8, 8), (8, 3, 3, 3))),
                       r"conv2d: expected input of shape \(N, 3, H, W\).*got \(2, 4, 8, 8\)"),
    "wrong_rank": (lambda: conv2d(*_tensors((8, 8), (8, 3, 3, 3))),
                   r"conv2d: expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(8, 8\)"),
    "conv1d_given_images": (lambda: conv1d(*_tensors((2, 3, 8, 8), (4, 3, 3))),
                            r"conv1d: expected input of shape \(N, 3, L\) or \(3, L\), got \(2, 3, 8, 8\)"),
    "weight_rank": (lambda: conv2d(*_tensors((2, 3, 8, 8), (8, 3, 3))), r"conv2d: expected a 4-D weight"),
    "kernel_too_large": (lambda: conv2d(*_tensors((1, 3, 4, 8), (2, 3, 5, 3))),
                         r"conv2d: the kernel \(5, 3\).*spans 5 elements, more than the padded input's 4"
                         r".*\(1, 3, 4, 8\)"),
    "dilated_kernel_too_large": (lambda: conv1d(*_tensors((1, 1, 4), (1, 1, 3)), dilation=3, padding=1),
                                 r"conv1d: the kernel \(3,\) \(with dilation \(3,\)\) spans 7 elements, "
                                 r"more than the padded input's 6"),
    "channels_not_divisible_by_groups": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 1, 3, 3)), groups=2),
                                         r"conv2d: the input's 3 channels .* not divisible by groups=2"),
    "out_channels_not_divisible_by_groups": (lambda: conv2d(*_tensors((1, 4, 5, 5), (3, 2, 3, 3)), groups=2),
                                             r"conv2d: the weight's out_channels 3 .* not divisible by groups=2"),
    "bias_shape": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3), (3,))),
                   r"conv2d: expected bias of shape \(4,\), got \(3,\)"),
    "same_with_stride": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3)), stride=2, padding="same"),
                         r"conv2d: padding='same' needs stride 1"),
    "unknown_padding": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3)), padding="full"),
                        r"conv2d: padding must be 'valid', 'same'"),
    "negative_padding": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3)), padding=-1),
                         r"conv2d: padding must be at least 0"),
    "zero_stride": (lambda: conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3)), stride=(1, 0)),
                    r"conv2d: stride must be at least 1"),
    "transpose_channels": (lambda: conv_transpose2d(*_tensors((1, 3, 5, 5), (4, 2, 3, 3))),
                           r"conv_transpose2d: expected input of shape \(N, 4, H, W\).*got \(1, 3, 5, 5\)"),
    "transpose_output_padding": (lambda: conv_transpose2d(*_tensors((1, 4, 5, 5), (4, 2, 3, 3)), stride=2,
                                                          output_padding=2),
                                 r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride"),
    "transpose_empty_output": (lambda: conv_transpose1d(*_tensors((1, 4, 1), (4, 2, 1)), padding=1),
                               r"conv_transpose1d: the output would have spatial size \(-1,\)"),
    "fold_wrong_blocks": (lambda: fold(*_tensors((1, 12, 5)), (4, 4), 2),
                          r"fold: expected input of shape \(N, C \* 4, 9\).*got \(1, 12, 5\)"),
    "unfold_rank": (lambda: unfold(*_tensors((4, 4)), 2), r"unfold: expected input of shape"),
}


@pytest.mark.parametrize("name", ERROR_CASES)
def test_errors_name_the_op_and_the_shapes(name):
    call, message = ERROR_CASES[name]
    with pytest.raises(ValueError, match=message):
        call()


def test_non_integer_sizes_are_refused():
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints, got 1.5"):
        conv2d(*_tensors((1, 3, 5, 5), (4, 3, 3, 3)), stride=1.5)
