"""CLI: `python -m nlp` runs the `nlp` command."""
from .app.cli import main

main()
