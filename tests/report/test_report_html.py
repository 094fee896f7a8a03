"""The HTML report, read back with the standard library's HTML parser."""

from __future__ import annotations

import base64
import io
import sys
import urllib.parse
from html.parser import HTMLParser

import pytest
from fixtures import EVIL, SECTIONS, minimal_results, rich_results

from jaxmetrics.report import INSTALL_HINT, build_report, require_matplotlib, write_report
from jaxmetrics.report.tables import PER_FILE_ROWS

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL.Image")


class Page(HTMLParser):
    """Ids in document order, every src/href, images, audio, per-file table rows and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.audio: list[str] = []
        self.meta: list[dict] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.title = ""
        self._section: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "section":
            self._section = a.get("id")
        for key in ("src", "href"):
            if key in a:
                self.links.append(a[key])
        if tag == "img":
            self.images.append(a["src"])
        if tag == "audio":
            self.audio.append(a["src"])
            assert a.get("preload") == "none" and "controls" in a
        if tag == "meta":
            self.meta.append(a)
        if tag == "title":
            self._in_title = True
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.setdefault(self._section, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # the fixture's paths are relative to the run's folder
        text = build_report(rich_results(), base_dir=root / "reports")
    return text, parse(text)


def test_the_sections_are_there_in_order(rich):
    _, page = rich
    assert page.ids == SECTIONS
    assert page.title == "jaxmetrics report"
    assert any(m.get("charset") == "utf-8" for m in page.meta)
    assert any(m.get("name") == "viewport" for m in page.meta)


def test_the_summary_has_values_intervals_better_and_the_failed_set(rich):
    text, page = rich
    rows = page.rows["summary"]
    header = rows[0]
    assert header[:3] == ["set", "fad", "FAD∞"] and header[-3:] == ["windows", "files", "skipped"]
    assert rows[1][0] == "better" and rows[1][1] == "lower" and rows[1][5] == "higher"
    cand_a = next(r for r in rows if r[0] == "cand_a/")
    assert cand_a[1] == "1.2 [1.08, 1.32]" and cand_a[2] == "0.9"
    assert cand_a[-3:] == ["118", "60", "1"]
    failed = next(r for r in rows if r[0] == "cand_c/")
    assert failed[1] == "failed: no usable audio (3 files skipped)"
    assert "95% intervals in brackets: percentile bootstrap, 200 resamples" in text
    assert "cand_a/ is lower than cand_b/ and the 95% intervals do not overlap" in text


def test_the_per_file_table_keeps_the_given_order_and_is_capped(rich):
    text, page = rich
    files = rich_results()["diagnostics"]["cand_a/"]["files"]
    rows = page.rows["per-file-1"][1:]
    assert len(rows) == PER_FILE_ROWS
    assert [r[1] for r in rows] == [f["path"] for f in files[:PER_FILE_ROWS]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, PER_FILE_ROWS + 1)]
    # the note is written once under the table and marked in the cell
    assert rows[0][3].startswith("10") and rows[0][3].endswith("[1]")
    shown = [
        {f["fad_note"] for f in found["files"][:PER_FILE_ROWS] if f.get("fad_note")}
        for found in rich_results()["diagnostics"].values()
    ]
    assert text.count("singular covariance") == sum(len(notes) for notes in shown)
    assert rows[0][7].startswith("ref/r000.wav at 0 s")
    assert f"{len(files) - PER_FILE_ROWS} more are left out here" in text
    assert "lists them all" in text
    assert len(page.rows["per-file-2"]) == 1 + 12


def test_audio_links_are_relative_to_the_report_folder_and_quoted(rich):
    _, page = rich
    assert "../cand_a/clip000.wav" in page.audio
    assert "../ref/r000.wav" in page.audio
    assert "../" + urllib.parse.quote(EVIL) in page.audio
    assert all("<" not in src and " " not in src for src in page.audio)


def test_nothing_is_fetched_from_the_network(rich):
    _, page = rich
    assert page.links
    assert not [u for u in page.links if u.lower().startswith(("http:", "https:", "//"))]


def test_every_image_is_an_inline_png(rich):
    _, page = rich
    assert len(page.images) == 1 + 2 + 2  # projection, two FAD∞ fits, two histograms
    for src in page.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        png = base64.b64decode(src[len(prefix) :], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        with PIL.open(io.BytesIO(png)) as image:
            image.load()
            assert image.width > 100 and image.height > 100


def test_user_strings_are_escaped(rich):
    text, page = rich
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "cand_a/&lt;b&gt;bad&lt;/b&gt;.wav" in text and "unreadable &amp; corrupt" in text
    assert EVIL in [r[1] for r in page.rows["per-file-1"]]


def test_a_results_dict_with_only_results_renders():
    page = parse(build_report(minimal_results(), base_dir="."))
    assert page.ids == ["run", "summary"]
    assert page.rows["summary"] == [
        ["set", "fad", "precision", "windows", "files", "skipped"],
        ["cand/", "1.5", "0.5", "—", "—", "—"],
    ]
    assert not page.images and not page.audio


def test_partial_and_odd_entries_are_skipped_without_error():
    results = {
        "results": {"a": {"fad": float("nan"), "precision": 0.5}, "b": {}},
        "intervals": {"a": {"precision": [0.4, 0.6]}, "b": "not a dict"},
        "inf": {"a": {"fad_inf": 1.0}},  # no ns/values: no figure, the value is in the table
        "diagnostics": {"a": {"files": []}, "b": {"realism": [0.5, 1.5, 2.0]}},
        "projection": {"points": {}},
        "comparisons": [{"a": "a", "b": "b"}],
        "candidates": {"a": {"skipped": [{"path": "x.wav"}]}},
    }
    page = parse(build_report(results, base_dir="."))
    assert page.ids == ["run", "summary", "realism", "skipped"]
    assert page.rows["summary"][1] == ["a", "—", "1", "0.5 [0.4, 0.6]", "—", "—", "1"]
    assert len(page.images) == 1


def test_write_report_writes_the_file_atomically(tmp_path):
    out = write_report(minimal_results(), tmp_path / "report.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_missing_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        require_matplotlib()
    with pytest.raises(ImportError) as info:
        build_report(minimal_results(), base_dir=".")
    assert str(info.value) == INSTALL_HINT


def test_audio_links_start_from_the_folder_the_run_was_in(tmp_path):
    """``jaxmetrics report`` run elsewhere still links the files the run read."""
    results = rich_results()
    results["cwd"] = str(tmp_path / "run")
    text = build_report(results, base_dir=tmp_path / "reports")
    first = results["diagnostics"]["cand_a/"]["files"][0]["path"]
    expected = urllib.parse.quote(f"../run/{first}")
    assert f'src="{expected}"' in text
