"""Embedding: a lookup table of learned vectors, one per token id."""
from .. import creation
from ..ops.embedding import Embedding as EmbeddingLookup, check_indices, normalize_padding_idx
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """Maps integer ids in [0, num_embeddings) to rows of ``weight``
    (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch.

    The row ``padding_idx`` (if given) starts at zero and receives no
    gradient, so it stays a fixed "no token" vector.

    Example
    -------
    >>> table = nn.Embedding(1000, 16, padding_idx=0)
    >>> table(chainrule.tensor([[5, 7, 0]])).shape
    (1, 3, 16)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = normalize_padding_idx(f"Embedding({num_embeddings}, {embedding_dim})",
                                                 padding_idx, num_embeddings)
        self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, dtype=dtype))
        self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of ``embeddings`` (2-D); ``freeze`` keeps it from training.

        Example
        -------
        >>> table = nn.Embedding.from_pretrained(chainrule.eye(4))
        >>> table(chainrule.tensor([2])).tolist()
        [[0.0, 0.0, 1.0, 0.0]]
        """
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected a 2-D tensor, got shape {embeddings.shape}")
        layer = cls(*embeddings.shape, padding_idx=padding_idx, dtype=embeddings.dtype)
        layer.weight.data[...] = embeddings.data
        layer.weight.requires_grad_(not freeze)
        return layer

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        indices = check_indices(repr(self), input, self.num_embeddings)
        return EmbeddingLookup.apply(self.weight, indices=indices, padding_idx=self.padding_idx)

    def extra_repr(self):
        padding = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
