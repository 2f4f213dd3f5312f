"""Loudness normalisation (ITU-R BS.1770-4) and true-peak limiting for finished episodes.

Speed comes from oversampling only blocks whose peak could matter, running the limiter on a gain
curve decimated by _DECIMATE, and chunking so that no full-length temporaries are allocated.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyloudnorm
from scipy import ndimage, signal

from podforge.errors import ConfigError, RenderError

Audio = npt.NDArray[np.float32]

_OVERSAMPLE = 4
_HALF_SPAN = 10  # base-rate samples either side, as in scipy.signal.resample_poly's own design
_BLOCK = 1024  # granularity of the sparse peak search; a multiple of _DECIMATE
_DECIMATE = 8
_CHUNK = 1 << 15  # bounds the oversampling scratch memory
_LOOKAHEAD_S = 0.0015
_RELEASE_S = 0.06
_MAX_REFINE = 1.125  # the parabolic crest is at most 1/8 above its highest point
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


def _kweighted_power(x: Audio, sample_rate: int) -> tuple[npt.NDArray[np.float64], Audio]:
    """K-weighted power over all channels (weights are 1 for L/R/C): (per 100 ms, per _DECIMATE)."""
    sos = _kweighting_sos(sample_rate)
    edges = _sub_block_edges(x.shape[0], sample_rate)
    state = np.zeros((x.shape[1], sos.shape[0], 2), dtype=np.float32)
    cumulative = np.zeros(edges.size)  # running sum of power at each sub-block edge
    power_d = np.empty(-(-x.shape[0] // _DECIMATE), dtype=np.float32)
    total = 0.0
    for start in range(0, x.shape[0], _CHUNK):
        block = x[start : start + _CHUNK]
        power = np.zeros(block.shape[0], dtype=np.float32)
        for ch in range(x.shape[1]):
            weighted, state[ch] = signal.sosfilt(sos, block[:, ch], zi=state[ch])
            power += np.square(weighted, dtype=np.float32)
        running = np.cumsum(power, dtype=np.float64)
        lo, hi = np.searchsorted(edges, [start, start + block.shape[0]], side="right")
        cumulative[lo:hi] = total + running[edges[lo:hi] - start - 1]
        total += float(running[-1])
        decimated = np.add.reduceat(power, np.arange(0, power.size, _DECIMATE))
        power_d[start // _DECIMATE : start // _DECIMATE + decimated.size] = decimated
    return np.diff(cumulative), power_d


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
    sub_sums, _ = _kweighted_power(_as_2d(samples), sample_rate)
    return _gated_lufs(sub_sums, sample_rate)


@functools.cache
def _phase_filters() -> tuple[npt.NDArray[np.float32], float]:
    """resample_poly's 4x filter less phase 0 (the input itself, to 0.06 %); the envelope's worst gain."""
    taps = 2 * _HALF_SPAN * _OVERSAMPLE + 1
    h = signal.firwin(taps, 1.0 / _OVERSAMPLE, window=("kaiser", 5.0)) * _OVERSAMPLE
    phases = np.stack([h[k::_OVERSAMPLE][: 2 * _HALF_SPAN] for k in range(1, _OVERSAMPLE)])
    worst_gain = _MAX_REFINE * max(float(np.abs(h[k::_OVERSAMPLE]).sum()) for k in range(_OVERSAMPLE))
    return phases.astype(np.float32), worst_gain


def _refine_peaks(seq: Audio, floor: float) -> None:
    """Raise local maxima to the crest of the parabola through them and their neighbours.

    Plain 4x under-reads crests between its points (up to 0.7 dB near Nyquist, ~0.2 dB on
    broadband transients); the parabola gets within ~0.03 dB. The raise is at most 1/8, so points
    below ``floor``, which cannot matter to the caller, are skipped: that keeps this sparse.
    """
    idx = np.flatnonzero(seq[1:-1] >= floor) + 1
    a, b, c = seq[idx - 1], seq[idx], seq[idx + 1]
    curvature = 2.0 * b - a - c
    crest = (b >= a) & (b >= c) & (curvature > 0.0)
    seq[idx[crest]] = b[crest] + np.square(a[crest] - c[crest]) / (8.0 * curvature[crest])


def _envelope_chunk(x: Audio, start: int, stop: int, floor: float) -> Audio:
    """Per sample in [start, stop): the true peak up to the next sample, max over channels.

    Exact wherever it is at least ``floor``; below that it may read up to 1 dB low.
    """
    pad = _HALF_SPAN + 1  # one more sample each side gives the parabola its neighbours
    count = stop - start + 2
    lo, hi = max(0, start - pad), min(x.shape[0], stop + pad)
    cols = np.zeros((x.shape[1], count - 2 + 2 * pad), dtype=np.float32)
    cols[:, lo - (start - pad) : hi - (start - pad)] = x[lo:hi].T
    grid = np.empty((x.shape[1], count, _OVERSAMPLE), dtype=np.float32)  # |4x signal| in time order
    np.abs(cols[:, pad - 1 : pad - 1 + count], out=grid[:, :, 0])
    for k, h in enumerate(_phase_filters()[0], start=1):
        # phase k's output i + 2*(pad-1) is the point k/4 after cols[:, pad - 1 + i]
        np.abs(signal.upfirdn(h, cols)[:, 2 * pad - 2 : 2 * pad - 2 + count], out=grid[:, :, k])
    env = np.zeros(stop - start, dtype=np.float32)
    for seq in grid.reshape(x.shape[1], -1):
        _refine_peaks(seq, floor)
        rows = seq.reshape(count, _OVERSAMPLE)[1:-1]
        for k in range(_OVERSAMPLE):
            np.maximum(env, rows[:, k], out=env)
    return env


def _segment_max(values: Audio, width: int) -> Audio:
    rows = np.pad(values, (0, -values.size % width)).reshape(-1, width)
    if width > 16:
        return rows.max(axis=1)
    out = rows[:, 0].copy()  # numpy reduces short rows slowly; strided maxima are much faster
    for j in range(1, width):
        np.maximum(out, rows[:, j], out=out)
    return out


def _exact_maxima(x: Audio, blocks: npt.NDArray[np.bool_], width: int, floor: float) -> Iterator[tuple[int, Audio]]:
    """For each chunk of the selected blocks: (first index in units of width, true-peak maxima)."""
    edges = np.diff(blocks.astype(np.int8), prepend=0, append=0)  # +1 where a run starts, -1 after
    for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, stop = int(first) * _BLOCK, min(x.shape[0], int(last) * _BLOCK)
        for s in range(start, stop, _CHUNK):
            e = min(stop, s + _CHUNK)
            yield s // width, _segment_max(_envelope_chunk(x, s, e, floor), width)


def _block_bounds(x: Audio) -> Audio:
    """Per block, an upper bound of the oversampled peak: worst filter gain x nearby sample peak."""
    n, channels = x.shape
    n_full = n // _BLOCK
    rows = x[: n_full * _BLOCK].reshape(n_full, _BLOCK * channels)
    peaks = np.maximum(rows.max(axis=1, initial=0.0), -rows.min(axis=1, initial=0.0))
    if n % _BLOCK:
        peaks = np.append(peaks, np.abs(x[n_full * _BLOCK :]).max())
    if peaks.size and not np.isfinite(peaks).all():
        raise RenderError("audio contains NaN or infinite samples; the mix upstream is broken")
    padded = np.pad(peaks, 1)
    near = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return (near * _phase_filters()[1]).astype(np.float32)


def _true_peak_linear(x: Audio, known: Audio | None = None) -> float:
    """Exact true peak, oversampling only blocks whose bound beats the best found so far.

    ``known`` optionally gives, per block, an already known exact peak (NaN where unknown).
    """
    bounds = _block_bounds(x)
    todo = np.ones(bounds.size, dtype=bool) if known is None else np.isnan(known)
    best = 0.0 if known is None or todo.all() else float(np.nanmax(known))
    mask = todo & (bounds > best)
    if mask.any():  # the most promising block first gives a high ``best`` that prunes the rest
        mask = np.zeros_like(mask)
        mask[int(np.argmax(np.where(todo, bounds, -1.0)))] = True
    while mask.any():
        for _, maxima in _exact_maxima(x, mask, _BLOCK, best / _MAX_REFINE):
            best = max(best, float(maxima.max()))
        todo &= ~mask
        mask = todo & (bounds > best)
    return best


def true_peak_dbtp(samples: npt.ArrayLike, sample_rate: int) -> float:
    """True peak in dBTP: the peak of the 4x-oversampled signal (resample_poly's filter).

    Crests between the oversampled points are estimated with a parabola, so the value agrees with
    8x-16x meters within ~0.05 dB instead of under-reading by up to 0.7 dB like plain 4x.
    The oversampling factor is 4 whatever ``sample_rate`` is; returns ``-inf`` for silence.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return _to_db(_true_peak_linear(_as_2d(samples)))


class _Analysis:
    """What master() measures on its input once and reuses on every pass."""

    def __init__(self, x: Audio, sample_rate: int) -> None:
        self.x, self.sample_rate = x, sample_rate
        self.bounds = _block_bounds(x)
        sub_sums, self.power_d = _kweighted_power(x, sample_rate)
        self.lufs_in = _gated_lufs(sub_sums, sample_rate)
        self.sub_edges_d = _sub_block_edges(x.shape[0], sample_rate) // _DECIMATE
        self.env_d = np.zeros(-(-x.shape[0] // _DECIMATE), dtype=np.float32)
        self.floors = np.full(self.bounds.size, np.inf, dtype=np.float32)  # refinement floor per block

    def envelope(self, gain: float, ceiling: float) -> Audio:
        """Decimated true-peak envelope, exact wherever ``gain`` could push it past ``ceiling``."""
        matters = ceiling / (gain * _MAX_REFINE)
        need = (self.bounds * gain > ceiling) & (self.floors > matters)
        floor = matters / _REFINE_HEADROOM
        for first, maxima in _exact_maxima(self.x, need, _DECIMATE, floor):
            self.env_d[first : first + maxima.size] = maxima
        self.floors[need] = floor
        return self.env_d

    def known_peaks(self, gain: float, att: Audio | None) -> Audio:
        """Per block, the output's exact true peak where the limiter left the block and its filter
        span alone (the output is gain * input there); NaN elsewhere."""
        per_block = _BLOCK // _DECIMATE
        peaks = _segment_max(self.env_d, per_block)
        known = np.isfinite(self.floors) & (peaks >= self.floors * _MAX_REFINE)
        if att is not None:
            touched = np.pad(_segment_max(att, per_block) > 0.0, 1)
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
    env = an.envelope(gain, ceiling)
    required = 1.0 - ceiling / np.maximum(env * gain, ceiling)
    if not required.any():
        return None
    look = max(1, math.ceil(_LOOKAHEAD_S * an.sample_rate / _DECIMATE))
    window = look + 2
    held = ndimage.maximum_filter1d(required, window, mode="nearest", origin=1 - window // 2)
    released = _release(held, math.exp(-_DECIMATE / (_RELEASE_S * an.sample_rate)))
    smooth = (look + 1) // 2  # two causal means: a triangular ramp spanning at most ``look``
    mean = functools.partial(ndimage.uniform_filter1d, size=smooth, mode="nearest", origin=(smooth - 1) // 2)
    return mean(mean(released))


def _estimate_lufs(an: _Analysis, gain_db: float, att: Audio | None) -> float:
    # K-weighting is linear and the gain curve is slow, so weighting the precomputed power by the
    # squared gain is a close (<0.01 LU) stand-in for filtering the limited signal again.
    power = an.power_d if att is None else an.power_d * np.square(1.0 - att)
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


def _apply_gain(x: Audio, gain: float, att: Audio | None) -> Audio:
    if att is None:
        return x * np.float32(gain)
    # each block's gain runs linearly between its own node and the next; both cover its peaks
    nodes = np.append(att, att[-1])
    frac = np.arange(_DECIMATE, dtype=np.float32) / _DECIMATE
    out = np.empty_like(x)
    for start in range(0, x.shape[0], _CHUNK):
        stop = min(x.shape[0], start + _CHUNK)
        seg = nodes[start // _DECIMATE : -(-stop // _DECIMATE) + 1]
        curve = np.multiply.outer(np.diff(seg), frac)
        curve += seg[:-1, None]
        per_sample = (np.float32(gain) * (1.0 - curve)).reshape(-1)[: stop - start]
        for ch in range(x.shape[1]):  # broadcasting over 2-wide rows is several times slower
            np.multiply(x[start:stop, ch], per_sample, out=out[start:stop, ch])
    return out


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
    if not -70.0 < target_lufs < 0.0:  # NaN fails this too
        raise ConfigError(f"target loudness {target_lufs} LUFS is out of range; use e.g. -16 or -23")
    if not -20.0 <= true_peak_limit_dbtp <= 0.0:
        raise ConfigError(f"true-peak limit {true_peak_limit_dbtp} dBTP is out of range; use e.g. -1.0")
    x = _as_2d(samples)
    an = _Analysis(x, sample_rate)
    shape = np.shape(samples)
    if not math.isfinite(an.lufs_in):
        peak = _to_db(_true_peak_linear(x))
        return MasterResult(x.copy().reshape(shape), an.lufs_in, an.lufs_in, peak, 0.0)
    ceiling = 10.0 ** ((true_peak_limit_dbtp - _MARGIN_DB) / 20.0)
    gain_db, att = _solve_gain(an, target_lufs, ceiling)
    y = _apply_gain(x, 10.0 ** (gain_db / 20.0), att)
    peak = _true_peak_linear(y, an.known_peaks(10.0 ** (gain_db / 20.0), att))
    if peak > 10.0 ** (true_peak_limit_dbtp / 20.0):
        # the interpolated gain curve let an edge case through; trim rather than exceed the limit
        trim = ceiling / peak
        y *= np.float32(trim)
        gain_db += _to_db(trim)
        peak *= trim
    # K-weighting is linear and the gain curve slow, so the input's K-weighted power times the
    # squared gain measures the output (tests hold it to pyloudnorm within 0.02 LU)
    lufs_out = _estimate_lufs(an, gain_db, att)
    return MasterResult(y.reshape(shape), an.lufs_in, lufs_out, _to_db(peak), gain_db)
