"""The ``jaxmetrics`` command's entry point: parse, run one subcommand, turn errors into exits.

- ``jaxmetrics demo``: synthetic audio of known degradation, weight-free embedder;
- ``jaxmetrics evaluate REFERENCE CANDIDATE...``: FAD, KD, PRDC, APA between folders;
- ``jaxmetrics embed FOLDER -o FILE``: caches stem embeddings in an ``.npz``;
- ``jaxmetrics score REF CAND...``: metrics from cached embeddings (no torch);
- ``jaxmetrics report RESULTS.json -o FILE.html``: a results file as one HTML page.

Bad input ends with one ``error:`` line and exit status 2 before any long
work; a candidate set that fails later is reported and the run goes on, with
exit status 1 at the end; an unexpected exception is a bug: its traceback is
printed with a request to report it (exit status 3).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from jaxmetrics.audio.embedding_files import EMBEDDINGS_FORMAT
from jaxmetrics.cli.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, CliError
from jaxmetrics.cli.parser import AUDIO_METRICS, METRICS, build_parser, parse_metrics
from jaxmetrics.cli.score import score_sets

__all__ = [
    "AUDIO_METRICS",
    "EMBEDDINGS_FORMAT",
    "METRICS",
    "CliError",
    "build_parser",
    "main",
    "parse_metrics",
    "score_sets",
]


def _runner(command: str):
    # imported on use: `score` must not import the audio readers, nor torch
    if command == "score":
        from jaxmetrics.cli.score import run_score

        return run_score
    if command == "embed":
        from jaxmetrics.cli.embed import run_embed

        return run_embed
    if command == "report":
        from jaxmetrics.cli.report import run_report

        return run_report
    if command == "evaluate":
        from jaxmetrics.cli.evaluate import run_evaluate

        return run_evaluate
    from jaxmetrics.cli.demo import run_demo

    return run_demo


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmetrics`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _runner(args.command)(args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "\ninterrupted: results completed so far are printed above (and in --json); "
            "rerun the same command to resume from the files already embedded",
            file=sys.stderr,
        )
        return 130
    except Exception:  # noqa: BLE001 - a bug: show everything, ask for a report
        traceback.print_exc()
        print(
            "error: this is a bug in jaxmetrics, not a problem with your input; please "
            "report it with the command line and the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
