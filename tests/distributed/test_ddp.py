"""DistributedDataParallel in a world of one process: buckets, hooks, and the
cases that must neither hang nor go silently wrong (no MPI needed)."""
import gc

import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.distributed import DistributedDataParallel, ddp
from chainrule.distributed.communicator import LocalCommunicator
from chainrule.nn.functional import cross_entropy

TINY_BUCKETS_MB = 100 / 2 ** 20  # 100 bytes


class RecordingCommunicator(LocalCommunicator):
    """A world of one that writes down every collective it starts."""

    def __init__(self, log):
        self.log = log

    def duplicate(self):
        return self

    def start_all_reduce(self, array, op="sum"):
        self.log.append(("all_reduce", array.size))
        return []


@pytest.fixture
def collectives(monkeypatch):
    log = []
    monkeypatch.setattr(ddp, "world", lambda: RecordingCommunicator(log))
    return log


def mlp(seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def batch(seed=1, n=6):
    rng = numpy.random.default_rng(seed)
    return cr.tensor(rng.standard_normal((n, 5)).astype(numpy.float32)), cr.tensor(rng.integers(0, 3, n))


def gradients(model):
    return {name: None if p.grad is None else p.grad.data.copy() for name, p in model.named_parameters()}


def test_gradients_over_one_rank_are_exactly_the_plain_models():
    inputs, targets = batch()
    plain = mlp()
    cross_entropy(plain(inputs), targets).backward()
    wrapped = DistributedDataParallel(mlp(), bucket_cap_mb=TINY_BUCKETS_MB)
    cross_entropy(wrapped(inputs), targets).backward()
    for name, expected in gradients(plain).items():
        numpy.testing.assert_array_equal(gradients(wrapped.module)[name], expected)


def test_the_wrapper_is_a_module_whose_state_dict_keys_start_with_module():
    model = mlp()
    wrapped = DistributedDataParallel(model)
    assert wrapped.module is model
    assert list(wrapped.state_dict()) == ["module." + key for key in model.state_dict()]
    other = DistributedDataParallel(mlp(seed=5))
    other.load_state_dict(wrapped.state_dict())
    for (name, p), q in zip(model.named_parameters(), other.module.parameters()):
        numpy.testing.assert_array_equal(q.data, p.data, err_msg=name)
    assert repr(wrapped).startswith("DistributedDataParallel(\n  (module): Sequential(")
    assert [p is q for p, q in zip(wrapped.parameters(), model.parameters())] == [True] * 4


def test_forward_passes_arguments_and_keywords_and_returns_any_structure():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

        def forward(self, x, scale=1.0):
            return {"out": self.linear(x) * scale, "rest": [x]}

    wrapped = DistributedDataParallel(Pair())
    x = cr.ones(3, 2)
    outputs = wrapped(x, scale=2.0)
    numpy.testing.assert_allclose(outputs["out"].data, wrapped.module.linear(x).data * 2.0)
    outputs["out"].sum().backward()
    assert wrapped.module.linear.weight.grad is not None


def test_buckets_follow_reverse_registration_order_and_the_size_cap():
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 2), nn.Linear(2, 2))  # weights 400, 80, 16 bytes
    wrapped = DistributedDataParallel(model, bucket_cap_mb=100 / 2 ** 20)
    assert wrapped.buckets == [["2.bias", "2.weight", "1.bias"], ["1.weight"], ["0.bias"], ["0.weight"]]
    assert DistributedDataParallel(model).buckets == [["2.bias", "2.weight", "1.bias", "1.weight", "0.bias",
                                                       "0.weight"]]


def test_each_bucket_holds_one_dtype_and_frozen_parameters_stay_out():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.middle, self.last = nn.Linear(3, 3), nn.Linear(3, 3).double(), nn.Linear(3, 3)

        def forward(self, x):
            return self.last(self.middle(self.first(x).double()).float())

    model = Mixed()
    model.last.bias.requires_grad_(False)
    wrapped = DistributedDataParallel(model)
    assert wrapped.buckets == [["last.weight", "first.bias", "first.weight"], ["middle.bias", "middle.weight"]]
    wrapped(cr.ones(2, 3)).sum().backward()
    assert model.middle.weight.grad.dtype == numpy.float64 and model.first.weight.grad.dtype == numpy.float32
    assert model.last.bias.grad is None


