"""Datasets: MNIST-1D (generated offline), scikit-learn's digits (bundled),
MNIST and Fashion-MNIST (downloaded once, checked, cached)."""
from .cache import data_dir
from .digits import digits
from .idx import fashion_mnist, mnist, parse_idx
from .mnist1d import mnist1d
