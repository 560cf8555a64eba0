"""Flatten and Unflatten: reshape inside a Sequential."""
import math

from .module import Module


class Flatten(Module):
    """Merge dims ``start_dim``..``end_dim`` (by default all but the batch dim).

    Example
    -------
    >>> nn.Flatten()(chainrule.zeros(32, 3, 8, 8)).shape
    (32, 192)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        # dim d >= 0 needs d + 1 dims, d < 0 needs -d; a 0-d input counts as
        # having one dim (it flattens to shape (1,)), as in PyTorch.
        needed = max(d + 1 if d >= 0 else -d for d in (self.start_dim, self.end_dim))
        if max(input.ndim, 1) < needed:
            raise ValueError(f"{self!r}: expected an input with at least {needed} dims, got shape {input.shape}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (one entry may be -1, inferred).

    Example
    -------
    >>> nn.Unflatten(1, (3, 8, 8))(chainrule.zeros(32, 192)).shape
    (32, 3, 8, 8)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        known = math.prod(n for n in self.unflattened_size if n != -1)
        inferred = -1 in self.unflattened_size
        fits = -input.ndim <= self.dim < input.ndim and (
            input.shape[self.dim] % known == 0 if inferred and known else input.shape[self.dim] == known)
        if not fits:
            raise ValueError(f"{self!r}: expected an input whose dim {self.dim} has "
                             f"{'a multiple of ' if inferred else ''}{known} elements, got shape {input.shape}")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
