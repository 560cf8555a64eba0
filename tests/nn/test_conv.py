"""Convolution layers: outputs and gradients (input, weight, bias) against PyTorch
in float64 with PyTorch's weights copied in, padding modes, parameter names and
layouts, default initialisation, reprs, errors, and the two CNN workloads (W3, W4)."""
import math
import types

import numpy
import pytest

import chainrule
from chainrule.nn import Flatten, Linear, ReLU, Sequential, Unflatten
from chainrule.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from chainrule.nn.pooling import MaxPool2d
from chainrule.ops.conv import conv1d
from chainrule.ops.shape import pad
from chainrule.ops.softmax import log_softmax
from helpers import check_gradients, random_inputs, requires_torch, torch

# chainrule's layers under torch.nn's names: one builder describes a layer in both libraries.
OURS = types.SimpleNamespace(Conv1d=Conv1d, Conv2d=Conv2d, Conv3d=Conv3d, ConvTranspose1d=ConvTranspose1d,
                             ConvTranspose2d=ConvTranspose2d, ConvTranspose3d=ConvTranspose3d, MaxPool2d=MaxPool2d,
                             Flatten=Flatten, Linear=Linear, ReLU=ReLU, Sequential=Sequential, Unflatten=Unflatten)

# name -> (build(namespace), input shape)
LAYERS = {
    "conv1d": (lambda nn: nn.Conv1d(3, 4, 3), (2, 3, 9)),
    "conv1d_strided_padded": (lambda nn: nn.Conv1d(2, 6, 4, stride=2, padding=2, dilation=2, groups=2), (3, 2, 11)),
    "conv1d_same_no_bias": (lambda nn: nn.Conv1d(2, 3, 4, padding="same", bias=False), (2, 2, 7)),
    "conv2d": (lambda nn: nn.Conv2d(3, 4, 3), (2, 3, 7, 8)),
    "conv2d_everything": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                               groups=2), (2, 4, 9, 7)),
    "conv2d_depthwise": (lambda nn: nn.Conv2d(3, 6, 3, padding=1, groups=3), (2, 3, 6, 5)),
    "conv2d_same": (lambda nn: nn.Conv2d(2, 3, (3, 5), padding="same"), (1, 2, 6, 7)),
    "conv2d_valid_no_bias": (lambda nn: nn.Conv2d(2, 3, 2, padding="valid", bias=False), (1, 2, 5, 4)),
    "conv2d_unbatched": (lambda nn: nn.Conv2d(2, 3, 3, stride=2), (2, 7, 7)),
    "conv3d": (lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1), (2, 2, 4, 5, 4)),
    "conv1d_reflect": (lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), (2, 2, 5)),
    "conv1d_circular_same_unbatched": (lambda nn: nn.Conv1d(2, 3, 4, padding="same", padding_mode="circular"),
                                       (2, 6)),
    "conv2d_replicate_strided": (lambda nn: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(1, 2),
                                                      padding_mode="replicate"), (2, 2, 5, 4)),
    "conv2d_reflect_same_even_kernel": (lambda nn: nn.Conv2d(2, 3, (2, 4), padding="same", padding_mode="reflect",
                                                             bias=False), (1, 2, 5, 6)),
    "conv2d_circular_groups": (lambda nn: nn.Conv2d(4, 4, 3, padding=1, groups=2, padding_mode="circular"),
                               (2, 4, 4, 5)),
    "conv3d_reflect": (lambda nn: nn.Conv3d(2, 2, 2, padding=(1, 0, 1), padding_mode="reflect"), (1, 2, 3, 3, 4)),
    "conv3d_replicate_same": (lambda nn: nn.Conv3d(1, 2, (3, 2, 3), padding="same", padding_mode="replicate"),
                              (1, 1, 3, 4, 3)),
    "conv_transpose1d": (lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 6)),
    "conv_transpose2d": (lambda nn: nn.ConvTranspose2d(4, 2, (3, 2), stride=(2, 3), padding=(1, 0),
                                                       output_padding=(1, 2), groups=2, dilation=(1, 2)), (2, 4, 3, 4)),
    "conv_transpose2d_no_bias": (lambda nn: nn.ConvTranspose2d(2, 3, 3, bias=False), (1, 2, 4, 4)),
    "conv_transpose3d": (lambda nn: nn.ConvTranspose3d(2, 2, 2, stride=2), (1, 2, 2, 3, 2)),
}


def twin_layers(build):
    """The same layer in both libraries, in float64, holding PyTorch's weights (through state_dict, as NumPy)."""
    theirs = build(torch.nn).double()
    ours = build(OURS).double()
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


