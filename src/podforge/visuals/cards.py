"""The pictures drawn once per episode: speaker tiles, cover, title card, name straps, chapter cards.

Everything here runs at plan time and returns Pillow RGBA images; the frame loop only blits or
blends what these produce.  A speaker without an avatar is shown by their portrait file, or by an
initials card in their colour; a tile that holds an avatar is drawn in layers (panel, then the
avatar each frame, then the trim: name tag and outline).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from ..timeline import SpeakerInfo
from ._draw import (
    RGB,
    WHITE,
    cover_crop,
    ellipse_mask,
    fit_font,
    font,
    gradient,
    hex_rgb,
    initials,
    load_image,
    mix,
    rounded_mask,
)

ENGINE_PREFIX = re.compile(r"^([a-z][a-z0-9_-]+):(?![\\/])(.*)$")
_BLACK: RGB = (0, 0, 0)
DIM_BRIGHTNESS = 0.55
DIM_SATURATION = 0.7
FAINT = (255, 255, 255, 40)  # an unlit tile's outline


def portrait(avatar: str, base_dir: Path) -> Image.Image | None:
    """The speaker's still portrait image, if their avatar names an image file.

    A path, bare ("faces/sam.jpg") or as "photo:faces/sam.jpg", is explicit: missing or broken is a
    MediaError (``podforge check`` reports it with its line first).  Other engines' values
    ("sadtalker:x.jpg") use the file when it is there.  The still is what shows when no talking
    avatar is drawn (see :func:`avatar_spec`): a tile too small for a face, a picture in which no
    face is found; otherwise the tile shows an initials card.
    """
    value = avatar.strip()
    match = ENGINE_PREFIX.match(value)
    if match:
        path = base_dir / match.group(2)
        if match.group(1) == "photo" and match.group(2):
            return load_image(path, "portrait")
        return load_image(path, "portrait") if match.group(2) and path.is_file() else None
    if not value or ("/" not in value and "\\" not in value and "." not in value):
        return None
    return load_image(base_dir / value, "portrait")


def avatar_spec(avatar: str, base_dir: Path) -> tuple[bool, Path | None]:
    """(whether the speaker gets a talking avatar, the photo it animates, or None for the illustrated one).

    "illustrated" draws one; "photo:faces/x.jpg" or a bare image path animates that photo.  A bare
    "photo" gets the illustrated avatar: podforge has no generator for a default portrait.  "" and
    other engines' values ("sadtalker:...") keep the card :func:`portrait` gives.  Call
    :func:`portrait` first: it raises for a missing or broken file.
    """
    value = avatar.strip()
    match = ENGINE_PREFIX.match(value)
    if match:
        engine, path = match.group(1), base_dir / match.group(2)
        if engine == "photo":
            return True, path if match.group(2) else None
        return engine == "illustrated", None
    if value in ("illustrated", "photo"):
        return True, None
    if not value or ("/" not in value and "\\" not in value and "." not in value):
        return False, None
    return True, base_dir / value


def _initials_art(name: str, color: RGB, size: tuple[int, int], disc: int, centre_y: float = 0.5) -> Image.Image:
    """A panel in a deep shade of the speaker's colour with a disc of their initials (none when ``disc`` is 0)."""
    width, height = size
    art = Image.fromarray(gradient(width, height, mix(color, _BLACK, 0.55), mix(color, _BLACK, 0.8))).convert("RGBA")
    if disc <= 0:  # an avatar stands in for the disc
        return art
    circle = Image.new("RGBA", (disc, disc), (*color, 255))
    shade = Image.fromarray(gradient(disc, disc, mix(color, WHITE, 0.18), mix(color, _BLACK, 0.12))).convert("RGBA")
    round_mask = ellipse_mask(disc, disc)
    circle = Image.composite(shade, circle, round_mask)
    circle.putalpha(round_mask)
    text = initials(name)
    face = fit_font(text, "bold", round(disc * 0.42), disc * 0.7)
    ImageDraw.Draw(circle).text((disc / 2, disc / 2), text, font=face, fill=(255, 255, 255, 255), anchor="mm")
    art.alpha_composite(circle, ((width - disc) // 2, round(height * centre_y - disc / 2)))
    return art


def stage_art(
    info: SpeakerInfo, photo: Image.Image | None, size: tuple[int, int], room: int, disc: bool = True
) -> Image.Image:
    """A full-frame shot of one speaker; the initials disc (unless ``disc`` is off) sits in the top ``room`` px."""
    width, height = size
    color = hex_rgb(info.color)
    if photo is not None:
        art = cover_crop(photo, width, height)
    else:
        side = round(min(width * 0.8, room * 0.62)) if disc else 0
        art = _initials_art(info.display_name, color, size, side, centre_y=room * 0.55 / height)
    return art


def name_tag(name: str, color: RGB | None, size: int) -> Image.Image:
    """A small dark pill with the name, a dot in the speaker's colour when ``color`` is given."""
    face = font("medium", size)
    pad, dot = round(size * 0.55), round(size * 0.5) if color else 0
    width = round(face.getlength(name)) + 2 * pad + (dot + pad // 2 if color else 0)
    height = round(size * 1.7)
    tag = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tag)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), height // 2, fill=(8, 10, 14, 170))
    x = pad
    if color:
        draw.ellipse((x, (height - dot) / 2, x + dot, (height + dot) / 2), fill=(*color, 255))
        x += dot + pad // 2
    draw.text((x, height / 2), name, font=face, fill=(255, 255, 255, 235), anchor="lm")
    return tag


def tile_panel(
    info: SpeakerInfo, photo: Image.Image | None, size: tuple[int, int], lit: bool, disc: bool = True
) -> Image.Image:
    """A tile's rounded background: the portrait, or the speaker's colour with their initials unless ``disc`` is off."""
    width, height = size
    if photo is not None:
        art = cover_crop(photo, width, height)
    else:
        # The disc sits a little high, leaving the lower third of the tile to the name strap.
        side = round(min(width, height) * 0.48) if disc else 0
        art = _initials_art(info.display_name, hex_rgb(info.color), size, side, centre_y=0.42)
    if not lit:
        art = dim(art)
    art.putalpha(rounded_mask(width, height, tile_radius(size)))
    return art


def tile_trim(info: SpeakerInfo, size: tuple[int, int], unit: int, lit: bool) -> Image.Image:
    """What lies on top of a tile's panel (and of an avatar drawn into it): the name tag and the outline."""
    height = size[1]
    color = hex_rgb(info.color)
    trim = Image.new("RGBA", size, (0, 0, 0, 0))
    tag = name_tag(info.display_name, color if lit else None, round(unit * 0.024))
    inset = round(unit * 0.022)
    trim.alpha_composite(tag if lit else dim(tag), (inset, height - inset - tag.height))
    ring = ring_width(unit) if lit else max(1, round(unit * 0.002))
    trim.alpha_composite(outline(size, tile_radius(size), (*color, 255) if lit else FAINT, ring))
    return trim


def tile_radius(size: tuple[int, int]) -> int:
    return round(min(size) * 0.06)


def outline(size: tuple[int, int], radius: int, color: tuple[int, int, int, int], ring: int) -> Image.Image:
    """An anti-aliased rounded-rectangle outline ``ring`` px wide, inside the edge of a ``size`` box."""
    width, height = size
    # Transparent pixels carry the outline's colour so the box-filter reduce does not darken the edge.
    border = Image.new("RGBA", (width * 3, height * 3), (*color[:3], 0))
    ImageDraw.Draw(border).rounded_rectangle(
        (0, 0, width * 3 - 1, height * 3 - 1), radius * 3, outline=color, width=ring * 3
    )
    return border.reduce(3)


def dim(img: Image.Image) -> Image.Image:
    """The image as an inactive speaker's tile shows it: less saturated and darker, alpha kept."""
    rgb = ImageEnhance.Color(img.convert("RGB")).enhance(DIM_SATURATION)
    out = ImageEnhance.Brightness(rgb).enhance(DIM_BRIGHTNESS).convert("RGBA")
    out.putalpha(img.getchannel("A"))
    return out


# dim_pixels in 12-bit fixed point: out = (own * p + grey_weights . rgb + half) >> 12, within 1 of the float maths.
_DIM_BITS = 12
_DIM_OWN = np.uint32(round(DIM_BRIGHTNESS * DIM_SATURATION * 2**_DIM_BITS))
_DIM_GREY = tuple(
    np.uint32(round(DIM_BRIGHTNESS * (1 - DIM_SATURATION) * w * 2**_DIM_BITS)) for w in (0.299, 0.587, 0.114)
)


def dim_pixels(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """:func:`dim` for an RGB (or premultiplied) array, so avatars drawn each frame match their dimmed tile.

    Runs for every new pose of a listening avatar, so integers: the float version took ~7 ms at 396 px, this ~1.
    Brightness < 1 keeps every result <= 255, so no clip is needed.
    """
    pixels = rgb.astype(np.uint32)
    grey = pixels[..., 0] * _DIM_GREY[0]  # Pillow's L conversion, scaled
    grey += pixels[..., 1] * _DIM_GREY[1]
    grey += pixels[..., 2] * _DIM_GREY[2]
    grey += np.uint32(1 << (_DIM_BITS - 1))
    pixels *= _DIM_OWN
    pixels += grey[..., None]
    pixels >>= _DIM_BITS
    return pixels.astype(np.uint8)


def ring_width(unit: int) -> int:
    return max(3, round(unit * 0.011))


def glow(tile: Image.Image, color: RGB, spread: int) -> Image.Image:
    """``tile`` on a soft halo of ``color``, ``spread`` px larger on each side."""
    out = Image.new("RGBA", (tile.width + 2 * spread, tile.height + 2 * spread), (*color, 0))
    halo = Image.new("L", out.size, 0)
    halo.paste(tile.getchannel("A").point(lambda a: a * 0.55), (spread, spread))
    out.putalpha(halo.filter(ImageFilter.GaussianBlur(spread / 2)))
    out.alpha_composite(tile, (spread, spread))
    return out


def cover_art(photo: Image.Image | None, side: int, title: str, color: RGB) -> Image.Image:
    """The square cover: the user's image, or a generated card with the title in the host's colour."""
    if photo is not None:
        art = cover_crop(photo, side, side)
    else:
        art = Image.fromarray(gradient(side, side, mix(color, WHITE, 0.1), mix(color, _BLACK, 0.45))).convert("RGBA")
        draw = ImageDraw.Draw(art)
        lines = textwrap.wrap(title, 16)[:4] or [""]
        face = fit_font(max(lines, key=len), "black", round(side * 0.11), side * 0.8)
        leading = face.size * 1.15
        # The title sits in the upper part: a name strap may cover the lower fifth while someone is introduced.
        top = side * 0.42 - leading * (len(lines) - 1) / 2
        draw.rectangle(
            (side * 0.42, top - leading * 0.95, side * 0.58, top - leading * 0.95 + side * 0.015), fill=WHITE
        )
        for n, line in enumerate(lines):
            draw.text((side / 2, top + n * leading), line, font=face, fill=(255, 255, 255, 255), anchor="mm")
    art.putalpha(rounded_mask(side, side, round(side * 0.05)))
    return art


def title_card(size: tuple[int, int], title: str, speakers: list[SpeakerInfo], background: RGB) -> Image.Image:
    """The opening card: the episode title large, who is on it below, over the episode background."""
    width, height = size
    unit = min(width, height)
    accent = hex_rgb(speakers[0].color) if speakers else WHITE
    card = Image.fromarray(gradient(width, height, mix(background, accent, 0.18), mix(background, _BLACK, 0.4)))
    draw = ImageDraw.Draw(card)
    lines = textwrap.wrap(title, 22 if width >= height else 16)[:3] or [""]
    face = fit_font(max(lines, key=len), "black", round(unit * 0.09), width * 0.84)
    leading = face.size * 1.12
    top = height * 0.47 - leading * (len(lines) - 2) / 2  # the title, rule and names centred as one block
    for n, line in enumerate(lines):
        draw.text((width / 2, top + n * leading), line, font=face, fill=WHITE, anchor="ms")
    bar_y = top + (len(lines) - 1) * leading + unit * 0.045
    draw.rectangle((width / 2 - unit * 0.06, bar_y, width / 2 + unit * 0.06, bar_y + unit * 0.008), fill=accent)
    _speaker_line(draw, speakers, (width / 2, bar_y + unit * 0.085), unit, width * 0.9)
    return card.convert("RGBA")


def _speaker_line(
    draw: ImageDraw.ImageDraw, speakers: list[SpeakerInfo], at: tuple[float, float], unit: int, room: float
) -> None:
    """Speaker names in their colours, separated by dots, centred on ``at``."""
    names = [s.display_name for s in speakers]
    joined = "  ·  ".join(names)
    face = fit_font(joined, "medium", round(unit * 0.042), room)
    x = at[0] - face.getlength(joined) / 2
    for n, info in enumerate(speakers):
        draw.text((x, at[1]), info.display_name, font=face, fill=hex_rgb(info.color), anchor="ls")
        x += face.getlength(info.display_name)
        if n + 1 < len(speakers):
            draw.text((x, at[1]), "  ·  ", font=face, fill=(200, 200, 200), anchor="ls")
            x += face.getlength("  ·  ")


def name_strap(name: str, color: RGB, unit: int, max_width: float) -> Image.Image:
    """A lower-third strap: an accent bar and the display name in the speaker's colour."""
    bar, pad = max(4, round(unit * 0.009)), round(unit * 0.028)
    face = fit_font(name, "bold", round(unit * 0.045), max_width - bar - 2 * pad)
    width, height = round(face.getlength(name)) + bar + 2 * pad, round(unit * 0.085)
    strap = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(strap)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), round(unit * 0.01), fill=(10, 12, 18, 215))
    draw.rectangle((0, 0, bar - 1, height - 1), fill=(*color, 255))
    draw.text((bar + pad, height / 2), name, font=face, fill=(*mix(color, WHITE, 0.15), 255), anchor="lm")
    return strap


def chapter_card(title: str, accent: RGB, unit: int, max_width: float) -> Image.Image:
    """A centred banner announcing a chapter."""
    label_face = font("bold", round(unit * 0.024))
    face = fit_font(title, "bold", round(unit * 0.055), max_width - unit * 0.12)
    pad = round(unit * 0.04)
    width = round(max(face.getlength(title), label_face.getlength("CHAPTER"))) + 2 * pad
    height = round(unit * 0.024 + face.size * 1.25 + pad * 1.8)
    card = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), round(unit * 0.02), fill=(10, 12, 18, 220))
    draw.text((width / 2, pad * 0.8), "CHAPTER", font=label_face, fill=(*accent, 255), anchor="mt")
    draw.text((width / 2, height - pad * 0.8), title, font=face, fill=(255, 255, 255, 255), anchor="md")
    return card
