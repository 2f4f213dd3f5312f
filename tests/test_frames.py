"""The episode frame generator: frame counts, layouts at every size, highlight, shots, cards, media errors, memory."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import cpu_time, rss_growth, tone_features
from podforge.config import VideoConfig
from podforge.errors import MediaError
from podforge.script.speech_text import to_speech
from podforge.timeline import ChapterSegment, Segment, SpeakerInfo, SpeechSegment, Timeline, WordTiming
from podforge.visuals.frames import FramePlan, FrameRenderer, plan_frames, render_frames
from podforge.visuals.layouts import MIN_SHOT_SECONDS, cut_list, frame_samples, shot_track
from podforge.visuals.visualizers import AudioFeatures

RATE = 48_000
LAYOUTS = ("solo", "duo", "active-speaker", "audiogram")
SIZES = ("1280x720", "1920x1080", "1080x1920", "1080x1080")
COLORS = {"ALEX": "#e4572e", "SAM": "#3b82f6"}


def episode(
    lines: list[tuple[str, float, float]],
    duration: float,
    chapters: tuple[tuple[float, str], ...] = ((0.0, "Intro"),),
    avatars: dict[str, str] | None = None,
    extra: int = 0,
) -> Timeline:
    """A two-host timeline: (speaker, start s, end s) lines with evenly timed words."""
    speakers = {
        label: SpeakerInfo(name, "fake:a", COLORS[label], (avatars or {}).get(label, "illustrated"))
        for label, name in (("ALEX", "Alex Chen"), ("SAM", "Sam Rivera"))
    }
    segments: list[Segment] = [ChapterSegment(round(t * RATE), round(t * RATE), 1, title) for t, title in chapters]
    words: dict[str, tuple[WordTiming, ...]] = {}
    for k, (speaker, start, end) in enumerate(lines):
        text = "It costs $9.99 today and that is a good price for a board like this one"
        spoken = to_speech(text).split()
        step = round((end - start) * RATE / len(spoken))
        words[f"clip{k}"] = tuple(WordTiming(w, j * step, (j + 1) * step - step // 5) for j, w in enumerate(spoken))
        a, b = round(start * RATE), round(end * RATE)
        segments.append(SpeechSegment(a, b, k + 2, speaker, "fake:a", text, " ".join(spoken), f"clip{k}"))
    return Timeline("Tiny Machines", RATE, round(duration * RATE) + extra, speakers, tuple(segments), words=words)


def video(layout: str = "duo", size: str = "256x144", **more: object) -> VideoConfig:
    return VideoConfig.model_validate({"layout": layout, "size": size, **more})


def features(tl: Timeline, fps: int = 25) -> AudioFeatures:
    return tone_features(tl, gate_hz=2, fps=fps)


TWO_LINES = [("ALEX", 3.2, 6.0), ("SAM", 6.4, 9.0)]


@pytest.mark.parametrize(
    ("seconds", "extra", "fps", "expected"), [(2.0, 7, 25, 51), (1.0, 0, 30, 30), (3.0, -1, 25, 75)]
)
def test_frame_count_is_exact(seconds: float, extra: int, fps: int, expected: int) -> None:
    tl = episode([("ALEX", 0.5, 1.0)], seconds, extra=extra)
    plan = plan_frames(tl, video(fps=fps), Path("."))
    assert plan.n_frames == expected == -(-tl.duration * fps // RATE)
    assert sum(1 for _ in render_frames(plan, features(tl, fps))) == expected


@pytest.mark.parametrize(("layout", "size"), list(itertools.product(LAYOUTS, SIZES)))
def test_every_layout_at_every_size_gives_rgb24_frames(layout: str, size: str) -> None:
    tl = episode(TWO_LINES, 10.0)
    plan = plan_frames(tl, video(layout, size), Path("."))
    width, height = (int(v) for v in size.split("x"))
    renderer = FrameRenderer(plan, features(tl))
    for i in (0, 80, 170, 240):  # title card, fading out, ALEX speaking, SAM speaking
        frame = renderer.draw(i)
        assert frame.shape == (height, width, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
    assert frame.std() > 10  # not a blank frame


def test_render_frames_reuses_one_buffer() -> None:
    tl = episode(TWO_LINES, 4.0)
    frames = render_frames(plan_frames(tl, video(), Path(".")), features(tl))
    first = next(frames)
    assert next(frames) is first  # documented: consumers copy or encode before advancing


def ring_mean(frame: np.ndarray, plan: FramePlan, k: int) -> np.ndarray:
    """Mean colour of the strip where speaker k's highlight ring is drawn (edges of the lit box)."""
    x0, y0, x1, y1 = plan.tiles[k].lit_box
    grow = round(0.012 * plan.geometry.unit) + round(0.009 * plan.geometry.unit)
    inner = np.zeros(frame.shape[:2], bool)
    inner[y0 + grow // 2 : y1 - grow // 2, x0 + grow // 2 : x1 - grow // 2] = True
    inner[y0 + grow + 3 : y1 - grow - 3, x0 + grow + 3 : x1 - grow - 3] = False
    return frame[inner].mean(axis=0)


def colour_distance(a: np.ndarray, color: str) -> float:
    return float(np.linalg.norm(a - np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])))


