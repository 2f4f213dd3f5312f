"""Where things go on screen, and who is on screen when.

Geometry is worked out once per (layout, size) from a few bands, top to bottom: the title line,
the stage (speaker tiles or cover art), the visualiser band, the caption box in the title-safe
area (10% bottom margin).  Portrait frames (9:16) stack the tiles vertically.

Timing is worked out once per timeline as per-frame index arrays (who is highlighted, whose shot
is on screen), so the per-frame loop only indexes arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..timeline import SpeechSegment, Timeline
from ._draw import Box

MIN_SHOT_SECONDS = 1.5
# A turn shorter than this (an interjection: "right", "mm-hm") never earns its own shot.
MIN_TURN_SECONDS = 1.0
# A highlight survives a pause shorter than this, so the ring does not flicker between lines.
HOLD_SECONDS = 1.2
SAFE_BOTTOM = 0.10
SAFE_SIDE = 0.05

Frames = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Geometry:
    """Pixel boxes for one layout at one frame size."""

    width: int
    height: int
    unit: int  # min(width, height): text sizes scale with it
    title: Box
    stage: Box
    tiles: tuple[Box, ...]
    visualizer: Box
    caption_bottom: int
    caption_size: int


def caption_size(width: int, height: int) -> int:
    # 42 Roboto characters average ~20 em; keep them inside the 90% title-safe width.
    return int(min(0.05 * min(width, height), 0.9 * width / 21.5))


def caption_box_height(size: int, lines: int = 2) -> int:
    return round(size * (1.3 * lines + 0.7))


def _tile_boxes(stage: Box, count: int, portrait: bool, gap: int) -> tuple[Box, ...]:
    """``count`` equal tiles filling ``stage``: side by side, or stacked in portrait frames."""
    x0, y0, x1, y1 = stage
    count = max(count, 1)
    boxes = []
    for k in range(count):
        if portrait:
            h = (y1 - y0 - gap * (count - 1)) // count
            boxes.append((x0, y0 + k * (h + gap), x1, y0 + k * (h + gap) + h))
        else:
            w = (x1 - x0 - gap * (count - 1)) // count
            boxes.append((x0 + k * (w + gap), y0, x0 + k * (w + gap) + w, y1))
    return tuple(boxes)


def _centred(stage: Box, aspect: float) -> Box:
    """The largest box of width/height ``aspect`` centred in ``stage``."""
    x0, y0, x1, y1 = stage
    w, h = x1 - x0, y1 - y0
    if w / h > aspect:
        w = round(h * aspect)
    else:
        h = round(w / aspect)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    return cx - w // 2, cy - h // 2, cx - w // 2 + w, cy - h // 2 + h


def geometry(layout: str, width: int, height: int, speakers: int) -> Geometry:
    unit = min(width, height)
    portrait = height > width * 1.2
    side = round(SAFE_SIDE * width)
    title_size = round(0.034 * unit)
    title = (side, round(0.045 * height), width - side, round(0.045 * height) + round(title_size * 1.3))
    size = caption_size(width, height)
    caption_bottom = round(height * (1 - SAFE_BOTTOM))
    caption_top = caption_bottom - caption_box_height(size)
    gap = round(0.02 * unit)
    vis_h = round((0.06 if portrait else 0.10) * height)
    vis = (0, caption_top - gap - vis_h, width, caption_top - gap)
    stage = (side, title[3] + gap * 2, width - side, vis[1] - gap)
    if layout == "active-speaker":
        return Geometry(width, height, unit, title, (0, 0, width, height), ((0, 0, width, height),), vis,
                        caption_bottom, size)  # fmt: skip
    if layout == "audiogram":
        tiles: tuple[Box, ...] = (_centred(stage, 1.0),)
    elif layout == "solo":
        tiles = (_centred(stage, 16 / 10 if not portrait else 4 / 5),)
    else:
        tiles = _tile_boxes(stage, speakers, portrait, round(0.03 * unit))
    return Geometry(width, height, unit, title, stage, tiles, vis, caption_bottom, size)


def frame_samples(timeline: Timeline, fps: int) -> Frames:
    """The timeline position, in samples, of the start of every frame of the video."""
    n_frames = -(-timeline.duration * fps // timeline.sample_rate)
    return (np.arange(n_frames, dtype=np.int64) * timeline.sample_rate) // fps


def frame_span(samples: Frames, start: int, end: int) -> slice:
    """The frames whose start lies in the sample range [start, end)."""
    return slice(int(np.searchsorted(samples, start)), int(np.searchsorted(samples, end)))


def speech(timeline: Timeline) -> list[SpeechSegment]:
    """The speech segments in time order, leaving out any whose speaker the timeline does not list."""
    lines = [s for s in timeline.of_kind(SpeechSegment) if s.speaker in timeline.speakers]
    return sorted(lines, key=lambda s: s.start)


def active_track(timeline: Timeline, labels: list[str], samples: Frames) -> Frames:
    """Per frame, the index in ``labels`` of who is speaking (held over short pauses), or -1."""
    active = np.full(len(samples), -1, dtype=np.int64)
    hold = round(HOLD_SECONDS * timeline.sample_rate)
    lines = speech(timeline)
    for k, seg in enumerate(lines):
        follow = lines[k + 1].start if k + 1 < len(lines) else timeline.duration
        end = follow if follow - seg.end < hold else seg.end
        active[frame_span(samples, seg.start, max(end, seg.end))] = labels.index(seg.speaker)
    return active


def _turns(lines: list[SpeechSegment]) -> list[tuple[str, int, int]]:
    """Consecutive lines by one speaker merged into (speaker, start, end) turns."""
    turns: list[tuple[str, int, int]] = []
    for seg in lines:
        if turns and turns[-1][0] == seg.speaker:
            turns[-1] = (seg.speaker, turns[-1][1], seg.end)
        else:
            turns.append((seg.speaker, seg.start, seg.end))
    return turns


def cut_list(timeline: Timeline, first: str) -> list[tuple[int, str]]:
    """(start sample, speaker) of every shot of a one-speaker-on-screen edit.

    Cuts come from the whole timeline at once, so they can look ahead: a speaker gets the shot
    when their turn lasts at least MIN_TURN_SECONDS, at the turn's start or, if the current shot
    is younger than MIN_SHOT_SECONDS, as soon as it is that old and they are still talking.  No
    cut lands within MIN_SHOT_SECONDS of the end, so no shot is ever shorter than that.
    """
    rate = timeline.sample_rate
    min_shot, min_turn = round(MIN_SHOT_SECONDS * rate), round(MIN_TURN_SECONDS * rate)
    turns = _turns(speech(timeline))
    shots = [(0, turns[0][0] if turns else first)]
    for speaker, start, end in turns:
        if speaker == shots[-1][1] or end - start < min_turn:
            continue
        cut = max(start, shots[-1][0] + min_shot)
        if cut + rate // 2 <= end and cut + min_shot <= timeline.duration:
            shots.append((cut, speaker))
    return shots


def shot_track(timeline: Timeline, labels: list[str], samples: Frames) -> Frames:
    """Per frame, the index in ``labels`` of the speaker whose shot is on screen."""
    shots = cut_list(timeline, labels[0])
    track = np.zeros(len(samples), dtype=np.int64)
    for k, (start, speaker) in enumerate(shots):
        end = shots[k + 1][0] if k + 1 < len(shots) else timeline.duration + 1
        track[frame_span(samples, start, end)] = labels.index(speaker)
    return track
