"""Plain exact references for the metric core, written for the tests.

PRDC from explicit difference vectors in exact integer arithmetic: every
float64 value is an integer multiple of a common power of two, so after
scaling by it the squared distances are Python integers, computed without
rounding. The decisions are then those of exact arithmetic on the given
floats, and the final divisions are the ones the prdc package makes.
"""

from __future__ import annotations

import numpy as np


def exact_integers(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays as object arrays of Python ints, all scaled by one power of two (exact)."""
    values = [np.asarray(a, np.float64) for a in arrays]
    mantissas, exponents = [], []
    for v in values:
        m, e = np.frexp(v)  # v = m 2^e, 0.5 <= |m| < 1
        mantissas.append((m * 2.0**53).astype(np.int64))  # exact integers
        exponents.append(e - 53)
    nonzero = [e[m != 0] for m, e in zip(mantissas, exponents, strict=True)]
    low = min((int(e.min()) for e in nonzero if e.size), default=0)
    out = []
    for m, e in zip(mantissas, exponents, strict=True):
        shift = (e - low).astype(object)
        out.append(m.astype(object) * (2**shift))
    return out


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact squared distances between rows of two object arrays of ints: ``(n, m)``."""
    diff = a[:, None, :] - b[None, :, :]
    return (diff * diff).sum(axis=2)


def knn_radii(dist: np.ndarray, k: int) -> np.ndarray:
    """The (k+1)-th smallest entry of each row, the row's own 0 included (prdc's radius)."""
    return np.array([sorted(row)[k] for row in dist], dtype=object)


def prdc(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """Exact (precision, recall, density, coverage), as defined by Naeem et al. (2020)."""
    r, f = exact_integers(real, fake)
    real_r = knn_radii(sq_distances(r, r), k)
    fake_r = knn_radii(sq_distances(f, f), k)
    cross = sq_distances(r, f)  # (N, M)
    in_real_ball = cross < real_r[:, None]
    n, m = len(real), len(fake)
    precision = np.sum(in_real_ball.any(axis=0)) / m
    recall = np.sum((cross < fake_r[None, :]).any(axis=1)) / n
    density = (1.0 / k) * (np.sum(in_real_ball.sum(axis=0)) / m)
    coverage = np.sum(in_real_ball.any(axis=1)) / n
    return float(precision), float(recall), float(density), float(coverage)


def frechet_distance(x: np.ndarray, y: np.ndarray, digits: int = 40) -> float:
    """FAD of two float64 sets in ``digits``-digit arithmetic (mpmath), from the data.

    Means and unbiased covariances from the exact values of the floats;
    ``tr sqrt(Σx Σy) = tr sqrt(A Σy A)`` with ``A = Σx^(1/2)``, both square
    roots through the symmetric eigen-decomposition (negative rounding-level
    eigenvalues of a singular matrix clipped at zero).
    """
    import mpmath

    with mpmath.workdps(digits):

        def stats(a):
            rows = [[mpmath.mpf(float(v)) for v in row] for row in np.asarray(a, np.float64)]
            n, d = len(rows), len(rows[0])
            mean = [mpmath.fsum(r[j] for r in rows) / n for j in range(d)]
            cov = mpmath.matrix(d, d)
            for i in range(d):
                for j in range(d):
                    cov[i, j] = mpmath.fsum((r[i] - mean[i]) * (r[j] - mean[j]) for r in rows) / (
                        n - 1
                    )
            return mean, cov

        def psd_sqrt(m):
            w, v = mpmath.eigsy(m)
            root = mpmath.diag([mpmath.sqrt(max(w[i], 0)) for i in range(len(w))])
            return v * root * v.T

        mx, sx = stats(x)
        my, sy = stats(y)
        a = psd_sqrt(sx)
        w, _ = mpmath.eigsy(a * sy * a)
        cross = mpmath.fsum(mpmath.sqrt(max(w[i], 0)) for i in range(len(w)))
        diff = mpmath.fsum((p - q) ** 2 for p, q in zip(mx, my, strict=True))
        trace = mpmath.fsum(sx[i, i] + sy[i, i] for i in range(len(mx)))
        return float(diff + trace - 2 * cross)