@pytest.mark.parametrize("size", ["640x360", "360x640"])
def test_duo_rings_the_active_speaker(size: str) -> None:
    tl = episode(TWO_LINES, 10.0)
    plan = plan_frames(tl, video("duo", size, visualizer=None, captions=False), Path("."))
    renderer = FrameRenderer(plan, features(tl))
    for i, active, other in ((int(4.5 * 25), "ALEX", "SAM"), (int(7.5 * 25), "SAM", "ALEX")):
        frame = renderer.draw(i).copy()
        a, o = plan.labels.index(active), plan.labels.index(other)
        assert colour_distance(ring_mean(frame, plan, a), COLORS[active]) < colour_distance(
            ring_mean(frame, plan, o), COLORS[other]
        )
        x0, y0, x1, y1 = plan.tiles[a].box
        u0, v0, u1, v1 = plan.tiles[o].box
        assert frame[y0:y1, x0:x1].mean() > frame[v0:v1, u0:u1].mean()  # the others are dimmed


def rapid_lines(count: int, length: float = 0.4, gap: float = 0.1) -> list[tuple[str, float, float]]:
    return [
        ("ALEX" if k % 2 == 0 else "SAM", 1.0 + k * (length + gap), 1.0 + k * (length + gap) + length)
        for k in range(count)
    ]


@pytest.mark.parametrize("length", [0.4, 1.1, 1.4])
def test_active_speaker_never_cuts_shorter_than_the_minimum_shot(length: float) -> None:
    lines = [*rapid_lines(round(12 / (length + 0.1)), length), ("ALEX", 13.5, 16.0), ("SAM", 16.2, 19.0)]
    lines += [("ALEX", 19.1, 19.4), ("SAM", 19.5, 22.0)]
    tl = episode(lines, 23.0)
    shots = cut_list(tl, "ALEX")
    bounds = [start for start, _ in shots] + [tl.duration]
    assert min(np.diff(bounds)) >= MIN_SHOT_SECONDS * RATE
    assert len(shots) >= 2
    samples = frame_samples(tl, 25)
    track = shot_track(tl, list(tl.speakers), samples)
    cuts = np.flatnonzero(np.diff(track)) + 1
    runs = np.diff(np.concatenate([[0], cuts, [len(track)]]))
    assert runs.min() >= MIN_SHOT_SECONDS * 25 - 1
    sam = list(tl.speakers).index("SAM")
    assert track[int(17.0 * 25)] == sam  # a long turn is on screen
    assert track[int(19.3 * 25)] == sam  # a 0.3 s interjection is not


def test_title_card_straps_and_chapter_cards() -> None:
    tl = episode(TWO_LINES, 12.0, chapters=((0.0, "Intro"), (9.5, "Hardware")))
    plan = plan_frames(tl, video("duo", "640x360"), Path("."))
    renderer = FrameRenderer(plan, features(tl))
    assert np.array_equal(renderer.draw(0), plan.title)  # opens on the title card
    assert plan.title_end == int(3.2 * 25)  # at least 3 s, until the first line
    starts = sorted(o.start for o in plan.overlays)
    assert len(starts) == 3  # two straps and one chapter card; none for the chapter under the title
    assert starts[-1] == 238  # the first frame at or after 9.5 s
    chapter = next(o for o in plan.overlays if o.start == 238)
    assert chapter.end - chapter.start == round(2.5 * 25) and chapter.opacity(chapter.start) < 1.0
    assert chapter.opacity(chapter.start + 20) == 1.0


def test_explicit_visualiser_lifts_captions_above_it() -> None:
    tl = episode(TWO_LINES, 10.0)
    low = {"kind": "waveform", "y": 0.8, "height": 0.15}
    plan = plan_frames(tl, video("audiogram", "640x360", visualizer=low), Path("."))
    assert plan.visualizer is not None and plan.visualizer.y == 0.8
    assert plan.caption_bottom <= 0.8 * 360
    default = plan_frames(tl, video("audiogram", "640x360"), Path("."))
    assert default.caption_bottom == round(360 * 0.9)


