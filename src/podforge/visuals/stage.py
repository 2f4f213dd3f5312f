"""The static layers of each layout, drawn once per episode: base images, highlighted tiles, avatar slots.

A tile that holds a talking avatar is drawn in layers: its panel, then (each frame) the avatar, then the
trim (name tag, outline).  Staging draws the panel, records the slot (the pixels under the avatar and the
trim over it, see ``avatars.tiles``), then draws the trim, so the base images look finished even before
any avatar is drawn into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..timeline import SpeakerInfo, Timeline
from . import cards
from ._draw import Box, Frame, Patch, fit_font, hex_rgb
from .avatars.tiles import AvatarSource, Slot, make_slot
from .layouts import Geometry

Sources = dict[str, AvatarSource | None]
Photos = dict[str, Image.Image | None]


@dataclass(frozen=True, eq=False)
class LitTile:
    """A highlighted speaker tile, already composed over the background, to copy over its box."""

    box: Box  # where the dimmed tile sits in the base image
    lit_box: Box  # the larger box the highlighted patch covers (ring, scale and glow)
    pixels: Frame


@dataclass(frozen=True, eq=False)
class Staged:
    bases: tuple[Frame, ...]
    tiles: tuple[LitTile, ...]  # duo: per speaker, the highlighted tile
    slots: Mapping[str, tuple[Slot, ...]]  # per speaker with an avatar: duo (dimmed, lit), otherwise (lit,)


def avatar_area(layout: str, geo: Geometry, index: int) -> Box:
    """Where speaker ``index``'s avatar goes: their tile, or in a full-frame shot, between title and visualiser."""
    if layout == "active-speaker":
        return 0, geo.title[3] + round(0.02 * geo.unit), geo.width, geo.visualizer[1]
    return geo.tiles[min(index, len(geo.tiles) - 1)]


def stage(
    timeline: Timeline, layout: str, geo: Geometry, clean: Frame, photos: Photos, cover: Image.Image | None,
    sources: Sources,
) -> Staged:  # fmt: skip
    """The layout's base images (one, or one per speaker's shot), highlighted tiles and avatar slots."""
    speakers = timeline.speakers
    if layout == "audiogram" or not speakers:
        x0, y0, x1, _ = geo.tiles[0]
        color = hex_rgb(next(iter(speakers.values())).color) if speakers else (90, 110, 160)
        base = clean.copy()
        Patch.from_image(cards.cover_art(cover, x1 - x0, timeline.title, color), x0, y0).blend(base)
        return Staged((base,), (), {})
    if layout == "duo":
        return _duo(timeline, geo, clean, photos, sources)
    shots = [
        _full_frame_shot(timeline, geo, info, photos[k], sources[k])
        if layout == "active-speaker"
        else _solo_base(geo, clean, info, photos[k], sources[k])
        for k, info in speakers.items()
    ]
    slots = {label: (slot,) for label, (_, slot) in zip(speakers, shots, strict=True) if slot is not None}
    return Staged(tuple(base for base, _ in shots), (), slots)


def _duo(timeline: Timeline, geo: Geometry, clean: Frame, photos: Photos, sources: Sources) -> Staged:
    base = clean.copy()
    tiles, slots = [], {}
    for (label, info), box in zip(timeline.speakers.items(), geo.tiles, strict=False):
        source, color = sources[label], hex_rgb(info.color)
        x0, y0, x1, y1 = box
        size = (x1 - x0, y1 - y0)
        Patch.from_image(cards.tile_panel(info, photos[label], size, False, source is None), x0, y0).blend(base)
        trim = cards.tile_trim(info, size, geo.unit, False)
        dim = make_slot(source, box, base, (trim, x0, y0), False, color, geo.unit) if source else None
        Patch.from_image(trim, x0, y0).blend(base)
        tile, lit = _lit_tile(geo, clean, info, photos[label], box, source)
        tiles.append(tile)
        if dim is not None and lit is not None:
            slots[label] = (dim, lit)
    return Staged((base,), tuple(tiles), slots)


def _lit_tile(
    geo: Geometry, clean: Frame, info: SpeakerInfo, photo: Image.Image | None, box: Box, source: AvatarSource | None
) -> tuple[LitTile, Slot | None]:
    """The highlighted tile: a little larger, ringed and haloed in the speaker's colour."""
    grow, spread, color = round(0.012 * geo.unit), round(0.009 * geo.unit), hex_rgb(info.color)
    x0, y0, x1, y1 = box
    area = (x0 - grow, y0 - grow, x1 + grow, y1 + grow)
    size = (area[2] - area[0], area[3] - area[1])
    art = cards.glow(cards.tile_panel(info, photo, size, True, source is None), color, spread)
    lx0, ly0 = area[0] - spread, area[1] - spread
    lit_box = (max(lx0, 0), max(ly0, 0), min(lx0 + art.width, geo.width), min(ly0 + art.height, geo.height))
    pixels = clean.copy()
    Patch.from_image(art, lx0, ly0).blend(pixels)
    trim = cards.tile_trim(info, size, geo.unit, True)
    slot = make_slot(source, area, pixels, (trim, area[0], area[1]), True, color, geo.unit) if source else None
    Patch.from_image(trim, area[0], area[1]).blend(pixels)
    crop = np.ascontiguousarray(pixels[lit_box[1] : lit_box[3], lit_box[0] : lit_box[2]])
    return LitTile(box, lit_box, crop), slot


def _solo_base(
    geo: Geometry, clean: Frame, info: SpeakerInfo, photo: Image.Image | None, source: AvatarSource | None
) -> tuple[Frame, Slot | None]:
    x0, y0, x1, y1 = box = geo.tiles[0]
    size, color, spread = (x1 - x0, y1 - y0), hex_rgb(info.color), round(0.009 * geo.unit)
    base = clean.copy()
    panel = cards.tile_panel(info, photo, size, True, source is None)
    Patch.from_image(cards.glow(panel, color, spread), x0 - spread, y0 - spread).blend(base)
    trim = cards.tile_trim(info, size, geo.unit, True)
    slot = make_slot(source, box, base, (trim, x0, y0), True, color, geo.unit) if source else None
    Patch.from_image(trim, x0, y0).blend(base)
    return base, slot


def _full_frame_shot(
    timeline: Timeline, geo: Geometry, info: SpeakerInfo, photo: Image.Image | None, source: AvatarSource | None
) -> tuple[Frame, Slot | None]:
    room, color = geo.visualizer[1], hex_rgb(info.color)
    art = cards.stage_art(info, photo, (geo.width, geo.height), room, source is None)
    frame = np.asarray(art.convert("RGB")).copy()
    tag = cards.name_tag(info.display_name, color, round(geo.unit * 0.03))
    x, y = geo.title[0], room - round(0.02 * geo.unit) - tag.height
    area = avatar_area("active-speaker", geo, 0)
    slot = make_slot(source, area, frame, (tag, x, y), True, color, geo.unit, feather=True) if source else None
    Patch.from_image(tag, x, y).blend(frame)
    draw_title(frame, timeline.title, geo)
    return frame, slot


def draw_title(frame: Frame, title: str, geo: Geometry) -> None:
    """The episode title in the top-left of the title-safe area."""
    if not title:
        return
    x0, y0, x1, y1 = geo.title
    face = fit_font(title, "medium", round((y1 - y0) / 1.3), x1 - x0)
    img = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((0, 0), title, font=face, fill=(255, 255, 255, 215))
    Patch.from_image(img, x0, y0).blend(frame)
