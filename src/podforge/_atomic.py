"""Atomic file writes: readers see the old file or the complete new one, never a partial one.

The temporary file lives in the destination's directory so that the final ``os.replace`` is a
rename within one filesystem, which POSIX and Windows both perform atomically.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

_MAX_NAME_TRIES = 16


def create_temp(dest: Path) -> Path:
    for _ in range(_MAX_NAME_TRIES):
        # The pid lets a later sweep tell a dead writer's leftover from a file another process is still writing.
        tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # O_EXCL reserves the name against concurrent writers; mode 0o666 lets the umask decide,
            # as it would for a file created with open().
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{dest}: could not create a unique temporary file next to it")


def fsync_file(path: Path) -> None:
    # Without this a crash shortly after the rename can leave an empty file under the final name.
    fd = os.open(path, os.O_RDWR)  # Windows refuses to flush a read-only handle
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` if the block succeeds.

    The temporary file (``.<name>.tmp-<pid>-XXXXXXXX``) already exists, empty, when yielded; writers may
    truncate or replace it. On any exception, including KeyboardInterrupt, it is removed and
    ``dest`` is left as it was.
    """
    dest_path = Path(dest)
    tmp = create_temp(dest_path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, dest_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def publish_once(tmp: Path, dest: Path) -> bool:
    """Give the finished file ``tmp`` the name ``dest`` unless ``dest`` exists: the first writer wins.

    Returns whether ``tmp`` became ``dest``; ``tmp`` is gone either way. A hard link creates the name only if it
    is absent, atomically; where the filesystem has no hard links, a lock file next to ``dest`` does the same.
    """
    try:
        os.link(tmp, dest)
        return True
    except FileExistsError:
        return False
    except OSError:
        from filelock import FileLock

        with FileLock(dest.with_name(f".{dest.name}.lock")):
            if dest.exists():
                return False
            os.replace(tmp, dest)
            return True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically and return ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def atomic_write_text(dest: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``dest`` atomically and return ``dest`` as a Path."""
    return atomic_write_bytes(dest, text.encode(encoding))
