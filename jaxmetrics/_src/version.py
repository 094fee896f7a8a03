"""The package version (also in ``pyproject.toml``), for files the pipeline writes."""

VERSION = "0.1.0"
