"""Latent walks: lerp and slerp between two latents, and the search for two confidently different digits."""

import pytest
import torch

from latent_walk import find_latent_pair, lerp, slerp


def test_lerp_and_slerp_run_from_one_latent_to_the_other():
    torch.manual_seed(0)
    z_a, z_b = torch.randn(100), torch.randn(100)
    for path in (lerp(z_a, z_b, 9), slerp(z_a, z_b, 9)):
        assert path.shape == (9, 100)
        torch.testing.assert_close(path[0], z_a)
        torch.testing.assert_close(path[-1], z_b)
    # Independent Gaussian latents are nearly orthogonal: the line's midpoint is much shorter
    # than either end, the arc's is not.
    line_mid, arc_mid = lerp(z_a, z_b, 9)[4].norm(), slerp(z_a, z_b, 9)[4].norm()
    assert line_mid < 0.8 * min(z_a.norm(), z_b.norm())
    assert arc_mid > 0.95 * min(z_a.norm(), z_b.norm())
    # between latents of equal norm the arc moves at constant angular speed on that sphere
    arc = slerp(z_a, z_b * z_a.norm() / z_b.norm(), 9)
    torch.testing.assert_close(arc.norm(dim=1), z_a.norm().expand(9))
    unit = arc / arc.norm(dim=1, keepdim=True)
    cosines = (unit[1:] * unit[:-1]).sum(dim=1)
    torch.testing.assert_close(cosines, cosines[:1].expand(8))


class FixedLabels(torch.nn.Module):
    """A stand-in classifier: the digit is read off the first latent coordinate."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # classify() reads the device from it

    def features(self, x):
        return x.flatten(1)[:, :10]

    def forward(self, x):
        digit = (x.flatten(1)[:, 0].abs() * 10).long().clamp(max=9)
        return torch.nn.functional.one_hot(digit, 10).float() * 20


class Passthrough(torch.nn.Module):
    latent_dim = 784

    def forward(self, z):
        return z.view(-1, 1, 28, 28)


def test_find_latent_pair_returns_confident_different_digits():
    G, classifier = Passthrough(), FixedLabels()
    z_a, z_b, digits = find_latent_pair(G, classifier, seed=1, batch_size=16)
    assert digits[0] != digits[1]
    assert [(z[0].abs() * 10).long().clamp(max=9).item() for z in (z_a, z_b)] == list(digits)
    z_4, z_1, digits = find_latent_pair(G, classifier, digits=(4, 1), seed=1, batch_size=16)
    assert digits == (4, 1) and int(z_4[0].abs() * 10) == 4 and int(z_1[0].abs() * 10) == 1
    with pytest.raises(ValueError, match="two different digits"):
        find_latent_pair(G, classifier, digits=(3, 3))
