"""The bundled demo episode: a two-host script and a theme made by podforge's own music engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path


@contextmanager
def demo_script() -> Iterator[Path]:
    """Path of demo.md, next to the theme it plays."""
    with as_file(files("podforge") / "data" / "demo") as folder:
        yield Path(folder) / "demo.md"
