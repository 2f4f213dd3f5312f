"""The mixer: clips land on their samples, beds duck under speech by ~12 dB with short ramps."""

from __future__ import annotations

import numpy as np

from podforge.audio.mix import MixSources, mix, speech_loudness
from podforge.timeline import MusicSegment, SpeakerInfo, SpeechSegment, Timeline

RATE = 48_000


def timeline_with_bed() -> Timeline:
    return Timeline(
        title="t",
        sample_rate=RATE,
        duration=12 * RATE,
        speakers={"A": SpeakerInfo("A", "fake:a", "#ffffff")},
        segments=(
            MusicSegment(1 * RATE, 11 * RATE, 1, "noise", level_db=-6.0, fade_in=0, fade_out=0),
            SpeechSegment(4 * RATE, 7 * RATE, 2, "A", "fake:a", "x", "x", "clip"),
        ),
    )


def noise_bed(bed: MusicSegment) -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.1, 0.1, (bed.length, 2)).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2))))


def music_only(timeline: Timeline) -> np.ndarray:
    silent = MixSources(lambda key: np.zeros(3 * RATE, np.float32), noise_bed, lambda path: np.zeros((0, 2)))
    return mix(timeline, silent)[:, 0]


def test_music_ducks_twelve_db_under_speech():
    bed = music_only(timeline_with_bed())
    clear = bed[2 * RATE : int(3.3 * RATE)]
    under = bed[int(4.5 * RATE) : int(6.5 * RATE)]
    assert abs((rms_db(under) - rms_db(clear)) - (-12.0)) <= 2.0


def test_duck_ramps_take_about_four_tenths_of_a_second():
    bed = music_only(timeline_with_bed())
    window = RATE // 50
    levels = np.array([rms_db(bed[i : i + window]) for i in range(3 * RATE, 5 * RATE, window)])
    top, bottom = levels[:5].mean(), levels[-20:].mean()
    moving = np.sum((levels < top - 1.0) & (levels > bottom + 1.0)) * window / RATE
    assert 0.25 <= moving <= 0.55


def test_bed_spans_exactly_its_range():
    bed = music_only(timeline_with_bed())
    assert not bed[:RATE].any() and not bed[11 * RATE :].any()
    assert bed[RATE : RATE + 10].any() and bed[11 * RATE - 10 : 11 * RATE].any()


def test_clips_land_on_their_samples():
    timeline = timeline_with_bed()
    clip = np.ones(3 * RATE, np.float32) * 0.5
    sources = MixSources(
        lambda key: clip, lambda bed: np.zeros((bed.length, 2), np.float32), lambda p: np.zeros((0, 2))
    )
    out = mix(timeline, sources)
    assert not out[: 4 * RATE].any() and not out[7 * RATE :].any()
    assert np.all(out[4 * RATE : 7 * RATE] == 0.5)


def test_a_take_a_little_louder_or_quieter_leaves_the_bed_as_it_was():
    """Beds follow the voices' loudness in whole LU: a new take must not change the mix where only music plays
    (every video chunk under the intro would be drawn again)."""

    noise = np.random.default_rng(1).uniform(-0.3, 0.3, 3 * RATE).astype(np.float32)
    loudness = speech_loudness(timeline_with_bed(), lambda key: noise)
    centred = noise * np.float32(10 ** ((round(loudness) - loudness) / 20))  # a whole LU, mid-step

    def bed_with_voice(gain: float) -> np.ndarray:
        voice = centred * np.float32(gain)
        sources = MixSources(lambda key: voice, noise_bed, lambda path: np.zeros((0, 2)))
        return mix(timeline_with_bed(), sources)[: 3 * RATE]

    assert np.array_equal(bed_with_voice(1.0), bed_with_voice(1.01))  # +0.09 dB of voice
    assert np.array_equal(bed_with_voice(1.0), bed_with_voice(0.99))
    assert bed_with_voice(1.0).any()
    # A voice really louder still lifts the bed with it.
    louder = rms_db(bed_with_voice(2.0)[RATE : 3 * RATE]) - rms_db(bed_with_voice(1.0)[RATE : 3 * RATE])
    assert 5.0 <= louder <= 7.0
