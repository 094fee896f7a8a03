"""Measure the error of the float32 path against a float64 SciPy reference.

Realistic embeddings (a decaying covariance spectrum, float32 as embedders
produce them) at d = 128, 512, 2048, with the candidate set built as
``y = a * x + delta`` so that the true FAD, ``|delta|^2 + (1 - a)^2 tr Σx``, is
set to each target value from 1e-3 to 100. Prints one Markdown table of relative
errors for ``precision="float32"`` and, for comparison, the float64 default.

Usage: python benchmarks/precision_float32.py [--dims 128 512 2048] [--rows 8000]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg

import jaxmetrics as jm


def embeddings(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    spectrum = np.geomspace(1.0, 1e-4, d)
    return ((rng.normal(size=(n, d)) * np.sqrt(spectrum)) @ basis.T + 0.5).astype(np.float32)


def reference_fad(x: np.ndarray, y: np.ndarray) -> float:
    """float64 Fréchet distance through the SVD of Cholesky-factor products."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)

    def factor(c):
        w, v = np.linalg.eigh(c)
        return v * np.sqrt(np.clip(w, 0, None))

    nuclear = scipy.linalg.svdvals(factor(cx).T @ factor(cy)).sum()
    diff = x.mean(0) - y.mean(0)
    return float(diff @ diff + np.trace(cx) + np.trace(cy) - 2 * nuclear)


def candidate_for(x: np.ndarray, target: float) -> np.ndarray:
    """``a * x + delta`` at FAD ``target`` from ``x``: half from the scale, half the shift."""
    trace = np.trace(np.cov(x.astype(np.float64), rowvar=False))
    a = 1.0 + np.sqrt(target / 2 / trace)
    delta = np.full(x.shape[1], np.sqrt(target / 2 / x.shape[1]))
    mean = x.astype(np.float64).mean(0)
    return (a * (x - mean) + mean + delta).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--targets", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1, 1, 10, 100])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| d | rows | FAD (float64 reference) | rel. error float32 | rel. error float64 |")
    print("|---|---|---|---|---|")
    for d in args.dims:
        x = embeddings(rng, args.rows, d)
        for target in args.targets:
            y = candidate_for(x, target)
            exact = reference_fad(x, y)
            single = float(jm.frechet_distance(x, y, precision="float32"))
            double = float(jm.frechet_distance(x, y))
            print(
                f"| {d} | {args.rows} | {exact:.4g} | {abs(single - exact) / exact:.1e} "
                f"| {abs(double - exact) / exact:.1e} |"
            )


if __name__ == "__main__":
    from _results import run_recorded

    run_recorded(main, "float32 against float64 FAD errors")
