"""Loudness normalisation and true-peak limiting, checked against independent meters.

Loudness is re-measured with pyloudnorm itself and true peak with an 8x resample_poly, so the
module's own (faster) measurements are not trusted to check themselves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyloudnorm
import pytest
from scipy import signal

from media import syllables
from podforge.audio.master import MasterResult, integrated_lufs, master, true_peak_dbtp
from podforge.errors import ConfigError, RenderError

FS = 48000
Audio = npt.NDArray[np.float32]


def lufs_ref(x: Audio, fs: int = FS) -> float:
    return float(pyloudnorm.Meter(fs).integrated_loudness(np.asarray(x, dtype=np.float64)))


def tp8_dbtp(x: Audio) -> float:
    x2 = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    peak = max(np.abs(signal.resample_poly(x2[:, c], 8, 1)).max() for c in range(x2.shape[1]))
    return float(20 * np.log10(peak)) if peak > 0 else float("-inf")


def stereo(left: npt.NDArray[np.float64], right: npt.NDArray[np.float64] | None = None) -> Audio:
    return np.stack([left, left if right is None else right], axis=1).astype(np.float32)


def sine(freq: float, seconds: float, amp: float, phase: float = 0.0, fs: int = FS) -> npt.NDArray[np.float64]:
    t = np.arange(int(seconds * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


def pink_noise(seconds: float, rng: np.random.Generator, amp: float = 0.1) -> npt.NDArray[np.float64]:
    n = int(seconds * FS)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    x = np.fft.irfft(spectrum, n)
    return amp * x / np.abs(x).max()


def speech_like(seconds: float, rng: np.random.Generator) -> Audio:
    """Harmonic 'syllables' with Hann envelopes, separated by true digital silence."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    f0 = 140 + 25 * np.sin(2 * np.pi * 0.7 * t)
    phase = np.cumsum(2 * np.pi * f0 / FS)
    voice = sum(np.sin(k * phase) / k for k in range(1, 15)) + 0.2 * rng.standard_normal(n)
    envelope = syllables(rng, n, FS, length=(0.12, 0.5), level=(0.3, 1.0), gap=(0.1, 0.7))
    mono = 0.25 * voice * envelope
    return stereo(mono, 0.8 * mono)


def square_bursts(seconds: float, rng: np.random.Generator) -> Audio:
    """Speech with a 5 ms full-scale square-wave burst every second: only a limiter can tame them."""
    x = speech_like(seconds, rng)
    square = np.sign(np.sin(2 * np.pi * 500 * np.arange(int(0.005 * FS)) / FS)).astype(np.float32)
    for start in range(FS // 4, x.shape[0] - square.size, FS):
        x[start : start + square.size] = square[:, None]
    return x


def signals() -> dict[str, Audio]:
    rng = np.random.default_rng(1234)
    return {
        "sine": stereo(sine(997, 10, 0.1)),
        "pink": stereo(pink_noise(20, rng), pink_noise(20, rng)),
        "white": (rng.standard_normal((FS * 10, 2)) * 0.05).astype(np.float32),
        "speech": speech_like(30, rng),
        "square_bursts": square_bursts(20, rng),
    }


SIGNALS = signals()


@pytest.mark.parametrize("name", ["sine", "pink", "white", "speech"])
def test_integrated_lufs_agrees_with_pyloudnorm(name: str) -> None:
    x = SIGNALS[name]
    assert integrated_lufs(x, FS) == pytest.approx(lufs_ref(x), abs=0.02)
    assert integrated_lufs(x[:, 0], FS) == pytest.approx(lufs_ref(x[:, 0]), abs=0.02)


def test_integrated_lufs_of_silence_and_too_short_audio_is_minus_inf() -> None:
    assert integrated_lufs(np.zeros((FS * 2, 2), np.float32), FS) == float("-inf")
    assert integrated_lufs(stereo(sine(440, 0.3, 0.5)), FS) == float("-inf")


def test_true_peak_sees_intersample_peaks() -> None:
    # fs/4 at 45 degrees: every sample sits at 0.707 of the crest, which lies between samples;
    # faded in and out because an abrupt start rings (and really overshoots) in any interpolator
    fade = np.minimum(1.0, np.minimum(np.arange(FS), np.arange(FS)[::-1]) / 2400)
    x = stereo(sine(FS / 4, 1.0, 0.5, phase=np.pi / 4) * fade)
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-9.03, abs=0.01)
    assert true_peak_dbtp(x, FS) == pytest.approx(-6.02, abs=0.05)
    assert true_peak_dbtp(x, FS) == pytest.approx(tp8_dbtp(x), abs=0.05)


@pytest.mark.parametrize("name", ["pink", "white", "speech", "square_bursts"])
def test_true_peak_agrees_with_8x_oversampling(name: str) -> None:
    assert true_peak_dbtp(SIGNALS[name], FS) == pytest.approx(tp8_dbtp(SIGNALS[name]), abs=0.1)


def check_mastered(result: MasterResult, target: float, limit: float = -1.0) -> None:
    out = result.samples
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert lufs_ref(out) == pytest.approx(target, abs=0.5)
    assert result.lufs_out == pytest.approx(lufs_ref(out), abs=0.02)
    assert tp8_dbtp(out) <= limit
    assert result.true_peak_dbtp == pytest.approx(true_peak_dbtp(out, FS), abs=0.05)


