"""Audio-only render speed: the demo and a generated 10-minute two-host script, cold and warm cache.

Prints the realtime factor (render seconds / audio seconds) and peak RSS of each run. Each run is
a separate `podforge render` process with its own cache folder, so cold means nothing cached.
    .venv/bin/python bench/audio.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS = ["small models", "battery life", "open formats", "local speech", "music beds", "loudness", "chapters"]
VERBS = ["changes", "shapes", "explains", "limits", "improves", "complicates", "simplifies"]
OBJECTS = ["how we publish", "what listeners hear", "the editing work", "the whole workflow", "our budget"]


def long_script(minutes: float, avatars: tuple[str, str] = ("", "")) -> str:
    """Two hosts, unique lines (so the cache cannot dedupe them), ~150 words a minute."""
    alex, sam = (f', avatar: "{a}"' if a else "" for a in avatars)
    lines = [
        "---",
        "title: Bench",
        "speakers:",
        f'  ALEX: {{voice: "hibari:heart"{alex}}}',
        f'  SAM: {{voice: "piper:joe"{sam}}}',
        "---",
    ]
    words, turn = 0, 0
    while words < minutes * 150:
        if turn % 40 == 0:
            lines += [f"# Part {turn // 40 + 1}", ""]
        subject, verb, obj = SUBJECTS[turn % 7], VERBS[(turn // 7) % 7], OBJECTS[(turn // 49) % 5]
        text = (f"Point {turn + 1}: {subject} {verb} {obj}. I think that matters more than most people expect, "
                f"and it is worth a closer look today.")  # fmt: skip
        lines += [f"{'ALEX' if turn % 2 == 0 else 'SAM'}: {text}", ""]
        words += len(text.split())
        turn += 1
    return "\n".join(lines)


def render(script: Path, out: Path, cache: Path, *, audio_only: bool = True) -> dict[str, float]:
    env = {"PODFORGE_CACHE_DIR": str(cache), "PATH": str(Path(sys.executable).parent)}
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out)]
    started = time.perf_counter()
    subprocess.run(command + (["--audio-only"] if audio_only else []), check=True, env=env, capture_output=True)
    wall = time.perf_counter() - started
    metrics = json.loads((out / f"{script.stem}.metrics.json").read_text())
    return {"wall": wall, "audio": metrics["audio_seconds"], "rss": metrics["peak_rss_mb"]}


def bench(name: str, script: Path, work: Path) -> None:
    cache = work / f"cache-{name}"
    cold = render(script, work / f"out-{name}", cache)
    warm = render(script, work / f"out-{name}", cache)
    print(f"{name}: {cold['audio']:.0f} s of audio")
    for label, run in (("cold", cold), ("warm", warm)):
        factor = run["wall"] / run["audio"]
        print(f"  {label}: {run['wall']:.1f} s, realtime factor {factor:.3f}, peak RSS {run['rss']:.0f} MB")
    print(f"  warm / cold: {warm['wall'] / cold['wall']:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    from podforge.demo import demo_script

    with tempfile.TemporaryDirectory() as tmp, demo_script() as demo:
        work = Path(tmp)
        bench("demo", demo, work)
        script = work / "long.md"
        script.write_text(long_script(args.minutes), encoding="utf-8")
        bench(f"{args.minutes:g}-minute two-host script", script, work)


if __name__ == "__main__":
    main()
