"""Scores for generated digits, measured with the project's MNIST classifier.

- Inception Score  IS = exp( E_x KL( p(y|x) || p(y) ) ): high when each sample is one clear
  digit (p(y|x) peaked) and all digits appear (p(y) flat); at most 10 for MNIST.
- FID = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2)), the Frechet distance between
  Gaussians fitted to the classifier's 128-d penultimate features of generated samples and
  of the MNIST test set. It sees what IS cannot: blur, artefacts, lack of variety within a class.
- confident: the share of samples whose top class probability exceeds CONFIDENCE (0.9).
- class_fractions: the share of samples assigned to each digit (mode collapse shows here).

`Scorer` holds the classifier and the test-set statistics so they are computed once.
"""

from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnist_classifier import load_classifier
from mnist_data import DEFAULT_ROOT, mnist_tensors

CONFIDENCE = 0.9  # a sample is "confident" when its top class probability exceeds this


def inception_score(probs):
    """probs: (N, 10) class probabilities -> exp(mean KL(p(y|x) || p(y)))."""
    probs = probs.double().clamp_min(1e-12)
    marginal = probs.mean(dim=0, keepdim=True)  # p(y)
    kl = (probs * (probs.log() - marginal.log())).sum(dim=1)
    return kl.mean().exp().item()


def gaussian_statistics(features):
    """Mean and covariance of (N, d) features, in float64 for a stable matrix square root."""
    features = features.double().numpy()
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    Tr((S1 S2)^(1/2)) equals the sum of square roots of the eigenvalues of
    S1^(1/2) S2 S1^(1/2), which is symmetric, so `eigh` suffices (no scipy needed).
    """
    values, vectors = np.linalg.eigh(sigma1)
    sqrt_sigma1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    trace_sqrt = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0)).sum()
    distance = ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(distance, 0.0))


class Scorer:
    """Scores batches of images in [-1, 1] against the MNIST test set."""

    batch_size = 500  # images per forward pass

    def __init__(self, data_root=DEFAULT_ROOT, device="cpu"):
        self.data_root, self.device = Path(data_root), torch.device(device)
        self.classifier = load_classifier(device=self.device)

    @torch.no_grad()
    def features_and_probs(self, images):
        """(N, 1, 28, 28) -> penultimate features (N, 128) and class probabilities (N, 10)."""
        features, probs = [], []
        for batch in images.split(self.batch_size):
            h = self.classifier.features(batch.to(self.device))
            features.append(h.cpu())
            probs.append(F.softmax(self.classifier.head(h), dim=1).cpu())
        return torch.cat(features), torch.cat(probs)

    @cached_property
    def reference(self):
        """Feature statistics of the MNIST test set, the target distribution for FID."""
        test_images, _ = mnist_tensors(self.data_root, train=False)
        features, _ = self.features_and_probs(test_images)
        return gaussian_statistics(features)

    def score_images(self, images):
        features, probs = self.features_and_probs(images)
        counts = torch.bincount(probs.argmax(dim=1), minlength=10)
        fractions = (counts.double() / len(images)).tolist()
        return {
            "n": len(images),
            "inception_score": inception_score(probs),
            "fid": frechet_distance(*gaussian_statistics(features), *self.reference),
            "confident": (probs.max(dim=1).values > CONFIDENCE).double().mean().item(),
            "class_fractions": fractions,
            "class_min": min(fractions),
            "class_max": max(fractions),
        }

    @torch.no_grad()
    def evaluate_generator(self, G, n=10000, seed=0):
        """Score n samples of G drawn from z ~ N(0, I) with their own seeded RNG.

        The private RNG keeps evaluations comparable across training steps and leaves the
        global RNG (and so a resumed training run) untouched.
        """
        rng = torch.Generator().manual_seed(seed)
        was_training = G.training
        G.eval()
        device = next(G.parameters()).device
        images = []
        for start in range(0, n, self.batch_size):
            z = torch.randn(min(self.batch_size, n - start), G.latent_dim, generator=rng)
            images.append(G(z.to(device)).cpu())
        G.train(was_training)
        return self.score_images(torch.cat(images))

    def real_data_baseline(self, n=10000, seed=0):
        """Scores of n random training images: what a perfect generator would reach."""
        train_images, _ = mnist_tensors(self.data_root, train=True)
        index = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(seed))[:n]
        return self.score_images(train_images[index])
