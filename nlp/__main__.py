"""CLI: `python -m nlp` runs the `nlp` command."""
from .cli import main

main()
