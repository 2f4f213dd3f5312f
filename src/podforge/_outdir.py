"""The output folder: checked before any synthesis, and write failures in it said in words.

A render writes into a staging folder inside OUT and renames its files into place only when all
are complete (see ``pipeline``), so a failure leaves OUT as it was. What remains is to refuse an
OUT that cannot work (a file, a path through a file, a read-only place) before minutes of
synthesis, and to turn a full disk mid-render into one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError, PodforgeError, RenderError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
STAGING_PREFIX = ".podforge-"  # + pid + random: the folder a render writes OUT's files in before moving them


def prepare_out(out_dir: Path) -> None:
    """Create OUT if needed and prove a file can be written there; ConfigError (exit 2) if not."""
    shown = str(out_dir)
    blocker = next((p for p in (out_dir, *out_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocker == out_dir:
        raise ConfigError(f"-o {shown}: is a file, not a folder; give a folder for the episode's files")
    if blocker is not None:
        raise ConfigError(f"-o {shown}: {blocker} is a file, so no folder can be made inside it; choose another path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=f"{STAGING_PREFIX}probe-"):
            pass
    except OSError as exc:
        raise ConfigError(f"-o {shown}: cannot write there ({_reason(exc)}); choose a folder you can write to") from exc


@contextlib.contextmanager
def writing_into(out_dir: Path) -> Iterator[None]:
    """Turn an OSError while writing OUT into a RenderError (exit 1) that says what happened."""
    try:
        yield
    except PodforgeError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno in _FULL:
            raise _full(out_dir, cause) from exc
        raise
    except OSError as exc:
        if exc.errno in _FULL:
            raise _full(out_dir, exc) from exc
        raise RenderError(f"-o {out_dir}: writing the episode failed ({_reason(exc)}); nothing was changed") from exc


def place(staged: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    """Move the finished files from staging into OUT, after making sure every rename can succeed."""
    outputs = {name: out_dir / path.name for name, path in staged.items()}
    for dest in outputs.values():
        if dest.is_dir():  # found now, before the first rename, so OUT is never left half old, half new
            raise ConfigError(f"-o {out_dir}: {dest.name} is a folder there; move it away or choose another -o")
    for name, path in staged.items():
        os.replace(path, outputs[name])
    return outputs


def _full(out_dir: Path, exc: OSError) -> RenderError:
    return RenderError(
        f"-o {out_dir}: no room to write the episode ({_reason(exc)}); free some space and render again. "
        "Nothing was written: the files already in the folder are as they were"
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__


def staging_folder(out_dir: Path) -> Path:
    """A new staging folder in OUT for this render's files, after removing those that killed renders left."""
    _remove_dead_staging(out_dir)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out_dir))


def _remove_dead_staging(out_dir: Path) -> None:
    """Remove staging folders that killed renders left in OUT; a live render's (another process) stays."""
    import psutil

    for folder in out_dir.glob(f"{STAGING_PREFIX}*-*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    # The writability probe (_outdir) lives for microseconds; one a minute old was left by a killed render.
    for probe in out_dir.glob(f"{STAGING_PREFIX}probe-*"):
        with contextlib.suppress(OSError):
            if probe.is_file() and time.time() - probe.stat().st_mtime > 60:
                probe.unlink()
