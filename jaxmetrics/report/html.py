"""The report as one self-contained HTML file, built from a results dict.

The document holds, in order, the sections whose data the results have:
the run's facts, the summary table, the comparisons between sets, a 2-D
projection of the embeddings, the FAD∞ fits, realism histograms, the worst
files of each set with audio players, and the skipped files. Figures are PNGs
inlined as ``data:`` URIs and the style sheet is inline: nothing is fetched
from the network and the file can be mailed or archived alone. The audio
players link to the files themselves, relative to the report's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from jaxmetrics.audio.atomic import write_text_atomic
from jaxmetrics.report import plots, tables

__all__ = ["build_report", "write_report"]

TITLE = "jaxmetrics report"
STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       background: #fff; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: .3rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.better td { font-style: italic; color: #555; }
tr.failed td { color: #a00; }
td.copies { color: #a00; font-weight: bold; }
.ci { color: #555; white-space: nowrap; }
.note, figcaption { color: #555; font-size: .85rem; }
.path { word-break: break-all; font-family: ui-monospace, monospace; font-size: .85rem; }
td .note { display: block; min-width: 9rem; }
audio { height: 2rem; width: 190px; }
figure { margin: 1rem 0; }
img { max-width: 100%; height: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
.figures figure { flex: 0 1 auto; max-width: 100%; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
@media print {
  main { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  audio { display: none; }
  section, figure, tr { break-inside: avoid; }
  body { font-size: 11pt; }
}
"""
REALISM_CAPTION = (
    "Realism score of each candidate window (Kynkäänniemi et al., 2019, Improved "
    "Precision and Recall Metric for Assessing Generative Models): a window scoring above 1 "
    "lies inside the reference manifold (within the k-NN ball of some reference window); "
    "the dashed line marks 1."
)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{body}</section>'


def _figure(png: bytes, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{plots.png_data_uri(png)}" alt="{escape(alt, quote=True)}">'
        f"{cap}</figure>"
    )


def _facts(report: Mapping[str, Any]) -> str:
    reference = _dict(report.get("reference"))
    rows = [
        ("embedder", report.get("embedder")),
        ("window", f"{report['win_dur']} s" if "win_dur" in report else None),
        ("metrics", ", ".join(map(str, report["metrics"])) if report.get("metrics") else None),
        ("date", report.get("date")),
        ("reference", reference.get("path")),
        ("reference size", _sizes(reference)),
        ("versions", ", ".join(f"{k} {v}" for k, v in _dict(report.get("versions")).items())),
    ]
    items = "".join(f"<dt>{k}</dt><dd>{escape(str(v))}</dd>" for k, v in rows if v)
    return f'<dl class="facts">{items}</dl>' if items else ""


def _sizes(entry: Mapping[str, Any]) -> str:
    parts = [f"{entry[k]} {k}" for k in ("files", "windows") if entry.get(k) is not None]
    skipped = entry.get("skipped")
    if isinstance(skipped, list) and skipped:
        parts.append(f"{len(skipped)} skipped")
    return ", ".join(parts)


def _ci_note(ci: Mapping[str, Any]) -> str:
    if not ci:
        return ""
    level = ci.get("level")
    text = f"{level:.0%} intervals" if isinstance(level, (int, float)) else "Intervals"
    details = [
        f"{ci['method']} bootstrap" if ci.get("method") else "bootstrap",
        f"{ci['resamples']} resamples" if ci.get("resamples") else "",
        f"resampling {ci['grouping']}s" if ci.get("grouping") else "",
        f"the {ci['held_fixed']} held fixed" if ci.get("held_fixed") else "",
        f"seed {ci['seed']}" if ci.get("seed") is not None else "",
    ]
    shown = ", ".join(d for d in details if d)
    return f'<p class="note">{escape(text)} in brackets: {escape(shown)}.</p>'


def _summary(report: Mapping[str, Any]) -> str:
    body = tables.summary_table(report) + _ci_note(_dict(report.get("ci")))
    return _section("summary", "Summary", body)


def _comparisons(report: Mapping[str, Any]) -> str:
    items = [
        f'<li class="{"separated" if _dict(c).get("separated") else "overlap"}">'
        f"{escape(str(_dict(c).get('text', '')))}</li>"
        for c in report.get("comparisons") or []
        if _dict(c).get("text")
    ]
    return (
        _section("comparisons", "Comparisons", "<ul>" + "".join(items) + "</ul>") if items else ""
    )


def _projection(report: Mapping[str, Any]) -> str:
    projection = _dict(report.get("projection"))
    points = _dict(projection.get("points"))
    if not points:
        return ""
    ratios = projection.get("explained_variance_ratio") or []
    labels = [f"component {i + 1} ({r:.1%} of variance)" for i, r in enumerate(ratios[:2])]
    method = projection.get("method") or "2-D projection of the embeddings"
    explained = f" Explained variance: {', '.join(labels)}." if labels else ""
    caption = f"{method}.{explained} Grey: the reference; colours: candidate sets."
    png = plots.projection_png(points, axis_labels=labels)
    return _section("projection", "Embeddings in 2-D", _figure(png, "projection", caption))


