"""Buses: speech clips laid on the timeline, music beds ducked under speech, sound effects.

The music is keyed by the speech bus: wherever a speech segment sounds, the
bed drops by `duck_db` with ~0.4 s ramps; gaps between turns shorter than
`BRIDGE_SECONDS` stay ducked so the bed does not pump between sentences.

The mix is made block by block (``mix_into``): a block adds the slices of the clips, beds and effects that
sound in it, in the timeline's order, so each sample is the same sum as over the whole episode while only one
block (and the clips or beds it touches) is in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..music.registry import BED_REFERENCE_LUFS
from ..timeline import MusicSegment, SfxSegment, SpeechSegment, Timeline
from .dsp import db_to_gain
from .limiter import DECIMATE
from .loudness import Meter, _gated_lufs
from .stream import BLOCK_FRAMES, ArrayAudio, AudioReader, AudioSink, RawAudio, as_reader

Stereo = npt.NDArray[np.float32]
Mono = npt.NDArray[np.float32]
ClipSource = Callable[[str], Mono]
MusicSource = Callable[[MusicSegment], Stereo | AudioReader]  # a long bed is best read from disk by slices
SfxSource = Callable[[str], Stereo]

RAMP_SECONDS = 0.4
BRIDGE_SECONDS = 1.2
CONTROL_RATE = 100
BED_LEVEL_STEP_LU = 1.0  # beds follow the voices' loudness in whole LU (see _Beds.of)
# Bump when the mix or the master of the same timeline changes (3: the master's gain on a 0.1 dB grid): a
# mastered episode in the cache is keyed on it.
MIX_VERSION = "3"


@dataclass(frozen=True)
class MixSources:
    clip: ClipSource
    music: MusicSource
    sfx: SfxSource


@dataclass(frozen=True)
class _Parts:
    """One kind of segment with how far each can sound, to find those in a block without scanning them all."""

    segments: Sequence[Any]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    @classmethod
    def of(cls, segments: Sequence[Any], lengths: Sequence[int]) -> _Parts:
        starts = np.array([seg.start for seg in segments], np.int64)
        return cls(segments, starts, starts + np.array(lengths, np.int64))

    def sounding(self, start: int, stop: int) -> Iterator[tuple[Any, int, int]]:
        """(segment, first, end) of each segment sounding in [start, stop), clipped to it, in the timeline's order."""
        for index in np.flatnonzero((self.starts < stop) & (self.ends > start)).tolist():
            yield self.segments[index], max(int(self.starts[index]), start), min(int(self.ends[index]), stop)


def _speech_parts(timeline: Timeline) -> _Parts:
    segments = timeline.of_kind(SpeechSegment)
    return _Parts.of(segments, [seg.length for seg in segments])


def speech_block(speech: _Parts, clip: ClipSource, start: int, stop: int) -> Mono:
    """The speech bus over frames [start, stop)."""
    bus = np.zeros(stop - start, np.float32)
    for seg, first, end in speech.sounding(start, stop):
        samples = clip(seg.clip)[: seg.length]
        end = min(end, seg.start + samples.shape[0])
        if first < end:
            bus[first - start : end - start] += samples[first - seg.start : end - seg.start]
    return bus


def speech_loudness(timeline: Timeline, clip: ClipSource) -> float:
    """Integrated loudness of the speech bus, measured block by block."""
    meter, speech = Meter(timeline.duration, 1, timeline.sample_rate), _speech_parts(timeline)
    for start in range(0, timeline.duration, BLOCK_FRAMES):
        meter.feed(speech_block(speech, clip, start, min(timeline.duration, start + BLOCK_FRAMES))[:, None])
    return _gated_lufs(meter.sub_sums(), timeline.sample_rate)


def speech_intervals(timeline: Timeline) -> list[tuple[float, float]]:
    """Seconds during which someone speaks, with short gaps bridged."""
    rate = timeline.sample_rate
    merged: list[tuple[float, float]] = []
    for seg in sorted(timeline.of_kind(SpeechSegment), key=lambda s: s.start):
        start, end = seg.start / rate, seg.end / rate
        if merged and start - merged[-1][1] < BRIDGE_SECONDS:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def duck_curve_db(intervals: Iterable[tuple[float, float]], seconds: float, duck_db: float) -> Mono:
    """Gain in dB at CONTROL_RATE: 0 in the clear, duck_db under speech, linear ramps around it."""
    times = np.arange(int(np.ceil(seconds * CONTROL_RATE)) + 1) / CONTROL_RATE
    depth = np.zeros_like(times)
    for start, end in intervals:
        ramp_in = np.clip((times - (start - RAMP_SECONDS)) / RAMP_SECONDS, 0.0, 1.0)
        ramp_out = np.clip(((end + RAMP_SECONDS) - times) / RAMP_SECONDS, 0.0, 1.0)
        depth = np.maximum(depth, np.minimum(ramp_in, ramp_out))
    return (depth * duck_db).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _fade_curve(n: int, rising: bool) -> Mono:
    return (
        np.linspace(0.0, 1.0, n, dtype=np.float32) ** 2 if rising else np.linspace(1.0, 0.0, n, dtype=np.float32) ** 2
    )


