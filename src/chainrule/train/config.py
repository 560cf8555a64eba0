"""Training configs: a TOML file read into a checked ``Config``.

A config has six sections, each optional except that a file must name its
data and its model::

    [data]       name ("mnist1d", "digits", "mnist", "fashion_mnist"), validation_fraction
    [model]      name (see ``chainrule.models``) and that builder's size arguments
    [loss]       name ("cross_entropy"), label_smoothing
    [optimizer]  name ("sgd", "adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adadelta",
                 "rprop", "asgd") and its options
    [schedule]   name ("none", "step", "multistep", "exponential", "constant", "linear", "cosine", "polynomial",
                 "cosine_restarts", "cyclic", "onecycle", "plateau") and its options
    [train]      epochs, batch_size, eval_batch_size, seed, clip_grad_norm, checkpoint_every,
                 early_stopping_patience

Omitted keys take their defaults. Every problem (an unknown section or key,
a value of the wrong type or out of range, a missing name) is found while
loading, before any training, and raised as ``ConfigError`` naming the file,
the section and the key. With no file at all, ``load_config()`` reads
``DEFAULT_CONFIG_TOML``: the MNIST-1D CNN with a recipe that reaches 95.5 %
test accuracy in about two minutes on two CPU cores.
"""
import dataclasses
import difflib
import inspect
import json
import math
import pathlib
import sys

from .. import optim
from ..models import builder_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """A config that cannot be trained: the message names the file, section and key."""


DEFAULT_CONFIG_TOML = """\
# The default recipe: the MNIST-1D paper's CNN, made wider (128 channels instead
# of 25), trained with AdamW and a cosine schedule stepped every batch.
[data]
name = "mnist1d"
validation_fraction = 0.1

[model]
name = "cnn1d"
channels = 128

[optimizer]
name = "adamw"
lr = 0.01
weight_decay = 0.05

[schedule]
name = "cosine"
interval = "batch"

[train]
epochs = 100
batch_size = 100
seed = 0
"""

DATASETS = ("mnist1d", "digits", "mnist", "fashion_mnist")
LOSSES = ("cross_entropy",)
INTERVALS = ("epoch", "batch")


# ---------------------------------------------------------------- value kinds

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return _is_int(value) or isinstance(value, float)


class Kind:
    """What a key accepts: a test, its description for messages, and a conversion."""

    def __init__(self, description, accepts, convert=lambda value: value):
        self.description, self.accepts, self.convert = description, accepts, convert


INT = Kind("an integer", _is_int)
NUMBER = Kind("a number", _is_number, float)
BOOL = Kind("true or false", lambda value: isinstance(value, bool))
STRING = Kind("a string", lambda value: isinstance(value, str))
INT_LIST = Kind("a list of integers", lambda value: isinstance(value, list) and all(_is_int(v) for v in value))
NUMBER_PAIR = Kind("a pair of numbers, like [0.9, 0.999]",
                   lambda value: isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value),
                   lambda value: [float(v) for v in value])
ANY = Kind("any value", lambda value: True)


def choice(*names):
    """A string that must be one of ``names``."""
    return Kind(f"one of {', '.join(repr(n) for n in names)}", lambda value: value in names)


def _kind_of_default(default):
    """The kind a builder argument accepts, judged by its default value."""
    if isinstance(default, bool):
        return BOOL
    if _is_int(default):
        return INT
    if isinstance(default, float):
        return NUMBER
    if isinstance(default, str):
        return STRING
    if isinstance(default, (list, tuple)) and all(_is_int(v) for v in default):
        return INT_LIST
    return ANY


# ---------------------------------------------------------------- the schemas

