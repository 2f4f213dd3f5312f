"""Video render speed and memory: a generated two-host script at 1280x720 25 fps, 2 and 10 minutes.

For each length: the full `podforge render` wall time (cold cache, separate process), the video
stage alone, the "floor" (encoding the same number of ready-made 720p frames with the same
encoder, see encode_floor.py), their ratios, the realtime factor and peak RSS. Memory should not
grow with length: compare the 2- and 10-minute peak RSS.
    .venv/bin/python bench/video.py [--minutes 2 10] [--avatars]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import long_script, render
from encode_floor import bare_encode_seconds


def bench(minutes: float, work: Path, avatars: bool) -> dict[str, float]:
    script = work / f"long{minutes:g}.md"
    pair = ("illustrated", f"photo:{portrait(work).name}") if avatars else ("", "")
    script.write_text(long_script(minutes, pair), encoding="utf-8")
    out = work / f"out{minutes:g}"
    run = render(script, out, work / f"cache{minutes:g}", audio_only=False)
    metrics = json.loads((out / f"{script.stem}.metrics.json").read_text())
    video = next(s for s in metrics["stages"] if s["name"] == "video")
    floor = bare_encode_seconds(1280, 720, 25, int(video["frames"]), video["encoder"])
    return {**run, "video": video["wall_seconds"], "floor": floor, "frames": video["frames"]}


def portrait(folder: Path) -> Path:
    """A public-domain portrait (scikit-image's astronaut) for the photo avatar."""
    from PIL import Image
    from skimage import data

    path = folder / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--avatars", action="store_true", help="an illustrated and a photo avatar instead of cards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            r = bench(minutes, Path(tmp), args.avatars)
            factor, encode_ratio, stage_ratio = r["wall"] / r["audio"], r["wall"] / r["floor"], r["video"] / r["floor"]
            kind = "illustrated + photo avatars" if args.avatars else "initials cards"
            print(f"{minutes:g}-minute two-host script, 720p25, {kind}: {r['audio']:.0f} s of audio")
            print(f"  full render {r['wall']:.1f} s, realtime factor {factor:.3f}, peak RSS {r['rss']:.0f} MB")
            frames = f"{r['frames']:.0f} frames"
            print(f"  video stage {r['video']:.1f} s for {frames}; bare encode of as many {r['floor']:.1f} s")
            print(f"  full render / bare encode {encode_ratio:.2f}; video stage / bare encode {stage_ratio:.2f}")


if __name__ == "__main__":
    main()
