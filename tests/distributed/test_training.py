"""Helpers for training loops on several ranks, in a world of one (no MPI needed)."""
import math

import numpy
import pytest

import chainrule as cr
from chainrule import distributed, nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Trainer


def test_average_metrics_over_one_rank_returns_the_values_unchanged():
    logs = {"loss": 0.1, "accuracy": 0.3, "empty": math.nan}
    assert distributed.average_metrics(logs, count=3) == pytest.approx(logs, nan_ok=True)
    assert list(distributed.average_metrics(logs)) == ["loss", "accuracy", "empty"]
    with pytest.raises(TypeError, match="'note' is a str, expected a number"):
        distributed.average_metrics({"note": "fast"})


def test_unwrap_and_synchronize_accept_plain_and_wrapped_models():
    model = nn.Linear(2, 2)
    wrapped = distributed.DistributedDataParallel(model)
    assert distributed.unwrap_model(wrapped) is model and distributed.unwrap_model(model) is model
    wrapped(cr.ones(1, 2)).sum().backward()
    distributed.synchronize_gradients(wrapped)
    distributed.synchronize_gradients(model)
    assert model.weight.grad is not None


def test_shard_loader_keeps_the_batch_size_and_reads_the_whole_dataset_on_one_rank():
    data = TensorDataset(numpy.arange(10))
    loader = distributed.shard_loader(DataLoader(data, batch_size=3), shuffle=True, seed=4)
    assert isinstance(loader.sampler, distributed.DistributedSampler) and loader.batch_size == 3
    assert sorted(numpy.concatenate([batch[0].data for batch in loader]).tolist()) == list(range(10))


def test_the_trainer_trains_a_wrapped_model_and_its_checkpoint_resumes(tmp_path):
    rng = numpy.random.default_rng(0)
    inputs = rng.standard_normal((32, 4)).astype(numpy.float32)
    data = TensorDataset(inputs, (inputs[:, 0] > 0).astype(numpy.int64))

    def trainer():
        cr.manual_seed(0)
        model = distributed.DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)))
        loader = distributed.shard_loader(DataLoader(data, batch_size=8), seed=1)
        return Trainer(model, optim.SGD(model.parameters(), lr=0.5), progress=False,
                       checkpoint_path=str(tmp_path / "checkpoint.safetensors")), loader

    uninterrupted, loader = trainer()
    history = uninterrupted.fit(loader, epochs=3)
    assert history["loss"][-1] < history["loss"][0]
    first, loader = trainer()
    first.fit(loader, epochs=2)
    resumed, loader = trainer()
    resumed.fit(loader, epochs=3, resume_from=str(tmp_path / "checkpoint.safetensors"))
    for ours, theirs in zip(resumed.model.parameters(), uninterrupted.model.parameters()):
        numpy.testing.assert_array_equal(ours.data, theirs.data)