def test_one_all_reduce_per_bucket_each_started_before_the_last_gradient_arrives(collectives):
    wrapped = DistributedDataParallel(mlp(), bucket_cap_mb=TINY_BUCKETS_MB)
    for name, p in wrapped.module.named_parameters():
        p.register_hook(lambda grad, name=name: collectives.append(("gradient", name)))
    params = dict(wrapped.module.named_parameters())
    inputs, targets = batch()
    for _ in range(2):
        collectives.clear()
        wrapped.zero_grad()
        cross_entropy(wrapped(inputs), targets).backward()
        reductions = [size for kind, size in collectives if kind == "all_reduce"]
        bucket_sizes = [sum(params[name].numel() for name in names) + len(names) for names in wrapped.buckets]
        assert reductions == bucket_sizes
        assert len(reductions) == len(wrapped.buckets) > 2
        first_reduction = collectives.index(("all_reduce", bucket_sizes[0]))
        last_gradient = max(i for i, (kind, _) in enumerate(collectives) if kind == "gradient")
        assert first_reduction < last_gradient


def test_a_parameter_without_gradient_keeps_none_and_does_not_stop_the_step():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    wrapped = DistributedDataParallel(Branchy(), bucket_cap_mb=TINY_BUCKETS_MB)
    optimizer = optim.SGD(wrapped.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        optimizer.zero_grad()
        wrapped(cr.ones(3, 4)).sum().backward()
        assert wrapped.module.used.weight.grad is not None and wrapped.module.unused.weight.grad is None
        optimizer.step()


def test_a_loss_that_ignores_an_output_needs_synchronize_before_the_next_forward():
    class TwoOutputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.first(x), self.second(x)

    wrapped = DistributedDataParallel(TwoOutputs(), bucket_cap_mb=TINY_BUCKETS_MB)
    first, _ = wrapped(cr.ones(3, 4))
    first.sum().backward()
    with pytest.raises(RuntimeError, match=r"no gradient arrived for \['second.bias', 'second.weight'\]"):
        wrapped(cr.ones(3, 4))
    wrapped.synchronize()
    assert wrapped.module.first.weight.grad is not None and wrapped.module.second.weight.grad is None
    wrapped.zero_grad()
    first, _ = wrapped(cr.ones(3, 4))
    first.sum().backward()
    wrapped.synchronize()
    wrapped.synchronize()  # a second call does nothing
    numpy.testing.assert_array_equal(wrapped.module.first.weight.grad.data, numpy.full((2, 4), 3.0))


def test_a_second_backward_through_one_forward_is_refused():
    wrapped = DistributedDataParallel(mlp())
    inputs, targets = batch()
    loss = cross_entropy(wrapped(inputs), targets)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backward\\(\\) run twice through one forward"):
        loss.backward()


def test_no_sync_accumulates_locally_and_the_next_step_averages_the_sum(collectives):
    inputs, targets = batch()
    plain = mlp()
    for _ in range(2):
        cross_entropy(plain(inputs), targets).backward()
    wrapped = DistributedDataParallel(mlp(), bucket_cap_mb=TINY_BUCKETS_MB)
    with wrapped.no_sync():
        cross_entropy(wrapped(inputs), targets).backward()
    assert collectives == []
    cross_entropy(wrapped(inputs), targets).backward()
    assert len(collectives) == len(wrapped.buckets)
    for name, expected in gradients(plain).items():
        numpy.testing.assert_array_equal(gradients(wrapped.module)[name], expected)


def test_inside_no_sync_the_wrapped_module_may_be_called_directly():
    wrapped = DistributedDataParallel(mlp())
    inputs, targets = batch()
    with wrapped.no_sync():
        cross_entropy(wrapped.module(inputs), targets).backward()
    assert all(p.grad is not None for p in wrapped.parameters())


def test_the_hooks_go_with_the_wrapper():
    model = mlp()
    wrapped = DistributedDataParallel(model)
    del wrapped
    gc.collect()
    inputs, targets = batch()
    cross_entropy(model(inputs), targets).backward()  # no wrapper, so no hook may object
    assert all(p.grad is not None for p in model.parameters())


def test_bucket_cap_must_be_positive_and_the_module_a_module():
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        DistributedDataParallel(mlp(), bucket_cap_mb=0)
    with pytest.raises(TypeError, match="expected an nn.Module, got function"):
        DistributedDataParallel(lambda x: x)


def test_deterministic_reduction_over_one_rank_gives_the_same_gradients():
    inputs, targets = batch()
    expected = DistributedDataParallel(mlp())
    cross_entropy(expected(inputs), targets).backward()
    wrapped = DistributedDataParallel(mlp(), bucket_cap_mb=TINY_BUCKETS_MB, deterministic=True)
    cross_entropy(wrapped(inputs), targets).backward()
    for name, gradient in gradients(expected.module).items():
        numpy.testing.assert_array_equal(gradients(wrapped.module)[name], gradient)
