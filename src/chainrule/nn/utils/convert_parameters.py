"""Parameters to one flat vector and back (for line searches, second-order methods, model averaging)."""
from ...ops import cat
from ...tensor import Tensor


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-d tensor, in order.

    The result is differentiable with respect to the parameters.

    Example
    -------
    >>> w, b = chainrule.ones(2, 3), chainrule.zeros(2)
    >>> parameters_to_vector([w, b]).shape
    (8,)
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d tensor ``vec`` into ``parameters``, in place.

    The inverse of ``parameters_to_vector``: each parameter keeps its shape,
    its dtype and its identity (so optimisers holding it see the new
    values); its values are overwritten outside any graph.

    Example
    -------
    >>> vector = parameters_to_vector(model_params)
    >>> vector_to_parameters(vector * 0.5, model_params)
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-d, got shape {vec.shape}")
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.numel() != needed:
        raise ValueError(
            f"vector_to_parameters: vec has {vec.numel()} elements but the parameters hold {needed}"
        )
    start = 0
    for p in parameters:
        p.data[...] = vec.data[start:start + p.numel()].reshape(p.shape)
        p._version[0] += 1
        start += p.numel()
