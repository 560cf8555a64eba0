"""Pooling layers: outputs, indices and input gradients against PyTorch in float64,
reprs and stored arguments as PyTorch's, and the error a layer gives."""
import types

import numpy
import pytest

import chainrule
from chainrule.nn.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                                  AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)
from helpers import random_inputs, requires_torch, torch

OURS = types.SimpleNamespace(MaxPool1d=MaxPool1d, MaxPool2d=MaxPool2d, AvgPool1d=AvgPool1d, AvgPool2d=AvgPool2d,
                             AdaptiveAvgPool1d=AdaptiveAvgPool1d, AdaptiveAvgPool2d=AdaptiveAvgPool2d,
                             AdaptiveMaxPool1d=AdaptiveMaxPool1d, AdaptiveMaxPool2d=AdaptiveMaxPool2d)

# name -> (build(namespace), input shape)
LAYERS = {
    "max_pool1d": (lambda nn: nn.MaxPool1d(3), (2, 3, 10)),
    "max_pool1d_everything": (lambda nn: nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 3, 11)),
    "max_pool2d": (lambda nn: nn.MaxPool2d(2), (2, 3, 7, 8)),
    "max_pool2d_everything": (lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2),
                                                      ceil_mode=True), (2, 2, 9, 8)),
    "max_pool2d_unbatched": (lambda nn: nn.MaxPool2d(2, stride=1), (3, 5, 4)),
    "avg_pool1d": (lambda nn: nn.AvgPool1d(3, stride=2), (2, 3, 11)),
    "avg_pool1d_excluded_padding": (lambda nn: nn.AvgPool1d(4, 3, 2, ceil_mode=True, count_include_pad=False),
                                    (2, 3, 11)),
    "avg_pool2d": (lambda nn: nn.AvgPool2d(2), (2, 3, 8, 7)),
    "avg_pool2d_everything": (lambda nn: nn.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True,
                                                      count_include_pad=False), (1, 2, 8, 7)),
    "avg_pool2d_divisor_override": (lambda nn: nn.AvgPool2d(3, padding=1, divisor_override=2), (1, 2, 6, 6)),
    "adaptive_avg_pool1d": (lambda nn: nn.AdaptiveAvgPool1d(4), (2, 3, 10)),
    "adaptive_avg_pool2d": (lambda nn: nn.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
    "adaptive_avg_pool2d_global": (lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 7, 5)),
    "adaptive_max_pool1d": (lambda nn: nn.AdaptiveMaxPool1d(3), (2, 3, 8)),
    "adaptive_max_pool2d": (lambda nn: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 7, 8)),
}


@requires_torch
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name):
    build, shape = LAYERS[name]
    ours, theirs = build(OURS), build(torch.nn)
    x = random_inputs([shape])[0]
    our_input, their_input = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(our_input), theirs(their_input)
    assert out.shape == tuple(expected.shape)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    cotangent = numpy.random.default_rng(1).standard_normal(out.shape)
    (out * chainrule.tensor(cotangent)).sum().backward()
    (expected * torch.tensor(cotangent)).sum().backward()
    numpy.testing.assert_allclose(our_input.grad.data, their_input.grad.numpy(), rtol=1e-12, atol=1e-14)


@requires_torch
@pytest.mark.parametrize("name", LAYERS)
def test_repr_and_arguments_match_torch(name):
    build, _ = LAYERS[name]
    ours, theirs = build(OURS), build(torch.nn)
    assert repr(ours) == repr(theirs)
    for attribute in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
                      "divisor_override", "output_size", "return_indices"):
        if hasattr(theirs, attribute):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute


@requires_torch
@pytest.mark.parametrize("build, shape", [
    (lambda nn: nn.MaxPool2d(3, stride=2, padding=1, return_indices=True), (2, 3, 7, 8)),
    (lambda nn: nn.MaxPool1d(2, return_indices=True), (2, 3, 9)),
    (lambda nn: nn.AdaptiveMaxPool2d((3, 2), return_indices=True), (2, 3, 7, 8)),
    (lambda nn: nn.AdaptiveMaxPool1d(4, return_indices=True), (2, 3, 9)),
])
def test_return_indices_matches_torch(build, shape):
    x = numpy.random.default_rng(0).integers(-2, 2, size=shape).astype(numpy.float64)  # ties
    (values, indices), (expected_values, expected_indices) = build(OURS)(chainrule.tensor(x)), build(torch.nn)(
        torch.tensor(x))
    numpy.testing.assert_array_equal(values.data, expected_values.numpy())
    numpy.testing.assert_array_equal(indices.data, expected_indices.numpy())


@pytest.mark.parametrize("layer, input_shape, message", [
    (MaxPool2d(2), (2, 8), r"MaxPool2d\(kernel_size=2, stride=2, .*\): expected input of shape \(N, C, H, W\) or "
                           r"\(C, H, W\), got \(2, 8\)"),
    (AvgPool1d(5), (1, 2, 3), r"AvgPool1d\(kernel_size=\(5,\), .*\): the kernel \(5,\).*spans 5 elements, more "
                              r"than the padded input's 3: got input of shape \(1, 2, 3\)"),
    (MaxPool1d(2, padding=2), (1, 2, 8), r"MaxPool1d\(.*\): padding \(2,\) must be at most half the kernel"),
    (AdaptiveAvgPool2d(0), (1, 2, 4, 4), r"AdaptiveAvgPool2d\(output_size=0\): output_size must be at least 1"),
])
def test_layer_errors_name_the_layer(layer, input_shape, message):
    with pytest.raises(ValueError, match=message):
        layer(chainrule.zeros(*input_shape))
