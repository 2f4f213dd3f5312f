"""Small signal helpers shared by the stages."""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

Mono = npt.NDArray[np.float32]
Indices = npt.NDArray[np.int64] | int


def resample(samples: Mono, from_rate: int, to_rate: int) -> Mono:
    """Polyphase resampling (exact ratio, no drift), float32 out."""
    if from_rate == to_rate or samples.size == 0:
        return np.asarray(samples, np.float32)
    from scipy.signal import resample_poly

    step = gcd(from_rate, to_rate)
    return np.asarray(resample_poly(samples, to_rate // step, from_rate // step, axis=0), np.float32)


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
