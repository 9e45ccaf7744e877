"""``python -m openderms`` runs the command line."""

from openderms.cli import main

main()
