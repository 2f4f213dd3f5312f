"""Mouth shapes (visemes) for a talking avatar, from one clip's word and phone timings and its audio.

The shapes are Rhubarb Lip Sync's nine letters, so any mouth set drawn for Rhubarb fits:

    A closed (M B P)          B slightly open, teeth (most consonants, EE)   C open (EH AE AH)
    D wide open (AA, AY)      E rounded (AO OW ER)                           F puckered (UW W)
    G teeth on lip (F V)      H tongue up (L TH DH)                          X rest, between phrases

`mouth_keys` runs a few small passes over the phones: rough shapes per phone, pauses filled with rest or a
relaxed hold, anticipation (the eye expects the mouth to move slightly before the sound), merging of keys too
short to be seen, then an openness per key scaled by the loudness under it. Words without phones (the aligner's
energy fallback) are animated from the audio envelope alone. All times are samples from the clip's start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..audio.dsp import RunningPower
from ..errors import ConfigError
from ..timeline import WordTiming

SHAPES = "ABCDEFGHX"
REST, CLOSED = "X", "A"

#: How open each shape is at normal loudness; the energy pass scales this per key.
BASE_OPENNESS: dict[str, float] = {
    "A": 0.0, "X": 0.05, "B": 0.25, "G": 0.2, "H": 0.35, "F": 0.3, "E": 0.55, "C": 0.65, "D": 0.9,
}  # fmt: skip

#: ARPAbet (no stress) -> shapes. Two shapes mark a diphthong: the onset holds 60 % of the phone, the glide 40 %.
PHONE_SHAPES: dict[str, tuple[str, ...]] = {
    "AA": ("D",), "AE": ("C",), "AH": ("C",), "AO": ("E",), "EH": ("C",), "ER": ("E",), "IH": ("B",),
    "IY": ("B",), "UH": ("E",), "UW": ("F",),
    "AW": ("D", "F"), "AY": ("D", "B"), "EY": ("C", "B"), "OW": ("E", "F"), "OY": ("E", "B"),
    "B": ("A",), "M": ("A",), "P": ("A",), "F": ("G",), "V": ("G",), "L": ("H",), "TH": ("H",), "DH": ("H",),
    "W": ("F",), "R": ("B",), "Y": ("B",), "HH": ("C",), "CH": ("B",), "JH": ("B",), "SH": ("B",), "ZH": ("B",),
    "D": ("B",), "G": ("B",), "K": ("B",), "N": ("B",), "NG": ("B",), "S": ("B",), "T": ("B",), "Z": ("B",),
}  # fmt: skip
DIPHTHONG_SPLIT = 0.6

# Anticipation. A frame is sampled at its centre and shown for its whole length, so half a frame of lead puts
# every shape on screen no later than its sound starts, and on average half a frame before it. Measured on
# rendered hosts (sync-report), a whole frame made the mouths lead by 40-60 ms, at the edge of what reads as early.
LEAD_S = 0.02
BILABIAL_LEAD_S = 0.04  # lips must be shut before a plosive's burst, so M B P close a frame early
MIN_KEY_S = 0.04  # a shape held less than a frame is never seen, it only flickers
PAUSE_S = 0.15  # a gap between words at least this long is a breath: the mouth rests
RELAXED = 0.6  # a short gap keeps the shape but lets the jaw fall back part way
ENERGY_RANGE = (0.25, 1.2)  # loudness scale limits: quiet keys still read, loud ones do not blow past D
ENERGY_PERCENTILE = 95.0  # "normal loudness" of a clip: robust to a few peaks, still inside the speech
HOP_S = 0.01
FALLBACK_STEP_S = 1 / 12  # ~12 Hz: fast enough to follow syllables, slow enough not to chatter
FALLBACK_LEVELS = ((0.15, CLOSED), (0.35, "B"), (0.7, "C"), (math.inf, "D"))
BLEND_FRAMES = 0.6  # ramp half-width: a bit over half a frame, so every boundary shows at least one in-between frame
REST_OPENNESS = round(BASE_OPENNESS[REST] * ENERGY_RANGE[0], 3)  # the rest mouth in silence, also off-clip


@dataclass(frozen=True)
class MouthKey:
    """One mouth shape held over ``[start, end)`` samples of its clip, at ``openness`` in 0..1."""

    start: int
    end: int
    shape: str
    openness: float


@dataclass(frozen=True)
class MouthFrame:
    shape: str
    openness: float


class _Key(NamedTuple):
    start: int
    end: int
    shape: str
    relaxed: bool = False  # a hold over a short gap: no anticipation, lower openness

    @property
    def length(self) -> int:
        return self.end - self.start


Level = Callable[[int, int], float]


def _level_meter(samples: npt.NDArray[Any], sample_rate: int) -> Level:
    """RMS of any span relative to the clip's normal speech level, in O(1) per span from a running sum."""
    power = RunningPower(samples)
    hop = max(1, round(sample_rate * HOP_S))
    starts = np.arange(power.length // hop, dtype=np.int64) * hop
    hops = np.sqrt(power.energy(starts, starts + hop) / hop) if len(starts) else np.zeros(1)
    reference = max(float(np.percentile(hops, ENERGY_PERCENTILE)), 1e-6)  # a silent clip must not divide by 0

    def level(start: int, end: int) -> float:
        start, end = max(start, 0), min(end, power.length)
        if end <= start:
            return 0.0
        return math.sqrt(float(power.energy(start, end)) / (end - start)) / reference

    return level


def mouth_keys(words: Sequence[WordTiming], samples: npt.NDArray[Any], sample_rate: int) -> tuple[MouthKey, ...]:
    """Contiguous mouth keys covering the whole clip ``samples``, from its aligned words."""
    length = int(np.shape(samples)[0])
    if length == 0:
        return ()
    level = _level_meter(samples, sample_rate)
    rough: list[_Key] = []
    for word in words:
        rough += _phone_keys(word) if word.phones else _energy_keys(word, level, sample_rate)
    keys = _fill_pauses(rough, length, sample_rate)
    keys = _anticipate(keys, sample_rate)
    keys = _merge_short(keys, round(MIN_KEY_S * sample_rate))
    return tuple(_with_openness(key, level) for key in keys)


def _phone_keys(word: WordTiming) -> list[_Key]:
    """Pass 1: one key per phone, two per diphthong; HH takes the shape of the vowel it aspirates."""
    keys: list[_Key] = []
    phones = word.phones
    for index, phone in enumerate(phones):
        start, end = max(phone.start, word.start), min(phone.end, word.end)
        name = phone.phone.rstrip("012")
        if name == "HH" and index + 1 < len(phones):
            name = phones[index + 1].phone.rstrip("012")
        shapes = PHONE_SHAPES.get(name, ("B",))  # an unknown phone is most likely a consonant
        if len(shapes) == 2:
            cut = start + round((end - start) * DIPHTHONG_SPLIT)
            keys += [_Key(start, cut, shapes[0]), _Key(cut, end, shapes[1])]
        else:
            keys.append(_Key(start, end, shapes[0]))
    return keys


def _energy_keys(word: WordTiming, level: Level, sample_rate: int) -> list[_Key]:
    """Pass 1 without phones: open and close with the loudness, one key per ~12 Hz step of the word."""
    step = max(1, round(sample_rate * FALLBACK_STEP_S))
    keys = []
    for start in range(word.start, word.end, step):
        end = min(start + step, word.end)
        loudness = level(start, end)
        shape = next(shape for limit, shape in FALLBACK_LEVELS if loudness < limit)
        keys.append(_Key(start, end, shape))
    return keys


def _fill_pauses(keys: list[_Key], length: int, sample_rate: int) -> list[_Key]:
    """Pass 4 (done early, so later passes see one contiguous track): rest in long gaps, a relaxed hold in short."""
    out: list[_Key] = []
    cursor = 0
    for key in keys:
        start, end = max(key.start, cursor), min(key.end, length)
        if end <= start:
            continue  # overlapping or outside the clip: the earlier key wins
        if start > cursor:
            out.append(_pause(cursor, start, out, sample_rate))
        out.append(key._replace(start=start, end=end))
        cursor = end
    if cursor < length:
        out.append(_pause(cursor, length, out, sample_rate))
    return out


def _pause(start: int, end: int, before: list[_Key], sample_rate: int) -> _Key:
    if not before or end - start >= PAUSE_S * sample_rate:
        return _Key(start, end, REST)
    return _Key(start, end, before[-1].shape, relaxed=True)


def _anticipate(keys: list[_Key], sample_rate: int) -> list[_Key]:
    """Pass 2: every spoken key starts half a frame early, closures a frame; the key before gives up the time."""
    min_length = round(MIN_KEY_S * sample_rate)
    starts = [keys[0].start]
    for before, key in pairwise(keys):
        # The key before keeps a frame if it had one: otherwise the closures of "mem" would swallow the vowel
        # between them and the mouth would stay shut through a whole syllable.
        keep = max(1, min(min_length, before.length))
        starts.append(max(key.start - round(_lead_s(key) * sample_rate), starts[-1] + keep))
    ends = [*starts[1:], keys[-1].end]
    return [key._replace(start=s, end=e) for key, s, e in zip(keys, starts, ends, strict=True) if e > s]


def _lead_s(key: _Key) -> float:
    if key.shape == REST or key.relaxed:
        return 0.0  # the mouth relaxes after the sound, never before it
    return BILABIAL_LEAD_S if key.shape == CLOSED else LEAD_S


def _merge_short(keys: list[_Key], min_length: int) -> list[_Key]:
    """Pass 3: keys shorter than a frame join their most similar neighbour, shortest first."""
    keys = list(keys)
    while len(keys) > 1:
        index = min(range(len(keys)), key=lambda i: keys[i].length)
        if keys[index].length >= min_length:
            break
        if keys[index].shape == CLOSED and _widen_closure(keys, index, min_length):
            continue
        key = keys[index]
        neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(keys)]
        similarity = BASE_OPENNESS[key.shape]
        target = min(neighbours, key=lambda i: (abs(BASE_OPENNESS[keys[i].shape] - similarity), -keys[i].length))
        other = keys[target]
        keys[target] = other._replace(start=min(other.start, key.start), end=max(other.end, key.end))
        del keys[index]
    return keys


