"""The photo avatar: face fitting, its cache, and frames judged by FaceMesh re-detecting the rendered face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("mediapipe")
skimage_data = pytest.importorskip("skimage.data")

from PIL import Image  # noqa: E402

from podforge.cache import ContentCache  # noqa: E402
from podforge.errors import MediaError  # noqa: E402
from podforge.visuals.avatars import _landmarks as lm  # noqa: E402
from podforge.visuals.avatars.photo import (  # noqa: E402
    SHAPES,
    PhotoAvatar,
    PhotoPose,
    fit_face,
    landmarks_of,
    mouth_opening,
)
from podforge.visuals.avatars.pose import AvatarPose  # noqa: E402
from podforge.visuals.visemes import BASE_OPENNESS  # noqa: E402

Frame = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("photo")


@pytest.fixture(scope="module")
def portrait(folder: Path) -> Path:
    path = folder / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(path)
    return path


@pytest.fixture(scope="module")
def avatar(portrait: Path, folder: Path) -> PhotoAvatar:
    return PhotoAvatar(portrait, size=512, cache=ContentCache(folder / "cache"))


def measured(frame: Frame) -> float:
    points = landmarks_of(frame)
    assert points is not None, "FaceMesh lost the face in a rendered frame"
    return mouth_opening(points)


def region_mask(polygon: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def luma(frame: Frame, mask: npt.NDArray[np.bool_]) -> float:
    return float((frame[mask].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).mean())


# -- fitting -------------------------------------------------------------------------------------------------------


def test_fit_face_finds_all_landmarks_inside_the_image(portrait: Path, tmp_path: Path) -> None:
    fit = fit_face(portrait, ContentCache(tmp_path))
    assert fit.landmarks.shape == (478, 2)
    assert fit.landmarks.dtype == np.float32
    assert fit.image_size == (512, 512)
    assert (fit.landmarks >= 0).all() and (fit.landmarks <= 512).all()
    assert 0.03 < mouth_opening(fit.landmarks) < 0.12  # she smiles with her teeth showing


@pytest.mark.parametrize("picture", ["gradient", "coffee"])
def test_a_photo_without_a_face_is_a_media_error_with_advice(picture: str, tmp_path: Path) -> None:
    if picture == "gradient":
        ramp = np.linspace(0, 255, 256, dtype=np.uint8)
        pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], np.uint8(128)), axis=-1)
    else:
        pixels = skimage_data.coffee()
    path = tmp_path / f"{picture}.png"
    Image.fromarray(pixels).save(path)
    with pytest.raises(MediaError, match=rf"{picture}\.png: no face found.*front-facing photo"):
        fit_face(path, ContentCache(tmp_path / "cache"))


def test_an_unreadable_portrait_is_a_media_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(MediaError, match=r"broken\.png"):
        fit_face(broken, ContentCache(tmp_path))
    with pytest.raises(MediaError, match=r"missing\.png"):
        fit_face(tmp_path / "missing.png", ContentCache(tmp_path))


def test_the_fit_is_cached_by_image_content(portrait: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ContentCache(tmp_path / "cache")
    first = fit_face(portrait, cache)
    assert list((tmp_path / "cache" / lm.FIT_KIND).glob("*/*.npy"))

    def no_face_mesh() -> None:
        raise AssertionError("FaceMesh ran although the fit was cached")

    monkeypatch.setattr(lm, "_face_mesh", no_face_mesh)
    renamed = tmp_path / "renamed.png"
    renamed.write_bytes(portrait.read_bytes())
    again = fit_face(renamed, cache)
    np.testing.assert_array_equal(again.landmarks, first.landmarks)
    assert again.image_size == first.image_size


# -- rendering -----------------------------------------------------------------------------------------------------


def test_render_returns_an_rgb_frame_and_rest_closes_the_smile(avatar: PhotoAvatar) -> None:
    frame = avatar.render(PhotoPose())
    assert frame.shape == (512, 512, 3) and frame.dtype == np.uint8
    # The portrait smiles with her teeth showing; at rest the lips meet, or every pause would read as speech.
    assert measured(avatar.base) > 0.03 and measured(frame) < 0.01
    changed = np.abs(frame.astype(np.int16) - avatar.base.astype(np.int16)).max(axis=2) > 8
    assert np.nonzero(changed)[0].min() > avatar.landmarks[1, 1] - 0.05 * avatar.face_height  # not above the nose
    with pytest.raises(ValueError, match="unknown mouth shape"):
        avatar.render(PhotoPose(mouth="Q"))
    # The shared pose of the other avatars drives this one the same way.
    shared = AvatarPose(mouth="C", openness=0.7, blink=0.3, head_dx=4.0, tilt_deg=-2.0)
    own = PhotoPose("C", 0.7, 0.3, head_dx=4.0, tilt_deg=-2.0)
    np.testing.assert_array_equal(avatar.render(shared), avatar.render(own))


def test_opening_the_mouth_is_measured_by_facemesh_and_grows_monotonically(avatar: PhotoAvatar) -> None:
    openings = [measured(avatar.render(PhotoPose("D", openness))) for openness in (0.0, 0.5, 1.0)]
    assert openings[0] < openings[1] < openings[2], openings
    assert openings[2] > openings[0] + 0.04, openings
    closed = measured(avatar.render(PhotoPose("A", 1.0)))
    assert closed < 0.02 < openings[2], (closed, openings)


def test_the_lip_gap_follows_openness_whatever_the_shape(avatar: PhotoAvatar) -> None:
    # Each shape at the openness the mouth keys give it at normal loudness: B (most consonants) must not read
    # as open as a vowel, or the mouth would open on the consonant before the sound's energy arrives.
    gaps = {letter: measured(avatar.render(PhotoPose(letter, BASE_OPENNESS[letter]))) for letter in "BCD"}
    assert gaps["B"] < gaps["C"] < gaps["D"], gaps
    for letter in "BCDEGH":
        quiet, loud = (measured(avatar.render(PhotoPose(letter, o))) for o in (0.2, 0.8))
        assert loud > quiet + 0.03, (letter, quiet, loud)


def folded_area(avatar: PhotoAvatar, letter: str, openness: float, blink: float = 0.0) -> float:
    """Source area (px²) of the mesh triangles a pose turns inside out: a torn, smeared warp."""

    def signed(vertices: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        edges = vertices[avatar.triangles][:, 1:] - vertices[avatar.triangles][:, :1]
        return edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]

    before, after = signed(avatar.vertices), signed(avatar.destination(letter, openness, blink))
    return float(np.abs(before[np.sign(before) != np.sign(after)]).sum() / 2)


def test_no_pose_folds_the_mesh(avatar: PhotoAvatar) -> None:
    for letter in SHAPES:
        assert folded_area(avatar, letter, 1.2, 1.0) <= 1.0, letter


def test_a_closed_mouth_portrait_opens_cleanly(avatar: PhotoAvatar, folder: Path) -> None:
    # A portrait whose lips touch is the hard case: the two inner lip lines sit a pixel apart, and one
    # spline through both would tear the face into shards around them.
    closed_path = folder / "closed.png"
    Image.fromarray(avatar.render(PhotoPose("A", 1.0))).resize((600, 600), Image.Resampling.LANCZOS).save(closed_path)
    closed = PhotoAvatar(closed_path, size=512, cache=ContentCache(folder / "cache"))
    assert measured(closed.render(PhotoPose("X", 0.0))) < 0.02
    wide = closed.render(PhotoPose("D", 1.0))
    assert measured(wide) > 0.08
    for letter in SHAPES:
        assert folded_area(closed, letter, 1.2, 1.0) <= 2.0, letter  # at most a sliver between the lips
    changed = np.abs(wide.astype(np.int16) - closed.base.astype(np.int16)).max(axis=2) > 8
    assert np.nonzero(changed)[0].min() > closed.landmarks[1, 1] - 0.05 * closed.face_height  # not above the nose


@pytest.mark.parametrize("pose", [PhotoPose("D", 1.0), PhotoPose("E", 1.0), PhotoPose("A", 1.0), PhotoPose(blink=1.0)])
def test_the_background_far_from_the_face_never_moves(avatar: PhotoAvatar, pose: PhotoPose) -> None:
    frame = avatar.render(pose)
    top, bottom, left, right = slice(0, 64), slice(-64, None), slice(0, 64), slice(-64, None)
    for ys, xs in ((top, left), (top, right), (bottom, left), (bottom, right)):
        np.testing.assert_array_equal(frame[ys, xs], avatar.base[ys, xs])


def test_a_blink_closes_the_eyes(avatar: PhotoAvatar) -> None:
    frame = avatar.render(PhotoPose(blink=1.0))
    for upper, lower, _ in lm.EYES:
        eye = region_mask(np.vstack([avatar.landmarks[list(upper)], avatar.landmarks[list(lower)][::-1]]), 512)
        diff = np.abs(frame.astype(np.float32) - avatar.base.astype(np.float32)).max(axis=2)
        assert diff[eye].mean() > 20
        # The iris (dark) is covered by lid skin (light).
        assert luma(frame, eye) > luma(avatar.base, eye) + 15


def test_the_open_mouth_is_darker_than_the_lips(avatar: PhotoAvatar) -> None:
    for letter in ("C", "D"):
        frame = avatar.render(PhotoPose(letter, 1.0))
        dst = avatar.destination(letter, 1.0)
        inner = np.vstack([dst[list(lm.INNER_UPPER)], dst[list(lm.INNER_LOWER)][::-1]])
        cavity = region_mask(inner, 512)
        lips = region_mask(np.vstack([dst[list(lm.OUTER_UPPER)], dst[list(lm.OUTER_LOWER)][::-1]]), 512) & ~cavity
        lips &= ~cv2.dilate(cavity.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)  # skip the feathered rim
        assert luma(frame, cavity) < luma(frame, lips) - 40, letter


def test_head_motion_moves_the_whole_frame(avatar: PhotoAvatar) -> None:
    still = avatar.render(PhotoPose("C", 0.5))
    moved = avatar.render(PhotoPose("C", 0.5, head_dx=6.0))
    np.testing.assert_allclose(moved[200:300, 106:400].astype(float), still[200:300, 100:394].astype(float), atol=2)
    tilted = avatar.render(PhotoPose("C", 0.5, tilt_deg=4.0))
    assert np.abs(tilted.astype(int) - still.astype(int)).mean() > 2


def test_every_shape_renders_at_full_and_extra_openness(avatar: PhotoAvatar) -> None:
    for letter in SHAPES:
        for openness in (1.0, 1.2):
            frame = avatar.render(PhotoPose(letter, openness, blink=0.5))
            assert frame.shape == (512, 512, 3)


def test_varied_poses_render_from_a_cold_map_cache(portrait: Path, folder: Path) -> None:
    """Every pose of a varied run renders a full frame; their speed is measured by bench/avatar.py."""
    fresh = PhotoAvatar(portrait, size=512, cache=ContentCache(folder / "cache"))  # no warp maps cached yet
    rng = np.random.default_rng(7)
    letters = list(SHAPES)
    poses = [
        PhotoPose(
            letters[i % len(letters)],
            float(rng.random()),
            float(rng.random() > 0.9),
            float(rng.normal(0, 3)),
            float(rng.normal(0, 2)),
            float(rng.normal(0, 1.5)),
        )
        for i in range(20)
    ]
    frames = [fresh.render(pose).copy() for pose in poses]
    assert all(f.shape == (512, 512, 3) and f.dtype == np.uint8 for f in frames)
    assert len({f.tobytes() for f in frames}) == len(frames)  # each pose drew its own face
