"""The ``polyface`` command line (Typer + Rich)."""
