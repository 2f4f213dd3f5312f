"""Every render benchmark in one run, written to docs/performance.md (a table nobody edits by hand).

Cases: audio-only, video with initials cards, video with two avatars (illustrated + photo), for generated
two-host scripts of the given lengths; each cold (empty cache), warm (same script again) and after a one-line
edit (two words changed in the middle line). Each render is a separate `podforge render` process; its peak
memory is the sum of the RSS of it and all its children (chunk workers, synthesis lanes), sampled every 0.1 s.
The bare-encode floor is VideoWriter encoding as many ready-made frames (timed on up to 1500 frames, scaled).
    .venv/bin/python bench/run_all.py [--minutes 2 10 60] [--cases audio video avatars] [--runs cold warm edit]
        [--out docs/performance.md] [--label after]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import long_script
from encode_floor import bare_encode_seconds
from video import portrait

ROOT = Path(__file__).resolve().parent.parent
FLOOR_SAMPLE = 1500
CASES = {"audio": "audio only", "video": "video, initials cards", "avatars": "video, illustrated + photo avatars"}


@dataclass
class Run:
    wall: float
    audio: float
    rss_mb: float
    stages: dict[str, float]
    video: dict[str, object] = field(default_factory=dict)
    publish: dict[str, object] = field(default_factory=dict)
    peak: str = ""  # when the tree's peak came, in which stage, and each process's part of it

    def peak_note(self) -> str:
        return f"peak {self.rss_mb:.0f} MB {self.peak}"


def tree_rss(proc: psutil.Process) -> list[int]:
    """The RSS of ``proc`` and of each of its descendants, largest first."""
    sizes = []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.Error:
            continue
    return sorted(sizes, reverse=True)


def stage_at(stages: list[dict[str, object]], seconds: float, wall: float) -> str:
    """The stage running ``seconds`` into the render (stages run one after another and end with the process)."""
    end = wall
    for stage in reversed(stages):
        end -= float(stage["wall_seconds"])  # type: ignore[arg-type]
        if seconds >= end:
            return str(stage["name"])
    return "start-up"


SOURCE = {"src": ROOT / "src"}  # which podforge the renders run: --src compares another checkout (before/after)


def render(script: Path, out: Path, cache: Path, audio_only: bool) -> Run:
    env = {**os.environ, "PODFORGE_CACHE_DIR": str(cache), "PYTHONPATH": str(SOURCE["src"])}
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out)]
    command += ["--audio-only"] if audio_only else []
    started, peak, parts, at = time.perf_counter(), 0, [0], 0.0
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        sizes = tree_rss(watched)
        if sum(sizes) > peak:
            peak, parts, at = sum(sizes), sizes, time.perf_counter() - started
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"render failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    metrics = json.loads((out / f"{script.stem}.metrics.json").read_text())
    stages = {s["name"]: s["wall_seconds"] for s in metrics["stages"]}
    video = next((s for s in metrics["stages"] if s["name"] == "video"), {})
    publish = next((s for s in metrics["stages"] if s["name"] == "publish"), {})
    where = stage_at(metrics["stages"], at, wall)
    note = f"at {at:.0f} s ({where}): processes {' + '.join(f'{size / 2**20:.0f}' for size in parts)} MB"
    return Run(wall, metrics["audio_seconds"], peak / 2**20, stages, video, publish, note)


def edited(text: str) -> str:
    """The script with two words changed in its middle line."""
    lines = text.splitlines()
    spoken = [k for k, line in enumerate(lines) if line.startswith(("ALEX:", "SAM:"))]
    k = spoken[len(spoken) // 2]
    lines[k] = lines[k].replace("closer look", "careful look").replace("more than", "rather more than", 1)
    return "\n".join(lines)


RUNS = ("cold", "warm", "edit")


def case(kind: str, minutes: float, work: Path, runs_wanted: tuple[str, ...] = RUNS) -> dict[str, Run]:
    folder = work / f"{kind}-{minutes:g}"
    folder.mkdir()
    pair = ("illustrated", f"photo:{portrait(folder).name}") if kind == "avatars" else ("", "")
    script = folder / "episode.md"
    text = long_script(minutes, pair)
    script.write_text(text, encoding="utf-8")
    cache, out, audio_only = folder / "cache", folder / "out", kind == "audio"
    runs = {"cold": render(script, out, cache, audio_only)}  # always: the other runs are measured against it
    if "warm" in runs_wanted:
        runs["warm"] = render(script, out, cache, audio_only)
    if "edit" in runs_wanted:
        script.write_text(edited(text), encoding="utf-8")
        runs["edit"] = render(script, out, cache, audio_only)
    return runs


def floor_seconds(frames: int, encoder: str) -> float:
    sample = min(frames, FLOOR_SAMPLE)
    return bare_encode_seconds(1280, 720, 25, sample, encoder) * frames / sample


def row(kind: str, minutes: float, label: str, run: Run, cold: Run, floor: float | None) -> str:
    shares = ", ".join(f"{name} {sec / run.wall:.0%}" for name, sec in run.stages.items() if sec / run.wall >= 0.02)
    chunks = ""
    if run.video.get("chunks"):
        chunks = f"{run.video.get('chunk_cache_misses')}/{run.video.get('chunks')}"
    # Seconds of audio encoded afresh (the rest copied from the previous render's MP3 and AAC)
    encoded = [f"{name} {where[f'{name}_encoded_seconds']:.0f} s" for name, where in (("mp3", run.publish),
               ("aac", run.video)) if f"{name}_encoded_seconds" in where]  # fmt: skip
    chunks += f" (encoded: {', '.join(encoded)})" if encoded and label != "cold" else ""
    ratio = f"{run.wall / floor:.2f}" if floor else "-"
    return (f"| {CASES[kind]} | {minutes:g} | {label} | {run.wall:.1f} | {run.wall / run.audio:.3f} | "
            f"{run.wall / cold.wall:.0%} | {ratio} | {run.rss_mb:.0f} | {chunks} | {shares} |")  # fmt: skip


HEAD = [
    "# Performance",
    "",
    "Written by `bench/run_all.py` from `performance.json`; do not edit by hand. Generated two-host scripts",
    "(hibari + piper voices), 1280x720 25 fps, captions and the spectrum visualiser on. RTF = wall / audio",
    "seconds; *vs encode* = wall / the time VideoWriter takes to encode as many ready-made frames (timed on up to",
    "1500 and scaled); *peak RSS* = the render's whole process tree (chunk workers and synthesis lanes",
    "included), sampled every 0.1 s; *chunks drawn* = chunks drawn and encoded / all chunks (and after an edit the",
    "seconds of MP3 and AAC encoded afresh, the rest copied from the previous render). Each section is one",
    "`run_all.py --label LABEL` run: `before` renders with the code before chunking (`--src` of that commit).",
]


TABLE = "| case | minutes | run | wall s | RTF | vs cold | vs encode | peak RSS MB | chunks drawn | stage shares |"


def write(path: Path, label: str, rows: list[str], note: str) -> None:
    """Store this run's rows under ``label`` in the JSON beside ``path`` and rewrite ``path`` from all of them."""
    store = path.with_suffix(".json")
    sections = json.loads(store.read_text()) if store.exists() else {}
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    when = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    sections[label] = {"rows": rows, "note": f"{os.cpu_count()} cores, load average at the end {load}; {when}. {note}"}
    store.write_text(json.dumps(sections, indent=1) + "\n", encoding="utf-8")
    lines = list(HEAD)
    for name, section in sections.items():
        lines += ["", f"## {name}", "", section["note"].strip(), "", TABLE, "|---" * 10 + "|", *section["rows"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0, 60.0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--label", default="after", help="the section these runs fill (before, after, ...)")
    parser.add_argument("--note", default="", help="a sentence for the section, e.g. what else loaded the machine")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="cold always runs")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the podforge source tree to render with")
    args = parser.parse_args()
    SOURCE["src"] = args.src.resolve()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            for kind in args.cases:
                runs = case(kind, minutes, Path(tmp), tuple(args.runs))
                frames = int(runs["cold"].video.get("frames", 0) or 0)
                encoder = str(runs["cold"].video.get("encoder", "libx264"))
                floor = floor_seconds(frames, encoder) if frames else None
                for name, run in runs.items():
                    rows.append(row(kind, minutes, name, run, runs["cold"], floor))
                    print(rows[-1], f"\n    {name}: {run.peak_note()}", flush=True)
                write(args.out, args.label, rows, args.note)


if __name__ == "__main__":
    main()
