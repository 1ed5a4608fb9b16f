"""Shared set-up: one thread (tiny models run fastest on one, and tests stay repeatable) and a
synthetic MNIST for Part 2's tests."""

import pytest
import torch

from mnist_data import write_synthetic_mnist

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory):
    """256 training and 64 test images in MNIST's files: a white bar whose column is the label."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), n_train=256, n_test=64)
