"""Datasets that need no download: MNIST-1D, generated offline."""
from .cache import data_dir
from .mnist1d import mnist1d
