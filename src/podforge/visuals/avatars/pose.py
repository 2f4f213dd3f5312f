"""Per-frame avatar poses: idle blinking, speech-driven head motion and a listening pose, as pure functions of time.

Nothing here keeps state: ``pose_at(t, ...)`` depends only on its arguments, so frames can be rendered in any order or
in parallel and a re-render gives identical video. Randomness (blink times, motion phases) comes from an integer hash of
``seed`` rather than an RNG, for the same reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

__all__ = ["MOUTH_SHAPES", "AvatarPose", "hash01", "mix_poses", "pose_at"]

#: Rhubarb Lip Sync mouth shapes: A closed (M B P), B slightly open teeth, C open, D wide open, E rounded, F puckered,
#: G F/V teeth on lip, H tongue (L, TH), X rest.
MOUTH_SHAPES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "X")

_BLINK_SLOT = 4.0  # one blink per 4 s slot, jittered ±1 s inside it, so consecutive blinks are 2–6 s apart
_NOD_SLOT = 5.0
_NOD_SECONDS = 0.9
_TAU = 2.0 * math.pi
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class AvatarPose:
    """What changes from frame to frame. Distances are pixels at size 512 (scaled with the avatar), angles degrees.

    ``gaze`` (-1 left .. 1 right, in picture space) and ``brow`` (0 resting .. 1 raised) go beyond the basic pose so
    that the listening pose can look toward the partner and eyebrows can follow speech energy.
    """

    mouth: str = "X"
    openness: float = 0.0  # 0..1.2 scales the shape's opening; every shape stays recognisable even at 0
    blink: float = 0.0  # 0 open .. 1 closed
    head_dx: float = 0.0
    head_dy: float = 0.0  # positive = down
    tilt_deg: float = 0.0  # positive = clockwise on screen (the top of the head moves right)
    listening: bool = False  # soft smile; pose_at also tilts the head and turns the eyes toward the partner
    gaze: float = 0.0
    brow: float = 0.0

    def __post_init__(self) -> None:
        if self.mouth not in MOUTH_SHAPES:
            raise ValueError(f"unknown mouth shape {self.mouth!r}; expected one of {' '.join(MOUTH_SHAPES)}")


def hash01(seed: int, *keys: int) -> float:
    """A uniform value in [0, 1) from integers, identical on every platform and Python version (splitmix64)."""
    x = seed & _MASK
    for key in (*keys, 0x5EED):
        x = ((x ^ (key & _MASK)) + 0x9E3779B97F4A7C15) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        x ^= x >> 31
    return (x >> 11) / float(1 << 53)


def _smooth(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def blink_at(t: float, seed: int) -> float:
    """Eyelid closure 0..1: one 100–140 ms blink per 4 s slot at a hashed time; fast close, slower open, as in life."""
    slot = math.floor(t / _BLINK_SLOT)
    start = slot * _BLINK_SLOT + 1.0 + 2.0 * hash01(seed, 1, slot)  # in [1, 3) s into the slot: gaps stay within 2–6 s
    duration = 0.10 + 0.04 * hash01(seed, 2, slot)
    u = (t - start) / duration
    if not 0.0 <= u < 1.0:
        return 0.0
    return _smooth(u / 0.4) if u < 0.4 else _smooth((1.0 - u) / 0.6)


def _wave(t: float, seed: int, key: int, freqs: tuple[float, float]) -> float:
    """Two incommensurate sines with hashed phases, in -1..1: smooth motion that never visibly loops."""
    a = math.sin(_TAU * freqs[0] * t + _TAU * hash01(seed, key, 0))
    b = math.sin(_TAU * freqs[1] * t + _TAU * hash01(seed, key, 1))
    return 0.62 * a + 0.38 * b


def _nod_at(t: float, seed: int) -> float:
    """Listener's occasional nod, 0..1: in some 5 s slots, a 0.9 s dip-and-return at a hashed time."""
    slot = math.floor(t / _NOD_SLOT)
    if hash01(seed, 3, slot) < 0.35:  # skip some slots so nods do not look metronomic
        return 0.0
    start = slot * _NOD_SLOT + 0.5 + 3.5 * hash01(seed, 4, slot)
    u = (t - start) / _NOD_SECONDS
    return math.sin(math.pi * u) ** 2 if 0.0 <= u < 1.0 else 0.0


def pose_at(
    t: float, *, speaking: bool, energy: float, mouth: str, openness: float, seed: int, partner_side: int = 1
) -> AvatarPose:
    """The pose at time ``t`` (seconds); a pure function of its arguments.

    ``energy`` (0..1, the speaker's smoothed loudness envelope) scales the nod/bob/sway amplitude and brow lift; pass a
    smoothed envelope since the motion follows it instantly. ``partner_side`` is +1 when the other host is to this
    avatar's right in the picture, -1 to the left. When not speaking, ``mouth``/``openness`` are ignored and the
    listening pose is returned; use :func:`mix_poses` to cross-fade around turn changes.
    """
    side = 1.0 if partner_side >= 0 else -1.0
    # An always-on slow drift (breathing, weight shifts) keeps even a silent avatar alive.
    dx = 1.6 * _wave(t, seed, 10, (0.13, 0.31))
    dy = 1.2 * _wave(t, seed, 11, (0.21, 0.47))
    tilt = 0.7 * _wave(t, seed, 12, (0.09, 0.23))
    blink = blink_at(t, seed)
    if not speaking:
        nod = _nod_at(t, seed)
        return AvatarPose(
            "X", 0.0, blink, dx + 3.0 * side, dy + 5.0 * nod, tilt + 4.0 * side, True, 0.75 * side, 0.15 + 0.2 * nod
        )
    e = min(1.0, max(0.0, energy))
    bob = _wave(t, seed, 13, (1.7, 2.9))  # nods land roughly on syllable rate
    gaze = 0.3 * side * max(0.0, _wave(t, seed, 16, (0.07, 0.19))) ** 2  # now and then a glance at the partner
    return AvatarPose(
        mouth=mouth,
        openness=min(1.2, max(0.0, openness)),
        blink=blink,
        head_dx=dx + 4.0 * e * _wave(t, seed, 14, (0.45, 1.1)),
        head_dy=dy + 5.0 * e * bob,
        tilt_deg=tilt + 2.5 * e * _wave(t, seed, 15, (0.35, 0.9)),
        gaze=gaze,
        brow=min(1.0, e * (0.8 + 0.2 * bob)),
    )


def mix_poses(a: AvatarPose, b: AvatarPose, w: float) -> AvatarPose:
    """Blend numeric fields ``(1 - w) * a + w * b``; mouth and listening come from whichever side dominates."""
    w = min(1.0, max(0.0, w))
    near = a if w < 0.5 else b
    values = {
        f.name: (1.0 - w) * getattr(a, f.name) + w * getattr(b, f.name)
        for f in fields(AvatarPose)
        if f.name not in ("mouth", "listening")
    }
    return replace(near, **values)
