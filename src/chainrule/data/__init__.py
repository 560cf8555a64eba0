"""Datasets and loaders, shaped like ``torch.utils.data``."""
from . import datasets
from .dataset import Dataset, NpyDataset, Subset, TensorDataset, random_split
from .loader import DataLoader, RandomSampler, SequentialSampler, default_collate
