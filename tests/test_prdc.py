"""PRDC against the prdc package (Naeem et al.'s reference code)."""

from __future__ import annotations

import numpy as np
import pytest
from prdc import compute_prdc

import jaxmetrics as jm


def _reference(real, fake, k):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints sizes
        return compute_prdc(real, fake, k)


@pytest.mark.parametrize(
    "n,m,d,k,block",
    [(300, 250, 16, 5, 2048), (300, 250, 16, 5, 64), (517, 389, 32, 3, 100), (200, 400, 8, 1, 33)],
)
def test_matches_prdc_package_exactly(rng, n, m, d, k, block):
    real = rng.normal(size=(n, d))
    fake = rng.normal(0.3, 1.1, size=(m, d))
    expected = _reference(real, fake, k)
    got = jm.prdc(real, fake, k=k, block_size=block)
    for name in ("precision", "recall", "density", "coverage"):
        # Exact: the metrics are counts of strict comparisons over the same
        # float64 squared distances, divided by the same integers.
        assert float(getattr(got, name)) == expected[name], name


def test_float32_embeddings(rng):
    real = rng.normal(size=(400, 64)).astype(np.float32)
    fake = (rng.normal(size=(300, 64)) * 0.9).astype(np.float32)
    expected = _reference(real, fake, 5)
    got = jm.prdc(real, fake, k=5)
    for name in ("precision", "recall", "density", "coverage"):
        assert float(getattr(got, name)) == expected[name], name


def test_duplicates_and_ranges(rng):
    base = rng.normal(size=(60, 4))
    real = np.concatenate([base, base[:10]])  # duplicated rows: zero distances
    fake = rng.normal(size=(80, 4))
    expected = _reference(real, fake, 4)
    got = jm.prdc(real, fake, k=4, block_size=16)
    for name in ("precision", "recall", "density", "coverage"):
        assert float(getattr(got, name)) == expected[name], name
    for value in (got.precision, got.recall, got.coverage):
        assert 0.0 <= float(value) <= 1.0
    assert float(got.density) >= 0.0


def test_identical_sets_are_perfect(rng):
    x = rng.normal(size=(100, 5))
    got = jm.prdc(x, x, k=3)
    assert float(got.precision) == 1.0 and float(got.recall) == 1.0
    assert float(got.coverage) == 1.0


