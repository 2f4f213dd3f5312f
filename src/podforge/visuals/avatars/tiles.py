"""Talking avatars inside the speaker tiles: which kind each speaker gets, where it sits, and a cache of its pixels.

An avatar appears in *slots*: its tile dimmed (someone else has the floor) or lit, or its full-frame shot.  A slot
holds the background under the avatar and what lies on top of it (name tag, outlines), both fixed for the episode,
so a finished slot image depends on the avatar's pose alone.  Poses are quantised (openness to eighths, blink to
three steps, head motion to whole output pixels, tilt to steps that move the crown ~1.5 px) and the finished
images kept in a small LRU per speaker: a listener who barely moves hits it most frames and costs one copy; a
speaker costs one avatar render and one blend.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from ...cache import ContentCache
from ...errors import EngineError, MediaError
from .. import cards
from .._draw import RGB, Box, Frame, Layer, Patch, load_image, rounded_mask
from .._lru import lru_get, lru_put
from .pose import AvatarPose
from .style import GRID, PIVOT_Y, AvatarStyle
from .track import Floats, MouthTrack, pose_track

if TYPE_CHECKING:
    from .photo import PhotoAvatar
    from .talking import ClipFrames

log = logging.getLogger(__name__)

MIN_SIZE = 64  # the illustrated renderer's smallest size; a smaller face does not read, the initials card does
# Largest avatar side, as a share of min(frame width, height): render cost grows with the area.  Where one
# speaker fills the screen (solo, active-speaker) a larger face is worth it; two side by side must stay cheap.
MAX_SHARE, MAX_SHARE_ALONE = 0.55, 0.7
PHOTO_MARGIN = 0.06  # of the tile's short side, around a photo's rounded square
CACHE_BYTES = 12 * 2**20  # finished slot images kept per speaker
CACHE_ENTRIES = (8, 96)
OPEN_STEP, BLINK_STEP, GAZE_STEP = 1 / 8, 1 / 2, 1 / 4
CROWN_Y = 66.0  # top of the illustrated head on its 512 grid: what a tilt moves furthest


def _q(value: float, step: float) -> float:
    return round(value / step) * step


class Art(Protocol):
    """One speaker's renderer: a pose's cache key, and the finished pixels of a slot for a key."""

    def key(self, pose: AvatarPose, i: int) -> Hashable: ...

    def compose(self, key: Hashable, slot: Slot) -> Frame: ...


@dataclass(frozen=True, eq=False)
class Slot:
    """One place an avatar is shown: ``box`` in the frame, what lies under and over it there."""

    box: Box
    under: Frame
    over: Patch  # relative to the box's top-left
    dim: bool
    fade: npt.NDArray[np.uint16] | None = None  # per row 0..256: a bust's bottom edge dissolving into the backdrop


@dataclass(frozen=True, eq=False)
class AvatarSource:
    """What a speaker's avatar is drawn from, at its drawn size: an illustrated style, a fitted photo, or a
    talking-head tool's frames (with the portrait, ``idle``, between lines)."""

    size: int
    style: AvatarStyle | None = None
    photo: PhotoAvatar | None = None
    pad: int = 0  # the photo is rendered this much larger on every side, so head motion can move its crop
    talking: ClipFrames | None = None
    idle: Frame | None = None

    @property
    def framed(self) -> bool:
        """Shown in a rounded square (a photo, a tool's video) rather than as a free-standing bust."""
        return self.photo is not None or self.talking is not None

    def art(self) -> Art:
        if self.talking is not None and self.idle is not None:
            return TalkingArt(self.talking, self.idle, self.size)
        if self.photo is not None:
            return PhotoArt(self.photo, self.size, self.pad)
        assert self.style is not None
        return IllustratedArt(self.style)

    def place(self, area: Box) -> Box:
        """The avatar's box in ``area``: a bust stands on its bottom edge, a photo is centred in it."""
        x0, y0, x1, y1 = area
        left = (x0 + x1) // 2 - self.size // 2
        top = (y0 + y1) // 2 - self.size // 2 if self.framed else y1 - self.size
        return left, top, left + self.size, top + self.size


