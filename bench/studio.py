"""Studio latency: a voice preview (cold and warm cache) and check requests while the demo renders.

    .venv/bin/python bench/studio.py

Runs the studio in-process (Starlette's TestClient) over a temporary workspace holding a copy of
the demo, with its worker process rendering the demo at 640x360 with the default voices.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PODFORGE_CACHE_DIR"] = str(Path(tmp) / "cache")
        from starlette.testclient import TestClient

        from podforge.studio.app import create_app

        (Path(tmp) / "ws").mkdir()
        with TestClient(create_app(Path(tmp) / "ws", {"testserver"})) as client:
            name = client.post("/api/episodes", json={"template": "demo"}).json()["name"]
            time.sleep(10)  # a person opens the page before pressing play; the studio warms the voices meanwhile
            for voice in ("hibari:heart", "piper:joe"):
                body = {"voice": voice, "episode": name, "speaker": "SAM"}
                cold = _timed(lambda b=body: client.post("/api/preview", json=b).raise_for_status())
                warm = _timed(lambda b=body: client.post("/api/preview", json=b).raise_for_status())
                print(f"preview {voice}: cold {cold:.2f} s, warm {warm * 1000:.0f} ms")
            job = client.post("/api/jobs", json={"episode": name, "size": "640x360"}).json()
            client.get(f"/api/episodes/{name}/check")
            timings = []
            while client.get(f"/api/jobs/{job['id']}").json()["state"] in ("queued", "running"):
                timings.append(_timed(lambda: client.get(f"/api/episodes/{name}/check").raise_for_status()))
                time.sleep(0.5)
            ended = client.get(f"/api/jobs/{job['id']}").json()
            print(f"render {ended['state']} in {ended['metrics']['wall_seconds']:.1f} s" if ended["metrics"] else ended)
            print(
                f"check during the render: {len(timings)} requests, median {statistics.median(timings) * 1000:.0f} ms, "
                f"p90 {sorted(timings)[int(len(timings) * 0.9)] * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
                f"(requirement: 300 ms)"
            )


if __name__ == "__main__":
    main()
