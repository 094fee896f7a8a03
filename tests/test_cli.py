"""The metric-core command line: demo and score on cached embeddings."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from jaxmetrics import cli


def test_demo_orders_degradations(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert cli.main(["demo", "--rows", "600", "--metrics", "fad,kd", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    fads = [r["fad"] for r in rows.values()]
    kds = [r["kernel_distance_mean"] for r in rows.values()]
    assert fads == sorted(fads) and kds == sorted(kds)
    assert "level=1" in capsys.readouterr().out


def test_score_npy_and_npz(tmp_path, rng):
    ref = rng.normal(size=(300, 8)).astype(np.float32)
    np.save(tmp_path / "ref.npy", ref)
    np.savez(tmp_path / "cand.npz", embeddings=ref[::-1] + 0.5)
    out = tmp_path / "scores.json"
    code = cli.main(
        [
            "score",
            str(tmp_path / "ref.npy"),
            str(tmp_path / "cand.npz"),
            "--metrics",
            "fad,prdc",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    (row,) = json.loads(out.read_text()).values()
    np.testing.assert_allclose(row["fad"], 8 * 0.25, rtol=1e-6)
    assert set(row) == {"fad", "precision", "recall", "density", "coverage"}


def test_unknown_metric_and_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--metrics", "fad,bogus"])
    assert "unknown metric(s) bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no such file"):
        cli.main(["score", str(tmp_path / "nope.npy"), str(tmp_path / "nope.npy")])
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(SystemExit, match="not a readable"):
        cli.main(["score", str(bad), str(bad)])


def test_bad_embeddings_give_clear_error(tmp_path, capsys):
    x = np.ones((20, 4))
    x[3] = np.nan
    np.save(tmp_path / "x.npy", x)
    assert (
        cli.main(["score", str(tmp_path / "x.npy"), str(tmp_path / "x.npy"), "--metrics", "fad"])
        == 2
    )
    assert "row index 3" in capsys.readouterr().err


def test_core_cli_does_not_import_torch():
    code = "import sys, jaxmetrics.cli, jaxmetrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
