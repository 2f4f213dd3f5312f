"""One contract every TTS engine passes, run on the real offline engines and the fake."""

from __future__ import annotations

import numpy as np
import pytest

from podforge.errors import EngineError
from podforge.voices.base import AudioChunk, VoiceSettings
from podforge.voices.registry import ENGINES, check_voice, default_voices, load_engine, split_voice_id
from podforge.voices.synth import ClipRequest, synthesize_clip

OFFLINE_VOICES = [
    f"{name}:{voice}"
    for name, info in ENGINES.items()
    if info.offline and info.installed()
    for voice in info.voices[:1]
]
SENTENCE = "Welcome to the show. Today we talk about tiny machines."


def median_pitch_hz(samples: np.ndarray, rate: int) -> float:
    """Median F0 of voiced 40 ms frames by autocorrelation (60–400 Hz)."""
    frame = int(0.04 * rate)
    pitches = []
    for start in range(0, len(samples) - frame, frame):
        x = samples[start : start + frame] - samples[start : start + frame].mean()
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        corr = np.correlate(x, x, "full")[frame - 1 :]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.4 * corr[0]:
            pitches.append(rate / lag)
    return float(np.median(pitches))


@pytest.mark.parametrize("voice_id", OFFLINE_VOICES)
def test_engine_contract(voice_id):
    engine = load_engine(voice_id)
    chunks = list(engine.synthesize(SENTENCE, VoiceSettings()))
    assert len(chunks) >= 2, "streams one chunk per sentence"
    for chunk in chunks:
        assert isinstance(chunk, AudioChunk)
        assert chunk.samples.dtype == np.float32 and chunk.samples.ndim == 1
        assert chunk.sample_rate >= 16_000
        assert np.all(np.isfinite(chunk.samples)) and np.max(np.abs(chunk.samples)) <= 1.0
    seconds = sum(c.samples.size / c.sample_rate for c in chunks)
    assert 1.5 < seconds < 8.0
    assert np.sqrt(np.mean(np.concatenate([c.samples for c in chunks]) ** 2)) > 0.01
    faster = sum(c.samples.size / c.sample_rate for c in engine.synthesize(SENTENCE, VoiceSettings(speed=1.5)))
    assert faster < 0.9 * seconds


def test_default_offline_voices_are_installed():
    assert {"hibari:heart", "piper:joe"} <= set(OFFLINE_VOICES)
    assert default_voices() == ("hibari:heart", "piper:joe")


def test_two_default_hosts_sound_like_two_people():
    rate = 48_000
    first, second = (synthesize_clip(ClipRequest(v, SENTENCE), rate) for v in default_voices()[:2])
    f0_a, f0_b = median_pitch_hz(first, rate), median_pitch_hz(second, rate)
    assert abs(f0_a - f0_b) > 40, (f0_a, f0_b)


def test_clip_is_at_project_rate():
    clip = synthesize_clip(ClipRequest("fake:a", "one two three"), 48_000)
    assert clip.dtype == np.float32
    assert abs(clip.size / 48_000 - (11 * 0.065 + 3 * 0.08)) < 0.01


@pytest.mark.parametrize(
    ("frames", "channels", "rates"),
    [(110_257, 0, (22_050, 48_000)), (24_001, 0, (24_000, 48_000)), (9_001, 2, (48_000, 16_000)),
     (3_000, 2, (48_000, 44_100)), (5, 0, (22_050, 48_000)), (1, 0, (24_000, 48_000))],
)  # fmt: skip
def test_resampling_matches_scipys_resample_poly(frames, channels, rates):
    """Clips reach the project rate through dsp.resample, numpy's copy of resample_poly (the lanes do not
    import scipy.signal): the same filter and alignment, so the same samples to float32 rounding."""
    from scipy.signal import resample_poly

    from podforge.audio.dsp import resample

    rng = np.random.default_rng(frames)
    x = (0.5 * rng.standard_normal((frames, channels) if channels else frames)).astype(np.float32)
    step = np.gcd(*rates)
    expected = resample_poly(x, rates[1] // step, rates[0] // step, axis=0)
    got = resample(x, *rates)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize(
    ("voice_id", "words"),
    [
        ("nope:x", "choose one of hibari, piper, fake"),
        ("hibari:zzz", "hibari has hibari:heart"),
        ("piper:amy", "piper:joe"),
    ],
)
def test_unknown_names_list_the_choices(voice_id, words):
    with pytest.raises(EngineError, match=words):
        check_voice(voice_id)


def test_voice_defaults_to_engine_first_voice():
    assert split_voice_id("hibari") == ("hibari", "heart")


@pytest.mark.parametrize("f0", [65.0, 105.0, 240.0])
def test_the_derivation_tracker_finds_a_gliding_voice_and_its_silences(f0):
    """voices/pitch.py on a harmonic tone gliding ±10 % around ``f0`` between silences: the F0 WORLD resynthesises
    a derived voice from is right on the voiced frames (no octave errors) and zero in the silences."""
    from podforge.voices.pitch import track

    rate = 22_050
    t = np.arange(int(1.2 * rate)) / rate
    true = f0 * (1 + 0.1 * np.sin(2 * np.pi * 1.5 * t))
    phase = 2 * np.pi * np.cumsum(true) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    gate = (t > 0.3) & (t < 0.9)
    noise = np.random.default_rng(1).normal(0, 1e-5, t.size)
    found, times = track(np.where(gate, 0.3 * tone, 0.0) + noise, rate, 10.0)
    frames = (times * rate).astype(int)
    inside = (times > 0.33) & (times < 0.87)
    outside = (times < 0.25) | ((times > 0.95) & (times < 1.2))
    assert np.all(np.abs(found[inside] / true[frames[inside]] - 1) < 0.02)
    assert np.all(found[outside] == 0)


def test_a_long_sentence_is_cut_after_its_clauses_and_a_short_one_is_left_whole():
    from podforge.voices.piper import clauses

    short = list("aɪ θˈɪŋk, ðæt mˈæɾɚz.")
    assert clauses(short, 200) == [short]
    sentence = list(", ".join(["ðə hˈoʊst ɛksplˈeɪnz ðə plˈæn"] * 12) + ".")  # 12 clauses of 30 phonemes
    pieces = clauses(sentence, 62)
    assert all(0 < len(piece) <= 62 for piece in pieces) and len(pieces) == 6
    assert all(piece[-1] in ",." for piece in pieces)  # cut after the commas, two clauses a piece
    assert " ".join("".join(piece) for piece in pieces) == "".join(sentence)
    words = list(" ".join(["ðə hˈoʊst ɛksplˈeɪnz ðə plˈæn"] * 12) + ".")  # no commas: cut between words
    assert " ".join("".join(piece) for piece in clauses(words, 60)) == "".join(words)
    assert all(len(piece) <= 60 for piece in clauses(words, 60))


def test_piper_voices_a_very_long_sentence_whole():
    """In clauses (voices/piper.py): every word still spoken, at the pace of a short sentence."""
    pytest.importorskip("piper")
    base = "the host explains the plan and the guest replies with a story about the old machines in the workshop"
    words = (base.split() * 6)[:110]
    long_clip = synthesize_clip(ClipRequest("piper:joe", " ".join(words) + "."), 48_000)
    short_clip = synthesize_clip(ClipRequest("piper:joe", " ".join(words[:20]) + "."), 48_000)
    pace = (long_clip.size / 110) / (short_clip.size / 20)
    assert 0.8 < pace < 1.25, pace
    assert np.abs(long_clip).max() <= 1.0
