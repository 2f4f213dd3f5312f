"""Where an audio-only render's memory goes: per-process RSS (and PSS) of the render's tree over time.

Renders a generated two-host script (``audio.long_script``, as run_all does) in a `podforge render` process and
samples every process of its tree every 0.1 s. Prints the tree's peak RSS sum (the figure run_all reports), the
peak PSS sum (shared pages counted once), each process's own peak with what it is, the tree's composition at
the moment of the peak, and the per-stage peaks from metrics.json.
    .venv/bin/python bench/memory.py [--minutes 30 60] [--src src] [--timeline] [--keep-voices DIR]

``--keep-voices DIR`` keeps the cache in DIR between runs but empties all of it except the voiced clips before
each render: after the first run, the mix, master, MP3 and listening check run cold without minutes of synthesis
(the voices stage's own peak is then not measured).
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
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import long_script

ROOT = Path(__file__).resolve().parent.parent
MB = 2**20


@dataclass
class Sample:
    at: float
    rss: dict[int, int]
    pss: dict[int, int]


@dataclass
class Watch:
    names: dict[int, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def _name(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "render"
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "?"
    for marker in ("forkserver", "resource_tracker", "spawn_main", "fork"):
        if marker in cmd:
            return f"{marker}({proc.ppid()})"
    return cmd[-60:]


def sample(root: psutil.Process, watch: Watch, started: float, pss: bool) -> None:
    rss, shared = {}, {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            if pss:
                full = proc.memory_full_info()
                rss[proc.pid], shared[proc.pid] = full.rss, full.pss
            else:
                rss[proc.pid] = proc.memory_info().rss
            watch.names.setdefault(proc.pid, _name(proc, root.pid))
        except psutil.Error:
            continue
    watch.samples.append(Sample(time.perf_counter() - started, rss, shared))


def render(script: Path, out: Path, cache: Path, src: Path, pss: bool) -> tuple[Watch, dict[str, object], float]:
    env = {**os.environ, "PODFORGE_CACHE_DIR": str(cache), "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out), "--audio-only"]
    started, watch = time.perf_counter(), Watch()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        sample(root, watch, started, pss)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"render failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return watch, json.loads((out / f"{script.stem}.metrics.json").read_text()), wall


def report(minutes: float, watch: Watch, metrics: dict[str, object], wall: float, timeline: bool) -> None:
    peak = max(watch.samples, key=lambda s: sum(s.rss.values()))
    pss_peak = max((sum(s.pss.values()) for s in watch.samples), default=0)
    print(f"== {minutes:g} min: wall {wall:.0f} s, peak tree RSS {sum(peak.rss.values()) / MB:.0f} MB "
          f"at {peak.at:.0f} s, peak tree PSS {pss_peak / MB:.0f} MB")  # fmt: skip
    stages = metrics["stages"]
    assert isinstance(stages, list)
    print("   stages: " + ", ".join(f"{s['name']} {s['peak_rss_mb']:.0f} MB/{s['wall_seconds']:.0f} s" for s in stages))
    print("   at the peak: " + ", ".join(f"{watch.names[p]} {r / MB:.0f}" for p, r in sorted(peak.rss.items())))
    own: dict[int, tuple[int, float, float]] = {}
    for s in watch.samples:
        for pid, rss in s.rss.items():
            first = own.get(pid, (0, s.at, s.at))[1]
            own[pid] = (max(rss, own.get(pid, (0, 0.0, 0.0))[0]), first, s.at)
    for pid, (rss, first, last) in sorted(own.items()):
        print(f"   pid {pid} {watch.names[pid]}: peak {rss / MB:.0f} MB, alive {first:.0f}-{last:.0f} s")
    if timeline:
        for s in watch.samples[:: max(1, len(watch.samples) // 60)]:
            parts = " ".join(f"{watch.names[p][:8]}={r / MB:.0f}" for p, r in sorted(s.rss.items()))
            print(f"   t={s.at:6.1f} sum={sum(s.rss.values()) / MB:5.0f} {parts}")


def keep_only_clips(cache: Path) -> None:
    """Everything but the voiced clips out of the cache (``clips`` is CLIP_KIND)."""
    for folder in [*cache.glob("*"), *cache.glob("files/*")]:
        if folder.is_dir() and folder.name not in ("clips", "files"):
            shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the podforge source tree to render with")
    parser.add_argument("--timeline", action="store_true", help="print the tree's RSS over time too")
    parser.add_argument("--no-pss", action="store_true", help="RSS only (PSS reads smaps: slower sampling)")
    parser.add_argument("--keep-voices", type=Path, help="a cache folder whose voiced clips are kept between runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            folder = Path(tmp) / f"audio-{minutes:g}"
            folder.mkdir()
            script = folder / "episode.md"
            script.write_text(long_script(minutes), encoding="utf-8")
            cache = folder / "cache"
            if args.keep_voices:
                cache = args.keep_voices / f"{minutes:g}"
                keep_only_clips(cache)
            watch, metrics, wall = render(script, folder / "out", cache, args.src.resolve(), not args.no_pss)
            report(minutes, watch, metrics, wall, args.timeline)


if __name__ == "__main__":
    main()
