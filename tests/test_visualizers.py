"""Audio visualisers: frame-aligned features, drawing confined to the region, blending, determinism and speed."""

from __future__ import annotations

from typing import Any, get_args

import numpy as np
import numpy.typing as npt
import pytest

from podforge.visuals.visualizers import AudioFeatures, Kind, Visualizer, VisualizerStyle

RATE, FPS = 44_100, 25
W, H = 1280, 720
KINDS: tuple[Kind, ...] = get_args(Kind)
# A 1280x200 region in a 720p frame, as used by the timing budget.
REGION = {"x": 0.0, "y": 0.5, "width": 1.0, "height": 200 / 720}
Y0, Y1 = 360, 560


def tone(freq: float, seconds: float, amp: float = 0.5, rate: int = RATE) -> npt.NDArray[np.float32]:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def stereo(mono: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.stack([mono, mono], axis=1)


def silence_then_tone(rate: int = RATE) -> npt.NDArray[np.float32]:
    """2 s of silence, then a 1 kHz tone starting exactly at t = 2.0 s."""
    return stereo(np.concatenate([np.zeros(2 * rate, np.float32), tone(1000, 2.0, rate=rate)]))


@pytest.fixture(scope="module")
def quiet_then_loud() -> AudioFeatures:
    """Broadband (tone + noise) at -30 dB for 2 s, then the same 24 dB louder: frame 25 quiet, frame 75 loud."""
    rng = np.random.default_rng(7)
    body = tone(330, 2.0, 0.3) + tone(2500, 2.0, 0.1) + rng.standard_normal(2 * RATE).astype(np.float32) * 0.1
    return AudioFeatures(stereo(np.concatenate([body * 0.0316, body * 0.5])), RATE, FPS)


def make(kind: Kind, features: AudioFeatures, **style: Any) -> Visualizer:
    return Visualizer(VisualizerStyle(kind=kind, **{**REGION, **style}), (W, H), features)


def noise_frame(seed: int = 0) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def changed(before: npt.NDArray[np.uint8], after: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.any(before != after, axis=2)


# --- features -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "fps"), [(44_100, 25), (48_000, 25), (44_100, 24)])
def test_onset_shows_on_its_own_frame_not_before_or_after(rate: int, fps: int) -> None:
    feats = AudioFeatures(silence_then_tone(rate), rate, fps)
    onset = 2 * fps  # frame 50 at 25 fps starts at exactly 2.0 s
    assert feats.n_frames == 4 * fps
    assert feats.level(onset - 1) == pytest.approx(0.0, abs=1e-6)
    assert feats.level(onset) > 0.3  # a 0.5-amplitude sine has RMS 0.354
    assert feats.spectrum(onset - 1).max() == 0.0 and feats.spectrum(onset).max() > 0.5
    assert feats.loudness(onset - 1) == 0.0 and feats.loudness(onset) > 0.5
    assert not feats.waveform(onset - 1, 64).any() and np.abs(feats.waveform(onset, 64)).max() > 0.45


def test_a_click_lands_in_exactly_the_frame_whose_span_holds_it() -> None:
    audio = np.zeros(4 * RATE, np.float32)
    frame = 37
    audio[frame * RATE // FPS] = 1.0  # first sample of frame 37's span
    audio[(frame + 2) * RATE // FPS - 1] = 1.0  # last sample of frame 38's span
    feats = AudioFeatures(audio, RATE, FPS)
    levels = [feats.level(i) for i in range(frame - 1, frame + 3)]
    assert levels[0] == 0.0 and levels[1] > 0 and levels[3] == 0.0


def test_spectrum_peak_is_higher_for_a_higher_tone() -> None:
    low = AudioFeatures(stereo(tone(200, 2.0)), RATE, FPS).spectrum(25)
    high = AudioFeatures(stereo(tone(1000, 2.0)), RATE, FPS).spectrum(25)
    assert low.shape == high.shape == (48,) and low.dtype == np.float32
    edges = np.geomspace(30, 12_000, 49)
    assert abs(int(np.argmax(high)) - (np.searchsorted(edges, 1000) - 1)) <= 1
    assert np.argmax(high) > np.argmax(low) + 10
    assert low.min() >= 0.0 and high.max() <= 1.0


def test_feature_shapes_ranges_and_frames_past_the_end() -> None:
    feats = AudioFeatures(tone(440, 1.01), RATE, FPS, bars=20)  # mono input; a partial last frame
    assert feats.n_frames == 26
    wave = feats.waveform(10, 300)
    assert wave.shape == (300,) and wave.dtype == np.float32 and np.abs(wave).max() <= 1.0
    lo, hi = feats.envelope(10, 40)
    assert np.all(lo <= hi) and lo.min() < -0.45 and hi.max() > 0.45
    assert feats.spectrum(10).shape == (20,)
    assert feats.level(feats.n_frames) == 0.0 and not feats.spectrum(-1).any()  # video past the audio: silence
    assert AudioFeatures(np.zeros((0, 2), np.float32), RATE, FPS).n_frames == 0


def test_bars_do_not_flicker_they_fall_slowly() -> None:
    audio = np.concatenate([tone(1000, 1.0), np.zeros(RATE, np.float32)])
    spec = [AudioFeatures(audio, RATE, FPS).spectrum(i).max() for i in (24, 25, 26, 27)]
    assert spec[0] > spec[1] > spec[2] > spec[3] > 0  # release: decays over frames, not gone in one


def test_ten_minute_episode_features_are_small() -> None:
    seconds = 600
    rng = np.random.default_rng(0)
    mono = np.tile(rng.standard_normal(10 * RATE).astype(np.float32) * 0.1, seconds // 10)
    audio = np.broadcast_to(mono[:, None], (len(mono), 2))  # stereo without doubling the test's memory
    feats = AudioFeatures(audio, RATE, FPS)  # its speed is measured by bench/components.py
    assert feats.n_frames == seconds * FPS
    stored = sum(v.nbytes for v in vars(feats).values() if isinstance(v, np.ndarray))
    assert stored < 16 * 2**20  # the 212 MB of audio is not kept


# --- drawing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_draws_inside_its_region_only(kind: Kind, mirror: bool, quiet_then_loud: AudioFeatures) -> None:
    before = noise_frame()
    frame = before.copy()
    make(kind, quiet_then_loud, mirror=mirror).draw(frame, 75)
    diff = changed(before, frame)
    assert diff[Y0:Y1].sum() > 0
    diff[Y0:Y1] = False
    assert not diff.any()


def test_region_follows_the_style_fractions(quiet_then_loud: AudioFeatures) -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    vis = make("spectrum", quiet_then_loud, x=0.25, y=0.1, width=0.5, height=0.3)
    vis.draw(frame, 75)
    rows, cols = np.nonzero(frame.any(axis=2))
    assert (rows.min(), cols.min()) >= (72, 320) and (rows.max(), cols.max()) < (288, 960)
    assert (vis.region.x0, vis.region.y0, vis.region.w, vis.region.h) == (320, 72, 640, 216)


def column_heights(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.int_]:
    return np.asarray(frame.any(axis=2).sum(axis=0))


@pytest.mark.parametrize("kind", KINDS)
def test_louder_audio_draws_more(kind: Kind, quiet_then_loud: AudioFeatures) -> None:
    vis = make(kind, quiet_then_loud)
    quiet, loud = np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint8)
    vis.draw(quiet, 25)
    vis.draw(loud, 75)
    assert quiet_then_loud.loudness(75) > quiet_then_loud.loudness(25) + 0.3
    assert loud.any(axis=2).sum() > 1.3 * quiet.any(axis=2).sum()
    if kind == "spectrum":
        assert column_heights(loud).max() > 1.3 * column_heights(quiet).max()  # taller bars


@pytest.mark.parametrize("kind", KINDS)
def test_opacity_half_gives_intermediate_values(kind: Kind, quiet_then_loud: AudioFeatures) -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    make(kind, quiet_then_loud, color=(255, 255, 255), opacity=0.5).draw(frame, 75)
    drawn = frame[frame.any(axis=2)]
    assert len(drawn) > 0
    assert drawn.max() == 128  # half of white over black, fully covered pixels
    assert drawn.min() > 0


def test_opacity_blends_onto_what_is_underneath(quiet_then_loud: AudioFeatures) -> None:
    frame = np.full((H, W, 3), 100, np.uint8)
    make("spectrum", quiet_then_loud, color=(200, 0, 50), opacity=0.5).draw(frame, 75)
    values, counts = np.unique(frame.reshape(-1, 3), axis=0, return_counts=True)
    inner = values[np.argsort(counts)[-2]]  # the commonest after the untouched background
    assert tuple(inner) == (150, 50, 75)


@pytest.mark.parametrize("kind", KINDS)
def test_colour_is_honoured_at_full_opacity(kind: Kind, quiet_then_loud: AudioFeatures) -> None:
    colour = (200, 60, 30)
    frame = np.zeros((H, W, 3), np.uint8)
    make(kind, quiet_then_loud, color=colour, opacity=1.0).draw(frame, 75)
    drawn = frame[frame.any(axis=2)]
    exact = np.all(drawn == colour, axis=1)
    assert exact.mean() > 0.5  # the rest are anti-aliased edges or dimmer particles
    # Every drawn pixel is the colour scaled by its coverage: same hue, never brighter.
    assert np.all(drawn <= colour)


def test_particles_are_a_pure_function_of_the_frame_index(quiet_then_loud: AudioFeatures) -> None:
    vis = make("particles", quiet_then_loud, seed=3)
    first, again, after_29 = (np.zeros((H, W, 3), np.uint8) for _ in range(3))
    vis.draw(first, 30)
    vis.draw(again, 30)
    vis.draw(np.zeros((H, W, 3), np.uint8), 29)
    vis.draw(after_29, 30)
    fresh = np.zeros((H, W, 3), np.uint8)
    make("particles", quiet_then_loud, seed=3).draw(fresh, 30)
    assert first.any()
    assert np.array_equal(first, again) and np.array_equal(first, after_29) and np.array_equal(first, fresh)
    other_seed = np.zeros((H, W, 3), np.uint8)
    make("particles", quiet_then_loud, seed=4).draw(other_seed, 30)
    assert not np.array_equal(first, other_seed)
    moved = np.zeros((H, W, 3), np.uint8)
    vis.draw(moved, 31)
    assert not np.array_equal(first, moved)


@pytest.mark.parametrize("kind", KINDS)
def test_strided_frame_views_are_drawn_in_place(kind: Kind, quiet_then_loud: AudioFeatures) -> None:
    canvas = noise_frame(1)
    big = np.zeros((H + 20, W + 40, 3), np.uint8)
    view = big[10 : 10 + H, 20 : 20 + W]
    view[...] = canvas
    vis = make(kind, quiet_then_loud)
    vis.draw(canvas, 60)
    vis.draw(view, 60)
    assert np.array_equal(view, canvas)


def test_bad_styles_and_frames_are_rejected(quiet_then_loud: AudioFeatures) -> None:
    with pytest.raises(ValueError, match="kind"):
        VisualizerStyle(kind="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="opacity"):
        VisualizerStyle(opacity=1.5)
    with pytest.raises(ValueError, match="color"):
        VisualizerStyle(color=(0, 0, 300))
    with pytest.raises(ValueError, match="empty"):
        Visualizer(VisualizerStyle(x=1.0), (W, H), quiet_then_loud)
    with pytest.raises(ValueError, match="uint8"):
        make("spectrum", quiet_then_loud).draw(np.zeros((H, W, 3), np.float32), 0)


def test_style_bar_count_may_differ_from_the_features(quiet_then_loud: AudioFeatures) -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    make("spectrum", quiet_then_loud, bars=16).draw(frame, 75)
    runs = np.diff(np.concatenate(([0], column_heights(frame) > 0, [0])).astype(int))
    assert (runs == 1).sum() == 16  # sixteen separate bars
