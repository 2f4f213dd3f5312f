"""Talking avatars in the episode video: lip sync from the timeline's mouth keys, listeners at rest, smooth turn
changes, the avatar kinds a speaker's ``avatar`` names, and flat memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from media import cpu_time, rss_growth, tone_features
from podforge.config import VideoConfig
from podforge.errors import MediaError
from podforge.timeline import SpeakerInfo, SpeechSegment, Timeline
from podforge.visuals import cards
from podforge.visuals.avatars import track as avatar_track
from podforge.visuals.avatars.pose import MOUTH_SHAPES
from podforge.visuals.frames import FramePlan, FrameRenderer, plan_frames, render_frames
from podforge.visuals.visemes import REST_OPENNESS
from podforge.visuals.visualizers import AudioFeatures

RATE, FPS = 48_000, 25
Frame = npt.NDArray[np.uint8]
# Each line's keys, clip-relative: rest, a wide-open D for a second, a closed A for a second, rest again.
D_SPAN, A_SPAN = (0.8, 1.8), (1.8, 2.8)
LINES = (("ALEX", 3.2, 7.0), ("SAM", 7.4, 11.2))


def s(seconds: float) -> int:
    return round(seconds * RATE)


def keys() -> list[list[Any]]:
    return [[0, s(0.8), "X", 0.02], [s(0.8), s(1.8), "D", 0.9], [s(1.8), s(2.8), "A", 0.0], [s(2.8), s(3.8), "X", 0.02]]


def episode(
    avatars: tuple[str, str] = ("illustrated", "illustrated"), mouths: bool = True, repeat: int = 1
) -> Timeline:
    speakers = {
        "ALEX": SpeakerInfo("Alex Chen", "fake:a", "#e4572e", avatars[0]),
        "SAM": SpeakerInfo("Sam Rivera", "fake:b", "#3b82f6", avatars[1]),
    }
    segments, rows = [], {}
    for n in range(repeat):  # the two lines again every 9 s, for long runs
        for k, (speaker, start, end) in enumerate(LINES):
            clip = f"{speaker}{n}"
            offset = 9.0 * n
            segments.append(SpeechSegment(s(start + offset), s(end + offset), k, speaker, "fake:a", "hi", "hi", clip))
            if mouths:
                rows[clip] = keys()
    return Timeline("Avatars", RATE, s(12.0 + 9.0 * (repeat - 1)), speakers, tuple(segments), mouths=rows)


def features(tl: Timeline) -> AudioFeatures:
    return tone_features(tl, gate_hz=3, fps=FPS)


def video(size: str = "640x360", **more: object) -> VideoConfig:
    return VideoConfig.model_validate({"layout": "duo", "size": size, "captions": False, "visualizer": None, **more})


def frames_in(line: int, span: tuple[float, float]) -> range:
    """Frames well inside ``span`` (clip seconds) of line ``line``, clear of the keys' blends."""
    start = LINES[line][1]
    return range(round((start + span[0] + 0.15) * FPS), round((start + span[1] - 0.15) * FPS))


def slot_box(plan: FramePlan, k: int, i: int) -> tuple[int, int, int, int]:
    avatar = plan.avatars[k]
    return avatar.slots[int(avatar.slot_track[i])].box


def mouth_region(plan: FramePlan, k: int, i: int, frame: Frame) -> Frame:
    """Around the illustrated mouth (grid x 256, y 308) with room for head motion, clear of hair and collar."""
    x0, y0, x1, _ = slot_box(plan, k, i)
    scale = (x1 - x0) / 512
    return frame[y0 + round(280 * scale) : y0 + round(350 * scale), x0 + round(215 * scale) : x0 + round(297 * scale)]


def interior(pixels: Frame) -> int:
    """Dark, red-purple pixels: the inside of a mouth, never skin (whose blue is below its green), lit or dimmed."""
    r, g, b = (pixels[..., c].astype(np.int32) for c in range(3))
    return int(((r * 299 + g * 587 + b * 114 < 80_000) & (b > g) & (r > g)).sum())


