"""The command line: ``chainrule train | eval | predict | lr-find | explain``.

``chainrule train [CONFIG.toml]`` builds the data, model, loss, optimiser and
schedule a config describes, trains them with the Trainer and fills a run
directory::

    config.toml             the config, every default filled in
    manifest.json           seed, versions, BLAS, data hashes, source revision
    metrics.jsonl           one line per epoch, written as the run goes
    checkpoint.safetensors  the whole training state, every epoch (and every
                            ``checkpoint_every`` steps): ``--resume`` continues from it
    model.safetensors       the final weights
    curves.png, report.md   loss and accuracy per epoch; the summary

``--preflight`` runs ``chainrule.diagnostics.preflight`` first and does not
start a run that fails it; ``--grad-health`` watches the gradients with a
``GradientHealth`` monitor and adds ``gradient_health.{json,txt,png}`` and a
section of the report. Under ``mpiexec -n N`` the run is data-parallel:
every rank trains its shard, rank 0 alone prints and writes the run directory.

``chainrule eval RUN_DIR`` scores a run's model on the test set,
``chainrule predict RUN_DIR INPUT.npy`` classifies new inputs,
``chainrule lr-find [CONFIG.toml]`` runs the learning-rate range test, and
``chainrule explain`` works backpropagation through the seed network by hand.
See docs/cli.md.
"""
import argparse
import dataclasses
import datetime
import functools
import json
import math
import pathlib
import sys
import time
import warnings

import numpy

from . import __version__, distributed
from .autograd import no_grad
from .creation import from_numpy
from .data import DataLoader, TensorDataset, datasets, random_split
from .diagnostics import GradientHealth, GradientHealthCallback, preflight
from .files import atomic_write
from .models import build_model
from .ops.loss import cross_entropy
from .optim import lr_scheduler
from .random import manual_seed
from .serialization import load, save
from .train import Callback, CheckpointError, EarlyStopping, Trainer, confusion_matrix, load_checkpoint
from .train.config import OPTIMIZERS, ConfigError, load_config, loads_config
from .train.manifest import ManifestRecord, compare_manifest, hash_arrays, make_manifest, read_manifest, write_manifest
from .train.report import MetricsLog, plot_curves, write_report

CONFIG_FILE = "config.toml"
MANIFEST_FILE = "manifest.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.safetensors"
MODEL_FILE = "model.safetensors"
CURVES_FILE = "curves.png"
REPORT_FILE = "report.md"
HEALTH_IMAGE = "gradient_health.png"

DATASETS = {"mnist1d": datasets.mnist1d, "digits": datasets.digits, "mnist": datasets.mnist,
            "fashion_mnist": datasets.fashion_mnist}


class CommandError(Exception):
    """A problem the user can fix; printed as one line, without a traceback."""


# ---------------------------------------------------------------- building a run from a config

@dataclasses.dataclass
class Run:
    """Everything a config builds, ready to train."""
    config: object
    model: object
    optimizer: object
    scheduler: object
    loss_fn: object
    train_loader: DataLoader
    val_loader: object  # a DataLoader, or None without a validation split
    test_loader: DataLoader
    data_info: dict


def load_data(config):
    """The dataset's arrays (``x``, ``y``, ``x_test``, ``y_test``)."""
    name = config.data.name
    try:
        return DATASETS[name]()
    except (ImportError, RuntimeError, OSError) as error:
        raise CommandError(f"data {name!r}: {error}") from None


def describe_data(config, arrays, train_size, validation_size):
    """What the manifest records about the data, and what ``predict`` needs to check inputs."""
    return {
        "name": config.data.name,
        "input_shape": list(arrays["x"].shape[1:]),
        "num_classes": int(max(arrays["y"].max(), arrays["y_test"].max())) + 1,
        "train_size": train_size, "validation_size": validation_size, "test_size": len(arrays["y_test"]),
        "train_sha256": hash_arrays({"x": arrays["x"], "y": arrays["y"]}),
        "test_sha256": hash_arrays({"x_test": arrays["x_test"], "y_test": arrays["y_test"]}),
    }


