"""Small drawing helpers shared by the frame generator: colours, fonts, gradients, image files, patches.

Everything that is drawn more than once per episode is turned into a :class:`Patch` once: an
RGB image premultiplied by its alpha, stored as uint16 so that blending it into a frame is two
integer multiply-adds and a shift over its bounding box only, with no float conversion per frame.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import font_roboto
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from ..errors import MediaError

RGB = tuple[int, int, int]
Frame = npt.NDArray[np.uint8]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1, end-exclusive
# What a layer of a frame drew (a hashable key: equal keys draw equal pixels) and where; (None, None) for nothing.
Layer = tuple[Hashable, Box | None]

WEIGHTS = {
    "regular": font_roboto.Roboto,
    "medium": font_roboto.RobotoMedium,
    "bold": font_roboto.RobotoBold,
    "black": font_roboto.RobotoBlack,
}
WHITE: RGB = (255, 255, 255)


def hex_rgb(color: str) -> RGB:
    """`#rgb` or `#rrggbb` → (r, g, b)."""
    value = color.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


@lru_cache(maxsize=64)
def font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    # Fonts come from the font-roboto wheel only, so a render looks the same on every machine.
    return ImageFont.truetype(WEIGHTS[weight], max(6, int(size)))


def fit_font(text: str, weight: str, size: int, max_width: float) -> ImageFont.FreeTypeFont:
    """The largest font of at most ``size`` px whose rendering of ``text`` fits ``max_width``."""
    face = font(weight, size)
    width = face.getlength(text)
    if width <= max_width or not text:
        return face
    return font(weight, max(6, int(size * max_width / width)))


def initials(name: str) -> str:
    """ "Alex Chen" → "AC", "sam" → "S": what an avatar-less speaker's card shows."""
    parts = [p for p in name.replace("_", " ").replace("-", " ").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def gradient(width: int, height: int, top: RGB, bottom: RGB) -> Frame:
    """A vertical two-colour gradient, RGB uint8 (height, width, 3)."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    column = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.ascontiguousarray(np.broadcast_to(column[:, None, :], (height, width, 3)).round().astype(np.uint8))


def backdrop(width: int, height: int, color: RGB) -> Frame:
    """The episode background: the colour lifted at the top, darker at the bottom, with a soft vignette."""
    frame = gradient(width, height, mix(color, WHITE, 0.08), mix(color, (0, 0, 0), 0.35)).astype(np.float32)
    yy = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    vignette = 1.0 - 0.22 * np.clip(xx * xx * 0.6 + yy * yy * 0.6, 0.0, 1.0)
    return (frame * vignette[:, :, None]).round().astype(np.uint8)


#: Largest picture podforge decodes: a 64-megapixel photo; past it (or a header claiming 20000x20000) is refused.
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_SIDE = 16_384
MIN_IMAGE_SIDE = 16


def load_image(path: Path, what: str) -> Image.Image:
    """Open and decode an image the user named, or raise MediaError naming it and what to do."""
    try:
        if path.is_file() and path.stat().st_size == 0:
            raise MediaError(f"{path}: {what} file is empty (0 bytes); save the picture again")
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 megapixels; the dimension check below says it better.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_dimensions(path, what, img.size)
            img.load()
            return img.convert("RGBA")
    except FileNotFoundError as exc:
        raise MediaError(f"{path}: {what} file not found; check the path (relative to the script)") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{path}: {what} is far too large to decode safely; {_RESIZE_HINT}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"{path}: {what} file cannot be decoded as an image ({exc}); use a PNG or JPEG") from exc


_RESIZE_HINT = f"resize it to at most {MAX_IMAGE_SIDE} px a side and {MAX_IMAGE_PIXELS // 1_000_000} megapixels"


def _check_dimensions(path: Path, what: str, size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
        raise MediaError(f"{path}: {what} is {width}x{height} pixels, too large; {_RESIZE_HINT}")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise MediaError(
            f"{path}: {what} is {width}x{height} pixels, too small; use at least {MIN_IMAGE_SIDE} px a side"
        )


def cover_crop(img: Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``img`` to cover width x height and crop the centre, like CSS object-fit: cover."""
    scale = max(width / img.width, height / img.height)
    size = (max(width, round(img.width * scale)), max(height, round(img.height * scale)))
    scaled = img.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def rounded_mask(width: int, height: int, radius: int, supersample: int = 3) -> Image.Image:
    """An anti-aliased rounded-rectangle mask (drawn large and scaled down, as Pillow's is aliased)."""
    s = supersample
    big = Image.new("L", (width * s, height * s), 0)
    ImageDraw.Draw(big).rounded_rectangle((0, 0, width * s - 1, height * s - 1), radius * s, fill=255)
    return big.reduce(s)  # a box filter over s x s: exact coverage, and fast


def ellipse_mask(width: int, height: int, supersample: int = 3) -> Image.Image:
    """An anti-aliased ellipse mask filling a width x height box (drawn large and scaled down)."""
    s = supersample
    big = Image.new("L", (width * s, height * s), 0)
    ImageDraw.Draw(big).ellipse((0, 0, width * s - 1, height * s - 1), fill=255)
    return big.reduce(s)


@dataclass(frozen=True, eq=False)
class Patch:
    """A premultiplied RGBA overlay placed at (x, y), ready to blend into frames many times."""

    x: int
    y: int
    premul: npt.NDArray[np.uint16]  # rgb * a, a in 0..256
    keep: npt.NDArray[np.uint16]  # 256 - a, shape (h, w, 1)

    @classmethod
    def from_image(cls, img: Image.Image, x: int, y: int) -> Patch:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
        # 0..255 → 0..256 so that a >> 8 shift replaces a division by 255 when blending.
        alpha = rgba[:, :, 3:4] + (rgba[:, :, 3:4] >> 7)
        return cls(x, y, (rgba[:, :, :3] * alpha).astype(np.uint16), (256 - alpha).astype(np.uint16))

    @property
    def box(self) -> Box:
        h, w = self.keep.shape[:2]
        return self.x, self.y, self.x + w, self.y + h

    def blend(self, frame: Frame, opacity: float = 1.0) -> None:
        """Draw over ``frame`` in place, clipped to it; ``opacity`` < 1 fades the whole patch."""
        fh, fw = frame.shape[:2]
        x0, y0, x1, y1 = self.box
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
        if cx0 >= cx1 or cy0 >= cy1 or opacity <= 0.0:
            return
        sy, sx = slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0)
        premul, keep = self.premul[sy, sx], self.keep[sy, sx]
        if opacity < 1.0:
            # Split the multiply so uint16 never overflows: premul * k / 256 == hi * k + lo * k / 256.
            k, eight, full = np.uint16(min(255, round(opacity * 256))), np.uint16(8), np.uint16(256)
            premul = (premul >> eight) * k + (((premul & np.uint16(255)) * k) >> eight)
            keep = full - (((full - keep) * k) >> eight)
        region = frame[cy0:cy1, cx0:cx1]
        mixed = region * keep
        mixed += premul
        mixed >>= 8
        region[...] = mixed
