"""Loudness normalisation (ITU-R BS.1770-4) and true-peak limiting for finished episodes.

Speed comes from oversampling only blocks whose peak could matter (``truepeak.py``), running the limiter on a
gain curve decimated by _DECIMATE, and chunking so that no full-length temporaries are allocated. The input is
read by slices and the output written by blocks (``stream.py``): ``master_stream`` masters a file of any length
in bounded memory, ``master`` does the same on arrays through the same code.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyloudnorm
from scipy import ndimage, signal

from podforge.errors import ConfigError

from .stream import ArrayAudio, AudioReader, AudioSink, RawAudio, blocks
from .truepeak import BLOCK as _BLOCK
from .truepeak import CHUNK as _CHUNK
from .truepeak import MAX_REFINE as _MAX_REFINE
from .truepeak import block_bounds, block_peaks, exact_maxima, reader_peaks, segment_max, true_peak_linear

Audio = npt.NDArray[np.float32]

_DECIMATE = 8
_LOOKAHEAD_S = 0.0015
_RELEASE_S = 0.06
_REFINE_HEADROOM = 2.0  # refine envelope points that a gain up to 6 dB higher could make matter
_MARGIN_DB = 0.1
_AIM_LU = 0.05
_MAX_PASSES = 6  # 1-2 for speech and music; more only for pathological peak-to-loudness
_MAX_STEP_DB = 12.0
_SUB_BLOCK_S = 0.1  # BS.1770 gating blocks are 400 ms with 75 % overlap: 4 sub-blocks
_SUBS_PER_BLOCK = 4
_ABS_GATE_LUFS = -70.0
_REL_GATE_LU = -10.0
_LUFS_OFFSET = -0.691


@dataclass(frozen=True)
class MasterResult:
    """The mastered audio (same shape as the input) and what was measured and done."""

    samples: Audio
    lufs_in: float
    lufs_out: float
    true_peak_dbtp: float
    gain_db: float


@dataclass(frozen=True)
class MasterLevels:
    """What ``master_stream`` measured and did; its audio is in the file it wrote."""

    lufs_in: float
    lufs_out: float
    true_peak_dbtp: float
    gain_db: float


def _as_2d(samples: npt.ArrayLike) -> Audio:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        return x.reshape(-1, 1)
    if x.ndim != 2:
        raise ValueError(f"audio must be shaped (n,) or (n, channels), got {x.shape}")
    return np.ascontiguousarray(x)


def _to_db(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0.0 else float("-inf")


@functools.cache
def _kweighting_sos(sample_rate: int) -> npt.NDArray[np.float32]:
    # pyloudnorm's stages as one float32 cascade: ~3x faster than float64, within 0.001 LU of it
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    stages = (
        pyloudnorm.IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        pyloudnorm.IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    rows = [np.concatenate([st.b / st.a[0], st.a / st.a[0]]) for st in stages]
    return np.asarray(rows, dtype=np.float32)


def _sub_block_edges(n: int, sample_rate: int) -> npt.NDArray[np.int64]:
    n_sub = int(n // (_SUB_BLOCK_S * sample_rate))
    return np.round(np.arange(n_sub + 1) * (_SUB_BLOCK_S * sample_rate)).astype(np.int64)


class Meter:
    """What mastering measures on its input, fed in order: K-weighted power (per 100 ms and per _DECIMATE,
    the filter state carried across blocks) and the sample peak per true-peak block. Blocks are multiples of
    _CHUNK frames (the last may be shorter), so the sums round exactly as over one array."""

    def __init__(self, frames: int, channels: int, sample_rate: int) -> None:
        self.sample_rate, self.sos = sample_rate, _kweighting_sos(sample_rate)
        self.edges = _sub_block_edges(frames, sample_rate)
        self.state = np.zeros((channels, self.sos.shape[0], 2), dtype=np.float32)
        self.cumulative = np.zeros(self.edges.size)  # running sum of power at each sub-block edge
        self.power_d = np.empty(-(-frames // _DECIMATE), dtype=np.float32)
        self.total, self.pos, self.peaks = 0.0, 0, list[Audio]()

    def feed(self, block: Audio) -> None:
        if self.pos % _CHUNK:
            raise ValueError("only the last block fed to a Meter may be shorter than a whole number of chunks")
        for start in range(0, block.shape[0], _CHUNK):
            self._chunk(block[start : start + _CHUNK])

    def _chunk(self, block: Audio) -> None:
        start, power = self.pos, np.zeros(block.shape[0], dtype=np.float32)
        for ch in range(block.shape[1]):
            weighted, self.state[ch] = signal.sosfilt(self.sos, block[:, ch], zi=self.state[ch])
            power += np.square(weighted, dtype=np.float32)
        running = np.cumsum(power, dtype=np.float64)
        lo, hi = np.searchsorted(self.edges, [start, start + block.shape[0]], side="right")
        self.cumulative[lo:hi] = self.total + running[self.edges[lo:hi] - start - 1]
        self.total += float(running[-1])
        decimated = np.add.reduceat(power, np.arange(0, power.size, _DECIMATE))
        self.power_d[start // _DECIMATE : start // _DECIMATE + decimated.size] = decimated
        self.peaks.append(block_peaks(block))
        self.pos += block.shape[0]

    def sub_sums(self) -> npt.NDArray[np.float64]:
        return np.diff(self.cumulative)

    def block_peaks(self) -> Audio:
        return np.concatenate(self.peaks) if self.peaks else np.zeros(0, np.float32)


def measure(x: AudioReader) -> Meter:
    meter = Meter(x.frames, x.channels, x.rate)
    for _, block in blocks(x):
        meter.feed(block)
    return meter


def _gated_lufs(sub_sums: npt.NDArray[np.float64], sample_rate: int) -> float:
    """BS.1770-4 integrated loudness from 100 ms sums of K-weighted power."""
    if sub_sums.size < _SUBS_PER_BLOCK:
        return float("-inf")
    z = np.convolve(sub_sums, np.ones(_SUBS_PER_BLOCK), "valid") / (_SUBS_PER_BLOCK * _SUB_BLOCK_S * sample_rate)
    with np.errstate(divide="ignore"):
        block_lufs = _LUFS_OFFSET + 10.0 * np.log10(z)
    above_abs = block_lufs >= _ABS_GATE_LUFS
    if not above_abs.any():
        return float("-inf")
    rel_gate = _LUFS_OFFSET + 10.0 * math.log10(float(z[above_abs].mean())) + _REL_GATE_LU
    gated = z[(block_lufs > rel_gate) & above_abs]  # never empty: the loudest block > mean - 10 LU
    return _LUFS_OFFSET + 10.0 * math.log10(float(gated.mean()))


def integrated_lufs(samples: npt.ArrayLike, sample_rate: int) -> float:
    """Integrated loudness in LUFS (BS.1770-4, as pyloudnorm measures it).

    Returns ``float('-inf')`` for silence and for audio shorter than one 400 ms gating block.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return _gated_lufs(measure(ArrayAudio(_as_2d(samples), sample_rate)).sub_sums(), sample_rate)


