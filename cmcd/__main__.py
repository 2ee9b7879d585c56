"""``python -m cmcd`` runs the command-line interface."""

import sys

from cmcd.cli import main

sys.exit(main())
