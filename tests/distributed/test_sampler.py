"""DistributedSampler: shards, shuffling, and resuming through the DataLoader (no MPI needed)."""
import numpy
import pytest

from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import DistributedSampler


def shards(size, replicas, epoch=0, **options):
    samplers = [DistributedSampler(range(size), num_replicas=replicas, rank=r, **options) for r in range(replicas)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    return [sampler.epoch_order() for sampler in samplers], samplers


@pytest.mark.parametrize("size", [4, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_are_equal_disjoint_and_cover_the_dataset(size, replicas, shuffle):
    orders, samplers = shards(size, replicas, shuffle=shuffle)
    assert {len(order) for order in orders} == {len(samplers[0])} == {-(-size // replicas)}
    together = numpy.concatenate(orders)
    assert set(together.tolist()) == set(range(size))
    assert len(together) - len(set(together.tolist())) == -size % replicas  # only the padding repeats


@pytest.mark.parametrize("size, replicas", [(10, 3), (12, 4), (5, 2), (4, 3)])
def test_drop_last_drops_the_uneven_tail_instead_of_padding(size, replicas):
    orders, samplers = shards(size, replicas, drop_last=True)
    assert {len(order) for order in orders} == {len(samplers[0])} == {size // replicas}
    together = numpy.concatenate(orders)
    assert len(set(together.tolist())) == len(together) == size - size % replicas


@pytest.mark.parametrize("size, replicas", [(10, 3), (12, 4), (5, 2), (4, 3), (7, 1)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_without_padding_every_sample_is_in_exactly_one_shard(size, replicas, shuffle):
    orders, samplers = shards(size, replicas, shuffle=shuffle, pad=False)
    assert [len(order) for order in orders] == [len(sampler) for sampler in samplers]
    assert max(map(len, orders)) - min(map(len, orders)) <= 1
    assert sorted(numpy.concatenate(orders).tolist()) == list(range(size))


def test_every_rank_cuts_the_same_permutation_seeded_by_seed_plus_epoch():
    orders, _ = shards(10, 3, epoch=4, seed=5)
    permutation = numpy.random.Generator(numpy.random.PCG64(5 + 4)).permutation(10)
    padded = numpy.resize(permutation, 12)
    for rank, order in enumerate(orders):
        numpy.testing.assert_array_equal(order, padded[rank::3])
    numpy.testing.assert_array_equal(shards(10, 3, epoch=3, seed=6)[0][1], orders[1])


def test_without_shuffle_ranks_take_turns_through_the_dataset():
    orders, _ = shards(7, 2, shuffle=False)
    assert [order.tolist() for order in orders] == [[0, 2, 4, 6], [1, 3, 5, 0]]


def test_each_epoch_reshuffles_without_set_epoch_and_set_epoch_chooses_one():
    sampler = DistributedSampler(range(20), num_replicas=2, rank=1, seed=1)
    first, second = sampler.epoch_order(), sampler.epoch_order()
    assert not numpy.array_equal(first, second)
    sampler.set_epoch(0)
    numpy.testing.assert_array_equal(sampler.epoch_order(), first)
    assert list(sampler) == second.tolist()


def test_defaults_come_from_the_world_of_one():
    sampler = DistributedSampler(range(5))
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (1, 0, 5)


def test_an_empty_dataset_gives_every_rank_an_empty_shard():
    assert [list(sampler) for sampler in shards(0, 2)[1]] == [[], []]


def test_more_ranks_than_samples_are_refused():
    with pytest.raises(ValueError, match=r"DistributedSampler: 4 ranks but only 3 samples; .* at most 3 ranks"):
        DistributedSampler(range(3), num_replicas=4, rank=0)


@pytest.mark.parametrize("replicas, rank", [(0, 0), (2, 2), (2, -1)])
def test_a_rank_outside_the_replicas_is_refused(replicas, rank):
    with pytest.raises(ValueError, match="DistributedSampler"):
        DistributedSampler(range(5), num_replicas=replicas, rank=rank)


@pytest.mark.parametrize("stop_after", [0, 1, 3])
def test_a_loader_resumed_mid_epoch_replays_exactly_the_remaining_batches(stop_after):
    data = TensorDataset(numpy.arange(23))

    def loader():
        return DataLoader(data, batch_size=2, sampler=DistributedSampler(data, num_replicas=3, rank=2, seed=9))

    def served(a_loader):
        return [batch[0].tolist() for batch in a_loader]

    original = loader()
    served(original)  # one whole epoch first, so the state is not the initial one
    batches = iter(original)
    for _ in range(stop_after):
        next(batches)
    state = original.state_dict()
    rest_of_epoch = [batch[0].tolist() for batch in batches]
    next_epoch = served(original)

    resumed = loader()
    resumed.load_state_dict(state)
    assert served(resumed) == rest_of_epoch
    assert served(resumed) == next_epoch


def test_resuming_with_another_number_of_ranks_or_seed_is_refused():
    state = DistributedSampler(range(10), num_replicas=4, rank=0).state_dict()
    with pytest.raises(ValueError, match="saved by a run with 4 ranks, this one has 2; resume with `mpiexec -n 4`"):
        DistributedSampler(range(10), num_replicas=2, rank=0).load_state_dict(state)
    with pytest.raises(ValueError, match="saved with seed 0, this sampler has seed 3"):
        DistributedSampler(range(10), num_replicas=4, rank=0, seed=3).load_state_dict(state)
