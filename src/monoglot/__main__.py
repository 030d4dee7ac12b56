"""``python -m monoglot`` runs the CLI."""

from .cli import main

main()
