"""Cases of the bad-input audit run by ``benchmarks/bad_input_audit.py``, one module per topic.

- :mod:`bad_input.harness`: :class:`~bad_input.harness.Case`, :class:`~bad_input.harness.Proc`
  and the subprocess launchers (``python -m cmcd``, API snippets, background commands);
- :mod:`bad_input.fixtures`: tiny configs, file writers, run-folder and sweep setups, checks;
- :mod:`bad_input.faults`: unreadable files and read-only folders, also when run as root;
- one module per case family (``config_cases``, ``csv_dataset_cases``, ``cli_cases``,
  ``sweep_cases``, ``run_cases``, ``tv_cases``, ``api_cases``; round 2 of the hardening:
  ``table_cases`` for files as users have them, ``round2_cases`` for closed pipes,
  permissions, config numbers and sizes, checkpoints, sweep rows, labels and reruns);
- :mod:`bad_input.catalogue`: every case in order, and the near-duplicates left out by default.

The package is imported as ``bad_input``: ``python benchmarks/bad_input_audit.py`` puts
``benchmarks/`` first on ``sys.path``.
"""
