"""Embedding, the layer and the function: lookups and accumulated gradients
against PyTorch, the padding row, initialisation, second order, and the
errors for indices out of range."""
import numpy
import pytest

import chainrule
from chainrule.nn.sparse import Embedding
from chainrule.ops.embedding import embedding
from helpers import check_gradients, requires_torch, torch

INDICES = numpy.array([[1, 2, 0, 1], [4, 4, 4, 9]])  # repeats within and across rows


def twins(*args, **kwargs):
    theirs = torch.nn.Embedding(*args, **kwargs).double()
    ours = Embedding(*args, **kwargs).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours, theirs


@requires_torch
@pytest.mark.parametrize("padding_idx", [None, 0, 4, -1])
@pytest.mark.parametrize("indices", [INDICES, INDICES[0], numpy.array(4)], ids=["2d", "1d", "scalar"])
def test_layer_matches_torch(indices, padding_idx):
    ours, theirs = twins(10, 3, padding_idx=padding_idx)
    out = ours(chainrule.tensor(indices))
    expected = theirs(torch.tensor(indices))
    assert out.shape == tuple(expected.shape)
    numpy.testing.assert_array_equal(out.data, expected.detach().numpy())
    v = numpy.random.default_rng(0).standard_normal(out.shape)
    (out * chainrule.tensor(v)).sum().backward()
    (expected * torch.tensor(v)).sum().backward()
    numpy.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gradient_accumulates_over_repeated_indices():
    weight = chainrule.tensor(numpy.zeros((5, 2)), requires_grad=True)
    embedding(chainrule.tensor([3, 1, 3, 3]), weight).sum().backward()
    numpy.testing.assert_array_equal(weight.grad.data[:, 0], [0, 1, 0, 3, 0])


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    chainrule.manual_seed(0)
    layer = Embedding(6, 4, padding_idx=2)
    assert not layer.weight.data[2].any()
    layer(chainrule.tensor([2, 2, 5])).sum().backward()
    assert not layer.weight.grad.data[2].any()
    numpy.testing.assert_array_equal(layer.weight.grad.data[5], numpy.ones(4))


def test_padding_row_outputs_what_it_holds():
    weight = chainrule.tensor(numpy.arange(6.0).reshape(3, 2), requires_grad=True)
    out = embedding(chainrule.tensor([1]), weight, padding_idx=1)
    numpy.testing.assert_array_equal(out.data, [[2.0, 3.0]])


def test_init_is_standard_normal():
    chainrule.manual_seed(0)
    weight = Embedding(1000, 50).weight.data
    assert weight.dtype == numpy.float32 and weight.shape == (1000, 50)
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1) < 0.01


def test_from_pretrained():
    table = Embedding.from_pretrained(chainrule.eye(4, dtype=chainrule.float64))
    assert not table.weight.requires_grad
    numpy.testing.assert_array_equal(table(chainrule.tensor([2])).data, [[0.0, 0.0, 1.0, 0.0]])
    trainable = Embedding.from_pretrained(chainrule.eye(4), freeze=False)
    trainable(chainrule.tensor([0, 0])).sum().backward()
    numpy.testing.assert_array_equal(trainable.weight.grad.data[0], [2.0, 2.0, 2.0, 2.0])


@requires_torch
def test_state_dict_and_repr_match_torch():
    ours, theirs = Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert repr(ours) == repr(theirs)
    assert repr(Embedding(10, 3, padding_idx=-1)) == repr(torch.nn.Embedding(10, 3, padding_idx=-1))


def test_gradients_to_second_order():
    # (Not with padding_idx: its row's gradient is zero on purpose, which finite differences disagree with.)
    rng = numpy.random.default_rng(1)
    indices = chainrule.tensor([[0, 1, 1], [3, 0, 1]])
    check_gradients(lambda w: embedding(indices, w) ** 2, [rng.standard_normal((4, 3))])


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("bad", [10, -1])
def test_index_out_of_range_names_layer_range_and_index(bad):
    with pytest.raises(IndexError, match=rf"Embedding\(10, 3\): index {bad} is out of range \[0, 10\)"):
        Embedding(10, 3)(chainrule.tensor([[1, bad], [2, 3]]))
    with pytest.raises(IndexError, match=rf"embedding: index {bad} is out of range \[0, 10\)"):
        embedding(chainrule.tensor([bad]), chainrule.zeros(10, 3))


def test_float_indices_are_refused():
    with pytest.raises(TypeError, match="indices must be integers"):
        Embedding(10, 3)(chainrule.tensor([1.0, 2.0]))


def test_padding_idx_out_of_range():
    with pytest.raises(ValueError, match="padding_idx 10 is out of range for 10 embeddings"):
        Embedding(10, 3, padding_idx=10)
