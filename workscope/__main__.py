"""`python -m workscope` runs the CLI."""

from workscope.cli import app

app()
