"""The model registry: every builder gives (B, classes) logits for its inputs, with the paper's sizes."""
import sys

import numpy
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.models import MODELS, build_model, builder_options, get_builder

# name, input shape, sizes, parameter count (the MNIST-1D paper's for its four models)
CASES = [
    ("logistic", (40,), {}, 410),
    ("mlp", (40,), {}, 15_210),
    ("cnn1d", (40,), {}, 5_210),
    ("gru", (40,), {}, 5_134),
    ("lenet", (28, 28), {}, 225_034),
    ("lenet", (8, 8), {"padding": 1}, None),
    ("resnet-small", (8, 8), {}, None),
    ("resnet-small", (3, 12, 12), {"channels": [8, 16]}, None),
    ("mlp", (8, 8), {"hidden": [16]}, 8 * 8 * 16 + 16 + 16 * 10 + 10),
]


@pytest.mark.parametrize("name, input_shape, sizes, parameters", CASES)
def test_each_model_gives_logits_and_gradients(name, input_shape, sizes, parameters):
    cr.manual_seed(0)
    model = build_model(name, input_shape, 10, **sizes)
    inputs = cr.randn(3, *input_shape)
    logits = model(inputs)
    assert logits.shape == (3, 10) and numpy.isfinite(logits.data).all()
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    if parameters is not None:
        assert sum(p.numel() for p in model.parameters()) == parameters


def test_registry_lists_the_documented_models():
    assert set(MODELS) == {"logistic", "mlp", "cnn1d", "gru", "lenet", "resnet-small"}


def test_cnn1d_has_the_papers_layers():
    model = build_model("cnn1d", (40,), 10)
    convolutions = [m for m in model.modules() if type(m).__name__ == "Conv1d"]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convolutions] == [
        (1, 25, (5,), (2,), (1,)), (25, 25, (3,), (2,), (1,)), (25, 25, (3,), (2,), (1,))]
    assert model[-1].in_features == 125
    assert build_model("cnn1d", (40,), 10, channels=8)[-1].in_features == 40


def test_gru_flattens_every_step_of_both_directions():
    model = build_model("gru", (40,), 10)
    assert model.gru.bidirectional and model.gru.hidden_size == 6 and model.classifier.in_features == 480
    assert build_model("gru", (20,), 10, bidirectional=False).classifier.in_features == 120


def test_lenet_adapts_its_flattened_size_and_refuses_inputs_too_small():
    assert build_model("lenet", (28, 28), 10)[-3].in_features == 1600
    assert build_model("lenet", (32, 32), 10)[-3].in_features == 64 * 6 * 6
    with pytest.raises(ValueError, match=r"lenet: inputs of \(8, 8\) shrink to nothing.*padding=1"):
        build_model("lenet", (8, 8), 10)


def test_resnet_small_uses_residual_blocks_and_global_pooling():
    model = build_model("resnet-small", (28, 28), 10)
    kinds = {type(m).__name__ for m in model.modules()}
    assert {"ResidualBlock", "BatchNorm2d", "AdaptiveAvgPool2d"} <= kinds
    model.eval()
    assert model(cr.randn(2, 28, 28)).shape == (2, 10)


def test_wrong_input_rank_is_named():
    with pytest.raises(ValueError, match=r"cnn1d: expects 1-D signals of shape \(L,\), got samples of shape \(8, 8\)"):
        build_model("cnn1d", (8, 8), 10)
    with pytest.raises(ValueError, match=r"lenet: expects images"):
        build_model("lenet", (40,), 10)


def test_a_users_builder_is_imported_by_module_and_function(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "from chainrule import nn\n"
        "def tiny(input_shape, num_classes, width=4):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], width), nn.ReLU(),\n"
        "                         nn.Linear(width, num_classes))\n"
        "def not_a_module(input_shape, num_classes):\n"
        "    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_models", raising=False)
    model = build_model("my_models:tiny", (40,), 3, width=5)
    assert model(cr.randn(2, 40)).shape == (2, 3) and model[1].out_features == 5
    assert builder_options("my_models:tiny") == ({"width": 4}, False)
    with pytest.raises(TypeError, match="my_models:not_a_module.*returned 'int', not an nn.Module"):
        build_model("my_models:not_a_module", (40,), 3)
    with pytest.raises(ValueError, match="module 'my_models' has no function 'missing'"):
        get_builder("my_models:missing")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_here'"):
        get_builder("no_such_module_here:f")


def test_unknown_names_list_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown model 'cnn'; choose one of \['cnn1d', 'gru'"):
        get_builder("cnn")


def test_builder_options_report_sizes_and_defaults():
    assert builder_options("mlp") == ({"hidden": (100, 100)}, False)
    assert builder_options("logistic") == ({}, False)
    assert isinstance(build_model("logistic", (40,), 10), nn.Module)