@pytest.mark.parametrize("target", [-16.0, -23.0])
@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_master_hits_loudness_target_under_true_peak_limit(name: str, target: float) -> None:
    x = SIGNALS[name]
    result = master(x, FS, target_lufs=target)
    check_mastered(result, target)
    assert result.samples.shape == x.shape
    assert result.lufs_in == pytest.approx(lufs_ref(x), abs=0.02)
    assert abs(result.lufs_out - target) <= 0.3


def test_master_limiter_engages_smoothly_on_full_scale_square_bursts() -> None:
    x = SIGNALS["square_bursts"]
    result = master(x, FS)
    check_mastered(result, -16.0)
    # the static gain alone would have put the bursts far over the limit
    assert result.gain_db + 20 * np.log10(np.abs(x).max()) > 5.0
    # no hard clipping: the gain applied (out / in) moves gradually from sample to sample
    loud = np.abs(x[:, 0]) > 0.05
    gain = np.where(loud, result.samples[:, 0] / np.where(loud, x[:, 0], 1.0), np.nan)
    steps = np.abs(np.diff(gain))
    assert np.nanmax(steps) < 0.03 * np.nanmax(gain)
    # and each burst is turned down as a whole rather than flattened: its square shape survives
    burst = result.samples[FS // 4 : FS // 4 + 240, 0]
    assert np.abs(burst).max() < 10 ** (-1.0 / 20)
    assert np.ptp(np.abs(burst[20:60])) < 0.05 * np.abs(burst[20:60]).max()


def test_master_other_limit_and_sample_rate() -> None:
    rng = np.random.default_rng(7)
    x = square_bursts(12, rng)
    x44 = signal.resample_poly(x, 147, 160, axis=0).astype(np.float32)
    result = master(x44, 44100, target_lufs=-18.0, true_peak_limit_dbtp=-2.0)
    assert lufs_ref(result.samples, 44100) == pytest.approx(-18.0, abs=0.5)
    assert tp8_dbtp(result.samples) <= -2.0


def test_master_mono_in_mono_out() -> None:
    x = SIGNALS["speech"][:, 0].copy()
    result = master(x, FS)
    assert result.samples.shape == x.shape
    check_mastered(result, -16.0)


def test_master_leaves_silence_alone() -> None:
    x = np.zeros((FS * 3, 2), np.float32)
    result = master(x, FS)
    assert np.array_equal(result.samples, x)
    assert result.samples is not x
    assert result.lufs_in == result.lufs_out == float("-inf")
    assert result.true_peak_dbtp == float("-inf")
    assert result.gain_db == 0.0
    mono = master(np.zeros(FS, np.float32), FS)
    assert mono.samples.shape == (FS,)
    assert not np.isnan(mono.samples).any()


def test_master_does_not_modify_its_input() -> None:
    x = SIGNALS["speech"].copy()
    master(x, FS)
    assert np.array_equal(x, SIGNALS["speech"])


def test_master_rejects_broken_audio_and_settings() -> None:
    x = SIGNALS["sine"].copy()
    x[1000, 0] = np.nan
    with pytest.raises(RenderError, match="NaN"):
        master(x, FS)
    with pytest.raises(ConfigError, match="target loudness"):
        master(SIGNALS["sine"], FS, target_lufs=3.0)
    with pytest.raises(ConfigError, match="true-peak limit"):
        master(SIGNALS["sine"], FS, true_peak_limit_dbtp=float("nan"))


@pytest.mark.slow
def test_master_ten_minutes_of_stereo_hits_the_target() -> None:
    # how fast it is belongs to bench/audio.py, not here (issue 13: no timing assertions in tests)
    rng = np.random.default_rng(99)
    x = np.concatenate([speech_like(60, rng) for _ in range(10)])
    result = master(x, FS)
    assert abs(result.lufs_out - -16.0) <= 0.3 and result.true_peak_dbtp <= -1.0


@pytest.mark.parametrize("name", ["speech", "square_bursts"])
def test_an_edit_leaves_the_master_before_it_bit_identical(name: str) -> None:
    """An edit moves the loudness by a hair; the static gain sits on a 0.1 dB grid, so the master up to the
    limiter's reach before the edit does not change at all (the MP3 and AAC keep what they encoded there)."""
    x = SIGNALS[name]
    edited = x.copy()
    edit = slice(x.shape[0] // 2, x.shape[0] // 2 + FS // 2)
    edited[edit] *= np.float32(1.05)
    before, after = master(x, FS), master(edited, FS)
    assert lufs_ref(after.samples) != lufs_ref(before.samples)  # the edit did change the loudness
    keep = edit.start - FS // 10  # the limiter looks ahead a few ms and releases over more: a margin of 100 ms
    assert np.array_equal(before.samples[:keep], after.samples[:keep])
    assert round(before.gain_db * 10) == pytest.approx(before.gain_db * 10, abs=1e-9)
    assert abs(after.lufs_out - -16.0) <= 0.3 and after.true_peak_dbtp <= -1.0
