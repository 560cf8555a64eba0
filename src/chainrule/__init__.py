"""chainrule: a deep-learning library built on its own reverse-mode autodiff engine.

>>> import chainrule
>>> x = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad
tensor([2., 4., 6.])
"""
from . import memory, ops  # ops attaches operators and methods to Tensor
from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like,
                       rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .dtypes import (bool, double, float, float16, float32, float64, get_default_dtype, half, int, int8, int16,
                     int32, int64, long, set_default_dtype, short, uint8)
from .gradcheck import gradcheck, gradgradcheck
from .ops import *  # noqa: F401,F403  the functional forms: chainrule.exp(x), chainrule.cat(...)
from .serialization import load, save
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor, is_tensor
from . import autograd, data, nn, optim

__version__ = "0.1.0"

memory.keep_freed_memory()