def make_loss(config):
    """The loss function of ``[loss]``."""
    if config.loss.label_smoothing:
        return functools.partial(cross_entropy, label_smoothing=config.loss.label_smoothing)
    return cross_entropy


def make_optimizer(config, model):
    """The optimiser of ``[optimizer]`` over the model's parameters."""
    cls, _ = OPTIMIZERS[config.optimizer.name]
    options = {key: tuple(value) if isinstance(value, list) else value
               for key, value in config.optimizer.options.items()}
    try:
        return cls(model.parameters(), **options)
    except (ValueError, TypeError) as error:
        raise CommandError(f"{config.source}: [optimizer] {error}") from None


def make_scheduler(config, optimizer, steps_per_epoch):
    """The lr schedule of ``[schedule]``, or None; its length follows ``[train] epochs``.

    A ``warmup`` of N steps (epochs, or batches with ``interval = "batch"``)
    ramps the lr linearly up to the optimiser's lr in N equal rises before the
    schedule starts; a schedule whose length follows the run fills the rest.
    """
    name, options, epochs = config.schedule.name, dict(config.schedule.options), config.train.epochs
    per_batch = config.schedule.interval == "batch"
    options.pop("interval", None)
    warmup = options.pop("warmup", 0)
    steps = epochs * steps_per_epoch if per_batch else epochs
    if warmup >= steps:
        unit = "batches" if per_batch else "epochs"
        raise CommandError(f"{config.source}: [schedule] warmup of {warmup} {unit} leaves nothing of the run's "
                           f"{steps} {unit} to the {name} schedule; shorten the warmup")
    try:
        scheduler = _schedule(name, options, optimizer, steps - warmup)
        if warmup:
            ramp = lr_scheduler.LinearLR(optimizer, start_factor=1 / (warmup + 1), total_iters=warmup)
            scheduler = lr_scheduler.SequentialLR(optimizer, [ramp, scheduler], milestones=[warmup])
        return scheduler
    except (ValueError, TypeError, KeyError) as error:
        raise CommandError(f"{config.source}: [schedule] {error}") from None


def _schedule(name, options, optimizer, steps):
    """The schedule ``name`` built from its config ``options``; ``steps`` long where its length follows the run."""
    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, **options)
    if name == "multistep":
        return lr_scheduler.MultiStepLR(optimizer, **options)
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, **options)
    if name == "constant":
        return lr_scheduler.ConstantLR(optimizer, **options)
    if name == "linear":
        return lr_scheduler.LinearLR(optimizer, **options)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, **options)
    if name == "polynomial":
        return lr_scheduler.PolynomialLR(optimizer, total_iters=steps, **options)
    if name == "cosine_restarts":
        return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, **options)
    if name == "cyclic":
        if options["base_lr"] is None:
            options["base_lr"] = optimizer.param_groups[0]["lr"]
        if options["cycle_momentum"] is None:
            # PyTorch's default (True) fails for optimisers without momentum and switches momentum on
            # for SGD without it: cycle it only where the optimiser already uses it.
            options["cycle_momentum"] = "betas" in optimizer.defaults or optimizer.defaults.get("momentum", 0) > 0
        return lr_scheduler.CyclicLR(optimizer, **options)
    if name == "onecycle":
        max_lr = options.pop("max_lr", None) or optimizer.param_groups[0]["lr"]
        return lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps, **options)
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, **options)
    raise ValueError(f"no schedule named {name!r}")