class _Analysis:
    """What master() measures on its input once and reuses on every pass."""

    def __init__(self, x: AudioReader, meter: Meter) -> None:
        self.x, self.sample_rate = x, x.rate
        self.bounds = block_bounds(meter.block_peaks())
        self.power_d = meter.power_d
        self.lufs_in = _gated_lufs(meter.sub_sums(), x.rate)
        self.sub_edges_d = _sub_block_edges(x.frames, x.rate) // _DECIMATE
        self.env_d = np.zeros(-(-x.frames // _DECIMATE), dtype=np.float32)
        self.floors = np.full(self.bounds.size, np.inf, dtype=np.float32)  # refinement floor per block

    def envelope(self, gain: float, ceiling: float) -> Audio:
        """Decimated true-peak envelope, exact wherever ``gain`` could push it past ``ceiling``."""
        matters = ceiling / (gain * _MAX_REFINE)
        need = (self.bounds * gain > ceiling) & (self.floors > matters)
        floor = matters / _REFINE_HEADROOM
        for first, maxima in exact_maxima(self.x, need, _DECIMATE, floor):
            self.env_d[first : first + maxima.size] = maxima
        self.floors[need] = floor
        return self.env_d

    def known_peaks(self, gain: float, att: Audio | None) -> Audio:
        """Per block, the output's exact true peak where the limiter left the block and its filter
        span alone (the output is gain * input there); NaN elsewhere."""
        per_block = _BLOCK // _DECIMATE
        peaks = segment_max(self.env_d, per_block)
        known = np.isfinite(self.floors) & (peaks >= self.floors * _MAX_REFINE)
        if att is not None:
            touched = np.pad(segment_max(att, per_block) > 0.0, 1)
            known &= ~(touched[:-2] | touched[1:-1] | touched[2:])
        return np.where(known, peaks * np.float32(gain), np.float32(np.nan))


def _release(attenuation: Audio, coeff: float) -> Audio:
    """Instant attack, exponential release: r[n] = max(a[n], coeff * r[n-1]), without a loop.

    In logs that is a running maximum of log a[m] - m*log(coeff), shifted back; chunks keep m
    (and so rounding) small and carry the last value over.
    """
    log_coeff = math.log(coeff)
    ramp = np.arange(min(_CHUNK, attenuation.size), dtype=np.float64) * log_coeff
    out = np.empty_like(attenuation)
    carried = -math.inf
    for start in range(0, attenuation.size, _CHUNK):
        chunk = attenuation[start : start + _CHUNK]
        with np.errstate(divide="ignore"):
            v = np.log(chunk, dtype=np.float64) - ramp[: chunk.size]
        v[0] = max(v[0], carried + log_coeff)
        np.maximum.accumulate(v, out=v)
        v += ramp[: chunk.size]
        out[start : start + chunk.size] = np.exp(v)
        carried = float(v[-1])
    return out


def _attenuation(an: _Analysis, gain: float, ceiling: float) -> Audio | None:
    """Decimated gain reduction (1 - gain) keeping gain * envelope <= ceiling; None if none needed.

    A forward maximum over the look-ahead (plus a neighbour each side: intersample peaks straddle
    block edges), smoothed over no more than that window, stays above what every block requires.
    """
    required = an.envelope(gain, ceiling) * gain  # 1 - ceiling / max(env * gain, ceiling), in place: these
    np.maximum(required, ceiling, out=required)  # curves are 1/8 of the episode's length, the largest arrays
    np.divide(ceiling, required, out=required)  # a long episode's mastering holds
    np.subtract(1.0, required, out=required)
    if not required.any():
        return None
    look = max(1, math.ceil(_LOOKAHEAD_S * an.sample_rate / _DECIMATE))
    window = look + 2
    held = ndimage.maximum_filter1d(required, window, mode="nearest", origin=1 - window // 2)
    del required
    released = _release(held, math.exp(-_DECIMATE / (_RELEASE_S * an.sample_rate)))
    del held
    smooth = (look + 1) // 2  # two causal means: a triangular ramp spanning at most ``look``
    mean = functools.partial(ndimage.uniform_filter1d, size=smooth, mode="nearest", origin=(smooth - 1) // 2)
    return mean(mean(released))


def _estimate_lufs(an: _Analysis, gain_db: float, att: Audio | None) -> float:
    # K-weighting is linear and the gain curve is slow, so weighting the precomputed power by the
    # squared gain is a close (<0.01 LU) stand-in for filtering the limited signal again.
    power = an.power_d
    if att is not None:
        power = np.subtract(1.0, att)
        np.square(power, out=power)
        power *= an.power_d
    edges = an.sub_edges_d
    if edges.size < 2:
        return float("-inf")
    sums = np.add.reduceat(power[: edges[-1]], edges[:-1], dtype=np.float64)
    return _gated_lufs(sums * 10.0 ** (gain_db / 10.0), an.sample_rate)


def _next_gain_db(tries: list[tuple[float, float]], target: float) -> float:
    """Next static gain to try, given the (gain_db, lufs) of the passes so far."""
    below = [t for t in tries if t[1] < target]
    above = [t for t in tries if t[1] > target]
    if below and above:
        # loudness rises monotonically with gain: a secant inside the tightest bracket
        (g0, l0), (g1, l1) = max(below), min(above)
        return g0 + (target - l0) * (g1 - g0) / (l1 - l0)
    (gain_db, lufs), slope = tries[-1], 1.0
    if len(tries) >= 2 and tries[-1][0] != tries[-2][0]:
        # limiting makes loudness grow slower than gain; extrapolate with the observed slope
        slope = min(1.0, max(0.1, (tries[-1][1] - tries[-2][1]) / (tries[-1][0] - tries[-2][0])))
    return gain_db + max(-_MAX_STEP_DB, min(_MAX_STEP_DB, (target - lufs) / slope))


def _solve_gain(an: _Analysis, target: float, ceiling: float) -> tuple[float, Audio | None]:
    """Static gain and limiter curve that land closest to the target loudness."""
    gain_db = target - an.lufs_in
    tries: list[tuple[float, float]] = []
    best: tuple[float, float, Audio | None] = (math.inf, gain_db, None)
    for _ in range(_MAX_PASSES):
        att = _attenuation(an, 10.0 ** (gain_db / 20.0), ceiling)
        estimate = _estimate_lufs(an, gain_db, att)
        if abs(target - estimate) < best[0]:
            best = (abs(target - estimate), gain_db, att)
        if abs(target - estimate) <= _AIM_LU:
            break
        tries.append((gain_db, estimate))
        gain_db = _next_gain_db(tries, target)
    return best[1], best[2]


def _gain_chunk(x: Audio, start: int, gain: float, att: Audio | None) -> Audio:
    if att is None:
        return x * np.float32(gain)
    # each block's gain runs linearly between its own node and the next (the last node repeated past the end);
    # both cover its peaks
    stop = start + x.shape[0]
    frac = np.arange(_DECIMATE, dtype=np.float32) / _DECIMATE
    first, last = start // _DECIMATE, -(-stop // _DECIMATE) + 1
    seg = att[first:last] if last <= att.size else np.append(att[first:], att[-1:])
    curve = np.multiply.outer(np.diff(seg), frac)
    curve += seg[:-1, None]
    per_sample = (np.float32(gain) * (1.0 - curve)).reshape(-1)[: stop - start]
    out = np.empty_like(x)
    for ch in range(x.shape[1]):  # broadcasting over 2-wide rows is several times slower
        np.multiply(x[:, ch], per_sample, out=out[:, ch])
    return out


def _apply_gain(x: AudioReader, gain: float, att: Audio | None, sink: AudioSink) -> Audio:
    """``x`` times the gain curve into ``sink``, a chunk at a time; returns the output's block peaks."""
    peaks = []
    for start in range(0, x.frames, _CHUNK):
        out = _gain_chunk(x.read(start, start + _CHUNK), start, gain, att)
        sink.write(start, out)
        peaks.append(block_peaks(out))
    return np.concatenate(peaks) if peaks else np.zeros(0, np.float32)


def _check_targets(target_lufs: float, true_peak_limit_dbtp: float) -> None:
    if not -70.0 < target_lufs < 0.0:  # NaN fails this too
        raise ConfigError(f"target loudness {target_lufs} LUFS is out of range; use e.g. -16 or -23")
    if not -20.0 <= true_peak_limit_dbtp <= 0.0:
        raise ConfigError(f"true-peak limit {true_peak_limit_dbtp} dBTP is out of range; use e.g. -1.0")


def _master(x: AudioReader, meter: Meter, sink: AudioSink, target_lufs: float, limit_dbtp: float) -> MasterLevels:
    """The one mastering path: ``x`` (measured by ``meter``) normalised and limited into ``sink``."""
    an = _Analysis(x, meter)
    if not math.isfinite(an.lufs_in):
        for start, block in blocks(x):
            sink.write(start, block)
        peak = _to_db(true_peak_linear(x, an.bounds))
        return MasterLevels(an.lufs_in, an.lufs_in, peak, 0.0)
    ceiling = 10.0 ** ((limit_dbtp - _MARGIN_DB) / 20.0)
    gain_db, att = _solve_gain(an, target_lufs, ceiling)
    peaks = _apply_gain(x, 10.0 ** (gain_db / 20.0), att, sink)
    peak = true_peak_linear(sink, block_bounds(peaks), an.known_peaks(10.0 ** (gain_db / 20.0), att))
    if peak > 10.0 ** (limit_dbtp / 20.0):
        # the interpolated gain curve let an edge case through; trim rather than exceed the limit
        trim = ceiling / peak
        for start, block in blocks(sink):
            sink.write(start, block * np.float32(trim))
        gain_db += _to_db(trim)
        peak *= trim
    # K-weighting is linear and the gain curve slow, so the input's K-weighted power times the
    # squared gain measures the output (tests hold it to pyloudnorm within 0.02 LU)
    return MasterLevels(an.lufs_in, _estimate_lufs(an, gain_db, att), _to_db(peak), gain_db)


def master(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    target_lufs: float = -16.0,
    true_peak_limit_dbtp: float = -1.0,
) -> MasterResult:
    """Normalise to ``target_lufs`` and true-peak limit to ``true_peak_limit_dbtp``.

    Silence, and audio too short to gate (< 0.4 s), comes back unchanged with ``gain_db`` 0.
    Mono ``(n,)`` input gives mono output. Raises RenderError for NaN/inf samples and
    ConfigError for targets out of range.
    """
    _check_targets(target_lufs, true_peak_limit_dbtp)
    x = ArrayAudio(_as_2d(samples), sample_rate)
    out = ArrayAudio(np.empty_like(x.samples), sample_rate)
    levels = _master(x, measure(x), out, target_lufs, true_peak_limit_dbtp)
    return MasterResult(out.samples.reshape(np.shape(samples)), levels.lufs_in, levels.lufs_out,
                        levels.true_peak_dbtp, levels.gain_db)  # fmt: skip


def master_stream(
    x: AudioReader, dest: Path, *, meter: Meter | None = None, target_lufs: float = -16.0,
    true_peak_limit_dbtp: float = -1.0,
) -> tuple[RawAudio, MasterLevels]:  # fmt: skip
    """``master`` for audio of any length: ``x`` read by slices, the result written to ``dest`` (raw float32).

    ``meter`` is what was measured while ``x`` was written (else ``x`` is read once more to measure it).
    """
    _check_targets(target_lufs, true_peak_limit_dbtp)
    out = RawAudio.create(dest, x.rate, x.channels, x.frames)
    levels = _master(x, meter if meter is not None else measure(x), out, target_lufs, true_peak_limit_dbtp)
    return out, levels


def true_peak_dbtp(samples: npt.ArrayLike, sample_rate: int) -> float:
    """True peak in dBTP: the peak of the 4x-oversampled signal (resample_poly's filter).

    Crests between the oversampled points are estimated with a parabola, so the value agrees with
    8x-16x meters within ~0.05 dB instead of under-reading by up to 0.7 dB like plain 4x.
    The oversampling factor is 4 whatever ``sample_rate`` is; returns ``-inf`` for silence.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    x = ArrayAudio(_as_2d(samples), sample_rate)
    return _to_db(true_peak_linear(x, block_bounds(reader_peaks(x))))
