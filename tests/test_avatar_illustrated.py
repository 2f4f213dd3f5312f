"""The illustrated avatar: frame format, distinct mouth shapes, blinking, per-seed looks, pose timing and speed."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from podforge.visuals.avatars.illustrated import (
    CX,
    EYE_DX,
    EYE_Y,
    INTERIOR,
    MOUTH_SHAPES,
    MOUTH_Y,
    AvatarPose,
    AvatarStyle,
    IllustratedAvatar,
)
from podforge.visuals.avatars.pose import blink_at, mix_poses, pose_at

SIZE = 256  # the tests' avatar: half size keeps them quick, geometry scales with it
Frame = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def avatar() -> IllustratedAvatar:
    return IllustratedAvatar(AvatarStyle(seed=0, size=SIZE))


def _box(frame: Frame, x0: float, y0: float, x1: float, y1: float) -> npt.NDArray[np.int16]:
    """A region given in 512-grid units, as signed ints so differences do not wrap."""
    s = frame.shape[0] / 512
    return frame[round(y0 * s) : round(y1 * s), round(x0 * s) : round(x1 * s)].astype(np.int16)


def _mouth(frame: Frame) -> npt.NDArray[np.int16]:
    return _box(frame, CX - 45, MOUTH_Y - 30, CX + 45, MOUTH_Y + 45)


def _interior_pixels(frame: Frame) -> int:
    """Pixels of the dark mouth interior (teeth, tongue and lips excluded)."""
    rgb = _mouth(frame)[:, :, :3]
    return int((np.abs(rgb - np.array(INTERIOR)).max(axis=2) < 14).sum())


def test_frame_is_premultiplied_rgba_with_transparent_background(avatar: IllustratedAvatar) -> None:
    frame = avatar.render(AvatarPose())
    assert frame.shape == (SIZE, SIZE, 4) and frame.dtype == np.uint8
    assert frame[:8, :8, 3].max() == 0 and frame[:8, -8:, 3].max() == 0  # corners: no backdrop
    s = SIZE / 512
    for x, y in ((CX, 280), (CX, 480), (CX - 150, 480), (CX, 120)):  # cheek, chest, shoulder, hair
        assert frame[round(y * s), round(x * s), 3] == 255, (x, y)
    assert (frame[:, :, :3].max(axis=2) <= frame[:, :, 3]).all()  # premultiplied: colour never exceeds alpha


def test_render_returns_an_independent_copy(avatar: IllustratedAvatar) -> None:
    first = avatar.render(AvatarPose(mouth="D", openness=1.0))
    kept = first.copy()
    avatar.render(AvatarPose(mouth="A", blink=1.0, head_dx=5.0))
    assert np.array_equal(first, kept)


@pytest.mark.parametrize("seed", [0, 1, 4])  # light, dark and the deepest skin tone: lips must read on all
def test_every_mouth_shape_looks_different(seed: int) -> None:
    avatar = IllustratedAvatar(AvatarStyle(seed=seed, size=SIZE))
    mouths = {m: _mouth(avatar.render(AvatarPose(mouth=m, openness=1.0))) for m in MOUTH_SHAPES}
    for a, b in itertools.combinations(MOUTH_SHAPES, 2):
        changed = int((np.abs(mouths[a] - mouths[b]).sum(axis=2) > 45).sum())
        assert changed > 40, f"{a} and {b} differ in only {changed} pixels"


def test_closed_mouth_shows_less_interior_than_wide_open(avatar: IllustratedAvatar) -> None:
    interior = {m: _interior_pixels(avatar.render(AvatarPose(mouth=m, openness=1.0))) for m in "AXCD"}
    assert interior["A"] < interior["C"] < interior["D"]
    assert interior["A"] <= 5 and interior["X"] <= 5


def test_openness_grows_the_opening(avatar: IllustratedAvatar) -> None:
    counts = [_interior_pixels(avatar.render(AvatarPose(mouth="C", openness=o))) for o in (0.15, 0.4, 0.7, 1.0, 1.2)]
    assert all(a < b for a, b in itertools.pairwise(counts)), counts
    # Quiet speech (small openness) keeps each shape recognisable rather than collapsing to closed lips.
    closed = _mouth(avatar.render(AvatarPose(mouth="A")))
    for shape in "BFG":
        quiet = _mouth(avatar.render(AvatarPose(mouth=shape, openness=0.0)))
        assert int((np.abs(quiet - closed).sum(axis=2) > 45).sum()) > 40, shape


def test_blink_closes_the_eyes(avatar: IllustratedAvatar) -> None:
    def eye(blink: float) -> npt.NDArray[np.int16]:
        return _box(avatar.render(AvatarPose(blink=blink)), CX + EYE_DX - 18, EYE_Y - 16, CX + EYE_DX + 18, EYE_Y + 16)

    def whites(region: npt.NDArray[np.int16]) -> int:
        return int((region[:, :, :3].min(axis=2) > 235).sum())

    opened, half, shut = eye(0.0), eye(0.5), eye(1.0)
    assert whites(opened) > 15 and whites(shut) == 0
    assert whites(opened) > whites(half) > whites(shut)
    assert np.abs(opened - shut).max(axis=2).mean() > 20


def test_seeds_give_different_characters() -> None:
    frames = [IllustratedAvatar(AvatarStyle(seed=seed, size=128)).render(AvatarPose()) for seed in range(5)]
    for a, b in itertools.combinations(frames, 2):
        assert np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() > 4
    again = IllustratedAvatar(AvatarStyle(seed=3, size=128)).render(AvatarPose())
    assert np.array_equal(again, frames[3])  # a seed always gives the same look


def test_style_and_pose_are_validated() -> None:
    with pytest.raises(ValueError, match="colour"):
        AvatarStyle(color="red")
    with pytest.raises(ValueError, match="size"):
        AvatarStyle(size=8)
    with pytest.raises(ValueError, match="mouth"):
        AvatarPose(mouth="Q")


def _poses(seed: int, energy: float, speaking: bool = True, seconds: float = 10.0, fps: int = 30) -> list[AvatarPose]:
    return [
        pose_at(i / fps, speaking=speaking, energy=energy, mouth="C", openness=0.6, seed=seed)
        for i in range(round(seconds * fps))
    ]


def test_pose_at_is_a_pure_function() -> None:
    times = [7.3, 0.0, 2.25, 7.3, 123.456]
    first = [pose_at(t, speaking=True, energy=0.7, mouth="D", openness=0.9, seed=5) for t in times]
    second = [pose_at(t, speaking=True, energy=0.7, mouth="D", openness=0.9, seed=5) for t in reversed(times)]
    assert first == second[::-1] and first[0] == first[3]
    assert first[0].mouth == "D" and first[0].openness == 0.9
    other = pose_at(7.3, speaking=True, energy=0.7, mouth="D", openness=0.9, seed=6)
    assert other != first[0]  # the seed changes the motion


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_blinks_come_every_few_seconds_and_are_brief(seed: int) -> None:
    step = 0.002
    closed = np.array([blink_at(i * step, seed) > 0.0 for i in range(round(20.0 / step))])
    edges = np.flatnonzero(np.diff(closed.astype(np.int8)))
    starts, ends = edges[::2] * step, edges[1::2] * step
    assert len(starts) >= 1 and starts[0] < 10.0  # at least one blink within 10 s
    assert (ends - starts[: len(ends)]).max() < 0.25
    assert all(2.0 <= gap <= 6.0 for gap in np.diff(starts))
    assert max(blink_at(t, seed) for t in np.arange(0.0, 20.0, 0.001)) > 0.95  # blinks close the eyes fully


def test_head_motion_follows_energy_smoothly() -> None:
    calm, lively = _poses(3, 0.0), _poses(3, 1.0)
    for field in ("head_dy", "head_dx", "tilt_deg"):
        quiet = np.std([getattr(p, field) for p in calm])
        loud = np.std([getattr(p, field) for p in lively])
        assert loud > 1.8 * quiet, field
    dy = np.array([p.head_dy for p in lively])
    assert np.abs(np.diff(dy)).max() < 2.5  # pixels per frame at 30 fps: motion, not jitter
    assert 2.0 < np.ptp(dy) < 20.0
    assert np.mean([p.brow for p in lively]) > np.mean([p.brow for p in calm]) + 0.5


def test_listening_pose_turns_toward_the_partner(avatar: IllustratedAvatar) -> None:
    for side in (1, -1):
        poses = [pose_at(i / 10, speaking=False, energy=0.0, mouth="D", openness=1.0, seed=2, partner_side=side)
                 for i in range(300)]  # fmt: skip
        assert all(p.listening and p.mouth == "X" and p.openness == 0.0 for p in poses)
        assert np.sign(np.mean([p.tilt_deg for p in poses])) == side
        assert all(np.sign(p.gaze) == side for p in poses)
    assert max(p.head_dy for p in poses) > 3.0  # an occasional nod within 30 s
    speaking = pose_at(4.0, speaking=True, energy=0.0, mouth="X", openness=0.0, seed=2)
    listening = pose_at(4.0, speaking=False, energy=0.0, mouth="X", openness=0.0, seed=2)
    assert not speaking.listening
    assert np.abs(_mouth(avatar.render(speaking)) - _mouth(avatar.render(listening))).max() > 60


def test_mix_poses_blends_between_speaking_and_listening() -> None:
    a = AvatarPose(mouth="D", openness=1.0, tilt_deg=0.0)
    b = AvatarPose(mouth="X", tilt_deg=4.0, listening=True)
    assert mix_poses(a, b, 0.0) == a and mix_poses(a, b, 1.0) == b
    mid = mix_poses(a, b, 0.25)
    assert mid.mouth == "D" and not mid.listening and mid.tilt_deg == pytest.approx(1.0)


def test_mouth_sheet_script_builds_a_labelled_grid(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parent.parent / "scripts" / "mouth_sheet.py"
    spec = importlib.util.spec_from_file_location("mouth_sheet", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sheet = module.build_sheet()
    assert sheet.width == module.CELL_W * 9 and sheet.height == (module.CELL_H + module.LABEL) * 2
