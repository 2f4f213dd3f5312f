"""docs/studio.png: the studio over a fresh workspace with a copy of the demo, rendered and playing.

    .venv/bin/python scripts/studio_shot.py [--out docs/studio.png] [--size 1280x720]

Starts `podforge studio` on a free port, drives Debian's chromium (playwright) like a person:
copy the demo episode, render it with the default voices, play it, and take the picture. Takes a
few minutes (a whole render).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--no-first-run"]


def _port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "studio.png")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--at", type=float, default=16.0, help="seconds into the episode for the picture")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        command = [sys.executable, "-m", "podforge.cli", "studio", tmp, "--port", str(port), "--no-browser"]
        # A cache of its own: the metrics in the picture are a real render's, not a cache hit's.
        env = {**os.environ, "PODFORGE_CACHE_DIR": str(Path(tmp) / ".cache")}
        server = subprocess.Popen(command, env=env)
        try:
            time.sleep(3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_test_id("new-demo").click()
                page.get_by_test_id("no-problems").wait_for(timeout=60_000)
                page.get_by_test_id("render-size").select_option(args.size)
                page.get_by_test_id("render-button").click()
                page.locator("[data-testid=job-status][data-state=done]").wait_for(timeout=900_000)
                page.get_by_test_id("transcript-word").first.wait_for()
                play = f"() => {{ const v = document.querySelector('video'); v.currentTime = {args.at}; v.play(); }}"
                page.evaluate(play)
                page.wait_for_function(f"() => document.querySelector('video').currentTime > {args.at + 1.5}")
                page.evaluate("() => document.querySelector('video').pause()")
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(15)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
