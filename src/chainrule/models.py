"""Model builders by name, for configs and the command line.

A builder is a function ``builder(input_shape, num_classes, **sizes)`` that
returns an ``nn.Module`` mapping a batch of shape ``(B, *input_shape)`` to
logits of shape ``(B, num_classes)``. ``input_shape`` is one sample's shape
as the dataset stores it: ``(40,)`` for MNIST-1D, ``(8, 8)`` for digits,
``(28, 28)`` for MNIST. The registered names:

``logistic``      one Linear layer (multinomial logistic regression)
``mlp``           Linear + ReLU layers of the given ``hidden`` sizes
``cnn1d``         the MNIST-1D paper's CNN: three strided Conv1d + ReLU, Linear
``gru``           the MNIST-1D paper's GRU: a bidirectional GRU over the signal, Linear
``lenet``         two Conv2d + ReLU + MaxPool2d, then two Linear layers
``resnet-small``  Conv2d + BatchNorm2d + ReLU residual blocks, global average pooling, Linear

Any other name of the form ``package.module:function`` imports that function
and calls it with the same arguments, so a config can train a model of your
own. Importing runs that module's code: name only code you trust.

Example
-------
>>> model = build_model("mlp", input_shape=(40,), num_classes=10, hidden=[64, 64])
>>> model(chainrule.randn(8, 40)).shape
(8, 10)
"""
import importlib
import inspect
import math

from . import nn
from .nn.conv import Conv1d, Conv2d
from .nn.normalization import BatchNorm2d
from .nn.pooling import AdaptiveAvgPool2d, MaxPool2d
from .nn.rnn import GRU

MODELS = {}


def register(name):
    """Add the decorated builder to ``MODELS`` under ``name``."""
    def decorate(builder):
        MODELS[name] = builder
        return builder
    return decorate


def get_builder(name):
    """The builder registered as ``name``, or imported from ``"module:function"``.

    Raises
    ------
    ValueError
        If ``name`` is neither registered nor of the form ``module:function``,
        or the module or function cannot be found; the message says which.
    """
    if name in MODELS:
        return MODELS[name]
    if ":" not in name:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)} "
                         f"or name your own builder as 'package.module:function'")
    module_name, _, function_name = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"model {name!r}: cannot import module {module_name!r} ({error})") from None
    builder = getattr(module, function_name, None)
    if not callable(builder):
        raise ValueError(f"model {name!r}: module {module_name!r} has no function {function_name!r}")
    return builder


def builder_options(name):
    """The size arguments a builder takes, with their defaults.

    Returns
    -------
    (options, takes_any) : dict of argument name to default (``inspect.Parameter.empty``
        when it has none), and whether the builder also accepts ``**kwargs``.
    """
    options, takes_any = {}, False
    for parameter in inspect.signature(get_builder(name)).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            takes_any = True
        elif parameter.name not in ("input_shape", "num_classes") and parameter.kind is not parameter.VAR_POSITIONAL:
            options[parameter.name] = parameter.default
    return options, takes_any


def build_model(name, input_shape, num_classes, **sizes):
    """Build the model ``name`` for samples of ``input_shape`` and ``num_classes`` classes.

    Parameters
    ----------
    name : a registered name or ``"module:function"``
    input_shape : tuple of int, one sample's shape (no batch dim)
    num_classes : int
    **sizes : the builder's own arguments (``hidden``, ``channels`` …)

    Example
    -------
    >>> build_model("cnn1d", (40,), 10, channels=32)
    """
    model = get_builder(name)(input_shape=tuple(input_shape), num_classes=num_classes, **sizes)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model {name!r}: the builder returned {type(model).__name__!r}, not an nn.Module")
    return model


def _conv_length(length, kernel_size, stride=1, padding=0):
    return (length + 2 * padding - kernel_size) // stride + 1


def _image_layout(name, input_shape):
    """(channels, height, width) of image samples stored as (H, W) or (C, H, W)."""
    if len(input_shape) == 2:
        return (1, *input_shape)
    if len(input_shape) == 3:
        return tuple(input_shape)
    raise ValueError(f"{name}: expects images of shape (H, W) or (C, H, W), got samples of shape {input_shape}")


def _as_images(input_shape):
    """A layer giving (B, H, W) samples their channel dim; nothing to do for (B, C, H, W)."""
    return nn.Unflatten(1, (1, input_shape[0])) if len(input_shape) == 2 else nn.Identity()


def _signal_length(name, input_shape):
    if len(input_shape) != 1:
        raise ValueError(f"{name}: expects 1-D signals of shape (L,), got samples of shape {input_shape}")
    return input_shape[0]


