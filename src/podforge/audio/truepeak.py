"""True peak (ITU-R BS.1770-4 Annex 2, 4x oversampling) measured sparsely, on audio read by slices.

Per block of _BLOCK frames an upper bound of the oversampled peak comes from the sample peaks nearby; only
blocks whose bound could beat the best peak found so far are oversampled, each read with its filter's padding.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from podforge.errors import RenderError

from .stream import AudioReader

Audio = npt.NDArray[np.float32]

OVERSAMPLE = 4
HALF_SPAN = 10  # base-rate samples either side, as in scipy.signal.resample_poly's own design
BLOCK = 1024  # granularity of the sparse peak search; a multiple of master's _DECIMATE
CHUNK = 1 << 15  # bounds the oversampling scratch memory; a multiple of BLOCK
MAX_REFINE = 1.125  # the parabolic crest is at most 1/8 above its highest point


@functools.cache
def phase_filters() -> tuple[npt.NDArray[np.float32], float]:
    """resample_poly's 4x filter less phase 0 (the input itself, to 0.06 %); the envelope's worst gain."""
    from scipy import signal  # here, not at the top: renders import this module long before they measure peaks

    taps = 2 * HALF_SPAN * OVERSAMPLE + 1
    h = signal.firwin(taps, 1.0 / OVERSAMPLE, window=("kaiser", 5.0)) * OVERSAMPLE
    phases = np.stack([h[k::OVERSAMPLE][: 2 * HALF_SPAN] for k in range(1, OVERSAMPLE)])
    worst_gain = MAX_REFINE * max(float(np.abs(h[k::OVERSAMPLE]).sum()) for k in range(OVERSAMPLE))
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


def envelope_chunk(x: AudioReader, start: int, stop: int, floor: float) -> Audio:
    """Per sample in [start, stop): the true peak up to the next sample, max over channels.

    Exact wherever it is at least ``floor``; below that it may read up to 1 dB low.
    """
    from scipy import signal  # as in phase_filters

    pad = HALF_SPAN + 1  # one more sample each side gives the parabola its neighbours
    count = stop - start + 2
    lo, hi = max(0, start - pad), min(x.frames, stop + pad)
    cols = np.zeros((x.channels, count - 2 + 2 * pad), dtype=np.float32)
    cols[:, lo - (start - pad) : hi - (start - pad)] = x.read(lo, hi).T
    grid = np.empty((x.channels, count, OVERSAMPLE), dtype=np.float32)  # |4x signal| in time order
    np.abs(cols[:, pad - 1 : pad - 1 + count], out=grid[:, :, 0])
    for k, h in enumerate(phase_filters()[0], start=1):
        # phase k's output i + 2*(pad-1) is the point k/4 after cols[:, pad - 1 + i]
        np.abs(signal.upfirdn(h, cols)[:, 2 * pad - 2 : 2 * pad - 2 + count], out=grid[:, :, k])
    env = np.zeros(stop - start, dtype=np.float32)
    for seq in grid.reshape(x.channels, -1):
        _refine_peaks(seq, floor)
        rows = seq.reshape(count, OVERSAMPLE)[1:-1]
        for k in range(OVERSAMPLE):
            np.maximum(env, rows[:, k], out=env)
    return env


def segment_max(values: Audio, width: int) -> Audio:
    """The maximum of each ``width`` values (a short last segment counts zeros past the end), without a copy."""
    whole = values.size // width
    rows = values[: whole * width].reshape(-1, width)
    if width > 16:
        out = rows.max(axis=1, initial=-np.inf).astype(values.dtype)
    else:
        out = rows[:, 0].copy()  # numpy reduces short rows slowly; strided maxima are much faster
        for j in range(1, width):
            np.maximum(out, rows[:, j], out=out)
    if values.size % width:
        out = np.append(out, np.maximum(values[whole * width :].max(), values.dtype.type(0)))
    return out


def exact_maxima(
    x: AudioReader, blocks: npt.NDArray[np.bool_], width: int, floor: float
) -> Iterator[tuple[int, Audio]]:
    """For each chunk of the selected blocks: (first index in units of width, true-peak maxima)."""
    edges = np.diff(blocks.astype(np.int8), prepend=0, append=0)  # +1 where a run starts, -1 after
    for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, stop = int(first) * BLOCK, min(x.frames, int(last) * BLOCK)
        for s in range(start, stop, CHUNK):
            e = min(stop, s + CHUNK)
            yield s // width, segment_max(envelope_chunk(x, s, e, floor), width)


def block_peaks(x: Audio) -> Audio:
    """The sample peak of each BLOCK frames of ``x`` (the last block may be shorter)."""
    n, channels = x.shape
    n_full = n // BLOCK
    rows = x[: n_full * BLOCK].reshape(n_full, BLOCK * channels)
    peaks = np.maximum(rows.max(axis=1, initial=0.0), -rows.min(axis=1, initial=0.0))
    if n % BLOCK:
        peaks = np.append(peaks, np.abs(x[n_full * BLOCK :]).max())
    return peaks.astype(np.float32, copy=False)


def block_bounds(peaks: Audio) -> Audio:
    """Per block, an upper bound of the oversampled peak: worst filter gain x nearby sample peak."""
    if peaks.size and not np.isfinite(peaks).all():
        raise RenderError("audio contains NaN or infinite samples; the mix upstream is broken")
    padded = np.pad(peaks, 1)
    near = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return (near * phase_filters()[1]).astype(np.float32)


def true_peak_linear(x: AudioReader, bounds: Audio, known: Audio | None = None) -> float:
    """Exact true peak, oversampling only blocks whose bound beats the best found so far.

    ``known`` optionally gives, per block, an already known exact peak (NaN where unknown).
    """
    todo = np.ones(bounds.size, dtype=bool) if known is None else np.isnan(known)
    best = 0.0 if known is None or todo.all() else float(np.nanmax(known))
    mask = todo & (bounds > best)
    if mask.any():  # the most promising block first gives a high ``best`` that prunes the rest
        mask = np.zeros_like(mask)
        mask[int(np.argmax(np.where(todo, bounds, -1.0)))] = True
    while mask.any():
        for _, maxima in exact_maxima(x, mask, BLOCK, best / MAX_REFINE):
            best = max(best, float(maxima.max()))
        todo &= ~mask
        mask = todo & (bounds > best)
    return best


def reader_peaks(x: AudioReader) -> Audio:
    """block_peaks over a whole reader, read CHUNK frames at a time."""
    parts = [block_peaks(x.read(s, s + CHUNK)) for s in range(0, x.frames, CHUNK)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