def assert_same_forward_and_backward(ours, theirs, x, loss):
    """Outputs, the input's gradient and every parameter's gradient agree; ``loss`` maps (framework, output)."""
    our_input, their_input = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(our_input), theirs(their_input)
    assert out.shape == tuple(expected.shape)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss(chainrule, out).backward()
    loss(torch, expected).backward()
    numpy.testing.assert_allclose(our_input.grad.data, their_input.grad.numpy(), rtol=1e-10, atol=1e-12)
    their_parameters = dict(theirs.named_parameters())
    assert dict(ours.named_parameters()).keys() == their_parameters.keys()
    for name, parameter in ours.named_parameters():
        numpy.testing.assert_allclose(parameter.grad.data, their_parameters[name].grad.numpy(), rtol=1e-10,
                                      atol=1e-12, err_msg=name)


def weighted_sum(shape, seed=1):
    cotangent = numpy.random.default_rng(seed).standard_normal(shape)
    return lambda framework, out: (out * framework.tensor(cotangent)).sum()


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # PyTorch's, about its speed
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_torch(name):
    build, shape = LAYERS[name]
    ours, theirs = twin_layers(build)
    with torch.no_grad():
        out_shape = tuple(theirs(torch.zeros(shape, dtype=torch.float64)).shape)
    assert_same_forward_and_backward(ours, theirs, random_inputs([shape])[0], weighted_sum(out_shape))


@requires_torch
@pytest.mark.parametrize("name", LAYERS)
def test_parameter_names_shapes_and_repr_match_torch(name):
    build, _ = LAYERS[name]
    ours, theirs = build(OURS), build(torch.nn)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert repr(ours) == repr(theirs)


@requires_torch
def test_conv_transpose_output_size_matches_torch():
    ours, theirs = twin_layers(lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1))
    x = random_inputs([(2, 3, 4, 5)])[0]
    for size in [(7, 9), (8, 10), (2, 2, 8, 9)]:
        out = ours(chainrule.tensor(x), output_size=size)
        expected = theirs(torch.tensor(x), output_size=size)
        numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose_output_size_out_of_reach():
    layer = ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 2, .*output_size \(9, 9\) is not reachable from "
                                         r"input size \(4, 4\): each dim must lie between \(7, 7\) and \(8, 8\)"):
        layer(chainrule.zeros(1, 3, 4, 4), output_size=(9, 9))


# ------------------------------------------------------------------ initialisation

@pytest.mark.parametrize("layer, fan_in", [
    (Conv2d(16, 32, 3), 16 * 9),
    (Conv2d(16, 32, (3, 5), groups=4), 4 * 15),
    (Conv1d(8, 4, 7), 8 * 7),
    (ConvTranspose2d(16, 32, 3, groups=2), 16 * 9),  # weight (16, 32 / 2, 3, 3): PyTorch's fan-in is 16 x 9
])
def test_default_init_is_uniform_on_one_over_sqrt_fan_in(layer, fan_in):
    # kaiming_uniform_(a=sqrt(5)): bound = sqrt(2 / (1 + 5)) * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
    bound = 1 / math.sqrt(fan_in)
    weight, bias = layer.weight.data, layer.bias.data
    assert numpy.abs(weight).max() <= bound and numpy.abs(bias).max() <= bound
    # Uniform on (-b, b) has standard deviation b / sqrt(3); thousands of draws land within a few percent.
    numpy.testing.assert_allclose(weight.std(), bound / math.sqrt(3), rtol=0.1)
    assert weight.dtype == bias.dtype == numpy.float32


def test_init_follows_the_seed_and_dtype():
    chainrule.manual_seed(3)
    first = Conv2d(2, 3, 3).weight.data.copy()
    chainrule.manual_seed(3)
    second = Conv2d(2, 3, 3, dtype=chainrule.float64)
    numpy.testing.assert_allclose(second.weight.data, first, rtol=1e-6)
    assert second.weight.dtype == numpy.float64


# ------------------------------------------------------------------ errors

LAYER_ERRORS = {
    "wrong_channels": (lambda: Conv2d(3, 8, 3)(chainrule.zeros(2, 4, 8, 8)),
                       r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\): expected input of shape "
                       r"\(N, 3, H, W\).*got \(2, 4, 8, 8\)"),
    "wrong_rank": (lambda: Conv1d(3, 8, 3)(chainrule.zeros(2, 3, 8, 8)),
                   r"Conv1d\(3, 8, .*\): expected input of shape \(N, 3, L\) or \(3, L\), got \(2, 3, 8, 8\)"),
    "kernel_too_large": (lambda: Conv2d(3, 8, 5, padding=1)(chainrule.zeros(1, 3, 2, 9)),
                         r"Conv2d\(3, 8, kernel_size=\(5, 5\).*\): the kernel \(5, 5\).*spans 5 elements, more than "
                         r"the padded input's 4: got input of shape \(1, 3, 2, 9\)"),
    "transpose_wrong_channels": (lambda: ConvTranspose1d(4, 2, 3)(chainrule.zeros(2, 3, 5)),
                                 r"ConvTranspose1d\(4, 2, .*\): expected input of shape \(N, 4, L\).*got \(2, 3, 5\)"),
    "reflect_wider_than_input": (lambda: Conv1d(2, 3, 3, padding=3, padding_mode="reflect")(chainrule.zeros(1, 2, 3)),
                                 r"Conv1d\(2, 3, .*padding_mode=reflect\): reflect padding \(3, 3\) must be smaller "
                                 r"than the size 3 of dim 2"),
    "kernel_too_large_circular": (lambda: Conv1d(2, 3, 5, padding=1, padding_mode="circular")(chainrule.zeros(2, 2)),
                                  r"Conv1d\(2, 3, .*\): the kernel \(5,\) .*more than the padded input's 4: got input "
                                  r"of shape \(1, 2, 2\) with padding \(1,\)"),
    "wrong_rank_replicate": (lambda: Conv2d(3, 8, 3, padding=1, padding_mode="replicate")(chainrule.zeros(3, 8)),
                             r"Conv2d\(3, 8, .*\): expected input of shape \(N, 3, H, W\) or \(3, H, W\), "
                             r"got \(3, 8\)"),
}