def build_run(config):
    """Seed chainrule, load and split the data, build model, optimiser, schedule and loaders.

    The same config always builds the same run (weights, split, shuffling),
    which is what lets ``--resume`` rebuild a run and load its checkpoint.
    """
    manual_seed(config.train.seed)
    arrays = load_data(config)
    dataset = TensorDataset(arrays["x"], arrays["y"])
    validation_size = int(round(len(dataset) * config.data.validation_fraction))
    if validation_size:
        # The split has a generator of its own, so it stays the same whatever else draws random numbers.
        train_set, validation_set = random_split(dataset, [len(dataset) - validation_size, validation_size],
                                                 generator=numpy.random.default_rng(config.train.seed))
    else:
        train_set, validation_set = dataset, None
    data_info = describe_data(config, arrays, len(train_set), validation_size)
    try:
        model = build_model(config.model.name, data_info["input_shape"], data_info["num_classes"],
                            **config.model.options)
    except (ValueError, TypeError) as error:
        raise CommandError(f"{config.source}: [model] {error}") from None
    test_set = TensorDataset(arrays["x_test"], arrays["y_test"])
    train_loader = _loader(train_set, config.train.batch_size, config.train.seed, training=True)
    evaluation_batch = config.train.eval_batch_size
    optimizer = make_optimizer(config, model)
    return Run(
        config=config, model=model, optimizer=optimizer,
        scheduler=make_scheduler(config, optimizer, len(train_loader)), loss_fn=make_loss(config),
        train_loader=train_loader,
        val_loader=_loader(validation_set, evaluation_batch, config.train.seed) if validation_set else None,
        test_loader=_loader(test_set, evaluation_batch, config.train.seed),
        data_info=data_info,
    )


def _loader(dataset, batch_size, seed, training=False):
    """A DataLoader over ``dataset``, shuffled for ``training``; under ``mpiexec``
    over this rank's shard, ``batch_size`` per rank.

    Training shards are padded to equal lengths, since every step is
    collective; evaluation shards are not, so that no sample counts twice.
    """
    if distributed.world_size() > 1:
        if len(dataset) < distributed.world_size():
            raise CommandError(f"a data split of {len(dataset)} samples cannot be shared by "
                               f"{distributed.world_size()} ranks; run on at most {len(dataset)} ranks")
        sampler = distributed.DistributedSampler(dataset, shuffle=training, seed=seed, pad=training)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    return DataLoader(dataset, batch_size=batch_size, shuffle=training)


# ---------------------------------------------------------------- train

