"""Loudness normalisation (ITU-R BS.1770-4) and true-peak limiting for finished episodes.

Speed comes from oversampling only blocks whose peak could matter (``truepeak.py``), running the limiter on a
gain curve decimated by _DECIMATE, and chunking so that no full-length temporaries are allocated. The input is
read by slices and the output written by blocks (``stream.py``); the limiter's curve is made in pieces
(``limiter.py``) and the two curves kept across passes, the input's decimated K-weighted power and its true-peak
envelope, are readers too: ``master_stream`` keeps them in scratch files beside its output, so it masters a file
of any length in memory that does not grow with it; ``master`` does the same on arrays, in memory, through the
same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from podforge.errors import ConfigError

from .limiter import DECIMATE as _DECIMATE
from .limiter import PIECE, Pieces, Shape, Window
from .loudness import Meter, _as_2d, _gated_lufs, _sub_block_edges, curve, integrated_lufs, measure
from .stream import ArrayAudio, AudioReader, AudioSink, RawAudio, blocks
from .truepeak import BLOCK as _BLOCK
from .truepeak import CHUNK as _CHUNK
from .truepeak import MAX_REFINE as _MAX_REFINE
from .truepeak import block_bounds, block_peaks, exact_maxima, reader_peaks, segment_max, true_peak_linear

Audio = npt.NDArray[np.float32]

_REFINE_HEADROOM = 2.0  # refine envelope points that a gain up to 6 dB higher could make matter
_MARGIN_DB = 0.1
_AIM_LU = 0.05
_MAX_PASSES = 6  # 1-2 for speech and music; more only for pathological peak-to-loudness
_MAX_STEP_DB = 12.0
# The static gain is rounded to this grid: an edit moves the episode's loudness by a hair, and a gain that followed
# it would change every mastered sample, so the MP3 and AAC could not keep the encoded stretch before the edit
# (``audio/splice.py``). Costs at most half a step of loudness (0.05 LU) on top of _AIM_LU.
GAIN_STEP_DB = 0.1


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


def _to_db(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0.0 else float("-inf")


class _Analysis:
    """What master() measures on its input once and reuses on every pass. ``env`` (one channel, at 1/_DECIMATE
    rate, zeros to start with) holds the true-peak envelope as far as a pass needed it exact."""

    def __init__(self, x: AudioReader, meter: Meter, env: AudioSink) -> None:
        if meter.power is None:
            raise ValueError("mastering needs the decimated power its Meter keeps; give the Meter a sink for it")
        self.x, self.sample_rate, self.env, self.power = x, x.rate, env, meter.power
        self.bounds = block_bounds(meter.block_peaks())
        self.lufs_in = _gated_lufs(meter.sub_sums(), x.rate)
        self.sub_edges_d = _sub_block_edges(x.frames, x.rate) // _DECIMATE
        self.floors = np.full(self.bounds.size, np.inf, dtype=np.float32)  # refinement floor per block
        self.env_max, self.shape = 0.0, Shape.at(x.rate)  # refinement only raises points: the max of all written
        self.plain_sums = self.sums(None)

    def envelope(self, gain: float, ceiling: float) -> None:
        """Make the decimated true-peak envelope exact wherever ``gain`` could push it past ``ceiling``."""
        matters = ceiling / (gain * _MAX_REFINE)
        need = (self.bounds * gain > ceiling) & (self.floors > matters)
        floor = matters / _REFINE_HEADROOM
        for first, maxima in exact_maxima(self.x, need, _DECIMATE, floor):
            self.env.write(first, maxima[:, None])
            self.env_max = max(self.env_max, float(maxima.max()))
        self.floors[need] = floor

    def limits(self, gain: float, ceiling: float) -> bool:
        """Whether ``gain`` pushes any point of the envelope past ``ceiling`` (in float32, as the curve is made)."""
        return bool(np.float32(self.env_max) * np.float32(gain) > np.float32(ceiling))

    def pieces(self, gain: float, ceiling: float) -> Pieces:
        return Pieces(self.env, gain, ceiling, self.shape)

    def sums(self, pieces: Pieces | None) -> npt.NDArray[np.float64]:
        """Per 100 ms sub-block, the input's decimated K-weighted power times the squared limiter gain (the curve
        1 - ``pieces``; none: 1). K-weighting is linear and the gain curve slow, so this is a close (<0.01 LU)
        stand-in for filtering the limited signal again."""
        edges = self.sub_edges_d
        sums = np.zeros(max(0, edges.size - 1))
        end = int(edges[-1]) if edges.size > 1 else 0
        source = iter(pieces) if pieces is not None else ((s, None) for s in range(0, self.power.frames, PIECE))
        for start, att in source:
            if start >= end:
                break
            stop = min(start + PIECE, end)
            power = self.power.read(start, stop)[:, 0]
            if att is not None:
                weight = np.subtract(1.0, att[: stop - start])
                np.square(weight, out=weight)
                power = weight * power
            first = int(np.searchsorted(edges, start, side="right")) - 1
            inner = edges[(edges > start) & (edges < stop)] - start
            part = np.add.reduceat(power, np.concatenate([[0], inner]), dtype=np.float64)
            sums[first : first + part.size] += part
        return sums

    def known_peaks(self, gain: float, touched: npt.NDArray[np.bool_] | None) -> Audio:
        """Per block, the output's exact true peak where the limiter left the block and its filter
        span alone (the output is gain * input there); NaN elsewhere. ``touched``: the blocks it limited."""
        per_block = _BLOCK // _DECIMATE
        parts = [segment_max(self.env.read(s, s + PIECE)[:, 0], per_block) for s in range(0, self.env.frames, PIECE)]
        peaks = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        known = np.isfinite(self.floors) & (peaks >= self.floors * _MAX_REFINE)
        if touched is not None:
            near = np.pad(touched, 1)
            known &= ~(near[:-2] | near[1:-1] | near[2:])
        return np.where(known, peaks * np.float32(gain), np.float32(np.nan))


@dataclass(frozen=True)
class _Pass:
    """A static gain tried, whether the limiter worked at it, and the sub-block sums its loudness comes from."""

    gain_db: float
    limited: bool
    sums: npt.NDArray[np.float64]


def _try_gain(an: _Analysis, gain_db: float, ceiling: float) -> _Pass:
    gain = 10.0 ** (gain_db / 20.0)
    an.envelope(gain, ceiling)
    if not an.limits(gain, ceiling):
        return _Pass(gain_db, False, an.plain_sums)
    return _Pass(gain_db, True, an.sums(an.pieces(gain, ceiling)))


def _estimate_lufs(an: _Analysis, tried: _Pass, gain_db: float) -> float:
    if an.sub_edges_d.size < 2:
        return float("-inf")
    return _gated_lufs(tried.sums * 10.0 ** (gain_db / 10.0), an.sample_rate)


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


def _solve_gain(an: _Analysis, target: float, ceiling: float) -> _Pass:
    """The static gain (and whether the limiter works at it) that lands closest to the target loudness."""
    gain_db = target - an.lufs_in
    tries: list[tuple[float, float]] = []
    best: tuple[float, _Pass | None] = (math.inf, None)
    for _ in range(_MAX_PASSES):
        tried = _try_gain(an, gain_db, ceiling)
        estimate = _estimate_lufs(an, tried, gain_db)
        if abs(target - estimate) < best[0] or best[1] is None:
            best = (abs(target - estimate), tried)
        if abs(target - estimate) <= _AIM_LU:
            break
        tries.append((gain_db, estimate))
        gain_db = _next_gain_db(tries, target)
    assert best[1] is not None
    return best[1]


def _on_grid(an: _Analysis, best: _Pass, ceiling: float) -> _Pass:
    """``best`` with its gain rounded to GAIN_STEP_DB (tried again if that moved it)."""
    gain_db = round(best.gain_db / GAIN_STEP_DB) * GAIN_STEP_DB
    return best if gain_db == best.gain_db else _try_gain(an, gain_db, ceiling)


def _gain_chunk(x: Audio, start: int, gain: float, att: Window | None) -> Audio:
    if att is None:
        return x * np.float32(gain)
    # each block's gain runs linearly between its own node and the next (the last node repeated past the end);
    # both cover its peaks
    stop = start + x.shape[0]
    frac = np.arange(_DECIMATE, dtype=np.float32) / _DECIMATE
    first, last = start // _DECIMATE, -(-stop // _DECIMATE) + 1
    seg = att.get(first, last)
    curve = np.multiply.outer(np.diff(seg), frac)
    curve += seg[:-1, None]
    per_sample = (np.float32(gain) * (1.0 - curve)).reshape(-1)[: stop - start]
    out = np.empty_like(x)
    for ch in range(x.shape[1]):  # broadcasting over 2-wide rows is several times slower
        np.multiply(x[:, ch], per_sample, out=out[:, ch])
    return out


def _apply_gain(
    x: AudioReader, gain: float, att: Window | None, sink: AudioSink
) -> tuple[Audio, npt.NDArray[np.bool_] | None]:
    """``x`` times the gain curve into ``sink``, a chunk at a time; the output's block peaks and, when limited,
    which blocks the limiter touched."""
    peaks, touched = [], []
    per_block = _BLOCK // _DECIMATE
    for start in range(0, x.frames, _CHUNK):
        out = _gain_chunk(x.read(start, start + _CHUNK), start, gain, att)
        sink.write(start, out)
        peaks.append(block_peaks(out))
        if att is not None:
            points = -(-(start + out.shape[0]) // _DECIMATE) - start // _DECIMATE
            touched.append(segment_max(att.get(start // _DECIMATE, start // _DECIMATE + points), per_block) > 0.0)
    empty = np.zeros(0, np.float32)
    return (np.concatenate(peaks) if peaks else empty), (np.concatenate(touched) if att is not None else None)


def _check_targets(target_lufs: float, true_peak_limit_dbtp: float) -> None:
    if not -70.0 < target_lufs < 0.0:  # NaN fails this too
        raise ConfigError(f"target loudness {target_lufs} LUFS is out of range; use e.g. -16 or -23")
    if not -20.0 <= true_peak_limit_dbtp <= 0.0:
        raise ConfigError(f"true-peak limit {true_peak_limit_dbtp} dBTP is out of range; use e.g. -1.0")


def _master(
    x: AudioReader, meter: Meter, sink: AudioSink, env: AudioSink, target_lufs: float, limit_dbtp: float
) -> MasterLevels:
    """The one mastering path: ``x`` (measured by ``meter``) normalised and limited into ``sink``; ``env`` is the
    envelope's scratch (zeros, one channel of ceil(frames / _DECIMATE) points)."""
    an = _Analysis(x, meter, env)
    if not math.isfinite(an.lufs_in):
        for start, block in blocks(x):
            sink.write(start, block)
        peak = _to_db(true_peak_linear(x, an.bounds))
        return MasterLevels(an.lufs_in, an.lufs_in, peak, 0.0)
    ceiling = 10.0 ** ((limit_dbtp - _MARGIN_DB) / 20.0)
    best = _on_grid(an, _solve_gain(an, target_lufs, ceiling), ceiling)
    gain_db, gain = best.gain_db, 10.0 ** (best.gain_db / 20.0)
    # the best pass's curve made once more: the envelope refined since then is the same wherever it limits
    att = Window(iter(an.pieces(gain, ceiling)), env.frames) if best.limited else None
    peaks, touched = _apply_gain(x, gain, att, sink)
    peak = true_peak_linear(sink, block_bounds(peaks), an.known_peaks(gain, touched))
    if peak > 10.0 ** (limit_dbtp / 20.0):
        # the interpolated gain curve let an edge case through; trim rather than exceed the limit
        trim = ceiling / peak
        for start, block in blocks(sink):
            sink.write(start, block * np.float32(trim))
        gain_db += _to_db(trim)
        peak *= trim
    # K-weighting is linear and the gain curve slow, so the input's K-weighted power times the
    # squared gain measures the output (tests hold it to pyloudnorm within 0.02 LU)
    return MasterLevels(an.lufs_in, _estimate_lufs(an, best, gain_db), _to_db(peak), gain_db)


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
    levels = _master(x, measure(x, curve(x.frames, sample_rate)), out, curve(x.frames, sample_rate), target_lufs,
                     true_peak_limit_dbtp)  # fmt: skip
    return MasterResult(out.samples.reshape(np.shape(samples)), levels.lufs_in, levels.lufs_out,
                        levels.true_peak_dbtp, levels.gain_db)  # fmt: skip


