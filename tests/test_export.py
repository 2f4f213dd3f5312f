"""MP3/WAV export (atomic, tagged, chaptered) and decoding, checked by reading files back with
PyAV and mutagen directly."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pyloudnorm
import pytest
from mutagen import MutagenError
from mutagen.id3 import ID3

from podforge import _atomic
from podforge.audio import export
from podforge.audio.export import Chapter, Tags, decode_audio, write_mp3, write_wav
from podforge.audio.master import master
from podforge.errors import EncodeError, MediaError

FS = 48000
Audio = npt.NDArray[np.float32]


def lufs_ref(x: Audio, fs: int = FS) -> float:
    return float(pyloudnorm.Meter(fs).integrated_loudness(np.asarray(x, dtype=np.float64)))


def tone_bursts(seconds: float, fs: int = FS) -> Audio:
    """Speech-like: harmonic bursts separated by silence, slightly different per channel."""
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * fs)) / fs
    voice = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 10)) + 0.1 * rng.standard_normal(t.size)
    gate = (np.sin(2 * np.pi * 1.3 * t) > 0.2).astype(np.float64)
    mono = 0.2 * voice * gate
    return np.stack([mono, 0.7 * mono], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def mastered() -> Audio:
    return master(tone_bursts(12.0), FS).samples


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_mp3_round_trip_has_codec_duration_bitrate_and_loudness(tmp_path: Path, mastered: Audio) -> None:
    path = write_mp3(tmp_path / "episode.mp3", mastered, FS)
    assert path == tmp_path / "episode.mp3"
    assert leftovers(tmp_path) == []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.codec.name.startswith("mp3")
        assert stream.bit_rate >= 128_000
        assert container.duration is not None
        assert container.duration / 1e6 == pytest.approx(mastered.shape[0] / FS, abs=0.06)
    decoded = decode_audio(path)
    assert decoded.dtype == np.float32 and decoded.shape[1] == 2
    assert decoded.shape[0] / FS == pytest.approx(mastered.shape[0] / FS, abs=0.06)
    assert lufs_ref(decoded) == pytest.approx(lufs_ref(mastered), abs=0.5)


@pytest.mark.parametrize("bitrate", [128_000, 192_000, 320_000])
def test_mp3_keeps_the_mastered_loudness_at_any_bitrate(tmp_path: Path, mastered: Audio, bitrate: int) -> None:
    # LAME scales its input by 0.95-0.98 below 256 kbit/s; the writer undoes that
    decoded = decode_audio(write_mp3(tmp_path / "a.mp3", mastered, FS, bitrate=bitrate))
    assert lufs_ref(decoded) == pytest.approx(lufs_ref(mastered), abs=0.15)


def test_mp3_tags_and_chapters_read_back(tmp_path: Path, mastered: Audio) -> None:
    tags = Tags(title="Episode 1: Ünïcode", artist="Host", album="The Show", year="2024", comment="notes")
    chapters = [Chapter("Intro", 0.0, 2.5), Chapter("Main", 2.5, 9.25), Chapter("Outro", 9.25, 12.0)]
    path = write_mp3(tmp_path / "tagged.mp3", mastered, FS, tags=tags, chapters=chapters)
    id3 = ID3(path)
    assert id3.version == (2, 4, 0)
    assert id3["TIT2"].text == [tags.title]
    assert id3["TPE1"].text == ["Host"]
    assert id3["TALB"].text == ["The Show"]
    assert str(id3["TDRC"].text[0]) == "2024"
    assert id3.getall("COMM")[0].text == ["notes"]
    toc = id3.getall("CTOC")
    assert len(toc) == 1 and toc[0].element_id == "toc"
    assert toc[0].child_element_ids == ["chp0", "chp1", "chp2"]
    assert toc[0].flags & 0x03 == 0x03  # top-level and ordered
    chaps = {c.element_id: c for c in id3.getall("CHAP")}
    assert [(chaps[f"chp{i}"].start_time, chaps[f"chp{i}"].end_time) for i in range(3)] == [
        (0, 2500),
        (2500, 9250),
        (9250, 12000),
    ]
    assert [chaps[f"chp{i}"].sub_frames["TIT2"].text for i in range(3)] == [["Intro"], ["Main"], ["Outro"]]
    # the tags did not disturb the audio
    assert decode_audio(path).shape[0] / FS == pytest.approx(12.0, abs=0.06)


def test_mp3_mono(tmp_path: Path, mastered: Audio) -> None:
    path = write_mp3(tmp_path / "mono.mp3", mastered[:, 0], FS, bitrate=128_000)
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.channels == 1
    decoded = decode_audio(path)
    assert decoded.shape == (mastered.shape[0], 2)
    assert np.array_equal(decoded[:, 0], decoded[:, 1])


def test_mp3_into_missing_folder_raises_encode_error(tmp_path: Path, mastered: Audio) -> None:
    with pytest.raises(EncodeError, match="missing"):
        write_mp3(tmp_path / "missing" / "a.mp3", mastered, FS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_mp3_into_read_only_folder_raises_encode_error(tmp_path: Path, mastered: Audio) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(EncodeError, match="ro"):
            write_mp3(folder / "a.mp3", mastered, FS)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    ("rate", "bitrate", "match"),
    [(FS, 100_000, "not an MP3 bitrate"), (FS, -5, "not an MP3 bitrate"), (96000, 192_000, "96000 Hz")],
)
def test_mp3_bad_settings_raise_and_leave_existing_file(
    tmp_path: Path, mastered: Audio, rate: int, bitrate: int, match: str
) -> None:
    dest = tmp_path / "keep.mp3"
    dest.write_bytes(b"previous episode")
    with pytest.raises(EncodeError, match=match):
        write_mp3(dest, mastered, rate, bitrate=bitrate)
    assert dest.read_bytes() == b"previous episode"
    assert leftovers(tmp_path) == []


def test_mp3_failure_midway_removes_temp_and_keeps_existing_file(
    tmp_path: Path, mastered: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "keep.mp3"
    dest.write_bytes(b"previous episode")
    seen: list[Path] = []

    def broken_tagger(tmp: Path, *_: object) -> None:
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp.name.startswith(".keep.mp3.tmp-")
        assert tmp.stat().st_size > 10_000  # the audio was encoded before tagging failed
        raise MutagenError("disk full")

    monkeypatch.setattr(export, "_write_id3", broken_tagger)
    with pytest.raises(EncodeError, match=r"keep\.mp3.*disk full") as info:
        write_mp3(dest, mastered, FS, tags=Tags("x"))
    assert isinstance(info.value.__cause__, MutagenError)
    assert seen and not seen[0].exists()
    assert dest.read_bytes() == b"previous episode"
    assert leftovers(tmp_path) == []


def test_mp3_encoder_error_is_wrapped(tmp_path: Path, mastered: Audio, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_frame(*_: object, **__: object) -> None:
        raise av.error.ArgumentError(22, "Invalid argument")

    monkeypatch.setattr(av.AudioFrame, "from_ndarray", broken_frame)
    with pytest.raises(EncodeError, match=r"new\.mp3") as info:
        write_mp3(tmp_path / "new.mp3", mastered, FS)
    assert isinstance(info.value.__cause__, av.FFmpegError)
    assert list(tmp_path.iterdir()) == []


def test_mp3_rejects_bad_chapters_before_writing(tmp_path: Path, mastered: Audio) -> None:
    with pytest.raises(EncodeError, match="chapter 2"):
        write_mp3(tmp_path / "a.mp3", mastered, FS, chapters=[Chapter("a", 0, 5), Chapter("b", 6, 5)])
    assert list(tmp_path.iterdir()) == []


def test_wav_is_24_bit_and_round_trips(tmp_path: Path, mastered: Audio) -> None:
    path = write_wav(tmp_path / "episode.wav", mastered, FS)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getsampwidth(), wav.getnchannels(), wav.getframerate()) == (3, 2, FS)
        assert wav.getnframes() == mastered.shape[0]
    decoded = decode_audio(path)
    assert np.abs(decoded - mastered).max() < 2.0**-22
    assert leftovers(tmp_path) == []


def test_wav_clips_out_of_range_samples_and_handles_mono(tmp_path: Path) -> None:
    x = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    decoded = decode_audio(write_wav(tmp_path / "m.wav", x, FS))
    assert np.allclose(decoded[:, 0], [0.0, 0.5, -0.5, 1.0, -1.0], atol=2.0**-22)
    assert np.array_equal(decoded[:, 0], decoded[:, 1])


def test_wav_failure_keeps_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "keep.wav"
    dest.write_bytes(b"old")
    with pytest.raises(EncodeError, match=r"keep\.wav"):
        write_wav(dest, np.full((10, 2), np.nan, np.float32), FS)
    assert dest.read_bytes() == b"old"
    with pytest.raises(EncodeError, match="missing"):
        write_wav(tmp_path / "missing" / "a.wav", np.zeros((10, 2), np.float32), FS)
    assert leftovers(tmp_path) == []


def test_decode_resamples(tmp_path: Path) -> None:
    x = tone_bursts(2.0, fs=44100)
    decoded = decode_audio(write_wav(tmp_path / "a.wav", x, 44100), sample_rate=FS)
    assert decoded.shape[0] == pytest.approx(2.0 * FS, abs=64)
    assert lufs_ref(decoded) == pytest.approx(lufs_ref(x, 44100), abs=0.1)


def test_decode_rejects_non_audio(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(MediaError, match=r"notes\.mp3: cannot decode audio .*; check that the file"):
        decode_audio(text)
    with pytest.raises(MediaError, match="cannot decode audio"):
        decode_audio(tmp_path / "absent.wav")


def test_atomic_helpers(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    assert _atomic.atomic_write_text(target, "{}\n") == target
    assert target.read_text() == "{}\n"
    _atomic.atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    with pytest.raises(RuntimeError), _atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"\x00\x01"
    assert leftovers(tmp_path) == []
