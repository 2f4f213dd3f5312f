"""Regenerate the demo's theme (src/podforge/data/demo/theme.mp3) with podforge's own music engine.

No third-party audio: the bed comes from the procedural engine, deterministic for its cue and seed.
    .venv/bin/python scripts/make_demo_theme.py
"""

from __future__ import annotations

from pathlib import Path

from podforge.audio.export import Tags, write_mp3
from podforge.music.procedural import render_bed

RATE = 48_000
DEST = Path(__file__).resolve().parent.parent / "src" / "podforge" / "data" / "demo" / "theme.mp3"


def main() -> None:
    bed = render_bed("upbeat warm intro theme", 12.0, RATE, seed=7)
    write_mp3(DEST, bed, RATE, bitrate=128_000, tags=Tags(title="Tiny Machines theme", artist="podforge"))
    print(f"wrote {DEST} ({DEST.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
