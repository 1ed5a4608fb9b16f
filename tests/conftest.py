"""Shared set-up: one thread (tiny models run fastest on one, and tests stay repeatable), no
download by torchvision, and a synthetic MNIST for Part 2's tests."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from mnist_data import write_split

torch.set_num_threads(1)


def write_synthetic_mnist(root, n_train=256, n_test=64, seed=0):
    """A small stand-in for MNIST in its files; returns root.

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


@pytest.fixture(autouse=True)
def offline_torchvision(monkeypatch):
    """torchvision's MNIST download fails at once, as it does without a network."""
    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network in tests")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory):
    """256 training and 64 test images in MNIST's files: a white bar whose column is the label."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), n_train=256, n_test=64)