def master_stream(
    x: AudioReader, dest: Path, *, meter: Meter | None = None, target_lufs: float = -16.0,
    true_peak_limit_dbtp: float = -1.0,
) -> tuple[RawAudio, MasterLevels]:  # fmt: skip
    """``master`` for audio of any length: ``x`` read by slices, the result written to ``dest`` (raw float32).

    ``meter`` is what was measured while ``x`` was written (else ``x`` is read once more to measure it). The
    curves that mastering keeps across its passes are scratch files beside ``dest``, removed when it is done.
    """
    _check_targets(target_lufs, true_peak_limit_dbtp)
    out = RawAudio.create(dest, x.rate, x.channels, x.frames)
    points = -(-x.frames // _DECIMATE)
    env = RawAudio.create(dest.with_name(f"{dest.name}.env"), x.rate, 1, points)
    power = RawAudio.create(dest.with_name(f"{dest.name}.power"), x.rate, 1, points) if meter is None else None
    try:
        meter = meter if meter is not None else measure(x, power)
        levels = _master(x, meter, out, env, target_lufs, true_peak_limit_dbtp)
    finally:
        for scratch in (env, power):
            if scratch is not None:
                scratch.path.unlink(missing_ok=True)
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


__all__ = ["MasterLevels", "MasterResult", "Meter", "integrated_lufs", "master", "master_stream", "measure",
           "true_peak_dbtp"]  # fmt: skip
