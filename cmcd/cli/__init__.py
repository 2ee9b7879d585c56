"""The ``cmcd`` command line: ``run``, ``sweep``, ``report``, ``bound`` and friends."""
