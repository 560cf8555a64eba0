"""The affine map of a fully connected layer, fused into one node: y = x W^T + b."""
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class Linear(Function):
    """x of shape (..., in), weight (out, in), optional bias (out,)."""

    def forward(self, x, weight, bias=None):
        out = x @ weight.T
        if bias is not None:
            out += bias  # in place on the fresh product: one temporary fewer
        return out

    def backward(self, g):
        x, weight = self.inputs[0], self.inputs[1]
        if not is_grad_enabled():
            # An ordinary backward records nothing: the same maths straight on
            # the arrays, without an op's dispatch per product (MLPs live here).
            return tuple(None if grad is None else Tensor._make(grad, None, None)
                         for grad in self.gradients(g.data, x.data, weight.data))
        return self.gradients(g, x, weight)

    def gradients(self, g, x, weight):
        """dL/dx = g W, dL/dW = g^T x, dL/db = sum of g over the batch; on
        Tensors (differentiable) or on arrays alike."""
        edges = self.edges
        rows = g.reshape(-1, g.shape[-1])  # every leading dim is a batch dim
        grad_x = g @ weight if edges[0] is not None else None
        grad_weight = rows.T @ x.reshape(-1, x.shape[-1]) if edges[1] is not None else None
        if len(edges) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, (rows.sum(0) if edges[2] is not None else None)


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, as one node (PyTorch's ``F.linear``).

    Parameters
    ----------
    input : (..., in_features)
    weight : (out_features, in_features)
    bias : (out_features,) or None
    """
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not fit weight of shape "
            f"{weight.shape}: the input's last dim must be {weight.shape[-1]}"
        )
    if bias is None:
        return Linear.apply(input, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return Linear.apply(input, weight, bias)
