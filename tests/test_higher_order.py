"""Gradients of gradients: Hessian-vector products and a gradient penalty,
each compared with PyTorch computing the same thing."""
import numpy

import chainrule as cr
from helpers import requires_torch, torch

RNG = numpy.random.default_rng(7)
X = RNG.standard_normal((16, 5))
T = RNG.standard_normal((16, 2))
PARAMS = [RNG.standard_normal(shape) * 0.5 for shape in [(8, 5), (8,), (2, 8), (2,)]]
DIRECTION = [RNG.standard_normal(p.shape) for p in PARAMS]


def mlp_loss(lib, params, x, t):
    """Mean squared error of a two-layer tanh network, written once for both frameworks."""
    w1, b1, w2, b2 = params
    hidden = (x @ w1.T + b1).tanh()
    y = hidden @ w2.T + b2
    return ((y - t) ** 2).mean()


def hessian_vector_product(lib, grad_fn, params, x, t, direction):
    loss = mlp_loss(lib, params, x, t)
    grads = grad_fn(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, direction))
    return grad_fn(dot, params)


def critic(params, x):
    w1, b1, w2, b2 = params
    return (x @ w1.T + b1).tanh() @ w2.T + b2


@requires_torch
def test_hessian_vector_product_of_an_mlp_matches_pytorch():
    ours = hessian_vector_product(
        cr, cr.grad, [cr.tensor(p, requires_grad=True) for p in PARAMS],
        cr.tensor(X), cr.tensor(T), [cr.tensor(v) for v in DIRECTION])
    theirs = hessian_vector_product(
        torch, torch.autograd.grad, [torch.tensor(p, requires_grad=True) for p in PARAMS],
        torch.tensor(X), torch.tensor(T), [torch.tensor(v) for v in DIRECTION])
    for a, b in zip(ours, theirs):
        numpy.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_matches_finite_differences_of_the_gradient():
    def gradient_at(params):
        tensors = [cr.tensor(p, requires_grad=True) for p in params]
        return [g.data for g in cr.grad(mlp_loss(cr, tensors, cr.tensor(X), cr.tensor(T)), tensors)]

    hvp = hessian_vector_product(
        cr, cr.grad, [cr.tensor(p, requires_grad=True) for p in PARAMS],
        cr.tensor(X), cr.tensor(T), [cr.tensor(v) for v in DIRECTION])
    eps = 1e-5
    plus = gradient_at([p + eps * v for p, v in zip(PARAMS, DIRECTION)])
    minus = gradient_at([p - eps * v for p, v in zip(PARAMS, DIRECTION)])
    for h, a, b in zip(hvp, plus, minus):
        numpy.testing.assert_allclose(h.data, (a - b) / (2 * eps), rtol=1e-6, atol=1e-8)


@requires_torch
def test_gradient_penalty_matches_pytorch():
    """WGAN-GP's penalty: (||d critic / d x|| - 1)^2, differentiated with respect to the weights."""
    def penalty_grads(lib, grad_fn, params, x):
        scores = critic(params, x)
        (dx,) = grad_fn(scores.sum(), x, create_graph=True)
        penalty = ((dx.norm(dim=1) - 1) ** 2).mean()
        return grad_fn(penalty, params[:3])  # the output bias b2 does not reach d critic / d x

    x = RNG.standard_normal((6, 5))
    ours = penalty_grads(cr, cr.grad, [cr.tensor(p, requires_grad=True) for p in PARAMS],
                         cr.tensor(x, requires_grad=True))
    theirs = penalty_grads(torch, torch.autograd.grad, [torch.tensor(p, requires_grad=True) for p in PARAMS],
                           torch.tensor(x, requires_grad=True))
    for a, b in zip(ours, theirs):
        numpy.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-12)