# Optimisers: name -> (class, key -> kind); the defaults are those of the class's signature.
_ADAM_OPTIONS = {"lr": NUMBER, "betas": NUMBER_PAIR, "eps": NUMBER, "weight_decay": NUMBER, "amsgrad": BOOL}
OPTIMIZERS = {
    "sgd": (optim.SGD, {"lr": NUMBER, "momentum": NUMBER, "dampening": NUMBER, "weight_decay": NUMBER,
                        "nesterov": BOOL}),
    "adam": (optim.Adam, _ADAM_OPTIONS),
    "adamw": (optim.AdamW, _ADAM_OPTIONS),
    "adamax": (optim.Adamax, {"lr": NUMBER, "betas": NUMBER_PAIR, "eps": NUMBER, "weight_decay": NUMBER}),
    "nadam": (optim.NAdam, {"lr": NUMBER, "betas": NUMBER_PAIR, "eps": NUMBER, "weight_decay": NUMBER,
                            "momentum_decay": NUMBER}),
    "radam": (optim.RAdam, {"lr": NUMBER, "betas": NUMBER_PAIR, "eps": NUMBER, "weight_decay": NUMBER,
                            "decoupled_weight_decay": BOOL}),
    "rmsprop": (optim.RMSprop, {"lr": NUMBER, "alpha": NUMBER, "eps": NUMBER, "weight_decay": NUMBER,
                                "momentum": NUMBER, "centered": BOOL}),
    "adagrad": (optim.Adagrad, {"lr": NUMBER, "lr_decay": NUMBER, "weight_decay": NUMBER,
                                "initial_accumulator_value": NUMBER, "eps": NUMBER}),
    "adadelta": (optim.Adadelta, {"lr": NUMBER, "rho": NUMBER, "eps": NUMBER, "weight_decay": NUMBER}),
    "rprop": (optim.Rprop, {"lr": NUMBER, "etas": NUMBER_PAIR, "step_sizes": NUMBER_PAIR}),
    "asgd": (optim.ASGD, {"lr": NUMBER, "lambd": NUMBER, "alpha": NUMBER, "t0": NUMBER, "weight_decay": NUMBER}),
}

_OPTIMIZER_RANGES = {"lr": (lambda v: v > 0, "> 0"), "weight_decay": (lambda v: v >= 0, ">= 0"),
                     "eps": (lambda v: v >= 0, ">= 0"), "momentum": (lambda v: v >= 0, ">= 0")}

