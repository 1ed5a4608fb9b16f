"""Scores of generated digits: the Inception Score and the Frechet distance against closed forms."""

import numpy as np
import pytest
import torch

from gan_metrics import frechet_distance, inception_score


def test_inception_score_of_known_inputs():
    confident_uniform = torch.eye(10).repeat(5, 1)  # every class equally often, each certain
    assert inception_score(confident_uniform) == pytest.approx(10, rel=1e-6)
    two_classes = torch.eye(10)[[2, 7]].repeat(25, 1)  # two digits, each certain: exp(log 2)
    assert inception_score(two_classes) == pytest.approx(2, rel=1e-6)
    identical_rows = torch.softmax(torch.randn(1, 10), dim=1).repeat(50, 1)  # p(y|x) = p(y): KL 0
    assert inception_score(identical_rows) == pytest.approx(1)
    assert inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1)


def test_frechet_distance_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    sigma = a @ a.T + np.eye(4)
    mu = rng.normal(size=4)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-8)
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    m1, m2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(expected)
