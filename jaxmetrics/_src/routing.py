"""Every route threshold and tile size of the metric core, with what set it.

The values change speed and memory only, never results: every route and
tile size gives the same numbers to the precision the docs state (the tests
run the routes against each other). Where a value was chosen by
measurement, the benchmark that measures it is named; its figures are in
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os

__all__ = [
    "GRAM_BLOCK",
    "HOST_LAPACK",
    "HOST_MIN_DIM",
    "KD_CPU_BATCH_BYTES",
    "KD_DEVICE_BATCH_BYTES",
    "KERNEL_BLOCK_ENTRIES",
    "KNN_EXACT_ROWS",
    "KNN_GROUP",
    "KNN_SPARE",
    "MEDIAN_MAX_DIGIT",
    "MEDIAN_TILE_ROWS",
    "NORMALISE_CHUNK",
    "PRDC_BLOCK",
    "PRDC_SETTLE_GROUPS",
]

# Fréchet distance on the CPU in float64: the dense steps (scatter matrix,
# factors, trace term) run in SciPy's BLAS/LAPACK on the host, from this
# dimension on (benchmarks/bench_choices.py --sections fad-route). The one
# route choice a user can set: JAXMETRICS_HOST_LAPACK=0 in the environment,
# before jaxmetrics is imported, keeps every step in XLA (README, "Routes").
HOST_LAPACK = os.environ.get("JAXMETRICS_HOST_LAPACK", "1").strip() != "0"
HOST_MIN_DIM = 160
# Rows per block when a Gram-type product is accumulated in blocks.
GRAM_BLOCK = 256

# Kernel distance: kernel-matrix blocks stay below this many entries (128 MiB
# in float64), a memory bound.
KERNEL_BLOCK_ENTRIES = 1 << 24
# Bytes of kernel blocks (three per subset) one vmapped batch of subsets may
# hold: on the CPU about a last-level cache, elsewhere a memory bound
# (benchmarks/bench_choices.py --sections kd-batch).
KD_CPU_BATCH_BYTES = 32 << 20
KD_DEVICE_BATCH_BYTES = 256 << 20

# Exact median of pairwise distances: rows per distance tile, and bits per
# radix pass at most (a histogram of 2^21 counts).
MEDIAN_TILE_ROWS = 256
MEDIAN_MAX_DIGIT = 21

# PRDC: the default tile edge (benchmarks/bench_choices.py --sections prdc-block);
# columns per group when a tile line is searched for candidates or open pairs
# are settled; candidates kept per row beyond the k nearest; rows per step of
# the exact fallback of the radii; groups of open pairs settled per step; rows
# per step when the power-of-two scaling is found.
PRDC_BLOCK = 1024
KNN_GROUP = 32
KNN_SPARE = 3
KNN_EXACT_ROWS = 8
PRDC_SETTLE_GROUPS = 16
NORMALISE_CHUNK = 4096
