"""Kernel sums behind every MMD² estimate: whole sets in row blocks, subsets in stacks.

The MMD² estimators need three sums, ``sum k(x_i, x_j)`` within each set
(over distinct pairs for the unbiased ones) and ``sum k(x_i, y_j)`` across.
Whole-set sums weight rows by multiplicity vectors, so one pass over row
blocks serves the full sets and every random subset of them at once; a
kernel matrix larger than one block never exists.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxmetrics._src import kernels as _kernels
from jaxmetrics._src import linalg as _linalg
from jaxmetrics._src import routing
from jaxmetrics._src.kernels import KernelSpec


def weighted_kernel_sums(
    spec: KernelSpec, a: jax.Array, b: jax.Array, wa: jax.Array, wb: jax.Array
):
    """``wa[k] @ K(a, b) @ wb[k]`` for every row ``k`` of the weight matrices.

    Rows of ``a`` are processed in blocks so the kernel matrix never exists in
    full: peak memory is one ``(block, len(b))`` block.
    """
    n, s = a.shape[0], wa.shape[0]
    block = max(8, min(n, routing.KERNEL_BLOCK_ENTRIES // max(b.shape[0], 1)))
    num_blocks = -(-n // block)
    pad = num_blocks * block - n
    a = jnp.pad(a, ((0, pad), (0, 0)))
    wa = jnp.pad(wa, ((0, 0), (0, pad)))
    a_blocks = a.reshape(num_blocks, block, a.shape[1])
    wa_blocks = wa.reshape(s, num_blocks, block).transpose(1, 2, 0)  # (blocks, block, s)

    def body(acc, blk):
        a_blk, wa_blk = blk
        projected = _linalg.matmul(_kernels.kernel_block(spec, a_blk, b), wb.T)  # (block, s)
        return acc + jnp.sum(wa_blk * projected, axis=0), None

    acc, _ = lax.scan(body, jnp.zeros((s,), a.dtype), (a_blocks, wa_blocks))
    return acc


def count_matrix(indices: jax.Array, n: int, dtype: Any) -> jax.Array:
    """``(subsets, n)`` multiplicities of each row in each subset."""
    rows = jnp.arange(indices.shape[0])[:, None]
    return jnp.zeros((indices.shape[0], n), dtype).at[rows, indices].add(1.0)


def offdiag_kernel_sums(spec: KernelSpec, x: jax.Array, counts: jax.Array) -> jax.Array:
    """Sum over ordered pairs of distinct subset positions of ``k(x_a, x_b)``."""
    total = weighted_kernel_sums(spec, x, x, counts, counts)
    return total - _linalg.matmul(counts, _kernels.kernel_diagonal(spec, x))


def mmd2_from_sums(kxx, kyy, kxy, n, m, estimator, trace_xy=None):
    """MMD² from kernel sums: ``kxx``, ``kyy`` without their diagonals unless biased."""
    if estimator == "biased":
        # kxx, kyy here include their diagonals.
        return kxx / (n * n) + kyy / (m * m) - 2.0 * kxy / (n * m)
    within = kxx / (n * (n - 1)) + kyy / (m * (m - 1))
    if estimator == "unbiased":
        return within - 2.0 * kxy / (n * m)
    return within - 2.0 * (kxy - trace_xy) / (n * (n - 1))


def _pick_blocks(size: int) -> int:
    """Number of equal row blocks used to exploit the symmetry of K_xx."""
    for blocks in (4, 3, 2):
        if size % blocks == 0 and size // blocks >= 64:
            return blocks
    return 1


def symmetric_offdiag_sum(spec: KernelSpec, x: jax.Array) -> jax.Array:
    """``sum_{i != j} k(x_i, x_j)`` computing only blocks on and above the diagonal."""
    size = x.shape[0]
    blocks = _pick_blocks(size)
    width = size // blocks
    parts = [x[i * width : (i + 1) * width] for i in range(blocks)]
    total = jnp.zeros((), x.dtype)
    for i in range(blocks):
        total += jnp.sum(_kernels.kernel_block(spec, parts[i], parts[i]))
        for j in range(i + 1, blocks):
            total += 2.0 * jnp.sum(_kernels.kernel_block(spec, parts[i], parts[j]))
    return total - jnp.sum(_kernels.kernel_diagonal(spec, x))


def subset_mmd2(spec: KernelSpec, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """Unbiased MMD² of each pair of subsets ``xs[i]``, ``ys[i]`` (``(s, size, d)`` stacks)."""
    s = xs.shape[0]
    kxx = symmetric_offdiag_sum(spec, xs)
    kyy = symmetric_offdiag_sum(spec, ys)
    kxy = jnp.sum(_kernels.kernel_block(spec, xs, ys))
    return mmd2_from_sums(kxx, kyy, kxy, s, s, "unbiased")
