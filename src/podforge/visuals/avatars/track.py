"""When each avatar talks and how it moves: per-frame mouth, speaking weight and energy, worked out once.

``mouth_track`` runs at plan time from the timeline alone: for every video frame, whether the speaker is
inside one of their lines and which mouth key shows (the clip's keys from ``timeline.mouths``, resampled
at frame centres by ``visemes.frames_for_clip``; the rest mouth between lines).  A line whose clip has no
keys is marked for the loudness fallback, which needs the mixed audio and so is filled in by
``pose_track`` when the renderer starts.  ``PoseTrack.pose(i)`` is then a pure function of the frame
index, like everything else in a frame, so frames can be drawn in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from ...timeline import SpeechSegment, Timeline
from ..layouts import HOLD_SECONDS, Frames, frame_span, speech
from ..visemes import FALLBACK_LEVELS, REST, REST_OPENNESS, frames_for_clip, keys_from_json
from .pose import MOUTH_SHAPES, AvatarPose, mix_poses, pose_at

#: Speaking and listening poses cross-fade over this long, centred on the turn change, so heads never jump.
BLEND_SECONDS = 0.3
#: Head motion follows the mouth's openness averaged over this long: syllables would make it twitch.
ENERGY_SECONDS = 0.5
#: Mean openness of lively speech is ~0.4; twice it reaches full motion.
ENERGY_GAIN = 2.0
_REST = MOUTH_SHAPES.index(REST)
_FALLBACK_SHAPES = np.array([MOUTH_SHAPES.index(shape) for _, shape in FALLBACK_LEVELS], np.uint8)
_FALLBACK_LIMITS = np.array([limit for limit, _ in FALLBACK_LEVELS[:-1]], np.float32)

Floats = npt.NDArray[np.float32]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class MouthTrack:
    """Per video frame: mouth shape (index into ``MOUTH_SHAPES``) and openness, and when the speaker talks."""

    shape: npt.NDArray[np.uint8]
    openness: Floats
    speaking: Flags  # inside a line, or in a pause shorter than HOLD_SECONDS between two of theirs
    fallback: Flags  # inside a line whose clip has no mouth keys: animated from the loudness instead


def mouth_track(timeline: Timeline, label: str, samples: Frames, fps: int) -> MouthTrack:
    """The mouth of speaker ``label`` at every frame whose start is in ``samples``."""
    n, rate = len(samples), timeline.sample_rate
    shape = np.full(n, _REST, np.uint8)
    openness = np.full(n, REST_OPENNESS, np.float32)
    talking, fallback = np.zeros(n, bool), np.zeros(n, bool)
    lines = [seg for seg in speech(timeline) if seg.speaker == label]
    for seg in lines:
        first = max(int(np.searchsorted(samples, seg.start, side="right")) - 1, 0)  # the frame holding its start
        last = int(np.searchsorted(samples, seg.end - 1, side="right"))  # one past the frame holding its end
        rows = timeline.mouths.get(seg.clip)
        if rows:
            keys = keys_from_json(rows)
            frames = frames_for_clip(keys, seg.length, rate, fps, seg.start - int(samples[first]))[: n - first]
            span = slice(first, first + len(frames))
            shape[span] = [MOUTH_SHAPES.index(f.shape) for f in frames]
            openness[span] = [f.openness for f in frames]
        else:
            span = slice(first, last)
            fallback[span] = True
        talking[span] = True
    return MouthTrack(shape, openness, _held(talking, lines, samples, round(HOLD_SECONDS * rate)), fallback)


def _held(talking: Flags, lines: list[SpeechSegment], samples: Frames, hold: int) -> Flags:
    """``talking`` with the short pauses between one speaker's own lines filled: a breath is not a turn change."""
    speaking = talking.copy()
    for before, after in pairwise(lines):
        if after.start - before.end < hold:
            speaking[frame_span(samples, before.end, after.start)] = True
    return speaking


def _box(values: Floats, width: int) -> Floats:
    """A centred moving average over ``width`` frames, edges held: a step becomes a linear ramp that long."""
    if width <= 1 or not len(values):
        return values.astype(np.float32)
    padded = np.pad(values.astype(np.float64), (width // 2, width - 1 - width // 2), mode="edge")
    sums = np.concatenate(([0.0], np.cumsum(padded)))
    return ((sums[width:] - sums[:-width]) / width).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """An avatar's pose at any frame, from its resolved mouth, speaking weight and energy tracks."""

    fps: int
    seed: int
    partner_side: int
    shape: npt.NDArray[np.uint8]
    openness: Floats
    weight: Floats  # 0 listening .. 1 speaking
    energy: Floats

    def pose(self, i: int) -> AvatarPose:
        t, w = i / self.fps, float(self.weight[i])
        mouth, openness = MOUTH_SHAPES[self.shape[i]], float(self.openness[i])

        def at(speaking: bool, energy: float) -> AvatarPose:
            return pose_at(
                t, speaking=speaking, energy=energy, mouth=mouth, openness=openness, seed=self.seed,
                partner_side=self.partner_side,
            )  # fmt: skip

        pose = at(True, float(self.energy[i])) if w > 0.0 else at(False, 0.0)
        if 0.0 < w < 1.0:
            pose = mix_poses(at(False, 0.0), pose, w)
        # The mouth always follows the track: taken from the dominant pose it would miss a turn's first syllables.
        return replace(pose, mouth=mouth, openness=openness)


def pose_track(mouth: MouthTrack, loudness: Floats, fps: int, seed: int, partner_side: int) -> PoseTrack:
    """Resolve a mouth track against the mix's per-frame loudness (0..1) for the lines without mouth keys."""
    shape, openness = mouth.shape.copy(), mouth.openness.copy()
    level = np.zeros(len(shape), np.float32)
    level[: min(len(level), len(loudness))] = loudness[: len(level)]
    where = mouth.fallback
    # A crude open/close with the level: the speaker's line is known to be on, only its syllables are not.
    shape[where] = _FALLBACK_SHAPES[np.searchsorted(_FALLBACK_LIMITS, level[where], side="right")]
    openness[where] = np.clip(level[where], 0.0, 1.0)
    talking = np.where(mouth.speaking, openness, 0.0).astype(np.float32)
    energy = np.clip(ENERGY_GAIN * _box(talking, max(1, round(ENERGY_SECONDS * fps))), 0.0, 1.0)
    weight = np.clip(_box(mouth.speaking.astype(np.float32), max(1, round(BLEND_SECONDS * fps))), 0.0, 1.0)
    return PoseTrack(fps, seed, partner_side, shape, openness, weight, energy)
