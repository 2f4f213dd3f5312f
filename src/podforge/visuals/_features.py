"""Per-video-frame audio features for the visualisers, computed once per episode.

Frame ``i`` covers samples ``[i*rate//fps, (i+1)*rate//fps)``: every feature of frame ``i`` is taken from that span
only, so a sound starting exactly on a frame boundary shows on that frame and not a frame late.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import fft as sfft

FloatArray = npt.NDArray[np.float32]

F_LOW, F_HIGH = 30.0, 12_000.0
#: Envelope buckets kept per frame: enough for a smooth 1280 px line, 256 bytes per frame instead of the samples.
ENVELOPE_POINTS = 256
#: Dynamic range shown by the spectrum bars, below the episode's 99th percentile.
SPECTRUM_RANGE_DB = 60.0
#: Dynamic range of the normalised level: speech sits within ~36 dB, below that it is silence to the eye.
LEVEL_RANGE_DB = 36.0
#: Quietest reference allowed, so a near-silent episode is not blown up to full-height bars.
MIN_REF_DB = -70.0
#: Bars rise fast and fall slowly (seconds): stops flicker without delaying an onset by a frame.
ATTACK_S, RELEASE_S = 0.02, 0.15
_CHUNK_FRAMES = 512  # bounds the temporary (frames x window) and FFT buffers to a few MB


def _mono(block: npt.NDArray[np.floating]) -> FloatArray:
    """Mono float32 of an (n,) or (n, channels) block; only ever called on one chunk."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    # Column sums: numpy's axis=1 mean over a 2-wide axis is several times slower than adding the columns.
    mono = block[:, 0].astype(np.float32)
    for ch in range(1, block.shape[1]):
        mono += block[:, ch]
    mono *= np.float32(1.0 / block.shape[1])
    return mono


def _band_weights(nfft: int, rate: int, bars: int) -> FloatArray:
    """(bins, bars) matrix summing FFT power into log-spaced bands.

    Bands narrower than one FFT bin (the bottom octaves) would be empty, so they read the power interpolated at their
    centre frequency instead; wider bands sum their bins, which keeps a pure tone's level independent of band width.
    """
    n_bins = nfft // 2 + 1
    freqs = np.arange(n_bins) * rate / nfft
    edges = np.geomspace(F_LOW, min(F_HIGH, rate / 2), bars + 1)
    weights = np.zeros((n_bins, bars), np.float32)
    for b in range(bars):
        inside = (freqs >= edges[b]) & (freqs < edges[b + 1])
        if inside.any():
            weights[inside, b] = 1.0
            continue
        pos = min(np.sqrt(edges[b] * edges[b + 1]) * nfft / rate, n_bins - 1.000001)
        lo = int(pos)
        weights[lo, b], weights[lo + 1, b] = 1.0 - (pos - lo), pos - lo
    return weights


def _smooth(values: FloatArray, fps: int) -> None:
    """In-place attack/release smoothing along axis 0 (time); a short loop over frames, each step vectorised."""
    attack = np.float32(1.0 - np.exp(-1.0 / (fps * ATTACK_S)))
    release = np.float32(1.0 - np.exp(-1.0 / (fps * RELEASE_S)))
    for i in range(1, len(values)):
        prev = values[i - 1]
        delta = values[i] - prev
        values[i] = prev + np.where(delta > 0, attack, release) * delta


def _to_unit(db: npt.NDArray[np.floating], ref_db: float, range_db: float) -> FloatArray:
    return np.clip((db - (ref_db - range_db)) / range_db, 0.0, 1.0).astype(np.float32)


def _percentile_ref(db: npt.NDArray[np.floating]) -> float:
    return max(float(np.percentile(db, 99)), MIN_REF_DB) if db.size else MIN_REF_DB


