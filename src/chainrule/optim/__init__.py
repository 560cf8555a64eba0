"""Optimisers and learning-rate schedules.

>>> w = chainrule.tensor([1.0, -2.0], requires_grad=True)
>>> optimizer = chainrule.optim.Adam([w], lr=0.1)
>>> scheduler = chainrule.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
>>> for _ in range(100):
...     optimizer.zero_grad()
...     (w ** 2).sum().backward()
...     optimizer.step()
...     scheduler.step()
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
