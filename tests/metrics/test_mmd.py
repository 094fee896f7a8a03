"""MMD² and the kernel distance against plain NumPy loops on the same subsets."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import references as ref

import jaxmetrics as jm
from jaxmetrics._src import routing
from jaxmetrics.metrics import kernel_distance as _kernel_distance

# Both sides sum the same float64 kernel values in different orders; sums of
# ~1e6 terms of size ~1 agree to ~1e-13 relative. The MMD² is a difference of
# such sums, so compare with an absolute tolerance scaled by the kernel size.
ATOL_KD = 1e-11


@pytest.mark.parametrize("estimator", ["unbiased", "biased", "u-statistic"])
def test_mmd2_polynomial_matches_numpy(rng, estimator):
    x = rng.normal(size=(150, 20))
    y = rng.normal(0.2, size=(150, 20))
    kxx, kxy, kyy = (ref.polynomial_kernel(a, b) for a, b in ((x, x), (x, y), (y, y)))
    expected = ref.mmd2(kxx, kxy, kyy, estimator)
    got = float(jm.mmd2(x, y, estimator=estimator))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=ATOL_KD)


def test_mmd2_unequal_sizes_and_blocks(rng, monkeypatch):
    # Force tiny row blocks so the blocked accumulation and its padding are used.
    monkeypatch.setattr(routing, "KERNEL_BLOCK_ENTRIES", 64 * 37)
    x = rng.normal(size=(101, 7))
    y = rng.normal(size=(37, 7)) * 1.5
    kxx, kxy, kyy = (
        ref.polynomial_kernel(a, b, degree=2, gamma=0.3, coef0=0.5)
        for a, b in ((x, x), (x, y), (y, y))
    )
    expected = ref.mmd2(kxx, kxy, kyy)
    got = float(jm.mmd2(x, y, degree=2, gamma=0.3, coef0=0.5))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=ATOL_KD)


def test_mmd2_rbf_with_median_heuristic(rng):
    x = rng.normal(size=(120, 5))
    y = rng.normal(0.5, size=(90, 5))
    d = np.sqrt(((y[:, None] - y[None]) ** 2).sum(-1))
    bandwidth = np.median(d[np.triu_indices(len(y), 1)])
    np.testing.assert_allclose(float(jm.median_pairwise_distance(y)), bandwidth, rtol=1e-12)
    kxx, kxy, kyy = (ref.rbf_kernel(a, b, bandwidth) for a, b in ((x, x), (x, y), (y, y)))
    expected = ref.mmd2(kxx, kxy, kyy)
    np.testing.assert_allclose(float(jm.mmd2(x, y, kernel="rbf")), expected, rtol=1e-10)
    np.testing.assert_allclose(
        float(jm.mmd2(x, y, kernel="rbf", bandwidth=2.0)),
        ref.mmd2(*(ref.rbf_kernel(a, b, 2.0) for a, b in ((x, x), (x, y), (y, y)))),
        rtol=1e-10,
    )


@pytest.mark.parametrize("n_x,n_y,route", [(600, 500, "subsets"), (300, 350, "whole")])
def test_kernel_distance_matches_loop_with_same_indices(rng, n_x, n_y, route, monkeypatch):
    monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args: route)
    x = rng.normal(size=(n_x, 32))
    y = rng.normal(0.1, size=(n_y, 32))
    idx = jm.numpy_subset_indices(n_x, n_y, num_subsets=12, subset_size=128, seed=7)
    mean, std, values = ref.kernel_distance_loop(x, y, *idx)
    result, got_values = jm.kernel_distance(x, y, subset_indices=idx, return_values=True)
    np.testing.assert_allclose(np.asarray(got_values), values, rtol=1e-10, atol=ATOL_KD)
    np.testing.assert_allclose(float(result.mean), mean, rtol=1e-10, atol=ATOL_KD)
    np.testing.assert_allclose(float(result.std), std, rtol=1e-8, atol=ATOL_KD)


def test_whole_route_handles_repeated_indices(rng, monkeypatch):
    """Explicit indices with repeats: multiplicities, not set membership."""
    x = rng.normal(size=(40, 6))
    y = rng.normal(size=(50, 6))
    idx_x = rng.integers(0, 40, size=(5, 30))  # with replacement
    idx_y = rng.integers(0, 50, size=(5, 30))
    _, _, expected = ref.kernel_distance_loop(x, y, idx_x, idx_y)
    for route in ("whole", "subsets"):
        monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args, r=route: r)
        _, values = jm.kernel_distance(x, y, subset_indices=(idx_x, idx_y), return_values=True)
        np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-10, atol=ATOL_KD)


def test_subsets_per_batch_keeps_cpu_batches_in_cache():
    """CPU: kernel blocks of a batch in ~32 MiB, at least 2 subsets; other
    platforms: 256 MiB; never more than there are subsets."""

    class Accelerator:
        platform = "gpu"

    f32, f64 = jnp.float32, jnp.float64
    assert _kernel_distance.subsets_per_batch(100, 1000, f32) == 2  # 12 MB per subset
    assert _kernel_distance.subsets_per_batch(100, 1000, f64) == 2  # floor of 2 (24 MB each)
    assert _kernel_distance.subsets_per_batch(100, 200, f32) == 69  # 32 MiB // 480 kB
    assert _kernel_distance.subsets_per_batch(5, 200, f32) == 5
    assert (
        _kernel_distance.subsets_per_batch(100, 1000, f32, [Accelerator()]) == 22
    )  # 256 MiB // 12 MB
    assert _kernel_distance.subsets_per_batch(100, 4000, f64, [Accelerator()]) == 1


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_subset_batch_size_does_not_change_values(rng, batch, monkeypatch):
    monkeypatch.setattr(_kernel_distance, "subsets_per_batch", lambda *args: batch)
    monkeypatch.setattr(_kernel_distance, "choose_route", lambda *args: "subsets")
    x = rng.normal(size=(300, 16))
    y = rng.normal(0.2, size=(300, 16))
    idx = jm.numpy_subset_indices(300, 300, num_subsets=7, subset_size=64, seed=3)
    _, _, expected = ref.kernel_distance_loop(x, y, *idx)
    _, values = jm.kernel_distance(x, y, subset_indices=idx, return_values=True)
    np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-10, atol=ATOL_KD)


def test_route_choice_is_by_cost():
    assert _kernel_distance.choose_route(3000, 3000, 512, 100, 1000) == "whole"
    assert _kernel_distance.choose_route(10000, 10000, 512, 100, 1000) == "subsets"


def test_key_reproducible_and_unbiased(rng):
    x = rng.normal(size=(2000, 16))
    y = rng.normal(size=(2000, 16))
    a = jm.kernel_distance(x, y, key=jax.random.key(3), num_subsets=50, subset_size=200)
    b = jm.kernel_distance(x, y, key=jax.random.key(3), num_subsets=50, subset_size=200)
    c = jm.kernel_distance(x, y, key=jax.random.key(4), num_subsets=50, subset_size=200)
    assert float(a.mean) == float(b.mean)
    assert float(a.mean) != float(c.mean)
    # Same distribution: the unbiased estimate averages to ~0 within its noise.
    assert abs(float(a.mean)) < 3 * float(a.std) / np.sqrt(50) + 1e-3


def test_subset_size_reduction_is_warned_and_matches_audio_metrics_rule(rng):
    x = rng.normal(size=(50, 4))
    y = rng.normal(size=(60, 4))
    with pytest.warns(UserWarning, match="using subset_size=25"):
        jm.kernel_distance(x, y, subset_size=1000, num_subsets=3)
    with pytest.warns(UserWarning):
        idx_x, _ = jm.numpy_subset_indices(50, 60, num_subsets=2, subset_size=50)
    assert idx_x.shape == (2, 25)


def test_vmap_sweep_over_gamma(rng):
    x = rng.normal(size=(200, 8))
    y = rng.normal(0.3, size=(200, 8))
    gammas = jnp.asarray([0.05, 0.125, 0.5])
    with jax.enable_x64(True):
        swept = jax.vmap(lambda g: jm.mmd2(x, y, gamma=g))(gammas)
    for g, value in zip(np.asarray(gammas), np.asarray(swept), strict=True):
        np.testing.assert_allclose(value, float(jm.mmd2(x, y, gamma=float(g))), rtol=1e-10)


def test_float32_mode(rng):
    x = rng.normal(size=(500, 64)).astype(np.float32)
    y = rng.normal(0.2, size=(500, 64)).astype(np.float32)
    idx = jm.numpy_subset_indices(500, 500, num_subsets=10, subset_size=200)
    exact = jm.kernel_distance(x, y, subset_indices=idx)
    single = jm.kernel_distance(x, y, subset_indices=idx, precision="float32")
    assert single.mean.dtype == jnp.float32
    np.testing.assert_allclose(float(single.mean), float(exact.mean), rtol=1e-3)


def test_bad_arguments(rng):
    x = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="kernel must be one of"):
        jm.mmd2(x, x, kernel="laplace")
    with pytest.raises(ValueError, match="estimator must be one of"):
        jm.mmd2(x, x, estimator="fast")
    with pytest.raises(ValueError, match="u-statistic"):
        jm.mmd2(x, x[:10], estimator="u-statistic")
    with pytest.raises(TypeError, match="degree must be an integer"):
        jm.mmd2(x, x, degree=2.5)
    with pytest.raises(ValueError, match="num_subsets must be >= 1"):
        jm.kernel_distance(x, x, num_subsets=0)
    with pytest.raises(ValueError, match="outside"):
        jm.kernel_distance(x, x, subset_indices=(np.zeros((2, 3), int), np.full((2, 3), 99)))
    with pytest.raises(ValueError, match="x needs at least 4 rows"):
        jm.kernel_distance(x[:3], x)


def test_one_key_draws_the_same_subsets_in_float32_and_float64(rng):
    # Subsets come from integer random bits, not from float uniforms whose
    # width follows the precision: both precisions average the same subsets.
    x = rng.normal(size=(300, 8))
    y = x[::-1] * 1.1
    opts = {"num_subsets": 20, "subset_size": 100, "return_values": True}
    _, v64 = jm.kernel_distance(x, y, **opts)
    _, v32 = jm.kernel_distance(x, y, precision="float32", **opts)
    np.testing.assert_allclose(np.asarray(v32), np.asarray(v64), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("n", [2, 3, 4, 57, 300, 600])
def test_median_pairwise_distance_is_exact_at_any_size(rng, n):
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(n, 6))
    if n > 50:
        x[: n // 3] = x[0]  # a third identical rows: a mass of exact ties at 0
    dist = np.sort(pdist(x))
    lower = dist[(dist.size - 1) // 2]
    # The selection returns one of the distances; ours come from the Gram
    # formula of the centred rows, within a few ulps of pdist's differences.
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x, lower=True)), lower, rtol=1e-13)
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x)), np.median(dist), rtol=1e-13)
    got32 = float(jm.median_pairwise_distance(x, precision="float32", lower=True))
    np.testing.assert_allclose(got32, lower, rtol=1e-5)


def test_median_beyond_the_old_subsample_limit(rng):
    # 4,097 rows: every one of the 8.4 million pairs counts (no subsample).
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(4097, 3)).astype(np.float32)
    expected = np.median(pdist(x.astype(np.float64)))
    np.testing.assert_allclose(float(jm.median_pairwise_distance(x)), expected, rtol=1e-13)


def _kadtk_formula(x, y, sigma):
    """kadtk's calc_kernel_audio_distance restated in NumPy float64 (its Gram formula)."""
    gamma = 1.0 / (2.0 * sigma**2 + 1e-8)

    def kernel(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-gamma * d2)

    m, n = len(x), len(y)
    kxx, kyy = kernel(x, x), kernel(y, y)
    np.fill_diagonal(kxx, 0.0)
    np.fill_diagonal(kyy, 0.0)
    return 100.0 * (kxx.sum() / (m * (m - 1)) + kyy.sum() / (n * (n - 1)) - 2 * kernel(x, y).mean())


