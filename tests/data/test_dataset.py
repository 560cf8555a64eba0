"""Datasets: rows of arrays, subsets and random splits."""
import numpy
import pytest

import chainrule as cr
from chainrule.data import Subset, TensorDataset, random_split


def test_tensor_dataset_rows_and_batches():
    ds = TensorDataset(cr.arange(5) * 2, numpy.arange(5) + 100)
    x, y = ds[3]
    assert len(ds) == 5 and x.item() == 6 and y.item() == 103
    xs, ys = ds.get_batch(numpy.array([4, 0]))
    assert xs.tolist() == [8, 0] and ys.tolist() == [104, 100]
    with pytest.raises(ValueError, match="different lengths"):
        TensorDataset(cr.zeros(3), cr.zeros(4))


def test_subset_reads_through_to_the_dataset():
    sub = Subset(TensorDataset(cr.arange(10)), [7, 2, 5])
    assert len(sub) == 3 and sub[1][0].item() == 2
    assert sub.get_batch(numpy.array([0, 2]))[0].tolist() == [7, 5]


@pytest.mark.parametrize("lengths, sizes", [([6, 4], [6, 4]), ([0.5, 0.3, 0.2], [5, 3, 2]), ([0.34, 0.33, 0.33], [4, 3, 3])])
def test_random_split_partitions_the_dataset(lengths, sizes):
    cr.manual_seed(0)
    parts = random_split(TensorDataset(cr.arange(10)), lengths)
    assert [len(p) for p in parts] == sizes
    seen = sorted(int(i) for p in parts for i in p.indices)
    assert seen == list(range(10))


def test_random_split_follows_the_seed_and_checks_lengths():
    cr.manual_seed(1)
    a = random_split(TensorDataset(cr.arange(10)), [5, 5])[0].indices.tolist()
    cr.manual_seed(1)
    assert random_split(TensorDataset(cr.arange(10)), [5, 5])[0].indices.tolist() == a
    with pytest.raises(ValueError, match="add up to 9"):
        random_split(TensorDataset(cr.arange(10)), [5, 4])
