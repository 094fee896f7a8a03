"""Shared fixtures: seeded data, a PRNG key, and an x64 toggle."""

from __future__ import annotations

import jax
import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260127)


@pytest.fixture
def key() -> jax.Array:
    return jax.random.key(0)


@pytest.fixture(params=[False, True], ids=["x64-off", "x64-on"])
def global_x64(request):
    """Run a test with the user's global x64 flag off and on, restoring it after."""
    before = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", request.param)
    yield request.param
    jax.config.update("jax_enable_x64", before)
