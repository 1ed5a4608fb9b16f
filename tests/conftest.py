"""Shared test set-up: tiny models run fastest on one thread, and then tests stay repeatable."""

import torch

torch.set_num_threads(1)