def avatar_size(photo: bool, area: Box, unit: int, alone: bool = False) -> int:
    """The side of the square avatar drawn in ``area`` (a tile, or the stage of a full-frame shot)."""
    w, h = area[2] - area[0], area[3] - area[1]
    # A photo's square sits inside a margin; a bust fills the height, clear of the tile's rounded bottom corners.
    side = min(w, h) - 2 * round(PHOTO_MARGIN * min(w, h)) if photo else min(h, w - 2 * cards.tile_radius((w, h)))
    return min(side, round((MAX_SHARE_ALONE if alone else MAX_SHARE) * unit))


def avatar_source(
    color: RGB, seed: int, photo: Path | None, size: int, cache: ContentCache | None, look: tuple[str, str] = ("", "")
) -> AvatarSource | None:
    """The speaker's avatar at ``size`` px, or None when the tile is too small or the photo cannot be animated.
    ``look`` is (gender, hair style) for an illustrated bust, each "" when not known or not chosen."""
    if size < MIN_SIZE:
        return None
    if photo is None:
        return AvatarSource(size, style=AvatarStyle("#{:02x}{:02x}{:02x}".format(*color), seed, size, *look))
    pad = max(2, round(8 * size / GRID))  # a little more than pose_at's largest head offset
    try:
        from .photo import PhotoAvatar

        return AvatarSource(size, photo=PhotoAvatar(photo, size + 2 * pad, cache), pad=pad)
    except (MediaError, EngineError, ImportError) as exc:
        # A logo or a drawing has no face to find: it is still a fine picture, so it is shown as one.
        log.warning("%s: shown as a still picture, not animated (%s)", photo, exc)
        return None


def talking_source(frames: ClipFrames, size: int) -> AvatarSource:
    """A tool-animated speaker at ``size`` px; between lines the portrait shows, cropped as the tool's video is."""
    from .talking import square_crop

    portrait = load_image(frames.track.portrait, "portrait").convert("RGB")
    still = Image.fromarray(square_crop(np.asarray(portrait))).resize((size, size), Image.Resampling.LANCZOS)
    return AvatarSource(size, talking=frames, idle=np.asarray(still).copy())


