"""The IDX format of MNIST and Fashion-MNIST, and fetching those files.

An IDX file is: two zero bytes, a dtype code, the number of dims, each dim
as a big-endian int32, then the values in C order (big-endian for
multi-byte types). The four files of each dataset are gzipped.
"""
import gzip
import hashlib
import urllib.error
import urllib.request

import numpy

from ...files import atomic_write
from .cache import data_dir

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FILES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}

SOURCES = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
    "fashion_mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
}


def parse_idx(raw, name="IDX data"):
    """The array stored in IDX bytes (already decompressed)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{name}: not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in numpy.frombuffer(raw[4:header], dtype=">i4"))
    dtype = numpy.dtype(_IDX_DTYPES[raw[2]])
    expected = int(numpy.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{name}: header promises {shape} values ({expected} bytes), file has {len(raw) - header}")
    return numpy.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        return parse_idx(f.read(), str(path))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, path, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(path) as f:
        while block := response.read(1 << 20):
            f.write(block)


def ensure_files(dataset, root=None, download=True, timeout=15):
    """The folder holding ``dataset``'s four checked files, downloading those missing."""
    source = SOURCES[dataset]
    folder = data_dir(root) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    for filename, checksum in source["sha256"].items():
        path = folder / filename
        if not path.exists():
            if not download:
                raise FileNotFoundError(f"{dataset}: {path} is missing and download=False")
            errors = []
            for mirror in source["mirrors"]:
                try:
                    _fetch(mirror + filename, path, timeout)
                    break
                except (urllib.error.URLError, OSError) as err:
                    errors.append(f"{mirror}: {err}")
            else:
                raise RuntimeError(
                    f"{dataset}: could not download {filename} ({'; '.join(errors)}). Without a network, "
                    f"place the four files {sorted(source['sha256'])} in {folder} by hand "
                    f"(or set CHAINRULE_DATA to a folder that has a '{dataset}' subfolder with them)."
                )
        actual = _sha256(path)
        if actual != checksum:
            raise RuntimeError(
                f"{dataset}: {path} has SHA-256 {actual}, expected {checksum}; the file is damaged or "
                f"not the original: delete it and try again"
            )
    return folder


def load_idx_dataset(dataset, root=None, download=True):
    folder = ensure_files(dataset, root, download)
    arrays = {key: read_idx_gz(folder / filename) for key, filename in FILES.items()}
    return {
        "x": arrays["train_images"].astype(numpy.float32) / 255, "y": arrays["train_labels"].astype(numpy.int64),
        "x_test": arrays["test_images"].astype(numpy.float32) / 255,
        "y_test": arrays["test_labels"].astype(numpy.int64),
    }


def mnist(root=None, download=True):
    """MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28.

    Downloads the four IDX files once (checked by SHA-256) into
    ``data_dir(root)/mnist``. Returns ``x`` (60000, 28, 28) float32 in [0, 1],
    ``y`` (60000,) int64, ``x_test``, ``y_test``.
    """
    return load_idx_dataset("mnist", root, download)


def fashion_mnist(root=None, download=True):
    """Fashion-MNIST (Zalando's article images), laid out as ``mnist``."""
    return load_idx_dataset("fashion_mnist", root, download)
