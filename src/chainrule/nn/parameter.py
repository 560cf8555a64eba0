"""Parameter: a tensor that a Module registers as one of its weights."""
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and is registered by the module it is assigned to.

    Example
    -------
    >>> w = nn.Parameter(chainrule.randn(3, 2))
    >>> w.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = []
        super().__init__(data.detach() if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

