"""Classification metrics and running means over an epoch."""
import numpy

from ..tensor import Tensor


def _array(x):
    return x.data if isinstance(x, Tensor) else numpy.asarray(x)


def accuracy(logits, targets):
    """Fraction of rows whose highest score is the target class."""
    return float((_array(logits).argmax(axis=-1) == _array(targets)).mean())


def top_k_accuracy(logits, targets, k=5):
    """Fraction of rows whose target is among the ``k`` highest scores."""
    scores, targets = _array(logits), _array(targets)
    k = min(k, scores.shape[-1])
    best = numpy.argpartition(-scores, k - 1, axis=-1)[..., :k]
    return float((best == targets[..., None]).any(axis=-1).mean())


def confusion_matrix(predictions, targets, num_classes):
    """counts[i, j] = how many samples of class i were predicted as j."""
    counts = numpy.zeros((num_classes, num_classes), dtype=numpy.int64)
    numpy.add.at(counts, (_array(targets), _array(predictions)), 1)
    return counts


class RunningMean:
    """The sample-weighted mean of per-batch values."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, value, count):
        self.total += value * count
        self.count += count

    @property
    def value(self):
        return self.total / self.count if self.count else float("nan")


METRICS = {"accuracy": accuracy, "top5": lambda logits, targets: top_k_accuracy(logits, targets, 5)}