def test_bad_k(rng):
    x = rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match="k=5 must be smaller than the number of reference rows"):
        jm.prdc(x, rng.normal(size=(50, 3)), k=5)
    with pytest.raises(ValueError, match="candidate rows"):
        jm.prdc(rng.normal(size=(50, 3)), x, k=5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        jm.prdc(x, x, k=0)


@pytest.mark.parametrize("width,k", [(40, 6), (2048, 6), (300, 3), (64, 1), (100, 8)])
def test_tile_k_smallest_keeps_ties(rng, width, k):
    from jaxmetrics._prdc import _k_smallest, _tile_k_smallest

    # Few distinct values: many ties, within and across groups of 32.
    values = rng.integers(0, 5, size=(50, width)).astype(np.float32)
    values[::7, ::3] = np.inf
    expected = np.sort(values, axis=1)[:, :k]
    np.testing.assert_array_equal(np.asarray(_tile_k_smallest(values, k)), expected)
    np.testing.assert_array_equal(np.asarray(_k_smallest(values, k)), expected)
    np.testing.assert_array_equal(
        np.asarray(_tile_k_smallest(values.T.copy(), k, axis=0)), expected
    )


# --------------------------------------------------------------------------
# Float32 screening: every decision must be the float64 one
# --------------------------------------------------------------------------


FIELDS = ("precision", "recall", "density", "coverage")


def _paths(real, fake, k, block, screen):
    """The screened and the plain float64 results (metrics and radii) of one case."""
    import jax
    import jax.numpy as jnp

    from jaxmetrics import _prdc

    n, m = real.shape[0], fake.shape[0]
    block = _prdc._block_for(n, m, block)
    screen = _prdc._SCREEN if screen == "default" else screen
    out = {}
    with jax.enable_x64(True):
        for name, scr in (("screened", screen), ("float64", None)):
            ref, cand = jnp.asarray(real, jnp.float64), jnp.asarray(fake, jnp.float64)
            metrics = _prdc._prdc(
                ref, cand, jnp.asarray([n, m, 1.0 / k]), k=k, block=block,
                dtype=jnp.float64, devices=None, screen=scr,
            )  # fmt: skip
            mu = None if scr is None else jnp.mean(ref, axis=0)
            radii = jax.jit(
                lambda x, mu, scr=scr: _prdc._knn_sq_radii(x, k, block, screen=scr, mu=mu)
            )(cand, mu)
            out[name] = ([float(v) for v in metrics], np.asarray(radii))
    return out


def _adversarial(rng, kind, n, d):
    if kind == "lattice":  # exact arithmetic: masses of exact ties at the radii
        return rng.integers(-2, 3, size=(n, d)).astype(np.float64)
    if kind == "duplicates":  # exact zero distances, radii of exactly 0
        base = rng.integers(-3, 4, size=(n // 4, d)).astype(np.float64)
        return base[rng.integers(0, n // 4, size=n)]
    if kind == "perturbed":  # near-ties 1e-7 apart: undecided in float32, not in float64
        base = rng.integers(-2, 3, size=(n, d)).astype(np.float64)
        return base * (1.0 + 1e-7 * rng.standard_normal((n, d)))
    if kind == "offset":  # a large common offset: the bound is relative to the spread
        return 1e3 + rng.normal(size=(n, d))
    if kind == "float32":
        return rng.normal(size=(n, d)).astype(np.float32)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["lattice", "duplicates", "perturbed", "offset", "float32"])
@pytest.mark.parametrize("screen", ["default", (0, 8)], ids=["default", "tiny-capacity"])
def test_screening_gives_the_float64_decisions(rng, kind, screen):
    # (0, 8): no spare candidate, so no row's radius is ever proven from the
    # float32 candidates and every row takes the float64 fallback; settling
    # runs in chunks of 8 rows, several per tile.
    real = _adversarial(rng, kind, 230, 6)
    fake = _adversarial(rng, kind, 170, 6)
    if kind == "perturbed":
        fake = real[:170] * (1.0 + 1e-7 * rng.standard_normal((170, 6)))
    out = _paths(real, fake, 4, 64, screen)
    assert out["screened"][0] == out["float64"][0]
    np.testing.assert_array_equal(out["screened"][1], out["float64"][1])
    expected = _reference(real, fake, 4)
    for name, value in zip(FIELDS, out["screened"][0], strict=True):
        assert value == expected[name], name


@pytest.mark.parametrize("d,block", [(2048, 96), (700, 2048), (33, 40)])
def test_screening_at_large_d_and_odd_blocks(rng, d, block):
    # At d = 2048 the bound is ~1.2e-4 relative: many undecided entries.
    real = rng.normal(size=(260, d)) * np.linspace(1.0, 0.1, d)
    fake = rng.normal(0.05, 1.0, size=(190, d)) * np.linspace(1.0, 0.1, d)
    out = _paths(real, fake, 5, block, "default")
    assert out["screened"][0] == out["float64"][0]
    np.testing.assert_array_equal(out["screened"][1], out["float64"][1])
    expected = _reference(real, fake, 5)
    for name, value in zip(FIELDS, out["screened"][0], strict=True):
        assert value == expected[name], name


def test_screening_off_for_float32_overflow(rng):
    # Squared norms above 2^100 could overflow float32: every decision is
    # then taken in float64 (the `ok` flag), still exactly.
    real, fake = rng.normal(size=(120, 8)) * 1e40, rng.normal(size=(100, 8)) * 1e40
    out = _paths(real, fake, 3, 32, "default")
    assert out["screened"][0] == out["float64"][0]
    np.testing.assert_array_equal(out["screened"][1], out["float64"][1])


@pytest.mark.parametrize("kind", ["gaussian", "offset", "float32", "lattice", "wide"])
def test_float32_bound_holds(rng, kind):
    """low <= float64 d2 <= high for every entry of a float32 tile."""
    import jax
    import jax.numpy as jnp

    from jaxmetrics import _linalg, _prdc

    d = 2048 if kind == "wide" else 64
    x = rng.normal(size=(300, d))
    if kind == "offset":
        x = 50.0 + x * 1e-2
    elif kind == "float32":
        x = x.astype(np.float32).astype(np.float64)
    elif kind == "lattice":
        x = rng.integers(-3, 4, size=(300, d)).astype(np.float64)
    with jax.enable_x64(True):
        tiles, sq, _ = _prdc._tiles(jnp.asarray(x), 300)
        scr = _prdc._screened(tiles, sq, jnp.mean(tiles[0], axis=0))
        inner = _linalg.matmul(scr.tiles[0], scr.tiles[0].T)
        low, high = _prdc._bound_tiles(inner, scr.low[0], scr.low[0], scr.high[0], scr.high[0])
        exact = _prdc._sq_from_inner(_linalg.matmul(tiles[0], tiles[0].T), sq[0], sq[0])
        low, high, exact = (np.asarray(a, np.float64) for a in (low, high, exact))
    assert bool(scr.ok)
    assert (low <= exact).all() and (exact <= high).all()
    if kind == "gaussian":  # conservative, not absurdly: within 200x of the actual error
        mid = (low + high) / 2
        assert np.max(high - low) / 2 < 200 * np.max(np.abs(mid - exact))


def test_gathered_products_have_the_tile_bits(rng):
    """The float64 re-computation gives the very bits of the float64 tiles."""
    import jax
    import jax.numpy as jnp

    from jaxmetrics import _prdc

    for d in (5, 100, 512, 1000):
        x = rng.normal(size=(256, d))
        cols = rng.integers(0, 256, size=(256, 7)).astype(np.int32)
        with jax.enable_x64(True):
            tiles, sq, _ = _prdc._tiles(jnp.asarray(x), 256)
            full = _prdc._sq_distances(tiles[0], sq[0], tiles[0], sq[0])
            got = _prdc._gathered_sq(tiles[0], sq[0], jnp.asarray(cols))
        np.testing.assert_array_equal(
            np.asarray(got), np.take_along_axis(np.asarray(full), cols, 1)
        )
