"""The seed network: one hidden layer, trained by gradient descent, written twice.

Everything else in chainrule grows from this network::

    Z1 = W1 X + b1        H = f(Z1)        f = tanh
    Z2 = W2 H + b2        Y = g(Z2)        g = identity
    L  = 1/N  sum over the batch of  1/2 (Y - T)^2
    w  <- w - lr * dL/dw  for every parameter w

It learns T = sin(x) on [-pi, pi] from 64 points.

A batch holds one example per row, so in code ``W1 X`` is ``X @ W1.T`` and
``W1`` has shape (hidden, inputs), the layout of PyTorch's ``Linear.weight``.

The file computes dL/dw twice. ``manual_gradients`` works the chain rule by
hand in NumPy, one factor per line; ``autograd_gradients`` lets chainrule's
engine do it. The two agree to rounding error, which is the whole claim of
reverse-mode automatic differentiation: it is the same chain rule, applied
mechanically. A third version, ``train_with_modules``, builds the same
network from ``nn.Linear``, the loss from ``nn.MSELoss`` and the update from
``optim.SGD``, the way larger models are written, and follows the same
training curve as the other two.

Run it::

    python examples/seed_network.py
"""
import math
import time

import numpy

import chainrule

PARAMETER_NAMES = ("W1", "b1", "W2", "b2")


def sin_dataset(n_points=64, dtype=numpy.float64):
    """Inputs X evenly spaced on [-pi, pi] and targets T = sin(X), both of shape (n_points, 1)."""
    X = numpy.linspace(-math.pi, math.pi, n_points, dtype=dtype).reshape(-1, 1)
    return X, numpy.sin(X)


