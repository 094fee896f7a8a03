"""The peers' KID subset draws, replayed: torch-fidelity's and torchmetrics'."""

from __future__ import annotations

import numpy as np
import pytest
import references as ref

import jaxmetrics as jm

# Both sides sum the same float64 kernel values in different orders; sums of
# ~1e6 terms of size ~1 agree to ~1e-13 relative. The MMD² is a difference of
# such sums, so compare with an absolute tolerance scaled by the kernel size.
ATOL_KD = 1e-11


def test_torch_fidelity_preset_replays_its_draws_and_values(rng):
    x = rng.normal(size=(120, 6))
    y = rng.normal(size=(90, 6)) * 1.2
    idx_x, idx_y = jm.torch_fidelity_subset_indices(120, 90, num_subsets=5, subset_size=40)
    state = np.random.RandomState(2020)  # torch-fidelity's loop, restated
    values = []
    for i in range(5):
        ix = state.choice(120, 40, replace=False)
        iy = state.choice(90, 40, replace=False)
        np.testing.assert_array_equal(idx_x[i], ix)
        np.testing.assert_array_equal(idx_y[i], iy)
        a, b = x[ix], y[iy]
        k = ref.polynomial_kernel
        values.append(ref.mmd2(k(a, a), k(a, b), k(b, b)))
    kd = jm.kernel_distance(x, y, subset_indices=(idx_x, idx_y))
    np.testing.assert_allclose(float(kd.mean), np.mean(values), rtol=1e-12)
    np.testing.assert_allclose(float(kd.std), np.std(values), rtol=1e-10)
    with pytest.raises(ValueError, match="torch-fidelity does not reduce it"):
        jm.torch_fidelity_subset_indices(120, 30, subset_size=40)


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5])
def test_torchmetrics_preset_replays_torch_randperm(seed):
    torch = pytest.importorskip("torch")
    sizes = [(300, 250, 40), (2, 2, 2), (1000, 37, 37)]
    for n_x, n_y, size in sizes:
        idx_x, idx_y = jm.torchmetrics_subset_indices(
            n_x, n_y, num_subsets=4, subset_size=size, seed=seed
        )
        torch.manual_seed(seed)
        for i in range(4):  # torchmetrics' loop: real, then fake, per subset
            np.testing.assert_array_equal(idx_x[i], torch.randperm(n_x)[:size].numpy())
            np.testing.assert_array_equal(idx_y[i], torch.randperm(n_y)[:size].numpy())


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_torchmetrics_preset_reproduces_its_kid(rng):
    torch = pytest.importorskip("torch")
    kid_module = pytest.importorskip("torchmetrics.image.kid")

    class Features(torch.nn.Module):  # the embeddings are the features
        def forward(self, x):
            return x

    x = rng.normal(size=(120, 16))
    y = rng.normal(0.2, 1.1, size=(90, 16))
    kid = kid_module.KernelInceptionDistance(feature=Features(), subsets=6, subset_size=40)
    kid.update(torch.tensor(x), real=True)
    kid.update(torch.tensor(y), real=False)
    torch.manual_seed(1234)
    mean, std = (float(v) for v in kid.compute())
    idx = jm.torchmetrics_subset_indices(120, 90, num_subsets=6, subset_size=40, seed=1234)
    ours = jm.kernel_distance(x, y, subset_indices=idx)
    # Same subsets, same float64 formula; the sums differ only in order.
    np.testing.assert_allclose(float(ours.mean), mean, rtol=1e-12)
    np.testing.assert_allclose(float(ours.std), std, rtol=1e-10)
    with pytest.raises(ValueError, match="torchmetrics does not reduce it"):
        jm.torchmetrics_subset_indices(120, 30, subset_size=40, seed=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        jm.torchmetrics_subset_indices(120, 90, subset_size=40, seed=-1)
