"""Configs: defaults fill what a file omits, and every mistake is named with its file and key."""
import pathlib
import sys

import pytest

from chainrule.train.config import DEFAULT_CONFIG_TOML, ConfigError, load_config, loads_config

MINIMAL = '[data]\nname = "mnist1d"\n\n[model]\nname = "mlp"\n'


def write(tmp_path, text, name="experiment.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_gives_the_default_recipe():
    config = load_config()
    assert (config.data.name, config.model.name, config.model.options) == ("mnist1d", "cnn1d", {"channels": 128,
                                                                           "first_kernel_size": 5, "kernel_size": 3})
    assert config.optimizer.name == "adamw" and config.optimizer.options["lr"] == 0.01
    assert config.optimizer.options["weight_decay"] == 0.05 and config.optimizer.options["betas"] == [0.9, 0.999]
    assert (config.schedule.name, config.schedule.interval) == ("cosine", "batch")
    assert (config.train.epochs, config.train.batch_size, config.train.seed) == (100, 100, 0)
    assert config.name == "default" and config.source == "the default config"
    assert load_config().to_dict() == loads_config(DEFAULT_CONFIG_TOML, require_names=False).to_dict()


def test_defaults_fill_what_a_file_omits(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.name == "experiment" and config.source.endswith("experiment.toml")
    assert config.data.validation_fraction == 0.1
    assert config.model.options == {"hidden": [100, 100]}
    assert config.loss.label_smoothing == 0.0
    assert config.optimizer.name == "adam"
    assert config.optimizer.options == {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.0,
                                        "amsgrad": False}
    assert config.schedule.name == "none" and config.schedule.options == {}
    assert (config.train.epochs, config.train.batch_size, config.train.clip_grad_norm) == (20, 100, 0.0)


def test_a_full_config_is_read_and_written_back_unchanged(tmp_path):
    text = MINIMAL + (
        'hidden = [64, 32]\n\n[loss]\nlabel_smoothing = 0.1\n\n'
        '[optimizer]\nname = "sgd"\nlr = 1\nmomentum = 0.9\nnesterov = true\n\n'
        '[schedule]\nname = "step"\nstep_size = 10\ngamma = 0.5\n\n'
        '[train]\nepochs = 3\nbatch_size = 32\nseed = 7\nclip_grad_norm = 1.0\ncheckpoint_every = 50\n'
        'early_stopping_patience = 4\n')
    config = load_config(write(tmp_path, text))
    assert config.model.options == {"hidden": [64, 32]}
    assert config.optimizer.options["lr"] == 1.0 and isinstance(config.optimizer.options["lr"], float)
    assert config.optimizer.options["nesterov"] is True
    assert config.schedule.options == {"step_size": 10, "gamma": 0.5, "interval": "epoch", "warmup": 0}
    assert (config.train.seed, config.train.checkpoint_every, config.train.early_stopping_patience) == (7, 50, 4)
    again = loads_config(config.to_toml())
    assert again.to_dict() == config.to_dict()


def test_onecycle_and_cyclic_step_per_batch_and_plateau_per_epoch():
    onecycle = loads_config(MINIMAL + '[schedule]\nname = "onecycle"\nmax_lr = 0.1\n')
    assert onecycle.schedule.interval == "batch" and onecycle.schedule.options["max_lr"] == 0.1
    assert loads_config(MINIMAL + '[schedule]\nname = "cyclic"\nmax_lr = 0.1\n').schedule.interval == "batch"
    assert loads_config(MINIMAL + '[schedule]\nname = "plateau"\n').schedule.interval == "epoch"


# Schedules with their defaults and with every option given, and the options each config then holds.
SCHEDULE_CONFIGS = [
    ('name = "constant"', {"factor": 1 / 3, "total_iters": 5, "interval": "epoch", "warmup": 0}),
    ('name = "constant"\nfactor = 0.1\ntotal_iters = 3\ninterval = "batch"\nwarmup = 2',
     {"factor": 0.1, "total_iters": 3, "interval": "batch", "warmup": 2}),
    ('name = "linear"\nstart_factor = 1\nend_factor = 0.0\ntotal_iters = 8',
     {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 8, "interval": "epoch", "warmup": 0}),
    ('name = "polynomial"\npower = 0.5\ninterval = "batch"', {"power": 0.5, "interval": "batch", "warmup": 0}),
    ('name = "cosine_restarts"\nT_0 = 10', {"T_0": 10, "T_mult": 1, "eta_min": 0.0, "interval": "epoch", "warmup": 0}),
    ('name = "cosine_restarts"\nT_0 = 10\nT_mult = 2\neta_min = 1e-5\nwarmup = 3',
     {"T_0": 10, "T_mult": 2, "eta_min": 1e-5, "interval": "epoch", "warmup": 3}),
    ('name = "cyclic"\nmax_lr = 0.1', {"base_lr": None, "max_lr": 0.1, "step_size_up": 2000, "step_size_down": None,
                                      "mode": "triangular", "gamma": 1.0, "cycle_momentum": None,
                                      "base_momentum": 0.8, "max_momentum": 0.9}),
    ('name = "cyclic"\nbase_lr = 0.001\nmax_lr = 0.1\nstep_size_up = 50\nstep_size_down = 150\n'
     'mode = "exp_range"\ngamma = 0.99\ncycle_momentum = false\nbase_momentum = 0.85\nmax_momentum = 0.95',
     {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 50, "step_size_down": 150, "mode": "exp_range",
      "gamma": 0.99, "cycle_momentum": False, "base_momentum": 0.85, "max_momentum": 0.95}),
    ('name = "cosine"\ninterval = "batch"\nwarmup = 100', {"eta_min": 0.0, "interval": "batch", "warmup": 100}),
]


@pytest.mark.parametrize("schedule, options", SCHEDULE_CONFIGS)
def test_each_schedule_is_filled_in_and_written_back_unchanged(schedule, options):
    config = loads_config(MINIMAL + "[schedule]\n" + schedule + "\n")
    assert config.schedule.options == options
    assert loads_config(config.to_toml()) == config


# (what is written, the words the message must contain)
MISTAKES = [
    ('[dataa]\nname = "x"\n', ["unknown section [dataa]", "did you mean 'data'"]),
    ("[train]\nepoch = 5\n", ["[train] unknown key 'epoch'", "did you mean 'epochs'"]),
    ("[optimizer]\nname = \"adam\"\nlrr = 0.1\n", ["[optimizer] unknown key 'lrr' for optimizer 'adam'",
                                                   "did you mean 'lr'"]),
    ("[optimizer]\nname = \"adam\"\nmomentum = 0.9\n", ["unknown key 'momentum' for optimizer 'adam'"]),
    ("[model]\nname = \"mlp\"\nhiden = [3]\n", ["[model] unknown key 'hiden' for model 'mlp'"]),
    ("[schedule]\nname = \"cosine\"\nT_max = 5\n", ["[schedule] unknown key 'T_max' for schedule 'cosine'"]),
    ('[train]\nepochs = "10"\n', ["[train] epochs must be an integer, got '10' (a string)"]),
    ("[train]\nepochs = true\n", ["[train] epochs must be an integer, got True (a boolean)"]),
    ("[train]\nepochs = 2.5\n", ["[train] epochs must be an integer, got 2.5"]),
    ("[train]\nepochs = 0\n", ["[train] epochs must be >= 1, got 0"]),
    ("[data]\nname = \"mnist1d\"\nvalidation_fraction = 1.0\n", ["validation_fraction must be in [0, 1)"]),
    ("[optimizer]\nlr = \"fast\"\n", ["[optimizer] lr must be a number, got 'fast'"]),
    ("[optimizer]\nlr = 0\n", ["[optimizer] lr must be > 0, got 0.0"]),
    ("[optimizer]\nbetas = [0.9]\n", ["[optimizer] betas must be a pair of numbers"]),
    ("[optimizer]\nname = \"lion\"\n", ["[optimizer] unknown name 'lion'", "sgd, adam, adamw"]),
    ("[model]\nname = \"mlp\"\nhidden = [1.5]\n", ["[model] hidden must be a list of integers"]),
    ("[model]\nname = \"cnn\"\n", ["[model] name: unknown model 'cnn'"]),
    ("[schedule]\nname = \"step\"\n", ["[schedule] missing required key 'step_size' for schedule 'step'"]),
    ("[schedule]\nname = \"cosine\"\ninterval = \"step\"\n", ["[schedule] interval must be one of 'epoch', 'batch'"]),
    ("[schedule]\nname = \"step\"\nstep_size = 0\n", ["[schedule] step_size must be >= 1, got 0"]),
    ("[schedule]\nname = \"constant\"\nfactor = 0\n", ["[schedule] factor must be in (0, 1], got 0.0"]),
    ("[schedule]\nname = \"linear\"\nend_factor = 1.5\n", ["[schedule] end_factor must be in [0, 1], got 1.5"]),
    ("[schedule]\nname = \"linear\"\ntotal_iters = 0\n", ["[schedule] total_iters must be >= 1, got 0"]),
    ("[schedule]\nname = \"polynomial\"\npower = -1\n", ["[schedule] power must be > 0, got -1.0"]),
    ("[schedule]\nname = \"polynomial\"\ntotal_iters = 10\n",
     ["[schedule] unknown key 'total_iters' for schedule 'polynomial'"]),
    ("[schedule]\nname = \"cosine_restarts\"\n",
     ["[schedule] missing required key 'T_0' for schedule 'cosine_restarts'"]),
    ("[schedule]\nname = \"cosine_restarts\"\nT_0 = 5\nT_mult = 1.5\n",
     ["[schedule] T_mult must be an integer, got 1.5"]),
    ("[schedule]\nname = \"cosine_restarts\"\nT_0 = 5\neta_min = -0.1\n", ["[schedule] eta_min must be >= 0"]),
    ("[schedule]\nname = \"cyclic\"\n", ["[schedule] missing required key 'max_lr' for schedule 'cyclic'"]),
    ("[schedule]\nname = \"cyclic\"\nmax_lr = 0.1\nmode = \"triangle\"\n",
     ["[schedule] mode must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle'"]),
    ("[schedule]\nname = \"cyclic\"\nmax_lr = 0.1\nstep_size_down = 0\n", ["[schedule] step_size_down must be >= 1"]),
    ("[schedule]\nname = \"cyclic\"\nmax_lr = 0.1\nmax_momentum = 1\n", ["[schedule] max_momentum must be in [0, 1)"]),
    ("[schedule]\nname = \"cyclic\"\nmax_lr = 0.1\ncycle_momentum = \"auto\"\n",
     ["[schedule] cycle_momentum must be true or false, got 'auto'"]),
    ("[schedule]\nname = \"cyclic\"\nmax_lr = 0.1\ninterval = \"epoch\"\n",
     ["[schedule] unknown key 'interval' for schedule 'cyclic'"]),
    ("[schedule]\nname = \"cosine\"\nwarmup = -1\n", ["[schedule] warmup must be >= 0, got -1"]),
    ("[schedule]\nname = \"plateau\"\nwarmup = 5\n", ["[schedule] unknown key 'warmup' for schedule 'plateau'"]),
    ("[loss]\nname = \"mse\"\n", ["[loss] name must be one of 'cross_entropy'"]),
    ("train = 5\n", ["'train' must be a section ([train])"]),
    ("[train\nepochs = 5\n", ["not valid TOML"]),
]


@pytest.mark.parametrize("text, words", MISTAKES)
def test_each_mistake_names_the_file_and_the_key(tmp_path, text, words):
    # Complete the file's data and model so that only the mistake itself is wrong.
    if "[data" not in text:
        text += '\n[data]\nname = "mnist1d"\n'
    if "[model]" not in text and not text.startswith("[dataa]"):
        text += '\n[model]\nname = "mlp"\n'
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message


def test_a_file_must_name_its_data_and_model(tmp_path):
    with pytest.raises(ConfigError, match=r"\[data\] missing required key 'name'"):
        load_config(write(tmp_path, "[train]\nepochs = 3\n"))
    with pytest.raises(ConfigError, match=r"experiment.toml: \[model\] missing required key 'name'"):
        load_config(write(tmp_path, '[data]\nname = "digits"\n[model]\nhidden = [3]\n'))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere.toml: no such config file"):
        load_config(tmp_path / "nowhere.toml")


def test_command_line_overrides_are_checked_like_the_file():
    config = load_config()
    changed = config.with_overrides("--epochs", epochs=3, seed=None)
    assert changed.train.epochs == 3 and changed.train.seed == 0 and config.train.epochs == 100
    with pytest.raises(ConfigError, match=r"^--epochs: \[train\] epochs must be >= 1, got 0"):
        config.with_overrides("--epochs", epochs=0)


def test_a_users_model_is_checked_against_its_signature(tmp_path, monkeypatch):
    (tmp_path / "config_test_models.py").write_text(
        "from chainrule import nn\n"
        "def wide(input_shape, num_classes, width=8, depth=2):\n"
        "    return nn.Linear(input_shape[0], num_classes)\n"
        "def needs(input_shape, num_classes, width):\n"
        "    return nn.Linear(input_shape[0], num_classes)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "config_test_models", raising=False)
    head = '[data]\nname = "mnist1d"\n[model]\nname = '
    config = loads_config(head + '"config_test_models:wide"\nwidth = 16\n')
    assert config.model.options == {"width": 16, "depth": 2}
    with pytest.raises(ConfigError, match=r"\[model\] unknown key 'height' for model 'config_test_models:wide'"):
        loads_config(head + '"config_test_models:wide"\nheight = 16\n')
    with pytest.raises(ConfigError, match=r"\[model\] width must be an integer"):
        loads_config(head + '"config_test_models:wide"\nwidth = "wide"\n')
    with pytest.raises(ConfigError, match=r"\[model\] missing required key 'width'"):
        loads_config(head + '"config_test_models:needs"\n')


CONFIGS = sorted((pathlib.Path(__file__).parents[2] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.name == path.stem and loads_config(config.to_toml()).to_dict() == config.to_dict()


def test_the_shipped_default_is_the_built_in_one():
    shipped = pathlib.Path(__file__).parents[2] / "configs" / "mnist1d_default.toml"
    assert load_config(shipped).to_dict() == load_config().to_dict()


def test_the_paper_configs_follow_its_protocol():
    for model in ("logistic", "mlp", "cnn", "gru"):
        config = load_config(pathlib.Path(__file__).parents[2] / "configs" / f"mnist1d_{model}.toml")
        assert (config.optimizer.name, config.optimizer.options["lr"]) == ("adam", 0.01)
        assert (config.train.batch_size, config.train.epochs, config.data.validation_fraction) == (100, 150, 0.0)
