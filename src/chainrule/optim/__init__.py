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
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, Adamax, AdamW, NAdam, RAdam
from .asgd import ASGD
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam", "Optimizer", "RAdam",
           "RMSprop", "Rprop", "SGD", "lr_scheduler"]
