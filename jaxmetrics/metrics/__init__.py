"""The metric functions (FAD, KD/KAD, PRDC, APA, Gaussian statistics), single and batched.

Built on :mod:`jaxmetrics._src` only; re-exported by :mod:`jaxmetrics`.
"""
