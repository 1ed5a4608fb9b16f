"""Walks through the generator's latent space (assignment Part II, Task 3).

`find_latent_pair` draws latents until the classifier confidently sees two different digits;
`lerp` and `slerp` interpolate between them; `plot_strip` shows the images with the
classifier's verdict under each.
"""

import torch

from gan_metrics import CONFIDENCE
from mnist_classifier import classify


@torch.no_grad()
def find_latent_pair(G, classifier, digits=None, seed=0, batch_size=256, max_batches=40):
    """Two latents z_a, z_b whose images are classified as different digits with p > CONFIDENCE.

    digits=None takes the first two confident samples of different classes from a seeded
    stream of z ~ N(0, I); digits=(a, b) asks for those two digits. Returns (z_a, z_b), each
    of shape (latent_dim,), and the two digits.
    """
    if digits is not None and (len(digits) != 2 or digits[0] == digits[1]
                               or not all(0 <= d <= 9 for d in digits)):
        raise ValueError(f"digits must be two different digits 0-9, got {digits}")
    rng = torch.Generator().manual_seed(seed)
    found = {}  # digit -> latent
    for _ in range(max_batches):
        z = torch.randn(batch_size, G.latent_dim, generator=rng)
        labels, probs = classify(G(z), classifier)
        for latent, label, p in zip(z, labels.tolist(), probs.max(dim=1).values.tolist()):
            if p > CONFIDENCE and label not in found and (digits is None or label in digits):
                found[label] = latent
        wanted = digits if digits is not None else list(found)[:2]
        if len(wanted) == 2 and all(d in found for d in wanted):
            return found[wanted[0]], found[wanted[1]], tuple(wanted)
    raise ValueError(f"no confident pair {digits or ''} in {max_batches * batch_size} samples")


def lerp(z_a, z_b, steps):
    """Points on the segment: (1 - t) z_a + t z_b for `steps` values of t from 0 to 1."""
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * z_a + t * z_b


def slerp(z_a, z_b, steps):
    """Points on the great circle: sin((1-t) w)/sin(w) z_a + sin(t w)/sin(w) z_b, w = angle(z_a, z_b).

    The norm moves smoothly from |z_a| to |z_b| instead of dipping in the middle.
    """
    t = torch.linspace(0, 1, steps)[:, None]
    cos_omega = torch.dot(z_a / z_a.norm(), z_b / z_b.norm()).clamp(-1, 1)
    omega = torch.acos(cos_omega)
    if omega < 1e-6:  # (nearly) parallel: the arc is the segment
        return lerp(z_a, z_b, steps)
    return (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / torch.sin(omega)


@torch.no_grad()
def plot_strip(G, classifier, latents, title, ax_row):
    """Draw G(latents) along a row of axes, with predicted digit and probability underneath."""
    images = G(latents)
    labels, probs = classify(images, classifier)
    for ax, image, label, p in zip(ax_row, images, labels.tolist(), probs.max(dim=1).values.tolist()):
        ax.imshow(image[0].numpy(), cmap="gray", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{label}  ({p:.2f})")
    ax_row[0].set_ylabel(title)
    return labels, probs
