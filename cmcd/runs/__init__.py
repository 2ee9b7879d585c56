"""Runs and sweeps: the checkpointed pipeline, grids, executors and reports.

One run's pipeline (checkpointed steps), sweeps over a grid, executors (local, processes,
Ray), the ``columns.json`` sidecar and sweep reports.
"""
