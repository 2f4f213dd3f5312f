"""The inside of an opened mouth for the talking photo: a shaded cavity, the tongue and both rows of teeth,
painted where the warped lips part (the lips themselves stay the photo's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from . import _landmarks as lm

if TYPE_CHECKING:
    from .photo import MouthShape

Field = npt.NDArray[np.float32]


def smoothstep(lo: npt.ArrayLike, hi: npt.ArrayLike, x: npt.ArrayLike) -> Field:
    low = np.asarray(lo, np.float32)
    t = np.clip((np.asarray(x, np.float32) - low) / (np.asarray(hi, np.float32) - low), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


RIM, DEEP = np.array([100, 44, 46], np.float32), np.array([24, 10, 12], np.float32)
TONGUE, ENAMEL, TIP = (np.array(c, np.float32) for c in ((160, 74, 80), (236, 230, 214), (176, 176, 178)))


def cavity(
    shape: MouthShape, upper: Field, lower: Field, mask: Field, face_height: float, grow: int, palette: lm.Palette
) -> Field:
    """The inside of the mouth as an RGB float patch: shaded cavity, tongue, upper and lower teeth."""
    xs = np.arange(mask.shape[1], dtype=np.float32)
    ys = np.arange(mask.shape[0], dtype=np.float32)[:, None]
    order_u, order_l = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    top = np.interp(xs, upper[order_u, 0], upper[order_u, 1])[None, :] - grow
    bottom = np.interp(xs, lower[order_l, 0], lower[order_l, 1])[None, :] + grow
    gap = np.maximum(bottom - top, 0.5)
    left, right = float(upper[:, 0].min()), float(upper[:, 0].max())
    half = max((right - left) / 2, 1.0)
    u = np.clip((xs - (left + right) / 2) / half, -1, 1)[None, :]
    # The lips' wet inner rim catches some light; a few pixels in, the cavity is near black.
    edge = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    colour = _mix(DEEP, RIM * palette.light, np.exp(-edge / (0.012 * face_height)))
    closed = 1 - smoothstep(0.012, 0.04, (gap - 2 * grow) / face_height)  # lips touching: a shadowed lip seam
    colour = _mix(colour, np.broadcast_to(palette.lip * 0.55, colour.shape), np.broadcast_to(closed * 0.7, gap.shape))
    if shape.tongue:
        crest = bottom - shape.tongue * gap * (1 - 0.6 * u**2)  # a mound, lower at the sides
        shade = 0.45 + 0.45 * smoothstep(0.0, 1.0, (ys - crest) / np.maximum(bottom - crest, 1.0))
        tongue = TONGUE * palette.light * (shade * (1 - 0.5 * u**2))[..., None]
        colour = _mix(colour, tongue, smoothstep(-1.5, 3.5, ys - crest) * (1 - u**2))
    colour = _teeth(colour, ys - top, np.minimum(shape.teeth * face_height, 0.6 * gap), u, half, palette.light)
    teeth = np.minimum(shape.lower_teeth * face_height, 0.35 * gap)
    return _teeth(colour, bottom - ys, teeth, u, half, 0.8 * palette.light)


TOOTH_GAPS = np.array([0.0, 0.3, 0.52, 0.7], np.float32)  # |u| between teeth: incisors, laterals, canines


def _teeth(colour: Field, below: Field, band: Field, u: Field, half: float, light: float) -> Field:
    """A row of teeth `band` px deep from a lip edge (`below` px away), shaded towards corners and lip."""
    if not np.any(band > 0.5):
        return colour
    to_gap = np.abs(np.abs(u)[..., None] - TOOTH_GAPS).min(axis=-1) * half  # px to the nearest gap between teeth
    seam = np.exp(-((to_gap / 0.8) ** 2))
    reach = band * np.sqrt(np.clip(1 - u**2 / 0.75, 0, 1)) - 0.6 * seam  # side teeth recede; tips are rounded
    inside = smoothstep(-1.0, 0.5, below) * (1 - smoothstep(-1.2, 0.6, below - reach)) * (reach > 0.5)
    shade = (0.5 + 0.5 * (1 - u**2)) * (0.72 + 0.28 * smoothstep(0.0, 0.35 * band + 0.5, below)) * (1 - 0.1 * seam)
    # The biting edge is thin enamel, greyer than the body of the tooth.
    tip = smoothstep(-2.5, 0.0, below - reach)[..., None] * 0.5
    enamel = np.minimum((ENAMEL * (1 - tip) + TIP * tip) * (light * shade)[..., None], 255)
    return _mix(colour, enamel, inside)


def _mix(a: Field, b: Field, t: npt.NDArray[np.float32]) -> Field:
    weight = t[..., None] if t.ndim == 2 else t
    return (a + (b - a) * weight).astype(np.float32)
