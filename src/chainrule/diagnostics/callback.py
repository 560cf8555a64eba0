"""``GradientHealthCallback``: a ``GradientHealth`` monitor driven by the Trainer."""
import warnings

from ..train.callbacks import Callback


class GradientHealthCallback(Callback):
    """Call ``health.step()`` after every optimiser step of ``Trainer.fit``.

    The Trainer runs callbacks' ``on_batch_end`` right after its optimiser
    step (and after any ``clip_grad_norm``), which is where the monitor reads
    gradients and measures the update. With ``folder``, the report
    (``health.save``) is written when training ends.

    The monitor's state goes into the Trainer's checkpoints, so a resumed
    run continues its history and writes the report of the whole run. A
    checkpoint that holds no monitor state (written without this callback)
    starts the history empty at the step the run resumes from, with a warning.

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

    def on_train_begin(self, trainer):
        if trainer.step and not self.health.steps:
            warnings.warn(f"GradientHealthCallback: the monitor joins the run at step {trainer.step} with no "
                          f"history before it (a run resumed from a checkpoint written without the monitor, "
                          f"say); its history starts at step {trainer.step}", stacklevel=2)
            # Its weight snapshot predates the checkpoint's weights, and its steps are numbered from 0.
            self.health.start_at(trainer.step)

    def on_batch_end(self, trainer, step, logs):
        self.health.step()

    def on_train_end(self, trainer):
        if self.folder is not None:
            self.health.save(self.folder)

    def state_dict(self):
        return self.health.state_dict()

    def load_state_dict(self, state):
        # {} is what checkpoints from before the monitor saved its state hold: nothing to continue.
        if state:
            self.health.load_state_dict(state)
