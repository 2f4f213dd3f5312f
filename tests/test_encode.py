"""VideoWriter and select_encoder: real encodes at small sizes, checked by decoding with PyAV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fake_gpu import need_gpu
from media import top_level_boxes
from podforge import encode
from podforge.encode import (
    NVENC,
    X264,
    EncoderChoice,
    VideoSettings,
    VideoWriter,
    encode_frames,
    select_encoder,
)
from podforge.errors import EncodeError

W, H, FPS, RATE = 320, 180, 25, 48_000
TONE_HZ, TONE_AMP = 440.0, 0.3
SECONDS = 2.01  # not a whole number of frames, so the last frame only partly covers audio
X264_CHOICE = EncoderChoice(X264, "tests")
SETTINGS = VideoSettings(W, H, FPS, encoder=X264_CHOICE)


def tone(seconds: float, rate: int = RATE, hz: float = TONE_HZ) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    # A little noise, as speech has, so the AAC encoder spends its full bit budget.
    noise = np.random.default_rng(1).normal(0, 0.01, t.size)
    mono = (TONE_AMP * np.sin(2 * np.pi * hz * t) + noise).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def colour(index: int) -> tuple[int, int, int]:
    """A different solid colour per frame, so frame order is checked along with content."""
    return (40 + (index * 7) % 180, 200 - (index * 5) % 150, 90 + (index * 3) % 120)


def solid(rgb: tuple[int, int, int], width: int = W, height: int = H) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = rgb
    return frame


def frames(count: int, width: int = W, height: int = H) -> Iterator[np.ndarray]:
    return (solid(colour(i), width, height) for i in range(count))


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp-*"))


@dataclass
class Decoded:
    path: Path
    audio_seconds: float
    frames_needed: int


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Decoded:
    path = tmp_path_factory.mktemp("encode") / "episode.mp4"
    audio = tone(SECONDS)
    with VideoWriter(path, SETTINGS, audio) as writer:
        for frame in frames(writer.frames_needed):
            writer.write(frame)
    return Decoded(path, len(audio) / RATE, writer.frames_needed)


def decode_audio(path: Path) -> tuple[np.ndarray, list[int]]:
    with av.open(str(path)) as container:
        decoded = list(container.decode(audio=0))
    return np.concatenate([f.to_ndarray() for f in decoded], axis=1), [int(f.pts or 0) for f in decoded]


# --- the file ------------------------------------------------------------------------------------


def test_video_is_h264_high_yuv420p_at_the_requested_size(encoded: Decoded) -> None:
    with av.open(str(encoded.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.profile == "High"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (W, H)


def test_constant_frame_rate_from_pts_zero(encoded: Decoded) -> None:
    with av.open(str(encoded.path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == FPS
        pts = [int(f.pts or 0) for f in container.decode(video=0)]
        assert stream.time_base is not None
        tick = Fraction(1, FPS) / stream.time_base
    assert len(pts) == encoded.frames_needed
    assert pts[0] == 0
    assert set(np.diff(pts)) == {tick}


def test_audio_is_aac_lc_stereo_48k_at_192k(encoded: Decoded) -> None:
    with av.open(str(encoded.path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.codec_context.profile == "LC"
        assert stream.rate == 48_000
        assert stream.channels == 2
        # The MP4 records the bit rate actually spent, which the encoder may undershoot a little.
        assert stream.bit_rate >= 0.9 * 192_000


def test_audio_starts_at_zero_and_video_covers_it_within_a_frame(encoded: Decoded) -> None:
    samples, pts = decode_audio(encoded.path)
    assert pts[0] == 0
    with av.open(str(encoded.path)) as container:
        audio = container.streams.audio[0]
        assert audio.start_time == 0
        assert audio.time_base is not None
        audio_seconds = float((audio.duration or 0) * audio.time_base)
    video_seconds = encoded.frames_needed / FPS
    assert audio_seconds == pytest.approx(encoded.audio_seconds, abs=1e-3)
    assert 0 <= video_seconds - audio_seconds < 1 / FPS
    assert samples.shape[1] >= round(encoded.audio_seconds * RATE)


def _x264_settings(path: Path) -> str:
    """The settings x264 wrote into the stream (its SEI), as the encoder ran."""
    data = path.read_bytes()
    start = data.index(b"options: ")
    return data[start : data.index(b"\x00", start)].decode("ascii", "replace")


def test_the_default_preset_refines_subpixels_once_and_other_presets_are_x264s_own(tmp_path: Path) -> None:
    """veryfast with subme 1 (encode._X264_TUNING): less CPU a frame for 2 % more bytes; a preset the user names
    is x264's own."""
    assert " subme=1 " in _x264_settings(encode_frames(tmp_path / "a.mp4", SETTINGS, frames(30), tone(1.2)))
    faster = VideoSettings(W, H, FPS, preset="faster", encoder=X264_CHOICE)
    assert " subme=4 " in _x264_settings(encode_frames(tmp_path / "b.mp4", faster, frames(30), tone(1.2)))


