"""Total-variation estimators: classifier, partition (histogram) and robust OT.

The functional entry point is :func:`bounds.estimate_tv` (``bounds.tv.api``).
"""
