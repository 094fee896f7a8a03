"""Tools around the metrics: kernel-parameter sweeps, bootstrap intervals, 1/n extrapolation.

Built on :mod:`jaxmetrics.metrics` and :mod:`jaxmetrics._src`.
"""
