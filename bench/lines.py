"""Line-level production costs on the demo (audio only, each run a `podforge render` process):

- the listening check's share of a cold render (listen stage seconds / render seconds; target <= 15 %),
  and how many demo lines it flags (target 0);
- a re-render after a new take of one line against the cold render (target <= 15 %), and its cache misses.
The check runs in worker processes alongside the audio stage, so its stage seconds are what it adds to the
render (the wait after the audio); `heard_cpu_seconds` is the workers' CPU time. `--minutes 10` runs the generated
two-host episode of bench/audio.py instead of the demo.
    .venv/bin/python bench/lines.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audio import long_script

from podforge.demo import demo_script
from podforge.script.parser import load_script


def render(script: Path, out: Path, env: dict[str, str], *extra: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out), "--audio-only", *extra]
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started, json.loads((out / f"{script.stem}.metrics.json").read_text())


def stage(metrics: dict[str, object], name: str) -> dict[str, float]:
    return next(s for s in metrics["stages"] if s["name"] == name)  # type: ignore[attr-defined,union-attr]


def cpu_seconds(stage: dict[str, float]) -> float:
    """A stage's CPU seconds (the listen stage's, when the check ran inline in the render process)."""
    return stage["cpu_percent"] * stage["wall_seconds"] / 100.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=0.0, help="a generated episode this long, not the demo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, demo_script() as demo:
        work = Path(tmp)
        shutil.copytree(demo.parent, work / "show")  # the takes file goes beside the script
        script = work / "show" / demo.name
        if args.minutes:
            script = work / "show" / "bench.md"
            script.write_text(long_script(args.minutes), encoding="utf-8")
        env = {"PODFORGE_CACHE_DIR": str(work / "cache"), "PATH": str(Path(sys.executable).parent),
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
        _, deaf = render(script, work / "deaf", {**env, "PODFORGE_CACHE_DIR": str(work / "c0")}, "--no-listen")
        cold_wall, cold = render(script, work / "cold", env)
        print(
            f"cold render without the check {deaf['wall_seconds']:.1f} s, with it {cold['wall_seconds']:.1f} s: "
            f"+{100 * (cold['wall_seconds'] / deaf['wall_seconds'] - 1):.1f} %"
        )  # type: ignore[operator]
        listen = stage(cold, "listen")["wall_seconds"]
        print(f"cold render {cold_wall:.1f} s ({cold['wall_seconds']:.1f} s inside) for {cold['audio_seconds']:.0f} s; "
              f"voices stage {stage(cold, 'voices')['wall_seconds']:.1f} s, "
              f"audio stage {stage(cold, 'audio')['wall_seconds']:.1f} s ({stage(deaf, 'audio')['wall_seconds']:.1f} s "
              "without the check)")  # fmt: skip
        heard = stage(cold, "listen")
        # The check's CPU seconds as well: on a shared machine the wall figures swing with everyone else's load.
        # (Not the render's: its worker processes are never reaped by it, so no rusage counts them.)
        check_cpu = heard.get("heard_cpu_seconds", cpu_seconds(heard))
        print(
            f"listening check stage {listen:.2f} s = {100 * listen / cold['wall_seconds']:.1f} % of the render; "
            f"its CPU {check_cpu:.1f} s; {len(cold['lines_flagged'])} lines flagged: {cold['lines_flagged']}"
        )  # type: ignore[arg-type]
        line = load_script(script).lines[3].at.line
        subprocess.run([sys.executable, "-m", "podforge.cli", "takes", str(script), str(line), "--new"],
                       check=True, env=env, capture_output=True)  # fmt: skip
        take_wall, take = render(script, work / "take", env)
        voices = stage(take, "voices")
        print(
            f"new take of line {line}: re-render {take_wall:.1f} s = {100 * take_wall / cold_wall:.1f} % of cold "
            f"(process) / {100 * take['wall_seconds'] / cold['wall_seconds']:.1f} % (inside); "
            f"voices cache misses {voices['cache_misses']}, hits {voices['cache_hits']}"
        )  # type: ignore[operator]


if __name__ == "__main__":
    main()