class EpochPrinter(Callback):
    """One line per epoch on stdout: the metrics, the lr and the time."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, trainer, epoch, logs):
        parts = [f"{key} {_format_metric(key, value)}" for key, value in logs.items() if key not in ("lr", "seconds")]
        print(f"epoch {epoch + 1}/{self.epochs}: {', '.join(parts)}, lr {logs['lr']:.3g}, {logs['seconds']:.2f} s",
              flush=True)


def _format_metric(key, value):
    return f"{value:.2%}" if "accuracy" in key or "top5" in key else f"{value:.4f}"


def _new_run_dir(config):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = pathlib.Path("runs") / f"{config.name}-{stamp}"
    run_dir, suffix = base, 1
    while run_dir.exists():
        suffix += 1
        run_dir = base.with_name(f"{base.name}-{suffix}")
    return run_dir


def _warn(command, message):
    print(f"chainrule {command}: warning: {message}", file=sys.stderr, flush=True)


def _prepare_resume(args):
    """The config and run directory of the run ``--resume`` continues, with ``--epochs`` applied."""
    if args.config is not None:
        raise CommandError(f"--resume continues {args.resume} with its own {CONFIG_FILE}; do not pass a config file")
    if args.seed is not None:
        raise CommandError("--seed cannot change when resuming: the run's seed fixed its weights and data order")
    if args.out is not None:
        raise CommandError("--resume writes into the run directory it continues; do not pass --out")
    run_dir = pathlib.Path(args.resume)
    if not (run_dir / CONFIG_FILE).is_file():
        raise CommandError(f"{run_dir}: not a run directory (it has no {CONFIG_FILE})")
    config = load_config(run_dir / CONFIG_FILE)
    config = dataclasses.replace(config, name=run_dir.name)
    if args.epochs is not None and args.epochs != config.train.epochs:
        if config.schedule.name in ("cosine", "polynomial", "onecycle"):
            raise CommandError(f"--epochs: the {config.schedule.name} schedule of {run_dir} was built for "
                               f"{config.train.epochs} epochs and cannot be stretched; start a new run instead")
        config = config.with_overrides("--epochs", epochs=args.epochs)
    return config, run_dir


def _prepare_new(args):
    config = load_config(args.config).with_overrides("the command line", epochs=args.epochs, seed=args.seed)
    if args.out is None:
        return config, _new_run_dir(config)
    run_dir = pathlib.Path(args.out)
    if (run_dir / CONFIG_FILE).exists() or (run_dir / CHECKPOINT_FILE).exists():
        raise CommandError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                           f"or choose another --out")
    return config, run_dir


def _prepare_run(args):
    """The config and run directory, chosen on rank 0 and shared with the other ranks under ``mpiexec``,
    and whether the run resumes from its checkpoint."""
    main_process = distributed.is_main_process()
    shared = None
    if main_process:
        config, run_dir = _prepare_resume(args) if args.resume else _prepare_new(args)
        resume = bool(args.resume) and (run_dir / CHECKPOINT_FILE).exists()
        shared = {"run_dir": str(run_dir), "config": config.to_toml(), "name": config.name,
                  "source": str(config.source), "resume": resume}
    shared = distributed.broadcast_object(shared)
    if not main_process:
        config = loads_config(shared["config"], source=shared["source"], name=shared["name"])
        if not args.resume:
            _check_same_config(load_config(args.config).with_overrides(
                "the command line", epochs=args.epochs, seed=args.seed), config)
    return config, pathlib.Path(shared["run_dir"]), shared["resume"]


def _check_same_config(own, rank0):
    """Refuse to train when this rank's config differs from rank 0's: the ranks would build different
    models or data (a config edited on one machine of several, or a different file at the same path)."""
    ours, theirs = own.to_dict(), rank0.to_dict()
    differing = [f"[{section}] {key}: {values.get(key)!r} here, {theirs[section].get(key)!r} on rank 0"
                 for section, values in ours.items()
                 for key in sorted(values.keys() | theirs[section].keys())
                 if values.get(key) != theirs[section].get(key)]
    if differing:
        raise CommandError(f"rank {distributed.rank()} read a config ({own.source}) that differs from rank 0's "
                           f"({rank0.source}): " + "; ".join(differing)
                           + ". Every rank must train from the same config: copy the file to every machine")


def _run_preflight(args, run):
    """Run ``preflight`` (rank 0 only) on a loader of its own, so that the training run's data order
    is the one it would have had without ``--preflight``; refuse to start a run that fails it."""
    if not distributed.is_main_process():
        return
    loader = DataLoader(run.train_loader.dataset, batch_size=run.config.train.batch_size)
    report = preflight(run.model, run.loss_fn, loader, verbose=False)
    print(report.text, flush=True)
    if report.ok:
        return
    if not args.force:
        raise CommandError("the preflight checks failed, so the run did not start (nothing was written); "
                           "fix what they report, or pass --force to train anyway")
    _warn("train", "the preflight checks failed; training anyway (--force)")


def command_train(args):
    distributed.init()
    main_process = distributed.is_main_process()
    config, run_dir, resuming = _prepare_run(args)
    run = build_run(config)
    if args.preflight:
        _run_preflight(args, run)
    model = run.model
    if distributed.world_size() > 1:
        # After preflight, which copies the model: the wrapper's gradient hooks must not be copied.
        run.model = distributed.DistributedDataParallel(model)
    current_manifest = manifest = make_manifest(config, run.data_info)
    checkpoint = run_dir / CHECKPOINT_FILE
    resume_from = checkpoint if resuming else None
    if main_process:
        if args.resume:
            if not resuming:
                _warn("train", f"{run_dir} has no {CHECKPOINT_FILE} yet; starting the run from the beginning")
            saved = read_manifest(run_dir / MANIFEST_FILE)
            if saved is not None:
                # The manifest keeps describing where the run started; each resume
                # in a different environment (or with other --epochs) is noted in it.
                differences = compare_manifest(saved, current_manifest)
                if differences:
                    saved.setdefault("resumed", []).append({"at": current_manifest["created"],
                                                            "differences": differences})
                manifest = saved
        run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(run_dir / CONFIG_FILE, "w") as f:
            f.write(config.to_toml())
        write_manifest(run_dir / MANIFEST_FILE, manifest)

    def on_main(callback):
        # Only rank 0 prints and writes; the other ranks get a callback that does nothing.
        return callback if main_process else Callback()

    callbacks = [on_main(ManifestRecord(current_manifest, lambda message: _warn("train", message))),
                 on_main(MetricsLog(run_dir / METRICS_FILE))]
    if args.progress:
        callbacks.append(on_main(EpochPrinter(config.train.epochs)))
    if config.train.early_stopping_patience:
        callbacks.append(EarlyStopping("val_loss" if run.val_loader else "loss",
                                       patience=config.train.early_stopping_patience))
    health = None
    if args.grad_health:
        # Created after preflight, whose copies of the model would otherwise carry its hooks.
        if main_process:
            health = GradientHealth(model, every=args.grad_health_every)
        callbacks.append(GradientHealthCallback(health, folder=run_dir) if main_process else Callback())
    trainer = Trainer(run.model, run.optimizer, run.loss_fn, run.scheduler,
                      scheduler_interval=config.schedule.interval,
                      clip_grad_norm=config.train.clip_grad_norm or None, callbacks=callbacks,
                      progress=args.progress, checkpoint_path=checkpoint,
                      checkpoint_every=config.train.checkpoint_every or None)
    started = time.perf_counter()
    if main_process:
        ranks = f" on {distributed.world_size()} ranks" if distributed.world_size() > 1 else ""
        print(f"training {config.model.name} on {config.data.name} ({run.data_info['train_size']:,} samples, "
              f"{run.data_info['validation_size']:,} for validation) into {run_dir}{ranks}", flush=True)
    try:
        trainer.fit(run.train_loader, run.val_loader, epochs=config.train.epochs, resume_from=resume_from)
    except FloatingPointError as error:
        raise CommandError(f"{error}; the last good checkpoint is in {run_dir}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: chainrule train --resume {run_dir}", file=sys.stderr)
        return 130
    test = trainer.evaluate(run.test_loader)
    test["samples"] = run.data_info["test_size"]
    if not main_process:
        return 0
    health_summary = health.summary() if health is not None else None
    _finish_run(run_dir, config, run, trainer, test, manifest, health_summary)
    if health_summary is not None:
        print(health_summary)
    history, elapsed = trainer.history, time.perf_counter() - started
    seconds = history.get("seconds", [])
    per_epoch = f" ({sum(seconds) / len(seconds):.2f} s per epoch)" if seconds else ""
    print(f"test accuracy {test['accuracy']:.2%}, test loss {test['loss']:.4f} ({test['samples']:,} samples)")
    print(f"{len(seconds)} epochs in {sum(seconds):.1f} s{per_epoch}; this command took {elapsed:.1f} s")
    print(f"run directory: {run_dir} (see {run_dir / REPORT_FILE})")
    return 0


def _finish_run(run_dir, config, run, trainer, test, manifest, health_summary=None):
    """Write the final weights, the curves and the report (with the gradient health summary, if any)."""
    model = distributed.unwrap_model(run.model)
    save(model.state_dict(), run_dir / MODEL_FILE,
         metadata={"chainrule.manifest": json.dumps(manifest), "chainrule.config": config.to_toml()})
    summary = [f"Model: {config.model.name} ({sum(p.numel() for p in model.parameters()):,} parameters), "
               f"data: {config.data.name} ({run.data_info['train_size']:,} training, "
               f"{run.data_info['validation_size']:,} validation samples), seed {config.train.seed}",
               f"Optimiser: {config.optimizer.name} (lr {config.optimizer.options['lr']:g}), "
               f"schedule: {config.schedule.name}, batch size {config.train.batch_size}"]
    curves = CURVES_FILE if plot_curves(trainer.history, run_dir / CURVES_FILE, title=run_dir.name) else None
    if curves is None:
        summary.append(f"{CURVES_FILE} was not drawn: matplotlib is not installed "
                       f"(pip install 'chainrule[plots]')")
    files = [(CONFIG_FILE, "the config, every default filled in"),
             (MANIFEST_FILE, "seed, versions, BLAS, data hashes, source revision"),
             (METRICS_FILE, "one JSON line per epoch"),
             (CHECKPOINT_FILE, "the training state, for `chainrule train --resume`"),
             (MODEL_FILE, "the final weights")]
    if curves:
        files.append((CURVES_FILE, "loss and accuracy per epoch"))
    if health_summary is not None:
        files += [("gradient_health.txt", "the gradient health summary"),
                  ("gradient_health.json", "every recorded gradient, weight and update norm")]
        if (run_dir / HEALTH_IMAGE).exists():
            files.append((HEALTH_IMAGE, "log gradient norm per layer and step, and the update ratios"))
    write_report(run_dir / REPORT_FILE, trainer.history, test, summary, files, curves)
    if health_summary is not None:
        _append_health_section(run_dir / REPORT_FILE, health_summary, (run_dir / HEALTH_IMAGE).exists())


def _append_health_section(path, health_summary, with_image):
    """Add a "Gradient health" section to the report ``write_report`` wrote."""
    lines = ["", "## Gradient health", ""]
    if with_image:
        lines += [f"![log10 gradient norm per layer and step]({HEALTH_IMAGE})", ""]
    else:
        lines += [f"{HEALTH_IMAGE} was not drawn: matplotlib is not installed (pip install 'chainrule[plots]')", ""]
    lines += ["```", health_summary, "```"]
    text = pathlib.Path(path).read_text(encoding="utf-8")
    with atomic_write(path, "w") as f:
        f.write(text + "\n".join(lines) + "\n")


# ---------------------------------------------------------------- eval and predict

def _run_config(run_dir):
    """The config saved in a run directory."""
    run_dir = pathlib.Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise CommandError(f"{run_dir}: not a run directory (it has no {CONFIG_FILE})")
    return load_config(run_dir / CONFIG_FILE)


def _run_manifest(run_dir):
    try:
        return read_manifest(pathlib.Path(run_dir) / MANIFEST_FILE)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _run_model(run_dir, config, input_shape, num_classes):
    """The trained model of a run directory, in eval mode, and the file its weights came from:
    ``model.safetensors``, or the checkpoint of a run that has not finished."""
    run_dir = pathlib.Path(run_dir)
    try:
        model = build_model(config.model.name, input_shape, num_classes, **config.model.options)
    except (ValueError, TypeError) as error:
        raise CommandError(f"{run_dir / CONFIG_FILE}: [model] {error}") from None
    if (run_dir / MODEL_FILE).exists():
        weights, source = load(run_dir / MODEL_FILE), MODEL_FILE
    elif (run_dir / CHECKPOINT_FILE).exists():
        weights, source = load_checkpoint(run_dir / CHECKPOINT_FILE)["model"], CHECKPOINT_FILE
    else:
        raise CommandError(f"{run_dir}: has neither {MODEL_FILE} nor {CHECKPOINT_FILE}; the run has not "
                           f"finished an epoch yet")
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as error:
        raise CommandError(f"{run_dir / source}: does not fit the model its config describes ({error})") from None
    model.eval()
    return model, source


@no_grad()
def _logits(model, inputs, batch_size):
    """The model's outputs for an array of inputs, computed batch by batch."""
    outputs = [model(from_numpy(inputs[start:start + batch_size])).data
               for start in range(0, len(inputs), batch_size)]
    return numpy.concatenate(outputs)


