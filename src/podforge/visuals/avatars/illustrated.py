"""A flat-illustration talking bust (shoulders, neck, head) drawn with skia, one look per speaker.

Everything that does not change per frame (body, hair, face base with blush and shading) is rasterised once per style
into cached images; a frame copies the body, composites the cached head layers under the head's translate/rotate and
draws only eyes, brows and mouth as vectors (a few dozen small paths: cheaper than any sprite bookkeeping). Geometry is
authored on a 512 grid and scaled to ``AvatarStyle.size``.

Frames are RGBA uint8 with *premultiplied* alpha (composite with ``dst * (1 - a) + src``), transparent outside the
character.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import skia

from podforge.visuals.avatars.pose import MOUTH_SHAPES, AvatarPose

from .._draw import mix
from .style import GENDER_HAIR, GRID, HAIR_STYLES, PIVOT_Y, RGB, AvatarStyle, parse_rgb

__all__ = [
    "GENDER_HAIR",
    "GRID",
    "HAIR_STYLES",
    "MOUTH_SHAPES",
    "PIVOT_Y",
    "AvatarPose",
    "AvatarStyle",
    "IllustratedAvatar",
]

Draw = Callable[[skia.Canvas], None]
CX = 256.0  # the character's vertical axis
EYE_DX, EYE_Y, EYE_RX, EYE_RY = 39.0, 240.0, 15.0, 12.5
BROW_Y, MOUTH_Y = 212.0, 308.0
# fmt: off
SKINS = ("#fde0cb", "#f3c9a8", "#e8b48f", "#d39a6a", "#b57a4e", "#8d5a3b", "#6b4029", "#4a2c1d")
HAIRS = ("#1f1a17", "#3b2519", "#5e3b26", "#8a4b2a", "#c89a5a", "#2b2b36", "#9b9590")
IRISES = ("#4a2e1c", "#2d1f16", "#3f6e8f", "#4d7a4a", "#6b4a2b")
#: Face outlines as (cheek half-width, jaw half-width, jaw-corner y, chin y).
FACES = ((88.0, 66.0, 300.0, 352.0), (94.0, 76.0, 300.0, 346.0), (90.0, 80.0, 308.0, 348.0), (92.0, 60.0, 298.0, 354.0))
#: Mirrored half-outlines: (top y on the axis, then cubics as c1x, c1y, c2x, c2y, x, y with x measured from the axis).
#: Hair is authored for a face of cheek half-width 90 and stretched to the actual face.
_CAP = (63, 66, 102, 100, 99, 200, 98, 228, 92, 244, 87, 246)
_LONG = (64, 72, 60, 124, 110, 120, 240, 118, 380, 130, 440, 110, 444, 70, 446, 30, 440, 0, 440)
HAIR: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {  # (behind the head, in front of the face)
    "crop": ((), (66, *_CAP, 82, 200, 76, 164, 50, 152, 38, 146, 20, 142, 0, 150)),
    "long": (_LONG, (86, 45, 80, 106, 112, 106, 232, 106, 290, 102, 320, 96, 344, 84, 300, 86, 214, 66, 160, 38, 118,
                     22, 104, 0, 112)),
    "bob": ((*_LONG[:7], 118, 284, 130, 344, 110, 348, 70, 350, 30, 344, 0, 344),
            (64, 63, 62, 112, 104, 110, 220, 108, 280, 114, 322, 106, 338, 92, 300, 90, 222, 82, 190, 56, 184, 30, 190,
             0, 186)),
    "curly": ((), ()),  # built from circles in _hair_paths
    "bun": ((), (70, *_CAP[:6], 94, 214, 90, 222, 84, 224, 80, 190, 70, 150, 46, 132, 20, 124, 10, 124, 0, 126)),
}
SHIRT = (424, 24, 424, 44, 404, 50, 396, 90, 398, 150, 402, 186, 422, 214, 436, 228, 470, 232, 520, 150, 520, 60, 520,
         0, 520)
NECK = (270, 11, 270, 22, 270, 33, 270, 33, 360, 36, 400, 52, 436, 30, 436, 10, 436, 0, 436)
#: Open mouths: (width, upper depth, lower depth, lip thickness, roundness 0..1, upper-teeth depth, extra, floor) with
#: extra 0 none, 1 tongue low, 2 tongue raised to the teeth, 3 lower teeth too, 4 upper teeth on lower lip. The depths
#: only split the opening between the lips: how far the mouth opens is the pose's openness alone (OPEN_DEPTH per
#: unit), so the opening follows the loudness the same way whatever the shape. ``floor`` is the least openness
#: drawn, so quiet speech still shows B's teeth or F's pucker instead of a line.
OPEN_MOUTHS: dict[str, tuple[float, float, float, float, float, float, int, float]] = {
    "B": (50.0, 3.5, 7.0, 4.0, 0.0, 5.0, 3, 0.1),
    "C": (52.0, 8.0, 20.0, 4.5, 0.1, 6.0, 1, 0.05),
    "D": (58.0, 12.0, 31.0, 4.5, 0.15, 7.0, 1, 0.05),
    "E": (36.0, 10.0, 17.0, 6.0, 0.7, 5.0, 1, 0.1),
    "F": (19.0, 8.0, 10.0, 7.5, 1.0, 0.0, 0, 0.12),
    "G": (50.0, 4.5, 6.0, 4.5, 0.0, 0.0, 4, 0.1),
    "H": (52.0, 8.0, 22.0, 4.5, 0.1, 6.0, 2, 0.08),
}
OPEN_DEPTH = 57.0  # grid units of lip opening per unit of openness: D at its normal openness 0.9 is ~52
INTERIOR, TEETH, TONGUE = (96, 22, 46), (250, 247, 240), (214, 104, 112)
# fmt: on
_SAMPLING = skia.SamplingOptions(skia.FilterMode.kLinear)  # bilinear: sub-pixel head motion without jitter
_RGBA, _PREMUL = skia.kRGBA_8888_ColorType, skia.kPremul_AlphaType


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def _paint(rgb: RGB, alpha: int = 255, stroke: float = 0.0, blur: float = 0.0) -> skia.Paint:
    paint = skia.Paint(AntiAlias=True, Color=skia.Color(*rgb, alpha))
    if stroke:
        paint.setStyle(skia.Paint.kStroke_Style)
        paint.setStrokeWidth(stroke)
        paint.setStrokeCap(skia.Paint.kRound_Cap)
        paint.setStrokeJoin(skia.Paint.kRound_Join)
    if blur:  # only for the cached layers: a blur per frame would cost more than the whole frame
        paint.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, blur))
    return paint


def _path(x0: float, y0: float, *cubics: float, close: bool = False) -> skia.Path:
    """A path from (x0, y0) through cubics given as flat runs of (c1x, c1y, c2x, c2y, x, y)."""
    path = skia.Path()
    path.moveTo(x0, y0)
    for i in range(0, len(cubics), 6):
        path.cubicTo(*cubics[i : i + 6])
    if close:
        path.close()
    return path


def _sym(flat: Sequence[float], sx: float = 1.0) -> skia.Path:
    """A closed path mirrored about the axis from a half-outline (see HAIR), x offsets stretched by ``sx``."""
    if not flat:
        return skia.Path()
    pts = [(sx * flat[i], flat[i + 1]) for i in range(1, len(flat), 2)]
    starts = [(0.0, flat[0]), *pts[2:-1:3]]  # where each cubic begins, walked backwards for the mirrored half
    right = [v for i in range(len(pts)) for v in (CX + pts[i][0], pts[i][1])]
    left = [CX - pts[-1][0], pts[-1][1]] * 3  # a straight join across the axis at the bottom
    for i in range(len(pts) - 3, -1, -3):
        (ax, ay), (bx, by), (ex, ey) = pts[i], pts[i + 1], starts[i // 3]
        left += [CX - bx, by, CX - ax, ay, CX - ex, ey]
    return _path(CX, flat[0], *right, *left, close=True)


def _rrect(left: float, top: float, right: float, bottom: float) -> skia.RRect:
    return skia.RRect.MakeRectXY(skia.Rect.MakeLTRB(left, top, right, bottom), 3.0, 3.0)


def _face_path(face: tuple[float, float, float, float]) -> skia.Path:
    hw, jw, jy, chin = face
    mid = jw + (hw - jw) * 0.45
    return _sym((92, hw * 0.6, 92, hw, 130, hw, 225, hw, 262, mid, jy - 16, jw, jy, jw * 0.8, jy + 28, jw * 0.42, chin,
                 0, chin))  # fmt: skip


def _hair_paths(style: str, hw: float) -> tuple[skia.Path, skia.Path]:
    """(behind the head, in front of the face) silhouettes of a hair style for a face of cheek half-width ``hw``."""
    back, front = (_sym(flat, hw / 90.0) for flat in HAIR[style])
    if style == "curly":
        for i in range(13):  # a cloud of curls around the crown, behind the face
            a = math.pi * (0.95 + 1.1 * i / 12)
            back.addCircle(CX + (hw + 26) * math.cos(a), 186 + 112 * math.sin(a), 36 + 6 * (i % 2))
        back.addOval(skia.Rect.MakeLTRB(CX - hw - 40, 70, CX + hw + 40, 290))
        crown = skia.Path.Oval(skia.Rect.MakeLTRB(CX - hw - 8, 70, CX + hw + 8, 250))
        brow_line = skia.Path.Oval(skia.Rect.MakeLTRB(CX - hw + 12, 150, CX + hw - 12, 420))
        front = skia.Op(crown, brow_line, skia.kDifference_PathOp)
        curls = skia.Path()
        for i in range(9):  # curls along the hairline break up the cap's smooth edge
            a = math.pi * (1.2 + 0.6 * i / 8)
            curls.addCircle(CX + (hw - 12) * math.cos(a), 285 + 135 * math.sin(a), 15 - 3 * (i % 2))
        front = skia.Op(front, curls, skia.kUnion_PathOp)  # a union: overlapping circles would punch even-odd holes
    elif style == "bun":
        back.addCircle(CX, 62.0, 40.0)
    return back, front


GENDER_PICKS = {"female": ("long", "bun", "bob"), "male": ("crop",)}  # unambiguous, for a look that must change
GENDER_FACES = {"female": (0, 3), "male": (1, 2)}  # narrower or wider jaws (indices into FACES)


@dataclass(frozen=True)
class _Look:
    shirt: RGB
    skin: RGB
    hair: RGB
    iris: RGB
    face: tuple[float, float, float, float]
    hair_style: str

    @staticmethod
    def of(style: AvatarStyle) -> _Look:
        def pick(options: Sequence[object], step: int, offset: int) -> int:
            # Steps coprime with each palette's length: neighbouring seeds (hosts 0 and 1) differ in every feature.
            return (style.seed * step + offset) % len(options)

        hair_style, face = HAIR_STYLES[pick(HAIR_STYLES, 1, 0)], pick(FACES, 1, 1)
        if style.gender:
            hairs, faces = GENDER_HAIR[style.gender], GENDER_FACES[style.gender]
            picks = GENDER_PICKS[style.gender]
            hair_style = hair_style if hair_style in hairs else picks[style.seed % len(picks)]
            face = face if face in faces else faces[style.seed % len(faces)]
        return _Look(
            shirt=parse_rgb(style.color),
            skin=parse_rgb(SKINS[pick(SKINS, 3, 3)]),
            hair=parse_rgb(HAIRS[pick(HAIRS, 3, 1)]),
            iris=parse_rgb(IRISES[pick(IRISES, 2, 0)]),
            face=FACES[face],
            hair_style=style.hair or hair_style,
        )

    @property
    def lip(self) -> RGB:
        # Rosier and darker than light skin, rosier and lighter than deep skin: the lips must read on every tone.
        if sum(self.skin) < 260:
            return mix(self.skin, (180, 80, 100), 0.45)
        return mix(mix(self.skin, (190, 70, 90), 0.35), (0, 0, 0), 0.28)


Layer = tuple[skia.Image, int, int] | None


class IllustratedAvatar:
    """One speaker's character; :meth:`render` returns a premultiplied RGBA ``(size, size, 4)`` uint8 frame."""

    def __init__(self, style: AvatarStyle) -> None:
        self.style = style
        self._look = look = _Look.of(style)
        self._s = style.size / GRID
        self._frame = np.zeros((style.size, style.size, 4), np.uint8)
        self._surface = skia.Surface(self._frame, _RGBA, _PREMUL)  # draws straight into self._frame; keep it alive
        self._canvas = self._surface.getCanvas()
        self._face = _face_path(look.face)
        self._hair_back, self._hair_front = _hair_paths(look.hair_style, look.face[0])
        self._neck = _sym(NECK)
        body = self._raster(self._draw_body).makeImageSnapshot()
        self._body = body.toarray(colorType=_RGBA, alphaType=_PREMUL)
        self._back = self._layer(lambda c: c.drawPath(self._hair_back, _paint(mix(look.hair, (0, 0, 0), 0.2))))
        self._head = self._layer(self._draw_head)
        k, ry = EYE_RX * 0.55, EYE_RY / 0.75  # cubic control offset that puts the curve's extreme at EYE_RY
        self._eyes = [
            (ex, _path(ex - EYE_RX, EYE_Y, ex - k, EYE_Y - ry, ex + k, EYE_Y - ry, ex + EYE_RX, EYE_Y,
                       ex + k, EYE_Y + ry, ex - k, EYE_Y + ry, ex - EYE_RX, EYE_Y, close=True))
            for ex in (CX - EYE_DX, CX + EYE_DX)
        ]  # fmt: skip
        self._p = {
            "shadow": _paint(mix(look.skin, (40, 20, 30), 0.28)),
            "white": _paint((255, 255, 255)),
            "iris": _paint(look.iris),
            "pupil": _paint((22, 18, 20)),
            "lid": _paint(mix(look.skin, (60, 30, 30), 0.1)),
            "lash": _paint((43, 29, 26), stroke=3.0),
            "brow": _paint(mix(look.hair, (20, 14, 12), 0.35), stroke=6.5),
            "lip": _paint(look.lip),
            "lips": _paint(look.lip),
            "interior": _paint(INTERIOR),
            "teeth": _paint(TEETH),
            "tongue": _paint(TONGUE),
            "line": _paint(mix(look.lip, (25, 5, 12), 0.5), stroke=3.5),
            "under": skia.Paint(BlendMode=skia.BlendMode.kDstOver),  # draws beneath what is already there
        }
        self._p["lips"].setStyle(skia.Paint.kStrokeAndFill_Style)
        self._p["lips"].setStrokeJoin(skia.Paint.kRound_Join)

    def _raster(self, draw: Draw) -> skia.Surface:
        surface = skia.Surface.MakeRaster(skia.ImageInfo.Make(self.style.size, self.style.size, _RGBA, _PREMUL))
        canvas = surface.getCanvas()
        canvas.clear(0)
        canvas.scale(self._s, self._s)
        draw(canvas)
        return surface

    def _layer(self, draw: Draw) -> Layer:
        """Rasterise a static drawing once, cropped to its visible pixels: compositing cost follows the crop's area."""
        surface = self._raster(draw)
        alpha = surface.makeImageSnapshot().toarray(colorType=_RGBA, alphaType=_PREMUL)[:, :, 3]
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if not len(rows):
            return None
        box = skia.IRect.MakeLTRB(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        return surface.makeImageSnapshot(box), box.left(), box.top()

    def _draw_body(self, c: skia.Canvas) -> None:
        look = self._look
        c.drawPath(self._neck, _paint(mix(look.skin, (60, 30, 30), 0.08)))
        c.drawPath(_sym(SHIRT), _paint(look.shirt))
        collar = _path(CX - 50, 396, CX - 44, 404, CX - 24, 424, CX, 424, CX + 24, 424, CX + 44, 404, CX + 50, 396)
        c.drawPath(collar, _paint(mix(look.shirt, (0, 0, 0), 0.25), stroke=8.0))

    def _draw_head(self, c: skia.Canvas) -> None:
        look, face, hw = self._look, self._face, self._look.face[0]
        for side in (-1, 1):
            c.drawOval(skia.Rect.MakeXYWH(CX + side * (hw + 2) - 13, 232, 26, 40), _paint(look.skin))
            inner_ear = skia.Rect.MakeXYWH(CX + side * (hw + 3) - 6, 242, 12, 22)
            c.drawOval(inner_ear, _paint(mix(look.skin, (90, 40, 40), 0.2)))
        c.drawPath(face, _paint(look.skin))
        c.save()
        c.clipPath(face, doAntiAlias=True)
        lit = skia.Path(face)
        lit.offset(-11, -6)  # light from the upper left: the right and lower rim falls into shade
        c.drawPath(skia.Op(face, lit, skia.kDifference_PathOp), _paint(mix(look.skin, (60, 20, 40), 0.18)))
        for side in (-1, 1):
            c.drawOval(skia.Rect.MakeXYWH(CX + side * 54 - 16, 272, 32, 18), _paint((236, 110, 120), 60, blur=5.0))
        c.restore()
        nose = _path(CX - 7, 281, CX - 2.3, 285.7, CX + 2.3, 285.7, CX + 7, 281)
        c.drawPath(nose, _paint(mix(look.skin, (80, 30, 30), 0.3), stroke=3.5))
        c.drawPath(self._hair_front, _paint(look.hair))
        c.save()  # a soft sheen on the crown so the hair does not read as a flat cut-out
        c.clipPath(self._hair_front, doAntiAlias=True)
        sheen = _paint(mix(look.hair, (255, 255, 255), 0.3), 120, stroke=9.0)
        c.drawArc(skia.Rect.MakeLTRB(CX - hw + 14, 80, CX + hw - 14, 240), 200, 60, False, sheen)
        c.restore()

    def render(self, pose: AvatarPose) -> npt.NDArray[np.uint8]:
        """The frame for ``pose``: premultiplied RGBA, shape (size, size, 4), transparent around the character."""
        c, s = self._canvas, self._s
        np.copyto(self._frame, self._body)
        c.save()
        c.translate(s * pose.head_dx, s * pose.head_dy)
        c.rotate(pose.tilt_deg, s * CX, s * PIVOT_Y)
        head = c.getTotalMatrix()
        if self._back is not None:  # hair behind the neck and shoulders
            c.drawImage(self._back[0], self._back[1], self._back[2], _SAMPLING, self._p["under"])
        c.resetMatrix()
        c.scale(s, s)
        c.clipPath(self._neck, doAntiAlias=True)  # the jaw's shadow falls on the neck and follows the head
        c.setMatrix(head)
        c.scale(s, s)
        c.translate(0, 12)
        c.drawPath(self._face, self._p["shadow"])
        c.restore()
        c.save()
        c.setMatrix(head)
        if self._head is not None:
            c.drawImage(self._head[0], self._head[1], self._head[2], _SAMPLING)
        c.scale(s, s)
        self._draw_eyes(c, pose)
        self._draw_brows(c, pose)
        c.translate(CX, MOUTH_Y)
        self._draw_mouth(c, pose)
        c.restore()
        return self._frame.copy()  # the canvas keeps drawing into self._frame

    def _draw_eyes(self, c: skia.Canvas, pose: AvatarPose) -> None:
        p, blink, gaze = self._p, _clamp(pose.blink, 0.0, 1.0), 5.0 * _clamp(pose.gaze, -1.0, 1.0)
        k, y = EYE_RX * 0.55, EYE_Y
        lid_y = y - (1.0 - 2.0 * blink) * EYE_RY / 0.75  # the lid is the eye's top contour swung down: at 1, the bottom
        for ex, eye in self._eyes:
            lid = _path(ex - EYE_RX - 1, y, ex - k, lid_y, ex + k, lid_y, ex + EYE_RX + 1, y)
            c.save()
            c.clipPath(eye, doAntiAlias=True)
            c.drawPath(eye, p["white"])
            c.drawCircle(ex + gaze, y + 1.0, 9.5, p["iris"])
            c.drawCircle(ex + gaze, y + 1.0, 5.0, p["pupil"])
            c.drawCircle(ex + gaze + 3.0, y - 2.5, 2.6, p["white"])
            if blink > 0.0:
                cover = skia.Path(lid)
                cover.lineTo(ex + EYE_RX + 1, y - EYE_RY - 2)
                cover.lineTo(ex - EYE_RX - 1, y - EYE_RY - 2)
                c.drawPath(cover, p["lid"])
            c.restore()
            c.drawPath(lid, p["lash"])

    def _draw_brows(self, c: skia.Canvas, pose: AvatarPose) -> None:
        lift = 7.0 * _clamp(pose.brow, 0.0, 1.0)
        inner = 3.0 if pose.listening else 0.0  # raised inner ends read as warm attention
        for d in (-1.0, 1.0):
            y0, y1, top = BROW_Y + 3 - lift - inner, BROW_Y + 2 - 0.6 * lift, BROW_Y - 6 - lift
            c.drawPath(_path(CX + d * 20, y0, CX + d * 32, top, CX + d * 44, top, CX + d * 56, y1), self._p["brow"])

    def _draw_mouth(self, c: skia.Canvas, pose: AvatarPose) -> None:
        """Draw the mouth centred on the origin (grid units)."""
        p = self._p
        spec = OPEN_MOUTHS.get(pose.mouth)
        if spec is not None:
            self._draw_open_mouth(c, spec, _clamp(pose.openness, 0.0, 1.2))
        elif pose.mouth == "A":  # lips pressed together: a full lip band cut by a dark seam
            c.drawPath(_path(-25, 0, -12, -10, 12, -10, 25, 0, 12, 10, -12, 10, -25, 0, close=True), p["lip"])
            c.drawPath(_path(-24, 0, -8, 1.3, 8, 1.3, 24, 0), p["line"])
            for d in (-1.0, 1.0):  # small creases where the pressed lips bunch at the corners
                c.drawPath(_path(d * 26.5, -2.5, d * 28, -1, d * 28, 1, d * 26.5, 2.5), p["line"])
        else:  # X, rest: a relaxed closed smile, broader when listening
            smile = 1.0 if pose.listening else 0.35
            x, y, dip = 22 + 3 * smile, -2 - 3 * smile, (5 + 10 * smile) / 3  # cubic form of a quadratic curve
            c.drawPath(_path(-x, y, -x / 3, y + 2 * dip, x / 3, y + 2 * dip, x, y), p["line"])

    def _draw_open_mouth(self, c: skia.Canvas, spec: tuple[float, ...], o: float) -> None:
        """An opening between two lip curves; teeth and tongue are clipped to it so they never spill over the lips."""
        p = self._p
        width, up, down, lip, roundness, teeth, extra, floor = spec
        o = max(o, floor)
        w = 0.5 * width * (0.85 + 0.15 * min(o, 1.0))
        depth = OPEN_DEPTH * o / (up + down)
        up, down, k = up * depth, down * depth, w * (0.5 + 0.5 * roundness)
        hole = _path(-w, 0, -k, -up, k, -up, w, 0, k, down, -k, down, -w, 0, close=True)
        p["lips"].setStrokeWidth(2.0 * lip)  # the stroke's outer half is the lips; the interior covers the inner half
        c.drawPath(hole, p["lips"])
        c.drawPath(hole, p["interior"])
        top, bottom = -0.75 * up, 0.75 * down
        c.save()
        c.clipPath(hole, doAntiAlias=True)
        if teeth:
            c.drawRRect(_rrect(-0.72 * w, top - 4, 0.72 * w, top + teeth), p["teeth"])
        if extra == 3:  # lower teeth too, a thin dark gap between the rows
            c.drawRRect(_rrect(-0.65 * w, 0.8, 0.65 * w, bottom + 4), p["teeth"])
        elif extra == 1:  # tongue resting on the floor of the mouth
            span = bottom - top
            c.drawOval(skia.Rect.MakeLTRB(-0.6 * w, bottom - 0.45 * span, 0.6 * w, bottom + 0.3 * span), p["tongue"])
        elif extra == 2:  # L / TH: tongue tip raised to the upper teeth
            c.drawOval(
                skia.Rect.MakeLTRB(-0.42 * w, top + teeth - 2, 0.42 * w, bottom + 0.6 * (bottom - top)), p["tongue"]
            )
        c.restore()
        if extra == 4:  # F / V: upper teeth resting on the lower lip, so drawn outside the opening's clip
            c.drawRRect(_rrect(-0.62 * w, top - 2, 0.62 * w, bottom + 0.7 * lip), p["teeth"])