# Schedules: name -> key -> (kind, default[, check of the value's range, what the check wants]),
# REQUIRED for a key without a default.
REQUIRED = object()
_POSITIVE = (lambda v: v > 0, "> 0")
_AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
_NOT_NEGATIVE = (lambda v: v >= 0, ">= 0")
_FACTOR = (lambda v: 0 < v <= 1, "in (0, 1]")
_MOMENTUM = (lambda v: 0 <= v < 1, "in [0, 1)")
# Every schedule stepped every `interval` may start with a linear warmup of `warmup` such steps.
_STEPPED = {"interval": (choice(*INTERVALS), "epoch"), "warmup": (INT, 0, *_NOT_NEGATIVE)}
SCHEDULES = {
    "none": {},
    "step": {"step_size": (INT, REQUIRED, *_AT_LEAST_1), "gamma": (NUMBER, 0.1, *_POSITIVE), **_STEPPED},
    "multistep": {"milestones": (INT_LIST, REQUIRED), "gamma": (NUMBER, 0.1, *_POSITIVE), **_STEPPED},
    "exponential": {"gamma": (NUMBER, REQUIRED, *_POSITIVE), **_STEPPED},
    "constant": {"factor": (NUMBER, 1 / 3, *_FACTOR), "total_iters": (INT, 5, *_AT_LEAST_1), **_STEPPED},
    "linear": {"start_factor": (NUMBER, 1 / 3, *_FACTOR),
               "end_factor": (NUMBER, 1.0, lambda v: 0 <= v <= 1, "in [0, 1]"),
               "total_iters": (INT, 5, *_AT_LEAST_1), **_STEPPED},
    # cosine's T_max and polynomial's total_iters are the whole run after the warmup: epochs, or
    # epochs × batches per epoch with interval "batch".
    "cosine": {"eta_min": (NUMBER, 0.0, *_NOT_NEGATIVE), **_STEPPED},
    "polynomial": {"power": (NUMBER, 1.0, *_POSITIVE), **_STEPPED},
    # T_0 counts epochs, or batches with interval "batch".
    "cosine_restarts": {"T_0": (INT, REQUIRED, *_AT_LEAST_1), "T_mult": (INT, 1, *_AT_LEAST_1),
                        "eta_min": (NUMBER, 0.0, *_NOT_NEGATIVE), **_STEPPED},
    # Stepped every batch; base_lr defaults to the optimiser's lr, and cycle_momentum to whether
    # the optimiser uses momentum (see cli.make_scheduler).
    "cyclic": {"base_lr": (NUMBER, None, *_POSITIVE), "max_lr": (NUMBER, REQUIRED, *_POSITIVE),
               "step_size_up": (INT, 2000, *_AT_LEAST_1), "step_size_down": (INT, None, *_AT_LEAST_1),
               "mode": (choice("triangular", "triangular2", "exp_range"), "triangular"),
               "gamma": (NUMBER, 1.0, *_POSITIVE), "cycle_momentum": (BOOL, None),
               "base_momentum": (NUMBER, 0.8, *_MOMENTUM), "max_momentum": (NUMBER, 0.9, *_MOMENTUM)},
    # One cycle over the whole run, stepped every batch; max_lr defaults to the optimiser's lr.
    "onecycle": {"max_lr": (NUMBER, None), "pct_start": (NUMBER, 0.3), "div_factor": (NUMBER, 25.0),
                 "final_div_factor": (NUMBER, 1e4), "anneal_strategy": (choice("cos", "linear"), "cos"),
                 "three_phase": (BOOL, False), "cycle_momentum": (BOOL, True)},
    # Stepped every epoch with the validation loss (the training loss without validation).
    "plateau": {"factor": (NUMBER, 0.1), "patience": (INT, 10), "threshold": (NUMBER, 1e-4),
                "threshold_mode": (choice("rel", "abs"), "rel"), "cooldown": (INT, 0),
                "min_lr": (NUMBER, 0.0, *_NOT_NEGATIVE)},
}
# The schedules without `interval`: stepped every batch, their options count batches.
BATCH_SCHEDULES = ("cyclic", "onecycle")


@dataclasses.dataclass
class DataConfig:
    name: str = "mnist1d"
    validation_fraction: float = 0.1


@dataclasses.dataclass
class ModelConfig:
    name: str = "cnn1d"
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class LossConfig:
    name: str = "cross_entropy"
    label_smoothing: float = 0.0


@dataclasses.dataclass
class OptimizerConfig:
    name: str = "adam"
    options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ScheduleConfig:
    name: str = "none"
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def interval(self):
        """When the Trainer steps this schedule: "epoch" or "batch"."""
        if self.name in BATCH_SCHEDULES:
            return "batch"
        return self.options.get("interval", "epoch")


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 100
    eval_batch_size: int = 1000
    seed: int = 0
    clip_grad_norm: float = 0.0  # 0: no clipping
    checkpoint_every: int = 0  # 0: checkpoint at the end of each epoch only
    early_stopping_patience: int = 0  # 0: never stop early