def _widen_closure(keys: list[_Key], index: int, min_length: int) -> bool:
    """Stretch a short closure to a frame from a neighbour that can spare it: a "p" with no visible closure
    reads as a vowel. The next key is asked first so that the closure's early start stays where it was."""
    need = min_length - keys[index].length
    for other in (index + 1, index - 1):
        if 0 <= other < len(keys) and keys[other].length - need >= min_length:
            if other > index:
                keys[index] = keys[index]._replace(end=keys[index].end + need)
                keys[other] = keys[other]._replace(start=keys[other].start + need)
            else:
                keys[index] = keys[index]._replace(start=keys[index].start - need)
                keys[other] = keys[other]._replace(end=keys[other].end - need)
            return True
    return False


def _with_openness(key: _Key, level: Level) -> MouthKey:
    """Pass 5: the shape's openness scaled by the loudness under the key, so stressed syllables open wider."""
    scale = min(max(level(key.start, key.end), ENERGY_RANGE[0]), ENERGY_RANGE[1])
    openness = BASE_OPENNESS[key.shape] * scale * (RELAXED if key.relaxed else 1.0)
    return MouthKey(key.start, key.end, key.shape, round(min(openness, 1.0), 3))


def _frame_centres(length: int, sample_rate: int, fps: float, offset: int) -> npt.NDArray[np.float64]:
    frame = sample_rate / fps
    count = max(0, math.ceil((length + offset) / frame - 1e-9))
    return np.asarray((np.arange(count) + 0.5) * frame - offset, dtype=np.float64)


