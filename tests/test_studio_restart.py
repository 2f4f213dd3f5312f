"""Kill the studio server mid-render, start it again: the interrupted job is failed with its reason and the
next queued job runs. The server is the real `podforge studio` command in a subprocess."""

from __future__ import annotations

import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import psutil

from studio_support import SHORT, free_port, make_workspace, studio_server, wait_for

LONGER = SHORT + "".join(f"\nSAM: Line number {n}, which keeps the render going for a while.\n" for n in range(3))


def _worker_of(folder: Path, job_id: int) -> int:
    with closing(sqlite3.connect(folder / ".podforge-studio" / "jobs.sqlite")) as db:
        return int(db.execute("SELECT worker FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


def test_killed_server_fails_the_running_job_and_runs_the_next(tmp_path: Path) -> None:
    folder = make_workspace(tmp_path / "ws", {"longer.md": LONGER, "short.md": SHORT})
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    with studio_server(folder, port) as server:
        first = httpx.post(f"{base}/jobs", json={"episode": "longer.md", "size": "640x360"}).json()
        second = httpx.post(f"{base}/jobs", json={"episode": "short.md", "audio_only": True}).json()
        wait_for(lambda: httpx.get(f"{base}/jobs/{first['id']}").json()["progress"], timeout=90)
        worker = _worker_of(folder, first["id"])
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    wait_for(lambda: not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE, 60)
    assert not list((folder / "out").glob("*/.podforge-*"))  # the worker cleaned its staging folder up
    with studio_server(folder, port):
        failed = httpx.get(f"{base}/jobs/{first['id']}").json()
        assert failed["state"] == "failed"
        assert failed["error"].startswith("error: the studio stopped while this job was running (at stage ")
        done = wait_for(lambda: (j := httpx.get(f"{base}/jobs/{second['id']}").json())["state"] == "done" and j, 120)
        assert set(done["outputs"]) >= {"mp3", "metrics"} and (folder / "out" / "short" / "short.mp3").is_file()
        assert not (folder / "out" / "longer" / "longer.mp4").exists()


def test_stopping_the_server_mid_render_fails_the_job_with_its_reason(tmp_path: Path) -> None:
    folder = make_workspace(tmp_path / "ws", {"longer.md": LONGER})
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    with studio_server(folder, port) as server:
        job = httpx.post(f"{base}/jobs", json={"episode": "longer.md", "size": "640x360"}).json()
        wait_for(lambda: httpx.get(f"{base}/jobs/{job['id']}").json()["progress"], timeout=90)
        server.send_signal(signal.SIGINT)  # Ctrl+C
        assert server.wait(30) == 0
    with closing(sqlite3.connect(folder / ".podforge-studio" / "jobs.sqlite")) as db:
        state, error = db.execute("SELECT state, error FROM jobs WHERE id=?", (job["id"],)).fetchone()
    assert state == "failed" and error.startswith("error: the studio stopped while this job was running (at stage ")
    assert not list((folder / "out").glob("*/.podforge-*"))
