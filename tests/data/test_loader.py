"""DataLoader semantics: order, batching, collation, and resuming mid-epoch."""
import subprocess
import sys
import textwrap

import numpy
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, NpyDataset, RandomSampler, TensorDataset, default_collate


def dataset(n=10):
    return TensorDataset(cr.arange(n), cr.arange(n) * 10)


def first_column(loader):
    return [batch[0].tolist() for batch in loader]


def test_sequential_batches_and_last_partial_batch():
    loader = DataLoader(dataset(), batch_size=4)
    assert first_column(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(loader) == 3
    dropped = DataLoader(dataset(), batch_size=4, drop_last=True)
    assert first_column(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2


def test_targets_travel_with_their_inputs():
    for inputs, targets in DataLoader(dataset(), batch_size=3, shuffle=True):
        numpy.testing.assert_array_equal(targets.data, inputs.data * 10)


def test_shuffling_is_a_permutation_that_changes_every_epoch_and_follows_the_seed():
    cr.manual_seed(3)
    loader = DataLoader(dataset(50), batch_size=7, shuffle=True)
    epoch1 = sum(first_column(loader), [])
    epoch2 = sum(first_column(loader), [])
    assert sorted(epoch1) == list(range(50)) and sorted(epoch2) == list(range(50))
    assert epoch1 != epoch2 and epoch1 != list(range(50))
    cr.manual_seed(3)
    assert sum(first_column(DataLoader(dataset(50), batch_size=7, shuffle=True)), []) == epoch1


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4])
def test_resuming_mid_epoch_replays_exactly_the_remaining_batches(stop_after):
    cr.manual_seed(11)
    loader = DataLoader(dataset(20), batch_size=3, shuffle=True)
    first_column(loader)  # one whole epoch first, so the state is not the initial one
    batches = iter(loader)
    for _ in range(stop_after):
        next(batches)
    state = loader.state_dict()
    rest_of_epoch = [b[0].tolist() for b in batches]
    next_epoch = first_column(loader)

    resumed = DataLoader(dataset(20), batch_size=3, shuffle=True)
    resumed.load_state_dict(state)
    assert first_column(resumed) == rest_of_epoch
    assert first_column(resumed) == next_epoch


def test_state_saved_between_epochs_starts_the_next_epoch():
    cr.manual_seed(5)
    loader = DataLoader(dataset(12), batch_size=5, shuffle=True)
    first_column(loader)
    state = loader.state_dict()
    expected = first_column(loader)
    resumed = DataLoader(dataset(12), batch_size=5, shuffle=True)
    resumed.load_state_dict(state)
    assert first_column(resumed) == expected


class Records(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"image": numpy.full((2, 2), i, dtype=numpy.float32), "label": i, "name": f"r{i}"}


def test_default_collate_handles_dicts_numbers_and_strings():
    batch = next(iter(DataLoader(Records(), batch_size=3)))
    assert batch["image"].shape == (3, 2, 2) and batch["image"].dtype == cr.float32
    assert batch["label"].tolist() == [0, 1, 2] and batch["label"].dtype == cr.int64
    assert batch["name"] == ["r0", "r1", "r2"]
    assert default_collate([(1.5, True), (2.5, False)])[1].dtype == cr.bool


def test_custom_collate_and_sampler():
    loader = DataLoader(dataset(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0], collate_fn=lambda s: [x.item() for x, _ in s])
    assert list(loader) == [[5, 4], [3, 2], [1, 0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(dataset(), batch_size=0)
    with pytest.raises(ValueError, match="sampler or shuffle"):
        DataLoader(dataset(), sampler=RandomSampler(dataset()), shuffle=True)


def test_npy_dataset_reads_batches_from_disk(tmp_path):
    inputs = numpy.arange(60, dtype=numpy.float32).reshape(20, 3)
    numpy.save(tmp_path / "x.npy", inputs)
    numpy.save(tmp_path / "y.npy", numpy.arange(20))
    cr.manual_seed(0)
    for x, y in DataLoader(NpyDataset(tmp_path / "x.npy", tmp_path / "y.npy"), batch_size=6, shuffle=True):
        numpy.testing.assert_array_equal(x.data, inputs[y.data])


def test_a_dataset_larger_than_the_batches_trains_with_flat_memory(tmp_path):
    """A 200 MB memory-mapped file read in batches of 64 rows: the process's
    own (anonymous) memory stays flat; the file's pages belong to the page cache."""
    rows, width, batch = 50_000, 1_000, 64  # file = 50,000 x 1,000 float32 = 200 MB > batch x 1,000 rows
    path = tmp_path / "big.npy"
    array = numpy.lib.format.open_memmap(path, mode="w+", dtype=numpy.float32, shape=(rows, width))
    array[:] = 1.0
    array.flush()
    del array
    script = textwrap.dedent(f"""
        import chainrule as cr
        from chainrule.data import DataLoader, NpyDataset

        def anonymous_kb():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])

        cr.manual_seed(0)
        loader = DataLoader(NpyDataset({str(path)!r}), batch_size={batch}, shuffle=True)
        before, peak, total = anonymous_kb(), 0, 0.0
        for (x,) in loader:
            total += float(x.data.sum())
            peak = max(peak, anonymous_kb())
        print(peak - before, total)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    growth_kb, total = int(out[0]), float(out[1])
    assert total == rows * width
    assert growth_kb < 20_000, f"anonymous memory grew by {growth_kb} kB while reading a 200 MB file"
