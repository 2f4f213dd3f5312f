"""The true-peak limiter's gain-reduction curve, made in pieces so that a long episode never holds it whole.

The curve is at 1/_DECIMATE of the sample rate (the envelope it follows is too): a forward maximum over the
look-ahead, an instant-attack exponential release carried from piece to piece, and two short causal means. Every
step reaches only a few points back or ahead of a piece, so each piece is computed from a slice of the envelope
(plus the release's carried value and a short tail of the previous piece) and equals the same points of the curve
made in one piece: at two hours one curve is ~170 MB, and mastering used to hold four of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .stream import AudioReader
from .truepeak import CHUNK

Audio = npt.NDArray[np.float32]

DECIMATE = 8
PIECE = 4 * CHUNK  # curve points per piece: a multiple of CHUNK keeps the release's rounding as in one piece
_LOOKAHEAD_S = 0.0015
_RELEASE_S = 0.06


@dataclass(frozen=True)
class Shape:
    """The limiter's time constants, in curve points, at a sample rate."""

    look: int
    smooth: int
    coeff: float

    @classmethod
    def at(cls, sample_rate: int) -> Shape:
        look = max(1, math.ceil(_LOOKAHEAD_S * sample_rate / DECIMATE))
        # two causal means of (look + 1) // 2 points: a triangular ramp spanning at most ``look``
        return cls(look, (look + 1) // 2, math.exp(-DECIMATE / (_RELEASE_S * sample_rate)))


def release(attenuation: Audio, coeff: float, carried: float = -math.inf) -> tuple[Audio, float]:
    """Instant attack, exponential release: r[n] = max(a[n], coeff * r[n-1]), without a loop; r[-1] is the
    ``carried`` value (in logs) of the piece before, and the last value (in logs) comes back for the next piece.

    In logs that is a running maximum of log a[m] - m*log(coeff), shifted back; chunks keep m
    (and so rounding) small and carry the last value over.
    """
    log_coeff = math.log(coeff)
    ramp = np.arange(min(CHUNK, attenuation.size), dtype=np.float64) * log_coeff
    out = np.empty_like(attenuation)
    for start in range(0, attenuation.size, CHUNK):
        chunk = attenuation[start : start + CHUNK]
        with np.errstate(divide="ignore"):
            v = np.log(chunk, dtype=np.float64) - ramp[: chunk.size]
        v[0] = max(v[0], carried + log_coeff)
        np.maximum.accumulate(v, out=v)
        v += ramp[: chunk.size]
        out[start : start + chunk.size] = np.exp(v)
        carried = float(v[-1])
    return out, carried


def _padded(curve: AudioReader, start: int, stop: int) -> Audio:
    """Points [start, stop) of a one-channel curve, the first or last point repeated where the range runs past it."""
    lo, hi = max(0, start), min(curve.frames, stop)
    values = curve.read(lo, hi)[:, 0]
    return np.pad(values, (lo - start, stop - hi), mode="edge")


def _causal_mean(values: Audio, size: int) -> Audio:
    """Mean of each point and the ``size - 1`` before it, for all but the first ``size - 1`` points of ``values``."""
    n = values.size - (size - 1)
    total = values[:n].astype(np.float64)
    for j in range(1, size):
        total += values[j : j + n]
    return (total / size).astype(np.float32)


@dataclass(frozen=True)
class Pieces:
    """The gain-reduction curve (1 - gain) that keeps ``gain * envelope <= ceiling``, piece by piece, in order.

    A forward maximum over the look-ahead (plus a neighbour each side: intersample peaks straddle block edges),
    smoothed over no more than that window, stays above what every block requires.
    """

    envelope: AudioReader  # one channel, at 1/DECIMATE rate
    gain: float
    ceiling: float
    shape: Shape

    def __iter__(self) -> Iterator[tuple[int, Audio]]:
        look, smooth, points = self.shape.look, self.shape.smooth, self.envelope.frames
        carried, tail = -math.inf, np.zeros(0, np.float32)
        back = 2 * (smooth - 1)  # the means' reach into the piece before
        for start in range(0, points, PIECE):
            stop = min(points, start + PIECE)
            required = self._required(start - 1, stop + look + 1)
            held = required[: stop - start].copy()
            for j in range(1, look + 2):
                np.maximum(held, required[j : j + stop - start], out=held)
            released, carried = release(held, self.shape.coeff, carried)
            if start == 0:  # nearest-point padding at the start of the episode
                tail = np.full(back, released[0], np.float32)
            buffer = np.concatenate([tail, released])
            tail = buffer[buffer.size - back :] if back else tail
            yield start, _causal_mean(_causal_mean(buffer, smooth), smooth)

    def _required(self, start: int, stop: int) -> Audio:
        required = _padded(self.envelope, start, stop) * np.float32(self.gain)  # 1 - ceiling / max(env * gain,
        np.maximum(required, self.ceiling, out=required)  # ceiling), in place
        np.divide(self.ceiling, required, out=required)
        np.subtract(1.0, required, out=required)
        return required


class Window:
    """Slices of a curve made in pieces, read in increasing order; the points before the last slice are let go.
    Past its end, the curve's last point repeats."""

    def __init__(self, pieces: Iterator[tuple[int, Audio]], points: int) -> None:
        self._pieces, self._points = pieces, points
        self._start, self._values = 0, np.zeros(0, np.float32)

    def get(self, first: int, last: int) -> Audio:
        while self._start + self._values.size < min(last, self._points):
            _, piece = next(self._pieces)
            self._values = np.concatenate([self._values[first - self._start :], piece])
            self._start = first
        seg = self._values[first - self._start : last - self._start]
        return seg if last <= self._points else np.append(seg, self._values[-1:])
