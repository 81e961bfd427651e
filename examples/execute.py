"""Run the example notebooks top to bottom and save them with their outputs (rendered charts),
so they read well on a code host: ``make notebooks`` (tests/test_notebook.py runs them too).

    .venv/bin/python examples/execute.py [examples/characterize.ipynb ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent


def execute(path: Path) -> None:
    """Execute ``path`` in a scratch directory and write it back with its outputs."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": tmp}}).execute()
    # Execution counts and times change on every run; keep the diff to what the cells show.
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for p in [Path(a) for a in sys.argv[1:]] or sorted(HERE.glob("*.ipynb")):
        execute(p)
        print(f"executed {p}", file=sys.stderr)
