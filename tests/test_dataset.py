"""Palindrome data: the label is the first digit, the same seed gives the same data."""

import math

import pytest
import torch

from dataset import PalindromeDataset, encode, expected_coverage, palindrome_count, random_batch, random_palindromes


@pytest.mark.parametrize("length", [2, 5, 6, 31])
def test_random_palindromes_read_the_same_both_ways(length):
    p = random_palindromes(100, length, torch.Generator().manual_seed(0))
    assert p.shape == (100, length)
    assert torch.equal(p, p.flip(1))
    assert p.min() >= 0 and p.max() <= 9


def test_inputs_are_the_first_digits_and_the_label_the_last():
    p = torch.tensor([[3, 1, 4, 1, 3]])
    inputs, labels = encode(p)
    assert inputs.shape == (1, 4, 1) and inputs[0, :, 0].tolist() == [3, 1, 4, 1]
    assert labels.tolist() == [3]
    one_hot, _ = encode(p, one_hot=True)
    assert one_hot.shape == (1, 4, 10)
    assert one_hot.argmax(-1)[0].tolist() == [3, 1, 4, 1] and one_hot.sum().item() == 4


def test_same_seed_same_validation_set():
    a = PalindromeDataset(7, 50, seed=4)
    b = PalindromeDataset(7, 50, seed=4)
    c = PalindromeDataset(7, 50, seed=5)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.inputs, c.inputs)
    x, y = a[3]
    assert x.shape == (6, 1) and y.item() == a.palindromes[3, 0].item()
    assert len(a) == 50


def test_training_batches_are_fresh():
    g = torch.Generator().manual_seed(0)
    x1, _ = random_batch(64, 9, one_hot=True, generator=g)
    x2, _ = random_batch(64, 9, one_hot=True, generator=g)
    assert x1.shape == (64, 8, 10) and not torch.equal(x1, x2)


def test_coverage_formula_matches_a_drawn_set():
    assert palindrome_count(5) == 1000 and palindrome_count(6) == 1000 and palindrome_count(10) == 10**5
    n, T = 300, 3  # 100 palindromes of length 3
    shares = [len(set(map(tuple, PalindromeDataset(T, n, seed=s).palindromes.tolist()))) / 100 for s in range(20)]
    assert math.isclose(sum(shares) / len(shares), expected_coverage(n, T), abs_tol=0.02)


def test_too_short_palindromes_are_rejected():
    with pytest.raises(ValueError, match="at least 2"):
        PalindromeDataset(1, 10)
