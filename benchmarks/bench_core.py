"""Benchmark the jaxmetrics core against the reference implementations, in one run.

Every row prints our time beside the reference's time measured in the same run
(medians of ``--repeats`` runs), our jit compile time apart (first call minus
the steady-state median), the speed-up and the relative error against a
float64 reference. Run from the repository root::

    python benchmarks/bench_core.py --quick     # smaller sizes
    python benchmarks/bench_core.py             # full sizes
    python benchmarks/bench_core.py --large     # + PRDC at N = M = 100,000

Sections (``--sections``): ``fad`` (FAD from precomputed statistics, and n < d
from raw embeddings), ``e2e`` (FAD from raw embeddings), ``kd`` (kernel
distance), ``prdc``, ``kad`` (KAD beside kadtk, if installed: see
``benchmarks/_kadtk.py``). PRDC runs each implementation in its own subprocess so
its peak resident memory (``VmHWM``) can be read separately.

Only NumPy and SciPy are imported at module level, so the PRDC worker of the
``prdc`` package does not carry JAX's or torch's memory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence

import _results
import numpy as np
import scipy
import scipy.linalg
from _results import recorded
from _timing import Timing, time_interleaved, time_jitted, time_plain

TORCH_THREADS = 2

# --------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------

FULL = {
    "fad_dims": (128, 512, 1024, 2048),
    "fad_rows": 20_000,
    "fad_hard_dim": 1_024,
    "small_rows": 1_000,
    "small_dim": 2_048,
    "e2e_rows": 20_000,
    "e2e_dim": 2_048,
    "kd_rows": 10_000,
    "kd_small_rows": 3_000,
    "kd_dim": 512,
    "kd_subsets": 100,
    "kd_subset_size": 1_000,
    "prdc_rows": 10_000,
    "prdc_dim": 512,
    "prdc_k": 5,
    "kad_rows": (500, 3_000),
}
QUICK = {
    **FULL,
    "fad_dims": (128, 512),
    "fad_rows": 5_000,
    "fad_hard_dim": 512,
    "small_rows": 500,
    "small_dim": 1_024,
    "e2e_rows": 4_000,
    "e2e_dim": 768,
    "kd_rows": 5_000,
    "kd_small_rows": 2_000,
    "kd_subsets": 20,
    "prdc_rows": 3_000,
}
LARGE_PRDC_ROWS = 100_000


# --------------------------------------------------------------------------
# Data: embedding-like sets with a power-law spectrum in a random basis
# --------------------------------------------------------------------------


def make_pair(
    n: int, d: int, seed: int, *, basis: str = "orthogonal"
) -> tuple[np.ndarray, np.ndarray]:
    """Two float32 ``(n, d)`` sets from nearby Gaussians, as an embedder emits them.

    Variances decay as ``i^-1.5`` in a shared random basis: ``"orthogonal"``
    (covariance condition number ~ d^1.5, e.g. 1e5 at d = 2048) or
    ``"gaussian"`` (a square Gaussian mixing matrix, whose own condition number
    ~ d squares in: covariance condition numbers ~1e10-1e12, a stress test).
    ``y`` has its per-direction scales jittered by 20 % and a small mean shift,
    which gives FAD/trace ratios of a few 1e-2, as between two close models.
    """
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d))
    if basis == "orthogonal":
        mix = np.linalg.qr(mix)[0]
    else:
        mix /= np.sqrt(d)
    mix = mix.astype(np.float32)
    scales = np.arange(1, d + 1, dtype=np.float64) ** -0.75
    jitter = np.exp(0.2 * rng.standard_normal(d))
    shift = (0.05 * rng.standard_normal(d) / np.sqrt(d)).astype(np.float32)
    x = (rng.standard_normal((n, d), dtype=np.float32) * scales.astype(np.float32)) @ mix
    y = rng.standard_normal((n, d), dtype=np.float32) * (scales * jitter).astype(np.float32)
    y = y @ mix + shift
    return x, y


def numpy_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 mean and covariance the way FAD toolkits form them (``np.cov``)."""
    x = np.asarray(x, np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


# --------------------------------------------------------------------------
# Reference implementations
# --------------------------------------------------------------------------


def fd_reference_from_factors(mx, my, fx, fy, trace_x, trace_y) -> float:
    """High-accuracy FD: tr sqrt(Σx Σy) = ||Fx^T Fy||_* for any Σ = F F^T.

    Singular values come from ``scipy.linalg.svdvals`` of the product of the
    factors, so nothing is squared (each singular value to ~eps·||Fx^T Fy||);
    the sums are exact (``math.fsum``).
    """
    nuclear = math.fsum(scipy.linalg.svdvals(fx.T @ fy).tolist())
    diff = mx - my
    return math.fsum([float(diff @ diff), trace_x, trace_y, -2.0 * nuclear])


def fd_reference_from_stats(mx, sx, my, sy) -> tuple[float, float]:
    """Reference FD from full-rank covariances, and the reference's own spread.

    The value uses the Cholesky factors; the spread is its relative difference
    from the same formula with ``Σx``'s factor taken from ``eigh`` instead
    (both factorisations are backward stable), a measure of how far below the
    reference's noise an error can be resolved.
    """
    lx = scipy.linalg.cholesky(sx, lower=True)
    ly = scipy.linalg.cholesky(sy, lower=True)
    trace_x = math.fsum(np.diag(sx).tolist())
    trace_y = math.fsum(np.diag(sy).tolist())
    ref = fd_reference_from_factors(mx, my, lx, ly, trace_x, trace_y)
    w, v = np.linalg.eigh(sx)
    fx = v * np.sqrt(np.clip(w, 0.0, None))
    other = fd_reference_from_factors(mx, my, fx, ly, trace_x, trace_y)
    return ref, abs(other - ref) / abs(ref)


def fd_reference_from_data(x, y) -> float:
    """Reference FD for n < d: the centred data are the factors (Σ = Xc^T Xc / (n-1))."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    fx = (x - mx).T / np.sqrt(x.shape[0] - 1)
    fy = (y - my).T / np.sqrt(y.shape[0] - 1)
    trace_x = math.fsum(np.einsum("ij,ij->j", fx, fx).tolist())
    trace_y = math.fsum(np.einsum("ij,ij->j", fy, fy).tolist())
    return fd_reference_from_factors(mx, my, fx, fy, trace_x, trace_y)


def fd_sqrtm(mx, sx, my, sy) -> float:
    """FAD toolkits' route (google-research FAD, fadtk): ``sqrtm(Σx Σy)``, real part."""
    covmean = scipy.linalg.sqrtm(sx @ sy)
    if not np.isfinite(covmean).all():  # the toolkits' fallback for singular products
        offset = np.eye(sx.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sx + offset) @ (sy + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mx - my
    return float(diff @ diff + np.trace(sx) + np.trace(sy) - 2.0 * np.trace(covmean))


def fd_torch_eigvals(mx, sx, my, sy) -> float:
    """audio-metrics 1.0.4 / torchmetrics route: ``eigvals(Σx Σy).sqrt().real.sum()``."""
    import torch

    mx, sx, my, sy = (torch.from_numpy(a) for a in (mx, sx, my, sy))
    a = (mx - my).square().sum()
    b = sx.trace() + sy.trace()
    c = torch.linalg.eigvals(sx @ sy).sqrt().real.sum()
    return float(a + b - 2.0 * c)


def fd_numpy_eigh(mx, sx, my, sy) -> float:
    """Plain NumPy symmetric route: eigh(Σx) -> F, eigvalsh(F^T Σy F)."""
    w, v = np.linalg.eigh(sx)
    f = v * np.sqrt(np.clip(w, 0.0, None))
    inner = f.T @ sy @ f
    ev = np.linalg.eigvalsh(0.5 * (inner + inner.T))
    diff = mx - my
    cross = np.sqrt(np.clip(ev, 0.0, None)).sum()
    return float(diff @ diff + np.trace(sx) + np.trace(sy) - 2.0 * cross)


def kd_numpy_loop(x, y, idx_x, idx_y, degree=3, coef0=1.0) -> tuple[float, float]:
    """Plain NumPy KID loop (clean-fid / audio-metrics ``kid_features_to_metric`` style)."""
    d = x.shape[1]
    gamma = 1.0 / d
    m = idx_x.shape[1]
    values = np.zeros(idx_x.shape[0])
    for i in range(idx_x.shape[0]):
        xs = x[idx_x[i]]
        ys = y[idx_y[i]]
        a = (xs @ xs.T * gamma + coef0) ** degree + (ys @ ys.T * gamma + coef0) ** degree
        b = (xs @ ys.T * gamma + coef0) ** degree
        values[i] = ((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m
    return float(values.mean()), float(values.std())


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------


def fmt_t(t: float | None) -> str:
    if t is None:
        return "–"
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def fmt_x(ours: Timing, ref: Timing) -> str:
    return f"{ref.median / ours.median:.1f}×"


def rel_err(value: float, ref: float) -> float:
    return abs(value - ref) / abs(ref) if math.isfinite(value) else math.nan


def fmt_e(err: float) -> str:
    return "nan" if not math.isfinite(err) else f"{err:.1e}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine_header(args: argparse.Namespace) -> None:
    import jax
    import jaxlib
    import sklearn
    import torch

    git = _results.git_state()
    dirty = subprocess.run(
        ["git", "-C", str(_results.RESULTS.parents[1]), "status", "--porcelain", "jaxmetrics"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print("## jaxmetrics core benchmark\n")
    print(
        f"- code: git {git or '?'}"
        + (" (jaxmetrics/ has uncommitted changes)" if dirty else " (jaxmetrics/ clean)")
    )
    print(f"- machine: {_results.machine()}")
    print(
        f"- python {platform.python_version()}, jax {jax.__version__} (jaxlib {jaxlib.__version__},"
        f" backend {jax.default_backend()}), numpy {np.__version__}, scipy {scipy.__version__},"
        f" torch {torch.__version__} ({torch.get_num_threads()} threads),"
        f" scikit-learn {sklearn.__version__}"
    )
    print(
        f"- mode: {'quick' if args.quick else 'full'}; times are medians of {args.repeats} runs"
        " in seconds; 'compile' = our first call minus our median; '×' = reference median /"
        " our median; rel. err. = |value − ref| / |ref| against a float64 reference"
        " (described per table)."
    )
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------


FAD_HEADER = [
    "case", "FD (ref)", "ref spread", "ours", "ours compile",
    "sqrtm", "eigvals (torch)", "eigh (numpy)",
    "× sqrtm", "× eigvals", "× eigh", "err ours", "err sqrtm", "err eigvals", "err eigh",
]  # fmt: skip


def fad_row(label, ref, ours_fn, ref_fns, repeats, spread=None) -> list[str]:
    log(f"  {label}: ours, " + ", ".join(name for name, _ in ref_fns) + " (interleaved)")
    timings, values = time_interleaved({"ours": ours_fn}, dict(ref_fns), repeats)
    t_ours = timings.pop("ours")
    v_ours = values.pop("ours")
    refs = [name for name, _ in ref_fns]
    return [
        label,
        f"{ref:.6g}",
        "–" if spread is None else fmt_e(spread),
        fmt_t(t_ours.median),
        fmt_t(t_ours.compile),
        *(fmt_t(timings[n].median) for n in refs),
        *(fmt_x(t_ours, timings[n]) for n in refs),
        fmt_e(rel_err(v_ours, ref)),
        *(fmt_e(rel_err(values[n], ref)) for n in refs),
    ]


def fad_rounds(d: int, repeats: int) -> int:
    """Interleaved rounds at dimension ``d``: small sizes take milliseconds, so
    they get more rounds (up to 25) for a stable median."""
    return max(repeats, min(25, repeats * (2048 // d)))


def stats_case(n: int, d: int, cache: DataCache, basis: str = "orthogonal"):
    """NumPy statistics of a benchmark pair, their reference FD and its spread,
    and the same statistics as our ``GaussianStats``."""
    import jaxmetrics as jm

    x, y = cache.pair(n, d, basis)
    (mx, sx), (my, sy) = numpy_stats(x), numpy_stats(y)
    ref, spread = fd_reference_from_stats(mx, sx, my, sy)
    count = np.asarray(float(n))
    ours = jm.GaussianStats(count, mx, sx), jm.GaussianStats(count, my, sy)
    return (mx, sx, my, sy), ref, spread, ours


def fad_stats_row(
    d: int, n: int, repeats: int, cache: DataCache, basis: str = "orthogonal"
) -> list[str]:
    import jaxmetrics as jm

    log(f"FAD from stats, d={d}, {basis} basis: data")
    (mx, sx, my, sy), ref, spread, (a, b) = stats_case(n, d, cache, basis)
    cond = np.linalg.cond(sx)
    refs = [
        ("sqrtm", lambda: fd_sqrtm(mx, sx, my, sy)),
        ("eigvals", lambda: fd_torch_eigvals(mx, sx, my, sy)),
        ("eigh", lambda: fd_numpy_eigh(mx, sx, my, sy)),
    ]
    ours = lambda: float(jm.frechet_distance_from_stats(a, b))  # noqa: E731
    label = f"d = {d} (n = {n:,}, cond Σx {cond:.0e})"
    return fad_row(label, ref, ours, refs, fad_rounds(d, repeats), spread)


def bench_fad(sizes, repeats, cache) -> None:
    import jaxmetrics as jm

    rows = [fad_stats_row(d, sizes["fad_rows"], repeats, cache) for d in sizes["fad_dims"]]
    rows.append(fad_stats_row(sizes["fad_hard_dim"], sizes["fad_rows"], repeats, cache, "gaussian"))
    print_table(
        "FAD from precomputed float64 statistics: ours `frechet_distance_from_stats`; references"
        " take the same statistics. Reference value: nuclear norm of Lx^T Ly (Cholesky factors)"
        " by `scipy.linalg.svdvals`, exact sums; 'ref spread' = its relative change when Σx's"
        " factor comes from eigh instead. Last row: ill-conditioned stress case (Gaussian"
        " mixing basis).",
        FAD_HEADER,
        rows,
    )

    n, d = sizes["small_rows"], sizes["small_dim"]
    log(f"FAD n < d: n = m = {n}, d = {d}")
    x, y = cache.pair(n, d)
    ref = fd_reference_from_data(x, y)

    def route(fd):
        def run():
            (mx, sx), (my, sy) = numpy_stats(x), numpy_stats(y)
            return fd(mx, sx, my, sy)

        return run

    refs = [
        ("np.cov + sqrtm", route(fd_sqrtm)),
        ("np.cov + eigvals", route(fd_torch_eigvals)),
        ("np.cov + eigh", route(fd_numpy_eigh)),
    ]
    row = fad_row(
        f"n = m = {n:,}, d = {d:,}", ref, lambda: float(jm.frechet_distance(x, y)), refs, repeats
    )
    print_table(
        "FAD with n < d from raw float32 embeddings: ours `frechet_distance(x, y)` (cross-Gram"
        " route) vs `np.cov` + each route. Reference value: nuclear norm of the centred cross-"
        "Gram Xc Yc^T / sqrt((n-1)(m-1)) by `scipy.linalg.svdvals` (Σ = F F^T with F the"
        " centred data).",
        FAD_HEADER,
        [row],
    )


def bench_fad_methods(sizes, repeats, cache) -> None:
    """Our three routes to the trace term, ``method="qr"`` (default), ``"eigh"``
    and ``"svd"``, beside ``sqrtm``."""
    import jaxmetrics as jm

    methods = ("qr", "eigh", "svd")
    rows = []
    for d in sizes["fad_dims"]:
        log(f"FAD methods, d={d}")
        stats, ref, spread, (a, b) = stats_case(sizes["fad_rows"], d, cache)
        jitted = {
            m: lambda a=a, b=b, m=m: float(jm.frechet_distance_from_stats(a, b, method=m))
            for m in methods
        }
        plain = {"sqrtm": lambda s=stats: fd_sqrtm(*s)}
        timings, values = time_interleaved(jitted, plain, fad_rounds(d, repeats))
        rows.append(
            [
                f"d = {d}",
                fmt_e(spread),
                *(fmt_t(timings[k].median) for k in (*methods, "sqrtm")),
                *(fmt_x(timings[m], timings["sqrtm"]) for m in methods),
                *(fmt_e(rel_err(values[k], ref)) for k in (*methods, "sqrtm")),
            ]
        )
    print_table(
        'FAD from the same float64 statistics as above: `method="qr"` (default),'
        ' `"eigh"` and `"svd"`, beside `sqrtm`, interleaved. Reference value as above.',
        [
            "case",
            "ref spread",
            *methods,
            "sqrtm",
            *(f"{m} × sqrtm" for m in methods),
            *(f"err {m}" for m in (*methods, "sqrtm")),
        ],
        rows,
    )


def bench_e2e(sizes, repeats, cache) -> None:
    import jaxmetrics as jm

    n, d = sizes["e2e_rows"], sizes["e2e_dim"]
    log(f"FAD end to end: {n} x {d}")
    x, y = cache.pair(n, d)
    (mx, sx), (my, sy) = numpy_stats(x), numpy_stats(y)
    ref, spread = fd_reference_from_stats(mx, sx, my, sy)

    def route(fd):
        def run():
            (mx, sx), (my, sy) = numpy_stats(x), numpy_stats(y)
            return fd(mx, sx, my, sy)

        return run

    refs = [
        ("np.cov + sqrtm", route(fd_sqrtm)),
        ("np.cov + eigvals", route(fd_torch_eigvals)),
        ("np.cov + eigh", route(fd_numpy_eigh)),
    ]
    row = fad_row(
        f"{n:,} × {d:,} each", ref, lambda: float(jm.frechet_distance(x, y)), refs, repeats, spread
    )
    print_table(
        "FAD end to end from raw float32 embeddings: ours `frechet_distance(x, y)` (float64) vs"
        " `np.cov` (float64) + each route. Reference value as for the statistics table, on the"
        " `np.cov` statistics.",
        FAD_HEADER,
        [row],
    )

    # Where the end-to-end time goes: the covariance step alone.
    log("FAD end to end: covariance step alone")
    timings, outs = time_interleaved(
        {"ours": lambda: np.asarray(jm.gaussian_stats(x).covariance)},
        {"np.cov": lambda: numpy_stats(x)},
        repeats,
    )
    t_ours, t_np, stats = timings["ours"], timings["np.cov"], outs["ours"]
    err = float(np.abs(np.asarray(stats) - sx).max() / np.abs(sx).max())
    print_table(
        "Covariance of one set (part of the row above): ours `gaussian_stats(x)` (float64) vs"
        " `np.cov` (float64); error = max |Δ| / max |Σ|.",
        ["case", "ours", "ours compile", "np.cov", "×", "err ours"],
        [[f"{n:,} × {d:,}", fmt_t(t_ours.median), fmt_t(t_ours.compile), fmt_t(t_np.median),
          fmt_x(t_ours, t_np), fmt_e(err)]],
    )  # fmt: skip


def kd_row(n: int, d: int, s: int, size: int, repeats: int, cache: DataCache) -> list[str]:
    import jaxmetrics as jm

    log(f"KD: sets of {n}, {s} subsets of {size}, d = {d}")
    x, y = cache.pair(n, d)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    idx = jm.numpy_subset_indices(n, n, num_subsets=s, subset_size=size, seed=1234)

    def ours(precision):
        kd = jm.kernel_distance(x, y, subset_indices=idx, precision=precision)
        return float(kd.mean), float(kd.std)

    log("  ours f64, ours f32, numpy loop f64, numpy loop f32 (interleaved)")
    timings, outs = time_interleaved(
        {"f64": lambda: ours("float64"), "f32": lambda: ours("float32")},
        {
            "loop64": lambda: kd_numpy_loop(x64, y64, *idx),
            "loop32": lambda: kd_numpy_loop(x, y, *idx),
        },
        repeats,
    )
    t64, t32, tl64, tl32 = (timings[k] for k in ("f64", "f32", "loop64", "loop32"))
    v64, v32, vl64, vl32 = (outs[k] for k in ("f64", "f32", "loop64", "loop32"))
    ref = vl64[0]
    from jaxmetrics.metrics import kernel_distance

    route = kernel_distance.choose_route(n, n, d, s, size)
    return [
        f"{s} × {size:,} of {n:,} (route: {route})", f"{ref:.6g}",
        fmt_t(t64.median), fmt_t(t64.compile), fmt_t(tl64.median), fmt_x(t64, tl64),
        fmt_t(t32.median), fmt_t(t32.compile), fmt_t(tl32.median), fmt_x(t32, tl32),
        fmt_x(t32, tl64),
        fmt_e(rel_err(v64[0], ref)), fmt_e(rel_err(v32[0], ref)), fmt_e(rel_err(vl32[0], ref)),
    ]  # fmt: skip


def bench_kd(sizes, repeats, cache) -> None:
    d, s, size = sizes["kd_dim"], sizes["kd_subsets"], sizes["kd_subset_size"]
    header = [
        "case", "KD mean (ref)", "ours f64", "compile", "loop f64", "× (f64 vs f64)",
        "ours f32", "compile", "loop f32", "× (f32 vs f32)", "× (ours f32 vs loop f64)",
        "err ours f64", "err ours f32", "err loop f32",
    ]  # fmt: skip
    set_sizes = (sizes["kd_rows"], sizes["kd_small_rows"])
    rows = [kd_row(n, d, s, size, repeats, cache) for n in set_sizes]
    print_table(
        f"KD (polynomial kernel, degree 3, gamma 1/d, coef0 1, unbiased MMD²), d = {d}: ours"
        " `kernel_distance(..., subset_indices=idx)` vs a plain NumPy loop over the same indices."
        " Reference value and errors: the float64 loop's mean.",
        header,
        rows,
    )


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _rss_kib() -> int:
    return _status_kib("VmRSS")


def _peak_rss_kib() -> int:
    # VmHWM belongs to this process's own address space. ru_maxrss does not:
    # Linux carries it across fork + exec, so a worker started by a parent
    # holding gigabytes of benchmark data would report the parent's peak.
    return _status_kib("VmHWM")


def prdc_worker(spec: dict) -> None:
    """Run one PRDC implementation in this (fresh) process and print a JSON line."""
    x, y = make_pair(spec["n"], spec["d"], seed=spec["seed"])
    k, repeats = spec["k"], spec["repeats"]
    if spec["impl"] == "ours":
        import jaxmetrics as jm

        def fn():
            r = jm.prdc(x, y, k=k)
            return {f: float(getattr(r, f)) for f in r._fields}

        rss_before = _rss_kib()
        if repeats == 0:  # one call only (large sizes)
            start = time.perf_counter()
            out = fn()
            timing = Timing(time.perf_counter() - start, [])
        else:
            timing, out = time_jitted(fn, repeats)
    else:
        import prdc

        def fn():
            with contextlib.redirect_stdout(io.StringIO()):
                r = prdc.compute_prdc(x, y, nearest_k=k)
            return {f: float(v) for f, v in r.items()}

        rss_before = _rss_kib()
        timing, out = time_plain(fn, max(repeats, 1))
    peak = _peak_rss_kib()
    result = {"median": timing.median, "first": timing.first, "times": timing.times,
              "values": out, "rss_before_kib": rss_before, "peak_kib": peak}  # fmt: skip
    print("PRDC_RESULT " + json.dumps(result), flush=True)


def run_prdc_worker(impl: str, n: int, d: int, k: int, repeats: int) -> dict:
    spec = json.dumps({"impl": impl, "n": n, "d": d, "k": k, "repeats": repeats, "seed": 7})
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--prdc-worker", spec],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PRDC_RESULT "):
            return json.loads(line[len("PRDC_RESULT ") :])
    raise RuntimeError(f"PRDC worker {impl} failed:\n{proc.stdout}\n{proc.stderr}")


def gib(kib: float) -> str:
    return f"{kib / 2**20:.2f}"


def bench_prdc(sizes, repeats, large: bool, large_rows: int = LARGE_PRDC_ROWS) -> None:
    n, d, k = sizes["prdc_rows"], sizes["prdc_dim"], sizes["prdc_k"]
    log(f"PRDC: N = M = {n}, d = {d}, k = {k}: ours (subprocess)")
    ours = run_prdc_worker("ours", n, d, k, repeats)
    log("PRDC: prdc package (subprocess)")
    pkg = run_prdc_worker("package", n, d, k, repeats)
    diffs = {f: abs(ours["values"][f] - pkg["values"][f]) for f in pkg["values"]}
    equal = (
        "yes"
        if max(diffs.values()) <= 1e-12
        else "NO: "
        + ", ".join(f"{f} {ours['values'][f]:.6f} vs {pkg['values'][f]:.6f}" for f in diffs)
    )
    values = ", ".join(f"{f[0].upper()} {v:.4f}" for f, v in pkg["values"].items())
    timing_ours = Timing(ours["median"], ours["times"], ours["first"])
    timing_pkg = Timing(pkg["median"], pkg["times"])
    rows = [[
        f"N = M = {n:,}, d = {d}, k = {k}", values, fmt_t(timing_ours.median),
        fmt_t(timing_ours.compile), fmt_t(timing_pkg.median), fmt_x(timing_ours, timing_pkg),
        f"{gib(ours['peak_kib'])} ({gib(ours['peak_kib'] - ours['rss_before_kib'])})",
        f"{gib(pkg['peak_kib'])} ({gib(pkg['peak_kib'] - pkg['rss_before_kib'])})",
        equal,
    ]]  # fmt: skip
    if large:
        big = large_rows
        log(f"PRDC: N = M = {big}, ours only, one call (subprocess)")
        res = run_prdc_worker("ours", big, d, k, 0)
        would_be = 3 * big * big * 8 / 1e9
        vals = ", ".join(f"{f[0].upper()} {v:.4f}" for f, v in res["values"].items())
        rows.append([
            f"N = M = {big:,}, d = {d}, k = {k}", vals,
            fmt_t(res["median"]) + " (one call, incl. compile)", "–", "not run", "–",
            f"{gib(res['peak_kib'])} ({gib(res['peak_kib'] - res['rss_before_kib'])})",
            f"would need 3 dense N×N float64 = {would_be:,.0f} GB", "–",
        ])  # fmt: skip
    print_table(
        "PRDC on float32 embeddings, each implementation in its own subprocess: ours `prdc`"
        " (float64, tiled) vs `prdc.compute_prdc` (sklearn distances). Memory: peak RSS"
        " (`VmHWM`) in GiB, in brackets the peak above the RSS just before the first call"
        " (data and imports excluded).",
        ["case", "values (package)", "ours", "ours compile", "prdc pkg", "×",
         "ours peak GiB", "pkg peak GiB", "equal"],
        rows,
    )  # fmt: skip


def bench_kad(sizes, repeats, cache) -> None:
    """KAD: ours (``jm.kad``, exact float64 median) against kadtk's own functions."""
    from _kadtk import load_kad

    kad = load_kad()
    if kad is None:
        log("KAD: kadtk is not installed (pip install --no-deps kadtk hypy-utils); skipped")
        return
    import jax
    import torch

    import jaxmetrics as jm

    rows = []
    for n in sizes["kad_rows"]:
        x, y = cache.pair(n, sizes["kd_dim"])
        tx, ty = torch.tensor(x), torch.tensor(y)

        def kadtk(precision, tx=tx, ty=ty):
            bandwidth = kad.median_pairwise_distance(ty)
            value = kad.calc_kernel_audio_distance(
                tx, ty, (None, None), "cpu", bandwidth=bandwidth, precision=precision
            )
            return float(value), bandwidth

        def ours(x=x, y=y):
            return float(jax.block_until_ready(jm.kad(x, y)))

        def ours_median(y=y):
            return float(jm.median_pairwise_distance(y, lower=True))

        log(f"KAD: n = m = {n}, d = {sizes['kd_dim']}")
        timings, outs = time_interleaved(
            {"ours": ours, "ours_median": ours_median},
            {
                "kadtk32": lambda: kadtk(torch.float32),
                "kadtk64": lambda: kadtk(torch.float64),
            },
            repeats,
        )
        same_bandwidth = float(jm.kad(x, y, bandwidth=outs["kadtk64"][1]))
        rows.append([
            f"n = m = {n:,}, d = {sizes['kd_dim']}",
            fmt_t(timings["ours"].median), fmt_t(timings["ours_median"].median),
            fmt_t(timings["kadtk32"].median), fmt_t(timings["kadtk64"].median),
            fmt_x(timings["ours"], timings["kadtk32"]),
            fmt_e(rel_err(same_bandwidth, outs["kadtk64"][0])),
            fmt_e(rel_err(outs["ours"], outs["kadtk64"][0])),
        ])  # fmt: skip
    print_table(
        "KAD: ours `jm.kad` (float64, exact median of all pairs, on float32 embeddings) vs"
        " kadtk's `median_pairwise_distance` + `calc_kernel_audio_distance` (torch, float32"
        " and float64). Seconds, medians; errors relative to kadtk in float64, first with"
        " kadtk's (float32) bandwidth passed to ours, then with our exact one.",
        ["case", "ours", "ours median alone", "kadtk f32", "kadtk f64", "× (vs f32)",
         "err, kadtk's bandwidth", "err, exact median"],
        rows,
    )  # fmt: skip


class DataCache:
    """Generate each ``(n, d)`` pair once (the d = 2048 sets serve two tables)."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[int, int, str], tuple[np.ndarray, np.ndarray]] = {}

    def pair(self, n: int, d: int, basis: str = "orthogonal") -> tuple[np.ndarray, np.ndarray]:
        if (n, d, basis) not in self._pairs:
            self._pairs[(n, d, basis)] = make_pair(n, d, seed=n + d, basis=basis)
        return self._pairs[(n, d, basis)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~1-2 minutes)")
    parser.add_argument("--large", action="store_true", help="add PRDC at N = M = 100,000")
    parser.add_argument(
        "--large-rows", type=int, default=LARGE_PRDC_ROWS, help="N = M of the --large PRDC row"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument(
        "--sections",
        default="fad,methods,e2e,kd,prdc,kad",
        help="comma-separated subset of fad,methods,e2e,kd,prdc,kad",
    )
    parser.add_argument("--prdc-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prdc_worker:
        prdc_worker(json.loads(args.prdc_worker))
        return

    import torch

    torch.set_num_threads(TORCH_THREADS)
    sizes = QUICK if args.quick else FULL
    sections = set(args.sections.split(","))
    start = time.perf_counter()
    machine_header(args)
    cache = DataCache()
    runs = {
        "fad": ("FAD from statistics", lambda: bench_fad(sizes, args.repeats, cache)),
        "methods": ("FAD methods", lambda: bench_fad_methods(sizes, args.repeats, cache)),
        "e2e": ("FAD end to end", lambda: bench_e2e(sizes, args.repeats, cache)),
        "kd": ("Kernel distance", lambda: bench_kd(sizes, args.repeats, cache)),
        "prdc": (
            "PRDC",
            lambda: bench_prdc(sizes, args.repeats, args.large, args.large_rows),
        ),
        "kad": ("KAD beside kadtk", lambda: bench_kad(sizes, args.repeats, cache)),
    }
    for name, (title, run) in runs.items():
        if name in sections:
            # One RESULTS.md section per benchmark section (quick runs are not recorded).
            with recorded(f"bench_core-{name}", f"bench_core: {title}", not args.quick):
                run()
    print(f"\nTotal wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