def test_index_comes_first_for_streaming(encoded: Decoded) -> None:
    boxes = top_level_boxes(encoded.path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_streams_are_interleaved(encoded: Decoded) -> None:
    last = {"audio": 0.0, "video": 0.0}
    worst = 0.0
    with av.open(str(encoded.path)) as container:
        for packet in container.demux():
            if packet.dts is None:
                continue
            last[packet.stream.type] = float(packet.dts * packet.time_base)
            worst = max(worst, abs(last["audio"] - last["video"]))
    assert worst < 0.5


def test_tone_survives(encoded: Decoded) -> None:
    samples, _ = decode_audio(encoded.path)
    for channel in samples:
        body = channel[RATE // 10 : -RATE // 10]  # away from the encoder's start-up and tail
        rms = float(np.sqrt(np.mean(body**2)))
        assert rms == pytest.approx(np.sqrt(TONE_AMP**2 / 2 + 0.01**2), rel=0.05)
        spectrum = np.abs(np.fft.rfft(body * np.hanning(body.size)))
        assert abs(np.argmax(spectrum) * RATE / body.size - TONE_HZ) < 2.0


def test_frame_content_and_order_survive(encoded: Decoded) -> None:
    with av.open(str(encoded.path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    for index in (0, 1, len(decoded) // 2, len(decoded) - 1):
        centre = decoded[index][H // 4 : 3 * H // 4, W // 4 : 3 * W // 4].astype(int)
        assert np.abs(centre - np.array(colour(index))).max() <= 6, f"frame {index}"


# --- the writer's contract -----------------------------------------------------------------------


def test_frames_needed_covers_the_audio() -> None:
    assert VideoWriter("x.mp4", SETTINGS, tone(2.0)).frames_needed == 50
    assert VideoWriter("x.mp4", SETTINGS, tone(2.0 + 1 / RATE)).frames_needed == 51
    assert VideoWriter("x.mp4", SETTINGS, tone(1.0, rate=44_100), audio_rate=44_100).frames_needed == 25


def test_too_few_frames_raise_and_leave_no_file(tmp_path: Path) -> None:
    path = tmp_path / "short.mp4"
    with pytest.raises(EncodeError, match=r"only 24 of 25 video frames"), VideoWriter(path, SETTINGS, tone(1.0)) as w:
        for frame in frames(w.frames_needed - 1):
            w.write(frame)
    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_too_many_frames_raise(tmp_path: Path) -> None:
    with (
        pytest.raises(EncodeError, match="frames_needed = 25"),
        VideoWriter(tmp_path / "a.mp4", SETTINGS, tone(1.0)) as w,
    ):
        for frame in frames(w.frames_needed + 1):
            w.write(frame)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [np.zeros((H, W + 2, 3), np.uint8), np.zeros((H, W, 4), np.uint8), np.zeros((H, W, 3), np.float32)],
    ids=["width", "rgba", "float"],
)
def test_wrong_frame_raises_naming_expected_and_got(tmp_path: Path, bad: np.ndarray) -> None:
    with pytest.raises(EncodeError) as info, VideoWriter(tmp_path / "bad.mp4", SETTINGS, tone(1.0)) as writer:
        writer.write(bad)
    assert f"expected {(H, W, 3)} uint8" in str(info.value)
    assert f"{bad.shape} {bad.dtype}" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_destination_is_untouched_when_encoding_fails(tmp_path: Path) -> None:
    path = tmp_path / "episode.mp4"
    path.write_bytes(b"the previous render")
    with pytest.raises(EncodeError), VideoWriter(path, SETTINGS, tone(1.0)) as writer:
        writer.write(solid((0, 0, 0)))
    assert path.read_bytes() == b"the previous render"
    assert leftovers(tmp_path) == []


def test_callers_own_error_passes_through_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "episode.mp4"
    path.write_bytes(b"old")
    with pytest.raises(KeyError), VideoWriter(path, SETTINGS, tone(1.0)) as writer:
        writer.write(solid((0, 0, 0)))
        raise KeyError("renderer bug")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_ffmpeg_errors_become_encode_errors(tmp_path: Path) -> None:
    settings = VideoSettings(W, H, FPS, preset="no-such-preset", encoder=X264_CHOICE)
    with pytest.raises(EncodeError, match="encoding with libx264 failed") as info:
        encode_frames(tmp_path / "x.mp4", settings, frames(25), tone(1.0))
    assert isinstance(info.value.__cause__, av.FFmpegError | OSError | ValueError)
    assert list(tmp_path.iterdir()) == []


def test_write_outside_the_with_block_raises(tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="outside its with block"):
        VideoWriter(tmp_path / "x.mp4", SETTINGS, tone(1.0)).write(solid((0, 0, 0)))


@pytest.mark.parametrize("audio", [np.zeros((100, 1), np.float32), np.zeros((0, 2), np.float32)], ids=["mono", "empty"])
def test_audio_must_be_non_empty_stereo(audio: np.ndarray) -> None:
    with pytest.raises(EncodeError, match="stereo"):
        VideoWriter("x.mp4", SETTINGS, audio)


@pytest.mark.parametrize("kwargs", [{"width": 321}, {"height": 0}, {"fps": 0}, {"crf": 60}, {"audio_bitrate": 128_000}])
def test_settings_are_checked(kwargs: dict[str, int]) -> None:
    values = {"width": W, "height": H, **kwargs}
    with pytest.raises(EncodeError):
        VideoSettings(**values, encoder=X264_CHOICE)  # type: ignore[arg-type]


def test_encode_frames_consumes_a_generator_and_resamples_44k1(tmp_path: Path) -> None:
    audio = tone(1.0, rate=44_100, hz=1000.0)
    path = encode_frames(tmp_path / "gen.mp4", SETTINGS, frames(25), audio, audio_rate=44_100)
    assert path == tmp_path / "gen.mp4"
    samples, pts = decode_audio(path)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].rate == 48_000
        assert container.streams.video[0].frames == 25
    assert pts[0] == 0
    body = samples[0, RATE // 10 : RATE - RATE // 10]
    spectrum = np.abs(np.fft.rfft(body * np.hanning(body.size)))
    assert abs(np.argmax(spectrum) * RATE / body.size - 1000.0) < 2.0


# --- choosing the encoder (the probe is the GPU boundary) ----------------------------------------


@pytest.fixture
def nvenc_in_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "codecs_available", av.codecs_available | {NVENC})


@pytest.mark.usefixtures("nvenc_in_build")
def test_auto_without_a_working_gpu_picks_x264_and_says_why() -> None:
    choice = select_encoder("auto", probe=lambda name: False)
    assert choice.name == X264
    assert "nvenc" in choice.reason


@pytest.mark.usefixtures("nvenc_in_build")
def test_auto_with_a_working_gpu_picks_nvenc() -> None:
    probed: list[str] = []

    def probe(name: str) -> bool:
        probed.append(name)
        return True

    choice = select_encoder(probe=probe)
    assert choice == EncoderChoice(NVENC, choice.reason)
    assert probed == [NVENC]


@pytest.mark.usefixtures("nvenc_in_build")
def test_forcing_nvenc_without_a_working_gpu_raises() -> None:
    with pytest.raises(EncodeError, match="h264_nvenc was requested"):
        select_encoder(NVENC, probe=lambda name: False)
    assert select_encoder(NVENC, probe=lambda name: True).name == NVENC


def test_ffmpeg_without_nvenc_picks_x264(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "codecs_available", av.codecs_available - {NVENC})
    choice = select_encoder(probe=lambda name: pytest.fail("no probe without the encoder"))
    assert choice == EncoderChoice(X264, "no NVIDIA encoder in this FFmpeg build")


def test_forcing_x264_never_probes() -> None:
    assert select_encoder(X264, probe=lambda name: pytest.fail("probed")).name == X264


def test_unknown_encoder_is_refused() -> None:
    with pytest.raises(EncodeError, match="unknown encoder"):
        select_encoder("hevc_vaapi")


def test_real_probe_runs_once_per_process() -> None:
    if NVENC not in av.codecs_available:
        pytest.skip("this FFmpeg build has no NVENC to probe")
    first = select_encoder()
    before = encode._test_encode.cache_info()
    assert select_encoder() == first
    after = encode._test_encode.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)


@pytest.mark.gpu
def test_nvenc_encodes_and_decodes(tmp_path: Path) -> None:
    choice = select_encoder()
    if choice.name != NVENC:
        need_gpu(choice.reason)
    settings = VideoSettings(640, 360, FPS, encoder=choice)
    path = encode_frames(tmp_path / "nvenc.mp4", settings, frames(50, 640, 360), tone(2.0))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.profile) == ("h264", "High")
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 50
    assert np.abs(decoded[25][90:270, 160:480].astype(int) - np.array(colour(25))).max() <= 8
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")


def test_aac_track_of_a_stereo_mix_stays_35_db_above_its_error(tmp_path: Path) -> None:
    """A centred voice over a bed panned apart, coded left/right (aac_ms 0): the error stays far below the signal."""
    from podforge.bitstream import encode_audio_track

    t = np.arange(4 * RATE) / RATE
    rng = np.random.default_rng(3)
    voice = 0.25 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2 + rng.normal(0, 0.001, t.size)
    left, right = 0.08 * np.sin(2 * np.pi * 523 * t), 0.08 * np.sin(2 * np.pi * 659 * t + 1)
    source = np.stack([voice + left, voice + right], axis=1).astype(np.float32)
    encode_audio_track(tmp_path / "track.mp4", SETTINGS, source, RATE)
    decoded = decode_audio(tmp_path / "track.mp4")[0].T  # planar (2, n)
    n = min(len(decoded), len(source)) - RATE // 10
    error = decoded[RATE // 10 : n] - source[RATE // 10 : n]  # past the priming, which decoders drop
    snr = 10 * np.log10(np.sum(source[RATE // 10 : n] ** 2) / np.sum(error**2))
    assert snr > 35, snr  # forcing mid/side on (aac_ms 1) gives 14 dB here, the search 47, left/right 46
