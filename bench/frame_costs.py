"""Where a chunk's CPU goes, per 720p duo frame (illustrated + photo avatars, captions, spectrum): drawing, the
RGB -> YUV conversion (whole frames, and only the boxes that changed, as chunks do) and x264, each timed in CPU
seconds (encoder threads included) over the same frames.

A chunk worker does all three for every frame it owns, so their sum per frame times the frames over the cores is
the video stage's floor; the shares say which one a speed-up must come from.
    .venv/bin/python bench/frame_costs.py [--frames 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from contact_sheet import speechlike, timeline
from video import portrait

from podforge._yuv import Box, Drawn, YuvFrames
from podforge.config import VideoConfig
from podforge.encode import VideoSettings, _add_video, select_encoder
from podforge.visuals.frames import drawn_frames, plan_frames
from podforge.visuals.visualizers import AudioFeatures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        face = portrait(Path(tmp))
        tl = timeline()
        kinds = dict(zip(tl.speakers, ("illustrated", f"photo:{face.name}"), strict=True))
        speakers = {label: replace(info, avatar=kinds[label]) for label, info in tl.speakers.items()}
        tl = replace(tl, speakers=speakers)
        video = VideoConfig(size="1280x720", layout="duo")
        plan = plan_frames(tl, video, Path(tmp))
        frames = drawn_frames(plan, AudioFeatures(speechlike(tl.duration), tl.sample_rate, video.fps))
        started, drawn, changed = time.process_time(), [], []
        for frame in frames:
            drawn.append(frame.pixels.copy())
            changed.append(frame.changed)
            if len(drawn) == args.frames:
                break
        draw = time.process_time() - started - _copy_seconds(drawn)
        boxes = _boxes_seconds(drawn, changed)
        started, reformatter, yuv = time.process_time(), VideoReformatter(), []
        for frame in drawn:
            rgb = av.VideoFrame.from_ndarray(frame, format="rgb24")
            yuv.append(reformatter.reformat(rgb, format="yuv420p", dst_colorspace=Colorspace.ITU709,
                                            dst_color_range=ColorRange.MPEG))  # fmt: skip
        convert = time.process_time() - started
        encode = _x264_seconds(Path(tmp) / "x.mp4", video, yuv)
    total, n = draw + convert + encode, len(drawn)
    parts = ", ".join(f"{name} {1e3 * sec / n:.2f} ({sec / total:.0%})"
                      for name, sec in (("draw", draw), ("RGB->YUV", convert), ("x264", encode)))  # fmt: skip
    print(f"{n} frames, CPU ms a frame: {parts}; total {1e3 * total / n:.2f}")
    print(f"  RGB->YUV of only the boxes that changed (what the chunks do): {1e3 * boxes / n:.2f}")


def _boxes_seconds(frames: list[np.ndarray], changed: list[tuple[Box, ...] | None]) -> float:
    converter = YuvFrames(frames[0].shape[1], frames[0].shape[0])
    started = time.process_time()
    for pixels, boxes in zip(frames, changed, strict=True):
        converter.convert(Drawn(pixels, boxes))
    return time.process_time() - started


def _copy_seconds(frames: list[np.ndarray]) -> float:
    started = time.process_time()
    for frame in frames[:50]:
        frame.copy()
    return (time.process_time() - started) * len(frames) / min(len(frames), 50)


def _x264_seconds(path: Path, video: VideoConfig, frames: list[av.VideoFrame]) -> float:
    width, height = video.dimensions
    settings = VideoSettings(width, height, video.fps, video.crf, video.preset, encoder=select_encoder("libx264"))
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = _add_video(container, settings)
        started = time.process_time()
        for k, frame in enumerate(frames):
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        return time.process_time() - started


if __name__ == "__main__":
    main()