def _softmax(logits):
    shifted = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def command_eval(args):
    config = _run_config(args.run_dir)
    manifest = _run_manifest(args.run_dir)
    arrays = load_data(config)
    validation_size = int(round(len(arrays["y"]) * config.data.validation_fraction))
    data_info = describe_data(config, arrays, len(arrays["y"]) - validation_size, validation_size)
    model, source = _run_model(args.run_dir, config, data_info["input_shape"], data_info["num_classes"])
    if manifest is None:
        _warn("eval", f"{args.run_dir} has no {MANIFEST_FILE}; cannot check the environment against the run's")
    else:
        for difference in compare_manifest(manifest, make_manifest(config, data_info)):
            _warn("eval", f"the environment differs from the run's: {difference}")
    if source != MODEL_FILE:
        _warn("eval", f"{args.run_dir} has no {MODEL_FILE} (the run has not finished); "
                      f"evaluating the weights of its {CHECKPOINT_FILE}")
    logits = _logits(model, arrays["x_test"], config.train.eval_batch_size)
    targets = arrays["y_test"]
    loss = make_loss(config)(from_numpy(logits), from_numpy(targets)).item()
    predictions = logits.argmax(axis=1)
    accuracy = float((predictions == targets).mean())
    counts = confusion_matrix(predictions, targets, data_info["num_classes"])
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.2%} ({len(targets):,} samples of {config.data.name})")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(_format_matrix(counts))
    return 0


