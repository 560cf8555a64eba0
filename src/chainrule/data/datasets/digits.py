"""scikit-learn's bundled handwritten digits: 1,797 images of 8x8, shipped with the package."""
import numpy


def digits(test_fraction=0.2, seed=0):
    """The digits as a train/test split: ``x`` (N, 8, 8) float32 scaled to [0, 1], ``y`` int64.

    The split is stratified-free and fixed by ``seed`` (a permutation of the 1,797 images).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits: the dataset ships with scikit-learn: pip install 'chainrule[datasets]'") from None
    data = load_digits()
    images = (data.images / 16).astype(numpy.float32)
    labels = data.target.astype(numpy.int64)
    order = numpy.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return {"x": images[train], "y": labels[train], "x_test": images[test], "y_test": labels[test]}
