"""Training: the Trainer loop, metrics, callbacks and checkpoints."""
from .callbacks import BestModelCheckpoint, Callback, EarlyStopping
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .metrics import accuracy, confusion_matrix, top_k_accuracy
from .trainer import Trainer