@pytest.fixture(scope="module")
def rendered() -> tuple[FramePlan, FrameRenderer]:
    tl = episode()
    plan = plan_frames(tl, video(), Path("."))
    return plan, FrameRenderer(plan, features(tl))


def test_speaker_mouth_follows_the_keys(rendered: tuple[FramePlan, FrameRenderer]) -> None:
    plan, renderer = rendered
    for k in (0, 1):
        wide = [mouth_region(plan, k, i, renderer.draw(i)).copy() for i in frames_in(k, D_SPAN)]
        shut = [mouth_region(plan, k, i, renderer.draw(i)).copy() for i in frames_in(k, A_SPAN)]
        assert all(MOUTH_SHAPES[renderer.avatars[k].track.shape[i]] == "D" for i in frames_in(k, D_SPAN))
        difference = np.abs(np.mean(wide, axis=0) - np.mean(shut, axis=0)).mean()
        assert difference > 8, f"speaker {k}: the mouth region barely changes between D and A ({difference:.1f})"
        open_px, closed_px = float(np.mean([interior(f) for f in wide])), float(np.mean([interior(f) for f in shut]))
        assert open_px > max(3 * closed_px, 40), (k, open_px, closed_px)


def test_listener_keeps_a_resting_mouth(rendered: tuple[FramePlan, FrameRenderer]) -> None:
    plan, renderer = rendered
    sam = renderer.avatars[1]
    during_alex = range(round(LINES[0][1] * FPS), round(LINES[0][2] * FPS))
    assert {MOUTH_SHAPES[sam.track.shape[i]] for i in during_alex} == {"X"}
    assert max(sam.track.openness[i] for i in during_alex) <= REST_OPENNESS
    assert max(sam.track.weight[i] for i in during_alex) == 0.0  # the listening pose throughout
    for i in frames_in(0, D_SPAN):
        frame = renderer.draw(i)
        assert interior(mouth_region(plan, 1, i, frame)) * 3 < interior(mouth_region(plan, 0, i, frame))


def avatar_jumps(plan: FramePlan, tl: Timeline, k: int, frames: range) -> float:
    """The largest mean abs difference of speaker k's avatar between consecutive frames, while its tile stays lit."""
    renderer = FrameRenderer(plan, features(tl))
    previous, worst = None, 0.0
    for i in frames:
        assert plan.active[i] == k  # the highlight does not change here: only the pose does
        x0, y0, x1, y1 = slot_box(plan, k, i)
        pixels = renderer.draw(i)[y0:y1, x0:x1].astype(np.float32)
        if previous is not None:
            worst = max(worst, float(np.abs(pixels - previous).mean()))
        previous = pixels
    return worst


def test_turn_change_blends_into_the_listening_pose(monkeypatch: pytest.MonkeyPatch) -> None:
    tl = episode()
    # 720p: at smaller sizes whole-pixel steps of the quantised pose are a large part of any change.
    plan = plan_frames(tl, video("1280x720"), Path("."))
    # ALEX stops at 7.0 s (a second of rest mouth before) and keeps the highlight until SAM starts at 7.4 s.
    frames = range(round(6.6 * FPS), round(7.4 * FPS))
    blended = avatar_jumps(plan, tl, 0, frames)
    monkeypatch.setattr(avatar_track, "BLEND_SECONDS", 0.0)
    abrupt = avatar_jumps(plan, tl, 0, frames)
    assert blended < 2.0 and blended < 0.5 * abrupt, (blended, abrupt)  # measured: ~1.3 against ~3.8


