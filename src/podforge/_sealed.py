"""Sealed files: a payload behind a header that holds its SHA-256, so a truncated or altered file is caught.

Layout: ``MAGIC``, 32 bytes of digest, then the payload. The digest covers the payload only and is written last
(the header is reserved first, then filled in), so a writer killed mid-file leaves a file that fails to verify.
Readers hash as they consume, in one pass, and only trust what they read once the whole file has matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from ._atomic import create_temp, publish_once

MAGIC = b"podforge-cache 2\n"
DIGEST_BYTES = 32
HEADER_BYTES = len(MAGIC) + DIGEST_BYTES
_CHUNK = 1 << 20

T = TypeVar("T")


class Corrupt(Exception):
    """A sealed file that does not match its digest (truncated, altered, or not sealed at all)."""

    def __init__(self, reason: str, seen: os.stat_result) -> None:
        super().__init__(reason)
        self.seen = seen  # the broken file's identity, so that only it is removed (see `discard`)


class HashingReader:
    """A read-only file view that hashes every byte handed out."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.hasher = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.hasher.update(data)
        return data

    def drain(self) -> bool:
        while self.read(_CHUNK):
            pass
        return True


class HashingWriter:
    """A write-only file view that hashes every byte written."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.hasher = hashlib.sha256()

    def write(self, data: Any) -> int:
        self.hasher.update(data)
        return self.handle.write(data)


def read_sealed(path: Path, consume: Callable[[HashingReader], T]) -> T:
    """``consume``'s result for the payload of ``path``; raises Corrupt if it does not match its digest.

    FileNotFoundError passes through (the entry is simply absent)."""
    with path.open("rb") as handle:
        seen = os.fstat(handle.fileno())
        header = handle.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
            raise Corrupt("no podforge cache header", seen)
        reader = HashingReader(handle)
        try:
            result = consume(reader)
        except (ValueError, EOFError, UnicodeDecodeError) as exc:  # a payload that fails to parse
            raise Corrupt(f"payload does not parse: {exc}", seen) from exc
        reader.drain()  # bytes the consumer did not need are still part of what was sealed
    if reader.hasher.digest() != header[len(MAGIC) :]:
        raise Corrupt("checksum mismatch: truncated or altered", seen)
    return result


def sealed_digest(path: Path) -> str | None:
    """The digest in the header (not checked against the payload: reading the payload does that)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(HEADER_BYTES)
    except OSError:
        return None
    return header[len(MAGIC) :].hex() if len(header) == HEADER_BYTES and header.startswith(MAGIC) else None


def write_sealed(dest: Path, fill: Callable[[HashingWriter], object]) -> bool:
    """Write a sealed file at ``dest`` unless one is already there; returns whether this one is now ``dest``."""
    tmp = create_temp(dest)
    try:
        with tmp.open("r+b") as handle:
            handle.write(MAGIC + bytes(DIGEST_BYTES))
            writer = HashingWriter(handle)
            fill(writer)
            handle.seek(len(MAGIC))
            handle.write(writer.hasher.digest())
            handle.flush()
            os.fsync(handle.fileno())  # without it a crash soon after could leave an empty file under the name
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return publish_once(tmp, dest)


def copy_payload(reader: HashingReader, dest: Path) -> None:
    with dest.open("wb") as out:
        while chunk := reader.read(_CHUNK):
            out.write(chunk)


def copy_in(source: Path) -> Callable[[HashingWriter], None]:
    def fill(writer: HashingWriter) -> None:
        with source.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                writer.write(chunk)

    return fill


def discard(path: Path, seen: os.stat_result) -> None:
    """Remove ``path`` if it is still the file that was found broken, not one another process wrote since."""
    with contextlib.suppress(OSError):
        now = path.stat()
        if (now.st_ino, now.st_dev) == (seen.st_ino, seen.st_dev):
            path.unlink()
