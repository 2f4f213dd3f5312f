"""Derived voices: another person made from an engine's voice by moving its pitch and its formants.

A derivation is a pitch shift in semitones and a formant ratio (> 1 moves the vocal-tract resonances up:
a shorter, brighter tract; < 1 a longer, darker one); speed is the engine's own speed setting, never a time
stretch. Both are applied in a source-filter model, so pitch and timbre move independently:

- engines that expose their vocoder parameters (hibari: an F0 curve and per-frame spectral envelopes) are
  derived *before* their own resynthesis, which costs nothing extra (see ``hibari.HibariEngine``);
- every other engine's output is analysed and resynthesised with WORLD (pyworld): F0 from YIN refined by
  StoneMask (voices/pitch.py), CheapTrick for the envelope, D4C for aperiodicity, then F0 scaled and the envelope
  warped in frequency. Not Harvest: it alone costs ~0.17x realtime on one core, more than piper's synthesis
  (~0.12x); nor DIO, which reads piper's joe at ~155 Hz where he speaks at ~105 Hz, so a voice resynthesised
  from its F0 is a different, jumpy voice.

The casting palette (``VARIANTS``) names the derived variants ``base~name`` so a cast is readable in
``check --show`` and ``podforge voices``; ``variant(name)`` turns a name back into its parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import pitch

#: Bump when the derived audio changes (it enters the clip cache key, voices/synth.py).
WORLD_VERSION = 2
FRAME_MS = 10.0  # WORLD's frame period: 10 ms halves the analysis cost of its 5 ms default, inaudibly for speech


@dataclass(frozen=True)
class Derivation:
    pitch: float = 0.0  # semitones
    formant: float = 1.0  # envelope frequency ratio

    @property
    def identity(self) -> bool:
        return self.pitch == 0.0 and self.formant == 1.0

    @property
    def pitch_ratio(self) -> float:
        return float(2.0 ** (self.pitch / 12.0))


#: Casting palette: name → (semitones, formant ratio). Female bases go up first and male bases down and then up,
#: so a derived voice never lands on the other bundled voice's pitch; the steps (≥ 3 semitones; 4 up and 5 down
#: for piper's joe, whose median F0 wanders ±6 % from one synthesis to the next) keep the median F0 of every
#: pair in a six-voice cast ≥ 12 % apart (tests/test_cast.py).
VARIANTS: dict[str, tuple[float, float]] = {
    "bright": (3.0, 1.05),
    "high": (6.0, 1.09),
    "warm": (1.5, 0.9),
    "low": (-5.0, 0.93),
    "light": (4.0, 1.04),
    "deep": (-8.0, 0.88),
}
FEMALE_ORDER = ("bright", "high", "warm")
MALE_ORDER = ("low", "light", "deep")


def variant(name: str) -> Derivation | None:
    """The parameters of palette variant ``name``; ``vN`` (N ≥ 1) names the N-th voice of an endless spread."""
    if name in VARIANTS:
        return Derivation(*VARIANTS[name])
    match = re.fullmatch(r"v([1-9][0-9]{0,3})", name)
    if not match:
        return None
    n = int(match.group(1))
    # A golden-ratio walk fills pitch (±6 st) and formant (0.88..1.12) evenly however many voices are asked for.
    pitch = round(12.0 * ((n * 0.618034) % 1.0) - 6.0, 2)
    formant = round(0.88 + 0.24 * ((n * 0.754878) % 1.0), 3)
    return Derivation(pitch, formant)


def warp_envelope(envelope: npt.NDArray[np.floating], ratio: float, axis: int = 0) -> npt.NDArray[np.floating]:
    """Move spectral features along the frequency ``axis`` by ``ratio`` (bin k takes what was at k / ratio)."""
    if ratio == 1.0:
        return envelope
    n = envelope.shape[axis]
    source = np.clip(np.arange(n) / ratio, 0, n - 1)
    low = np.floor(source).astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    shape = [1] * envelope.ndim
    shape[axis] = n
    weight = (source - low).reshape(shape).astype(envelope.dtype)
    return np.take(envelope, low, axis=axis) * (1 - weight) + np.take(envelope, high, axis=axis) * weight


def derive_world(samples: npt.NDArray[np.float32], rate: int, derivation: Derivation) -> npt.NDArray[np.float32]:
    """WORLD analysis → shifted F0, warped envelope → WORLD synthesis; the length is kept."""
    if derivation.identity or samples.size < rate // 20:
        return samples
    import pyworld

    x = np.ascontiguousarray(samples, np.float64)
    f0, times = pitch.track(x, rate, FRAME_MS)
    envelope = pyworld.cheaptrick(x, f0, times, rate)
    aperiodicity = pyworld.d4c(x, f0, times, rate)
    if derivation.pitch < 0:
        envelope = _keep_fundamental(envelope, f0, rate)
    envelope = warp_envelope(envelope, derivation.formant, axis=1)
    y = pyworld.synthesize(f0 * derivation.pitch_ratio, np.ascontiguousarray(envelope), aperiodicity, rate, FRAME_MS)
    out = np.zeros_like(samples)
    n = min(out.shape[0], y.shape[0])
    out[:n] = y[:n]
    return out


def _keep_fundamental(envelope: npt.NDArray[np.float64], f0: npt.NDArray[np.float64], rate: int) -> np.ndarray:
    """Below each frame's F0 the analysed envelope says little (no harmonic was there) and falls away, so a
    lowered fundamental would come out faint and heard, and tracked, an octave up: hold it at its F0 level."""
    bins = envelope.shape[1]
    voiced = f0[f0 > 0]
    reference = np.where(f0 > 0, f0, np.median(voiced) if voiced.size else 100.0)
    k0 = np.clip(np.round(reference * 2 * (bins - 1) / rate).astype(np.intp), 1, bins - 1)
    level = envelope[np.arange(envelope.shape[0]), k0][:, None]
    below = np.arange(bins)[None, :] < k0[:, None]
    return np.where(below, np.maximum(envelope, level), envelope)
