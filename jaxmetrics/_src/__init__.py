"""Numerics under the metrics.

Linear algebra, kernels, exact distance bounds, precision, validation and
sharding.

Imports nothing from the layers above (``metrics``, ``analysis``, ``audio``,
``cli``); ``tests/test_layers.py`` checks it.
"""
