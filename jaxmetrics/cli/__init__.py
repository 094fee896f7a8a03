"""The ``jaxmetrics`` command line (``jaxmetrics demo | evaluate | embed | score | report``)."""

from jaxmetrics.cli.commands import main

__all__ = ["main"]
