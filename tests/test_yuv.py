"""Frames converted to YUV only where they changed: the same planes, and the same bitstream, as whole conversions."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podforge._yuv import Drawn, YuvFrames, _view, convert
from podforge.bitstream import encode_chunk
from podforge.chunks import local_executor
from podforge.encode import VideoSettings, encode_frames, select_encoder
from podforge.visuals.frames import FrameRenderer, drawn_frames, plan_frames, render_frames
from test_frames import episode, features, video

LINES = [("ALEX", 3.2, 5.0), ("SAM", 5.3, 7.1), ("ALEX", 7.4, 9.0)]
CHAPTERS = ((0.0, "Intro"), (6.0, "Second part"))


def renderer(layout: str, size: str = "320x180", kind: str = "spectrum") -> FrameRenderer:
    """Every kind of layer: title card and its fade, lit tiles, avatars, visualiser, captions, straps, chapters."""
    tl = episode(LINES, 10.0, chapters=CHAPTERS)
    cfg = video(layout, size, visualizer={"kind": kind}, captions=True)
    return FrameRenderer(plan_frames(tl, cfg, Path(".")), features(tl))


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    return [_view(p) for p in frame.planes]


@pytest.mark.parametrize(
    ("layout", "kind"),
    [("duo", "spectrum"), ("solo", "waveform"), ("active-speaker", "circular"), ("audiogram", "particles")],
)
def test_pixels_outside_the_changed_boxes_are_the_frame_before(layout: str, kind: str) -> None:
    draw = renderer(layout, kind=kind)
    before, shares = draw.draw(0).copy(), []
    assert draw.changed is None  # the first frame: nothing before it
    for i in range(1, draw.plan.n_frames):
        frame = draw.draw(i)
        if draw.changed is not None:
            same = np.ones(frame.shape[:2], bool)
            for x0, y0, x1, y1 in draw.changed:
                same[y0:y1, x0:x1] = False
            assert np.array_equal(frame[same], before[same]), f"frame {i} changed outside {draw.changed}"
            shares.append(1 - same.mean())
        before = frame.copy()
    # The title card's fade and a shot change redraw everything; the rest of the frames change in part only.
    assert len(shares) > 0.8 * draw.plan.n_frames
    assert np.mean(shares) < 0.75


@pytest.mark.parametrize(("layout", "size"), [("duo", "320x180"), ("active-speaker", "642x362"), ("solo", "480x854")])
def test_converted_boxes_equal_a_whole_conversion(layout: str, size: str) -> None:
    draw, kept, reformatter = renderer(layout, size), None, av.video.reformatter.VideoReformatter()
    kept = YuvFrames(draw.plan.width, draw.plan.height)
    for i in range(draw.plan.n_frames):
        frame = draw.draw(i)
        ours, whole = planes(kept.convert(Drawn(frame, draw.changed))), planes(convert(reformatter, frame))
        for name, a, b in zip("YUV", ours, whole, strict=True):
            assert np.array_equal(a, b), f"frame {i}, plane {name}"


box_edges = st.tuples(st.integers(0, 96), st.integers(0, 96), st.integers(1, 60), st.integers(1, 60))


@settings(max_examples=60, deadline=None)
@given(boxes=st.lists(box_edges, min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_any_boxes_of_noise_convert_exactly(boxes: list[tuple[int, int, int, int]], seed: int) -> None:
    """Noise is the worst case for chroma filtering; boxes at odd positions, at the edges and past them."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    kept = YuvFrames(128, 96)
    kept.convert(Drawn(first))
    second, changed = first.copy(), []
    for x, y, w, h in boxes:
        second[y : y + h, x : x + w] = rng.integers(0, 256, second[y : y + h, x : x + w].shape, dtype=np.uint8)
        changed.append((x, y, x + w, y + h))
    ours = planes(kept.convert(Drawn(second, tuple(changed))))
    whole = planes(convert(av.video.reformatter.VideoReformatter(), second))
    assert all(np.array_equal(a, b) for a, b in zip(ours, whole, strict=True))


def test_chunk_bitstream_is_the_one_whole_frames_give(tmp_path: Path) -> None:
    tl = episode(LINES, 10.0, chapters=CHAPTERS)
    plan = plan_frames(tl, video("duo", "320x180", visualizer={"kind": "waveform"}), Path("."))
    settings = VideoSettings(320, 180, encoder=select_encoder("libx264"))
    count = 120  # the title's fade, a line and a turn to the other speaker
    encode_chunk(tmp_path / "whole.mp4", settings, itertools.islice(render_frames(plan, features(tl)), count))
    encode_chunk(tmp_path / "boxes.mp4", settings, itertools.islice(drawn_frames(plan, features(tl)), count))
    digests = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("whole.mp4", "boxes.mp4")]
    assert digests[0] == digests[1]
    with av.open(str(tmp_path / "boxes.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == count


def test_writer_takes_drawn_frames(tmp_path: Path) -> None:
    tl = episode(LINES, 2.0, chapters=CHAPTERS)
    plan = plan_frames(tl, video("duo", "320x180"), Path("."))
    settings = VideoSettings(320, 180, encoder=select_encoder("libx264"))
    audio = np.zeros((2 * 48_000, 2), np.float32)
    encode_frames(tmp_path / "whole.mp4", settings, render_frames(plan, features(tl)), audio)
    encode_frames(tmp_path / "boxes.mp4", settings, drawn_frames(plan, features(tl)), audio)
    decoded = []
    for name in ("whole.mp4", "boxes.mp4"):
        with av.open(str(tmp_path / name)) as container:
            decoded.append([hashlib.sha256(f.to_ndarray()).hexdigest() for f in container.decode(video=0)])
    assert decoded[0] == decoded[1] and len(decoded[0]) == 50


def x264_threads(path: Path) -> int:
    """The thread count x264 wrote into the options string it puts in the stream's first frame."""
    with av.open(str(path)) as container:
        first = bytes(next(iter(container.demux(video=0))))
    return int(first.split(b" threads=")[1].split(b" ")[0])


def encode_gray(path: Path) -> int:
    settings = VideoSettings(640, 360, encoder=select_encoder("libx264"))  # tall enough for x264's frame threads
    encode_chunk(path, settings, [np.full((360, 640, 3), 128, np.uint8)] * 3)
    return x264_threads(path)


def test_pool_workers_share_the_cores(tmp_path: Path) -> None:
    """Chunk workers each encode with their share of the cores; a render in one process leaves x264 to choose."""
    cores = os.cpu_count() or 1
    paths = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    with local_executor(2, 2) as pool:
        threads = list(pool.map(encode_gray, paths))
    assert threads == [max(1, cores // 2)] * 2
    if cores > 1:  # in the test's own process x264 chooses, and takes more than a worker's share
        assert encode_gray(tmp_path / "inline.mp4") > threads[0]
