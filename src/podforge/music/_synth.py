"""DSP building blocks for the procedural music beds.

Every function works on a whole note or a whole bus at once, so no Python loop runs per sample.
A loop is built from ``LoopBus`` buffers (notes that ring past the end wrap onto the start) and
mixed by ``SpectralMix``, which filters and reverberates circularly in the frequency domain: the
result is exactly periodic, so tiling it leaves no seam.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import fft, signal

Mono = npt.NDArray[np.float64]
Stereo = npt.NDArray[np.float64]  # shape (2, n)
Bus = npt.NDArray[np.float32]  # a whole loop, shape (2, n)
Signal = npt.NDArray[np.floating[Any]]
Spectrum = npt.NDArray[np.complexfloating[Any, Any]]

TWO_PI = 2.0 * np.pi


def midi_hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def pan_gains(pan: float) -> tuple[float, float]:
    # Constant-power law keeps a voice equally loud wherever it sits in the stereo field.
    angle = (float(np.clip(pan, -1.0, 1.0)) + 1.0) * np.pi / 4.0
    return float(np.cos(angle)), float(np.sin(angle))


def end_fade(y: Mono, sample_rate: int, seconds: float = 0.01) -> Mono:
    # A note cut off mid-decay steps to zero, which is heard as a click; ramp the last few ms down.
    k = min(y.shape[-1], int(seconds * sample_rate))
    if k > 0:
        y[..., -k:] *= np.linspace(1.0, 0.0, k)
    return y


def attack_release(n: int, sample_rate: int, attack: float, gate: float, release: float) -> Mono:
    t = np.arange(n) / sample_rate
    rise = np.sin(0.5 * np.pi * np.clip(t / attack, 0.0, 1.0)) ** 2
    fall = np.clip(1.0 - (t - gate) / release, 0.0, 1.0) ** 2
    return rise * fall


def pluck_envelope(n: int, sample_rate: int, attack: float, decay: float) -> Mono:
    t = np.arange(n) / sample_rate
    return end_fade(np.minimum(t / attack, 1.0) * np.exp(-t / decay), sample_rate)


def saw(freq: float, n: int, sample_rate: int, phase: float = 0.0) -> Mono:
    dt = freq / sample_rate
    t: Mono = np.mod(phase + dt * np.arange(n, dtype=np.float64), 1.0)
    y: Mono = 2.0 * t - 1.0
    # PolyBLEP rounds off the jump so upper partials do not alias back as inharmonic fizz.
    lo = t < dt
    x = t[lo] / dt
    y[lo] -= 2.0 * x - x * x - 1.0
    hi = t > 1.0 - dt
    x = (t[hi] - 1.0) / dt
    y[hi] -= x * x + 2.0 * x + 1.0
    return y


def pad_note(freq: float, n: int, sample_rate: int, cents: float, phases: Mono) -> Stereo:
    """Three detuned saws; the flat one left and the sharp one right is what makes the pad wide."""
    ratio = 2.0 ** (cents / 1200.0)
    centre = 0.7 * saw(freq, n, sample_rate, phases[0])
    left = saw(freq / ratio, n, sample_rate, phases[1]) + centre
    right = saw(freq * ratio, n, sample_rate, phases[2]) + centre
    return np.stack([left, right]) / 1.7


@dataclass(frozen=True)
class Timbre:
    """An additive voice: a struck string (piano) or a plucked synth, depending on the numbers."""

    partials: int
    tilt: float  # partial k starts at k**-tilt of the fundamental
    decay: float  # seconds for the fundamental to fall by 1/e (at middle C)
    damping: float  # how much faster each higher partial dies, which is what makes it sound struck
    inharmonicity: float
    attack: float


def additive_note(freq: float, n: int, sample_rate: int, tone: Timbre) -> Mono:
    k = np.arange(1, tone.partials + 1, dtype=np.float64)
    fk = freq * k * np.sqrt(1.0 + tone.inharmonicity * k * k)
    keep = fk < min(0.45 * sample_rate, 12000.0)
    k, fk = k[keep], fk[keep]
    amps = k**-tone.tilt
    # Low strings ring longer than high ones.
    decays = tone.decay * (261.6 / freq) ** 0.4 / (1.0 + tone.damping * (k - 1.0))
    t = np.arange(n) / sample_rate
    partials = np.sin(np.outer(fk, TWO_PI * t)) * np.exp(-np.outer(1.0 / decays, t))
    y = (amps / amps.sum()) @ partials
    y *= np.minimum(t / tone.attack, 1.0)
    return end_fade(y, sample_rate)


def fm_note(freq: float, n: int, sample_rate: int, ratio: float, index: float, decay: float) -> Mono:
    """Two-operator FM: ratio 1 gives an electric piano, a non-integer ratio a soft bell."""
    t = np.arange(n) / sample_rate
    depth = index * np.exp(-t / 0.3)
    y = np.sin(TWO_PI * freq * t + depth * np.sin(TWO_PI * freq * ratio * t))
    tine = 14.0 * freq
    if tine < 0.4 * sample_rate:
        y += 0.12 * np.exp(-t / 0.03) * np.sin(TWO_PI * tine * t)
    return y * pluck_envelope(n, sample_rate, 0.002, decay)


def bass_note(freq: float, n: int, sample_rate: int, gate: float, grit: float) -> Mono:
    t = np.arange(n) / sample_rate
    y = np.sin(TWO_PI * freq * t) + grit * saw(freq, n, sample_rate)
    y = np.tanh(1.5 * y) / np.tanh(1.5)
    env = attack_release(n, sample_rate, 0.006, gate, 0.06) * (0.7 + 0.3 * np.exp(-t / 0.12))
    return y * env


PIANO = Timbre(partials=10, tilt=1.3, decay=1.6, damping=0.45, inharmonicity=0.0004, attack=0.003)
PLUCK = Timbre(partials=10, tilt=1.1, decay=0.45, damping=0.9, inharmonicity=0.0, attack=0.002)
NOTE_S = {"pluck": 1.0, "piano": 2.5, "ep": 1.6, "bell": 3.0}


def keys_note(voice: str, note: int, sample_rate: int, brightness: float) -> Mono:
    """One note of a named melodic voice: "piano", "pluck", "ep" (electric piano) or "bell"."""
    n = int(NOTE_S[voice] * sample_rate)
    freq = midi_hz(note)
    if voice == "piano":
        return additive_note(freq, n, sample_rate, replace(PIANO, tilt=2.0 - brightness))
    if voice == "pluck":
        return additive_note(freq, n, sample_rate, replace(PLUCK, tilt=2.2 - 1.4 * brightness))
    ratio, index, decay = (1.0, 0.4 + brightness, 0.8) if voice == "ep" else (3.5, 1.2, 1.2)
    return fm_note(freq, n, sample_rate, ratio, index, decay)


def _noise_burst(rng: np.random.Generator, n: int, sample_rate: int, sos: npt.NDArray[np.float64]) -> Mono:
    return np.asarray(signal.sosfilt(sos, rng.standard_normal(n)), dtype=np.float64)


def kick(sample_rate: int, rng: np.random.Generator) -> Mono:
    n = int(0.4 * sample_rate)
    t = np.arange(n) / sample_rate
    # A falling pitch sweep is what the ear reads as a kick rather than a tom.
    freq = 48.0 + 110.0 * np.exp(-t / 0.035)
    body = np.sin(TWO_PI * (np.cumsum(freq) - freq[0]) / sample_rate) * np.exp(-t / 0.15)
    sos = signal.butter(2, 3000.0, fs=sample_rate, output="sos")
    click = 0.3 * _noise_burst(rng, n, sample_rate, sos) * np.exp(-t / 0.004)
    y = (body + click) * np.minimum(t / 0.001, 1.0)
    return end_fade(y, sample_rate, 0.05)


def snare(sample_rate: int, rng: np.random.Generator) -> Mono:
    n = int(0.25 * sample_rate)
    t = np.arange(n) / sample_rate
    sos = signal.butter(2, [1200.0, min(7000.0, 0.4 * sample_rate)], btype="bandpass", fs=sample_rate, output="sos")
    rattle = _noise_burst(rng, n, sample_rate, sos) * np.exp(-t / 0.07)
    body = 0.5 * np.sin(TWO_PI * 185.0 * t) * np.exp(-t / 0.04)
    y = (rattle / (np.abs(rattle).max() + 1e-12) + body) * np.minimum(t / 0.001, 1.0)
    return end_fade(y, sample_rate, 0.03)


def hat(sample_rate: int, rng: np.random.Generator) -> Mono:
    n = int(0.1 * sample_rate)
    t = np.arange(n) / sample_rate
    sos = signal.butter(2, min(7000.0, 0.4 * sample_rate), btype="highpass", fs=sample_rate, output="sos")
    y = _noise_burst(rng, n, sample_rate, sos) * np.exp(-t / 0.018)
    y = y / (np.abs(y).max() + 1e-12) * np.minimum(t / 0.0005, 1.0)
    return end_fade(y, sample_rate, 0.02)


def vinyl(length: int, sample_rate: int, rng: np.random.Generator) -> Stereo:
    """Hiss plus sparse crackle; the bus filter in the mix gives it the band of an old record."""
    hiss = 0.05 * rng.standard_normal((2, length))
    count = int(length / sample_rate * 6.0)
    where = rng.integers(0, length, size=(2, count))
    pops = rng.exponential(0.4, size=(2, count)) * rng.choice([-1.0, 1.0], size=(2, count))
    np.add.at(hiss, (np.repeat([[0], [1]], count, axis=1), where), pops)
    return hiss


class LoopBus:
    """A stereo buffer for one loop; a note that rings past the end wraps onto the start."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.data: Bus = np.zeros((2, length), dtype=np.float32)

    def add(self, start: int, audio: Signal) -> None:
        pos, done = start % self.length, 0
        # Wrapping the release tails onto the start is what makes the loop truly periodic.
        while done < audio.shape[1]:
            take = min(self.length - pos, audio.shape[1] - done)
            self.data[:, pos : pos + take] += audio[:, done : done + take]
            done += take
            pos = 0

    def add_mono(self, start: int, audio: Mono, pan: float, gain: float = 1.0) -> None:
        left, right = pan_gains(pan)
        self.add(start, np.stack([audio * (gain * left), audio * (gain * right)]))


