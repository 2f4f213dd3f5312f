"""A talking photo: one portrait animated by Rhubarb mouth shapes, openness, blinks and small head motion.

How a frame is made:

1. At load the face is fitted once (FaceMesh, cached by image bytes) and a square around it is cut
   and scaled so the face fills ~55% of it.
2. Each mouth shape and the blink get a *forward displacement field*: the lips, jaw line and eyelids
   are told where to go at full strength, the nose, eyes, brows and a ring of anchors around the head
   stay put, and a thin-plate spline spreads that smoothly over every other landmark.
3. A frame moves the mesh vertices by its shape's closed field + openness x its opening field
   (+ blink x field) and warps the photo
   piecewise-affinely over a Delaunay triangulation of the landmarks. A mesh, unlike a coarse
   displacement grid, keeps a lip gap sharp when it closes to a pixel. Outside the anchor ring the
   map is the identity, so the background never moves.
4. The opened mouth is painted: a shaded cavity, teeth under the upper lip, a tongue, with a
   feathered edge. The lips themselves remain the photo's, only warped.

Warp maps are cached per (shape, openness in 1/16 steps, blink in 1/8 steps); a cached frame costs
one `cv2.remap` over the face plus the small mouth painting (a new one ~5 ms more).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from scipy.interpolate import RBFInterpolator
from scipy.spatial import Delaunay

from ...cache import ContentCache
from .._lru import lru_get, lru_put
from . import _landmarks as lm
from ._landmarks import FaceFit, fit_face, landmarks_of, mouth_opening
from .mouth_inside import cavity, smoothstep
from .pose import AvatarPose

__all__ = ["SHAPES", "FaceFit", "MouthShape", "PhotoAvatar", "PhotoPose", "fit_face", "landmarks_of", "mouth_opening"]

Frame = npt.NDArray[np.uint8]
Field = npt.NDArray[np.float32]
Moves = dict[int, npt.NDArray[np.float64]]  # landmark index -> displacement at full strength
Box = tuple[int, int, int, int]  # x0, y0, x1, y1, end-exclusive
Maps = npt.NDArray[Any]  # cv2 fixed-point remap tables
FACE_SHARE = 0.55  # face extent / crop side
OPEN_STEPS, BLINK_STEPS = 16, 8
MAX_OPEN = 1.2
GAP_PER_OPEN = 0.19  # inner-lip gap per unit of openness: D at its normal openness 0.9 parts the lips by 0.17
CLOSED_GAP = 0.005  # touching lips keep a pixel: no fold
MAP_CACHE = 48  # ~0.5 MB of fixed-point maps each


@dataclass(frozen=True)
class MouthShape:
    """One Rhubarb mouth; lengths are fractions of the face height.

    How far the lips part is the pose's openness alone (GAP_PER_OPEN per unit), so the opening follows the
    loudness the same way whatever the shape; the shape sets how the mouth looks at that opening.
    """

    opens: bool = True  # A (pressed lips) and X (rest) stay closed whatever the openness
    gap: float = 1.0  # lip gap per unit of openness, in GAP_PER_OPENs: bared teeth read wider, a pucker narrower
    width: float = 0.0  # mouth-corner stretch as a fraction of mouth width; negative narrows
    lift: float = 0.3  # share of the gap change taken by the upper lip; the jaw takes the rest
    jaw: float = 0.9  # how far the chin follows the lower lip
    round: float = 0.0  # 0 a lens-shaped opening, 1 an oval one (E, F)
    pout: float = 0.0  # extra lip thickness when the lips push forward
    teeth: float = 0.0  # upper-teeth band height
    lower_teeth: float = 0.0
    tongue: float = 0.0  # share of the gap the tongue fills from below
    floor: float = 0.0  # least openness drawn: quiet speech still shows B's teeth or F's pucker, not closed lips
    most: float = 1.2  # most openness drawn: past it the shape is no longer itself, and the mesh would fold


SHAPES: dict[str, MouthShape] = {
    "A": MouthShape(opens=False, lift=0.5, jaw=0.6),  # M, B, P: lips pressed together
    "B": MouthShape(gap=0.5, width=0.08, lift=0.45, teeth=0.03, lower_teeth=0.02, floor=0.02, most=1.0),
    "C": MouthShape(width=0.06, lift=0.25, teeth=0.035, tongue=0.35, floor=0.05),
    "D": MouthShape(width=0.0, lift=0.2, round=0.4, teeth=0.04, tongue=0.4, floor=0.05),
    "E": MouthShape(width=-0.16, lift=0.3, round=0.8, pout=0.01, teeth=0.012, tongue=0.2, floor=0.1, most=1.0),
    "F": MouthShape(gap=1.6, width=-0.3, lift=0.4, jaw=0.3, round=1.0, pout=0.02, floor=0.1, most=0.25),
    "G": MouthShape(width=0.02, lift=0.6, jaw=0.2, teeth=0.03, floor=0.1, most=0.6),  # F, V: teeth on the lower lip
    "H": MouthShape(width=0.02, lift=0.25, teeth=0.025, tongue=0.5, floor=0.08),  # L, TH: tongue up
    "X": MouthShape(opens=False, lift=0.5, jaw=0.6),  # rest: lips lightly together
}


@dataclass(frozen=True)
class PhotoPose:
    """One frame's pose, with the same meaning as `pose.AvatarPose` (which `render` also takes).

    Head offsets are pixels at size 512 (scaled with the avatar), positive down/right; tilt is in
    degrees, positive clockwise on screen.
    """

    mouth: str = "X"
    openness: float = 0.0  # 0..1.2 (a little past the shape's full opening)
    blink: float = 0.0  # 0 open .. 1 closed
    head_dx: float = 0.0
    head_dy: float = 0.0
    tilt_deg: float = 0.0


def _mouth_targets(points: Field, shape: MouthShape, gap: float) -> Moves:
    """Displacement of the lips and jaw line for one mouth shape with the lips ``gap`` apart."""
    center, along, down, height = lm.mouth_axes(points)
    upper_in, lower_in = points[list(lm.INNER_UPPER)], points[list(lm.INNER_LOWER)]
    u = ((upper_in + lower_in) / 2 - center) @ along
    u = u / max(float(np.abs(u).max()), 1e-6)
    profile = np.clip(1.0 - u**2, 0.0, 1.0) ** (0.8 - 0.35 * shape.round)
    target = np.maximum(gap * profile, CLOSED_GAP) * height
    change = target - (lower_in - upper_in) @ down  # per lip column; negative closes
    moves: Moves = {}
    rows = (
        (lm.INNER_UPPER, -shape.lift, 0.0),
        (lm.OUTER_UPPER, -shape.lift, -shape.pout),
        (lm.INNER_LOWER, 1 - shape.lift, 0.0),
        (lm.OUTER_LOWER, 1 - shape.lift, shape.pout),
    )
    for row, share, pout in rows:
        for k, index in enumerate(row):
            stretch = shape.width * (points[index] - center)  # about the centre: narrowing also eases a smile
            moves[index] = stretch + (share * change[k] + pout * height * profile[k]) * down
    drop = (1 - shape.lift) * float(change[len(change) // 2]) * shape.jaw
    half_face = max(float(np.ptp(points[list(lm.FACE_OVAL)] @ along)) / 2, 1e-6)
    for index in (*lm.FACE_OVAL, *lm.CHIN, *lm.CHEEKS):
        offset = points[index] - center
        # The jaw hinges near the ears: the chin drops most, the jaw angles little, nothing above the mouth.
        weight = smoothstep(0.0, 0.12, float(offset @ down) / height) * max(0.0, 1 - (offset @ along / half_face) ** 2)
        moves.setdefault(index, (float(weight) * drop * down).astype(np.float64))
    return moves


def _field(vertices: Field, n_free: int, moves: Moves, still: tuple[int, ...]) -> Field:
    """Spread the given moves over every vertex with a thin-plate spline; `still` and the anchor ring stay."""
    known = {i: np.zeros(2) for i in still} | moves | {i: np.zeros(2) for i in range(n_free, len(vertices))}
    keys = np.array(sorted(known))
    values = np.array([known[i] for i in keys])
    spline = RBFInterpolator(vertices[keys].astype(np.float64), values, kernel="thin_plate_spline")
    result = spline(vertices.astype(np.float64)).astype(np.float32)
    result[keys] = values  # exact where prescribed; the spline only fills in between
    result[np.abs(result).max(axis=1) < 0.02] = 0.0  # so untouched triangles are skipped, not re-warped
    return result


class _LipSplit(NamedTuple):
    """What every mouth field of one face shares; it depends on the landmarks and mesh alone."""

    upper: set[int]  # landmarks of the upper lip
    lower: set[int]  # landmarks of the lower lip
    weight: Field  # per vertex, 0 above the lip line .. 1 below it
    still: tuple[int, ...]  # landmarks that never move with the mouth


def _lip_split(vertices: Field, points: Field) -> _LipSplit:
    upper, lower = lm.lip_sides(points)
    still = (*lm.NOSE, *lm.BROWS, *lm.EYE_CORNERS, *(i for eye in lm.EYES for row in eye for i in row))
    return _LipSplit(upper, lower, lm.below_lip_line(vertices, points, upper, lower), still)


def _mouth_fields(
    vertices: Field, n_free: int, points: Field, shape: MouthShape, split: _LipSplit
) -> tuple[Field, Field]:
    """The shape with closed lips, and what one unit of openness adds to it (zero for a shape that never opens)."""
    closed = _mouth_field(vertices, n_free, points, shape, 0.0, split)
    if not shape.opens:
        return closed, np.zeros_like(closed)
    return closed, _mouth_field(vertices, n_free, points, shape, shape.gap * GAP_PER_OPEN, split) - closed


def _mouth_field(vertices: Field, n_free: int, points: Field, shape: MouthShape, gap: float, split: _LipSplit) -> Field:
    """One field for the upper lip and face above it, one for the lower lip and jaw, joined at the lip line.

    A single spline through both lips would have to tear a closed mouth open between two points a
    pixel apart, and it overshoots wildly around them; each half on its own is smooth.
    """
    moves = _mouth_targets(points, shape, gap)
    upper, lower, weight, still = split
    above = _field(vertices, n_free, {i: m for i, m in moves.items() if i not in lower - upper}, still)
    below = _field(vertices, n_free, {i: m for i, m in moves.items() if i not in upper - lower}, still)
    return (above * (1 - weight[:, None]) + below * weight[:, None]).astype(np.float32)


def _blink_field(vertices: Field, n_free: int, points: Field) -> Field:
    """Upper lids nearly meet slightly raised lower lids; the crease above follows part way."""
    moves: Moves = {}
    for upper, lower, crease in lm.EYES:
        for top, bottom, fold in zip(upper, lower, crease, strict=True):
            gap = (points[bottom] - points[top]).astype(np.float64)
            moves[top], moves[bottom], moves[fold] = 0.86 * gap, -0.1 * gap, 0.4 * gap
    lips = (*lm.INNER_UPPER, *lm.OUTER_UPPER, *lm.INNER_LOWER, *lm.OUTER_LOWER)
    return _field(vertices, n_free, moves, (*lm.NOSE, *lm.BROWS, *lm.EYE_CORNERS, *lm.FACE_OVAL, *lm.CHEEKS, *lips))


def _affine_maps(
    src: Field, dst: Field, tris: npt.NDArray[np.int32], shape: tuple[int, int]
) -> tuple[Box, Field, Field]:
    """Backward maps (output pixel -> source pixel) for the given triangles, over their bounding box."""
    corners = dst[tris].reshape(-1, 2)
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, (shape[1], shape[0]))
    # A triangle turned inside out (a pose past what the mesh can take) is drawn first, so its
    # neighbours paint over it and the damage stays a few pixels wide.
    edges = dst[tris][:, 1:] - dst[tris][:, :1]
    tris = tris[np.argsort(edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0] > 0, kind="stable")]
    ids = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
    fixed_point = np.round((dst[tris] - (x0, y0)) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    for index, triangle in enumerate(fixed_point):
        cv2.fillConvexPoly(ids, triangle, (index,), cv2.LINE_8, 2)
    # Per triangle the affine a with [x y 1] @ a = source point; the extra last row is the identity,
    # which the -1 of pixels outside every triangle picks.
    system = np.concatenate([dst[tris], np.ones((len(tris), 3, 1), np.float32)], axis=2).astype(np.float64)
    flat = np.abs(np.linalg.det(system)) < 1e-6
    system[flat] = np.eye(3)  # a triangle squashed to a line covers no pixel centre worth a map
    coef = np.linalg.solve(system, src[tris].astype(np.float64))
    coef[flat] = [[1, 0], [0, 1], [0, 0]]
    coef = np.concatenate([coef, [[[1, 0], [0, 1], [0, 0]]]]).astype(np.float32).reshape(-1, 6)
    picked = coef[ids]
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    map_x = picked[..., 0] * xs + picked[..., 2] * ys + picked[..., 4]
    map_y = picked[..., 1] * xs + picked[..., 3] * ys + picked[..., 5]
    return (int(x0), int(y0), int(x1), int(y1)), map_x, map_y


class PhotoAvatar:
    """A portrait that talks: `render(pose)` returns one size x size RGB frame."""

    def __init__(self, image_path: Path, size: int = 512, cache: ContentCache | None = None) -> None:
        fit = fit_face(Path(image_path), cache)
        self.size = size
        self.base, cropped = lm.crop_face(lm.read_rgb(Path(image_path)), fit.landmarks, size, FACE_SHARE)
        self.landmarks = lm.part_lips(cropped)
        self.vertices, n_free = lm.mesh_vertices(self.landmarks)
        self.triangles = Delaunay(self.vertices).simplices.astype(np.int32)
        split = _lip_split(self.vertices, self.landmarks)
        self.fields = {
            name: _mouth_fields(self.vertices, n_free, self.landmarks, shape, split) for name, shape in SHAPES.items()
        }
        self.blink_field = _blink_field(self.vertices, n_free, self.landmarks)
        oval = self.landmarks[list(lm.FACE_OVAL)]
        self.face_center = (oval.min(axis=0) + oval.max(axis=0)) / 2
        self.face_height = lm.mouth_axes(self.landmarks)[3]
        self.palette = lm.sample_palette(self.base, self.landmarks)
        self._maps: OrderedDict[tuple[str, int, int], tuple[Box, Maps, Maps]] = OrderedDict()

    @staticmethod
    def shape_of(letter: str) -> str:
        name = letter.strip().upper()
        if name not in SHAPES:
            raise ValueError(f"unknown mouth shape {letter!r}; expected one of {' '.join(SHAPES)}")
        return name

    def destination(self, mouth: str, openness: float, blink: float = 0.0) -> Field:
        """Where every mesh vertex goes for a pose (before head motion); the first 468 are landmarks.

        Openness 0 is closed lips, not the photo's own mouth: a portrait smiling with its teeth would otherwise
        read as open between words, and the first step of every opening would close it.
        """
        name = self.shape_of(mouth)
        closed, opening = self.fields[name]
        reach = float(np.clip(openness, SHAPES[name].floor, SHAPES[name].most))
        return self.vertices + closed + reach * opening + blink * self.blink_field

    def render(self, pose: PhotoPose | AvatarPose) -> Frame:
        """One (size, size, 3) RGB frame; openness and blink are rounded to the cached map steps."""
        name = self.shape_of(pose.mouth)
        open_step = round(float(np.clip(pose.openness, 0.0, MAX_OPEN)) * OPEN_STEPS)
        blink_step = round(float(np.clip(pose.blink, 0.0, 1.0)) * BLINK_STEPS)
        openness, blink = open_step / OPEN_STEPS, blink_step / BLINK_STEPS
        frame = self.base.copy()
        warp = self._warp(name, open_step, blink_step)
        if warp is not None:
            (x0, y0, x1, y1), map_a, map_b = warp
            frame[y0:y1, x0:x1] = cv2.remap(self.base, map_a, map_b, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            dst = self.destination(name, openness, blink)
            if blink > 0.5:
                self._paint_lids(frame, dst, blink)
            self._paint_mouth(frame, SHAPES[name], dst)
        if pose.head_dx or pose.head_dy or pose.tilt_deg:
            center = (float(self.face_center[0]), float(self.face_center[1]))
            matrix = np.asarray(cv2.getRotationMatrix2D(center, -pose.tilt_deg, 1.0), np.float64)  # cv2: anticlockwise
            matrix[:, 2] += np.array([pose.head_dx, pose.head_dy]) * self.size / 512
            moved = cv2.warpAffine(frame, matrix, (self.size, self.size), borderMode=cv2.BORDER_REFLECT)
            frame = np.asarray(moved, np.uint8)
        return frame

    def _warp(self, name: str, open_step: int, blink_step: int) -> tuple[Box, Maps, Maps] | None:
        key = (name, open_step, blink_step)
        cached = lru_get(self._maps, key)
        if cached is not None:
            return cached
        dst = self.destination(name, open_step / OPEN_STEPS, blink_step / BLINK_STEPS)
        moving = np.abs(dst - self.vertices).max(axis=1) > 0
        tris = self.triangles[moving[self.triangles].any(axis=1)]
        if not len(tris):  # this photo already has the shape
            return None
        box, map_x, map_y = _affine_maps(self.vertices, dst, tris, self.base.shape[:2])
        map_a, map_b = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)  # fixed point: half the memory, faster remap
        maps = (box, np.asarray(map_a), np.asarray(map_b))
        lru_put(self._maps, key, maps, MAP_CACHE)
        return maps

    def _paint_lids(self, frame: Frame, dst: Field, blink: float) -> None:
        """Cover the last sliver of a closing eye with lid skin and a soft lash line; the warp did the rest."""
        strength = float(smoothstep(0.5, 1.0, blink))
        for (upper, lower, _), (c0, c1), skin, opening in zip(
            lm.EYES, lm.EYE_CORNER_PAIRS, self.palette.lids, self.palette.eye_open, strict=True
        ):
            lid = lm.smooth_curve(dst[[c0, *upper, c1]], 24)
            lid = lid[np.argsort(lid[:, 0])]  # left to right, whichever eye, for np.interp
            top = lid - np.array([0, 0.6 * opening])  # the lash band above the lid line, stretched by the warp
            rim = lm.smooth_curve(dst[[c0, *lower, c1]], 24)
            rim = rim[np.argsort(-rim[:, 0])] + np.array([0, 1])
            box, mask = _polygon_mask(np.vstack([top, rim]), 3, self.size)
            x0, y0, x1, y1 = box
            xs = np.arange(x0, x1, dtype=np.float32)
            below_top = np.arange(y0, y1)[:, None] - np.interp(xs, top[:, 0], top[:, 1])
            # Fade in downwards, so the painted lid blends into the warped lid texture above it.
            alpha = cv2.GaussianBlur(mask, (0, 0), 1.0) * smoothstep(0.0, 0.5 * opening + 1, below_top) * strength
            _blend(frame, box, skin, alpha)
            lash = np.zeros_like(mask)
            width = max(1, self.size // 300)
            cv2.polylines(lash, [np.round((lid - (x0, y0)) * 16).astype(np.int32)], False, 1.0, width, cv2.LINE_AA, 4)
            across = (xs - (lid[0, 0] + lid[-1, 0]) / 2) / max((lid[-1, 0] - lid[0, 0]) / 2, 1.0)
            taper = 0.25 + 0.75 * np.sqrt(np.clip(1 - across**2, 0, 1))  # lashes thin out to the corners
            _blend(frame, box, skin * 0.3, cv2.GaussianBlur(lash, (0, 0), 0.8) * taper * 0.85 * strength)

    def _paint_mouth(self, frame: Frame, shape: MouthShape, dst: Field) -> None:
        """Paint the mouth cavity inside the warped inner-lip contour, feathered into the lips."""
        upper = lm.smooth_curve(dst[list(lm.INNER_UPPER)])
        lower = lm.smooth_curve(dst[list(lm.INNER_LOWER)])
        # A nearly closed mouth gets a thin seam, an open one a cavity grown over FaceMesh's inner lip line
        # (it runs a pixel or two inside the lips, and the photo's own teeth or lip shine would show there).
        gap = float(np.linalg.norm(dst[lm.LOWER_LIP] - dst[lm.UPPER_LIP])) / self.face_height
        grow = max(1, round(self.size / 256 * float(smoothstep(0.01, 0.04, gap))))
        box, mask = _polygon_mask(np.vstack([upper, lower[::-1][1:-1]]), 3 * grow, self.size)
        if mask.shape[0] < 2 or mask.shape[1] < 2:
            return
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        mask = np.asarray(cv2.dilate(mask, disc), np.float32)
        origin = np.array(box[:2], np.float32)
        colour = cavity(shape, upper - origin, lower - origin, mask, self.face_height, grow, self.palette)
        _blend(frame, box, colour, np.asarray(cv2.GaussianBlur(mask, (0, 0), 0.5 + 0.5 * grow), np.float32))


def _polygon_mask(outline: Field, pad: int, size: int) -> tuple[Box, npt.NDArray[np.float32]]:
    """An anti-aliased 0..1 mask of a polygon over its bounding box (plus `pad`), clipped to the frame."""
    x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + pad, size)
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.float32)
    if mask.size:
        cv2.fillPoly(mask, [np.round((outline - (x0, y0)) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    return (int(x0), int(y0), int(x1), int(y1)), mask


def _blend(frame: Frame, box: Box, colour: Field, alpha: npt.NDArray[np.float32]) -> None:
    x0, y0, x1, y1 = box
    patch = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (patch + (colour - patch) * alpha[..., None]).round().clip(0, 255).astype(np.uint8)
