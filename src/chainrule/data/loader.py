"""Samplers, collation and the DataLoader.

Shuffling is reproducible and resumable: a ``RandomSampler`` owns a NumPy
generator seeded from chainrule's generator when it is made (so
``manual_seed`` fixes every epoch's order), and the loader's ``state_dict``
records that generator's state at the start of the current epoch and how
many batches of it were already served. Loading that state replays the
same permutation and skips what was done, so a run resumed mid-epoch sees
exactly the batches the uninterrupted run would have seen.
"""
import numbers

import numpy

from ..random import default_generator
from ..tensor import Tensor


class SequentialSampler:
    """Indices 0, 1, …, n-1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __len__(self):
        return len(self.data_source)

    def epoch_order(self):
        return numpy.arange(len(self.data_source))

    def __iter__(self):
        return iter(self.epoch_order().tolist())

    def state_dict(self, mid_epoch=False):
        return {}

    def load_state_dict(self, state):
        pass


class RandomSampler(SequentialSampler):
    """A fresh random permutation each epoch, from a generator of its own."""

    def __init__(self, data_source, generator=None):
        super().__init__(data_source)
        if generator is None:
            generator = numpy.random.Generator(numpy.random.PCG64(default_generator().integers(2 ** 63)))
        self.generator = generator
        self.epoch_start_state = generator.bit_generator.state

    def epoch_order(self):
        self.epoch_start_state = self.generator.bit_generator.state
        return self.generator.permutation(len(self.data_source))

    def state_dict(self, mid_epoch=False):
        """The generator's state at the start of the current epoch (mid-epoch), or of the next one."""
        return {"generator": self.epoch_start_state if mid_epoch else self.generator.bit_generator.state}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
        self.epoch_start_state = state["generator"]


def default_collate(samples):
    """Stack a list of samples into a batch: tensors and arrays are stacked
    along a new first dim, numbers become a tensor, tuples/lists and dicts
    are collated field by field, anything else is returned as a list."""
    first = samples[0]
    if isinstance(first, Tensor):
        return Tensor._make(numpy.stack([s.data for s in samples]), None, None)
    if isinstance(first, (numpy.ndarray, numpy.generic)):
        return Tensor._make(numpy.stack(samples), None, None)
    if isinstance(first, bool):
        return Tensor._make(numpy.asarray(samples, dtype=bool), None, None)
    if isinstance(first, numbers.Integral):
        return Tensor._make(numpy.asarray(samples, dtype=numpy.int64), None, None)
    if isinstance(first, numbers.Real):
        return Tensor._make(numpy.asarray(samples, dtype=numpy.float32), None, None)
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(field)) for field in zip(*samples)) \
            if not hasattr(first, "_fields") else type(first)(*(default_collate(list(f)) for f in zip(*samples)))
    return samples


class DataLoader:
    """Batches from a dataset, optionally shuffled, as in PyTorch.

    Parameters
    ----------
    dataset : a Dataset (anything with ``__len__`` and ``__getitem__``)
    batch_size : samples per batch
    shuffle : a new random order every epoch (from chainrule's seeded generator)
    sampler : an explicit sampler instead of ``shuffle``
    drop_last : drop a last batch smaller than ``batch_size``
    collate_fn : turns a list of samples into a batch (``default_collate``)
    generator : a NumPy generator for shuffling instead of one seeded from chainrule's

    Example
    -------
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    >>> for inputs, targets in loader:
    ...     ...
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, drop_last=False, collate_fn=None,
                 generator=None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: pass either sampler or shuffle=True, not both")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.collate_fn = collate_fn
        if sampler is None:
            sampler = RandomSampler(dataset, generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batches_done = 0  # in the current epoch
        self.resume_from = 0

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = numpy.asarray(self.sampler.epoch_order()) if hasattr(self.sampler, "epoch_order") \
            else numpy.fromiter(iter(self.sampler), dtype=numpy.int64)
        read_batch = None if self.collate_fn is not None else getattr(self.dataset, "get_batch", None)
        skip, self.resume_from = self.resume_from, 0
        self.batches_done = skip
        for batch_number in range(skip, len(self)):
            indices = order[batch_number * self.batch_size:(batch_number + 1) * self.batch_size]
            if read_batch is not None:
                batch = read_batch(indices)
            else:
                batch = (self.collate_fn or default_collate)([self.dataset[int(i)] for i in indices])
            self.batches_done = batch_number + 1
            yield batch
        self.batches_done = 0

    def state_dict(self):
        """Where the loader is: the sampler's epoch state and the batches served this epoch."""
        mid_epoch = self.batches_done > 0
        return {"sampler": self.sampler.state_dict(mid_epoch), "batches_done": self.batches_done}

    def load_state_dict(self, state):
        """Make the next ``iter(loader)`` replay the saved epoch from the first batch not yet served."""
        self.sampler.load_state_dict(state["sampler"])
        self.resume_from = self.batches_done = state["batches_done"]