# Fixed sections: key -> (kind, check of the value's range or None, what the check wants).
_FIXED = {
    "data": (DataConfig, {
        "name": (choice(*DATASETS), None, None),
        "validation_fraction": (NUMBER, lambda v: 0 <= v < 1, "in [0, 1)"),
    }),
    "loss": (LossConfig, {
        "name": (choice(*LOSSES), None, None),
        "label_smoothing": (NUMBER, lambda v: 0 <= v <= 1, "in [0, 1]"),
    }),
    "train": (TrainConfig, {
        "epochs": (INT, lambda v: v >= 1, ">= 1"),
        "batch_size": (INT, lambda v: v >= 1, ">= 1"),
        "eval_batch_size": (INT, lambda v: v >= 1, ">= 1"),
        "seed": (INT, lambda v: v >= 0, ">= 0"),
        "clip_grad_norm": (NUMBER, lambda v: v >= 0, ">= 0 (0 turns clipping off)"),
        "checkpoint_every": (INT, lambda v: v >= 0, ">= 0 (0: every epoch only)"),
        "early_stopping_patience": (INT, lambda v: v >= 0, ">= 0 (0 turns early stopping off)"),
    }),
}
SECTIONS = ("data", "model", "loss", "optimizer", "schedule", "train")


@dataclasses.dataclass
class Config:
    """A checked training config; ``to_toml()`` writes it back with every default filled in.

    Attributes
    ----------
    data, model, loss, optimizer, schedule, train : the sections
    name : a short name for run directories (the file's stem, or "default")
    source : where it came from, for messages (a path, or "the default config")
    """
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    name: str = "default"
    source: str = "the default config"

    def to_dict(self):
        """The config as nested plain data, section by section (what ``to_toml`` writes)."""
        sections = {}
        for section in SECTIONS:
            value = getattr(self, section)
            fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
            options = fields.pop("options", {})
            sections[section] = {**fields, **options}
        return sections

    def to_toml(self):
        """The config as TOML text; ``loads_config`` of it gives an equal config."""
        lines = [f"# chainrule training config ({self.name})"]
        for section, values in self.to_dict().items():
            lines += ["", f"[{section}]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None]
        return "\n".join(lines) + "\n"

    def with_overrides(self, source, **values):
        """A copy with ``[train]`` values replaced (from the command line), checked like a file's.

        Example
        -------
        >>> config.with_overrides("--epochs", epochs=5)
        """
        section, schema = _FIXED["train"]
        checked = {key: _checked_value(source, "train", key, value, *schema[key]) for key, value in values.items()
                   if value is not None}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **checked))


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string without \u escapes of astral characters is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"config: cannot write {value!r} ({type(value).__name__}) as TOML")


# ---------------------------------------------------------------- loading

def load_config(path=None):
    """Read and check the TOML config at ``path``; with no path, the default config.

    Raises
    ------
    ConfigError
        For a missing or unreadable file, invalid TOML, an unknown section or
        key, a wrong type or value, or a missing required key; the message
        names the file, the section and the key.

    Example
    -------
    >>> config = load_config("configs/mnist1d_cnn.toml")
    >>> config.optimizer.name, config.train.epochs
    ('adam', 150)
    """
    if path is None:
        return loads_config(DEFAULT_CONFIG_TOML, source="the default config", name="default", require_names=False)
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config ({error})") from None
    return loads_config(text, source=str(path), name=path.stem)