def _format_matrix(counts):
    width = max(len(str(counts.max())), len(str(len(counts) - 1)), 3)
    header = " " * (width + 2) + " ".join(f"{j:>{width}}" for j in range(counts.shape[1]))
    rows = [f"{i:>{width}}: " + " ".join(f"{n:>{width}}" for n in row) for i, row in enumerate(counts)]
    return "\n".join([header, *rows])


def command_predict(args):
    config = _run_config(args.run_dir)
    manifest = _run_manifest(args.run_dir)
    if manifest is None:
        raise CommandError(f"{args.run_dir}: has no {MANIFEST_FILE}, which records the model's input shape")
    input_shape = tuple(manifest["data"]["input_shape"])
    model, _ = _run_model(args.run_dir, config, input_shape, manifest["data"]["num_classes"])
    try:
        inputs = numpy.load(args.input, allow_pickle=False)
    except FileNotFoundError:
        raise CommandError(f"{args.input}: no such file") from None
    except (OSError, ValueError, EOFError) as error:
        raise CommandError(f"{args.input}: not a readable .npy array ({error or type(error).__name__})") from None
    if inputs.dtype.kind not in "biuf":
        raise CommandError(f"{args.input}: holds {inputs.dtype} values; the model takes numbers")
    if inputs.shape == input_shape:
        inputs = inputs[None]
    elif inputs.shape[1:] != input_shape:
        shape = ", ".join(str(n) for n in input_shape)
        raise CommandError(f"{args.input}: has shape {inputs.shape}, but the model of {args.run_dir} takes "
                           f"samples of shape {input_shape} ({config.data.name}); give an array of shape "
                           f"(N, {shape}) or ({shape}{',' if len(input_shape) == 1 else ''})")
    logits = _logits(model, inputs.astype(numpy.float32), config.train.eval_batch_size)
    probabilities = _softmax(logits.astype(numpy.float64)).astype(numpy.float32)
    print("\n".join(str(c) for c in logits.argmax(axis=1)))
    if args.output:
        with atomic_write(args.output) as f:
            numpy.save(f, probabilities)
        print(f"probabilities ({probabilities.shape[0]} x {probabilities.shape[1]}) written to {args.output}",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------- lr-find

def command_lr_find(args):
    if distributed.world_size() > 1:
        raise CommandError(f"lr-find runs in one process; run it without mpiexec (this is rank "
                           f"{distributed.rank()} of {distributed.world_size()})")
    config = load_config(args.config)
    run = build_run(config)
    out = pathlib.Path(args.out) if args.out else pathlib.Path("runs") / (
        f"{config.name}-lr-find-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(run.model, run.optimizer, run.loss_fn, clip_grad_norm=config.train.clip_grad_norm or None,
                      progress=False)
    if args.start_lr >= args.end_lr:
        raise CommandError(f"--start-lr {args.start_lr:g} must be below --end-lr {args.end_lr:g}")
    if args.steps < 2:
        raise CommandError(f"--steps must be at least 2, got {args.steps}")
    result = trainer.lr_find(run.train_loader, start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps)
    drawn = result.plot(out / "lr_find.png")
    with atomic_write(out / "lr_find.json", "w") as f:
        json.dump({"lrs": result.lrs, "losses": result.losses, "raw_losses": result.raw_losses,
                   "suggested_lr": result.suggested_lr, "diverged": result.diverged}, f, indent=1)
    ending = f"the loss diverged at lr {result.lrs[-1]:.3g}" if result.diverged \
        else f"swept up to lr {result.lrs[-1]:.3g} without divergence"
    print(f"{len(result.lrs)} steps from lr {result.lrs[0]:.3g}; {ending}")
    print(f"suggested lr: {result.suggested_lr:.3g} (where the smoothed loss falls fastest)")
    if drawn:
        print(f"plot: {out / 'lr_find.png'}")
    else:
        print("no plot: matplotlib is not installed (pip install 'chainrule[plots]')")
    return 0


# ---------------------------------------------------------------- explain

def command_explain(args):
    from .explain import explain, explain_graph, format_explanation

    from .diagnostics.graph import DOT_SUFFIXES, RENDERED_FORMATS

    suffixes = DOT_SUFFIXES + tuple("." + form for form in RENDERED_FORMATS)
    if args.dot and pathlib.Path(args.dot).suffix.lower() not in suffixes:
        raise CommandError(f"--dot {args.dot}: the file must end in {', '.join(suffixes)}")
    print(format_explanation(explain(lr=args.lr)))
    if args.dot:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            explain_graph(args.dot)
        for warning in caught:  # Graphviz missing: the DOT source was written beside the file instead
            _warn("explain", str(warning.message))
        if not caught:
            print(f"graph: {args.dot} (values and gradients on the parameters' nodes)")
    return 0


# ---------------------------------------------------------------- the parser

def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser():
    """The argparse parser of the ``chainrule`` command."""
    parser = argparse.ArgumentParser(prog="chainrule", description="Train, evaluate and use chainrule models "
                                     "from TOML configs. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model from a config into a run directory",
                                description="Train from CONFIG (the default MNIST-1D CNN recipe without one) "
                                            "into a run directory.")
    train.add_argument("config", nargs="?", metavar="CONFIG.toml", help="the config; omit for the default")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    train.add_argument("--epochs", type=_positive_int, metavar="N", help="override [train] epochs")
    train.add_argument("--seed", type=int, metavar="S", help="override [train] seed")
    train.add_argument("--out", metavar="DIR", help="the run directory (default runs/<config>-<timestamp>)")
    train.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bar and no line per epoch")
    train.add_argument("--preflight", action="store_true",
                       help="run the preflight checks first; do not start a run that fails them")
    train.add_argument("--force", action="store_true", help="with --preflight: train even if a check fails")
    train.add_argument("--grad-health", action="store_true",
                       help="watch gradients, weights and updates per layer; report in the run directory")
    train.add_argument("--grad-health-every", type=_positive_int, default=1, metavar="K",
                       help="with --grad-health: record every K-th step (default 1)")
    train.set_defaults(handler=command_train)

    evaluate = commands.add_parser("eval", help="test-set loss, accuracy and confusion matrix of a run")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.set_defaults(handler=command_eval)

    predict = commands.add_parser("predict", help="classify the inputs in a .npy file with a run's model")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("input", metavar="INPUT.npy", help="one sample, or a batch of samples along dim 0")
    predict.add_argument("--output", metavar="OUT.npy", help="also write the class probabilities (N, classes)")
    predict.set_defaults(handler=command_predict)

    find = commands.add_parser("lr-find", help="the learning-rate range test for a config")
    find.add_argument("config", nargs="?", metavar="CONFIG.toml", help="the config; omit for the default")
    find.add_argument("--out", metavar="DIR",
                      help="where to write lr_find.png (default runs/<config>-lr-find-<timestamp>)")
    find.add_argument("--start-lr", type=_positive_float, default=1e-7, metavar="LR")
    find.add_argument("--end-lr", type=_positive_float, default=10.0, metavar="LR")
    find.add_argument("--steps", type=_positive_int, default=100, metavar="N")
    find.set_defaults(handler=command_lr_find)

    explain = commands.add_parser("explain", help="backpropagation by hand through the seed network, step by step",
                                  description="Work one forward pass, the chain rule and one gradient-descent "
                                              "step of the seed network (1 input, 2 tanh units, 1 output) on one "
                                              "example, printing every number and where it comes from.")
    explain.add_argument("--lr", type=_positive_float, default=0.1, metavar="LR",
                         help="the learning rate of the step (default 0.1)")
    explain.add_argument("--dot", metavar="FILE",
                         help="also draw the graph with values and gradients (.dot/.gv; .svg/.png/.pdf need Graphviz)")
    explain.set_defaults(handler=command_explain)
    return parser


def main(argv=None):
    """Run the ``chainrule`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, CommandError, CheckpointError, FloatingPointError) as error:
        print(f"chainrule {args.command}: error: {error}", file=sys.stderr)
        if distributed.is_initialized() and distributed.world_size() > 1:
            # The other ranks would wait for this one in their next collective.
            distributed.abort(1)
        return 1
