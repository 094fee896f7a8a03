"""``jaxmetrics report RESULTS.json -o FILE.html``: the HTML report of a results file.

The results file is read and checked first (it exists, is JSON, is a
jaxmetrics results file), then the output (a writable file that is not the
input); only then are the figures drawn. The audio players of the report
link to the files relative to the output's folder.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from jaxmetrics.cli.errors import CliError
from jaxmetrics.cli.preflight import InputSet, check_output

__all__ = ["load_results", "run_report"]

FORMAT_PREFIX = "jaxmetrics-results/"


def load_results(path: str) -> dict[str, Any]:
    """The results dict in ``path``.

    Raises:
        CliError: if the file is missing, unreadable, not JSON, or not a
            jaxmetrics results file (no ``results`` object, another format).

    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder; give the results .json file") from None
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise CliError(f"{path}: cannot be read ({reason})") from None
    try:
        results = json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"{path}: not JSON ({err})") from None
    if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
        raise CliError(
            f'{path}: not a jaxmetrics results file (no "results"); give the file that '
            "jaxmetrics evaluate --json wrote"
        )
    form = results.get("format")
    if form is not None and not str(form).startswith(FORMAT_PREFIX):
        raise CliError(f"{path}: format {form!r} is not a jaxmetrics results format")
    return results


def run_report(args: argparse.Namespace) -> int:
    """Write the HTML report of ``args.results`` to ``args.output``; returns the exit status."""
    results = load_results(args.results)
    source = InputSet("results", args.results, [], [], None, [Path(args.results)], [])
    check_output(args.output, "-o", [source])
    from jaxmetrics.report import write_report

    try:
        write_report(results, args.output, base_dir=Path(os.path.abspath(args.output)).parent)
    except ImportError as err:
        raise CliError(str(err)) from None
    print(f"wrote the report {args.output}")
    return 0
