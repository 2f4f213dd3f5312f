"""The episode's video frames, streamed: everything static is drawn once, each frame adds what moves.

``plan_frames`` does all the work that does not depend on the frame number: it validates the
image files, fits photo avatars, draws the base images (background, title, tiles or cover), the
highlighted tile patches, the title card, straps and chapter cards, and turns the timeline into
per-frame arrays (who is lit, whose shot, which caption page and word, each avatar's mouth).
``render_frames`` then copies a base into one reused buffer per frame and blits or blends only the
parts that change, which keeps 720p at several hundred frames a second on one core before the
visualiser's and the avatars' own cost (an avatar is one render and blend per new pose, a copy
for a cached one; see ``avatars/tiles.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .._yuv import Drawn
from ..cache import ContentCache
from ..config import VideoConfig
from ..timeline import ChapterSegment, Timeline
from . import cards
from ._changes import changed_boxes
from ._draw import RGB, Box, Frame, Layer, Patch, backdrop, hex_rgb, load_image
from .avatars.talking import ClipFrames, TalkingHeads
from .avatars.tiles import MIN_SIZE, AvatarPainter, SpeakerAvatar, avatar_size, avatar_source, talking_source
from .avatars.track import mouth_track
from .captions import CaptionPainter, CaptionTrack, caption_track
from .layouts import Frames, Geometry, active_track, caption_box_height, frame_samples, geometry, shot_track, speech
from .stage import LitTile, Sources, Staged, avatar_area, draw_title, stage
from .visualizers import AudioFeatures, Visualizer, VisualizerStyle

TITLE_SECONDS = 3.0
TITLE_FADE_SECONDS = 0.6
STRAP_SECONDS = 4.0
CHAPTER_SECONDS = 2.5
OVERLAY_FADE_SECONDS = 0.35
_POSITION_KEYS = {"x", "y", "width", "height"}


@dataclass(frozen=True, eq=False)
class Overlay:
    """A patch shown from frame ``start`` to ``end`` (exclusive), fading in and out over ``fade``."""

    patch: Patch
    start: int
    end: int
    fade: int

    def opacity(self, i: int) -> float:
        if i < self.start or i >= self.end:
            return 0.0
        edge = min(i - self.start + 1, self.end - i)
        return 1.0 if edge >= self.fade else edge / self.fade


@dataclass(frozen=True, eq=False)
class FramePlan:
    """Everything ``render_frames`` needs, computed once from the timeline and the video config."""

    width: int
    height: int
    fps: int
    n_frames: int
    labels: tuple[str, ...]
    geometry: Geometry
    bases: tuple[Frame, ...]
    base_track: Frames | None  # per frame: index into bases (solo, active-speaker), else None
    tiles: tuple[LitTile, ...]  # duo: per speaker, the highlighted tile
    active: Frames  # per frame: index into labels of the lit speaker, or -1
    title: Frame  # the opening card, full frame
    title_end: int  # frame where the title card is gone
    title_fade: int
    overlays: tuple[Overlay, ...]
    captions: CaptionTrack | None
    caption_bottom: int
    visualizer: VisualizerStyle | None
    avatars: tuple[SpeakerAvatar, ...] = ()

    def title_opacity(self, i: int) -> float:
        if i >= self.title_end:
            return 0.0
        return min(1.0, (self.title_end - i) / max(self.title_fade, 1))


@dataclass(frozen=True, eq=False)
class StaticLayers:
    """The layers drawn from the speakers, the title, the media and the video settings alone, whatever the lines
    say: a process that renders the same episode again (the studio's job worker) reuses them."""

    clean: Frame  # the background with the episode title
    sources: Sources  # each speaker's avatar, or None for a card
    staged: Staged
    title: Frame  # the opening card


def static_layers(
    timeline: Timeline, video: VideoConfig, base_dir: Path, cache: ContentCache | None = None,
    talking: TalkingHeads | None = None,
) -> StaticLayers:  # fmt: skip
    """Validate media and draw the static layers; raises MediaError for a bad cover or portrait."""
    width, height = video.dimensions
    photos = {label: cards.portrait(info.avatar, base_dir) for label, info in timeline.speakers.items()}
    cover = load_image(base_dir / video.cover, "cover") if video.cover else None
    geo = geometry(video.layout, width, height, len(timeline.speakers))
    clean = _clean_base(timeline, video, geo)
    sources = _avatar_sources(timeline, video.layout, geo, base_dir, cache, talking, frame_samples(timeline, video.fps))
    photos = {label: None if sources[label] else photo for label, photo in photos.items()}  # the avatar replaces it
    staged = stage(timeline, video.layout, geo, clean, photos, cover, sources)
    card = cards.title_card(video.dimensions, timeline.title, list(timeline.speakers.values()),
                            hex_rgb(video.background))  # fmt: skip
    return StaticLayers(clean, sources, staged, np.asarray(card.convert("RGB")).copy())


def plan_frames(
    timeline: Timeline, video: VideoConfig, base_dir: Path, cache: ContentCache | None = None,
    talking: TalkingHeads | None = None, static: StaticLayers | None = None,
) -> FramePlan:  # fmt: skip
    """Validate media, draw every static layer (or take ``static``, drawn for the same speakers, title, media and
    settings) and lay out every frame; raises MediaError for a bad cover or portrait.

    ``cache`` keeps photo avatars' face fits between runs (fitting one takes a second or two) and holds
    the lines ``talking`` (a SadTalker or Wav2Lip run, see ``avatars.talking``) rendered.
    """
    static = static or static_layers(timeline, video, base_dir, cache, talking)
    width, height = video.dimensions
    labels = list(timeline.speakers)
    geo = geometry(video.layout, width, height, len(labels))
    samples = frame_samples(timeline, video.fps)
    style = _visualizer_style(video, geo)
    staged = static.staged
    base_track = shot_track(timeline, labels, samples) if len(staged.bases) > 1 else None
    active = active_track(timeline, labels, samples) if labels else np.full(len(samples), -1, np.int64)
    title_end, title_fade = _title(timeline, video, samples)
    bottom = _caption_bottom(geo, style)
    avatars = _speaker_avatars(timeline, video, staged, static.sources, active, base_track, samples)
    return FramePlan(
        width, height, video.fps, len(samples), tuple(labels), geo, staged.bases, base_track,
        staged.tiles, active, static.title, title_end, title_fade,
        _straps(timeline, geo, video.layout, samples, base_track, title_end)
        + _chapters(timeline, geo, samples, title_end),
        caption_track(timeline, samples) if video.captions else None, bottom, style, avatars,
    )  # fmt: skip


def _avatar_sources(
    timeline: Timeline, layout: str, geo: Geometry, base_dir: Path, cache: ContentCache | None,
    talking: TalkingHeads | None, samples: Frames,
) -> Sources:  # fmt: skip
    """Per speaker, their talking avatar at its drawn size, or None for a card (see ``cards.avatar_spec``)."""
    sources: Sources = {}
    tracks, fallbacks = (talking.tracks, talking.fallbacks) if talking else ({}, {})
    for k, (label, info) in enumerate(timeline.speakers.items()):
        wanted, photo = cards.avatar_spec(info.avatar, base_dir)
        if fallbacks.get(label) == "illustrated":  # its tool failed and the user chose the drawing instead
            wanted, photo = True, None
        if not wanted or layout == "audiogram":  # the audiogram shows cover art, nobody's face
            sources[label] = None
            continue
        size = avatar_size(photo is not None, avatar_area(layout, geo, k), geo.unit, alone=layout != "duo")
        if label in tracks and cache is not None and size >= MIN_SIZE:
            clips = ClipFrames(tracks[label], cache, samples, timeline.sample_rate, size)
            sources[label] = talking_source(clips, size)
            continue
        sources[label] = avatar_source(hex_rgb(info.color), k, photo, size, cache, (info.gender, info.hair))
    return sources


def _speaker_avatars(
    timeline: Timeline, video: VideoConfig, staged: Staged, sources: Sources, active: Frames,
    base_track: Frames | None, samples: Frames,
) -> tuple[SpeakerAvatar, ...]:  # fmt: skip
    """Each avatar's slots and per-frame timing; duo shows the lit slot while its speaker has the floor."""
    count, out = len(timeline.speakers), []
    for k, label in enumerate(timeline.speakers):
        source = sources[label]
        if source is None or label not in staged.slots:
            continue
        if video.layout == "duo":
            slot_track = (active == k).astype(np.int8)  # slots are (dimmed, lit)
        else:
            shown = base_track == k if base_track is not None else np.ones(len(samples), bool)
            slot_track = np.where(shown, 0, -1).astype(np.int8)
        side = 1 if k < (count - 1) / 2 or count == 1 else -1  # left of centre, the partner is to the right
        mouth = mouth_track(timeline, label, samples, video.fps)
        out.append(SpeakerAvatar(source, staged.slots[label], slot_track, mouth, k, side))
    return tuple(out)


def render_frames(plan: FramePlan, features: AudioFeatures) -> Iterator[npt.NDArray[np.uint8]]:
    """Yield ``plan.n_frames`` RGB24 frames, (height, width, 3) uint8.

    The same buffer is yielded every time, overwritten for the next frame: a consumer must copy
    or encode each frame before asking for the next one (``list(render_frames(...))`` would hold
    n references to the last frame).
    """
    renderer = FrameRenderer(plan, features)
    for i in range(plan.n_frames):
        yield renderer.draw(i)


def drawn_frames(plan: FramePlan, features: AudioFeatures) -> Iterator[Drawn]:
    """``render_frames`` for an encoder: each frame with the boxes that changed since the one before."""
    renderer = FrameRenderer(plan, features)
    for i in range(plan.n_frames):
        pixels = renderer.draw(i)
        yield Drawn(pixels, renderer.changed)


class FrameRenderer:
    """Draws any frame of a plan into one reused buffer; frames may be drawn in any order.

    After each ``draw``, ``changed`` lists the boxes where the frame may differ from the one drawn before it (None:
    anywhere), so an encoder converts only those to YUV. Each layer reports a key for what it drew and its box; a
    pixel can only change where some layer's key or box changed, now or in the frame before.
    """

    def __init__(self, plan: FramePlan, features: AudioFeatures) -> None:
        self.plan = plan
        self.buffer = np.empty((plan.height, plan.width, 3), dtype=np.uint8)
        self.vis = Visualizer(plan.visualizer, (plan.width, plan.height), features) if plan.visualizer else None
        self.avatars = [AvatarPainter(avatar, features.loudness_track, plan.fps) for avatar in plan.avatars]
        self.painter = None
        if plan.captions is not None:
            self.painter = CaptionPainter(plan.captions, plan.width, plan.caption_bottom, plan.geometry.caption_size)
        self.changed: tuple[Box, ...] | None = None
        self._layers: list[Layer] = []

    def draw(self, i: int) -> Frame:
        """Frame ``i`` in the shared buffer (valid until the next call)."""
        plan, buffer = self.plan, self.buffer
        title = plan.title_opacity(i)
        if title >= 1.0:
            np.copyto(buffer, plan.title)
            layers: list[Layer] = [("title", None)]
        else:
            base = 0 if plan.base_track is None else int(plan.base_track[i])
            np.copyto(buffer, plan.bases[base])
            layers = [(("base", base, title), None), self._lit_tile(int(plan.active[i]))]
            layers += [avatar.draw(buffer, i) for avatar in self.avatars]
            if self.vis is not None:
                layers.append((i, self.vis.draw(buffer, i)))  # past the audio's end it reads as silence
            if title > 0.0:
                _crossfade(buffer, plan.title, title)
        if self.painter is not None:
            layers.append(self.painter.draw(buffer, i))
        for overlay in plan.overlays:
            shown = overlay.start <= i < overlay.end
            if shown:
                overlay.patch.blend(buffer, overlay.opacity(i))
            layers.append((overlay.opacity(i), overlay.patch.box) if shown else (None, None))
        self.changed, self._layers = changed_boxes(self._layers, layers), layers
        return buffer

    def _lit_tile(self, who: int) -> Layer:
        if not self.plan.tiles or who < 0:
            return None, None
        tile = self.plan.tiles[who]
        x0, y0, x1, y1 = tile.lit_box
        self.buffer[y0:y1, x0:x1] = tile.pixels
        return who, tile.lit_box


def _crossfade(frame: Frame, card: Frame, opacity: float) -> None:
    # Only runs for the few frames of the title card's fade, so float maths is affordable here.
    mixed = frame.astype(np.float32)
    mixed += (card.astype(np.float32) - mixed) * opacity
    np.copyto(frame, mixed, casting="unsafe")


def _visualizer_style(video: VideoConfig, geo: Geometry) -> VisualizerStyle | None:
    """The configured visualiser; placed by the layout unless the script set its position."""
    cfg = video.visualizer
    if cfg is None:
        return None
    if cfg.model_fields_set & _POSITION_KEYS:
        x, y, w, h = cfg.x, cfg.y, cfg.width, cfg.height
    else:
        x0, y0, x1, y1 = geo.visualizer
        x, y, w, h = x0 / geo.width, y0 / geo.height, (x1 - x0) / geo.width, (y1 - y0) / geo.height
    return VisualizerStyle(kind=cfg.kind, color=hex_rgb(cfg.color), opacity=cfg.opacity, x=x, y=y, width=w, height=h)


def _caption_bottom(geo: Geometry, style: VisualizerStyle | None) -> int:
    """Captions sit in the title-safe bottom band, lifted above the visualiser if they would overlap it."""
    bottom = geo.caption_bottom
    if style is None:
        return bottom
    top, vis_top, vis_bottom = bottom - caption_box_height(geo.caption_size), style.y, style.y + style.height
    overlaps = vis_top * geo.height < bottom and vis_bottom * geo.height > top
    lifted = round(vis_top * geo.height) - round(0.02 * geo.unit)
    # A visualiser high up the frame (or filling it) is a backdrop: captions stay at the bottom.
    return lifted if overlaps and lifted - caption_box_height(geo.caption_size) > geo.height * 0.3 else bottom


def _clean_base(timeline: Timeline, video: VideoConfig, geo: Geometry) -> Frame:
    """The background with the episode title in the top-left of the title-safe area."""
    frame = backdrop(geo.width, geo.height, hex_rgb(video.background))
    draw_title(frame, timeline.title, geo)
    return frame


def _title(timeline: Timeline, video: VideoConfig, samples: Frames) -> tuple[int, int]:
    """(end frame, fade frames) of the title card: at least TITLE_SECONDS, longer if the first line comes later."""
    lines = speech(timeline)
    first = lines[0].start if lines else 0
    end_sample = max(round(TITLE_SECONDS * timeline.sample_rate), first)
    return int(np.searchsorted(samples, end_sample)), max(1, round(TITLE_FADE_SECONDS * video.fps))


def _strap_anchor(geo: Geometry, layout: str, index: int, height: int) -> tuple[int, int]:
    """Where a strap's top-left goes: the lower third of the speaker's tile, above its name tag."""
    inset = round(0.022 * geo.unit)
    if layout == "active-speaker":
        lift = round(geo.unit * 0.03 * 1.7) + inset * 2
        return geo.title[0], geo.visualizer[1] - lift - height
    x0, _, _, y1 = geo.tiles[min(index, len(geo.tiles) - 1)]
    tag = 0 if layout == "audiogram" else round(geo.unit * 0.024 * 1.7) + inset // 2  # the cover has no tag
    return x0 + inset, y1 - inset - tag - height


def _strap_starts(timeline: Timeline, plan_tracks: Frames | None, samples: Frames) -> dict[str, int]:
    """Frame of each speaker's first line, or of their first shot when one speaker fills the screen."""
    labels = list(timeline.speakers)
    starts: dict[str, int] = {}
    for seg in speech(timeline):
        if seg.speaker in starts:  # only each speaker's first line counts
            continue
        first = int(np.searchsorted(samples, seg.start))
        if plan_tracks is not None:
            on = np.flatnonzero(plan_tracks[first:] == labels.index(seg.speaker))
            first = first + int(on[0]) if len(on) else len(samples)
        starts[seg.speaker] = first
    return starts


def _straps(
    timeline: Timeline, geo: Geometry, layout: str, samples: Frames, shots: Frames | None, title_end: int
) -> tuple[Overlay, ...]:
    fade = max(1, int(np.searchsorted(samples, round(OVERLAY_FADE_SECONDS * timeline.sample_rate))))
    length = int(np.searchsorted(samples, round(STRAP_SECONDS * timeline.sample_rate)))
    labels = list(timeline.speakers)
    starts = sorted((max(f, title_end - fade), label) for label, f in _strap_starts(timeline, shots, samples).items())
    out = []
    for k, (start, label) in enumerate(starts):
        info = timeline.speakers[label]
        room = geo.tiles[min(labels.index(label), len(geo.tiles) - 1)]
        strap = cards.name_strap(info.display_name, hex_rgb(info.color), geo.unit, (room[2] - room[0]) * 0.9)
        x, y = _strap_anchor(geo, layout, labels.index(label), strap.height)
        end = min(start + length, len(samples))
        if layout != "duo" and k + 1 < len(starts):  # one strap place: the next speaker's replaces it
            end = min(end, starts[k + 1][0])
        if end > start:
            out.append(Overlay(Patch.from_image(strap, x, y), start, end, fade))
    return tuple(out)


def _chapters(timeline: Timeline, geo: Geometry, samples: Frames, title_end: int) -> tuple[Overlay, ...]:
    fade = max(1, int(np.searchsorted(samples, round(OVERLAY_FADE_SECONDS * timeline.sample_rate))))
    length = int(np.searchsorted(samples, round(CHAPTER_SECONDS * timeline.sample_rate)))
    accent: RGB = hex_rgb(next(iter(timeline.speakers.values())).color) if timeline.speakers else (255, 255, 255)
    chapters = sorted(timeline.of_kind(ChapterSegment), key=lambda c: c.start)
    starts = [int(np.searchsorted(samples, c.start)) for c in chapters] + [len(samples)]
    out = []
    for k, chapter in enumerate(chapters):
        if starts[k] < title_end:  # the title card already says where we are
            continue
        card = cards.chapter_card(chapter.title, accent, geo.unit, geo.width * 0.9)
        x, y = (geo.width - card.width) // 2, geo.title[3] + round(0.03 * geo.unit)
        # A chapter that starts while the previous card shows replaces it rather than stacking on it.
        end = min(starts[k] + length, starts[k + 1])
        if end > starts[k]:
            out.append(Overlay(Patch.from_image(card, x, y), starts[k], end, fade))
    return tuple(out)
