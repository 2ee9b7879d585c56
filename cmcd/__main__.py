"""``python -m cmcd`` runs the command-line interface."""

import sys

from cmcd.cli.main import main

sys.exit(main())
