"""One content-addressed store for clips and other derived data.

Keys hash the inputs (text, engine, voice, settings, engine version), never
file names. Entries are written atomically and verified on read; a broken
entry is a miss and a warning, never a failed render.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._atomic import atomic_path

log = logging.getLogger(__name__)
FORMAT_VERSION = "1"


def default_cache_dir() -> Path:
    env = os.environ.get("PODFORGE_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("podforge", appauthor=False))


def content_key(**inputs: Any) -> str:
    """A stable hash of JSON-able inputs (sorted keys, so argument order does not matter)."""
    blob = json.dumps({"format": FORMAT_VERSION, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    kind: str
    key: str
    size_bytes: int
    path: Path


class ContentCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def _path(self, kind: str, key: str, suffix: str = ".npy") -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def get_array(self, kind: str, key: str) -> npt.NDArray[Any] | None:
        path = self._path(kind, key)
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("cache entry %s is unreadable (%s); recomputing it", path, exc)
            path.unlink(missing_ok=True)
            return None

    def has(self, kind: str, key: str) -> bool:
        return self._path(kind, key).exists()

    def put_array(self, kind: str, key: str, array: npt.NDArray[Any]) -> Path:
        def fill(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                np.save(handle, array, allow_pickle=False)

        path = self._path(kind, key)
        self._write(path, fill)
        return path

    def get_file(self, kind: str, key: str, suffix: str) -> Path | None:
        path = self._path(kind, key, suffix)
        return path if path.is_file() else None

    def put_file(self, kind: str, key: str, suffix: str, source: Path) -> None:
        """Copy a finished file in; a failure only warns, since the cache is an optimisation."""
        self._write(self._path(kind, key, suffix), lambda tmp: shutil.copyfile(source, tmp))

    def put_text(self, kind: str, key: str, suffix: str, text: str) -> None:
        self._write(self._path(kind, key, suffix), lambda tmp: tmp.write_text(text, encoding="utf-8"))

    @staticmethod
    def _write(path: Path, fill: Callable[[Path], object]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                fill(tmp)
        except OSError as exc:
            log.warning("could not write cache entry %s (%s)", path, exc)

    def entries(self) -> Iterator[CacheEntry]:
        if not self.root.exists():
            return
        for path in sorted(p for p in self.root.glob("*/*/*") if p.is_file() and not p.name.startswith(".")):
            yield CacheEntry(path.parent.parent.name, path.name.split(".")[0], path.stat().st_size, path)

    def clear(self) -> int:
        """Remove every entry; returns how many bytes were freed."""
        freed = sum(entry.size_bytes for entry in self.entries())
        for kind_dir in (p for p in self.root.glob("*") if p.is_dir()) if self.root.exists() else ():
            shutil.rmtree(kind_dir, ignore_errors=True)
        return freed
