"""The ``jaxmetrics`` command line (``jaxmetrics demo | evaluate | embed | score``)."""

from jaxmetrics.cli.commands import main

__all__ = ["main"]
