"""Face landmarks for the photo avatar: MediaPipe FaceMesh, the indices we use, and the cached fit.

FaceMesh (with ``refine_landmarks``) gives 478 points; the index groups below are its published
topology (lips, eyelids, face oval). One FaceMesh lives per process: building it loads a TFLite
graph (~100 ms), running it costs a few milliseconds per frame.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline

from ...cache import ContentCache, content_key
from ...errors import EngineError, MediaError
from .._draw import load_image

FIT_KIND = "photo-fit"
FIT_VERSION = "facemesh-0.10-refine-1"
N_LANDMARKS = 478
N_MESH = 468  # landmarks that are warp-mesh vertices; the 10 iris points would fold inside a closing eye

Points = npt.NDArray[np.float32]
Image8 = npt.NDArray[np.uint8]

# Lip contours as matching columns, corner to corner: column k of the upper row sits above column k
# of the lower row, so a mouth shape can move each column by its own gap.
OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Eyelids as matching columns (corners excluded: they stay put in a blink), then the crease above.
EYES = (
    ((246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155), (247, 30, 29, 27, 28, 56, 190)),
    ((466, 388, 387, 386, 385, 384, 398), (249, 390, 373, 374, 380, 381, 382), (467, 260, 259, 257, 258, 286, 414)),
)
EYE_CORNER_PAIRS = ((33, 133), (263, 362))  # outer, inner corner of each eye, in EYES order
EYE_CORNERS = (33, 133, 263, 362)
BROWS = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300, 46, 53, 52, 65, 55, 285, 295, 282, 283, 276)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
NOSE = (1, 2, 4, 5, 6, 98, 327, 168, 197, 195, 129, 358, 64, 294)
CHEEKS = (50, 280, 116, 345, 123, 352, 205, 425, 187, 411, 147, 376, 36, 266)
CHIN = (18, 200, 199, 175, 83, 313, 201, 421, 208, 428, 32, 262, 194, 418, 182, 406)
TOP, BOTTOM, UPPER_LIP, LOWER_LIP = 10, 152, 13, 14
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class FaceFit:
    """Where the face is in one image: FaceMesh landmarks in pixel coordinates."""

    landmarks: Points  # (478, 2) x, y in pixels
    image_size: tuple[int, int]  # width, height


def import_mediapipe() -> Any:
    """MediaPipe with its C++ start-up chatter (TFLite delegates, feedback managers) kept off the terminal."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import mediapipe

    return mediapipe


@contextmanager
def native_logs_muted() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while MediaPipe runs.

    Its C++ side logs through absl before anyone can configure it ("All log messages before
    absl::InitializeLog()...", XNNPACK delegates, feedback managers), straight to the descriptor, past
    sys.stderr and the environment variables above. Python exceptions are unaffected.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def new_face_mesh(*, static: bool) -> Any:
    """A FaceMesh with iris refinement for one face: ``static`` detects afresh in every image, otherwise it
    tracks the face from the previous frame (for video)."""
    try:
        mp = import_mediapipe()
    except ImportError as exc:
        raise EngineError(
            "photo avatars and sync-report need MediaPipe FaceMesh; install it with: pip install 'podforge[photo]'",
            engine="photo",
        ) from exc
    return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, refine_landmarks=True, max_num_faces=1)


@lru_cache(maxsize=1)
def _face_mesh() -> Any:
    return new_face_mesh(static=True)


def landmarks_of(frame_rgb: npt.NDArray[np.uint8], mesh: Any = None) -> Points | None:
    """FaceMesh landmarks (478, 2) in pixels for the most prominent face in an RGB frame, or None.

    ``mesh`` is one from `new_face_mesh`; without it, a shared one that detects afresh in every image.
    """
    frame = np.ascontiguousarray(frame_rgb[..., :3])
    with native_logs_muted():
        result = (mesh if mesh is not None else _face_mesh()).process(frame)
    if not result.multi_face_landmarks:
        return None
    height, width = frame.shape[:2]
    marks = result.multi_face_landmarks[0].landmark
    points = np.array([(p.x * width, p.y * height) for p in marks], dtype=np.float32)
    return points if points.shape == (N_LANDMARKS, 2) else None


def mouth_opening(landmarks: Points) -> float:
    """Inner-lip gap (13 to 14) as a fraction of the face height (10 to 152): 0 closed, ~0.2 wide open."""
    gap = float(np.linalg.norm(landmarks[LOWER_LIP] - landmarks[UPPER_LIP]))
    height = float(np.linalg.norm(landmarks[BOTTOM] - landmarks[TOP]))
    return gap / max(height, 1e-6)