def _fad_inf(report: Mapping[str, Any]) -> str:
    figures = []
    for name, fit in _dict(report.get("inf")).items():
        fit = _dict(fit)
        if not fit.get("ns") or not fit.get("values"):
            continue
        png = plots.fad_inf_png(
            str(name),
            fit["ns"],
            fit["values"],
            fad_inf=fit.get("fad_inf"),
            slope=fit.get("slope"),
            r2=fit.get("r2"),
        )
        figures.append(_figure(png, f"FAD against 1/n for {name}"))
    if not figures:
        return ""
    caption = (
        '<p class="note">FAD on subsets of n candidate windows against 1/n, with the fitted '
        "line FAD(n) = FAD∞ + slope / n: FAD∞ (the intercept) is the FAD of an unlimited "
        "sample, free of the bias of a finite set.</p>"
    )
    body = caption + '<div class="figures">' + "".join(figures) + "</div>"
    return _section("fad-inf", "FAD∞", body)


def _realism(diagnostics: Mapping[str, Any]) -> str:
    figures = [
        _figure(plots.realism_png(str(name), d["realism"]), f"realism scores of {name}")
        for name, d in ((n, _dict(d)) for n, d in diagnostics.items())
        if d.get("realism")
    ]
    if not figures:
        return ""
    body = (
        '<div class="figures">' + "".join(figures) + f"</div><p class='note'>"
        f"{escape(REALISM_CAPTION)}</p>"
    )
    return _section("realism", "Realism", body)


def _diagnostics_note(diag: Mapping[str, Any]) -> str:
    facts = []
    if diag.get("k") is not None:
        facts.append(f"k = {diag['k']} nearest neighbours")
    if diag.get("dim") is not None:
        facts.append(f"{diag['dim']} embedding dimensions")
    if diag.get("copy_threshold") is not None:
        quantile = diag.get("copy_quantile")
        q = f", the {quantile:g} quantile" if isinstance(quantile, (int, float)) else ""
        facts.append(
            f"likely copies: windows nearer a reference window than "
            f"{tables.fmt(diag['copy_threshold'])}{q}"
        )
    return f'<p class="note">{escape("; ".join(facts))}.</p>' if facts else ""


def _per_file(diagnostics: Mapping[str, Any], base_dir: Path, origin: str | None) -> str:
    sections = []
    for n, (name, diag) in enumerate(diagnostics.items(), start=1):
        diag = _dict(diag)
        files = diag.get("files")
        if not isinstance(files, list) or not files:
            continue
        body = (
            f"<p>Files of <b>{escape(str(name))}</b>, worst first.</p>"
            + _diagnostics_note(diag)
            + tables.per_file_table(files, base_dir, origin=origin)
        )
        sections.append(_section(f"per-file-{n}", f"Per file: {name}", body))
    return "".join(sections)


def _skipped(report: Mapping[str, Any]) -> str:
    sets = {"reference": _dict(report.get("reference"))}
    sets.update({str(k): _dict(v) for k, v in _dict(report.get("candidates")).items()})
    parts = []
    for name, entry in sets.items():
        skipped = entry.get("skipped")
        if isinstance(skipped, list) and skipped:
            label = (
                f"reference {entry['path']}" if name == "reference" and entry.get("path") else name
            )
            parts.append(
                f"<h3>{escape(str(label))}: {len(skipped)} skipped</h3>"
                + tables.skipped_list(skipped)
            )
    return _section("skipped", "Skipped files", "".join(parts)) if parts else ""


def build_report(results: Mapping[str, Any], *, base_dir: str | os.PathLike[str]) -> str:
    """The HTML report of a results dict (the JSON that ``jaxmetrics evaluate`` writes).

    Every key but ``results`` may be missing: the sections without data are
    left out.

    Args:
        results: the results, as loaded from the JSON file.
        base_dir: the folder the report will be written to; the audio players
            link to the files relative to it.

    Returns:
        The whole document, one string.

    Raises:
        ImportError: if matplotlib is missing (with the install command).

    """
    plots.require_matplotlib()
    base = Path(base_dir)
    diagnostics = _dict(results.get("diagnostics"))
    origin = results.get("cwd")  # where the run's relative paths start
    body = "".join(
        [
            f'<header id="run"><h1>{TITLE}</h1>{_facts(results)}</header>',
            _summary(results),
            _comparisons(results),
            _projection(results),
            _fad_inf(results),
            _realism(diagnostics),
            _per_file(diagnostics, base, origin if isinstance(origin, str) else None),
            _skipped(results),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{TITLE}</title>'
        f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>\n"
    )


def write_report(
    results: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write :func:`build_report`'s document to ``path`` atomically.

    Args:
        results: the results dict.
        path: the HTML file; its folder must exist.
        base_dir: where the audio links are relative to (default: ``path``'s folder).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    """
    folder = Path(base_dir) if base_dir is not None else Path(os.path.abspath(path)).parent
    return write_text_atomic(path, build_report(results, base_dir=folder))
