"""Tiny timing helpers for the benchmark scripts (medians, compile time apart)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """Median steady-state time and, for jitted code, the first call's time."""

    median: float
    times: list[float]
    first: float | None = None

    @property
    def compile(self) -> float | None:
        """First call minus the steady-state median (tracing + XLA compilation)."""
        if self.first is None:
            return None
        return max(self.first - self.median, 0.0)


def _once(fn: Callable[[], Any]) -> tuple[float, Any]:
    # ``fn`` must return host values (e.g. ``float(result)``): JAX dispatch is
    # asynchronous, so converting the result is what waits for the computation.
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def time_jitted(fn: Callable[[], Any], repeats: int) -> tuple[Timing, Any]:
    """Time a jitted call: one first (compiling) call, then ``repeats`` steady calls."""
    first, out = _once(fn)
    times = []
    for _ in range(repeats):
        elapsed, out = _once(fn)
        times.append(elapsed)
    return Timing(statistics.median(times), times, first), out


def time_plain(fn: Callable[[], Any], repeats: int) -> tuple[Timing, Any]:
    """Time a reference call ``repeats`` times (no warm-up: nothing to compile)."""
    times = []
    out = None
    for _ in range(repeats):
        elapsed, out = _once(fn)
        times.append(elapsed)
    return Timing(statistics.median(times), times), out


def time_interleaved(
    jitted: dict[str, Callable[[], Any]],
    plain: dict[str, Callable[[], Any]],
    repeats: int,
    settle: float = 0.3,
) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Time several implementations round-robin, so load changes hit all of them alike.

    Each ``jitted`` function first gets one untimed-for-the-median call (its
    first call, compile included, is kept as ``Timing.first``); then every
    repeat runs all functions once, in order, each after ``settle`` seconds
    of idling. Without the pause one implementation's BLAS worker threads,
    which busy-wait after a call (OpenBLAS for up to ~2^28 cycles), take a
    core from the next one and inflate its time; the default pause outlasts
    that busy-wait.
    """
    firsts, outs = {}, {}
    for name, fn in jitted.items():
        firsts[name], outs[name] = _once(fn)
    times: dict[str, list[float]] = {name: [] for name in [*jitted, *plain]}
    fns = {**jitted, **plain}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(settle)
            elapsed, outs[name] = _once(fn)
            times[name].append(elapsed)
    timings = {
        name: Timing(statistics.median(ts), ts, firsts.get(name)) for name, ts in times.items()
    }
    return timings, outs
