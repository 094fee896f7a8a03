"""The one route option users can set (JAXMETRICS_HOST_LAPACK), and its contract.

On the CPU in float64 from d = routing.HOST_MIN_DIM on, the Fréchet distance's
dense steps run in SciPy's LAPACK on the host; JAXMETRICS_HOST_LAPACK=0 keeps
them in XLA. Either way: the same values, a gradient (jax.grad with x64 on),
and jit(vmap(...)) giving the single calls' values. The option is read at
import, so each setting runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    import jaxmetrics as jm
    from jaxmetrics._src import routing

    rng = np.random.default_rng(0)
    d = routing.HOST_MIN_DIM + 40
    x = rng.normal(size=(2, 400, d))
    y = 1.1 * rng.normal(size=(300, d)) + 0.1
    values = [float(jm.frechet_distance(x[i], y)) for i in range(2)]
    sx, sy = jm.gaussian_stats(x[0]), jm.gaussian_stats(y)
    from_stats = float(jm.frechet_distance_from_stats(sx, sy))
    with jax.enable_x64(True):
        xs, ys = jnp.asarray(x), jnp.asarray(y)
        grad = jax.grad(lambda a: jm.frechet_distance(a, ys))(xs[0])
        jaxpr = str(jax.make_jaxpr(lambda a: jm.frechet_distance(a, ys))(xs[0]))
        mapped = jax.jit(jax.vmap(lambda a: jm.frechet_distance(a, ys)))(xs)
    json.dump(
        {
            "host_lapack": routing.HOST_LAPACK,
            "callback": "pure_callback" in jaxpr,
            "values": values,
            "from_stats": from_stats,
            "grad": np.asarray(grad).ravel()[::97].tolist(),
            "grad_finite": bool(np.isfinite(np.asarray(grad)).all()),
            "mapped": np.asarray(mapped).tolist(),
        },
        sys.stdout,
    )
    """
)


def _run(setting: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    env.pop("JAXMETRICS_HOST_LAPACK", None)
    if setting is not None:
        env["JAXMETRICS_HOST_LAPACK"] = setting
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_host_lapack_option_changes_the_route_not_the_values_gradients_or_vmap():
    host, xla = _run(None), _run("0")
    assert host["host_lapack"] and host["callback"]
    assert not xla["host_lapack"] and not xla["callback"]
    for out in (host, xla):
        np.testing.assert_allclose(out["mapped"], out["values"], rtol=1e-12)
        np.testing.assert_allclose(out["from_stats"], out["values"][0], rtol=1e-12)
        assert out["grad_finite"]
    np.testing.assert_allclose(host["values"], xla["values"], rtol=1e-12)
    np.testing.assert_allclose(host["grad"], xla["grad"], rtol=1e-8, atol=1e-14)
