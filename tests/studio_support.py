"""A small studio workspace for the studio tests: the fake voice engine and a short two-speaker episode."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx

SHORT = """---
title: Short Test
speakers:
  ALEX: {voice: "hibari:heart", color: "#e4572e", avatar: illustrated}  # the host
  SAM:
    voice: "piper:joe"
    color: "#3b82f6"
---
# Hello

ALEX: Welcome to the short test show.

SAM (laughing): Glad to be here, Alex.
"""


def make_workspace(root: Path, episodes: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "podforge.yaml").write_text("tts_engine: fake\n", encoding="utf-8")
    for name, text in (episodes or {"short.md": SHORT}).items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def wait_for(probe: Callable[[], Any], timeout: float = 120.0, every: float = 0.1) -> Any:
    """Poll until `probe()` returns something truthy; fail the test with the last value after `timeout`."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s; last value {value!r}")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def studio_server(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "podforge.cli", "studio", str(folder), "--port", str(port), "--no-browser"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _answers(port) or server.poll() is not None, timeout=60)
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/jobs", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
