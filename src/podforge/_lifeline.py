"""Worker processes end with the render that started them.

A render that stops (an error, a cancel, Ctrl-C) shuts its pools down. One killed outright (``kill -9``, the
out-of-memory killer) cannot, and its pool workers never notice: a worker blocked on its task queue holds that
queue's write end itself, so it waits forever, with its imports and buffers (150-250 MB each, measured after a
killed render). Every worker podforge starts therefore calls ``hold`` first: a thread ends the worker once the
process that started the pool is gone.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_SECONDS = 1.0


def hold(render: int) -> None:
    """In a worker: end this process, without cleanup, soon after process ``render`` has ended (or is a zombie)."""
    import psutil

    try:
        parent = psutil.Process(render)
    except psutil.Error:
        os._exit(1)  # already gone: nobody will ask for this worker's results

    def watch() -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            try:
                alive = parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                os._exit(1)

    threading.Thread(target=watch, name="podforge-lifeline", daemon=True).start()