def init_params(seed=0, hidden=16, dtype=numpy.float64):
    """Weights and biases drawn uniformly from +-1/sqrt(fan_in), as PyTorch's Linear does."""
    rng = numpy.random.default_rng(seed)

    def uniform(shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(dtype)

    return {
        "W1": uniform((hidden, 1), fan_in=1),
        "b1": uniform((hidden,), fan_in=1),
        "W2": uniform((1, hidden), fan_in=hidden),
        "b2": uniform((1,), fan_in=hidden),
    }


# ---------------------------------------------------------------- by hand

def manual_gradients(params, X, T):
    """The loss and its gradient for every parameter, by the chain rule worked by hand.

    ``params`` holds NumPy arrays; returns ``(loss, {name: dL/dname})``.
    """
    W1, b1, W2, b2 = (params[name] for name in PARAMETER_NAMES)
    N = X.shape[0]

    # Forward pass, keeping the intermediate values that the derivatives need.
    Z1 = X @ W1.T + b1
    H = numpy.tanh(Z1)
    Z2 = H @ W2.T + b2
    Y = Z2
    L = 0.5 * ((Y - T) ** 2).sum() / N

    # Backward pass: each line multiplies one more local derivative onto dL/d(output).
    dL_dY = (Y - T) / N
    dL_dZ2 = dL_dY                      # g is the identity: dY/dZ2 = 1
    dL_dW2 = dL_dZ2.T @ H               # Z2 = H W2^T + b2, summed over the batch
    dL_db2 = dL_dZ2.sum(axis=0)         # b2 was added to every row
    dL_dH = dL_dZ2 @ W2
    dL_dZ1 = dL_dH * (1 - H ** 2)       # tanh'(z) = 1 - tanh(z)^2, and H = tanh(Z1)
    dL_dW1 = dL_dZ1.T @ X
    dL_db1 = dL_dZ1.sum(axis=0)

    return L, {"W1": dL_dW1, "b1": dL_db1, "W2": dL_dW2, "b2": dL_db2}


# ---------------------------------------------------------------- by autograd

def loss(params, X, T):
    """The same forward pass and loss, on tensors; the engine records it for backward().

    Only Tensor methods and operators appear here, so the function runs
    unchanged on PyTorch tensors too.
    """
    H = (X @ params["W1"].T + params["b1"]).tanh()
    Y = H @ params["W2"].T + params["b2"]
    return 0.5 * ((Y - T) ** 2).sum() / X.shape[0]


def autograd_gradients(params, X, T):
    """As ``manual_gradients``, with chainrule computing the derivatives."""
    tensors = {name: chainrule.tensor(value, requires_grad=True) for name, value in params.items()}
    L = loss(tensors, chainrule.tensor(X), chainrule.tensor(T))
    L.backward()
    return L.item(), {name: tensor.grad.data for name, tensor in tensors.items()}


def train_by_hand(steps=5000, lr=0.2, seed=0, hidden=16):
    """Full-batch gradient descent in NumPy with ``manual_gradients``; the loss before each step."""
    params = init_params(seed, hidden)
    X, T = sin_dataset()
    losses = []
    for _ in range(steps):
        L, grads = manual_gradients(params, X, T)
        losses.append(float(L))
        for name in PARAMETER_NAMES:
            params[name] -= lr * grads[name]
    return losses


def train(steps=5000, lr=0.2, seed=0, hidden=16, log_every=None, dtype=chainrule.float32):
    """Fit sin with chainrule by full-batch gradient descent.

    Returns the loss before each step, plus the loss after the last one.
    With ``log_every``, prints the loss every that many steps.
    """
    X, T = (chainrule.tensor(a, dtype=dtype) for a in sin_dataset())
    params = {
        name: chainrule.tensor(value, dtype=dtype, requires_grad=True)
        for name, value in init_params(seed, hidden).items()
    }
    losses = []
    for step in range(steps):
        L = loss(params, X, T)
        losses.append(L.item())
        if log_every and step % log_every == 0:
            print(f"step {step:5d}  loss {losses[-1]:.6f}")
        L.backward()
        # The update must not be recorded: it is not part of the function being differentiated.
        with chainrule.no_grad():
            for p in params.values():
                p -= lr * p.grad
                p.grad = None
    with chainrule.no_grad():
        losses.append(loss(params, X, T).item())
    return losses


def train_with_modules(steps=5000, lr=0.2, seed=0, hidden=16, dtype=chainrule.float64):
    """The same network from nn.Linear, nn.Tanh, nn.MSELoss and optim.SGD; the loss before each step.

    ``0.5 * MSELoss`` is the seed network's loss: with one output per
    example, the mean squared error is the mean over the batch of (Y - T)^2.
    """
    from chainrule import nn, optim

    model = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1)).to(dtype)
    start = init_params(seed, hidden)
    model.load_state_dict({"0.weight": start["W1"], "0.bias": start["b1"],
                           "2.weight": start["W2"], "2.bias": start["b2"]})
    mse = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    X, T = (chainrule.tensor(a, dtype=dtype) for a in sin_dataset())
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        L = 0.5 * mse(model(X), T)
        losses.append(L.item())
        L.backward()
        optimizer.step()
    return losses


def max_gradient_difference(params, X, T):
    """The largest absolute difference between the hand-written and autograd gradients."""
    _, by_hand = manual_gradients(params, X, T)
    _, by_autograd = autograd_gradients(params, X, T)
    return max(numpy.abs(by_hand[name] - by_autograd[name]).max() for name in PARAMETER_NAMES)


def main():
    steps = 5000
    start = time.perf_counter()
    losses = train(steps=steps, log_every=500)
    seconds = time.perf_counter() - start
    print(f"step {steps:5d}  loss {losses[-1]:.6f}")

    X, T = sin_dataset()
    difference = max_gradient_difference(init_params(), X, T)
    curves = [train_by_hand(steps=200), train(steps=200, dtype=chainrule.float64)[:-1], train_with_modules(steps=200)]
    spread = max(abs(a - b) / b for a, b in zip(curves[1] + curves[2], curves[0] + curves[0]))
    print()
    print(f"trained {steps} steps in {seconds:.1f} s")
    print(f"loss: {losses[0]:.4f} at the start, {losses[-1]:.6f} at the end ({losses[0] / losses[-1]:.0f}x lower)")
    print(f"largest difference between hand-written and autograd gradients (float64): {difference:.1e}")
    print(f"training curves by hand, by autograd and with nn.Linear + optim.SGD over 200 steps (float64): "
          f"largest relative difference {spread:.1e}")


if __name__ == "__main__":
    main()
