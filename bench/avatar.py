"""Avatar speed: frames per second per avatar kind at 512x512, and inside a 720p duo layout.

The 512x512 figures time `render(pose)` alone on varied poses (one core); the duo figures time the
whole frame generator (tiles, avatars, captions, visualiser) for a two-host timeline, without encoding.
    .venv/bin/python bench/avatar.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from contact_sheet import speechlike, timeline
from video import portrait

from podforge.config import VideoConfig
from podforge.visuals.avatars.illustrated import AvatarPose, AvatarStyle, IllustratedAvatar
from podforge.visuals.frames import plan_frames, render_frames
from podforge.visuals.visualizers import AudioFeatures

SHAPES = "ABCDEFGHX"
POSES = [
    AvatarPose(mouth=SHAPES[i % 9], openness=(i % 7) / 6, blink=1.0 if i % 40 == 0 else 0.0, head_dx=np.sin(i / 9) * 4)
    for i in range(300)
]


def per_second(render, poses) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for pose in poses:
        render(pose)
    return len(poses) / (time.perf_counter() - started)


def duo_fps(avatars: tuple[str, str], base: Path) -> float:
    tl = timeline()
    speakers = {
        label: replace(info, avatar=avatar) for (label, info), avatar in zip(tl.speakers.items(), avatars, strict=True)
    }
    tl = replace(tl, speakers=speakers)
    audio = speechlike(tl.duration)
    plan = plan_frames(tl, VideoConfig(size="1280x720", layout="duo"), base)
    features = AudioFeatures(audio, tl.sample_rate, 25)
    started, count = time.perf_counter(), 0
    for _ in render_frames(plan, features):
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    from podforge.visuals.avatars.photo import PhotoAvatar, PhotoPose

    with tempfile.TemporaryDirectory() as tmp:
        face = portrait(Path(tmp))
        illustrated = IllustratedAvatar(AvatarStyle(seed=0))
        photo = PhotoAvatar(face, 512)
        photo_poses = [PhotoPose(p.mouth, p.openness, p.blink, p.head_dx) for p in POSES]
        print(f"illustrated 512x512: {per_second(illustrated.render, POSES):.0f} frames/s (one core)")
        print(f"photo 512x512:       {per_second(photo.render, photo_poses):.0f} frames/s (one core)")
        for pair in (("illustrated", "illustrated"), ("illustrated", f"photo:{face.name}"), ("", "")):
            label = " + ".join(kind.split(":")[0] or "initials" for kind in pair)
            print(f"720p duo frame generator, {label}: {duo_fps(pair, Path(tmp)):.0f} frames/s")


if __name__ == "__main__":
    main()
