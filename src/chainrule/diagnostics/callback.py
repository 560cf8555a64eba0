"""``GradientHealthCallback``: a ``GradientHealth`` monitor driven by the Trainer."""
from ..train.callbacks import Callback


class GradientHealthCallback(Callback):
    """Call ``health.step()`` after every optimiser step of ``Trainer.fit``.

    The Trainer runs callbacks' ``on_batch_end`` right after its optimiser
    step (and after any ``clip_grad_norm``), which is where the monitor reads
    gradients and measures the update. With ``folder``, the report
    (``health.save``) is written when training ends.

    Parameters
    ----------
    health : GradientHealth attached to the trainer's model
    folder : where to save the report at the end of training (optional)

    Example
    -------
    >>> health = GradientHealth(model)
    >>> trainer = Trainer(model, optimizer, callbacks=[GradientHealthCallback(health, folder="runs/health")])
    >>> trainer.fit(train_loader, epochs=3)
    >>> print(health.summary())
    """

    def __init__(self, health, folder=None):
        self.health, self.folder = health, folder

    def on_batch_end(self, trainer, step, logs):
        self.health.step()

    def on_train_end(self, trainer):
        if self.folder is not None:
            self.health.save(self.folder)
