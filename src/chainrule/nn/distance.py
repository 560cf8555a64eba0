"""Distances between rows as modules: PairwiseDistance and CosineSimilarity."""
from ..ops.loss import cosine_similarity, pairwise_distance
from .module import Module


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim (``F.pairwise_distance``).

    Example
    -------
    >>> PairwiseDistance()(chainrule.zeros(4, 3), chainrule.ones(4, 3)).shape
    (4,)
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """The cosine of the angle between x1 and x2 along ``dim`` (``F.cosine_similarity``).

    Example
    -------
    >>> CosineSimilarity(dim=1)(chainrule.ones(4, 3), chainrule.ones(4, 3))
    tensor([1., 1., 1., 1.])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)
