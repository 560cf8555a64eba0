"""Residual blocks are ordinary modules: write one, stack it, train it.

A residual block computes relu(x + F(x)), where F is two convolutions with
batch normalisation. Nothing in chainrule knows about "residual networks":
the skip connection is the ``+`` in ``forward``, and autodiff sends the
gradient down both paths. Here a stem and three blocks classify
scikit-learn's 8x8 digits after a few epochs.

Run it::

    python examples/residual_cnn.py
"""
import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import digits
from chainrule.train import Trainer

EPOCHS = 5
CHANNELS = 16


class ResidualBlock(nn.Module):
    """relu(x + bn(conv(relu(bn(conv(x)))))), keeping the channels and the image size."""

    def __init__(self, channels):
        super().__init__()
        # The convolutions carry no bias: the batch norm after each one has its own shift.
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        residual = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(x + residual)


def residual_cnn(blocks=3):
    return nn.Sequential(
        nn.Unflatten(1, (1, 8)),  # (batch, 8, 8) -> (batch, 1, 8, 8)
        nn.Conv2d(1, CHANNELS, 3, padding=1, bias=False), nn.BatchNorm2d(CHANNELS), nn.ReLU(),
        *[ResidualBlock(CHANNELS) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(CHANNELS, 10),
    )


def main():
    chainrule.manual_seed(0)
    data = digits()
    # drop_last: a last batch of 13 images would give batch norm's running statistics a noisy update.
    train_loader = DataLoader(TensorDataset(data["x"], data["y"]), batch_size=32, shuffle=True, drop_last=True)
    test_loader = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=360)

    model = residual_cnn()
    print(model)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3))
    history = trainer.fit(train_loader, epochs=EPOCHS)
    test = trainer.evaluate(test_loader)  # eval mode: batch norm uses its running statistics
    print(f"residual CNN, {EPOCHS} epochs in {sum(history['seconds']):.0f} s: "
          f"train loss {history['loss'][-1]:.3f}, test accuracy {100 * test['accuracy']:.1f}%")


if __name__ == "__main__":
    main()
