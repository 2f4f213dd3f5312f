"""The limiter's gain-reduction curve made in pieces equals the curve made in one go (scipy's filters over the
whole envelope, as mastering made it before it streamed), across piece edges and at both ends."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from podforge.audio.limiter import PIECE, Pieces, Shape, Window, release
from podforge.audio.stream import ArrayAudio

CEILING = 0.85


def whole_curve(env: np.ndarray, gain: float, shape: Shape) -> np.ndarray:
    """The curve over the whole envelope at once: look-ahead maximum, release, two causal means."""
    required = env * np.float32(gain)
    np.maximum(required, CEILING, out=required)
    required = (1.0 - CEILING / required).astype(np.float32)
    window = shape.look + 2
    held = ndimage.maximum_filter1d(required, window, mode="nearest", origin=1 - window // 2)
    released, _ = release(held, shape.coeff)
    size = shape.smooth
    once = ndimage.uniform_filter1d(released, size, mode="nearest", origin=(size - 1) // 2)
    return ndimage.uniform_filter1d(once, size, mode="nearest", origin=(size - 1) // 2)


def envelope(points: int, seed: int) -> np.ndarray:
    """Quiet most of the time, with crests past the ceiling at the ends and straddling every piece edge."""
    rng = np.random.default_rng(seed)
    env = rng.uniform(0.0, 0.5, points).astype(np.float32)
    hot = [0, 1, points - 1, *rng.integers(0, points, 40)]
    for edge in range(PIECE, points, PIECE):
        hot += [edge - 3, edge - 1, edge, edge + 2]
    env[np.clip(hot, 0, points - 1)] = rng.uniform(0.9, 1.6, len(hot)).astype(np.float32)
    return env


@pytest.mark.parametrize("rate", [48_000, 16_000, 8_000])
def test_curve_in_pieces_is_the_curve_made_whole(rate: int) -> None:
    points = 3 * PIECE + 12_345
    env = envelope(points, rate)
    shape = Shape.at(rate)
    expected = whole_curve(env, 1.3, shape)
    pieces = list(Pieces(ArrayAudio(env[:, None], rate), 1.3, CEILING, shape))
    assert [start for start, _ in pieces] == list(range(0, points, PIECE))
    made = np.concatenate([piece for _, piece in pieces])
    assert made.shape == expected.shape and made.dtype == np.float32
    assert np.abs(made - expected).max() <= 1e-6
    # the limited signal stays under the ceiling wherever the envelope is exact
    assert (env * 1.3 * (1.0 - made) <= CEILING * (1 + 1e-5)).all()
    assert np.array_equal(made == 0.0, expected == 0.0)  # untouched points stay exactly untouched


def test_release_carried_across_calls_is_the_release_in_one_call() -> None:
    x = envelope(5 * 32768 + 77, 3) - 0.5
    np.maximum(x, 0.0, out=x)
    coeff = math.exp(-8 / (0.06 * 48_000))
    whole, last = release(x, coeff)
    first, carried = release(x[: 2 * 32768], coeff)
    rest, end = release(x[2 * 32768 :], coeff, carried)
    assert np.array_equal(np.concatenate([first, rest]), whole) and end == last


def test_window_reads_slices_in_order_and_repeats_the_last_point() -> None:
    values = np.arange(10_000, dtype=np.float32)
    pieces = ((start, values[start : start + 3000]) for start in range(0, values.size, 3000))
    window = Window(pieces, values.size)
    for first in range(0, values.size, 4096 // 4):
        last = min(first + 1025, values.size + 1)
        expected = np.append(values, values[-1])[first:last]
        assert np.array_equal(window.get(first, last), expected)
