"""``jaxmetrics report RESULTS.json -o FILE.html`` run as a user runs it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import ROOT, command, env

pytest.importorskip("matplotlib")
sys.path.insert(0, str(ROOT / "tests" / "report"))
from fixtures import rich_results  # noqa: E402


def _run(args, cwd, tmp_path):
    return subprocess.run(
        [*command(), "report", *map(str, args)],
        cwd=cwd,
        env=env(tmp_path / "xdg"),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(rich_results()))
    return path


def test_report_writes_the_html_with_links_relative_to_its_folder(tmp_path, results_file):
    (tmp_path / "out").mkdir()
    run = _run([results_file, "-o", "out/report.html"], tmp_path, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "wrote the report out/report.html" in run.stdout
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'id="per-file-1"' in text
    assert 'src="../cand_a/clip000.wav"' in text  # the fixture's paths are relative to cwd
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.json", "missing.json: no such file"),
        (lambda d: d, "is a folder; give the results .json file"),
        (lambda d: _write(d / "bad.json", "{not json"), "bad.json: not JSON"),
        (lambda d: _write(d / "list.json", "[1, 2]"), "not a jaxmetrics results file"),
        (
            lambda d: _write(d / "other.json", '{"a": 1}'),
            'not a jaxmetrics results file (no "results")',
        ),
        (
            lambda d: _write(d / "f.json", '{"format": "other/1", "results": {}}'),
            "is not a jaxmetrics results format",
        ),
    ],
    ids=["missing", "folder", "not-json", "not-an-object", "no-results", "other-format"],
)
def test_bad_results_files_exit_2_with_one_error_line(tmp_path, make, message):
    inputs = tmp_path / "in"
    inputs.mkdir()
    results = make(inputs)
    run = _run([results, "-o", tmp_path / "r.html"], tmp_path, tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {results}") and message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "r.html").exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_output_may_not_be_the_input_nor_in_a_missing_folder(tmp_path, results_file):
    before = hashlib.sha256(results_file.read_bytes()).hexdigest()
    run = _run([results_file, "-o", results_file], tmp_path, tmp_path)
    assert run.returncode == 2
    assert "is the input file" in run.stderr and "refusing to overwrite" in run.stderr
    assert hashlib.sha256(results_file.read_bytes()).hexdigest() == before
    run = _run([results_file, "-o", tmp_path / "nowhere" / "r.html"], tmp_path, tmp_path)
    assert run.returncode == 2 and "does not exist" in run.stderr
    run = _run([results_file, "-o", tmp_path], tmp_path, tmp_path)
    assert run.returncode == 2 and "is a folder" in run.stderr


def test_o_is_required(tmp_path, results_file):
    run = _run([results_file], tmp_path, tmp_path)
    assert run.returncode == 2 and "-o/--output" in run.stderr
