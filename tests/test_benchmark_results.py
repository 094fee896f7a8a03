"""benchmarks/_results.py: sections of RESULTS.md are replaced in place, others kept."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _results  # noqa: E402


def test_sections_are_replaced_in_place_and_others_kept(tmp_path):
    path = tmp_path / "RESULTS.md"
    _results.write_section("a", "first A", path)
    _results.write_section("b", "only B", path)
    _results.write_section("a", "second A", path)
    text = path.read_text()
    assert text.startswith(_results.TITLE)
    assert "second A" in text and "first A" not in text and "only B" in text
    assert text.index("<!-- a:start -->") < text.index("<!-- b:start -->")  # order kept
    assert not list(tmp_path.glob("*.partial"))  # written beside, then renamed


def test_recorded_stores_what_was_printed(tmp_path, monkeypatch, capsys):
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(_results, "RESULTS", path)
    with _results.recorded("demo", "Demo"):
        print("| a | b |")
    assert "| a | b |" in capsys.readouterr().out  # still printed
    text = path.read_text()
    assert "## Demo" in text and "| a | b |" in text and "- command: `python" in text
    with _results.recorded("off", "Off", enabled=False):
        print("not stored")
    assert "not stored" not in path.read_text()
