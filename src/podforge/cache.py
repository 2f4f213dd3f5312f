"""One content-addressed store for clips and other derived data.

Keys hash the inputs (text, engine, voice, settings, engine version), never
file names. Every entry carries the SHA-256 of its content (see `_sealed`) and
is verified on each read; a truncated or altered entry is removed with a
warning and counts as a miss, never a failed render.

Several processes may share one cache. An entry is created once: the first
writer wins (a hard link creates the name only if it is absent) and a later
writer of the same key gets the winner's content back, so two renders that
synthesise the same line with a non-deterministic engine mix the same clip.

The cache is kept under a size cap by least-recently-used eviction: reading an
entry touches its mtime, and `evict` removes the oldest entries first, never
one this process used nor one any process touched in the last `IN_USE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ._atomic import create_temp
from ._sealed import (
    Corrupt,
    HashingReader,
    copy_in,
    copy_payload,
    discard,
    read_sealed,
    sealed_digest,
    write_sealed,
)
from .errors import ConfigError

log = logging.getLogger(__name__)
FORMAT_VERSION = "2"  # 2: sealed entries; keys of format 1 are never looked up again and age out
CAP_ENV = "PODFORGE_CACHE_MAX_GB"
IN_USE_SECONDS = 3600.0  # another process may still be rendering with an entry it touched this recently
_TEMP = re.compile(r"^\..+\.tmp-(\d+)-[0-9a-f]+$")
_STALE_TEMP_SECONDS = 86_400.0
PLAIN_DIR = "files"  # verified plain copies handed out by get_file (root/files/kind/xx/key.ext)

T = TypeVar("T")


def default_cache_dir() -> Path:
    env = os.environ.get("PODFORGE_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("podforge", appauthor=False))


def cache_cap_bytes(configured_gb: float | None = None) -> int:
    """The size cap: $PODFORGE_CACHE_MAX_GB if set, else the config's `cache_max_gb`, else the default."""
    env = os.environ.get(CAP_ENV, "").strip()
    if env:
        try:
            gigabytes = float(env)
        except ValueError:
            gigabytes = -1.0
        if not gigabytes > 0:
            raise ConfigError(f"{CAP_ENV}={env!r}: not a positive number of gigabytes; set e.g. 5, or unset it")
        return int(gigabytes * 1e9)
    from .config import CACHE_MAX_GB  # here: config imports pydantic and yaml (~17 MB), which synthesis lanes need not

    return int((configured_gb if configured_gb is not None else CACHE_MAX_GB) * 1e9)


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
    used_at: float  # seconds since the epoch: when it was last written or read