def test_missing_explicit_portrait_is_a_media_error(tmp_path: Path) -> None:
    tl = episode(TWO_LINES, 10.0, avatars={"SAM": "faces/sam.jpg"})
    with pytest.raises(MediaError, match=r"sam\.jpg"):
        plan_frames(tl, video(), tmp_path)


def test_undecodable_portrait_and_missing_cover_are_media_errors(tmp_path: Path) -> None:
    (tmp_path / "sam.png").write_bytes(b"not an image")
    with pytest.raises(MediaError, match=r"sam\.png"):
        plan_frames(episode(TWO_LINES, 10.0, avatars={"SAM": "sam.png"}), video(), tmp_path)
    with pytest.raises(MediaError, match=r"cover\.jpg"):
        plan_frames(episode(TWO_LINES, 10.0), video("audiogram", cover="art/cover.jpg"), tmp_path)


def test_portrait_files_are_used_and_a_misspelt_photo_path_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "faces").mkdir()
    Image.new("RGB", (64, 64), (0, 255, 0)).save(tmp_path / "faces" / "alex.png")
    misspelt = episode(TWO_LINES, 10.0, avatars={"ALEX": "photo:faces/alex.png", "SAM": "photo:faces/missing.jpg"})
    with pytest.raises(MediaError, match=r"missing\.jpg: portrait file not found"):
        plan_frames(misspelt, video("duo", "640x360"), tmp_path)  # no silent initials card
    tl = episode(TWO_LINES, 10.0, avatars={"ALEX": "photo:faces/alex.png", "SAM": "photo"})
    plan = plan_frames(tl, video("duo", "640x360", visualizer=None, captions=False), tmp_path)
    frame = FrameRenderer(plan, features(tl)).draw(int(4.5 * 25))
    x0, y0, x1, y1 = plan.tiles[plan.labels.index("ALEX")].box
    centre = frame[(y0 + y1) // 2, (x0 + x1) // 2]
    assert centre[1] > 200 and centre[0] < 60  # the green portrait fills ALEX's tile


def test_cover_image_is_drawn_in_audiogram(tmp_path: Path) -> None:
    Image.new("RGB", (100, 100), (250, 0, 250)).save(tmp_path / "cover.png")
    tl = episode(TWO_LINES, 10.0)
    plan = plan_frames(tl, video("audiogram", "640x360", cover="cover.png"), tmp_path)
    frame = FrameRenderer(plan, features(tl)).draw(int(4.5 * 25))
    x0, y0, x1, _ = plan.geometry.tiles[0]
    assert tuple(frame[y0 + 10, (x0 + x1) // 2]) == (250, 0, 250)


def test_memory_stays_flat_over_3000_frames() -> None:
    lines = [("ALEX" if k % 2 else "SAM", 0.5 + 4 * k, 4 * k + 4.2) for k in range(30)]
    tl = episode(lines, 121.0, chapters=tuple((10.0 * k, f"Part {k}") for k in range(12)))
    plan = plan_frames(tl, video("duo", "640x360"), Path("."))
    growth = rss_growth(render_frames(plan, features(tl)), warmup=100, count=3000, shape=(360, 640, 3))
    assert growth < 30 * 2**20


def _plan_bytes(minutes: int) -> tuple[int, int]:
    """(bytes a plan of a ``minutes``-long two-avatar episode holds, its frame count), traced as it is built."""
    import tracemalloc

    lines = [("ALEX" if k % 2 else "SAM", 0.5 + 5 * k, 5 * k + 4.6) for k in range(minutes * 12)]
    tl = episode(lines, minutes * 60.0 + 1, chapters=tuple((60.0 * k, f"Part {k}") for k in range(minutes)))
    tracemalloc.start()
    try:
        plan = plan_frames(tl, video("duo", "640x360"), Path("."))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return held, plan.n_frames


def test_a_plan_holds_a_few_bytes_a_frame_beyond_its_static_layers() -> None:
    """Every chunk worker and the main process hold the episode's plan: what it adds per frame must stay a handful
    of small tracks (who is lit, mouth, caption page and word), never pixels, so an hour costs megabytes."""
    short, long_ = _plan_bytes(2), _plan_bytes(20)
    per_frame = (long_[0] - short[0]) / (long_[1] - short[1])
    assert per_frame < 120, f"{per_frame:.0f} bytes a frame"


@pytest.mark.slow
def test_duo_720p_renders_at_least_120_frames_a_second() -> None:
    lines = [("ALEX" if k % 2 else "SAM", 0.5 + 4 * k, 4 * k + 4.2) for k in range(15)]
    tl = episode(lines, 61.0)
    plan = plan_frames(tl, video("duo", "1280x720"), Path("."))
    count, seconds = cpu_time(render_frames(plan, features(tl)))
    assert count / seconds >= 120
