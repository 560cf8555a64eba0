"""Datasets (``chainrule.data.datasets``)."""
from . import datasets
