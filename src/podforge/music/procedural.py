"""Offline procedural music beds for podcast intros, outros and underscores.

A cue's words ("upbeat intro", "soft warm piano", "chill lo-fi beat") resolve to a ``MoodSpec`` (moods.py);
one loop of a whole number of bars is synthesised for it (chords in a key, bass on the roots,
pads, arpeggios, soft drums) and tiled to the requested length. The loop is exactly periodic
(release tails wrap onto its start and all filtering is circular), so repeats join without a
click. Everything is deterministic for a given cue, seed and sample rate.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft

from podforge.errors import ConfigError
from podforge.music import _synth as sy
from podforge.music.moods import MOODS, MoodSpec, mood_from_cue

BED_BARS = 8
BEATS_PER_BAR = 4
PEAK_DBFS = -6.0
FADE_IN_S = 1.0
FADE_OUT_S = 2.0


@dataclass(frozen=True)
class _Style:
    """How a mood is arranged: everything about a bed that ``MoodSpec`` does not say."""

    chord_beats: int
    pad: tuple[float, float, float]  # attack s, release s, level
    bass: tuple[tuple[float, float, int], ...]  # (beat in bar, length in beats, semitones over root)
    keys_voice: str  # "pluck", "piano", "ep" or "bell"
    keys_low: int  # lowest MIDI note of the keys' chord voicing
    keys_step: float  # beats per step
    keys_pattern: tuple[int, ...]  # chord-tone index per step, -1 rests; past the top wraps up an octave
    keys_level: float
    kick: tuple[float, ...] = ()
    snare: tuple[float, ...] = ()
    hats: tuple[float, ...] = ()
    bass_voice: str = "synth"
    keys_chords: bool = False  # each step plays the whole chord (comping) instead of one tone
    keys_density: float = 1.0  # chance each step sounds, for sparse textures
    swing: float = 0.5  # where the off-beat eighth lands, as a fraction of the beat
    vinyl: float = 0.0
    reverb: tuple[float, float] = (2.0, 0.25)  # decay s, wet level
    duck: float = 0.0  # sidechain pumping of the pad on every beat
    jitter_ms: float = 3.0
    evolve: bool = False
    bass_level: float = 1.0


_EIGHTHS = tuple(i * 0.5 for i in range(8))
_STYLES: dict[str, _Style] = {
    "calm": _Style(
        chord_beats=4, pad=(0.8, 1.5, 0.3), bass=((0, 4, 0),),
        keys_voice="pluck", keys_low=67, keys_step=0.5, keys_pattern=(0, 1, 2, 3, 2, 1, 2, 1), keys_level=0.4,
    ),
    "upbeat": _Style(
        chord_beats=4, pad=(0.04, 0.3, 0.22), bass=tuple((b, 0.4, 12 * (b % 2 == 1.5)) for b in _EIGHTHS),
        keys_voice="pluck", keys_low=67, keys_step=0.5, keys_pattern=(0, 2, 1, 3, 0, 2, 4, 3),
        keys_level=0.45,
        kick=(0, 1, 2, 3), snare=(1, 3), hats=(0.5, 1.5, 2.5, 3.5), duck=0.35, reverb=(1.4, 0.2),
    ),
    "news": _Style(
        chord_beats=4, pad=(0.08, 0.4, 0.2), bass=tuple((b, 0.45, 0) for b in _EIGHTHS),
        keys_voice="pluck", keys_low=67, keys_step=0.25, keys_pattern=(0, 1, 2, 1, 3, 1, 2, 1),
        keys_level=0.35,
        kick=(0, 2, 2.5), snare=(1, 3), hats=_EIGHTHS, duck=0.25, reverb=(1.2, 0.18),
    ),
    "dramatic": _Style(
        chord_beats=4, pad=(0.5, 1.2, 0.32), bass=tuple((b, 0.45, 0) for b in _EIGHTHS),
        keys_voice="piano", keys_low=50, keys_step=4.0, keys_pattern=(0,), keys_level=0.5, keys_chords=True,
        reverb=(3.0, 0.35),
    ),
    "ambient": _Style(
        chord_beats=8, pad=(2.0, 3.0, 0.4), bass=((0, 8, 0),), bass_level=0.4, evolve=True,
        keys_voice="bell", keys_low=72, keys_step=1.0, keys_pattern=(2, 4, 1, 5, 3, 0, 6, 2), keys_level=0.15,
        keys_density=0.5, reverb=(4.5, 0.45),
    ),
    "lofi": _Style(
        chord_beats=4, pad=(0.3, 0.6, 0.12), bass=((0, 1.4, 0), (1.5, 0.4, 0), (2.5, 1.2, 7)),
        keys_voice="ep", keys_low=57, keys_step=0.5, keys_pattern=(0, -1, -1, 0, -1, 0, -1, -1),
        keys_level=0.45,
        keys_chords=True, kick=(0, 1.75, 2.5), snare=(1, 3), hats=_EIGHTHS, swing=0.62, vinyl=0.5,
        jitter_ms=9.0, reverb=(1.8, 0.2),
    ),
    "piano": _Style(
        chord_beats=4, pad=(1.0, 1.5, 0.1), bass=((0, 2, 0), (2, 2, 7)), bass_voice="piano",
        keys_voice="piano", keys_low=60, keys_step=0.5, keys_pattern=(0, 1, 2, 3, 4, 3, 2, 1), keys_level=0.5,
        reverb=(2.5, 0.3),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class _Loop:
    """The time grid of one loop: samples per beat, swing, and which chord sounds when."""

    spec: MoodSpec
    style: _Style
    bars: int
    sample_rate: int
    beat: int  # samples per beat

    @property
    def beats(self) -> int:
        return self.bars * BEATS_PER_BAR

    @property
    def length(self) -> int:
        return self.beats * self.beat

    def seconds(self, beats: float) -> float:
        return beats * self.beat / self.sample_rate

    def at(self, beat: float, rng: np.random.Generator) -> int:
        whole = math.floor(beat)
        frac = beat - whole
        s = self.style.swing
        swung = frac / 0.5 * s if frac < 0.5 else s + (frac - 0.5) / 0.5 * (1.0 - s)
        jitter = rng.normal(0.0, self.style.jitter_ms / 1000.0) * self.sample_rate
        return round((whole + swung) * self.beat + jitter)

    def chord(self, beat: float) -> tuple[int, ...]:
        prog = self.spec.progression
        return prog[int(beat // self.style.chord_beats) % len(prog)]


def _voicing(root: int, chord: tuple[int, ...], low: int) -> list[int]:
    # Close voicing in one octave keeps successive chords moving by small steps.
    return sorted({low + (root + s - low) % 12 for s in chord})


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _beat_samples(tempo_bpm: float, sample_rate: int) -> int:
    # An 11-smooth beat length keeps the loop's FFTs fast; the tempo moves by a fraction of a percent.
    return int(fft.next_fast_len(round(60.0 * sample_rate / tempo_bpm)))


def _pad(lp: _Loop, rng: np.random.Generator) -> sy.Bus:
    bus = sy.LoopBus(lp.length)
    attack, release, _ = lp.style.pad
    phases = rng.random((128, 4))
    cache: dict[tuple[int, int], sy.Stereo] = {}
    sr = lp.sample_rate
    for start in range(0, lp.beats, lp.style.chord_beats):
        gate = lp.seconds(min(lp.style.chord_beats, lp.beats - start))
        n = int((gate + release) * sr)
        for note in _voicing(lp.spec.key_root_midi, lp.chord(start), 52):
            if (note, n) not in cache:
                env = sy.attack_release(n, sr, attack, gate, release)
                cache[note, n] = sy.pad_note(sy.midi_hz(note), n, sr, 9.0, phases[note]) * env
            bus.add(start * lp.beat, cache[note, n])
    return bus.data


def _bass(lp: _Loop, rng: np.random.Generator) -> sy.Bus:
    bus = sy.LoopBus(lp.length)
    cache: dict[tuple[int, float], sy.Mono] = {}
    sr, grit = lp.sample_rate, 0.1 + 0.3 * lp.spec.brightness
    for bar in range(lp.bars):
        for beat, length, interval in lp.style.bass:
            b = bar * BEATS_PER_BAR + beat
            note = 33 + (lp.spec.key_root_midi + lp.chord(b)[0] - 33) % 12 + interval
            gate = lp.seconds(length)
            if (note, gate) not in cache:
                if lp.style.bass_voice == "piano":
                    cache[note, gate] = sy.additive_note(sy.midi_hz(note + 12), int(2.5 * sr), sr, sy.PIANO)
                else:
                    cache[note, gate] = sy.bass_note(sy.midi_hz(note), int((gate + 0.08) * sr), sr, gate, grit)
            bus.add_mono(lp.at(b, rng), cache[note, gate], 0.0, 0.9 + 0.1 * rng.random())
    return bus.data


def _keys(lp: _Loop, rng: np.random.Generator) -> sy.Bus:
    bus = sy.LoopBus(lp.length)
    style = lp.style
    cache: dict[int, sy.Mono] = {}
    for step in range(round(lp.beats / style.keys_step)):
        idx = style.keys_pattern[step % len(style.keys_pattern)]
        if idx < 0 or rng.random() >= style.keys_density:
            continue
        b = step * style.keys_step
        tones = _voicing(lp.spec.key_root_midi, lp.chord(b), style.keys_low)
        notes = tones if style.keys_chords else [tones[idx % len(tones)] + 12 * (idx // len(tones))]
        # Down-beats a little louder than off-beats reads as a player, not a sequencer.
        velocity = (1.0 if b % 1 == 0 else 0.75) * (0.85 + 0.15 * rng.random())
        start = lp.at(b, rng)
        for j, note in enumerate(notes):
            if note not in cache:
                cache[note] = sy.keys_note(style.keys_voice, note, lp.sample_rate, lp.spec.brightness)
            pan = 0.5 * (j / max(len(notes) - 1, 1) - 0.5) if style.keys_chords else (0.35 - 0.7 * (idx % 2))
            bus.add_mono(start, cache[note], pan, velocity / math.sqrt(len(notes)))
    return bus.data


def _drums(lp: _Loop, rng: np.random.Generator) -> sy.Bus:
    bus = sy.LoopBus(lp.length)
    sr, style = lp.sample_rate, lp.style
    kit = (
        (style.kick, sy.kick(sr, rng), 0.0, 1.0),
        (style.snare, sy.snare(sr, rng), -0.1, 0.5),
        (style.hats, sy.hat(sr, rng), 0.3, 0.35),
    )
    for bar in range(lp.bars):
        for hits, sound, pan, level in kit:
            for beat in hits:
                accent = 1.0 if beat % 1 == 0 else 0.7
                velocity = level * accent * (0.85 + 0.15 * rng.random())
                bus.add_mono(lp.at(bar * BEATS_PER_BAR + beat, rng), sound, pan, velocity)
    return bus.data


def _duck(lp: _Loop) -> sy.Mono:
    # Pumping the pad under each beat is the sidechain feel of produced pop; the gain recovers
    # almost fully before the next beat, so there is no step at beat boundaries.
    tau = (np.arange(lp.length) % lp.beat) / lp.sample_rate
    return 1.0 - lp.style.duck * np.minimum(tau / 0.01, 1.0) * np.exp(-tau / 0.12)


def _mix_parts(mix: sy.SpectralMix, lp: _Loop, rng: np.random.Generator) -> None:
    b, style = lp.spec.brightness, lp.style
    pad = _pad(lp, rng) * _duck(lp)
    cutoff = 250.0 + 5000.0 * b * b
    if style.evolve:
        # One slow sweep per loop between a dark and a bright filter keeps the pad moving.
        lfo = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(lp.length) / lp.length)
        mix.add(pad * lfo, mix.response("lowpass", 3.0 * cutoff), style.pad[2], 0.6)
        mix.add(pad * (1.0 - lfo), mix.response("lowpass", cutoff), style.pad[2], 0.6)
    else:
        mix.add(pad, mix.response("lowpass", cutoff), style.pad[2], 0.5)
    mix.add(_bass(lp, rng), mix.response("lowpass", 250.0 + 900.0 * b), 0.3 * style.bass_level, 0.05)
    mix.add(_keys(lp, rng), mix.response("lowpass", 1200.0 + 10000.0 * b), 2.5 * style.keys_level, 0.4)
    if lp.spec.drums:
        mix.add(_drums(lp, rng), mix.response("lowpass", 3000.0 + 15000.0 * b), 0.6, 0.08)
    if style.vinyl > 0.0:
        mix.add(
            sy.vinyl(lp.length, lp.sample_rate, rng),
            mix.response("bandpass", [500.0, 4500.0]),
            style.vinyl,
            0.0,
        )


def _check_rate(sample_rate: int) -> None:
    if not 8000 <= sample_rate <= 384000:
        raise ConfigError(f"sample rate {sample_rate} Hz is outside 8000..384000")


def _check(spec: MoodSpec, bars: int, sample_rate: int) -> None:
    _check_rate(sample_rate)
    if spec.mood not in MOODS:
        raise ConfigError(f"unknown music mood {spec.mood!r}; use one of {', '.join(MOODS)}")
    if bars < 1:
        raise ConfigError(f"a music loop needs at least one bar, not {bars}")
    if not (math.isfinite(spec.tempo_bpm) and 30.0 <= spec.tempo_bpm <= 300.0):
        raise ConfigError(f"tempo {spec.tempo_bpm} bpm is outside 30..300")
    if not spec.progression or not all(spec.progression):
        raise ConfigError("a chord progression needs at least one chord, each with at least one note")


def render_loop(spec: MoodSpec, bars: int, sample_rate: int, seed: int) -> npt.NDArray[np.float32]:
    """One seamlessly loopable stretch of ``bars`` bars, shape (n, 2), peak at ``PEAK_DBFS``.

    Tails wrap onto the start and every filter acts circularly, so ``np.tile`` of the result is
    what an endless performance would sound like.
    """
    _check(spec, bars, sample_rate)
    lp = _Loop(spec, _STYLES[spec.mood], bars, sample_rate, _beat_samples(spec.tempo_bpm, sample_rate))
    rng = np.random.default_rng((seed + _stable_hash(spec.mood)) % 2**64)
    mix = sy.SpectralMix(lp.length, sample_rate)
    _mix_parts(mix, lp, rng)
    decay, wet = lp.style.reverb
    tilt_db = 4.0 * (spec.brightness - 0.5)
    out = mix.render(mix.reverb(decay, 2000.0 + 8000.0 * spec.brightness, rng), wet, tilt_db)
    peak = float(np.abs(out).max())
    gain = 10.0 ** (PEAK_DBFS / 20.0) / peak if peak > 0.0 else 0.0
    return np.ascontiguousarray((out * gain).T, dtype=np.float32)


def _fade(n: int) -> npt.NDArray[np.float32]:
    return (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)[:, None]


def render_bed(cue: str, seconds: float, sample_rate: int = 48000, seed: int = 0) -> npt.NDArray[np.float32]:
    """A stereo music bed for ``cue``, exactly ``round(seconds * sample_rate)`` samples long.

    One loop of ``BED_BARS`` bars is rendered and tiled, with a fade-in and a fade-out.
    """
    if not (math.isfinite(seconds) and seconds >= 0.0):
        raise ConfigError(f"music bed length must be a non-negative number of seconds, not {seconds}")
    _check_rate(sample_rate)
    n = round(seconds * sample_rate)
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    loop = render_loop(mood_from_cue(cue), BED_BARS, sample_rate, seed)
    bed = np.empty((n, 2), dtype=np.float32)
    for start in range(0, n, loop.shape[0]):
        bed[start : start + loop.shape[0]] = loop[: n - start]
    fade_in = min(round(FADE_IN_S * sample_rate), n // 4)
    fade_out = min(round(FADE_OUT_S * sample_rate), n // 2)
    bed[:fade_in] *= _fade(fade_in)
    bed[n - fade_out :] *= _fade(fade_out)[::-1]
    if n - fade_in - fade_out < loop.shape[0]:
        # No whole unfaded loop survives, so the loop's peak is not the bed's: measure it.
        peak = float(np.abs(bed).max())
        if peak > 0.0:
            bed *= np.float32(10.0 ** (PEAK_DBFS / 20.0) / peak)
    return bed
