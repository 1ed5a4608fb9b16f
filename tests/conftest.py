"""Shared set-up: one thread (tiny models run fastest on one, and tests stay repeatable), no
download by torchvision, and a synthetic MNIST for Part 2's tests."""

import pytest
import torch
import torchvision

from mnist_data import write_synthetic_mnist

torch.set_num_threads(1)


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
