"""Datasets: indexable collections of samples.

A dataset answers ``len(ds)`` and ``ds[i]``. Datasets whose samples are rows
of arrays also answer ``ds.get_batch(indices)`` with whole batches at once
(one fancy-indexing read per array instead of a Python loop per sample),
which the DataLoader uses when it can.
"""
import numpy

from ..random import default_generator
from ..tensor import Tensor


class Dataset:
    """Base class: subclass it and define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long tensors or arrays.

    Example
    -------
    >>> ds = TensorDataset(chainrule.randn(100, 3), chainrule.randint(0, 2, (100,)))
    >>> x, y = ds[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.arrays = [t.data if isinstance(t, Tensor) else numpy.asarray(t) for t in tensors]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: tensors have different lengths {[len(a) for a in self.arrays]}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(Tensor._make(numpy.asarray(a[index]), None, None) for a in self.arrays)

    def get_batch(self, indices):
        return tuple(Tensor._make(a[indices], None, None) for a in self.arrays)


class NpyDataset(TensorDataset):
    """Rows of ``.npy`` files read through memory maps, so a dataset larger
    than memory trains with flat memory use: only the rows of each batch are
    read from disk.

    Example
    -------
    >>> ds = NpyDataset("inputs.npy", "labels.npy")
    """

    def __init__(self, *paths):
        super().__init__(*[numpy.load(path, mmap_mode="r", allow_pickle=False) for path in paths])

    def get_batch(self, indices):
        # Reading in ascending order keeps disk access sequential; the batch keeps its order.
        order = numpy.argsort(indices)
        restore = numpy.empty_like(order)
        restore[order] = numpy.arange(len(order))
        sorted_indices = numpy.asarray(indices)[order]
        return tuple(Tensor._make(numpy.asarray(a[sorted_indices])[restore], None, None) for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, numpy.asarray(indices, dtype=numpy.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    @property
    def get_batch(self):
        """Whole-batch reads, where the underlying dataset has them."""
        read = getattr(self.dataset, "get_batch", None)
        if read is None:
            raise AttributeError("get_batch")
        return lambda indices: read(self.indices[indices])


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping random subsets of the given lengths (or
    fractions summing to 1, as in PyTorch: remainders go to the first subsets).

    Example
    -------
    >>> train, val = random_split(ds, [0.8, 0.2])
    """
    n = len(dataset)
    lengths = list(lengths)
    if all(0 <= f <= 1 for f in lengths) and abs(sum(lengths) - 1) < 1e-9 and sum(lengths) != n:
        counts = [int(numpy.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} add up to {sum(lengths)}, but the dataset has {n} samples")
    order = (generator or default_generator()).permutation(n)
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start:start + length]))
        start += length
    return subsets