def read_rgb(image_path: Path) -> npt.NDArray[np.uint8]:
    """Decode a portrait to RGB, or raise MediaError naming the file."""
    return np.asarray(load_image(image_path, "portrait").convert("RGB"), dtype=np.uint8)


def fit_face(image_path: Path, cache: ContentCache | None = None) -> FaceFit:
    """Find the face in a portrait; cached by the image's bytes, so a renamed file is not refitted."""
    try:
        digest = hashlib.sha256(Path(image_path).read_bytes()).hexdigest()
    except OSError as exc:
        raise MediaError(f"{image_path}: portrait file cannot be read ({exc})") from exc
    key = content_key(kind=FIT_KIND, image=digest, version=FIT_VERSION)
    store = cache if cache is not None else ContentCache()
    cached = store.get_array(FIT_KIND, key)
    if cached is not None and cached.shape == (N_LANDMARKS + 1, 2):
        return FaceFit(cached[:N_LANDMARKS].astype(np.float32), (int(cached[-1, 0]), int(cached[-1, 1])))
    rgb = read_rgb(image_path)
    points = landmarks_of(rgb)
    if points is None:
        raise MediaError(
            f"{Path(image_path).name}: no face found in the portrait; "
            "use a front-facing photo with the whole face visible"
        )
    size = (rgb.shape[1], rgb.shape[0])
    # One .npy entry (the size rides as a last row) keeps the fit atomic: no half-written pair of files.
    store.put_array(FIT_KIND, key, np.vstack([points, np.array([size], dtype=np.float32)]))
    return FaceFit(points, size)


