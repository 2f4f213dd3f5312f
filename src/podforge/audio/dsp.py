"""Small signal helpers shared by the stages."""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

Mono = npt.NDArray[np.float32]


def resample(samples: Mono, from_rate: int, to_rate: int) -> Mono:
    """Polyphase resampling (exact ratio, no drift), float32 out."""
    if from_rate == to_rate or samples.size == 0:
        return np.asarray(samples, np.float32)
    from scipy.signal import resample_poly

    step = gcd(from_rate, to_rate)
    return np.asarray(resample_poly(samples, to_rate // step, from_rate // step, axis=0), np.float32)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))
