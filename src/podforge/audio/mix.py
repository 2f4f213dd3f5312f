"""Buses: speech clips laid on the timeline, music beds ducked under speech, sound effects.

The music is keyed by the speech bus: wherever a speech segment sounds, the
bed drops by `duck_db` with ~0.4 s ramps; gaps between turns shorter than
`BRIDGE_SECONDS` stay ducked so the bed does not pump between sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..music.registry import BED_REFERENCE_LUFS
from ..timeline import MusicSegment, SfxSegment, SpeechSegment, Timeline
from .dsp import db_to_gain
from .master import integrated_lufs

Stereo = npt.NDArray[np.float32]
Mono = npt.NDArray[np.float32]
ClipSource = Callable[[str], Mono]
MusicSource = Callable[[MusicSegment], Stereo]
SfxSource = Callable[[str], Stereo]

RAMP_SECONDS = 0.4
BRIDGE_SECONDS = 1.2
CONTROL_RATE = 100


@dataclass(frozen=True)
class MixSources:
    clip: ClipSource
    music: MusicSource
    sfx: SfxSource


def speech_bus(timeline: Timeline, clip: ClipSource) -> Mono:
    bus = np.zeros(timeline.duration, np.float32)
    for segment in timeline.of_kind(SpeechSegment):
        samples = clip(segment.clip)[: segment.length]
        bus[segment.start : segment.start + samples.shape[0]] += samples
    return bus


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


def _fades(length: int, fade_in: int, fade_out: int) -> Mono:
    envelope = np.ones(length, np.float32)
    if fade_in > 0:
        n = min(fade_in, length)
        envelope[:n] = np.linspace(0.0, 1.0, n, dtype=np.float32) ** 2
    if fade_out > 0:
        n = min(fade_out, length)
        envelope[length - n :] *= np.linspace(1.0, 0.0, n, dtype=np.float32) ** 2
    return envelope


def add_music(out: Stereo, timeline: Timeline, music: MusicSource, speech_lufs: float) -> None:
    rate = timeline.sample_rate
    curve = duck_curve_db(speech_intervals(timeline), timeline.seconds, timeline.duck_db)
    control_times = np.arange(curve.shape[0]) / CONTROL_RATE
    for bed in timeline.of_kind(MusicSegment):
        end = min(bed.end, out.shape[0])
        if end <= bed.start:
            continue
        audio = music(bed)[: end - bed.start]
        times = np.arange(bed.start, bed.start + audio.shape[0]) / rate
        duck = np.interp(times, control_times, curve).astype(np.float32)
        level = speech_lufs - BED_REFERENCE_LUFS + bed.level_db
        gain = db_to_gain(level) * np.power(10.0, duck / 20.0) * _fades(audio.shape[0], bed.fade_in, bed.fade_out)
        out[bed.start : bed.start + audio.shape[0]] += audio * gain[:, None]


def add_sfx(out: Stereo, timeline: Timeline, sfx: SfxSource) -> None:
    for segment in timeline.of_kind(SfxSegment):
        audio = sfx(segment.path)[: out.shape[0] - segment.start]
        out[segment.start : segment.start + audio.shape[0]] += audio


def mix(timeline: Timeline, sources: MixSources) -> Stereo:
    """All buses summed into one stereo signal at the timeline's rate, not yet mastered."""
    out = np.zeros((timeline.duration, 2), np.float32)
    speech = speech_bus(timeline, sources.clip)
    out += speech[:, None]
    if timeline.of_kind(MusicSegment):
        # Beds sit relative to how loud the voices actually are, whatever the engines.
        speech_lufs = integrated_lufs(speech, timeline.sample_rate)
        del speech
        add_music(out, timeline, sources.music, speech_lufs if np.isfinite(speech_lufs) else BED_REFERENCE_LUFS)
    add_sfx(out, timeline, sources.sfx)
    return out
