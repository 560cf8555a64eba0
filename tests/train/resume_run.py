"""A small training run used by test_trainer.py: trains, optionally kills
itself (SIGKILL) at a given step, or resumes from a checkpoint, and saves
the final weights. Run as a script: resume_run.py OUT_DIR [--kill-at STEP | --resume]."""
import os
import signal
import sys

import numpy

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, Trainer


class KillAt(Callback):
    """SIGKILL this process right after optimiser step ``step``: no cleanup, no flush."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, step, logs):
        if step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main(out_dir, kill_at=None, resume=False):
    cr.manual_seed(1234)
    rng = numpy.random.default_rng(0)
    inputs = rng.standard_normal((200, 6)).astype(numpy.float32)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).astype(numpy.int64) + (inputs[:, 2] > 1)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    callbacks = [KillAt(kill_at)] if kill_at is not None else []
    checkpoint = os.path.join(out_dir, "checkpoint.safetensors")
    trainer = Trainer(model, optimizer, scheduler=scheduler, callbacks=callbacks, progress=False,
                      checkpoint_path=checkpoint, checkpoint_every=5)
    trainer.fit(loader, epochs=4, resume_from=checkpoint if resume else None)
    cr.save(model.state_dict(), os.path.join(out_dir, "final.safetensors"))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    kill = int(arguments[arguments.index("--kill-at") + 1]) if "--kill-at" in arguments else None
    main(arguments[0], kill_at=kill, resume="--resume" in arguments)
