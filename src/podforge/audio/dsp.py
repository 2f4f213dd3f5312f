"""Small signal helpers shared by the stages."""

from __future__ import annotations

import functools
from math import gcd

import numpy as np
import numpy.typing as npt

Mono = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int64] | int


def resample(samples: Mono, from_rate: int, to_rate: int) -> Mono:
    """Polyphase resampling (exact ratio, no drift), float32 out, along the first axis.

    scipy.signal.resample_poly's filter and alignment (a Kaiser-windowed sinc, beta 5, ten periods of the higher
    rate a side; zeros past the ends) done in numpy: importing scipy.signal costs each synthesis lane ~50 MB."""
    if from_rate == to_rate or samples.size == 0:
        return np.asarray(samples, np.float32)
    step = gcd(from_rate, to_rate)
    up, down = to_rate // step, from_rate // step
    filters, half = _polyphase(up, down)
    taps = filters.shape[1]
    x = np.asarray(samples, np.float32)
    count = -(-x.shape[0] * up // down)
    # Output k is sum_j filters[p, j] * padded[q + j] with q, p = divmod(k * down + half, up): outputs ``up`` apart
    # share the phase p and step q by ``down``, so each phase is one filter run over a stretch of the input.
    last = ((count - 1) * down + half) // up
    padded = np.zeros((max(x.shape[0], last + 1) + taps - 1, *x.shape[1:]), np.float32)
    padded[taps - 1 : taps - 1 + x.shape[0]] = x
    out = np.empty((count, *x.shape[1:]), np.float32)
    for first in range(min(up, count)):
        q, p = divmod(first * down + half, up)
        outputs = (count - 1 - first) // up + 1
        out[first::up] = _run_phase(padded[q : q + (outputs - 1) * down + taps], filters[p], down)
    return out


def _run_phase(x: Mono, taps: Mono, down: int) -> Mono:
    """``sum_j taps[j] * x[i * down + j]`` for every whole window i, along the first axis."""
    if down > 4:  # few outputs per phase (as 22.05 to 48 kHz's 320 phases have): one product over strided windows
        return np.lib.stride_tricks.sliding_window_view(x, taps.size, axis=0)[::down] @ taps
    # many: np.correlate runs in C without gathering windows, cheaper even computing the outputs ``down`` drops
    flat = x.reshape(x.shape[0], -1)
    columns = [np.correlate(flat[:, c], taps, "valid")[::down] for c in range(flat.shape[1])]
    return np.stack(columns, axis=1).reshape(-1, *x.shape[1:])


@functools.cache
def _polyphase(up: int, down: int) -> tuple[npt.NDArray[np.float32], int]:
    """resample_poly's low-pass for ``up/down`` split into its ``up`` phases, each reversed to run over a window
    of the input in time order; and the filter's half length."""
    rate = max(up, down)
    half = 10 * rate
    t = np.arange(-half, half + 1, dtype=np.float64)
    h = np.sinc(t / rate) * np.kaiser(2 * half + 1, 5.0)
    h = (h / h.sum()).astype(np.float32) * np.float32(up)
    taps = -(-h.size // up)
    phases = np.zeros(taps * up, np.float32)
    phases[: h.size] = h
    return np.ascontiguousarray(phases.reshape(taps, up).T[:, ::-1]), half


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


class RunningPower:
    """Sum of squares of a signal (mono, or the mean of its channels) over any span of samples, in O(1) per span."""

    def __init__(self, samples: npt.ArrayLike) -> None:
        mono = np.asarray(samples, dtype=np.float64)
        if mono.ndim == 2:
            mono = mono.mean(axis=1)
        self.length = int(mono.shape[0])
        self._running = np.concatenate(([0.0], np.cumsum(mono * mono)))

    def energy(self, start: Indices, end: Indices) -> npt.NDArray[np.float64]:
        """Sum of squares over ``[start, end)`` for each pair, the spans clipped to the signal."""
        first = np.clip(start, 0, self.length)
        last = np.clip(end, first, self.length)
        return np.maximum(self._running[last] - self._running[first], 0.0)  # rounding may dip below 0