def loads_config(text, source="<string>", name="config", require_names=True):
    """Parse and check config TOML ``text``; ``source`` names it in messages.

    ``require_names`` demands ``[data] name`` and ``[model] name``, as a
    config file must give them.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML ({error})") from None
    for section, values in document.items():
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]{_suggest(section, SECTIONS)}; "
                              f"the sections are {', '.join(f'[{s}]' for s in SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {section!r} must be a section ([{section}]), got {_type_name(values)}")
    if require_names:
        for section, what in (("data", "which dataset to train on"), ("model", "which model to train")):
            if "name" not in document.get(section, {}):
                raise ConfigError(f"{source}: [{section}] missing required key 'name'; a config file must say {what}")
    return Config(
        data=_fixed_section(source, "data", document.get("data", {})),
        model=_model_section(source, document.get("model", {})),
        loss=_fixed_section(source, "loss", document.get("loss", {})),
        optimizer=_optimizer_section(source, document.get("optimizer", {})),
        schedule=_schedule_section(source, document.get("schedule", {})),
        train=_fixed_section(source, "train", document.get("train", {})), name=name, source=source,
    )


def _type_name(value):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _suggest(key, known):
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_key(source, section, key, known, what=""):
    listed = ", ".join(sorted(known)) or "none"
    return ConfigError(f"{source}: [{section}] unknown key {key!r}{what}{_suggest(key, known)}; "
                       f"the keys are: {listed}")


def _checked_value(source, section, key, value, kind, valid=None, wanted=None):
    if not kind.accepts(value):
        raise ConfigError(f"{source}: [{section}] {key} must be {kind.description}, got {value!r} "
                          f"({_type_name(value)})")
    value = kind.convert(value)
    if valid is not None and not valid(value):
        raise ConfigError(f"{source}: [{section}] {key} must be {wanted}, got {value!r}")
    return value


def _fixed_section(source, section, values):
    cls, schema = _FIXED[section]
    checked = {}
    for key, value in values.items():
        if key not in schema:
            raise _unknown_key(source, section, key, schema)
        checked[key] = _checked_value(source, section, key, value, *schema[key])
    return cls(**checked)


def _named_section(source, section, values, default_name, known_names):
    name = values.get("name", default_name)
    if not isinstance(name, str):
        raise ConfigError(f"{source}: [{section}] name must be a string, got {name!r} ({_type_name(name)})")
    if known_names is not None and name not in known_names:
        raise ConfigError(f"{source}: [{section}] unknown name {name!r}{_suggest(name, known_names)}; "
                          f"choose one of {', '.join(known_names)}")
    return name, {key: value for key, value in values.items() if key != "name"}


def _model_section(source, values):
    name, given = _named_section(source, "model", values, ModelConfig.name, None)
    try:
        defaults, takes_any = builder_options(name)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{source}: [model] name: {error}") from None
    options = {}
    for key, value in given.items():
        if key not in defaults and not takes_any:
            raise _unknown_key(source, "model", key, defaults, f" for model {name!r}")
        default = defaults.get(key, inspect.Parameter.empty)
        kind = ANY if default is inspect.Parameter.empty else _kind_of_default(default)
        options[key] = _checked_value(source, "model", key, value, kind)
    for key, default in defaults.items():
        if key not in options:
            if default is inspect.Parameter.empty:
                raise ConfigError(f"{source}: [model] missing required key {key!r} for model {name!r}")
            if default is not None:
                options[key] = list(default) if isinstance(default, tuple) else default
    return ModelConfig(name, options)


def _optimizer_section(source, values):
    name, given = _named_section(source, "optimizer", values, OptimizerConfig.name, list(OPTIMIZERS))
    cls, schema = OPTIMIZERS[name]
    signature = inspect.signature(cls).parameters
    options = {}
    for key, kind in schema.items():
        if key in given:
            options[key] = _checked_value(source, "optimizer", key, given[key], kind, *_OPTIMIZER_RANGES.get(
                key, (None, None)))
        else:
            options[key] = kind.convert(signature[key].default)
    for key in given:
        if key not in schema:
            raise _unknown_key(source, "optimizer", key, schema, f" for optimizer {name!r}")
    return OptimizerConfig(name, options)


def _schedule_section(source, values):
    name, given = _named_section(source, "schedule", values, ScheduleConfig.name, list(SCHEDULES))
    schema = SCHEDULES[name]
    options = {}
    for key in given:
        if key not in schema:
            raise _unknown_key(source, "schedule", key, schema, f" for schedule {name!r}")
    for key, (kind, default, *valid_wanted) in schema.items():
        if key in given:
            options[key] = _checked_value(source, "schedule", key, given[key], kind, *valid_wanted)
        elif default is REQUIRED:
            raise ConfigError(f"{source}: [schedule] missing required key {key!r} for schedule {name!r}")
        else:
            options[key] = default
    return ScheduleConfig(name, options)