def make_slot(
    source: AvatarSource, area: Box, canvas: Frame, trim: tuple[Image.Image, int, int], lit: bool, ring: RGB, unit: int,
    *, feather: bool = False,
) -> Slot:  # fmt: skip
    """The slot for ``source`` in ``area`` of ``canvas`` (frame coordinates, drawn up to the avatar's layer).

    ``feather`` fades a bust's lowest fifth out: standing free in a full-frame shot rather than on a tile's
    edge, a hard cut across the chest looks like a cut-out.
    """
    x0, y0, x1, y1 = box = source.place(area)
    over = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    if source.framed:  # the photo's own frame, as the tile's: the speaker's colour when lit
        # Thinner than the tile's ring around it: two full rings nested read as a heavy double border.
        width, color = (
            (cards.ring_width(unit) // 2 + 1, (*ring, 255)) if lit else (max(1, round(unit * 0.002)), cards.FAINT)
        )
        over.alpha_composite(cards.outline(over.size, cards.tile_radius(over.size), color, width))
    image, tx, ty = trim
    over.alpha_composite(image.crop((x0 - tx, y0 - ty, x1 - tx, y1 - ty)))
    bbox = over.getchannel("A").getbbox() or (0, 0, 1, 1)  # blending only what is drawn makes a miss cheaper
    patch = Patch.from_image(over.crop(bbox), bbox[0], bbox[1])
    fade = None
    if feather and not source.framed:
        t = np.clip((np.arange(source.size) - 0.8 * source.size) / (0.2 * source.size), 0.0, 1.0)
        fade = np.round(256 * (1 - t * t * (3 - 2 * t))).astype(np.uint16)[:, None, None]
    return Slot(box, np.ascontiguousarray(canvas[y0:y1, x0:x1]), patch, not lit, fade)


def _over_premultiplied(under: Frame, premul: Frame, alpha: npt.NDArray[np.uint8]) -> Frame:
    a = alpha.astype(np.uint16)
    a += a >> 7  # 0..255 -> 0..256, so a shift divides
    out = under.astype(np.uint16) * (256 - a)
    out >>= 8
    out += premul
    return np.minimum(out, 255).astype(np.uint8)


class IllustratedArt:
    """The illustrated bust; a key is the pose itself, quantised, and that quantised pose is what gets drawn."""

    def __init__(self, style: AvatarStyle) -> None:
        from .illustrated import IllustratedAvatar  # here, not above: only this avatar needs skia

        self.avatar = IllustratedAvatar(style)
        self._px = GRID / style.size  # pose offsets are on the 512 grid: this is one output pixel
        # Whole degrees would jump the crown ~3 px at 336 px; steps that move it ~1.5 px still reuse most renders.
        crown = (PIVOT_Y - CROWN_Y) * style.size / GRID
        self._tilt = float(np.clip(math.degrees(1.5 / crown), 0.25, 1.0))

    def key(self, pose: AvatarPose, i: int = 0) -> AvatarPose:
        px = self._px
        return AvatarPose(
            pose.mouth, _q(pose.openness, OPEN_STEP), _q(pose.blink, BLINK_STEP), _q(pose.head_dx, px),
            _q(pose.head_dy, px), _q(pose.tilt_deg, self._tilt), pose.listening, _q(pose.gaze, GAZE_STEP),
            _q(pose.brow, GAZE_STEP),
        )  # fmt: skip

    def compose(self, key: Hashable, slot: Slot) -> Frame:
        assert isinstance(key, AvatarPose)
        rgba = self.avatar.render(key)
        if slot.fade is not None:  # premultiplied: colour and alpha scale together
            rgba = ((rgba.astype(np.uint16) * slot.fade) >> 8).astype(np.uint8)
        premul = cards.dim_pixels(rgba[:, :, :3]) if slot.dim else rgba[:, :, :3]
        out = _over_premultiplied(slot.under, premul, rgba[:, :, 3:])
        slot.over.blend(out)
        return out


class PhotoKey(NamedTuple):
    mouth: str
    opening: int  # openness in OPEN_STEPs
    blink: int  # in BLINK_STEPs
    dx: int  # head offset in output pixels
    dy: int


class PhotoArt:
    """The talking photo in a rounded square.

    Head motion moves the crop window over a slightly larger render instead of warping the photo: a whole-pixel
    slice is free where a warp costs ~0.7 ms, and the rendered faces can then be shared by every head position.
    Tilt is left out: a photo turning inside a fixed frame reads as a tilting camera, not a tilting head.
    """

    def __init__(self, photo: PhotoAvatar, size: int, pad: int) -> None:
        self.photo, self.size, self.pad = photo, size, pad
        self._px = GRID / (size + 2 * pad)
        self._framed = _Framer(size)
        self._faces: OrderedDict[Hashable, Frame] = OrderedDict()
        self._face_limit = max(4, CACHE_BYTES // 2 // ((size + 2 * pad) ** 2 * 3))

    def key(self, pose: AvatarPose, i: int = 0) -> PhotoKey:
        pad = self.pad
        dx = int(np.clip(round(pose.head_dx / self._px), -pad, pad))
        dy = int(np.clip(round(pose.head_dy / self._px), -pad, pad))
        return PhotoKey(pose.mouth, round(pose.openness / OPEN_STEP), round(pose.blink / BLINK_STEP), dx, dy)

    def _face(self, mouth: str, opening: int, blink: int) -> Frame:
        from .photo import PhotoPose

        face = lru_get(self._faces, (mouth, opening, blink))
        if face is None:
            face = self.photo.render(PhotoPose(mouth, opening * OPEN_STEP, blink * BLINK_STEP))
            lru_put(self._faces, (mouth, opening, blink), face, self._face_limit)
        return face

    def compose(self, key: Hashable, slot: Slot) -> Frame:
        assert isinstance(key, PhotoKey)
        face = self._face(key.mouth, key.opening, key.blink)
        x, y = self.pad - key.dx, self.pad - key.dy  # the window moves against the head
        return self._framed(face[y : y + self.size, x : x + self.size], slot)


def _rounded(size: int) -> npt.NDArray[np.uint16]:
    """The rounded square as 0..256 weights, so a shift divides."""
    mask = np.asarray(rounded_mask(size, size, cards.tile_radius((size, size))), np.uint16)[:, :, None]
    return mask + (mask >> 7)


class _Framer:
    """Puts a square face in its rounded square over a slot, dimmed when someone else has the floor.

    The slot's share of each pixel (what shows around the rounded corners) is fixed per slot, so it is
    worked out once: a new face then costs one multiply and one add instead of two of each.
    """

    def __init__(self, size: int) -> None:
        self.mask = _rounded(size)
        self._unders: dict[Slot, npt.NDArray[np.uint16]] = {}

    def __call__(self, face: Frame, slot: Slot) -> Frame:
        under = self._unders.get(slot)
        if under is None:
            under = self._unders[slot] = slot.under.astype(np.uint16) * (256 - self.mask)
        if slot.dim:
            face = cards.dim_pixels(face)
        out = face.astype(np.uint16) * self.mask
        out += under
        out >>= 8
        pixels = out.astype(np.uint8)
        slot.over.blend(pixels)
        return pixels


class TalkingArt:
    """A talking-head tool's frames during the speaker's lines, the portrait between them; the key is the
    (line, tool frame) shown, so poses play no part: the tool moved the head itself."""

    def __init__(self, frames: ClipFrames, idle: Frame, size: int) -> None:
        self.frames, self.idle = frames, idle
        self._framed = _Framer(size)

    def key(self, pose: AvatarPose, i: int = 0) -> Hashable:
        return self.frames.index(i) or "idle"

    def compose(self, key: Hashable, slot: Slot) -> Frame:
        face = self.idle if key == "idle" else self.frames.frame(*key)  # type: ignore[misc]
        return self._framed(face, slot)


@dataclass(frozen=True, eq=False)
class SpeakerAvatar:
    """A speaker's avatar as planned: its source, its slots, which slot each frame shows, its mouth."""

    source: AvatarSource
    slots: tuple[Slot, ...]
    slot_track: npt.NDArray[np.int8]  # per frame: index into slots, -1 when the speaker is off screen
    mouth: MouthTrack
    seed: int
    partner_side: int
    first: int = 0  # the episode frame of this plan's frame 0 (a video chunk's start): tools' frames are by episode


class AvatarPainter:
    """Draws one speaker's avatar into frames; owns the renderer and the cache of finished slot images."""

    def __init__(self, avatar: SpeakerAvatar, loudness: Floats, fps: int) -> None:
        self.avatar = avatar
        self.track = pose_track(avatar.mouth, loudness, fps, avatar.seed, avatar.partner_side)
        self.art = avatar.source.art()
        self.cache: OrderedDict[Hashable, Frame] = OrderedDict()
        self.limit = int(np.clip(CACHE_BYTES // (avatar.source.size**2 * 3), *CACHE_ENTRIES))

    def draw(self, frame: Frame, i: int) -> Layer:
        """Draw frame ``i``'s avatar; returns what was drawn and where (see ``FrameRenderer.changed``)."""
        track = self.avatar.slot_track
        k = int(track[i]) if 0 <= i < len(track) else -1
        if k < 0:
            return None, None
        slot = self.avatar.slots[k]
        art_key = self.art.key(self.track.pose(i), i + self.avatar.first)
        pixels = lru_get(self.cache, (k, art_key))
        if pixels is None:
            pixels = self.art.compose(art_key, slot)
            lru_put(self.cache, (k, art_key), pixels, self.limit)
        x0, y0, x1, y1 = slot.box
        frame[y0:y1, x0:x1] = pixels
        return (k, art_key), slot.box
