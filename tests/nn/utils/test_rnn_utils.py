"""Packing and padding batches of sequences, against PyTorch in float64: the
packed fields, the round trips and the gradients through them to the padded
input; finite differences; the errors a user can cause."""
import numpy
import pytest

import chainrule
from chainrule.nn.utils import rnn
from chainrule.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                    pad_sequence, unpad_sequence)
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch

# Sorted, and unsorted with ties (kept in order, as by PyTorch's stable sort); the longest shorter than the input.
LENGTHS = {"sorted": ([5, 3, 3, 1], True), "unsorted": ([2, 5, 1, 5, 2], False), "short": ([1, 3, 2], False)}


def padded_input(lengths, batch_first, features=(2,)):
    steps, batch = 6, len(lengths)
    return random_inputs([((batch, steps) if batch_first else (steps, batch)) + features])[0]


def assert_same_indices(ours, theirs):
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        mine, expected = getattr(ours, field), getattr(theirs, field)
        if expected is None:
            assert mine is None, field
        else:
            assert mine.dtype == numpy.int64, field
            numpy.testing.assert_array_equal(mine.data, expected.numpy(), err_msg=field)


@requires_torch
@pytest.mark.parametrize("features", [(2,), (), (2, 3)], ids=["vectors", "scalars", "matrices"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("case", LENGTHS)
def test_pack_padded_sequence_matches_torch(case, batch_first, features):
    lengths, enforce_sorted = LENGTHS[case]
    x = padded_input(lengths, batch_first, features)
    compare_with_torch(lambda x: pack_padded_sequence(x, lengths, batch_first, enforce_sorted).data,
                       lambda x: torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted).data,
                       [x])
    ours = pack_padded_sequence(chainrule.tensor(x), chainrule.tensor(lengths), batch_first, enforce_sorted)
    assert isinstance(ours, PackedSequence) and isinstance(ours, tuple)
    assert_same_indices(ours, torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, batch_first,
                                                                       enforce_sorted))


@requires_torch
@pytest.mark.parametrize("total_length", [None, 8])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("case", LENGTHS)
def test_pad_packed_sequence_round_trip_matches_torch(case, batch_first, total_length):
    lengths, enforce_sorted = LENGTHS[case]

    def round_trip(module, x):
        packed = module.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
        return module.pad_packed_sequence(packed, batch_first, padding_value=-3.0, total_length=total_length)

    compare_with_torch(lambda x: round_trip(rnn, x), lambda x: round_trip(torch.nn.utils.rnn, x),
                       [padded_input(lengths, batch_first)])


@requires_torch
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    sequences = random_inputs([(2, 3), (4, 3), (1, 3)])
    compare_with_torch(lambda *s: pad_sequence(s, batch_first, 1.5, padding_side),
                       lambda *s: torch.nn.utils.rnn.pad_sequence(s, batch_first, 1.5, padding_side), sequences)


@requires_torch
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_match_torch(enforce_sorted):
    sequences = random_inputs([(4, 2), (3, 2), (1, 2)] if enforce_sorted else [(1, 2), (4, 2), (3, 2)])

    def packed_and_back(module, *s):
        packed = module.pack_sequence(s, enforce_sorted)
        return (packed.data,) + tuple(module.unpack_sequence(packed))

    compare_with_torch(lambda *s: packed_and_back(rnn, *s), lambda *s: packed_and_back(torch.nn.utils.rnn, *s),
                       sequences)


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
def test_unpad_sequence_inverts_pad_sequence(batch_first):
    sequences = [chainrule.tensor(a) for a in random_inputs([(2, 3), (4, 3), (1, 3)])]
    padded = pad_sequence(sequences, batch_first)
    for original, back in zip(sequences, unpad_sequence(padded, [2, 4, 1], batch_first)):
        numpy.testing.assert_array_equal(back.data, original.data)


def test_pack_and_pad_gradients_by_finite_differences():
    lengths = [2, 3, 1]

    def round_trip(x):
        packed = pack_padded_sequence(x * x, lengths, enforce_sorted=False)
        return packed.data, pad_packed_sequence(packed, total_length=4)[0]

    check_gradients(round_trip, random_inputs([(3, 3, 2)]))


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("lengths, kwargs, expected", [
    ([2, 3, 1], {}, r"pack_padded_sequence: lengths must be sorted in decreasing order when enforce_sorted=True, "
                    r"got \[2, 3, 1\]; pass enforce_sorted=False"),
    ([3, 0, 1], {"enforce_sorted": False}, r"pack_padded_sequence: every sequence must have at least one step"),
    ([5, 3, 1], {}, r"pack_padded_sequence: a length exceeds the input's 4 steps: got lengths \[5, 3, 1\]"),
    ([3, 2], {}, r"pack_padded_sequence: expected one length per sequence, 3, got 2 lengths"),
])
def test_pack_padded_sequence_errors(lengths, kwargs, expected):
    with pytest.raises(RuntimeError, match=expected):
        pack_padded_sequence(chainrule.zeros(4, 3, 2), lengths, **kwargs)


def test_other_errors_name_the_function():
    with pytest.raises(TypeError, match=r"pack_padded_sequence: lengths must be a 1-d list or tensor of integers"):
        pack_padded_sequence(chainrule.zeros(4, 3), [3.0, 2.0, 1.0])
    with pytest.raises(RuntimeError, match="pack_sequence: lengths must be sorted"):
        pack_sequence([chainrule.zeros(1), chainrule.zeros(2)])
    packed = pack_sequence([chainrule.zeros(3), chainrule.zeros(2)])
    with pytest.raises(ValueError, match=r"pad_packed_sequence: total_length must be at least the longest "
                                         r"length, 3, got 2"):
        pad_packed_sequence(packed, total_length=2)
    with pytest.raises(ValueError, match=r"pad_sequence: padding_side must be 'left' or 'right', got 'up'"):
        pad_sequence([chainrule.zeros(2)], padding_side="up")
    with pytest.raises(ValueError, match="pad_sequence: expected at least one sequence"):
        pad_sequence([])
