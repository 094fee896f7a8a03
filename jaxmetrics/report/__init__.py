"""The visual report: a results dict (the JSON of ``jaxmetrics evaluate``) as one HTML file.

``html`` assembles the document, ``tables`` its tables, ``plots`` its figures
(matplotlib, Agg, inlined as PNG ``data:`` URIs). Only the standard library,
numpy and matplotlib are used, matplotlib imported on first use.
"""

from jaxmetrics.report.html import build_report, write_report
from jaxmetrics.report.plots import INSTALL_HINT, require_matplotlib

__all__ = ["INSTALL_HINT", "build_report", "require_matplotlib", "write_report"]
