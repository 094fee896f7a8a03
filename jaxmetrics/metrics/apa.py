"""Accompaniment prompt adherence (APA) from three Fréchet distances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxmetrics._src import precision as _precision
from jaxmetrics._src import validation as _validation
from jaxmetrics.metrics import frechet as _frechet
from jaxmetrics.metrics import sets as _sets
from jaxmetrics.metrics import stats as _stats
from jaxmetrics.metrics.stats import GaussianStats


class APA(NamedTuple):
    """APA score with the three Fréchet distances it is made of.

    Attributes:
      score: APA in ``[0, 1]``: 1 when the candidates sit at the aligned
        reference, 0 at the misaligned anti-reference, 1/2 halfway.
      candidate_reference: ``d(y, x)``, candidate mixes to aligned reference mixes.
      candidate_anti_reference: ``d(y, x')``, candidate mixes to misaligned mixes.
      reference_anti_reference: ``d(x, x')``.

    """

    score: jax.Array
    candidate_reference: jax.Array
    candidate_anti_reference: jax.Array
    reference_anti_reference: jax.Array


@jax.jit
def score_from_distances(d_y_x: jax.Array, d_y_xp: jax.Array, d_x_xp: jax.Array) -> jax.Array:
    """APA from its three Fréchet distances (the formula of :func:`apa`), single or batched."""
    d_y_x, d_y_xp, d_x_xp = (jnp.maximum(d, 0.0) for d in (d_y_x, d_y_xp, d_x_xp))
    numerator = d_y_xp - d_y_x
    denominator = jnp.maximum(d_x_xp, jnp.abs(numerator))
    safe = jnp.where(denominator > 0, denominator, 1.0)
    return jnp.where(denominator > 0, 0.5 + numerator / (2.0 * safe), 0.0)


def apa_from_distances(d_y_x: ArrayLike, d_y_xp: ArrayLike, d_x_xp: ArrayLike) -> jax.Array:
    r"""APA from the three Fréchet distances.

    .. math::
       \mathrm{APA} = \frac12 + \frac{d(y,x') - d(y,x)}
       {2\max\bigl(d(x,x'),\,\lvert d(y,x') - d(y,x)\rvert\bigr)}

    with every distance clipped at 0 first; the ``max`` in the denominator
    clips the score to ``[0, 1]`` as the paper prescribes. When the
    denominator is 0 (reference and anti-reference coincide and the candidate
    is equidistant) APA is undefined; we return 0.0, the value the
    ``audio-metrics`` package (1.0.4) returns. Broadcasts and ``vmap``\ s.

    Args:
      d_y_x: distance from candidate mixes to aligned reference mixes.
      d_y_xp: distance from candidate mixes to misaligned (anti-reference) mixes.
      d_x_xp: distance from reference to anti-reference mixes.

    Returns:
      APA score(s) in ``[0, 1]``.

    References:
      Grachten & Nistal, "Accompaniment Prompt Adherence: A Measure for
      Evaluating Music Accompaniment Systems", ICASSP 2025, arXiv:2503.06346.

    Examples:
      >>> import jaxmetrics as jm
      >>> float(jm.apa_from_distances(1.0, 3.0, 2.0))
      1.0
      >>> float(jm.apa_from_distances(2.0, 2.0, 2.0))
      0.5

    """
    return score_from_distances(jnp.asarray(d_y_x), jnp.asarray(d_y_xp), jnp.asarray(d_x_xp))


def apa(
    candidate: GaussianStats | ArrayLike,
    reference: GaussianStats | ArrayLike,
    anti_reference: GaussianStats | ArrayLike,
    *,
    precision: str = "float64",
) -> APA:
    """Accompaniment prompt adherence of candidate mixes.

    Each argument is either the embeddings ``(n, d)`` of a set of mixes or
    their :class:`GaussianStats`. ``reference`` holds mixes of aligned
    (context, stem) pairs, ``anti_reference`` mixes of deliberately misaligned
    pairs (a context with the stem of another song), ``candidate`` mixes of
    each context with its generated stem.

    Args:
      candidate: candidate mixes (embeddings or statistics).
      reference: aligned reference mixes.
      anti_reference: misaligned reference mixes.
      precision: used when statistics have to be computed from embeddings.

    Returns:
      :class:`APA` with the score and the three distances.

    References:
      Grachten & Nistal, arXiv:2503.06346.

    Examples:
      >>> import numpy as np
      >>> import jaxmetrics as jm
      >>> rng = np.random.default_rng(0)
      >>> ref, anti = rng.normal(size=(300, 4)), rng.normal(2.0, size=(300, 4))
      >>> float(jm.apa(ref, ref, anti).score)
      1.0

    """
    _validation.check_choice(precision, "precision", _precision.PRECISIONS)
    y = _stats.as_stats(candidate, "candidate", precision)
    x = _stats.as_stats(reference, "reference", precision)
    xp = _stats.as_stats(anti_reference, "anti_reference", precision)
    _validation.check_same_dim(y.mean, x.mean, "candidate", "reference")
    _validation.check_same_dim(x.mean, xp.mean, "reference", "anti_reference")
    d_y_x = _frechet.frechet_distance_from_stats(y, x)
    d_y_xp = _frechet.frechet_distance_from_stats(y, xp)
    d_x_xp = _frechet.frechet_distance_from_stats(x, xp)
    with _precision.precision_scope(
        "float64" if d_y_x.dtype == jnp.float64 else "float32", _validation.is_traced(d_y_x)
    ):
        score = score_from_distances(d_y_x, d_y_xp, d_x_xp)
    return APA(score, d_y_x, d_y_xp, d_x_xp)


def apa_batch(
    candidates: ArrayLike | Sequence[ArrayLike],
    reference: GaussianStats | ArrayLike,
    anti_reference: GaussianStats | ArrayLike,
    *,
    counts: ArrayLike | None = None,
    precision: str = "float64",
    devices: _sets.Devices = None,
) -> APA:
    """APA of many candidate sets of mixes against one reference / anti-reference pair.

    Args:
      candidates: ``(s, m, d)`` stack or list of candidate-mix embedding sets.
      reference: aligned reference mixes (embeddings or statistics).
      anti_reference: misaligned reference mixes (embeddings or statistics).
      counts: true row counts of a padded stack.
      precision: ``"float64"`` (default) or ``"float32"``.
      devices: as in :func:`jaxmetrics.frechet_distance_batch`.

    Returns:
      :class:`APA` whose fields are ``(s,)`` arrays (``reference_anti_reference``
      is the shared scalar broadcast to ``(s,)``).

    References:
      Grachten & Nistal, arXiv:2503.06346.

    """
    _validation.check_choice(precision, "precision", _precision.PRECISIONS)
    ref = _stats.as_stats(reference, "reference", precision)
    anti = _stats.as_stats(anti_reference, "anti_reference", precision)
    _validation.check_same_dim(ref.mean, anti.mean, "reference", "anti_reference")
    if isinstance(candidates, (list, tuple)):
        candidates, counts = _sets.stack_sets(candidates)
    opts = {"counts": counts, "precision": precision, "devices": devices}
    d_y_x = _frechet.frechet_distance_batch(ref, candidates, **opts)
    d_y_xp = _frechet.frechet_distance_batch(anti, candidates, **opts)
    d_x_xp = _frechet.frechet_distance_from_stats(ref, anti)
    with _precision.precision_scope(precision, False):
        d_x_xp = jnp.broadcast_to(d_x_xp, d_y_x.shape)
        return APA(score_from_distances(d_y_x, d_y_xp, d_x_xp), d_y_x, d_y_xp, d_x_xp)