class AudioFeatures:
    """Precomputed once per episode: per-frame RMS level, smoothed log-band spectrum and a min/max waveform envelope.

    Memory is O(frames): (n_frames, bars) float32 plus 2 x (n_frames, 256) int8, never a copy of the audio. Frames
    outside ``[0, n_frames)`` (video running past the audio) read as silence.
    """

    def __init__(self, audio: npt.NDArray[np.floating], rate: int, fps: int, bars: int = 48) -> None:
        if audio.ndim not in (1, 2) or rate <= 0 or fps <= 0 or bars < 1:
            raise ValueError("audio must be (n,) or (n, channels); rate, fps and bars must be positive")
        self.rate, self.fps, self.bars = int(rate), int(fps), int(bars)
        n = len(audio)
        self.n_frames = -(-n * self.fps // self.rate)
        self._win = max(1, self.rate // self.fps)  # whole frames' spans are this long or one sample longer
        self._points = min(ENVELOPE_POINTS, self._win)
        self._rms = np.zeros(self.n_frames, np.float32)
        self._env = np.zeros((2, self.n_frames, self._points), np.int8)
        # 2x zero-padding interpolates between bins, which the sub-bin-wide bottom bands read from.
        self._nfft = 2 * (1 << max(0, (self._win - 1).bit_length()))
        self._window = np.hanning(self._win + 2)[1:-1].astype(np.float32)
        self._weights = _band_weights(self._nfft, self.rate, self.bars)
        self._power_scale = np.float32(4.0 / float(self._window.sum()) ** 2)  # full-scale sine -> power 1
        power = np.zeros((self.n_frames, self.bars), np.float32)
        for f0 in range(0, self.n_frames, _CHUNK_FRAMES):
            self._analyse_chunk(audio, f0, min(f0 + _CHUNK_FRAMES, self.n_frames), power)
        self._finish(power)

    def _analyse_chunk(self, audio: npt.NDArray[np.floating], f0: int, f1: int, power: FloatArray) -> None:
        """Level, envelope and band power of frames [f0, f1) from the samples those frames span."""
        n, win = len(audio), self._win
        bounds = np.arange(f0, f1 + 1, dtype=np.int64) * self.rate // self.fps
        first = int(bounds[0])
        stop = max(int(bounds[-2]) + win, int(bounds[-1]))
        seg = np.zeros(stop - first, np.float32)  # zero-padded past the end of the audio
        got = _mono(audio[first : min(stop, n)])
        seg[: len(got)] = got
        lo = bounds[:-1] - first
        frames = seg[lo[:, None] + np.arange(win)]  # (frames, win): each frame's own samples, no overlap
        # RMS over the window (the span less at most its one extra sample); a cut-off last frame counts real samples.
        count = np.clip(n - bounds[:-1], 1, win)
        self._rms[f0:f1] = np.sqrt(np.einsum("ij,ij->i", frames, frames) / count)
        edges = np.linspace(0, win, self._points + 1).astype(np.int64)[:-1]
        for k, reduce in enumerate((np.minimum, np.maximum)):
            env = reduce.reduceat(frames, edges, axis=1)
            self._env[k, f0:f1] = np.clip(np.rint(env * 127.0), -127, 127).astype(np.int8)
        power[f0:f1] = self._band_power(frames)

    def _band_power(self, frames: FloatArray) -> FloatArray:
        spec = sfft.rfft(frames * self._window, n=self._nfft, axis=1)
        mag2 = np.square(spec.real) + np.square(spec.imag)
        return (mag2 @ self._weights) * self._power_scale

    def _finish(self, power: FloatArray) -> None:
        """Normalise to the episode's 99th percentile (dB), then smooth; drops the analysis helpers."""
        band_db = 10.0 * np.log10(power + np.float32(1e-12))
        self._spec = _to_unit(band_db, _percentile_ref(band_db), SPECTRUM_RANGE_DB)
        _smooth(self._spec, self.fps)
        level_db = 20.0 * np.log10(self._rms + np.float32(1e-9))
        self.loudness_track = _to_unit(level_db, _percentile_ref(level_db), LEVEL_RANGE_DB)
        _smooth(self.loudness_track, self.fps)
        peaks = np.abs(self._env.astype(np.int16)).max(axis=(0, 2)) / 127.0 if self.n_frames else np.zeros(1)
        #: Waveform display gain reference: the 99th-percentile frame peak, so the line fills its box.
        self.peak_ref = float(max(np.percentile(peaks, 99), 1e-3))
        del self._weights, self._window  # only needed while analysing

    def _inside(self, i: int) -> bool:
        return 0 <= i < self.n_frames

    def level(self, i: int) -> float:
        """Raw RMS of frame i's samples (1.0 = full-scale square wave)."""
        return float(self._rms[i]) if self._inside(i) else 0.0

    def loudness(self, i: int) -> float:
        """Level in 0..1 against the episode's 99th percentile (dB scale), attack/release smoothed."""
        return float(self.loudness_track[i]) if self._inside(i) else 0.0

    def spectrum(self, i: int) -> FloatArray:
        """(bars,) log-spaced 30 Hz-12 kHz band levels in 0..1 (dB scale against the episode's 99th percentile)."""
        return self._spec[i].copy() if self._inside(i) else np.zeros(self.bars, np.float32)

    def envelope(self, i: int, points: int) -> tuple[FloatArray, FloatArray]:
        """(min, max) of frame i's mono waveform, each (points,) in -1..1."""
        if not self._inside(i) or points < 1:
            empty = np.zeros(max(points, 0), np.float32)
            return empty, empty.copy()
        lo, hi = (self._env[k, i].astype(np.float32) / np.float32(127.0) for k in (0, 1))
        have = len(lo)
        if points <= have:
            edges = np.linspace(0, have, points + 1).astype(np.int64)[:-1]
            return np.minimum.reduceat(lo, edges), np.maximum.reduceat(hi, edges)
        at = (np.arange(points, dtype=np.float32) + 0.5) * (have / points) - 0.5
        grid = np.arange(have, dtype=np.float32)
        return np.interp(at, grid, lo).astype(np.float32), np.interp(at, grid, hi).astype(np.float32)

    def waveform(self, i: int, points: int) -> FloatArray:
        """(points,) in -1..1: each bucket's min or max, whichever is larger in magnitude (keeps peaks and sign)."""
        lo, hi = self.envelope(i, points)
        return np.where(hi >= -lo, hi, lo).astype(np.float32)
