"""Audio visualisers drawn with numpy straight into a uint8 RGB video frame, in place.

Every kind produces a list of (flat pixel indices, coverage) for frame ``i`` and only those pixels are alpha-blended,
so the cost follows what is drawn rather than the region size. Drawing is a pure function of the frame index (all
state is precomputed in ``__init__``), so frames can be rendered in any order or in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from podforge.visuals._draw import Box
from podforge.visuals._features import AudioFeatures

__all__ = ["AudioFeatures", "Visualizer", "VisualizerStyle"]

Kind = Literal["waveform", "spectrum", "circular", "particles"]
KINDS: tuple[Kind, ...] = ("waveform", "spectrum", "circular", "particles")
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]
#: What a kind draws for one frame: flat pixel indices (row * W + col) into the frame, and per-pixel coverage in 0..1
#: (None = fully covered, which blends faster).
Pixels = list[tuple[IntArray, FloatArray | None]]


@dataclass(frozen=True)
class VisualizerStyle:
    """Look and placement of one visualiser; position and size are fractions of the frame."""

    kind: Kind = "spectrum"
    color: tuple[int, int, int] = (255, 255, 255)
    opacity: float = 0.9  # 0..1, alpha-blended onto what is underneath
    x: float = 0.0
    y: float = 0.75
    width: float = 1.0
    height: float = 0.2
    bars: int = 48  # spectrum / circular
    seed: int = 0  # particles
    mirror: bool = False  # spectrum: bars mirrored about the centre line; circular: left/right symmetric

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown visualiser kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if len(self.color) != 3 or not all(0 <= int(c) <= 255 for c in self.color):
            raise ValueError(f"color must be three 0..255 values, got {self.color!r}")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be within 0..1, got {self.opacity}")
        if self.width <= 0 or self.height <= 0 or self.bars < 1:
            raise ValueError("width and height must be positive and bars at least 1")


@dataclass(frozen=True)
class _Region:
    """The visualiser's pixel box inside a frame of width ``frame_w``."""

    x0: int
    y0: int
    w: int
    h: int
    frame_w: int

    @classmethod
    def from_style(cls, style: VisualizerStyle, frame_w: int, frame_h: int) -> _Region:
        x0, x1 = (min(max(round(f * frame_w), 0), frame_w) for f in (style.x, style.x + style.width))
        y0, y1 = (min(max(round(f * frame_h), 0), frame_h) for f in (style.y, style.y + style.height))
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"visualiser region is empty inside a {frame_w}x{frame_h} frame")
        return cls(x0, y0, x1 - x0, y1 - y0, frame_w)

    @cached_property
    def row_steps(self) -> IntArray:
        """0, W, 2W, ...: offsets of successive rows, enough for every pixel of the region (built once, sliced)."""
        return np.arange(0, self.w * self.h * self.frame_w, self.frame_w, dtype=np.intp)

    def flat(self, rows: npt.NDArray[np.integer], cols: npt.NDArray[np.integer]) -> IntArray:
        """Region (row, col) -> index into the frame viewed as (H*W, 3)."""
        return ((rows + self.y0) * self.frame_w + (cols + self.x0)).astype(np.intp, copy=False)


def _column_runs(
    region: _Region, cols: IntArray, top: npt.NDArray[np.floating], bot: npt.NDArray[np.floating]
) -> Pixels:
    """Pixels of the vertical run [top, bot) (region rows, fractional) in each column, anti-aliased at both ends.

    Built from run lengths (repeat + arange) rather than an (h, w) mask, so a thin line costs only its own pixels.
    """
    top = np.clip(top, 0.0, region.h)
    bot = np.clip(bot, top, region.h)
    ti, bi = np.ceil(top).astype(np.intp), np.floor(bot).astype(np.intp)
    one_px = ti > bi  # the run starts and ends inside the same pixel row
    length = np.where(one_px, 0, bi - ti)
    first = np.cumsum(length) - length
    # Pixel k of the runs sits k - first[run] rows below its run's top: fold -first into the repeated base.
    inner = np.repeat(region.flat(ti, cols) - first * region.frame_w, length)
    inner += region.row_steps[: len(inner)]
    has_top = ~one_px & (ti > top)
    has_bot = ~one_px & (bot > bi)
    rows = np.concatenate((ti[has_top] - 1, bi[has_bot], bi[one_px]))
    edge_cols = np.concatenate((cols[has_top], cols[has_bot], cols[one_px]))
    cover = np.concatenate(((ti - top)[has_top], (bot - bi)[has_bot], (bot - top)[one_px])).astype(np.float32)
    return [(inner, None), (region.flat(rows, edge_cols), cover)]