class SpectralMix:
    """Mixes loop buses in the frequency domain so every filter and the reverb act circularly.

    Single precision is plenty for audio and halves the memory traffic of the big spectra.
    """

    def __init__(self, length: int, sample_rate: int) -> None:
        self.length = length
        self.sample_rate = sample_rate
        self.freqs = fft.rfftfreq(length, 1.0 / sample_rate)
        self._z1 = np.exp(-2j * np.pi * self.freqs / sample_rate).astype(np.complex64)
        self._z2 = self._z1 * self._z1
        self.dry: Spectrum = np.zeros((2, self.freqs.size), dtype=np.complex64)
        self.send: Spectrum = np.zeros((2, self.freqs.size), dtype=np.complex64)

    def response(self, kind: str, cutoff: float | list[float], order: int = 2) -> Spectrum:
        nyquist = 0.45 * self.sample_rate
        edges = [min(max(float(c), 10.0), nyquist) for c in np.atleast_1d(cutoff)]
        band = edges if len(edges) > 1 else edges[0]
        sos = signal.butter(order, band, btype=kind, fs=self.sample_rate, output="sos")
        # The causal filter's own response, not just its magnitude, keeps drum attacks free of
        # pre-echo; evaluating it directly is much cheaper than scipy's general freqz.
        h = np.ones_like(self._z1)
        for b0, b1, b2, a0, a1, a2 in sos:
            h *= (b0 + b1 * self._z1 + b2 * self._z2) / (a0 + a1 * self._z1 + a2 * self._z2)
        return h

    def add(self, bus: Signal, response: Spectrum | None, gain: float, send: float) -> None:
        spec = fft.rfft(bus.astype(np.float32, copy=False), axis=-1)
        spec *= np.complex64(gain) if response is None else (response * gain).astype(np.complex64)
        self.dry += spec
        if send > 0.0:
            spec *= np.float32(send)
            self.send += spec

    def tilt(self, db_per_octave: float) -> npt.NDArray[np.float64]:
        """A gentle zero-phase spectral tilt about 1 kHz: the mastering move for a brighter or darker mix."""
        octaves = np.log2(np.clip(self.freqs, 100.0, 12000.0) / 1000.0)
        return np.asarray(10.0 ** (db_per_octave * octaves / 20.0), dtype=np.float64)

    def render(self, reverb: Spectrum, wet: float, tilt_db: float) -> Stereo:
        master = self.response("highpass", 30.0) * self.tilt(tilt_db)  # the highpass also removes DC
        self.send *= (reverb * (wet * master)).astype(np.complex64)
        self.dry *= master.astype(np.complex64)
        self.dry += self.send
        return np.asarray(fft.irfft(self.dry, n=self.length, axis=-1), dtype=np.float64)

    def reverb(self, seconds: float, damping_hz: float, rng: np.random.Generator) -> Spectrum:
        """A decaying-noise impulse response, different per side so the tail is wide."""
        n = min(int(seconds * self.sample_rate), self.length)
        t = np.arange(n) / self.sample_rate
        shape = np.exp(-6.9 * t / seconds) * np.minimum(t / 0.03, 1.0)
        ir = rng.standard_normal((2, n)) * shape
        ir /= np.sqrt(np.sum(ir * ir, axis=-1, keepdims=True))
        spec = fft.rfft(ir.astype(np.float32), n=self.length, axis=-1)
        delay = self._z1 ** (0.015 * self.sample_rate)  # pre-delay keeps the dry attack clear
        return np.asarray(spec * (delay * self.response("lowpass", damping_hz, 1)).astype(np.complex64))
