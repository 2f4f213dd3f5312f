"""An edit's MP3 and AAC: the earlier encode's packets up to the edit, a fresh encoder's after it, decoded whole."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from mutagen.id3 import ID3

from media import snr, syllables, xing
from podforge.audio.export import Chapter, Tags, decode_audio, encode_mp3
from podforge.audio.splice import BLOCK, Previous, block_hashes, first_change
from podforge.audio.stream import as_reader
from podforge.bitstream import encode_audio_track
from podforge.encode import EncoderChoice, VideoSettings

RATE = 48_000
SECONDS = 24
EDIT = slice(14 * RATE, 15 * RATE)
SETTINGS = VideoSettings(320, 180, 25, 23, "ultrafast", encoder=EncoderChoice("libx264", "test"))
Audio = npt.NDArray[np.float32]


def speech_like(seed: int) -> Audio:
    """Harmonic syllables with envelopes and short silences, as mastered speech sounds to a codec."""
    rng = np.random.default_rng(seed)
    n = SECONDS * RATE
    t = np.arange(n) / RATE
    phase = np.cumsum(2 * np.pi * (130 + 30 * np.sin(2 * np.pi * 0.5 * t)) / RATE)
    voice = sum(np.sin(k * phase) / k for k in range(1, 12)) + 0.05 * rng.standard_normal(n)
    envelope = syllables(rng, n, RATE, length=(0.15, 0.4), level=(0.4, 1.0), gap=(0.05, 0.3))
    mono = (0.3 * voice * envelope).astype(np.float32)
    return np.stack([mono, 0.9 * mono], axis=1)


@pytest.fixture(scope="module")
def audio() -> tuple[Audio, Audio]:
    """An episode and the same with a second in the middle changed (louder, as a new take would be)."""
    x = speech_like(5)
    edited = x.copy()
    edited[EDIT] *= np.float32(1.3)
    return x, edited


def test_first_change_finds_the_edited_block(audio) -> None:
    x, edited = audio
    changed = first_change(block_hashes(as_reader(x, RATE)), len(x), block_hashes(as_reader(edited, RATE)), len(x))
    assert changed == EDIT.start // BLOCK * BLOCK
    assert first_change(block_hashes(as_reader(x, RATE)), len(x), block_hashes(as_reader(x, RATE)), len(x)) == len(x)
    shorter = block_hashes(as_reader(x[: 10 * RATE], RATE))
    assert first_change(block_hashes(as_reader(x, RATE)), len(x), shorter, 10 * RATE) == 10 * RATE // BLOCK * BLOCK


def test_a_spliced_mp3_decodes_like_a_single_pass_of_the_edited_audio(audio, tmp_path: Path) -> None:
    x, edited = audio
    chapters = [Chapter("One", 0.0, 12.0), Chapter("Two", 12.0, float(SECONDS))]
    first = encode_mp3(tmp_path / "first.mp3", as_reader(x, RATE), bitrate=192_000)
    assert first.reused_packets == 0 and first.encoded_frames == len(x)
    previous = Previous(tmp_path / "first.mp3", EDIT.start // BLOCK * BLOCK)
    spliced = encode_mp3(tmp_path / "spliced.mp3", as_reader(edited, RATE), bitrate=192_000, tags=Tags("Edited"),
                         chapters=chapters, previous=previous)  # fmt: skip
    encode_mp3(tmp_path / "single.mp3", as_reader(edited, RATE), bitrate=192_000)
    # Everything before the edit's block, less a few frames, was copied; only the rest was encoded.
    assert spliced.reused_packets * 1152 > EDIT.start - BLOCK - 8 * 1152
    assert spliced.encoded_frames < len(x) - EDIT.start + BLOCK + 16 * 1152
    out, ref = decode_audio(tmp_path / "spliced.mp3"), decode_audio(tmp_path / "single.mp3")
    assert out.shape == edited.shape  # exact length: the delay and padding in the header are right
    assert xing(tmp_path / "spliced.mp3") == xing(tmp_path / "single.mp3")
    assert snr(edited, out) == pytest.approx(snr(edited, ref), abs=0.5) and snr(edited, out) > 25
    # No click at the splice: the error around it is no larger than the codec's error elsewhere.
    seam = spliced.reused_packets * 1152 - 1105
    error = np.abs(out - edited).max(axis=1)
    far = np.abs(np.arange(len(x)) - seam) > 4000
    assert error[seam - 2000 : seam + 2000].max() <= 1.5 * error.max(initial=0, where=far)
    id3 = ID3(tmp_path / "spliced.mp3")
    assert str(id3["TIT2"]) == "Edited" and len(id3.getall("CHAP")) == 2


def aac_decoded(path: Path) -> Audio:
    with av.open(str(path)) as container:
        parts = [frame.to_ndarray() for frame in container.decode(audio=0)]
    planar = np.concatenate(parts, axis=1)
    return np.ascontiguousarray(planar.reshape(-1, 2) if planar.shape[0] == 1 else planar.T)


def test_a_spliced_aac_track_decodes_like_a_single_pass_of_the_edited_audio(audio, tmp_path: Path) -> None:
    x, edited = audio
    encode_audio_track(tmp_path / "first.mp4", SETTINGS, x, RATE)
    previous = Previous(tmp_path / "first.mp4", EDIT.start // BLOCK * BLOCK)
    spliced = encode_audio_track(tmp_path / "spliced.mp4", SETTINGS, edited, RATE, previous=previous)
    encode_audio_track(tmp_path / "single.mp4", SETTINGS, edited, RATE)
    assert spliced.reused_packets * 1024 > EDIT.start - BLOCK - 8 * 1024
    out, ref = aac_decoded(tmp_path / "spliced.mp4"), aac_decoded(tmp_path / "single.mp4")
    assert out.shape == ref.shape
    with av.open(str(tmp_path / "spliced.mp4")) as a, av.open(str(tmp_path / "single.mp4")) as b:
        assert a.streams.audio[0].duration == b.streams.audio[0].duration
    assert len(out) >= len(x)  # the edit list trims the encoder's delay: sample k decodes at k
    got, want = out[: len(x)], ref[: len(x)]
    assert snr(edited, got) == pytest.approx(snr(edited, want), abs=1.0) and snr(edited, got) > 30
    seam = spliced.reused_packets * 1024 - 1024
    error = np.abs(got - edited).max(axis=1)
    far = np.abs(np.arange(len(x)) - seam) > 4000
    assert error[seam - 2000 : seam + 2000].max() <= 1.5 * error.max(initial=0, where=far)


def test_an_unreadable_previous_file_means_encoding_it_all(audio, tmp_path: Path) -> None:
    x, _ = audio
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not an mp3 at all " * 500)
    spliced = encode_mp3(tmp_path / "out.mp3", as_reader(x, RATE), bitrate=192_000, previous=Previous(junk, 10 * RATE))
    assert spliced.reused_packets == 0 and spliced.encoded_frames == len(x)
    assert decode_audio(tmp_path / "out.mp3").shape == x.shape
