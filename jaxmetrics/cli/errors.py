"""The command line's error types and exit statuses."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_SOME_FAILED", "CliError"]

EXIT_SOME_FAILED = 1  # the run completed, but at least one candidate set failed
EXIT_BAD_INPUT = 2  # nothing was computed: bad arguments, inputs or outputs
EXIT_INTERNAL = 3  # a bug: a traceback and a request to report it


class CliError(Exception):
    """An error reported as one ``error: ...`` line with exit status 2."""
