"""Matrix products: matmul (1-D, 2-D and batched with broadcasting), einsum, outer, dot."""
import string

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor, constant


class MatMul(Function):
    """a @ b for operands of at least 2 dims; leading (batch) dims broadcast."""

    def forward(self, a, b):
        return a @ b

    def backward(self, g):
        # dL/da = g b^T and dL/db = a^T g; broadcast batch dims are summed by the engine.
        a, b = self.inputs
        needs_a, needs_b = (edge is not None for edge in self.edges)
        return (g @ b.mT if needs_a else None), (a.mT @ g if needs_b else None)


def matmul(input, other):
    """Matrix product with NumPy's rules: a 1-D operand is a vector (its
    dim is added, then removed); leading dims broadcast.

    Example
    -------
    >>> chainrule.matmul(chainrule.ones(2, 3), chainrule.ones(3)).shape
    (2,)
    """
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError(f"matmul: expects two tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.ndim == 0 or other.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {input.shape} and {other.shape}")
    inner_a = input.shape[-1]
    inner_b = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {input.shape} and {other.shape} do not fit: the last dim of the "
            f"first ({inner_a}) must equal the {'second-to-last' if other.ndim > 1 else 'only'} "
            f"dim of the second ({inner_b})"
        )
    a = input.unsqueeze(0) if input.ndim == 1 else input
    b = other.unsqueeze(-1) if other.ndim == 1 else other
    try:
        out = MatMul.apply(a, b)
    except ValueError:
        raise ValueError(f"matmul: the batch dims of shapes {input.shape} and {other.shape} do not broadcast") from None
    # Drop the vector dims again: the row first, so that -1 still names the column.
    if input.ndim == 1:
        out = out.squeeze(-2)
    if other.ndim == 1:
        out = out.squeeze(-1)
    return out


def mm(input, mat2):
    """The product of two matrices (2-D tensors only; see ``matmul`` for the rest)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expects two 2-D tensors, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, k) and (b, k, m) tensors, without broadcasting."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expects 3-D tensors with the same batch size, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def dot(input, other):
    """Inner product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise ValueError(f"dot: expects two 1-D tensors of equal length, got shapes {input.shape} and {other.shape}")
    return matmul(input, other)


def outer(input, vec2):
    """Outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {input.shape} and {vec2.shape}")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


# ------------------------------------------------------------------ einsum

class Einsum(Function):
    """Any einsum; the gradient for each operand is another einsum.

    For operand i with subscripts s_i, the gradient is the einsum of the
    output gradient with the other operands, written to s_i. Letters only
    s_i has (summed away in the forward) are broadcast back; a letter
    repeated in s_i (a diagonal) is written back onto the diagonal by
    multiplying with an identity matrix.
    """

    def forward(self, *operands, inputs_subs, output_subs):
        self.inputs_subs, self.output_subs = inputs_subs, output_subs
        spec = ",".join(inputs_subs) + "->" + output_subs
        return array_module(operands[0]).einsum(spec, *operands, optimize=len(operands) > 2)

    def backward(self, g):
        return tuple(self._operand_grad(g, i) if edge is not None else None
                     for i, edge in enumerate(self.edges))

    def _operand_grad(self, g, i):
        subs = self.inputs_subs[i]
        x = self.inputs[i]
        others = [(s, t) for j, (s, t) in enumerate(zip(self.inputs_subs, self.inputs)) if j != i]
        available = set(self.output_subs).union(*[set(s) for s, _ in others])
        unique = "".join(dict.fromkeys(subs))
        kept = "".join(c for c in unique if c in available)
        spec_in = [self.output_subs] + [s for s, _ in others]
        grad = einsum(",".join(spec_in) + "->" + kept, g, *[t for _, t in others])
        sizes = dict(zip(subs, x.shape))
        if kept != unique:  # letters summed away in the forward: broadcast back
            grad = grad.reshape([sizes[c] if c in kept else 1 for c in unique])
            grad = grad.expand([sizes[c] for c in unique])
        if unique == subs:
            return grad
        # Put the gradient back on the diagonal of each repeated letter.
        free = iter(c for c in string.ascii_letters if c not in subs and c not in unique)
        target, eyes, eye_specs = [], [], []
        seen = set()
        for c in subs:
            if c not in seen:
                seen.add(c)
                target.append(c)
                continue
            fresh = next(free)
            target.append(fresh)
            eye_specs.append(c + fresh)
            eyes.append(constant(array_module(x.data).eye(sizes[c], dtype=x.dtype)))
        return einsum(",".join([unique] + eye_specs) + "->" + "".join(target), grad, *eyes)


def _parse_einsum(equation, operands):
    """Explicit subscripts for each operand and the output, with '...' spelled out."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: the equation names {len(inputs)} operands, got {len(operands)}")
    used = set(equation)
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis_dims = max((t.ndim - len(s.replace("...", "")) for s, t in zip(inputs, operands) if "..." in s), default=0)
    ellipsis = "".join(spare[:ellipsis_dims])
    expanded = []
    for s, t in zip(inputs, operands):
        if "..." in s:
            n = t.ndim - len(s.replace("...", ""))
            s = s.replace("...", ellipsis[ellipsis_dims - n:])
        if len(s) != t.ndim:
            raise ValueError(f"einsum: subscripts '{s}' name {len(s)} dims, but the operand has shape {t.shape}")
        expanded.append(s)
    if arrow:
        output = rhs.replace("...", ellipsis)
    else:
        counts = {}
        for c in "".join(expanded):
            counts[c] = counts.get(c, 0) + 1
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ellipsis))
    return expanded, output


def einsum(equation, *operands):
    """Einstein summation, as ``numpy.einsum`` (explicit or implicit output, '...').

    Example
    -------
    >>> chainrule.einsum("bij,bjk->bik", a, b)   # batched matmul
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    inputs_subs, output_subs = _parse_einsum(equation, operands)
    return Einsum.apply(*operands, inputs_subs=tuple(inputs_subs), output_subs=output_subs)