@pytest.mark.parametrize("name", LAYER_ERRORS)
def test_layer_errors_name_the_layer_and_the_shapes(name):
    call, message = LAYER_ERRORS[name]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("build, message", [
    (lambda: Conv2d(3, 8, 3, groups=2), r"Conv2d: in_channels=3 must be divisible by groups=2"),
    (lambda: ConvTranspose2d(4, 6, 3, groups=4), r"ConvTranspose2d: out_channels=6 must be divisible by groups=4"),
    (lambda: Conv2d(3, 8, 3, stride=2, padding="same"), r"Conv2d: padding='same' needs stride 1"),
    (lambda: Conv1d(3, 8, 3, padding="full"), r"Conv1d: padding must be 'same', 'valid', an int or a tuple"),
    (lambda: ConvTranspose2d(3, 8, 3, padding="same"), r"ConvTranspose2d: padding must be an int or a tuple"),
    (lambda: Conv2d(3, 8, 3, padding_mode="mirror"), r"Conv2d: padding_mode must be one of"),
    (lambda: ConvTranspose2d(3, 8, 3, padding_mode="reflect"),
     r"ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'"),
    (lambda: Conv2d(3, 8, (3, 3, 3)), r"Conv2d: kernel_size must be an int or a tuple of 2 ints"),
])
def test_bad_arguments_raise_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_to_second_order(mode):
    layer = Conv1d(2, 2, 3, padding=2, padding_mode=mode, dtype=chainrule.float64)
    x, weight = random_inputs([(1, 2, 3), (2, 2, 3)])
    check_gradients(lambda x, weight: conv1d(pad(x, (2, 2), mode=mode), weight, layer.bias), [x, weight])
    # The layer is that composition.
    layer.weight.data[...] = weight
    numpy.testing.assert_allclose(layer(chainrule.tensor(x)).data,
                                  conv1d(pad(chainrule.tensor(x), (2, 2), mode=mode), chainrule.tensor(weight),
                                         layer.bias).data, rtol=1e-12)


# ------------------------------------------------------------------ the CNN workloads

def mnist1d_cnn(nn):
    """W3: the MNIST-1D paper's CNN."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)),
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(125, 10))


def lenet(nn):
    """W4: LeNet-style CNN on 28 x 28 images."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def cross_entropy(labels):
    def loss(framework, logits):
        log_probabilities = (log_softmax if framework is chainrule else torch.log_softmax)(logits, 1)
        return -log_probabilities[numpy.arange(len(labels)), labels].mean()
    return loss


@requires_torch
@pytest.mark.parametrize("build, shape", [(mnist1d_cnn, (20, 40)), (lenet, (8, 1, 28, 28))], ids=["W3", "W4"])
def test_cnn_workload_forward_and_backward_match_torch(build, shape):
    ours, theirs = twin_layers(build)
    x = numpy.random.default_rng(0).standard_normal(shape)
    labels = numpy.random.default_rng(1).integers(0, 10, size=shape[0])
    assert_same_forward_and_backward(ours, theirs, x, cross_entropy(labels))


@requires_torch
def test_lenet_in_float32_matches_torch():
    theirs = lenet(torch.nn)
    ours = lenet(OURS)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    x = numpy.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(numpy.float32)
    labels = numpy.random.default_rng(1).integers(0, 10, size=4)
    loss = cross_entropy(labels)
    our_loss, their_loss = loss(chainrule, ours(chainrule.tensor(x))), loss(torch, theirs(torch.tensor(x)))
    our_loss.backward()
    their_loss.backward()
    assert our_loss.dtype == numpy.float32
    numpy.testing.assert_allclose(our_loss.item(), their_loss.item(), rtol=1e-5)
    their_parameters = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        assert parameter.grad.dtype == numpy.float32
        numpy.testing.assert_allclose(parameter.grad.data, their_parameters[name].grad.numpy(), rtol=1e-3,
                                      atol=1e-5, err_msg=name)
