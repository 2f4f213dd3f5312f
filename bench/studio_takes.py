"""Issue 15's studio flow: a cold render, two new takes of one line, the second chosen, the re-render.

    .venv/bin/python bench/studio_takes.py [--size 1280x720] [--audio-only] [--line 3]

Runs the studio in-process (Starlette's TestClient) over a temporary workspace holding a copy of the demo, with
its own job worker process rendering, as a person using the studio would: the cold render job; two new takes of
spoken line ``--line`` (0-based) through the takes API, each played (which voices it into the cache) and heard by
the listening check as the page asks while it plays (which aligns it too); the second new take chosen; the
re-render job. Prints both renders' seconds (the job's wall time inside the worker), the
ratio (target <= 15 %), the re-render's per-stage seconds, its voices and chunk cache hits and misses, and
whether every other line kept its clip (same clip key in the timeline) and only the chosen line changed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STAGES = ("voices", "align", "audio", "listen", "video", "publish")


def run_job(client: Any, body: dict[str, object]) -> dict[str, Any]:
    job = client.post("/api/jobs", json=body).json()
    while (state := client.get(f"/api/jobs/{job['id']}").json())["state"] in ("queued", "running"):
        time.sleep(0.2)
    if state["state"] != "done":
        raise SystemExit(f"render job {state['state']}: {state['error']}")
    return state


def stage(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    return next((s for s in metrics["stages"] if s["name"] == name), {})


def describe(label: str, job: dict[str, Any]) -> float:
    metrics = job["metrics"]
    shares = ", ".join(f"{n} {stage(metrics, n)['wall_seconds']:.2f}" for n in STAGES if stage(metrics, n))
    voices, video = stage(metrics, "voices"), stage(metrics, "video")
    chunks = f"; chunks drawn {video['chunk_cache_misses']} of {video['chunks']}" if "chunks" in video else ""
    print(f"{label}: {metrics['wall_seconds']:.1f} s ({shares}); voices cache misses {voices['cache_misses']}"
          f"{chunks}")  # fmt: skip
    return float(metrics["wall_seconds"])


def clips(client: Any, name: str) -> dict[int, str]:
    timeline = client.get(f"/api/episodes/{name}/timeline").json()
    return {s["line"]: s["clip"] for s in timeline["segments"] if s["kind"] == "speech"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default=None, help="video size (default: the demo's 1280x720)")
    parser.add_argument("--audio-only", action="store_true")
    parser.add_argument("--line", type=int, default=3, help="which spoken line gets the takes (0-based)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PODFORGE_CACHE_DIR"] = str(Path(tmp) / "cache")
        from starlette.testclient import TestClient

        from podforge.script.parser import load_script
        from podforge.studio.app import create_app

        (Path(tmp) / "ws").mkdir()
        with TestClient(create_app(Path(tmp) / "ws", {"testserver"})) as client:
            name = client.post("/api/episodes", json={"template": "demo"}).json()["name"]
            body: dict[str, object] = {"episode": name, "audio_only": args.audio_only}
            if args.size:
                body["size"] = args.size
            cold = describe("cold render", run_job(client, body))
            before = clips(client, name)
            line = load_script(Path(tmp) / "ws" / name).lines[args.line].at.line
            for _ in range(2):
                takes = client.post(f"/api/episodes/{name}/takes/{line}", json={}).json()
                started = time.perf_counter()
                client.get(f"/api/episodes/{name}/takes/{line}/{takes['chosen']}.wav").raise_for_status()
                played = time.perf_counter() - started
                # The page asks what the listening check hears in the take once it plays.
                heard = client.get(f"/api/episodes/{name}/takes/{line}/{takes['chosen']}/check").json()
                print(f"take {takes['chosen']} voiced and played in {played:.2f} s, heard in "
                      f"{time.perf_counter() - started - played:.2f} s more: WER {heard['wer']}")  # fmt: skip
            client.post(f"/api/episodes/{name}/takes/{line}/choose", json={"take": takes["chosen"]}).raise_for_status()
            again = describe("re-render after choosing it", run_job(client, body))
            after = clips(client, name)
            changed = sorted(k for k in before if before[k] != after.get(k))
            print(f"re-render = {100 * again / cold:.1f} % of the cold render (target <= 15 %)")
            print(f"lines whose clip changed: {changed} (expected [{line}]); "
                  f"other lines' clips unchanged: {changed == [line]}")  # fmt: skip


if __name__ == "__main__":
    main()
