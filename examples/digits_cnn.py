"""A small CNN on scikit-learn's 8x8 handwritten digits.

1,797 images of 8 x 8 pixels, 80% for training and 20% held out. Two 3x3
convolutions and one pooling step see enough of the strokes to classify
about 98% of the held-out digits, in seconds on a CPU.

Run it::

    python examples/digits_cnn.py
"""
import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.datasets import digits
from chainrule.train import Trainer

EPOCHS = 20


def small_cnn():
    return nn.Sequential(
        nn.Unflatten(1, (1, 8)),  # (batch, 8, 8) images as one-channel images (batch, 1, 8, 8)
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def main():
    chainrule.manual_seed(0)
    data = digits()
    train_loader = DataLoader(TensorDataset(data["x"], data["y"]), batch_size=32, shuffle=True)
    test_loader = DataLoader(TensorDataset(data["x_test"], data["y_test"]), batch_size=360)

    model = small_cnn()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3))
    history = trainer.fit(train_loader, epochs=EPOCHS)
    test = trainer.evaluate(test_loader)
    print(f"digits CNN, {EPOCHS} epochs in {sum(history['seconds']):.0f} s: "
          f"train loss {history['loss'][-1]:.3f}, test accuracy {100 * test['accuracy']:.1f}% "
          f"on {len(data['y_test'])} held-out images")


if __name__ == "__main__":
    main()
