"""Embedding lookup: rows of a weight matrix picked by integer indices.

The forward is a gather of rows; its adjoint adds each output row's
gradient into the row it came from, so a row used k times receives the sum
of k gradients. The row ``padding_idx`` stands for "no token" and receives
no gradient at all.
"""
from ..autograd import Function
from ..backend import array_module, as_array
from ..tensor import Tensor, constant
from .elementwise import where
from .index import IndexAdd


class Embedding(Function):
    saves_inputs = False

    def forward(self, weight, indices, padding_idx):
        self.weight_shape, self.indices, self.padding_idx = weight.shape, indices, padding_idx
        return array_module(weight).take(weight, indices, axis=0)

    def backward(self, g):
        if self.padding_idx is not None:
            g = where(constant((self.indices == self.padding_idx)[..., None]), 0.0, g)
        # Adding into zeros at the indices; differentiable, with a gather as its own backward.
        return IndexAdd.apply(g, shape=self.weight_shape, index=(self.indices,), accumulate=True)


def check_indices(name, indices, num_embeddings):
    """``indices`` as an integer array, or an error that names ``name``, the valid
    range and the first index outside it."""
    indices = indices.data if isinstance(indices, Tensor) else as_array(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {indices.dtype}; convert with .long()")
    if indices.size:
        bad = (indices < 0) | (indices >= num_embeddings)
        if bad.any():
            raise IndexError(f"{name}: index {indices[bad].flat[0]} is out of range [0, {num_embeddings}) "
                             f"(indices of shape {indices.shape})")
    return indices


def normalize_padding_idx(name, padding_idx, num_embeddings):
    """``padding_idx`` in [0, num_embeddings), counting a negative one from the end."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx {padding_idx} is out of range for {num_embeddings} embeddings")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None):
    """The rows of ``weight`` at the integer ``input``: output shape ``input.shape + (dim,)``.

    Parameters
    ----------
    input : integer tensor of any shape, values in [0, num_embeddings)
    weight : (num_embeddings, embedding_dim)
    padding_idx : a row that receives no gradient (its output is still the row)

    Example
    -------
    >>> weight = chainrule.randn(10, 3, requires_grad=True)
    >>> out = embedding(chainrule.tensor([[1, 2], [1, 9]]), weight)
    >>> out.shape
    (2, 2, 3)
    >>> out.sum().backward(); weight.grad[1]    # row 1 was used twice
    tensor([2., 2., 2.])
    """
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got shape {weight.shape}")
    num_embeddings = weight.shape[0]
    indices = check_indices("embedding", input, num_embeddings)
    padding_idx = normalize_padding_idx("embedding", padding_idx, num_embeddings)
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx)
