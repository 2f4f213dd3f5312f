"""Handing freed heap memory back to the system (glibc's ``malloc_trim``) in a render's long-lived processes.

Drawing an episode's chunks allocates and frees large buffers over and over (each chunk's audio slice, pickled on
its way to a worker, its frames and their encoding). glibc keeps what is freed in its arenas, one per thread that
allocated, so a process's resident size climbs over a long episode though little of it is live. Dask's workers
trim for the same reason. Elsewhere (macOS, musl) there is nothing to call and this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def trim() -> None:
    """Return the free pages of every malloc arena to the system (a few milliseconds)."""
    release = _malloc_trim()
    if release is not None:
        release(0)