def _fades(length: int, fade_in: int, fade_out: int, first: int = 0, end: int | None = None) -> Mono:
    """Frames [first, end) of a bed's fade envelope over its ``length`` frames."""
    end = length if end is None else end
    envelope = np.ones(end - first, np.float32)
    if fade_in > 0:
        n = min(fade_in, length)
        if first < n:
            envelope[: min(end, n) - first] = _fade_curve(n, True)[first : min(end, n)]
    if fade_out > 0:
        n = min(fade_out, length)
        lo = max(first, length - n)
        if lo < end:
            envelope[lo - first :] *= _fade_curve(n, False)[lo - (length - n) : end - (length - n)]
    return envelope


@dataclass(frozen=True)
class _Beds:
    """What the beds' gains depend on across the whole episode, computed once per mix."""

    curve: Mono
    control_times: npt.NDArray[np.float64]
    speech_lufs: float
    parts: _Parts

    @classmethod
    def of(cls, timeline: Timeline, clip: ClipSource) -> _Beds:
        curve = duck_curve_db(speech_intervals(timeline), timeline.seconds, timeline.duck_db)
        # Beds sit relative to how loud the voices actually are, whatever the engines.
        lufs = speech_loudness(timeline, clip)
        segments = timeline.of_kind(MusicSegment)
        parts = _Parts.of(segments, [max(0, min(bed.end, timeline.duration) - bed.start) for bed in segments])
        # In whole steps: a new take or an edited line moves the voices' loudness by hundredths of a LU, and a bed
        # that followed it exactly would change the mix (and redraw the video) wherever music plays.
        lufs = round(lufs / BED_LEVEL_STEP_LU) * BED_LEVEL_STEP_LU if np.isfinite(lufs) else BED_REFERENCE_LUFS
        return cls(curve, np.arange(curve.shape[0]) / CONTROL_RATE, lufs, parts)


def add_music(out: Stereo, start: int, timeline: Timeline, music: MusicSource, beds: _Beds) -> None:
    """Add the ducked, faded beds to ``out``, the mix's frames from ``start`` on."""
    rate = timeline.sample_rate
    for bed, first, end in beds.parts.sounding(start, start + out.shape[0]):
        audio = as_reader(music(bed), rate)
        length = min(audio.frames, min(bed.end, timeline.duration) - bed.start)
        end = min(end, bed.start + length)
        if end <= first:
            continue
        times = np.arange(first, end) / rate
        duck = np.interp(times, beds.control_times, beds.curve).astype(np.float32)
        level = beds.speech_lufs - BED_REFERENCE_LUFS + bed.level_db
        fades = _fades(length, bed.fade_in, bed.fade_out, first - bed.start, end - bed.start)
        gain = db_to_gain(level) * np.power(10.0, duck / 20.0) * fades
        out[first - start : end - start] += audio.read(first - bed.start, end - bed.start) * gain[:, None]


def _sfx_parts(timeline: Timeline) -> _Parts:
    segments = timeline.of_kind(SfxSegment)
    return _Parts.of(segments, [max(0, timeline.duration - seg.start) for seg in segments])


def add_sfx(out: Stereo, start: int, parts: _Parts, sfx: SfxSource) -> None:
    for seg, first, end in parts.sounding(start, start + out.shape[0]):
        audio = sfx(seg.path)[first - seg.start : end - seg.start]
        out[first - start : first - start + audio.shape[0]] += audio


def mix_into(timeline: Timeline, sources: MixSources, sink: AudioSink, meter: Meter | None = None) -> None:
    """All buses summed into ``sink`` (stereo, the timeline's length), not yet mastered, block by block;
    ``meter`` measures each block for mastering as it is written."""
    clip = functools.lru_cache(maxsize=16)(sources.clip)  # a line spans a few blocks: read it once
    music = functools.lru_cache(maxsize=2)(sources.music)
    beds = _Beds.of(timeline, clip) if timeline.of_kind(MusicSegment) else None
    speech, effects = _speech_parts(timeline), _sfx_parts(timeline)
    for start in range(0, timeline.duration, BLOCK_FRAMES):
        stop = min(timeline.duration, start + BLOCK_FRAMES)
        out = np.zeros((stop - start, 2), np.float32)
        out += speech_block(speech, clip, start, stop)[:, None]
        if beds is not None:
            add_music(out, start, timeline, music, beds)
        add_sfx(out, start, effects, sources.sfx)
        sink.write(start, out)
        if meter is not None:
            meter.feed(out)


def mix(timeline: Timeline, sources: MixSources) -> Stereo:
    """All buses summed into one stereo signal at the timeline's rate, not yet mastered (in memory)."""
    out = ArrayAudio(np.zeros((timeline.duration, 2), np.float32), timeline.sample_rate)
    mix_into(timeline, sources, out)
    return out.samples


def mix_to_file(timeline: Timeline, sources: MixSources, dest: Path) -> tuple[RawAudio, Meter]:
    """The mix written to ``dest`` (raw float32 stereo) and what mastering measures of it (its decimated power
    in a scratch file beside ``dest``, ``.power`` appended to the name: it grows with the episode)."""
    out = RawAudio.create(dest, timeline.sample_rate, 2, timeline.duration)
    points = -(-timeline.duration // DECIMATE)
    power = RawAudio.create(dest.with_name(f"{dest.name}.power"), timeline.sample_rate, 1, points)
    meter = Meter(timeline.duration, 2, timeline.sample_rate, power)
    mix_into(timeline, sources, out, meter)
    return out, meter
