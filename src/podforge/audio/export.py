"""Finished audio out (MP3 with ID3v2.4 tags and chapters, 24-bit WAV) and any audio file in.

Every writer is atomic: it works on a temporary file next to the destination and renames it into
place only when complete, so a failed export never leaves a truncated file or clobbers a good one.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from av.audio.codeccontext import AudioCodecContext
from mutagen import MutagenError
from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TDRC,
    TIT2,
    TPE1,
    CTOCFlags,
    Encoding,
    Frame,
    ID3NoHeaderError,
    PictureType,
)

from podforge._atomic import atomic_path
from podforge.errors import EncodeError, MediaError

from .splice import Previous, Spliced, encode_spliced
from .stream import AudioReader, as_reader, blocks

Audio = npt.NDArray[np.float32]
PathLike = str | os.PathLike[str]

_LAME_QUALITY = 5
_PUSH_SAMPLES = 1152 * 64  # PyAV re-frames these into LAME's 1152-sample frames
_WAV_CHUNK = 1 << 16
_MP3_RATES_MPEG1 = (32000, 44100, 48000)
_MP3_RATES_MPEG2 = (8000, 11025, 12000, 16000, 22050, 24000)
_MP3_KBPS_MPEG1 = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_KBPS_MPEG2 = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
# LAME's CBR/ABR presets scale the input by this (presets.c, abr_switch_map "scale") for decoder
# headroom; undoing it keeps the file at the loudness it was mastered to.
_LAME_SCALE = {192: 0.97, 224: 0.98, 256: 1.0, 320: 1.0}  # every other bitrate: 0.95
_NO_OFFSET = 0xFFFFFFFF  # CHAP byte offsets unused: players seek by time
_ENCODE_HINT = "check that the folder exists, is writable and has free space"
_DECODE_HINT = (
    "check that the file exists and is audio FFmpeg can read (mp3, wav, flac, ogg, m4a, ...); "
    "re-export it from your editor if it is damaged"
)


@dataclass(frozen=True)
class Tags:
    """ID3 text tags; empty strings are left out."""

    title: str
    artist: str = ""
    album: str = ""
    year: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Chapter:
    """One podcast chapter, written as an ID3 CHAP frame."""

    title: str
    start_seconds: float
    end_seconds: float


def _reader(samples: npt.ArrayLike | AudioReader, sample_rate: int) -> AudioReader:
    """(n,) or (n, channels) audio, or a reader of it, as a reader of mono or stereo frames."""
    reader = as_reader(samples, sample_rate)
    if reader.channels not in (1, 2):
        raise ValueError(f"audio must be shaped (n,), (n, 1) or (n, 2), got {(reader.frames, reader.channels)}")
    return reader


def _planar_blocks(reader: AudioReader, dest: Path, size: int) -> Iterator[tuple[int, Audio]]:
    """(first frame, (channels, n) float32) blocks, checked for what encoders choke on."""
    for start, block in blocks(reader, size):
        yield start, _planar(block, dest)


def _planar(block: Audio, dest: Path) -> Audio:
    if not np.isfinite(block).all():
        raise EncodeError(f"{dest}: audio contains NaN or infinite samples; the mix upstream is broken")
    return np.ascontiguousarray(block.T)


def _check_mp3_settings(dest: Path, sample_rate: int, bitrate: int) -> None:
    if sample_rate in _MP3_RATES_MPEG1:
        allowed = _MP3_KBPS_MPEG1
    elif sample_rate in _MP3_RATES_MPEG2:
        allowed = _MP3_KBPS_MPEG2
    else:
        raise EncodeError(f"{dest}: MP3 cannot store {sample_rate} Hz audio; resample to 48000 or 44100")
    if bitrate % 1000 or bitrate // 1000 not in allowed:
        choices = ", ".join(str(k * 1000) for k in allowed)
        raise EncodeError(f"{dest}: {bitrate} bit/s is not an MP3 bitrate at {sample_rate} Hz; use one of {choices}")


def _check_chapters(dest: Path, chapters: Sequence[Chapter]) -> None:
    previous_start = 0.0
    for i, ch in enumerate(chapters):
        if not 0.0 <= ch.start_seconds < ch.end_seconds < _NO_OFFSET / 1000.0:
            raise EncodeError(
                f"{dest}: chapter {i + 1} ({ch.title!r}) runs from {ch.start_seconds} s to "
                f"{ch.end_seconds} s; it must start at 0 s or later and end after it starts"
            )
        if ch.start_seconds < previous_start:
            raise EncodeError(f"{dest}: chapter {i + 1} ({ch.title!r}) starts before the previous chapter")
        previous_start = ch.start_seconds


def _encode_mp3(tmp: Path, dest: Path, reader: AudioReader, bitrate: int, previous: Previous | None) -> Spliced:
    layout, sample_rate = "mono" if reader.channels == 1 else "stereo", reader.rate
    unscale = np.float32(1.0 / _LAME_SCALE.get(bitrate // 1000, 0.95))

    def frame_at(start: int, stop: int, pts: int) -> av.AudioFrame:
        planar = _planar(reader.read(start, stop), dest)
        frame = av.AudioFrame.from_ndarray(planar * unscale, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = sample_rate, pts
        return frame

    with av.open(str(tmp), mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate, layout=layout)
        _set_up_lame(stream.codec_context, bitrate, reservoir=previous is None)
        second = av.CodecContext.create("libmp3lame", "w")
        assert isinstance(second, AudioCodecContext)
        second.sample_rate, second.layout = sample_rate, layout
        _set_up_lame(second, bitrate, reservoir=previous is None)
        return encode_spliced(container, stream, reader.frames, frame_at, _PUSH_SAMPLES, previous, second)


def _set_up_lame(context: AudioCodecContext, bitrate: int, *, reservoir: bool) -> None:
    context.bit_rate = bitrate  # a bit rate without VBR options makes LAME encode CBR
    context.format = "fltp"  # LAME works in float: no conversion on the way
    # LAME's -q 5: about a third faster than its default -q 3, inaudible at podcast bit rates. The bit reservoir
    # (a frame borrowing bytes from the frames before it: 7 dB more SNR on a real master) is off only for the
    # re-encode an edit splices in, whose dropped priming frames must lend nothing (splice.py).
    context.options = {"compression_level": str(_LAME_QUALITY), "reservoir": "1" if reservoir else "0"}


def _tag_frames(tags: Tags) -> list[Frame]:
    utf8 = Encoding.UTF8
    texts = [(TIT2, tags.title), (TPE1, tags.artist), (TALB, tags.album), (TDRC, tags.year)]
    frames: list[Frame] = [kind(encoding=utf8, text=[value]) for kind, value in texts if value]
    if tags.comment:
        frames.append(COMM(encoding=utf8, lang="eng", desc="", text=[tags.comment]))
    return frames


def _chapter_frames(chapters: Sequence[Chapter]) -> list[Frame]:
    ids = [f"chp{i}" for i in range(len(chapters))]
    frames: list[Frame] = [CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids)]
    for element_id, ch in zip(ids, chapters, strict=True):
        frames.append(
            CHAP(
                element_id=element_id,
                start_time=round(ch.start_seconds * 1000),
                end_time=round(ch.end_seconds * 1000),
                start_offset=_NO_OFFSET,
                end_offset=_NO_OFFSET,
                sub_frames=[TIT2(encoding=Encoding.UTF8, text=[ch.title])],
            )
        )
    return frames


def _write_id3(tmp: Path, tags: Tags | None, chapters: Sequence[Chapter], cover_jpeg: bytes) -> None:
    try:  # FFmpeg writes an ID3v2.4 header (encoder name); keep it and add ours
        id3 = ID3(tmp)
    except ID3NoHeaderError:
        id3 = ID3()
    for key in ("CHAP", "CTOC", "APIC"):
        id3.delall(key)
    frames = (_tag_frames(tags) if tags else []) + _chapter_frames(chapters)
    if cover_jpeg:
        frames.append(APIC(encoding=Encoding.UTF8, mime="image/jpeg", type=PictureType.COVER_FRONT, desc="Cover",
                           data=cover_jpeg))  # fmt: skip
    for frame in frames:
        id3.add(frame)
    id3.save(tmp, v2_version=4)


def write_mp3(
    path: PathLike,
    samples: npt.ArrayLike | AudioReader,
    sample_rate: int,
    *,
    bitrate: int = 192_000,
    tags: Tags | None = None,
    chapters: Sequence[Chapter] = (),
    cover_jpeg: bytes = b"",
) -> Path:
    """Encode CBR MP3 with LAME and tag it (ID3v2.4: title, artist, album, year, comment,
    chapters as CHAP frames chp0, chp1, ... under an ordered top-level CTOC ``toc``, and
    ``cover_jpeg`` as the front-cover APIC frame).

    ``samples`` is (n,) mono or (n, 2) stereo float32 in [-1, 1], or a reader of it (encoded by blocks).
    Writes atomically; raises EncodeError, leaving any existing file at ``path`` as it was, when anything fails.
    """
    dest = Path(path)
    encode_mp3(dest, _reader(samples, sample_rate), bitrate=bitrate, tags=tags, chapters=chapters,
               cover_jpeg=cover_jpeg)  # fmt: skip
    return dest


def encode_mp3(
    dest: Path, reader: AudioReader, *, bitrate: int, tags: Tags | None = None, chapters: Sequence[Chapter] = (),
    cover_jpeg: bytes = b"", previous: Previous | None = None,
) -> Spliced:  # fmt: skip
    """``write_mp3`` of a reader, copying the packets of ``previous`` (an earlier encode of the same settings)
    before the point where the audio changed (``splice.py``); says how much it copied and encoded."""
    _check_mp3_settings(dest, reader.rate, bitrate)
    _check_chapters(dest, chapters)
    try:
        with atomic_path(dest) as tmp:
            spliced = _encode_mp3(tmp, dest, reader, bitrate, previous)
            if tags or chapters or cover_jpeg:
                _write_id3(tmp, tags, chapters, cover_jpeg)
    except (av.FFmpegError, OSError, ValueError, MutagenError) as exc:
        raise EncodeError(f"{dest}: cannot write MP3 ({exc}); {_ENCODE_HINT}") from exc
    return spliced


def write_wav(path: PathLike, samples: npt.ArrayLike | AudioReader, sample_rate: int) -> Path:
    """Write 24-bit PCM WAV atomically (from an array or a reader, by blocks); samples beyond [-1, 1] are clipped.
    Raises EncodeError."""
    dest = Path(path)
    reader = _reader(samples, sample_rate)
    try:
        with atomic_path(dest) as tmp, wave.open(str(tmp), "wb") as out:
            out.setnchannels(reader.channels)
            out.setsampwidth(3)
            out.setframerate(sample_rate)
            for _, planar in _planar_blocks(reader, dest, _WAV_CHUNK):
                out.writeframes(_int24_bytes(planar))
    except (OSError, wave.Error) as exc:
        raise EncodeError(f"{dest}: cannot write WAV ({exc}); {_ENCODE_HINT}") from exc
    return dest


def _int24_bytes(planar: Audio) -> bytes:
    full_scale = 1 << 23
    ints = np.clip(np.rint(planar.T * full_scale), -full_scale, full_scale - 1).astype("<i4", order="C")
    # little-endian int32 -> drop each sample's top byte; rows are frames, so this interleaves
    return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


#: What podforge decodes: past these a file is refused, not guessed at (a corrupt header often claims GHz).
MAX_SAMPLE_RATE = 384_000
MIN_SAMPLE_RATE = 8_000
MAX_CHANNELS = 8  # 7.1; 5.1 and 7.1 are downmixed to stereo by FFmpeg's standard matrix


def decode_audio(path: PathLike, sample_rate: int = 48000) -> Audio:
    """Decode any audio file FFmpeg reads to (n, 2) float32 at ``sample_rate``.

    Mono is copied to both channels at its own level; 3 to 8 channels (5.1, 7.1) are downmixed to
    stereo by FFmpeg. Raises MediaError, saying how to fix it, when the file cannot be read, is empty,
    or claims a sample rate or channel count no real recording has.
    """
    src = Path(path)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if src.is_file() and src.stat().st_size == 0:
        raise MediaError(f"{src}: the file is empty (0 bytes); {_DECODE_HINT}")
    try:
        with av.open(str(src)) as container:
            if not container.streams.audio:
                raise MediaError(f"{src}: has no audio stream; {_DECODE_HINT}")
            stream = container.streams.audio[0]
            _check_stream(src, stream.codec_context.sample_rate, stream.codec_context.channels)
            layout = "mono" if stream.codec_context.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
            parts = [out.to_ndarray() for frame in container.decode(stream) for out in resampler.resample(frame)]
            parts += [out.to_ndarray() for out in resampler.resample(None)]
    except av.error.InvalidDataError as exc:
        reason = "FFmpeg finds invalid data: damaged, cut short or not audio"
        raise MediaError(f"{src}: cannot decode audio ({reason}); {_DECODE_HINT}") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{src}: cannot decode audio ({exc}); {_DECODE_HINT}") from exc
    planar = np.concatenate(parts, axis=1) if parts else np.zeros((1, 0), dtype=np.float32)
    if planar.shape[1] == 0:
        raise MediaError(f"{src}: holds no audio samples (empty or cut short); {_DECODE_HINT}")
    return np.ascontiguousarray(np.stack([planar[0], planar[-1]], axis=1), dtype=np.float32)


def _check_stream(src: Path, rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise MediaError(
            f"{src}: sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz "
            "(a damaged header, or not audio); re-export it at 48000 Hz"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise MediaError(f"{src}: {channels} audio channels; podforge reads mono to 7.1: re-export it as stereo")
