"""APA against the paper's formula and the audio-metrics implementation's conventions."""

from __future__ import annotations

import numpy as np
import pytest
import references as ref

import jaxmetrics as jm


def _plain_apa(d_y_x, d_y_xp, d_x_xp):
    """Grachten & Nistal (2025), clipped to [0, 1], 0.0 where undefined."""
    d_y_x, d_y_xp, d_x_xp = (max(0.0, v) for v in (d_y_x, d_y_xp, d_x_xp))
    num = d_y_xp - d_y_x
    den = max(d_x_xp, abs(num))
    return 0.0 if den <= 0 else 0.5 + num / (2 * den)


@pytest.mark.parametrize(
    "d_y_x,d_y_xp,d_x_xp",
    [
        (1.0, 3.0, 2.0),
        (3.0, 1.0, 2.0),
        (2.0, 2.0, 2.0),
        (0.5, 1.5, 4.0),
        (5.0, 0.1, 1.0),
        (-1e-9, 2.0, 2.0),
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 0.0),
        (0.0, 10.0, 1.0),
    ],
)
def test_formula(d_y_x, d_y_xp, d_x_xp):
    got = float(jm.apa_from_distances(d_y_x, d_y_xp, d_x_xp))
    assert got == pytest.approx(_plain_apa(d_y_x, d_y_xp, d_x_xp), abs=1e-15)
    assert 0.0 <= got <= 1.0


def test_broadcasts():
    got = jm.apa_from_distances(np.array([1.0, 3.0]), np.array([3.0, 1.0]), 2.0)
    np.testing.assert_allclose(got, [1.0, 0.0])


def test_on_embeddings_matches_reference_distances(rng):
    d = 16
    reference = rng.normal(size=(800, d))
    anti = rng.normal(0.5, 1.3, size=(800, d))
    candidate = 0.7 * reference[:600] + 0.3 * anti[:600]
    result = jm.apa(candidate, reference, anti)
    d_y_x = ref.frechet_sqrtm(*ref.stats(candidate), *ref.stats(reference))
    d_y_xp = ref.frechet_sqrtm(*ref.stats(candidate), *ref.stats(anti))
    d_x_xp = ref.frechet_sqrtm(*ref.stats(reference), *ref.stats(anti))
    expected = _plain_apa(d_y_x, d_y_xp, d_x_xp)
    np.testing.assert_allclose(float(result.score), expected, rtol=1e-9)
    np.testing.assert_allclose(float(result.candidate_reference), d_y_x, rtol=1e-9)
    np.testing.assert_allclose(float(result.candidate_anti_reference), d_y_xp, rtol=1e-9)
    np.testing.assert_allclose(float(result.reference_anti_reference), d_x_xp, rtol=1e-9)
    assert 0.0 < float(result.score) < 1.0


def test_stats_and_embeddings_give_the_same(rng):
    sets = [rng.normal(i * 0.2, size=(300, 8)) for i in range(3)]
    from_arrays = jm.apa(*sets)
    from_stats = jm.apa(*[jm.gaussian_stats(s) for s in sets])
    np.testing.assert_allclose(float(from_arrays.score), float(from_stats.score), rtol=1e-12)


def test_extremes(rng):
    reference = rng.normal(size=(500, 6))
    anti = rng.normal(3.0, size=(500, 6))
    assert float(jm.apa(reference, reference, anti).score) == 1.0
    assert float(jm.apa(anti, reference, anti).score) == 0.0


def test_bad_input(rng):
    good = rng.normal(size=(10, 4))
    with pytest.raises(ValueError, match="candidate and reference must have the same"):
        jm.apa(rng.normal(size=(10, 3)), good, good)
    with pytest.raises(ValueError, match="anti_reference has 1 row"):
        bad = good.copy()
        bad[7] = np.nan
        jm.apa(good, good, bad)
    with pytest.raises(ValueError, match="precision must be one of"):
        jm.apa(good, good, good, precision="float16")
