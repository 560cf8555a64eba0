"""Training: the Trainer loop, metrics, callbacks, checkpoints, configs, manifests, reports."""
from .callbacks import BestModelCheckpoint, Callback, EarlyStopping
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import Config, ConfigError, load_config
from .lr_find import LRFindResult, lr_find
from .manifest import compare_manifest, make_manifest
from .metrics import accuracy, confusion_matrix, top_k_accuracy
from .report import MetricsLog, plot_curves, write_report
from .trainer import Trainer
