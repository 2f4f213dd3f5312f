"""The render queue: jobs in SQLite inside the workspace, run one at a time by one worker process.

The web server only inserts jobs and reads them back; the worker claims the oldest queued job,
calls `pipeline.render` with a progress callback that writes the stage and its progress to the
row, and stores the outputs, the metrics or the error lines a terminal would show. Cancelling sets
a flag the callback sees at the next progress event. When the studio starts, a job left `running`
by a server that died is marked failed with that reason, so no page waits on it forever, and the
worker goes on with the queue.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chunkpool import WarmPool
from ..errors import error_lines

TERMINAL = ("done", "failed", "cancelled")
PREVIEW_SIZE = "640x360"
WORKER_NICENESS = 10
INTERRUPTED = "error: the studio stopped while this job was running{at}; nothing was written. Render it again"
# Share of a render's wall time each stage takes on the demo (measured), for the time-left estimate.
VIDEO_WEIGHTS = {"voices": 0.2, "align": 0.1, "audio": 0.1, "video": 0.6}
AUDIO_WEIGHTS = {"voices": 0.7, "audio": 0.3}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    episode TEXT NOT NULL,
    options TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT 'null',
    error TEXT NOT NULL DEFAULT '',
    cancel INTEGER NOT NULL DEFAULT 0,
    worker INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    updated REAL NOT NULL
)"""


class JobCancelled(Exception):
    """Raised from the progress callback to stop a render someone cancelled (or whose server is gone)."""


@dataclass(frozen=True)
class JobOptions:
    audio_only: bool = False
    size: str | None = None
    layout: str | None = None
    preview_start: float | None = None  # a quick preview renders only [start, end) seconds of the video
    preview_end: float | None = None

    @property
    def preview(self) -> tuple[float, float] | None:
        if self.preview_start is None or self.preview_end is None or self.audio_only:
            return None
        return (self.preview_start, self.preview_end)

    def video_flags(self) -> dict[str, object]:
        size = self.size or (PREVIEW_SIZE if self.preview else None)
        flags = {"size": size, "layout": self.layout}
        return {key: value for key, value in flags.items() if value}


