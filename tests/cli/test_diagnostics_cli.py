"""``evaluate --per-file/--csv/--ci/--inf/--report`` on audio written here (logmel, in process)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxmetrics import cli
from jaxmetrics.audio.synthetic_audio import synth_clip
from jaxmetrics.cli.csv_output import PER_FILE_COLUMNS, SET_COLUMNS

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")
pytest.importorskip("matplotlib")

SR = 16000
FAST = ["--embedder", "logmel", "--win-dur", "1", "--no-progress", "--no-cache"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("diag")
    rng = np.random.default_rng(0)
    for name, detune, clips in (("ref", 0.0, 12), ("a", 0.0, 11), ("b", 80.0, 12)):
        (root / name).mkdir()
        for i in range(clips):
            clip = synth_clip(rng, seconds=3.0, sr=SR, detune=detune)
            sf.write(str(root / name / f"clip{i:02d}.wav"), clip, SR)
    shutil.copy(root / "ref" / "clip03.wav", root / "a" / "copy.wav")  # a memorised file
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_full_command(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(data)
    out = tmp_path
    args = [
        "evaluate", "ref", "a", "b", *FAST, "--metrics", "fad,kd,prdc",
        "--ci", "0.9", "--ci-resamples", "20", "--inf",
        "--per-file", str(out / "per_file.csv"), "--csv", str(out / "sets.csv"),
        "--report", str(out / "report.html"), "--json", str(out / "results.json"),
    ]  # fmt: skip
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "90% interval (files resampled)" in printed and "FAD-inf" in printed
    assert "comparisons (bootstrap intervals)" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["format"] == "jaxmetrics-results/1"
    assert set(results["intervals"]) == {"a", "b"} and results["ci"]["grouping"] == "file"
    for spec in ("a", "b"):
        low, high = results["intervals"][spec]["fad"]
        assert low <= high
        assert np.isfinite(results["inf"][spec]["fad_inf"])
        assert len(results["projection"]["points"][spec]) == results["candidates"][spec]["windows"]
        found = results["diagnostics"][spec]
        files = found["files"]
        # the per-file values add up to the set's PRDC
        windows = sum(f["windows"] for f in files)
        assert windows == results["candidates"][spec]["windows"]
        in_manifold = sum(f["in_manifold"] * f["windows"] for f in files) / windows
        density = sum(f["ball_count_mean"] * f["windows"] for f in files) / windows / found["k"]
        assert in_manifold == pytest.approx(results["results"][spec]["precision"], abs=1e-12)
        assert density == pytest.approx(results["results"][spec]["density"], abs=1e-12)
        fads = [f["fad"] for f in files]
        assert fads == sorted(fads, reverse=True)  # worst first
        assert len(found["realism"]) == windows
    copy = next(f for f in results["diagnostics"]["a"]["files"] if f["path"].endswith("copy.wav"))
    assert copy["nearest_reference"].endswith("clip03.wav")
    assert copy["nearest_distance"] == 0.0 and copy["likely_copies"] == copy["windows"]
    assert results["comparisons"] and {"a", "b"} == {
        results["comparisons"][0]["a"],
        results["comparisons"][0]["b"],
    }
    per_file = _rows(out / "per_file.csv")
    assert list(per_file[0]) == list(PER_FILE_COLUMNS)
    assert len(per_file) == 12 + 12 and {r["set"] for r in per_file} == {"a", "b"}
    sets = _rows(out / "sets.csv")
    assert list(sets[0]) == list(SET_COLUMNS)
    assert {r["metric"] for r in sets} >= {"fad", "fad_inf", "precision", "kernel_distance_mean"}
    assert all(r["low"] for r in sets if r["metric"] == "fad")
    html = (out / "report.html").read_text()
    assert "copy.wav" in html and "data:image/png;base64," in html
    # --csv appends: one header, twice the rows
    assert cli.main(["evaluate", "ref", "a", *FAST, "--csv", str(out / "sets.csv")]) == 0
    text = (out / "sets.csv").read_text()
    assert text.count("date,set,metric") == 1
    assert len(_rows(out / "sets.csv")) == len(sets) + 1  # fad only


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "fad,apa", "--per-file", "x.csv"], "apa embeds mixes"),
        (["--n-pca", "4", "--inf"], "leave out --n-pca"),
        (["--per-file", "ref/clip00.wav"], "--per-file"),
    ],
)
def test_combinations_refused_before_any_work(data, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(data)
    before = (data / "ref" / "clip00.wav").read_bytes()
    assert cli.main(["evaluate", "ref", "a", *FAST, *extra]) == 2
    assert message in capsys.readouterr().err
    assert (data / "ref" / "clip00.wav").read_bytes() == before
    assert not (data / "x.csv").exists()


def test_a_foreign_csv_is_not_appended_to(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(data)
    theirs = tmp_path / "theirs.csv"
    theirs.write_text("name,score\nsong,1\n")
    assert cli.main(["evaluate", "ref", "a", *FAST, "--csv", str(theirs)]) == 2
    assert "not a jaxmetrics --csv file" in capsys.readouterr().err
    assert theirs.read_text() == "name,score\nsong,1\n"
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "ref", "a", *FAST, "--ci", "95"])
