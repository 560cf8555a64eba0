"""The MNIST-1D paper's GRU: a recurrent network reads each signal one sample at a time.

A bidirectional GRU with only 6 hidden units per direction runs over the
40 samples of each MNIST-1D signal; every step's output (2 x 6 numbers,
40 steps) goes to a linear classifier. The paper reports 91% test accuracy.

Run it::

    python examples/mnist1d_gru.py
"""
import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import mnist1d
from chainrule.train import Trainer

EPOCHS = 60
HIDDEN = 6
LENGTH = 40


class SignalGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(input_size=1, hidden_size=HIDDEN, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * HIDDEN * LENGTH, 10)

    def forward(self, signals):
        # (batch, 40) -> (batch, 40 steps, 1 feature); the initial state defaults to zeros.
        outputs, _ = self.gru(signals.reshape(signals.shape[0], LENGTH, 1))
        return self.classifier(outputs.reshape(signals.shape[0], -1))


def main():
    chainrule.manual_seed(0)
    data = mnist1d()
    train_loader = DataLoader(TensorDataset(data["x"], data["y"]), batch_size=100, shuffle=True)
    test_loader = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=500)

    model = SignalGRU()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2))
    history = trainer.fit(train_loader, epochs=EPOCHS)
    test = trainer.evaluate(test_loader)
    print(f"MNIST-1D GRU, {EPOCHS} epochs in {sum(history['seconds']):.0f} s: "
          f"train loss {history['loss'][-1]:.3f}, test accuracy {100 * test['accuracy']:.1f}% (paper: 91%)")


if __name__ == "__main__":
    main()
