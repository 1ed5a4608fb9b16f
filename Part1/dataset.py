"""Palindromes of digits for the memory task.

A palindrome of length T reads the same both ways, so its last digit equals its first: given
the first T-1 digits, a model that predicts the T-th must carry one digit across T-1 steps.

How much of the task's space a validation set sees: a palindrome of length T is fixed by its
first ceil(T/2) digits, so there are 10**ceil(T/2) of them (1,000 for T=5 or 6, 100,000 for
T=10). Drawing n of them uniformly, as `PalindromeDataset` does, covers an expected share
1 - (1 - 10**-ceil(T/2))**n of all palindromes (`expected_coverage`): 2,000 draws at T=5 see
86% of the 1,000, so for small T, training batches and the validation set hold the same
sequences and validation accuracy measures memorisation as much as memory. From T=10 on, a
validation set of thousands is a vanishing sample of the space.
"""

import math

import torch
from torch.utils.data import Dataset

NUM_DIGITS = 10


def random_palindromes(n, length, generator=None):
    """n palindromes of the given length, digits 0-9: a LongTensor (n, length)."""
    half = torch.randint(0, NUM_DIGITS, (n, math.ceil(length / 2)), generator=generator)
    return torch.cat([half, half[:, : length // 2].flip(1)], dim=1)


def encode(palindromes, one_hot=False):
    """Split palindromes (n, T) into inputs, the first T-1 digits, and labels, the T-th.

    Inputs are float (n, T-1, 1) holding the digit's value, or (n, T-1, 10) one-hot.
    """
    digits, labels = palindromes[:, :-1], palindromes[:, -1]
    if one_hot:
        inputs = torch.nn.functional.one_hot(digits, NUM_DIGITS).float()
    else:
        inputs = digits.unsqueeze(-1).float()
    return inputs, labels


def random_batch(batch_size, input_length, one_hot=False, generator=None):
    """A fresh batch of training data: inputs (batch, T-1, input_dim) and labels (batch,)."""
    return encode(random_palindromes(batch_size, input_length, generator), one_hot)


def input_dim_for(one_hot):
    return NUM_DIGITS if one_hot else 1


def palindrome_count(input_length):
    """How many distinct palindromes of this length exist."""
    return NUM_DIGITS ** math.ceil(input_length / 2)


def expected_coverage(n, input_length):
    """Expected share of all palindromes of this length seen among n uniform draws."""
    return 1 - (1 - 1 / palindrome_count(input_length)) ** n


class PalindromeDataset(Dataset):
    """A fixed set of `size` random palindromes of length `input_length`, drawn from `seed`.

    Item i is (first T-1 digits, T-th digit); the same seed gives the same data. Used for
    validation; training draws fresh palindromes every batch with `random_batch`.
    """

    def __init__(self, input_length, size, one_hot=False, seed=0):
        if input_length < 2:
            raise ValueError(f"input_length must be at least 2, got {input_length}")
        generator = torch.Generator().manual_seed(seed)
        self.input_length = input_length
        self.palindromes = random_palindromes(size, input_length, generator)
        self.inputs, self.labels = encode(self.palindromes, one_hot)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.inputs[idx], self.labels[idx]