def _resample_bars(values: FloatArray, bars: int) -> FloatArray:
    """The features' bands re-binned to the style's bar count (they normally match and this is a no-op)."""
    if len(values) == bars:
        return values
    return np.interp(np.linspace(0, len(values) - 1, bars), np.arange(len(values)), values).astype(np.float32)


def _neighbours(values: npt.NDArray[np.floating], pick: np.ufunc) -> npt.NDArray[np.floating]:
    """pick(left neighbour, right neighbour) per element; the end columns count themselves, not the far end."""
    left = np.concatenate((values[:1], values[:-1]))
    right = np.concatenate((values[1:], values[-1:]))
    return pick(left, right)


class _Waveform:
    """A centred min/max envelope line, one run per pixel column."""

    def __init__(self, style: VisualizerStyle, region: _Region, features: AudioFeatures) -> None:
        self._region, self._features = region, features
        self._cols = np.arange(region.w, dtype=np.intp)
        self._amp = (region.h / 2 - 1) / features.peak_ref  # the episode's loud peaks reach the box edge
        self._half_line = max(1.0, region.h / 100) / 2

    def pixels(self, i: int) -> Pixels:
        lo, hi = self._features.envelope(i, self._region.w)
        centre = self._region.h / 2
        top = centre - np.clip(hi * self._amp, -centre, centre)
        bot = centre - np.clip(lo * self._amp, -centre, centre)
        # Reach halfway to each neighbour column so steep slopes stay one connected line.
        nb_bot = _neighbours(bot, np.minimum)
        nb_top = _neighbours(top, np.maximum)
        top = np.minimum(top, (top + nb_bot) / 2) - self._half_line
        bot = np.maximum(bot, (bot + nb_top) / 2) + self._half_line
        return _column_runs(self._region, self._cols, top, bot)


