"""Shared fixtures: seeded data, a PRNG key, and an x64 toggle."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property-based tests (tests/metrics/test_oracle.py): CI runs a fixed, derandomised
# budget; `pytest --hypothesis-profile=long` runs many more random examples.
_HYPOTHESIS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=25, derandomize=True, **_HYPOTHESIS)
settings.register_profile("long", max_examples=1000, **_HYPOTHESIS)
settings.load_profile("ci")


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


@pytest.fixture(autouse=True, scope="module")
def _fresh_jit_caches():
    """Drop compiled programs after each test module.

    XLA:CPU maps a few memory regions per compiled kernel: a PRDC program
    costs about 600 mappings, FAD or KD about 120, and Linux allows 65,530
    per process (vm.max_map_count). A whole suite in one process compiles
    more than that; past the limit a compilation fails and the process
    dies. Clearing the caches unmaps them.
    """
    yield
    jax.clear_caches()