def crop_face(image: Image8, points: Points, size: int, share: float) -> tuple[Image8, Points]:
    """A size x size square centred on the face, the face `share` of it; out-of-image parts are mirrored."""
    oval = points[list(FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    side = max(round(float((hi - lo).max()) / share), 8)
    height, width = image.shape[:2]
    # Shift the square inside the photo where it fits, so mirrored borders appear only when unavoidable.
    x0 = round(float(lo[0] + hi[0] - side) / 2)
    y0 = round(float(lo[1] + hi[1] - side) / 2)
    x0 = min(max(x0, 0), width - side) if side <= width else x0
    y0 = min(max(y0, 0), height - side) if side <= height else y0
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    border = cv2.BORDER_REFLECT_101 if pad < min(height, width) else cv2.BORDER_REPLICATE  # reflect needs room
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, border) if pad else image
    square = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    crop = np.asarray(cv2.resize(np.ascontiguousarray(square), (size, size), interpolation=interp), np.uint8)
    scale = size / side
    # FaceMesh coordinates are continuous (pixel i spans [i, i+1)); the warp uses pixel centres.
    return crop, ((points - (x0, y0)) * scale - 0.5).astype(np.float32)


def mouth_axes(points: Points) -> tuple[Points, Points, Points, float]:
    """Mouth centre, unit vectors along the mouth and down the face, and the face height."""
    left, right = points[OUTER_UPPER[0]], points[OUTER_UPPER[-1]]
    along = (right - left) / max(float(np.linalg.norm(right - left)), 1e-6)
    down = np.array([-along[1], along[0]], dtype=np.float32)
    height = float(np.linalg.norm(points[BOTTOM] - points[TOP]))
    return (left + right) / 2, along, down, height


def _ellipse(center: Points, radii: Points, count: int) -> Points:
    angles = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    return (center + radii * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def mesh_vertices(points: Points) -> tuple[Points, int]:
    """Warp-mesh vertices: landmarks, a free ring just outside the face, then a fixed anchor ring.

    Returns the vertices and where the anchor ring starts. The free ring gives the warp somewhere
    to fade out smoothly; beyond the anchors nothing moves.
    """
    oval = points[list(FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    center, extent = (lo + hi) / 2, hi - lo
    inner = _ellipse(center + np.array([0, 0.05 * extent[1]]), extent * (0.62, 0.66), 24)
    outer = _ellipse(center + np.array([0, 0.1 * extent[1]]), extent * (0.85, 0.8), 32)
    vertices = np.vstack([points[:N_MESH], inner, outer]).astype(np.float32)
    return vertices, len(vertices) - len(outer)


def part_lips(points: Points, margin: float = 1.0) -> Points:
    """Landmarks with each inner lower-lip point at least `margin` px below its upper partner.

    A closed mouth's inner lips can touch or cross by a pixel; opened by the warp, a crossed pair
    would fold the triangles between them inside out.
    """
    _, _, down, _ = mouth_axes(points)
    parted = points.copy()
    for top, bottom in zip(INNER_UPPER[1:-1], INNER_LOWER[1:-1], strict=True):
        short = margin - float((points[bottom] - points[top]) @ down)
        if short > 0:
            parted[bottom] = points[bottom] + short * down
    return parted


def lip_sides(points: Points) -> tuple[set[int], set[int]]:
    """The landmarks of the upper and of the lower lip: the contour rows and every point between them."""
    upper, lower = set(OUTER_UPPER + INNER_UPPER), set(OUTER_LOWER + INNER_LOWER)
    polygons = (
        (upper, np.vstack([points[list(OUTER_UPPER)], points[list(INNER_UPPER)][::-1]])),
        (lower, np.vstack([points[list(OUTER_LOWER)], points[list(INNER_LOWER)][::-1]])),
    )
    for side, polygon in polygons:
        contour = polygon.reshape(-1, 1, 2).astype(np.float32)
        for index in range(N_MESH):
            inside = cv2.pointPolygonTest(contour, (float(points[index, 0]), float(points[index, 1])), True)
            if inside > 0.25 and index not in upper | lower:
                side.add(index)
    return upper, lower


def below_lip_line(vertices: Points, points: Points, upper: set[int], lower: set[int]) -> Points:
    """Per vertex, 0 above the line where the lips meet and 1 below it (upper/lower lip sets decide theirs)."""
    center, along, down, _ = mouth_axes(points)
    middle = (points[list(INNER_UPPER)] + points[list(INNER_LOWER)]) / 2 - center
    order = np.argsort(middle @ along)
    rel = vertices - center
    line = np.interp(rel @ along, (middle @ along)[order], (middle @ down)[order])  # flat beyond the corners
    # Between the corners the halves meet sharply at the lip line; beside the mouth they blend over a
    # band that widens with the distance from the corner, so the cheeks stretch instead of shearing.
    beside = np.maximum(np.abs(rel @ along) - float(np.abs(middle @ along).max()), 0.0)
    t = np.clip(((rel @ down - line) / np.maximum(0.8 * beside, 1.0) + 1) / 2, 0.0, 1.0)
    weight = (t * t * (3 - 2 * t)).astype(np.float32)
    weight[list(upper - lower)], weight[list(lower - upper)] = 0.0, 1.0
    return weight


def smooth_curve(points: Points, count: int = 32) -> Points:
    """A natural cubic spline through a landmark polyline: FaceMesh's 11 lip points leave visible corners."""
    chord = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    keep = np.r_[True, np.diff(chord) > 1e-3]
    if keep.sum() < 3:
        return points
    spline = CubicSpline(chord[keep], points[keep], bc_type="natural")
    return spline(np.linspace(0.0, chord[-1], count)).astype(np.float32)


@dataclass(frozen=True)
class Palette:
    """Colours sampled from the photo, so painted parts match its lighting."""

    light: float  # face brightness against a well-lit portrait; scales the painted mouth
    lip: Points  # mean lip colour: a closed mouth's seam is a darker lip, not a black cut
    lids: tuple[Points, Points]  # skin of each upper eyelid, lashes left out
    eye_open: tuple[float, float]  # each eye's opening in pixels


def _mean_colour(image: Image8, polygons: list[Points], bright_half: bool = False) -> Points:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 255)
    pixels = image[mask > 0].astype(np.float32)
    if len(pixels) == 0:
        return image.reshape(-1, 3).mean(axis=0).astype(np.float32)
    if bright_half:  # lashes, liner and shadows are the dark half
        luma = pixels @ LUMA
        pixels = pixels[luma >= np.median(luma)]
    return pixels.mean(axis=0).astype(np.float32)


def sample_palette(image: Image8, points: Points) -> Palette:
    """Skin brightness, lip colour and eyelid skin of the (cropped) portrait."""
    skin = _mean_colour(image, [points[list(FACE_OVAL)]], bright_half=True)
    upper_lip = np.vstack([points[list(OUTER_UPPER)], points[list(INNER_UPPER)][::-1]])
    lower_lip = np.vstack([points[list(OUTER_LOWER)], points[list(INNER_LOWER)][::-1]])
    lids, opens = [], []
    for upper, lower, crease in EYES:
        lids.append(_mean_colour(image, [np.vstack([points[list(crease)], points[list(upper)][::-1]])], True))
        opens.append(float(np.linalg.norm(points[list(lower)] - points[list(upper)], axis=1).max()))
    light = float(np.clip(skin @ LUMA / 190, 0.4, 1.1))
    return Palette(light, _mean_colour(image, [upper_lip, lower_lip]), (lids[0], lids[1]), (opens[0], opens[1]))
