"""The encoding floor: how fast VideoWriter turns ready-made RGB frames into an MP4, nothing else.

The video benchmark compares full renders against this number: whatever a render spends above it
is drawing, not encoding. Frames come from a ring of ~50 pre-generated frames (built before the
timer starts) that look like a rendered episode: a gradient background, moving shapes, waveform
bars and a little grain, so x264 sees motion and detail but not incompressible noise.
    .venv/bin/python bench/encode_floor.py [--size 1280x720] [--fps 25] [--seconds 10] [--encoder auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from podforge.encode import AUDIO_RATE, VideoSettings, VideoWriter, select_encoder

RING = 50


def frame_ring(width: int, height: int, count: int = RING) -> list[npt.NDArray[np.uint8]]:
    """``count`` distinct, deterministic frames that change from one to the next."""
    rng = np.random.default_rng(2024)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([20 + 30 * xs / width, 23 + 20 * ys / height, 31 + 40 * (xs + ys) / (width + height)], axis=-1)
    frames = []
    for i in range(count):
        img = base.copy()
        cx, cy, r = width * (0.3 + 0.4 * i / count), height * 0.45, height * 0.18
        img[(xs - cx) ** 2 + (ys - cy) ** 2 < r * r] = (230, 180, 90)  # a moving "avatar"
        bars = rng.uniform(0.05, 1.0, 64)  # a waveform strip along the bottom
        bar_w = width // 64
        for b, level in enumerate(bars):
            top = int(height * (1 - 0.2 * level))
            img[top:, b * bar_w : (b + 1) * bar_w - 2] = (90, 200, 240)
        img += rng.normal(0, 2.0, img.shape).astype(np.float32)  # grain, as a cover photo would have
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def test_audio(seconds: float) -> npt.NDArray[np.float32]:
    t = np.arange(round(seconds * AUDIO_RATE), dtype=np.float32) / AUDIO_RATE
    rng = np.random.default_rng(7)
    mono = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size).astype(np.float32)
    return np.stack([mono, mono], axis=1).astype(np.float32)


def bare_encode_seconds(width: int, height: int, fps: int, n_frames: int, encoder: str = "auto") -> float:
    """Seconds VideoWriter takes to encode ``n_frames`` RGB frames plus audio of the same length."""
    frames = frame_ring(width, height)
    audio = test_audio(n_frames / fps)
    settings = VideoSettings(width, height, fps, encoder=select_encoder(encoder))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with VideoWriter(Path(tmp) / "floor.mp4", settings, audio) as writer:
            for i in range(writer.frames_needed):
                writer.write(frames[i % len(frames)])
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--encoder", default="auto", choices=["auto", "libx264", "h264_nvenc"])
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    n_frames = round(args.seconds * args.fps)
    choice = select_encoder(args.encoder)
    seconds = bare_encode_seconds(width, height, args.fps, n_frames, choice.name)
    print(f"{choice.name} ({choice.reason})")
    print(f"{width}x{height}@{args.fps}: {n_frames} frames in {seconds:.2f} s = {n_frames / seconds:.1f} fps")


if __name__ == "__main__":
    main()
