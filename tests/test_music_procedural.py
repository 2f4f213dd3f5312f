"""Procedural music beds: measured on real renders, no mocks."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage, signal

from podforge.errors import ConfigError
from podforge.music.procedural import (
    BED_BARS,
    MOODS,
    PEAK_DBFS,
    MoodSpec,
    mood_from_cue,
    render_bed,
    render_loop,
)

SR = 48000
LONG_S = 60.0  # at least two whole loops of the slowest mood, so every bed has seams to inspect

Audio = npt.NDArray[np.float32]


@cache
def _bed(cue: str, seconds: float = LONG_S, seed: int = 0, sample_rate: int = SR) -> Audio:
    bed = render_bed(cue, seconds, sample_rate, seed)
    bed.flags.writeable = False  # shared between tests
    return bed


@cache
def _loop(cue: str) -> Audio:
    loop = render_loop(mood_from_cue(cue), BED_BARS, SR, 0)
    loop.flags.writeable = False
    return loop


def _centroid_hz(bed: Audio) -> float:
    freqs, power = signal.welch(bed.mean(axis=1), SR, nperseg=4096)
    return float((freqs * power).sum() / power.sum())


def _tempo_bpm(bed: Audio) -> float:
    """Tempo from the autocorrelation of a spectral-flux onset strength.

    A log-normal preference around 110 bpm picks the beat rather than its half or double, the
    way a listener taps along.
    """
    mono = bed[10 * SR : 40 * SR].mean(axis=1).astype(np.float64)
    hop = 512
    _, _, stft = signal.stft(mono, SR, nperseg=2048, noverlap=2048 - hop, boundary=None, padded=False)
    mag = np.log1p(1000.0 * np.abs(stft))
    flux = np.maximum(np.diff(mag, axis=1), 0.0).mean(axis=0)
    flux -= ndimage.uniform_filter1d(flux, SR // hop)  # keep onsets, drop slow swells
    ac = np.correlate(flux, flux, "full")[flux.size - 1 :]
    bpms = np.arange(50.0, 200.0, 0.25)
    lags = 60.0 / bpms * SR / hop
    strength = np.interp(lags, np.arange(ac.size), ac)
    prior = np.exp(-0.5 * (np.log2(bpms / 110.0) / 0.5) ** 2)
    return float(bpms[np.argmax(strength * prior)])


@pytest.mark.parametrize(("seconds", "sample_rate"), [(0.5, SR), (7.3, SR), (7.3, 44100), (0.0, SR)])
def test_shape_dtype_and_exact_length(seconds: float, sample_rate: int) -> None:
    bed = _bed("upbeat intro", seconds, 0, sample_rate)
    assert bed.dtype == np.float32
    assert bed.shape == (round(seconds * sample_rate), 2)
    assert np.isfinite(bed).all()


def test_ten_minute_bed_is_exact() -> None:
    bed = render_bed("ambient evolving pad", 600.0)  # its speed is measured by bench/components.py
    assert bed.shape == (600 * SR, 2)
    assert bed.dtype == np.float32


def test_same_cue_and_seed_is_bit_identical() -> None:
    first = render_bed("chill lo-fi beat", 5.0, SR, 7)
    second = render_bed("chill lo-fi beat", 5.0, SR, 7)
    assert first.tobytes() == second.tobytes()


def test_different_seeds_differ() -> None:
    a, b = _bed("upbeat", 10.0, 0), _bed("upbeat", 10.0, 1)
    assert float(np.abs(a - b).mean()) > 1e-3


@pytest.mark.parametrize("mood", MOODS)
def test_levels_are_sane(mood: str) -> None:
    bed = _bed(mood)
    assert np.isfinite(bed).all()
    peak_db = 20.0 * np.log10(np.abs(bed).max())
    assert peak_db <= 0.0
    assert abs(peak_db - PEAK_DBFS) < 0.1
    assert np.abs(bed.mean(axis=0)).max() < 1e-3  # no DC offset
    rms_db = 10.0 * np.log10(np.mean(bed.astype(np.float64) ** 2))
    assert -30.0 < rms_db < -12.0  # a full bed, not a few blips or a wall of clipping
    assert np.corrcoef(bed[:, 0], bed[:, 1])[0, 1] < 0.98  # genuinely stereo


def test_short_bed_is_still_peak_normalised() -> None:
    bed = _bed("dramatic", 0.5)
    assert abs(20.0 * np.log10(np.abs(bed).max()) - PEAK_DBFS) < 0.1


def test_fades_in_and_out() -> None:
    bed = _bed("upbeat").astype(np.float64)
    middle_rms = np.sqrt(np.mean(bed[20 * SR : 40 * SR] ** 2))
    assert np.abs(bed[0]).max() < 1e-6
    assert np.abs(bed[-1]).max() < 1e-6
    assert np.sqrt(np.mean(bed[: SR // 10] ** 2)) < 0.1 * middle_rms
    assert np.sqrt(np.mean(bed[-SR // 10 :] ** 2)) < 0.1 * middle_rms


@pytest.mark.parametrize("mood", MOODS)
def test_bed_is_the_loop_repeated(mood: str) -> None:
    loop, bed = _loop(mood), _bed(mood)
    n = loop.shape[0]
    span = slice(SR, SR + n)  # past the fade-in, one whole period
    assert np.array_equal(bed[span], np.roll(loop, -SR, axis=0))


@pytest.mark.parametrize("mood", MOODS)
def test_no_clicks_at_loop_seams(mood: str) -> None:
    bed = _bed(mood).astype(np.float64)
    steps = np.abs(np.diff(bed, axis=0))
    typical = np.percentile(steps, 99.9)
    length, window = _loop(mood).shape[0], SR // 100
    seams = range(length, bed.shape[0] - window, length)
    assert len(seams) >= 2
    for seam in seams:
        assert steps[seam - window : seam + window].max() <= 1.5 * typical


def _octave_error(measured: float, tempo: float) -> float:
    """How far ``measured`` is from ``tempo`` or its half or double, which a listener may tap."""
    return min(abs(measured / tempo - r) / r for r in (0.5, 1.0, 2.0))


@pytest.mark.parametrize("mood", MOODS)
def test_measured_tempo_matches_the_mood(mood: str) -> None:
    assert _octave_error(_tempo_bpm(_bed(mood)), mood_from_cue(mood).tempo_bpm) < 0.04


def test_upbeat_is_faster_than_calm_and_ambient() -> None:
    upbeat = _tempo_bpm(_bed("upbeat"))
    assert upbeat == pytest.approx(120.0, rel=0.04)
    for mood in ("calm", "ambient"):
        # Neither the slow beat nor its double is near upbeat's tempo.
        assert _octave_error(upbeat, _tempo_bpm(_bed(mood))) > 0.1


def test_energetic_moods_are_brighter() -> None:
    centroid = {m: _centroid_hz(_bed(m)) for m in ("upbeat", "news", "ambient", "calm")}
    assert min(centroid["upbeat"], centroid["news"]) > 1.3 * max(centroid["ambient"], centroid["calm"])


@pytest.mark.parametrize(
    ("cue", "mood"),
    [
        ("Soft intro music - warm piano", "piano"),
        ("upbeat intro, 8s", "upbeat"),
        ("tense dramatic sting", "dramatic"),
        ("breaking news", "news"),
        ("chill lo-fi beat", "lofi"),
        ("Lo Fi study beats", "lofi"),
        ("energetic", "upbeat"),
        ("dreamy atmospheric drone", "ambient"),
        ("gentle, peaceful", "calm"),
        ("xyzzy", "calm"),
        ("", "calm"),
    ],
)
def test_mood_from_cue(cue: str, mood: str) -> None:
    spec = mood_from_cue(cue)
    assert spec.mood == mood
    assert spec == mood_from_cue(cue)
    assert 0.0 <= spec.brightness <= 1.0
    assert spec.progression and all(spec.progression)


def test_cue_adjectives_nudge_the_preset() -> None:
    plain = mood_from_cue("calm")
    assert mood_from_cue("slow calm").tempo_bpm < plain.tempo_bpm
    assert mood_from_cue("dark calm").brightness < plain.brightness
    assert mood_from_cue("calm with drums").drums
    assert not mood_from_cue("upbeat, no drums").drums
    assert mood_from_cue("no vocals, just drums").drums


def test_render_loop_is_whole_bars() -> None:
    spec = mood_from_cue("upbeat")
    one, four = (render_loop(spec, bars, SR, 3) for bars in (1, 4))
    assert four.shape == (4 * one.shape[0], 2)
    assert one.shape[0] == pytest.approx(SR * 4 * 60.0 / spec.tempo_bpm, rel=0.005)


@pytest.mark.parametrize(
    "call",
    [
        lambda: render_bed("calm", -1.0),
        lambda: render_bed("calm", float("nan")),
        lambda: render_bed("calm", 1.0, sample_rate=100),
        lambda: render_loop(mood_from_cue("calm"), 0, SR, 0),
        lambda: render_loop(MoodSpec("polka", 100.0, 0.5, True, 60, ((0, 4, 7),)), 1, SR, 0),
        lambda: render_loop(MoodSpec("calm", 100.0, 0.5, True, 60, ()), 1, SR, 0),
    ],
)
def test_bad_requests_raise_config_error(call: Callable[[], object]) -> None:
    with pytest.raises(ConfigError):
        call()