def test_kad_preset_reproduces_kadtk(rng):
    from scipy.spatial.distance import pdist

    x = rng.normal(size=(300, 16))
    y = rng.normal(size=(250, 16)) * 1.1 + 0.05
    dist = np.sort(pdist(y))
    sigma = dist[(dist.size - 1) // 2]  # torch.median: the lower median
    np.testing.assert_allclose(float(jm.kad(x, y)), _kadtk_formula(x, y, sigma), rtol=1e-11)
    np.testing.assert_allclose(
        float(jm.kad(x, y, bandwidth=2.5)), _kadtk_formula(x, y, 2.5), rtol=1e-11
    )
    with pytest.raises(ValueError, match="median pairwise distance of candidate is 0"):
        jm.kad(x, np.ones((10, 16)))


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


@pytest.mark.parametrize("n", [2, 5, 57, 600, 2100])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_radix_selection_returns_the_exact_order_statistic(rng, n, dtype):
    # On a small integer lattice every squared distance is computed exactly
    # (whatever the product's order), so the selection must return exactly the
    # entry of each rank of numpy's sort of the exact distances, whatever the
    # digit widths chosen for n and with masses of ties (a third of the rows
    # identical, many equal distances).
    import jax
    import jax.numpy as jnp
    from scipy.spatial.distance import pdist

    from jaxmetrics._src import kernels as _kernels

    x = rng.integers(-3, 4, size=(n, 6)).astype(np.float64)
    x[: n // 3] = x[0]
    exact = np.sort(pdist(x, "sqeuclidean"))
    pairs = exact.size
    ranks = sorted({0, (pairs - 1) // 2, pairs // 2, pairs - 1})
    with jax.enable_x64(True):
        got = _kernels._select_pair_distances(jnp.asarray(x, dtype), jnp.asarray(ranks))
    np.testing.assert_array_equal(np.asarray(got, np.float64), exact[ranks])
