"""DistributedSampler: each rank's share of every epoch's order."""
import numpy

from .world import rank as current_rank
from .world import world_size


class DistributedSampler:
    """The indices of one rank's shard of the dataset, a new shuffle each epoch.

    Every rank draws the same permutation (seeded by ``seed + epoch``), pads
    it by repeating its start until it divides evenly, and takes every
    ``num_replicas``-th index from position ``rank``. The shards of one
    epoch are disjoint apart from the padding, cover the dataset, and have
    equal lengths, so every rank takes the same number of steps (a rank
    with fewer batches would leave the others waiting in a collective).
    With ``pad=False`` nothing repeats and the lengths differ by at most one.

    Each ``epoch_order()`` (called by the DataLoader at the start of each
    epoch) serves the current epoch and moves on to the next, so epochs
    reshuffle without ``set_epoch``; call ``set_epoch(n)`` to choose one.
    It follows the DataLoader's sampler protocol, so a loader's
    ``state_dict`` resumes it mid-epoch.

    Parameters
    ----------
    dataset : anything with ``len()``
    num_replicas : number of shards (default: ``world_size()``)
    rank : which shard (default: this process's rank)
    shuffle : a new permutation each epoch; otherwise 0, 1, …, n-1
    seed : the same on every rank
    drop_last : drop the tail that does not divide evenly instead of padding
    pad : pad to equal shards (the default, which training needs). With
        False, no index repeats and the shards differ in length by at most
        one: right for evaluation, where ranks take no collective step per
        batch and a repeated sample would be counted twice

    Example
    -------
    >>> sampler = DistributedSampler(train_set, shuffle=True, seed=0)
    >>> loader = DataLoader(train_set, batch_size=32, sampler=sampler)   # 32 per rank
    >>> for epoch in range(10):
    ...     for inputs, targets in loader:
    ...         ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False, pad=True):
        num_replicas = world_size() if num_replicas is None else num_replicas
        rank = current_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank!r}")
        if 0 < len(dataset) < num_replicas:
            raise ValueError(f"DistributedSampler: {num_replicas} ranks but only {len(dataset)} samples; every rank "
                             f"needs at least one sample per epoch, so run on at most {len(dataset)} ranks")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.pad = shuffle, seed, drop_last, pad
        self.epoch = 0  # the epoch whose order epoch_order() serves next
        self.current_epoch = 0  # the epoch served last (the one in progress)

    def __len__(self):
        """How many indices this rank gets per epoch."""
        n = len(self.dataset)
        if not self.pad and not self.drop_last:
            return len(range(self.rank, n, self.num_replicas))
        return n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)

    def set_epoch(self, epoch):
        """Make the next ``epoch_order()`` serve ``epoch`` (its shuffle is seeded by seed + epoch)."""
        self.epoch = int(epoch)

    def epoch_order(self):
        """This rank's indices for the current epoch, as an array; then move to the next epoch."""
        n = len(self.dataset)
        if self.shuffle:
            order = numpy.random.Generator(numpy.random.PCG64(self.seed + self.epoch)).permutation(n)
        else:
            order = numpy.arange(n)
        total = n if not self.pad and not self.drop_last else len(self) * self.num_replicas
        if total > n:
            order = numpy.resize(order, total)  # repeats the order from its start
        self.current_epoch = self.epoch
        self.epoch += 1
        return order[:total][self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.epoch_order().tolist())

    def state_dict(self, mid_epoch=False):
        """The epoch in progress (``mid_epoch``) or the next one, and the sharding it depends on."""
        return {"epoch": self.current_epoch if mid_epoch else self.epoch, "seed": self.seed,
                "num_replicas": self.num_replicas}

    def load_state_dict(self, state):
        if state["num_replicas"] != self.num_replicas:
            raise ValueError(
                f"DistributedSampler.load_state_dict: the state was saved by a run with "
                f"{state['num_replicas']} ranks, this one has {self.num_replicas}; resume with "
                f"`mpiexec -n {state['num_replicas']}`, since the shards depend on the number of ranks"
            )
        if state["seed"] != self.seed:
            raise ValueError(f"DistributedSampler.load_state_dict: the state was saved with seed "
                             f"{state['seed']}, this sampler has seed {self.seed}")
        self.epoch = self.current_epoch = state["epoch"]