def test_frames_keep_their_count_shape_and_avatar_kinds(tmp_path: Path) -> None:
    tl = episode()
    cards_only = plan_frames(episode(("", "")), video(), tmp_path)
    plan = plan_frames(tl, video(), tmp_path)
    assert plan.n_frames == cards_only.n_frames == -(-tl.duration * FPS // RATE)
    assert not cards_only.avatars and len(plan.avatars) == 2
    frame = next(iter(render_frames(plan, features(tl))))
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
    assert cards.avatar_spec("illustrated", tmp_path) == (True, None)
    assert cards.avatar_spec("photo", tmp_path) == (True, None)  # no default portrait: the illustrated one
    assert cards.avatar_spec("photo:faces/none.png", tmp_path) == (True, tmp_path / "faces/none.png")
    with pytest.raises(MediaError, match=r"none\.png: portrait file not found"):
        cards.portrait("photo:faces/none.png", tmp_path)  # a misspelt path stops the render, never a silent card
    assert cards.avatar_spec("", tmp_path) == (False, None)
    assert cards.avatar_spec("faces/sam.png", tmp_path) == (True, tmp_path / "faces/sam.png")


def test_lines_without_mouth_keys_move_with_the_loudness() -> None:
    tl = episode(mouths=False)
    plan = plan_frames(tl, video(), Path("."))
    track = FrameRenderer(plan, features(tl)).avatars[0].track
    during = range(round(LINES[0][1] * FPS) + 2, round(LINES[0][2] * FPS) - 2)
    shapes = {MOUTH_SHAPES[track.shape[i]] for i in during}
    assert len(shapes) >= 2 and shapes != {"X"}  # opens and closes
    assert MOUTH_SHAPES[track.shape[round(1.0 * FPS)]] == "X"  # before the line: at rest


def test_tiny_tiles_keep_the_initials_card() -> None:
    plan = plan_frames(episode(), video("224x128"), Path("."))
    assert plan.avatars == ()
    assert sum(1 for _ in render_frames(plan, features(episode()))) == plan.n_frames


def test_memory_stays_flat_over_2000_frames() -> None:
    tl = episode(repeat=10)
    plan = plan_frames(tl, video(captions=True, visualizer={"kind": "spectrum"}), Path("."))
    # From frame 300: past the first turns, so both avatars have rendered and cached their common poses.
    growth = rss_growth(render_frames(plan, features(tl)), warmup=300, count=2000, shape=(360, 640, 3))
    assert growth < 40 * 2**20


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("podforge.visuals.avatars.photo")
    pytest.importorskip("mediapipe")
    skimage_data = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("faces")
    Image.fromarray(skimage_data.astronaut()).save(folder / "face.png")
    return folder


def test_photo_avatar_talks_in_its_tile(face_folder: Path) -> None:
    tl = episode(("illustrated", "photo:face.png"))
    plan = plan_frames(tl, video(), face_folder)
    renderer = FrameRenderer(plan, features(tl))
    photo = plan.avatars[1].source
    assert photo.photo is not None
    lips = (photo.photo.landmarks[13] + photo.photo.landmarks[14]) / 2 - photo.pad  # in the slot, before head motion
    reach = round(0.12 * photo.size)

    def mouth(i: int) -> Frame:
        x0, y0, _, _ = slot_box(plan, 1, i)
        cx, cy = round(x0 + lips[0]), round(y0 + lips[1])
        return renderer.draw(i)[cy - reach // 2 : cy + reach, cx - reach : cx + reach].copy()

    wide = [mouth(i) for i in frames_in(1, D_SPAN)]
    shut = [mouth(i) for i in frames_in(1, A_SPAN)]
    assert np.abs(np.mean(wide, axis=0) - np.mean(shut, axis=0)).mean() > 5
    assert np.mean([interior(f) for f in wide]) > 2 * np.mean([interior(f) for f in shut]) + 20
    x0, y0, _, _ = slot_box(plan, 1, 0)
    corner = renderer.draw(frames_in(1, D_SPAN)[0])[y0 + 1, x0 + 1].astype(int)
    assert corner.sum() < 200  # the rounded corner shows the dark tile panel, not the photo's light backdrop


@pytest.mark.slow
def test_duo_720p_with_two_avatars_keeps_up() -> None:
    tl = episode(repeat=6)
    plan = plan_frames(tl, VideoConfig(size="1280x720", layout="duo"), Path("."))
    count, seconds = cpu_time(render_frames(plan, features(tl)))
    per_frame = seconds / count
    assert per_frame < 0.015, f"{per_frame * 1000:.1f} ms a frame"  # ~3 ms measured; the encoder takes ~12