class ContentCache:
    def __init__(self, root: Path | None = None, *, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()
        self._max_bytes = max_bytes
        self.used: set[Path] = set()  # what this process read or wrote: never evicted by it
        self.corrupt = 0  # entries found broken (and removed) by this instance

    @property
    def max_bytes(self) -> int:
        # Resolved when needed, so that a bad $PODFORGE_CACHE_MAX_GB only matters where the cap does.
        return self._max_bytes if self._max_bytes is not None else cache_cap_bytes()

    def _path(self, kind: str, key: str, suffix: str = ".npy") -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def _read(self, path: Path, consume: Callable[[HashingReader], T]) -> T | None:
        """``consume``'d payload of a verified entry; None when absent or broken (then it is removed)."""
        self.used.add(path)
        try:
            result = read_sealed(path, consume)
        except FileNotFoundError:
            return None
        except Corrupt as exc:
            log.warning("cache entry %s is corrupt (%s); removed, it will be made again", path, exc)
            discard(path, exc.seen)
            self.corrupt += 1
            return None
        except OSError as exc:
            log.warning("cache entry %s is unreadable (%s); making it again", path, exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # "recently used", for eviction; atime is unreliable (noatime, relatime)
        return result

    def get_array(self, kind: str, key: str) -> npt.NDArray[Any] | None:
        return self._read(self._path(kind, key), lambda r: np.lib.format.read_array(r, allow_pickle=False))

    def get_text(self, kind: str, key: str, suffix: str) -> str | None:
        return self._read(self._path(kind, key, suffix), lambda r: r.read().decode("utf-8"))

    def copy_to(self, kind: str, key: str, suffix: str, dest: Path) -> bool:
        """Copy a verified entry to ``dest``; False (and no ``dest``) when absent or broken."""

        def consume(reader: HashingReader) -> bool:
            copy_payload(reader, dest)
            return True

        if self._read(self._path(kind, key, suffix), consume) is None:
            dest.unlink(missing_ok=True)
            return False
        return True

    def get_file(self, kind: str, key: str, suffix: str) -> Path | None:
        """A verified plain copy of an entry at a path that stays the same, for what must be read by path (a cover
        that renders embed and name in their settings); None when absent or broken. Entries themselves carry a
        header, so their own paths are never handed out."""
        plain = self.root / PLAIN_DIR / kind / key[:2] / f"{key}{suffix}"  # one level deeper than entries
        try:
            plain.parent.mkdir(parents=True, exist_ok=True)
            tmp = create_temp(plain)
        except OSError as exc:
            log.warning("could not copy cache entry %s/%s out (%s)", kind, key, exc)
            return None
        if not self.copy_to(kind, key, suffix, tmp):
            return None
        os.replace(tmp, plain)  # readers of the previous copy keep it: same bytes, verified afresh
        self.used.add(plain)
        return plain

    def has(self, kind: str, key: str, suffix: str = ".npy") -> bool:
        """Whether an entry is present (not verified: reading it may still find it broken)."""
        return self._path(kind, key, suffix).is_file()

    def pin(self, kind: str, key: str, suffix: str = ".npy") -> None:
        """Keep an entry from this instance's eviction though another process (a worker) wrote or read it."""
        self.used.add(self._path(kind, key, suffix))

    def digest(self, kind: str, key: str, suffix: str = ".npy") -> str | None:
        """The SHA-256 of an entry's content, from its header: names what is stored, where the key names what
        was asked for (two syntheses of one key by a non-deterministic engine differ)."""
        return sealed_digest(self._path(kind, key, suffix))

    def remove(self, kind: str, key: str, suffix: str = ".npy") -> None:
        self._path(kind, key, suffix).unlink(missing_ok=True)

    def put_array(self, kind: str, key: str, array: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Store ``array`` unless the key is taken; returns the array the cache holds, which a render must use.

        Engines are not deterministic, so after losing a race the winner's array comes back, not ``array``."""

        def fill(writer: Any) -> None:
            np.lib.format.write_array(writer, array, allow_pickle=False)

        for _ in range(2):  # a second try only when the winner turned out broken and was removed
            written = self._write(self._path(kind, key), fill)
            if written is not False:
                return array
            stored = self.get_array(kind, key)
            if stored is not None:
                return stored
        return array

    def put_file(self, kind: str, key: str, suffix: str, source: Path) -> None:
        self._store(self._path(kind, key, suffix), copy_in(source))

    def put_text(self, kind: str, key: str, suffix: str, text: str) -> None:
        self._store(self._path(kind, key, suffix), lambda w: w.write(text.encode("utf-8")))

    def _store(self, path: Path, fill: Callable[[Any], object]) -> None:
        # Losing to an entry nobody has read yet must not keep a broken one: check the winner, replace it if bad.
        for _ in range(2):
            if self._write(path, fill) is not False or self._read(path, HashingReader.drain) is not None:
                return

    def _write(self, path: Path, fill: Callable[[Any], object]) -> bool | None:
        """True if written, False if another writer's entry was there first, None if it could not be written
        (a full disk): the cache is an optimisation, so that only warns."""
        self.used.add(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return write_sealed(path, fill)
        except OSError as exc:
            log.warning("could not write cache entry %s (%s)", path, exc)
            return None

    def _files(self) -> Iterator[tuple[Path, os.stat_result]]:
        if not self.root.exists():
            return
        for path in self.root.glob("*/*/*"):
            with contextlib.suppress(OSError):  # another process may remove it meanwhile
                yield path, path.stat()

    def entries(self) -> Iterator[CacheEntry]:
        for path, stat in sorted(self._files()):
            if not path.name.startswith(".") and path.is_file():
                kind, key = path.parent.parent.name, path.name.split(".")[0]
                yield CacheEntry(kind, key, stat.st_size, path, stat.st_mtime)

    def total_bytes(self) -> int:
        return sum(entry.size_bytes for entry in self.entries())

    def evict(self) -> int:
        """Remove least-recently-used entries until the cache fits its cap; returns the bytes freed.

        Also removes temporary files that killed writers left behind. One process evicts at a time."""
        from filelock import FileLock, Timeout

        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(self.root / ".evict.lock", timeout=0):
                self._sweep_temps()
                return self._evict_oldest()
        except Timeout:
            return 0

    def _evict_oldest(self) -> int:
        entries, cap = sorted(self.entries(), key=lambda entry: entry.used_at), self.max_bytes
        total = sum(entry.size_bytes for entry in entries)
        freed, recent = 0, time.time() - IN_USE_SECONDS
        for entry in entries:
            if total - freed <= cap:
                break
            if entry.path in self.used or entry.used_at > recent:
                continue
            with contextlib.suppress(OSError):
                entry.path.unlink()
                freed += entry.size_bytes
        if total - freed > cap:
            log.info("cache %s holds %.1f MB in use, over its %.1f MB cap", self.root, (total - freed) / 1e6,
                     cap / 1e6)  # fmt: skip
        return freed

    def _sweep_temps(self) -> None:
        import psutil

        stale = time.time() - _STALE_TEMP_SECONDS
        for path, stat in self._files():
            match = _TEMP.match(path.name)
            if match and (not psutil.pid_exists(int(match.group(1))) or stat.st_mtime < stale):
                path.unlink(missing_ok=True)
        # get_file's plain copies are made again on demand: keep them only while a render may be reading them.
        recent = time.time() - IN_USE_SECONDS
        for path in self.root.glob(f"{PLAIN_DIR}/*/*/*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < recent and path not in self.used:
                    path.unlink()

    def clear(self) -> int:
        """Remove every entry; returns how many bytes were freed."""
        freed = sum(entry.size_bytes for entry in self.entries())
        for kind_dir in (p for p in self.root.glob("*") if p.is_dir()) if self.root.exists() else ():
            shutil.rmtree(kind_dir, ignore_errors=True)
        return freed
