"""Helpers for a training loop that runs on several ranks.

Rank 0 is the main process: it alone prints, writes checkpoints and
reports. Metrics are averaged over ranks with a reduction whose result has
the same bits on every rank, so decisions taken from them (early stopping,
a plateau scheduler) are the same everywhere and no rank leaves the loop
while the others wait for it.
"""
import numbers

import numpy

from ..data.loader import DataLoader
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .world import all_reduce, world_size


def average_metrics(logs, count=None):
    """Each metric's mean over all ranks, identical on every rank.

    Parameters
    ----------
    logs : dict of name -> number, this rank's values; the same names on every rank
    count : how many samples this rank's values are means over; with it the
        result is the sample-weighted mean (what one process would have
        measured on all the samples), without it the plain mean over ranks

    Returns
    -------
    A new dict with the same names, in the same order.

    Example
    -------
    >>> distributed.average_metrics({"loss": 0.3, "accuracy": 0.9}, count=128)
    {'loss': 0.28, 'accuracy': 0.91}
    """
    for name, value in logs.items():
        if not isinstance(value, numbers.Real):
            raise TypeError(f"average_metrics: {name!r} is a {type(value).__name__}, expected a number")
    if world_size() == 1:
        return dict(logs)
    names = sorted(logs)  # the same order on every rank, however each built its dict
    weight = 1.0 if count is None else float(count)
    # A rank with no samples contributes nothing, even where its mean is NaN.
    totals = numpy.array([logs[name] * weight if weight else 0.0 for name in names] + [weight])
    all_reduce(totals, deterministic=True)
    averaged = dict(zip(names, (totals[:-1] / totals[-1]).tolist()))
    return {name: averaged[name] for name in logs}


def unwrap_model(model):
    """The model inside a DistributedDataParallel, or ``model`` itself.

    Checkpoints hold the unwrapped model's state, whose keys have no
    ``module.`` prefix, so they load with or without data parallelism.

    Example
    -------
    >>> chainrule.save(distributed.unwrap_model(model).state_dict(), "model.safetensors")
    """
    return model.module if isinstance(model, DistributedDataParallel) else model


def synchronize_gradients(model):
    """Make sure this step's gradients are averaged over ranks before they are read.

    Call it on every rank after ``backward()``; it does nothing for a model
    that is not a DistributedDataParallel, or whose step is already complete.

    Example
    -------
    >>> loss.backward()
    >>> distributed.synchronize_gradients(model)
    >>> clip_grad_norm_(model.parameters(), 1.0)
    """
    if isinstance(model, DistributedDataParallel):
        model.synchronize()


def shard_loader(loader, shuffle=True, seed=0, drop_last=False):
    """A DataLoader like ``loader`` (dataset, per-rank batch size, collate_fn)
    that reads only this rank's shard of each epoch, through a DistributedSampler.

    Example
    -------
    >>> train_loader = distributed.shard_loader(DataLoader(train_set, batch_size=32), shuffle=True)
    """
    sampler = DistributedSampler(loader.dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, drop_last=loader.drop_last,
                      collate_fn=loader.collate_fn)