class _Spectrum:
    """Vertical bars with gaps and round caps, growing from the bottom (or mirrored about the centre)."""

    def __init__(self, style: VisualizerStyle, region: _Region, features: AudioFeatures) -> None:
        self._region, self._features, self._bars, self._mirror = region, features, style.bars, style.mirror
        slot = region.w / style.bars
        width = max(1.0, slot * 0.7)  # 30% gap between bars
        centre = np.arange(region.w) + 0.5
        bar = np.minimum((centre // slot).astype(np.intp), style.bars - 1)
        offset = centre - bar * slot - (slot - width) / 2  # position across the bar, 0..width
        inside = (offset >= 0) & (offset < width)
        radius = width / 2
        dx = offset[inside] - radius
        self._cols = np.flatnonzero(inside).astype(np.intp)
        self._bar_of_col = bar[inside]
        # Circular caps: how far each column's end sits back from the bar's extreme.
        self._cap = (radius - np.sqrt(np.maximum(radius**2 - dx**2, 0.0))).astype(np.float32)
        self._min_len = min(width, region.h / 4)  # silent bars still show as dots, like most players

    def pixels(self, i: int) -> Pixels:
        values = _resample_bars(self._features.spectrum(i), self._bars)
        h = self._region.h
        length = (self._min_len + values * np.float32(h - self._min_len))[self._bar_of_col]
        centre = h / 2 if self._mirror else h - length / 2  # the bar's middle, in region rows
        top = centre - length / 2 + self._cap
        bot = centre + length / 2 - (self._cap if self._mirror else 0)  # grown from the bottom: square foot
        return _column_runs(self._region, self._cols, top, bot)


class _Circular:
    """Bars radiating from a ring whose radius pulses with the level; geometry precomputed per pixel."""

    def __init__(self, style: VisualizerStyle, region: _Region, features: AudioFeatures) -> None:
        self._features, self._bars = features, style.bars
        half = min(region.w, region.h) / 2 - 1
        self._radius0 = 0.35 * half
        self._line = max(1.5, half / 40)
        self._gap = self._line + 1
        self._max_len = max(1.0, half - 1.3 * self._radius0 - self._gap)
        rows, cols = np.mgrid[0 : region.h, 0 : region.w]
        dx, dy = cols + 0.5 - region.w / 2, rows + 0.5 - region.h / 2
        radius = np.hypot(dx, dy)
        keep = (radius >= self._radius0 - self._line - 1) & (radius <= half + 1)
        self._idx = region.flat(rows[keep], cols[keep])
        self._r = radius[keep].astype(np.float32)
        angle = np.mod(np.arctan2(dx[keep], -dy[keep]), 2 * math.pi)  # clockwise from 12 o'clock
        turns = angle / (2 * math.pi)
        if style.mirror:
            turns = 2 * np.minimum(turns, 1 - turns)  # fold the left half onto the right
        pos = np.minimum(turns, 0.999999) * style.bars
        self._bar = pos.astype(np.intp)
        arc = (math.pi if style.mirror else 2 * math.pi) * self._r / style.bars  # px per bar at this radius
        frac = pos - self._bar
        # Coverage across the bar's width, anti-aliased at its sides; 30% of each slot is gap.
        self._across = np.clip(np.minimum(frac - 0.15, 0.85 - frac) * arc + 0.5, 0.0, 1.0).astype(np.float32)

    def pixels(self, i: int) -> Pixels:
        values = _resample_bars(self._features.spectrum(i), self._bars)
        ring = self._radius0 * (1 + 0.3 * self._features.loudness(i))
        start = ring + self._gap
        end = start + 1 + values[self._bar] * (self._max_len - 1)
        along = np.clip(np.minimum(self._r - start, end - self._r) + 0.5, 0.0, 1.0)
        ring_cover = np.clip(self._line / 2 + 0.5 - np.abs(self._r - ring), 0.0, 1.0)
        cover = np.maximum(along * self._across, ring_cover)
        drawn = cover > 1 / 512  # anything fainter rounds to no change
        return [(self._idx[drawn], cover[drawn].astype(np.float32))]


class _Particles:
    """A seeded field of drifting squares; speed, count and brightness follow the level.

    Positions come from the distance travelled up to frame i, a cumulative sum over the level precomputed once, so a
    frame's pixels never depend on which frames were drawn before it.
    """

    def __init__(self, style: VisualizerStyle, region: _Region, features: AudioFeatures) -> None:
        self._features = features
        rng = np.random.default_rng(style.seed)
        count = int(np.clip(region.w * region.h // 500, 24, 1200))
        scale = region.h / 200
        biggest = int(min(max(2, round(3 * scale)), region.w, region.h))
        size = rng.integers(1, biggest + 1, count)
        self._wrap = np.array([region.w - biggest + 1, region.h - biggest + 1], np.float64)
        self._start = rng.random((count, 2)) * self._wrap
        heading = rng.uniform(-math.pi, math.pi, count)
        speed = rng.uniform(0.5, 1.5, count) * scale
        # Mostly rising, with some sideways drift: reads as sound carried upwards.
        self._velocity = np.stack((0.6 * np.cos(heading), -0.4 - 0.6 * np.abs(np.sin(heading))), 1) * speed[:, None]
        self._phase = rng.uniform(0, 2 * math.pi, count)
        oy, ox = np.divmod(np.arange(biggest * biggest), biggest)
        self._offsets = (oy * region.frame_w + ox).astype(np.intp)
        self._in_square = (oy[None, :] < size[:, None]) & (ox[None, :] < size[:, None])
        self._region = region
        self._travel = np.cumsum(0.3 + 2.5 * features.loudness_track.astype(np.float64))
        self._idle_step = 0.3  # px per frame past the end of the audio

    def _travelled(self, i: int) -> float:
        if i < 0 or not len(self._travel):
            return self._idle_step * max(i, 0)
        last = len(self._travel) - 1
        return float(self._travel[min(i, last)]) + self._idle_step * max(0, i - last)

    def pixels(self, i: int) -> Pixels:
        level = self._features.loudness(i)
        active = math.ceil(len(self._start) * (0.2 + 0.8 * level))
        pos = np.mod(self._start[:active] + self._velocity[:active] * self._travelled(i), self._wrap)
        base = self._region.flat(pos[:, 1].astype(np.intp), pos[:, 0].astype(np.intp))
        twinkle = 0.25 * np.sin(self._phase[:active] + 0.35 * i)
        bright = np.clip(0.15 + 1.1 * level + twinkle, 0.0, 1.0).astype(np.float32)
        mask = self._in_square[:active]
        idx = (base[:, None] + self._offsets[None, :])[mask]
        return [(idx, np.broadcast_to(bright[:, None], mask.shape)[mask])]


class _Drawer(Protocol):
    def pixels(self, i: int) -> Pixels: ...


_KINDS: dict[str, Callable[[VisualizerStyle, _Region, AudioFeatures], _Drawer]] = {
    "waveform": _Waveform,
    "spectrum": _Spectrum,
    "circular": _Circular,
    "particles": _Particles,
}


def _blend(pixels: npt.NDArray[np.void], idx: IntArray, paint: _Paint, cover: FloatArray | None) -> None:
    """pixels[idx] = mix(pixels[idx], colour, alpha * cover), rounded, in 8.8 fixed point (max 255*256+128 fits uint16).

    Alpha 256 writes the colour exactly and 0 leaves the pixel as it was.

    ``pixels`` is the frame viewed as one 3-byte item per pixel: np.take/np.put on it move whole pixels several times
    faster than fancy-indexing rows of an (N, 3) uint8 array. The arithmetic runs on flat (3k,) arrays because
    broadcasting against a (3,) colour makes numpy loop three elements at a time.
    """
    if not idx.size:
        return
    px = np.take(pixels, idx).view(np.uint8).astype(np.uint16)
    if cover is None:
        px *= np.uint16(256 - paint.alpha)
        px += paint.tiled("premultiplied", idx.size)
    else:
        weight = np.repeat((cover * np.float32(paint.alpha) + np.float32(0.5)).astype(np.uint16), 3)
        px *= np.uint16(256) - weight
        weight *= paint.tiled("color", idx.size)
        weight += np.uint16(128)
        px += weight
    px >>= 8
    np.put(pixels, idx, px.astype(np.uint8).view(pixels.dtype))


class _Paint:
    """The style's colour and opacity in fixed point, with the colour kept tiled so draws slice instead of tiling.

    The tiles grow to the largest pixel count seen (doubling), so a kind that draws little keeps them small.
    """

    def __init__(self, style: VisualizerStyle) -> None:
        self.alpha = round(style.opacity * 256)
        rgb = np.array(style.color, np.uint16)
        self._rows = {"color": rgb, "premultiplied": rgb * np.uint16(self.alpha) + np.uint16(128)}  # +128 rounds

    def tiled(self, name: Literal["color", "premultiplied"], count: int) -> npt.NDArray[np.uint16]:
        row = self._rows[name]
        if len(row) < 3 * count:
            row = self._rows[name] = np.tile(row[:3], max(count, 2 * len(row) // 3))
        return row[: 3 * count]


class Visualizer:
    """Draws one style of visualiser for frame ``i`` into ``(H, W, 3)`` uint8 frames of ``frame_size = (W, H)``."""

    def __init__(self, style: VisualizerStyle, frame_size: tuple[int, int], features: AudioFeatures) -> None:
        self.style = style
        self.frame_w, self.frame_h = (int(v) for v in frame_size)
        self.region = _Region.from_style(style, self.frame_w, self.frame_h)
        self._paint = _Paint(style)
        self._kind = _KINDS[style.kind](style, self.region, features)

    @property
    def box(self) -> Box:
        """The frame pixels a draw may touch, (x0, y0, x1, y1)."""
        r = self.region
        return r.x0, r.y0, r.x0 + r.w, r.y0 + r.h

    def draw(self, frame: npt.NDArray[np.uint8], i: int) -> Box | None:
        """Blend frame ``i``'s visualiser into ``frame`` in place; only the drawn pixels are read or written.

        Returns the rows of the region it drew on, across the region (None: nothing drawn): a quiet frame's
        bars or wave leave most rows as they were, and an encoder need not convert those again."""
        if frame.shape != (self.frame_h, self.frame_w, 3) or frame.dtype != np.uint8:
            expected = (self.frame_h, self.frame_w, 3)
            raise ValueError(f"expected a {expected} uint8 frame, got {frame.shape} {frame.dtype}")
        if self._paint.alpha == 0:
            return None
        # The one-item-per-pixel view needs a contiguous frame; a strided view is drawn on a copy and written back.
        target = frame if frame.flags.c_contiguous else np.ascontiguousarray(frame)
        pixels = target.reshape(-1).view("V3")
        first, last = len(pixels), -1
        for idx, cover in self._kind.pixels(int(i)):
            _blend(pixels, idx, self._paint, cover)
            if idx.size:
                first, last = min(first, int(idx.min())), max(last, int(idx.max()))
        if target is not frame:
            frame[...] = target
        if last < 0:
            return None
        x0, y0, x1, y1 = self.box
        return x0, max(first // self.frame_w, y0), x1, min(last // self.frame_w + 1, y1)
