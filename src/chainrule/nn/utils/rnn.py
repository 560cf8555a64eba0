"""Batches of sequences of different lengths: padded to a common length, or packed.

A ``PackedSequence`` holds the sequences' steps time-major with the padding
left out: first step 0 of every sequence, longest sequence first, then
step 1 of every sequence that has one, and so on; ``batch_sizes[t]`` says
how many sequences have a step t. Recurrent layers take it in place of a
padded input, and each sequence then ends at its own last step.

Packing and padding are a gather and a scatter of rows, made of chainrule's
indexing ops, so gradients flow through them to the padded input.
"""
from typing import NamedTuple, Optional

import numpy

from ... import creation
from ...ops import index_put, pad, stack
from ...tensor import Tensor, constant


class PackedSequence(NamedTuple):
    """Sequences of different lengths packed together, as made by ``pack_padded_sequence``.

    Fields
    ------
    data : Tensor (total steps, *)
        Every sequence's steps, time-major, longest sequence first within a step.
    batch_sizes : int64 Tensor (longest length,)
        How many sequences have each step.
    sorted_indices : int64 Tensor (N,) or None
        The original position of the sequence at each rank of the sorted batch
        (None when the batch came sorted).
    unsorted_indices : int64 Tensor (N,) or None
        The rank of each original sequence: the inverse of ``sorted_indices``.

    Example
    -------
    >>> packed = pack_sequence([chainrule.tensor([1.0, 2.0]), chainrule.tensor([3.0])])
    >>> packed.data, packed.batch_sizes
    (tensor([1., 3., 2.]), tensor([2, 1]))
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None


def packed_positions(sequence):
    """(step, sequence) of each row of ``sequence.data``, sequences counted in
    their original order: the index that gathers a time-major padded batch into
    packed rows."""
    batch_sizes = sequence.batch_sizes.data
    steps = numpy.repeat(numpy.arange(len(batch_sizes)), batch_sizes)
    # Within a step, rows go by rank in the sorted batch: 0, 1, ..., batch_sizes[t] - 1.
    ranks = numpy.arange(len(steps)) - numpy.repeat(numpy.cumsum(batch_sizes) - batch_sizes, batch_sizes)
    if sequence.sorted_indices is None:
        return steps, ranks
    return steps, sequence.sorted_indices.data[ranks]


def _lengths_array(name, lengths):
    lengths = lengths.data if isinstance(lengths, Tensor) else numpy.asarray(lengths)
    if lengths.ndim != 1 or (lengths.size and lengths.dtype.kind not in "iu"):
        raise TypeError(f"{name}: lengths must be a 1-d list or tensor of integers, got {lengths.dtype} "
                        f"of shape {lengths.shape}")
    return lengths.astype(numpy.int64)


def _pack(name, input, lengths, batch_first, enforce_sorted):
    if input.ndim < 2:
        raise ValueError(f"{name}: expected a padded input of at least 2 dims, got shape {input.shape}")
    lengths = _lengths_array(name, lengths)
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if len(lengths) != batch:
        raise RuntimeError(f"{name}: expected one length per sequence, {batch}, got {len(lengths)} lengths")
    if batch == 0 or lengths.min() <= 0:
        raise RuntimeError(f"{name}: every sequence must have at least one step, got lengths {lengths.tolist()}")
    if lengths.max() > steps:
        raise RuntimeError(f"{name}: a length exceeds the input's {steps} steps: got lengths {lengths.tolist()}")
    if enforce_sorted:
        if (numpy.diff(lengths) > 0).any():
            raise RuntimeError(f"{name}: lengths must be sorted in decreasing order when enforce_sorted=True, "
                               f"got {lengths.tolist()}; pass enforce_sorted=False to have them sorted")
        sorted_indices = unsorted_indices = None
    else:
        # A stable sort, so that equal lengths keep their order, as in PyTorch.
        order = numpy.argsort(-lengths, kind="stable")
        sorted_indices, unsorted_indices = constant(order), constant(numpy.argsort(order))
        lengths = lengths[order]
    # batch_sizes[t]: how many sequences are longer than t.
    batch_sizes = (lengths[None, :] > numpy.arange(lengths[0])[:, None]).sum(1)
    packed = PackedSequence(None, constant(batch_sizes), sorted_indices, unsorted_indices)
    steps, sequences = packed_positions(packed)
    data = input[(sequences, steps) if batch_first else (steps, sequences)]
    return packed._replace(data=data)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch of sequences, leaving out the padding.

    Parameters
    ----------
    input : Tensor (L, N, *), or (N, L, *) with ``batch_first``
        Sequence b holds its steps in its first ``lengths[b]`` places.
    lengths : list or 1-d int Tensor of N positive lengths, at most L
    enforce_sorted : bool, default True
        Require ``lengths`` in decreasing order; with False the sequences are
        sorted here and ``sorted_indices`` records how, so that the padded
        results come back in the original order.

    Example
    -------
    >>> x = chainrule.tensor([[4.0, 1.0], [0.0, 2.0], [0.0, 3.0]])        # (L=3, N=2)
    >>> pack_padded_sequence(x, [1, 3], enforce_sorted=False).data
    tensor([1., 4., 2., 3.])
    """
    return _pack("pack_padded_sequence", input, lengths, batch_first, enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a ``PackedSequence`` into a padded batch; the inverse of ``pack_padded_sequence``.

    Returns ``(padded, lengths)``: padded (T, N, *), or (N, T, *) with
    ``batch_first``, holding ``padding_value`` after each sequence's end, and
    the int64 lengths, both in the original order of the sequences. T is the
    longest length, or ``total_length`` when given.

    Example
    -------
    >>> packed = pack_sequence([chainrule.tensor([1.0, 2.0]), chainrule.tensor([3.0])])
    >>> pad_packed_sequence(packed, batch_first=True, padding_value=-1.0)
    (tensor([[ 1.,  2.],
           [ 3., -1.]]), tensor([2, 1]))
    """
    batch_sizes = sequence.batch_sizes.data
    longest, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is None:
        total_length = longest
    elif total_length < longest:
        raise ValueError(f"pad_packed_sequence: total_length must be at least the longest length, {longest}, "
                         f"got {total_length}")
    features = sequence.data.shape[1:]
    shape = (batch, total_length) if batch_first else (total_length, batch)
    padded = creation.full(shape + features, padding_value, dtype=sequence.data.dtype)
    steps, sequences = packed_positions(sequence)
    padded = index_put(padded, (sequences, steps) if batch_first else (steps, sequences), sequence.data)
    lengths = (batch_sizes[None, :] > numpy.arange(batch)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        lengths = lengths[sequence.unsorted_indices.data]
    return padded, constant(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_b, *) into one batch, padded to the longest.

    Returns (L, N, *), or (N, L, *) with ``batch_first``; ``padding_side``
    'right' puts the padding after each sequence, 'left' before it.

    Example
    -------
    >>> pad_sequence([chainrule.tensor([1.0, 2.0]), chainrule.tensor([3.0])], batch_first=True)
    tensor([[1., 2.],
            [3., 0.]])
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected at least one sequence, got none")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    longest = max(len(s) for s in sequences)
    padded = []
    for s in sequences:
        # pad's widths run from the last dim backwards; only dim 0 is padded.
        widths = (0, longest - len(s)) if padding_side == "right" else (longest - len(s), 0)
        padded.append(pad(s, (0, 0) * (s.ndim - 1) + widths, value=padding_value))
    return stack(padded, dim=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes (L_b, *); see ``pack_padded_sequence``.

    Example
    -------
    >>> pack_sequence([chainrule.tensor([1.0]), chainrule.tensor([2.0, 3.0])], enforce_sorted=False).batch_sizes
    tensor([2, 1])
    """
    sequences = list(sequences)
    lengths = [len(s) for s in sequences]
    return _pack("pack_sequence", pad_sequence(sequences), lengths, False, enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences, each cut to its length, in a padded batch; the inverse of ``pad_sequence``.

    Example
    -------
    >>> padded = chainrule.tensor([[1.0, 2.0], [3.0, 0.0]])
    >>> unpad_sequence(padded, [2, 1], batch_first=True)
    [tensor([1., 2.]), tensor([3.])]
    """
    lengths = _lengths_array("unpad_sequence", lengths)
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :length] for b, length in enumerate(lengths.tolist())]


def unpack_sequence(packed_sequences):
    """The list of sequences in a ``PackedSequence``, in their original order; the inverse of ``pack_sequence``.

    Example
    -------
    >>> unpack_sequence(pack_sequence([chainrule.tensor([1.0]), chainrule.tensor([2.0, 3.0])], enforce_sorted=False))
    [tensor([1.]), tensor([2., 3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