class JobStore:
    """One SQLite file; every call opens its own connection, so threads and processes can share it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def _run(self, sql: str, *args: Any) -> int:
        with closing(self._connect()) as db, db:
            return db.execute(sql, args).rowcount

    def create(self, episode: str, options: JobOptions) -> int:
        now = time.time()
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO jobs (episode, options, state, created, updated) VALUES (?, ?, 'queued', ?, ?)",
                (episode, json.dumps(options.__dict__), now, now),
            )
            return int(cursor.lastrowid or 0)

    def get(self, job_id: int) -> dict[str, Any] | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _public(row) if row else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_public(row) for row in rows]

    def cancel(self, job_id: int) -> None:
        """A queued job is cancelled at once; a running one when the render next reports progress."""
        now = time.time()
        self._run("UPDATE jobs SET state='cancelled', finished=?, updated=? WHERE id=? AND state='queued'",
                  now, now, job_id)  # fmt: skip
        self._run("UPDATE jobs SET cancel=1, updated=? WHERE id=? AND state='running'", now, job_id)

    def recover(self) -> int:
        """Fail the jobs a previous server left running; returns how many."""
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT id, stage FROM jobs WHERE state='running'").fetchall()
            now = time.time()
            for row in rows:
                at = f" (at stage {row['stage']})" if row["stage"] else ""
                db.execute("UPDATE jobs SET state='failed', error=?, finished=?, updated=? WHERE id=?",
                           (INTERRUPTED.format(at=at), now, now, row["id"]))  # fmt: skip
        return len(rows)

    def claim(self, worker: int) -> dict[str, Any] | None:
        with closing(self._connect()) as db, db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT id FROM jobs WHERE state='queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            now = time.time()
            db.execute("UPDATE jobs SET state='running', worker=?, started=?, updated=? WHERE id=?",
                       (worker, now, now, row["id"]))  # fmt: skip
        return self.get(int(row["id"]))

    def progress(self, job_id: int, worker: int, stage: str, done: int, total: int) -> bool:
        """Record progress; False when the job was cancelled (or taken from this worker)."""
        with closing(self._connect()) as db, db:
            row = db.execute("SELECT progress, cancel FROM jobs WHERE id=? AND state='running' AND worker=?",
                             (job_id, worker)).fetchone()  # fmt: skip
            if row is None or row["cancel"]:
                return False
            progress = json.loads(row["progress"])
            progress[stage] = [done, total]
            db.execute("UPDATE jobs SET stage=?, progress=?, updated=? WHERE id=?",
                       (stage, json.dumps(progress), time.time(), job_id))  # fmt: skip
        return True

    def finish(self, job_id: int, worker: int, state: str, **fields: Any) -> None:
        now = time.time()
        values = {key: json.dumps(value) if key in ("outputs", "metrics") else value for key, value in fields.items()}
        sets = "".join(f", {key}=?" for key in values)
        self._run(f"UPDATE jobs SET state=?, finished=?, updated=?{sets} WHERE id=? AND worker=? AND state='running'",
                  state, now, now, *values.values(), job_id, worker)  # fmt: skip


def _public(row: sqlite3.Row) -> dict[str, Any]:
    job = {key: row[key] for key in row.keys() if key not in ("worker", "cancel")}  # noqa: SIM118
    for key in ("options", "progress", "outputs", "metrics"):
        job[key] = json.loads(job[key])
    job["cancelling"] = bool(row["cancel"]) and row["state"] == "running"
    job["fraction"], job["eta_seconds"] = estimate(job)
    return job


def estimate(job: dict[str, Any]) -> tuple[float, float | None]:
    """(share of the work done, seconds left or None) from the per-stage progress so far."""
    if job["state"] == "done":
        return 1.0, 0.0
    weights = AUDIO_WEIGHTS if job["options"].get("audio_only") else VIDEO_WEIGHTS
    fraction = sum(weight * _share(job["progress"].get(stage)) for stage, weight in weights.items())
    if job["state"] != "running" or not job["started"] or fraction < 0.03:
        return fraction, None
    elapsed = time.time() - job["started"]
    return fraction, round(elapsed * (1 - fraction) / fraction, 1)


def _share(pair: list[int] | None) -> float:
    return 0.0 if not pair or pair[1] <= 0 else min(pair[0] / pair[1], 1.0)


def run_job(store: JobStore, job: dict[str, Any], root: Path, parent: int, pool: WarmPool | None = None) -> None:
    """Render one claimed job and record how it ended; its video chunks are drawn by ``pool`` when given."""
    from ..pipeline import ProgressEvent, RenderOptions, render
    from .workspace import Workspace

    worker, ws = os.getpid(), Workspace(root)
    options = JobOptions(**job["options"])
    last = [0.0]

    def on_progress(event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.done < event.total and now - last[0] < 0.2:
            return
        last[0] = now
        if _server_gone(parent) or not store.progress(job["id"], worker, event.stage, event.done, event.total):
            raise JobCancelled

    try:
        path = ws.episode(job["episode"])
        out_dir = ws.out_dir(job["episode"]) / ("preview" if options.preview else "")
        config = ws.config()
        warm = pool.resize(config.workers).start() if pool is not None and not options.audio_only else None
        render_options = RenderOptions(out_dir=out_dir, audio_only=options.audio_only, config=config,
                                       video_flags=options.video_flags(), preview=options.preview,
                                       chunk_pool=warm)  # fmt: skip
        result = render(path, render_options, on_progress)
    except JobCancelled:
        if _server_gone(parent):
            at = f" (at stage {store.get(job['id'])['stage']})"  # type: ignore[index]
            store.finish(job["id"], worker, "failed", error=INTERRUPTED.format(at=at))
        else:
            store.finish(job["id"], worker, "cancelled", error="cancelled; nothing was written")
    except Exception as exc:
        store.finish(job["id"], worker, "failed", error="\n".join(error_lines(exc)))
    else:
        outputs = {name: ws.url(path) for name, path in result.outputs.items()}
        store.finish(job["id"], worker, "done", outputs=outputs, metrics=result.metrics)


_STOPPING = {"flag": False}


def _server_gone(parent: int) -> bool:
    """The server stopped (SIGTERM from its shutdown) or died (this process was handed to another parent)."""
    return _STOPPING["flag"] or os.getppid() != parent


def _stop(signum: int, frame: object) -> None:
    _STOPPING["flag"] = True


def worker_main(root: str, db_path: str, parent: int) -> None:
    """The worker process: run queued jobs one at a time until the server that started it is gone.

    Ctrl+C in the terminal reaches the whole process group: the worker leaves it to the server, which
    stops the worker with SIGTERM; a render then ends at its next progress report, marked failed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    # Renders yield the CPU to the server (and its synthesis pool inherits this): checks and previews stay quick.
    if hasattr(os, "nice"):  # POSIX only
        os.nice(WORKER_NICENESS)
    store = JobStore(Path(db_path))
    # One chunk pool for the worker's lifetime, started by the first video job: a re-render after a new take
    # then draws its chunk or two in workers that are already running and have already imported everything.
    with WarmPool() as pool:
        while not _server_gone(parent):
            job = store.claim(os.getpid())
            if job is None:
                time.sleep(0.3)
                continue
            run_job(store, job, Path(root), parent, pool)


def start_worker(root: Path, db_path: Path) -> subprocess.Popen[bytes]:
    """The worker as its own Python process (`python -m podforge.studio.jobs`): no shell, fixed arguments."""
    command = [sys.executable, "-m", "podforge.studio.jobs", str(root), str(db_path), str(os.getpid())]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    worker_main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
