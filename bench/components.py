"""Component speeds that used to be asserted in tests (timings fail on a loaded machine and prove nothing).

A ten-minute procedural bed, the visualiser features of a ten-minute episode, and one draw of each
visualiser kind into a 720p frame; each printed as seconds and as a ratio to real time or to the frame budget
(40 ms a frame at 25 fps). Avatar speeds are in bench/avatar.py, whole renders in bench/run_all.py.
    .venv/bin/python bench/components.py
"""

from __future__ import annotations

import time

import numpy as np

from podforge.music.procedural import render_bed
from podforge.visuals.visualizers import KINDS, AudioFeatures, Visualizer, VisualizerStyle

RATE, FPS, SECONDS = 48_000, 25, 600


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    render_bed("calm", 0.1)  # imports and first-call set-up are not what is being timed
    bed = timed(render_bed, "ambient evolving pad", float(SECONDS))
    print(f"procedural bed, {SECONDS} s: {bed:.2f} s ({bed / SECONDS:.4f} x real time)")
    rng = np.random.default_rng(0)
    mono = np.tile(rng.standard_normal(10 * RATE).astype(np.float32) * 0.1, SECONDS // 10)
    audio = np.broadcast_to(mono[:, None], (len(mono), 2))
    feats = timed(AudioFeatures, audio, RATE, FPS)
    print(f"visualiser features, {SECONDS} s at {FPS} fps: {feats:.2f} s ({feats / SECONDS:.4f} x real time)")
    features = AudioFeatures(audio[: 20 * RATE], RATE, FPS)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    for kind in KINDS:
        vis = Visualizer(VisualizerStyle(kind=kind, x=0.0, y=0.7, width=1.0, height=0.28), (1280, 720), features)
        for i in range(5):
            vis.draw(frame, i)  # warm-up
        start = time.perf_counter()
        for i in range(100):
            vis.draw(frame, i)
        ms = (time.perf_counter() - start) * 10
        print(f"visualiser {kind}: {ms:.2f} ms per 720p draw ({ms / 40:.1%} of a 25 fps frame budget)")


if __name__ == "__main__":
    main()