@register("logistic")
def logistic(input_shape, num_classes):
    """One Linear layer on the flattened input."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


@register("mlp")
def mlp(input_shape, num_classes, hidden=(100, 100)):
    """Linear + ReLU for each width in ``hidden``, then a Linear layer to the classes."""
    layers, width = [nn.Flatten()], math.prod(input_shape)
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


@register("cnn1d")
def cnn1d(input_shape, num_classes, channels=25, first_kernel_size=5, kernel_size=3):
    """The MNIST-1D paper's CNN: three stride-2 Conv1d + ReLU, flatten, Linear.

    With the defaults and signals of length 40: Conv1d(1, 25, 5, 2, 1) →
    (25, 19), Conv1d(25, 25, 3, 2, 1) → (25, 10), Conv1d(25, 25, 3, 2, 1) →
    (25, 5), flattened to 125 features.
    """
    length = _signal_length("cnn1d", input_shape)
    layers = [nn.Unflatten(1, (1, length))]
    in_channels = 1
    for kernel in (first_kernel_size, kernel_size, kernel_size):
        layers += [Conv1d(in_channels, channels, kernel, stride=2, padding=1), nn.ReLU()]
        length = _conv_length(length, kernel, stride=2, padding=1)
        in_channels = channels
    if length < 1:
        raise ValueError(f"cnn1d: signals of length {input_shape[0]} are too short for three stride-2 convolutions")
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * length, num_classes))


class GRUClassifier(nn.Module):
    """A GRU over the signal's steps, every step's outputs flattened into a Linear layer."""

    def __init__(self, length, num_classes, hidden_size, bidirectional):
        super().__init__()
        self.length = length
        self.gru = GRU(1, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.classifier = nn.Linear(length * hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, signals):
        outputs, _ = self.gru(signals.unflatten(1, (self.length, 1)))
        return self.classifier(outputs.flatten(1))


@register("gru")
def gru(input_shape, num_classes, hidden_size=6, bidirectional=True):
    """The MNIST-1D paper's GRU: (B, 40) read as 40 steps of one feature by a
    bidirectional GRU of 6 units, all 40 × 12 outputs flattened into Linear(480, 10)."""
    return GRUClassifier(_signal_length("gru", input_shape), num_classes, hidden_size, bidirectional)


@register("lenet")
def lenet(input_shape, num_classes, channels=(32, 64), hidden=128, padding=0):
    """Conv2d(C, 32, 3) ReLU MaxPool2d(2) Conv2d(32, 64, 3) ReLU MaxPool2d(2), Flatten,
    Linear(·, 128) ReLU Linear(128, classes); 1600 features for 28 × 28 inputs.

    ``padding=1`` keeps each convolution's size, for inputs as small as 8 × 8.
    """
    in_channels, height, width = _image_layout("lenet", input_shape)
    layers = [_as_images(input_shape)]
    for out_channels in channels:
        layers += [Conv2d(in_channels, out_channels, 3, padding=padding), nn.ReLU(), MaxPool2d(2)]
        height, width = _conv_length(height, 3, 1, padding) // 2, _conv_length(width, 3, 1, padding) // 2
        in_channels = out_channels
    if height < 1 or width < 1:
        raise ValueError(f"lenet: inputs of {input_shape} shrink to nothing after {len(channels)} conv+pool "
                         f"stages; pass padding=1 or fewer channels entries")
    features = in_channels * height * width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


class ResidualBlock(nn.Module):
    """Two 3 × 3 Conv2d + BatchNorm2d with a skip connection, ReLU after the sum.

    The skip is a 1 × 1 convolution (and batch norm) when the block changes
    the channel count or the resolution, the identity otherwise.
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      BatchNorm2d(out_channels))
        else:
            self.skip = nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.skip(x))


@register("resnet-small")
def resnet_small(input_shape, num_classes, channels=(16, 32, 64), blocks_per_stage=1):
    """A stem Conv2d + BatchNorm2d + ReLU, then one stage of ``blocks_per_stage``
    residual blocks per entry of ``channels`` (each stage after the first
    halving the resolution), global average pooling and a Linear layer."""
    in_channels, _, _ = _image_layout("resnet-small", input_shape)
    layers = [_as_images(input_shape), Conv2d(in_channels, channels[0], 3, padding=1, bias=False),
              BatchNorm2d(channels[0]), nn.ReLU()]
    width = channels[0]
    for stage, out_channels in enumerate(channels):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(ResidualBlock(width, out_channels, stride))
            width = out_channels
    return nn.Sequential(*layers, AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