def _openness_at(keys: Sequence[MouthKey], positions: npt.NDArray[np.float64], width: float) -> npt.NDArray[Any]:
    """Openness averaged over ``positions ± width``: a linear ramp across each key boundary, rest outside keys.

    The average of a step function over a sliding window is exactly a linear crossfade, computed here from the
    step function's running integral, which is piecewise linear and so exact under ``np.interp``.
    """
    if not keys:
        return np.full(positions.shape, REST_OPENNESS)
    edges: list[float] = [keys[0].start]
    values: list[float] = []
    for key in keys:
        if key.start > edges[-1]:
            edges.append(key.start)
            values.append(REST_OPENNESS)  # a gap between keys from JSON shows the rest mouth
        edges.append(key.end)
        values.append(key.openness)
    xs = np.asarray(edges, dtype=np.float64)
    integral = np.concatenate(([0.0], np.cumsum(np.asarray(values) * np.diff(xs))))

    def running(t: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        outside = np.maximum(t - xs[-1], 0.0) + np.minimum(t - xs[0], 0.0)
        return np.interp(t, xs, integral) + REST_OPENNESS * outside

    return (running(positions + width) - running(positions - width)) / (2 * width)


def _shapes_at(keys: Sequence[MouthKey], positions: npt.NDArray[np.float64]) -> list[str]:
    starts = np.array([key.start for key in keys], dtype=np.float64)
    index = np.searchsorted(starts, positions, side="right") - 1
    return [
        keys[i].shape if i >= 0 and t < keys[i].end else REST for i, t in zip(index.tolist(), positions, strict=True)
    ]


def frames_for_clip(
    keys: Sequence[MouthKey], clip_length: int, sample_rate: int, fps: float, clip_start_frame_offset_samples: int = 0
) -> list[MouthFrame]:
    """The mouth at each video frame's centre while the clip plays.

    Frame 0 starts ``clip_start_frame_offset_samples`` before the clip's first sample (where the clip starts
    inside a video frame), and frames continue until the one that holds the clip's last sample.
    """
    centres = _frame_centres(clip_length, sample_rate, fps, clip_start_frame_offset_samples)
    openness = _openness_at(keys, centres, BLEND_FRAMES * sample_rate / fps)
    shapes = _shapes_at(keys, centres)
    return [MouthFrame(shape, round(float(o), 3)) for shape, o in zip(shapes, openness.tolist(), strict=True)]


def mouth_open_track(keys: Sequence[MouthKey], length: int, sample_rate: int, fps: float) -> npt.NDArray[np.float32]:
    """Per-video-frame openness of a clip ``length`` samples long, frame 0 starting at the clip's start."""
    centres = _frame_centres(length, sample_rate, fps, 0)
    return _openness_at(keys, centres, BLEND_FRAMES * sample_rate / fps).astype(np.float32)


def keys_to_json(keys: Sequence[MouthKey]) -> list[list[Any]]:
    """Compact ``[start, end, shape, openness]`` rows for the timeline JSON."""
    return [[key.start, key.end, key.shape, key.openness] for key in keys]


def keys_from_json(raw: Any) -> tuple[MouthKey, ...]:
    """The keys of `keys_to_json`; a malformed row raises ConfigError naming it."""
    if not isinstance(raw, list):
        raise ConfigError(f"mouth keys must be a list, not {type(raw).__name__}")
    keys: list[MouthKey] = []
    for index, row in enumerate(raw):
        try:
            start, end, shape, openness = row
            key = MouthKey(int(start), int(end), str(shape), float(openness))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"mouth key {index}: expected [start, end, shape, openness], got {row!r}") from exc
        previous_end = keys[-1].end if keys else 0
        if key.shape not in SHAPES or not 0.0 <= key.openness <= 1.0 or not previous_end <= key.start <= key.end:
            raise ConfigError(
                f"mouth key {index}: {row!r} needs a shape in {SHAPES}, openness 0..1, and to start at or after"
                f" the previous key's end ({previous_end}) and end no earlier than it starts"
            )
        keys.append(key)
    return tuple(keys)
