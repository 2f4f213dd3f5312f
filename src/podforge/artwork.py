"""Cover art: a user's image checked against the podcast directories' artwork rules, a generated cover,
and the small JPEG that goes inside the episode files (the MP3's APIC frame, the MP4's ``covr`` atom).

Apple Podcasts (and Spotify, which follows it) want show artwork square, 1400 to 3000 px a side, JPEG or
PNG with a matching file extension, in the RGB colour space. A user's image that breaks the size, shape or
format rules is an error (resizing or cropping someone's art silently would change what they designed);
one that is only in another colour space (greyscale, palette, CMYK, with an alpha channel) is converted to
RGB, transparency flattened onto white, because that conversion changes nothing a listener would notice.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, UnidentifiedImageError

from .errors import MediaError

MIN_SIDE = 1400
MAX_SIDE = 3000
GENERATED_SIDE = 3000
EMBED_SIDE = 1400  # the MP3/MP4 copy: still valid artwork, a few hundred KB rather than megabytes
_FORMATS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}
_JPEG_QUALITY = 90


@dataclass(frozen=True)
class CoverFile:
    """Cover art ready to publish: the bytes to write and the file extension that names their format."""

    data: bytes
    suffix: str
    side: int
    converted: bool = False


def cover_problems(path: Path) -> list[str]:
    """What is wrong with ``path`` as show artwork (empty when it can be published)."""
    try:
        with Image.open(path) as img:
            fmt, (width, height) = img.format or "", img.size
    except FileNotFoundError:
        return [f"cover file {path.name!r} not found (looked in {path.parent}); check the path"]
    except (UnidentifiedImageError, OSError) as exc:
        return [f"cover {path.name!r} cannot be read as an image ({exc}); save it as JPEG or PNG"]
    problems = []
    if fmt not in _FORMATS:
        problems.append(f"cover {path.name!r} is {fmt or 'an unknown format'}; save it as JPEG or PNG")
    elif path.suffix.lower() not in _FORMATS[fmt]:
        problems.append(f"cover {path.name!r} is a {fmt} file; name it with {' or '.join(_FORMATS[fmt])}")
    if width != height:
        problems.append(f"cover {path.name!r} is {width}x{height} px; podcast artwork must be square")
    elif not MIN_SIDE <= width <= MAX_SIDE:
        problems.append(
            f"cover {path.name!r} is {width}x{height} px; podcast artwork must be {MIN_SIDE} to {MAX_SIDE} px a side"
        )
    return problems


def publishable_cover(path: Path) -> CoverFile:
    """The user's cover as published: its own bytes when already RGB, else converted to RGB (same format)."""
    problems = cover_problems(path)
    if problems:
        raise MediaError(problems[0])
    with Image.open(path) as img:
        fmt, mode, side = img.format or "PNG", img.mode, img.width
        suffix = ".jpg" if fmt == "JPEG" else ".png"
        if mode == "RGB":
            return CoverFile(path.read_bytes(), suffix, side)
        img.load()
        rgb = _flattened(img)
    out = io.BytesIO()
    rgb.save(out, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return CoverFile(out.getvalue(), suffix, side, converted=True)


def _flattened(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def generated_cover(title: str, author: str, color: str, side: int = GENERATED_SIDE) -> CoverFile:
    """A cover drawn from the show's title and its host's colour with the bundled Roboto: a JPEG, RGB."""
    from .visuals._draw import WHITE, fit_font, gradient, hex_rgb, mix

    accent = hex_rgb(color)
    art = Image.fromarray(gradient(side, side, mix(accent, WHITE, 0.12), mix(accent, (0, 0, 0), 0.55)))
    draw = ImageDraw.Draw(art)
    lines = textwrap.wrap(title, 14)[:4] or [""]
    face = fit_font(max(lines, key=len), "black", round(side * 0.13), side * 0.84)
    leading = face.size * 1.12
    top = side * 0.46 - leading * (len(lines) - 1) / 2
    for n, line in enumerate(lines):
        draw.text((side / 2, top + n * leading), line, font=face, fill=WHITE, anchor="mm")
    bar_y = top + (len(lines) - 0.3) * leading
    draw.rectangle((side * 0.42, bar_y, side * 0.58, bar_y + side * 0.012), fill=WHITE)
    if author:
        byline = fit_font(author, "medium", round(side * 0.05), side * 0.8)
        draw.text((side / 2, bar_y + side * 0.08), author, font=byline, fill=mix(WHITE, accent, 0.15), anchor="mm")
    out = io.BytesIO()
    art.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return CoverFile(out.getvalue(), ".jpg", side)


def embedded_cover(path: Path) -> bytes:
    """``path`` as an RGB JPEG of at most :data:`EMBED_SIDE` px a side, for the MP3 and MP4 tags."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = _flattened(img)
    except FileNotFoundError as exc:
        raise MediaError(f"{path}: cover file not found; check the path (relative to the script)") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: cover file cannot be decoded as an image ({exc})") from exc
    rgb.thumbnail((EMBED_SIDE, EMBED_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()
