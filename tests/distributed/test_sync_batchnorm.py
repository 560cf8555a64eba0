"""SyncBatchNorm without MPI: on one rank it is BatchNorm, and against a
stand-in second rank holding the same batch it is BatchNorm over both."""
import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.distributed import SyncBatchNorm, convert_sync_batchnorm, sync_batchnorm
from chainrule.distributed.communicator import LocalCommunicator
from chainrule.distributed.sync_batchnorm import _merge_statistics


class MirrorCommunicator(LocalCommunicator):
    """Two ranks, the other one always sending exactly what this one sends."""

    size = 2

    def start_all_gather(self, array, out):
        out[...] = array
        return []

    def start_all_reduce(self, array, op="sum"):
        array *= 2
        return []


def random_array(shape, seed):
    return numpy.random.default_rng(seed).standard_normal(shape)


def with_affine(norm):
    norm.weight.data[...] = random_array(norm.weight.shape, 10)
    norm.bias.data[...] = random_array(norm.bias.shape, 11)
    return norm.double()


def run(norm, x, upstream):
    """The output, and the gradients of sum(output * upstream) for x, weight and bias."""
    inputs = cr.tensor(x, requires_grad=True)
    out = norm(inputs)
    (out * cr.tensor(upstream)).sum().backward()
    return out.data, inputs.grad.data, norm.weight.grad.data, norm.bias.grad.data


@pytest.mark.parametrize("shape, plain", [((6, 4), nn.BatchNorm1d), ((5, 4, 3), nn.BatchNorm1d),
                                          ((3, 4, 2, 2), nn.BatchNorm2d)])
def test_on_one_rank_it_is_batchnorm(shape, plain):
    x, upstream = random_array(shape, 0), random_array(shape, 1)
    synced, expected = with_affine(SyncBatchNorm(4)), with_affine(plain(4))
    for _ in range(2):
        for ours, theirs in zip(run(synced, x, upstream), run(expected, x, upstream)):
            numpy.testing.assert_array_equal(ours, theirs)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        numpy.testing.assert_array_equal(getattr(synced, name).data, getattr(expected, name).data)
    synced.eval(), expected.eval()
    numpy.testing.assert_array_equal(synced(cr.tensor(x)).data, expected(cr.tensor(x)).data)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_over_two_ranks_it_is_batchnorm_over_both_batches(monkeypatch, shape, momentum):
    monkeypatch.setattr(sync_batchnorm, "world", MirrorCommunicator)
    x, upstream = random_array(shape, 0), random_array(shape, 1)
    synced = with_affine(SyncBatchNorm(4, momentum=momentum))
    expected = with_affine(nn.BatchNorm1d(4, momentum=momentum))
    for _ in range(2):
        out, grad_x, grad_weight, grad_bias = run(synced, x, upstream)
        both = run(expected, numpy.concatenate([x, x]), numpy.concatenate([upstream, upstream]))
        numpy.testing.assert_allclose(out, both[0][:len(x)], rtol=1e-12, atol=1e-12)
        # Each rank's input gradient is that of its own loss through the shared
        # statistics; the weight and bias gradients are this rank's share, which
        # DistributedDataParallel then averages over the ranks.
        numpy.testing.assert_allclose(grad_x, both[1][:len(x)], rtol=1e-10, atol=1e-12)
        numpy.testing.assert_allclose(grad_weight, both[2] / 2, rtol=1e-12)
        numpy.testing.assert_allclose(grad_bias, both[3] / 2, rtol=1e-12)
        synced.zero_grad(), expected.zero_grad()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        numpy.testing.assert_allclose(getattr(synced, name).data, getattr(expected, name).data, rtol=1e-12)


def test_double_backward_through_it_is_refused(monkeypatch):
    monkeypatch.setattr(sync_batchnorm, "world", MirrorCommunicator)
    inputs = cr.tensor(random_array((4, 3), 0), requires_grad=True)
    out = SyncBatchNorm(3).double()(inputs)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        cr.grad((out * out).sum(), inputs, create_graph=True)


def test_merged_statistics_are_those_of_the_whole_batch():
    x = random_array((17, 3), 2) * 5 + 100  # a large mean, where Σx² - n mean² would lose digits
    rows = []
    for part in numpy.split(x, [4, 5, 12]):
        rows.append([numpy.full(3, len(part)), part.mean(axis=0), ((part - part.mean(axis=0)) ** 2).sum(axis=0)])
    count, mean, m2 = _merge_statistics(numpy.array(rows))
    assert count == 17
    numpy.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-14)
    numpy.testing.assert_allclose(m2 / count, x.var(axis=0), rtol=1e-12)


def test_convert_replaces_every_batchnorm_and_keeps_its_tensors():
    shared = nn.BatchNorm1d(4)
    inner = nn.Sequential(nn.Linear(3, 4), shared)
    model = nn.Sequential(inner, nn.ReLU(), shared, nn.BatchNorm2d(2, affine=False).eval())
    old = list(model.parameters()) + list(model.buffers())
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    converted = convert_sync_batchnorm(model)
    assert converted is model
    assert type(model[0][1]) is SyncBatchNorm and model[0][1] is model[2]
    assert type(model[3]) is SyncBatchNorm and not model[3].training and model[3].weight is None
    assert [id(t) for t in list(model.parameters()) + list(model.buffers())] == [id(t) for t in old]
    model[2].weight.grad = cr.ones(4)
    optimizer.step()
    numpy.testing.assert_array_equal(shared.weight.data, numpy.zeros(4))
    alone = convert_sync_batchnorm(nn.BatchNorm2d(3, momentum=0.3, eps=1e-3))
    assert repr(alone) == "SyncBatchNorm(3, eps=0.001, momentum=0.3, affine=True, track_running_stats=True)"
