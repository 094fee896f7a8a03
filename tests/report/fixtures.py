"""A results dict of the ``jaxmetrics-results/1`` schema with every section filled in.

Two candidate sets with intervals, FAD∞ fits, per-file diagnostics (60 files
in the first set, so the table is capped), a projection, skipped files, a
failed set, and a file whose name holds ``<script>`` (it must be escaped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxmetrics.cli.output import BETTER

EVIL = "cand_a/<script>alert(1)</script>.wav"
SETS = ("cand_a/", "cand_b/")


def _files(rng: np.random.Generator, folder: str, count: int, audio_dir: Path | None) -> list:
    rows = []
    for i in range(count):
        name = EVIL if (folder == "cand_a/" and i == 3) else f"{folder}clip{i:03d}.wav"
        path = str(audio_dir / name) if audio_dir is not None and i < 2 else name
        windows = int(rng.integers(1, 6))
        rows.append(
            {
                "path": path,
                "windows": windows,
                "fad": float(10.0 - i * 0.1),
                "fad_note": f"{windows} windows < 128 dims: singular covariance",
                "realism_mean": float(rng.uniform(0.3, 1.5)),
                "realism_min": float(rng.uniform(0.1, 0.3)),
                "in_manifold": float(rng.uniform(0, 1)),
                "ball_count_mean": float(rng.uniform(0, 2)),
                "nearest_reference": str(audio_dir / "ref/r000.wav")
                if audio_dir is not None and i < 2
                else f"ref/r{i:03d}.wav",
                "nearest_offset": 5.0 * (i % 3),
                "nearest_distance": float(rng.uniform(0.2, 1.0)),
                "likely_copies": int(i == 5),
            }
        )
    return rows


def rich_results(audio_dir: Path | None = None) -> dict:
    """The schema with everything; with ``audio_dir``, the first two files of each set and
    their nearest reference are absolute paths under it (tests write WAV files there)."""
    rng = np.random.default_rng(0)
    results, intervals, inf, diagnostics = {}, {}, {}, {}
    for j, name in enumerate(SETS):
        values = {
            "fad": 1.2 + j,
            "kernel_distance_mean": 0.01 * (j + 1),
            "kernel_distance_std": 0.002,
            "precision": 0.8 - 0.2 * j,
            "recall": 0.7 - 0.2 * j,
            "density": 0.9 - 0.3 * j,
            "coverage": 0.75 - 0.25 * j,
        }
        results[name] = values
        intervals[name] = {k: [v * 0.9, v * 1.1] for k, v in values.items()}
        ns = [500, 1000, 2000, 4000]
        inf[name] = {
            "fad_inf": 0.9 + j,
            "slope": 150.0,
            "r2": 0.98,
            "ns": ns,
            "values": [0.9 + j + 150.0 / n + rng.normal(0, 0.005) for n in ns],
        }
        diagnostics[name] = {
            "k": 5,
            "copy_threshold": 0.31,
            "copy_quantile": 0.05,
            "dim": 128,
            "files": _files(rng, name, 60 if j == 0 else 12, audio_dir),
            "realism": [float(x) for x in rng.gamma(4.0, 0.3 - 0.05 * j, 200)],
        }
    points = {"reference": rng.normal(size=(120, 2)).tolist()}
    points.update({name: (rng.normal(size=(118, 2)) + j).tolist() for j, name in enumerate(SETS)})
    return {
        "format": "jaxmetrics-results/1",
        "embedder": "logmel,sr=16000,n_mels=128",
        "win_dur": 5.0,
        "metrics": ["fad", "kd", "prdc"],
        "versions": {"jaxmetrics": "0.1.0", "jax": "0.10.0", "numpy": "2.1", "python": "3.11"},
        "date": "2026-12-01T23:50:00Z",
        "reference": {
            "path": "ref/",
            "files": 40,
            "windows": 120,
            "skipped": [{"path": "ref/short.wav", "reason": "shorter than one window"}],
        },
        "candidates": {
            "cand_a/": {
                "files": 60,
                "windows": 118,
                "skipped": [{"path": "cand_a/<b>bad</b>.wav", "reason": "unreadable & corrupt"}],
            },
            "cand_b/": {"files": 12, "windows": 30, "skipped": []},
        },
        "results": results,
        "failed": {"cand_c/": "no usable audio (3 files skipped)"},
        "ci": {
            "level": 0.95,
            "resamples": 200,
            "method": "percentile",
            "grouping": "file",
            "held_fixed": "reference",
            "seed": 0,
        },
        "intervals": intervals,
        "comparisons": [
            {
                "a": "cand_a/",
                "b": "cand_b/",
                "metric": "fad",
                "separated": True,
                "text": "cand_a/ is lower than cand_b/ and the 95% intervals do not overlap",
            }
        ],
        "inf": inf,
        "better": {**BETTER, "fad_inf": "lower"},
        "diagnostics": diagnostics,
        "projection": {
            "method": "PCA (2 components) of the reference and candidate embeddings, "
            "fitted on the reference",
            "explained_variance_ratio": [0.3, 0.1],
            "points": points,
        },
    }


def minimal_results() -> dict:
    """Only ``results``: what an older results file guarantees."""
    return {"results": {"cand/": {"fad": 1.5, "precision": 0.5}}}


# The report's sections, in the order a reader meets them (ids in the HTML).
SECTIONS = [
    "run",
    "summary",
    "comparisons",
    "projection",
    "fad-inf",
    "realism",
    "per-file-1",
    "per-file-2",
    "skipped",
]
