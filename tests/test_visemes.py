"""Mouth keys from phone timings: the shape table, the passes, frame sampling, and openness against real speech.

Hand-made phone timings check the timing rules exactly; one real hibari clip, aligned with `align_clip`, checks
that the openness track follows the speech energy, with and without phones.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest

from podforge._arpabet import PHONES
from podforge.align import align_clip
from podforge.errors import ConfigError
from podforge.timeline import PhoneTiming, WordTiming
from podforge.visuals.visemes import (
    BASE_OPENNESS,
    MIN_KEY_S,
    PHONE_SHAPES,
    SHAPES,
    MouthFrame,
    MouthKey,
    frames_for_clip,
    keys_from_json,
    keys_to_json,
    mouth_keys,
    mouth_open_track,
)
from podforge.voices.registry import ENGINES
from podforge.voices.synth import ClipRequest, synthesize_clip

RATE = 48_000
FPS = 25
FRAME = RATE // FPS
MIN_KEY = round(MIN_KEY_S * RATE)
LINE = "The weather was cold and grey all morning. By noon, the sun broke through and everyone went outside."

Clip = tuple[npt.NDArray[np.float32], tuple[WordTiming, ...]]


def _word(text: str, start_s: float, *phones: tuple[str, float]) -> WordTiming:
    """A word starting at ``start_s`` whose phones follow each other with the given durations (seconds)."""
    timings, cursor = [], round(start_s * RATE)
    for phone, seconds in phones:
        end = cursor + round(seconds * RATE)
        timings.append(PhoneTiming(phone, cursor, end))
        cursor = end
    return WordTiming(text, timings[0].start, cursor, tuple(timings))


def _noise(seconds: float, level: float = 0.1) -> npt.NDArray[np.float32]:
    return (np.random.default_rng(0).standard_normal(round(seconds * RATE)) * level).astype(np.float32)


def _assert_well_formed(keys: Sequence[MouthKey], length: int) -> None:
    """Contiguous over the whole clip, in order, valid shapes, and no interior key shorter than a frame."""
    assert keys[0].start == 0 and keys[-1].end == length
    for before, after in pairwise(keys):
        assert before.end == after.start, (before, after)
    for index, key in enumerate(keys):
        assert key.start < key.end and key.shape in SHAPES and 0.0 <= key.openness <= 1.0, key
        if 0 < index < len(keys) - 1:
            assert key.end - key.start >= MIN_KEY, key


def _frame_rms(clip: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    count = -(-clip.shape[0] // FRAME)
    padded = np.zeros(count * FRAME)
    padded[: clip.shape[0]] = clip
    return np.sqrt(np.mean(padded.reshape(count, FRAME) ** 2, axis=1))


def _pearson(keys: Sequence[MouthKey], clip: npt.NDArray[np.float32]) -> float:
    track = mouth_open_track(keys, clip.shape[0], RATE, FPS)
    return float(np.corrcoef(track, _frame_rms(clip))[0, 1])


def test_table_maps_every_arpabet_phone_to_one_or_two_shapes() -> None:
    assert set(PHONE_SHAPES) == PHONES and len(PHONES) == 39
    for phone, shapes in PHONE_SHAPES.items():
        assert 1 <= len(shapes) <= 2 and all(shape in SHAPES for shape in shapes), phone
    assert {p for p, shapes in PHONE_SHAPES.items() if len(shapes) == 2} == {"AW", "AY", "EY", "OW", "OY"}
    assert {PHONE_SHAPES[p][0] for p in ("M", "B", "P")} == {"A"}
    assert set(BASE_OPENNESS) == set(SHAPES)


@pytest.mark.parametrize(
    "word",
    [
        _word("mama", 0.3, ("M", 0.08), ("AA", 0.15), ("M", 0.08), ("AH", 0.15)),
        _word("baby", 0.3, ("B", 0.07), ("EY", 0.18), ("B", 0.07), ("IY", 0.15)),
    ],
)
def test_bilabials_close_the_lips_a_frame_before_the_phone_and_vowels_half_a_frame(word: WordTiming) -> None:
    clip = _noise(1.0)
    keys = mouth_keys([word], clip, RATE)
    _assert_well_formed(keys, clip.shape[0])
    for phone in word.phones:
        if phone.phone in ("M", "B", "P"):
            closure = next(k for k in keys if k.shape == "A" and k.start <= phone.start < k.end)
            assert FRAME // 2 < phone.start - closure.start <= FRAME, (phone, closure)
            assert closure.openness == 0.0
        else:  # every other key starts half a frame early
            vowel = next(k for k in keys if k.start <= phone.start < k.end)
            assert vowel.shape != "A" and vowel.start == phone.start - FRAME // 2, (phone, vowel)


def test_oh_you_rounds_then_puckers() -> None:
    words = [
        _word("oh", 0.3, ("OW", 0.25)),
        _word("you", 0.55, ("Y", 0.08), ("UW", 0.25)),
    ]
    clip = _noise(1.2)
    keys = mouth_keys(words, clip, RATE)
    _assert_well_formed(keys, clip.shape[0])
    shapes = [k.shape for k in keys if k.shape != "X"]
    assert shapes[:2] == ["E", "F"] and shapes[-1] == "F", shapes
    assert keys[0].shape == keys[-1].shape == "X"


def test_long_gaps_rest_and_short_gaps_hold_the_shape_relaxed() -> None:
    words = [
        _word("ah", 0.2, ("AA", 0.2)),
        _word("ah", 0.7, ("AA", 0.2)),  # 300 ms after the first: a breath
        _word("ah", 1.0, ("AA", 0.2)),  # 100 ms after the second: no time to rest
    ]
    clip = _noise(1.5)
    keys = mouth_keys(words, clip, RATE)
    _assert_well_formed(keys, clip.shape[0])

    def at(seconds: float) -> MouthKey:
        return next(k for k in keys if k.start <= seconds * RATE < k.end)

    assert at(0.55).shape == "X"
    held, spoken = at(0.93), at(0.8)
    assert held.shape == spoken.shape == "D" and held.openness < spoken.openness
    assert at(0.1).shape == at(1.4).shape == "X"


def test_louder_syllables_open_wider() -> None:
    clip = _noise(1.2)
    clip[round(0.7 * RATE) :] *= 3
    words = [_word("ah", 0.3, ("AA", 0.25)), _word("ah", 0.8, ("AA", 0.25))]
    quiet, loud = (k for k in mouth_keys(words, clip, RATE) if k.shape == "D")
    assert loud.openness > quiet.openness > 0


def test_short_phones_merge_into_the_most_similar_neighbour() -> None:
    # T for 10 ms between two open vowels, then the same between an open vowel and a closed mouth
    words = [_word("sat", 0.3, ("AA", 0.2), ("T", 0.01), ("AE", 0.2), ("IY", 0.01), ("M", 0.1))]
    clip = _noise(1.0)
    keys = mouth_keys(words, clip, RATE)
    _assert_well_formed(keys, clip.shape[0])
    assert [k.shape for k in keys] == ["X", "D", "C", "A", "X"]


def test_edge_cases_cover_the_clip() -> None:
    assert mouth_keys([], np.zeros(0, np.float32), RATE) == ()
    assert [k.shape for k in mouth_keys([], _noise(0.5), RATE)] == ["X"]
    # a word running past the clip's end, and a word overlapping the previous one, are clipped
    words = [_word("ma", 0.1, ("M", 0.1), ("AA", 0.2)), _word("pa", 0.35, ("P", 0.1), ("AA", 0.5))]
    clip = _noise(0.7)
    _assert_well_formed(mouth_keys(words, np.stack([clip, clip], axis=1), RATE), clip.shape[0])


def test_frames_sample_key_centres_and_blend_across_boundaries() -> None:
    keys = [MouthKey(0, 10 * FRAME, "A", 0.0), MouthKey(10 * FRAME, 20 * FRAME, "D", 0.9)]
    frames = frames_for_clip(keys, 20 * FRAME, RATE, FPS)
    assert len(frames) == 20
    assert frames[1] == MouthFrame("A", 0.0) and frames[18] == MouthFrame("D", 0.9)
    assert frames[9].shape == "A" and frames[10].shape == "D"
    assert 0.0 < frames[9].openness < frames[10].openness < 0.9  # the mouth opens over the boundary, not at it
    # the clip starts half a frame into the first video frame: the boundary is now on frame 10's centre
    shifted = frames_for_clip(keys, 20 * FRAME, RATE, FPS, clip_start_frame_offset_samples=FRAME // 2)
    assert len(shifted) == 21 and shifted[10].openness == pytest.approx(0.45, abs=0.01)
    assert shifted[0].shape == "A" and shifted[20].shape == "X"  # the last frame's centre lies past the clip
    track = mouth_open_track(keys, 20 * FRAME, RATE, FPS)
    assert track.dtype == np.float32 and np.allclose(track, [f.openness for f in frames], atol=1e-3)


def test_json_round_trip_and_rejects_bad_rows() -> None:
    words = [_word("mama", 0.3, ("M", 0.08), ("AA", 0.15), ("M", 0.08), ("AH", 0.15))]
    keys = mouth_keys(words, _noise(1.0), RATE)
    assert keys_from_json(json.loads(json.dumps(keys_to_json(keys)))) == keys
    for bad in ("nope", [[0, 10, "Q", 0.5]], [[0, 10, "A"]], [[0, 10, "A", 1.5]], [[0, 10, "A", 0], [5, 20, "B", 0]]):
        with pytest.raises(ConfigError):
            keys_from_json(bad)


@pytest.fixture(scope="module")
def hibari_clip() -> Clip:
    if not ENGINES["hibari"].installed():
        pytest.skip("hibari is not installed")
    clip = synthesize_clip(ClipRequest("hibari:heart", LINE), RATE)
    words = align_clip(clip, LINE, RATE)
    assert all(word.phones for word in words), "alignment fell back to energy; the phone path would not be tested"
    return clip, words


def test_openness_follows_speech_energy_on_a_real_clip(hibari_clip: Clip) -> None:
    clip, words = hibari_clip
    keys = mouth_keys(words, clip, RATE)
    _assert_well_formed(keys, clip.shape[0])
    table_only = [dataclasses.replace(key, openness=BASE_OPENNESS[key.shape]) for key in keys]
    scaled, unscaled = _pearson(keys, clip), _pearson(table_only, clip)
    print(f"openness vs frame RMS: energy-scaled r={scaled:.3f}, table-only r={unscaled:.3f}")
    assert scaled >= 0.5 and scaled > unscaled, (scaled, unscaled)
    # every bilabial closes the lips, starting up to two frames before the phone
    for phone in (p for word in words for p in word.phones if p.phone in ("M", "B", "P")):
        assert any(k.shape == "A" and phone.start - 2 * FRAME <= k.start <= phone.start for k in keys), phone


def test_energy_fallback_opens_and_closes_with_the_speech(hibari_clip: Clip) -> None:
    clip, words = hibari_clip
    keys = mouth_keys([dataclasses.replace(word, phones=()) for word in words], clip, RATE)
    _assert_well_formed(keys, clip.shape[0])
    r = _pearson(keys, clip)
    print(f"energy fallback openness vs frame RMS: r={r:.3f}")
    assert r >= 0.5
    shapes = {key.shape for key in keys}
    assert {"A", "X"} & shapes and {"C", "D"} & shapes, shapes
