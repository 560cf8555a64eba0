"""The MNIST-1D paper's CNN, trained with chainrule's Trainer.

MNIST-1D (Greydanus, "Scaling Down Deep Learning") turns the ten digits into
length-40 signals that are shifted, scaled, sheared and noised, so that a
model must be translation-invariant to do well: a linear model gets about
32% of the test set right, this three-layer convolutional network about 94%
in the paper (about 92% here, with shuffled batches and 60 epochs instead
of the paper's 150).

Run it::

    python examples/mnist1d_cnn.py
"""
import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import mnist1d
from chainrule.train import Trainer

EPOCHS = 60


def paper_cnn():
    """Three strided convolutions shrink 40 samples to 5 positions of 25 channels, then one linear layer."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)),  # (batch, 40) signals as one-channel sequences
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(25 * 5, 10),
    )


def main():
    chainrule.manual_seed(0)
    data = mnist1d()
    train_loader = DataLoader(TensorDataset(data["x"], data["y"]), batch_size=100, shuffle=True)
    test_loader = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=500)

    model = paper_cnn()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2))
    history = trainer.fit(train_loader, epochs=EPOCHS)
    test = trainer.evaluate(test_loader)
    print(f"MNIST-1D CNN, {EPOCHS} epochs in {sum(history['seconds']):.0f} s: "
          f"train loss {history['loss'][-1]:.3f}, test accuracy {100 * test['accuracy']:.1f}% (paper: 94%)")


if __name__ == "__main__":
    main()
