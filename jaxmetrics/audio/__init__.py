"""The audio pipeline: ``AudioMetrics``, windows, mixes, audio files, embedding sets, state.

Uses the metric functions; never imports torch itself (embedders are
injected, see :mod:`embedders`).
"""
