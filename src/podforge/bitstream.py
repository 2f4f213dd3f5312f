"""Video chunks encoded on their own and joined without re-encoding.

    encode_chunk(part, settings, frames)             # video-only MP4: closed GOPs, starting on an IDR frame
    encode_audio_track(track, settings, audio)       # the whole AAC track, made while the chunks are drawn
    join_chunks(path, settings, parts, track, n)     # the parts' packets, re-timed, + the AAC packets, faststart

Each part is a fresh encoder session with the render's encoder and parameters (``encode._codec_options``), so
its first frame is an IDR frame and no frame refers across a part boundary; every part carries the same
SPS/PPS, which lets the joined file keep the first part's as its only ones. Packets are copied, never decoded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from ._atomic import atomic_path
from ._yuv import Drawn, YuvFrames
from .audio.splice import Previous, Spliced, encode_spliced
from .audio.stream import AudioReader, as_reader
from .encode import _AV_ERRORS, AUDIO_RATE, VideoSettings, _add_audio, _add_video, _check_audio
from .errors import EncodeError


@contextlib.contextmanager
def _wrapped(path: Path, what: str) -> Iterator[None]:
    try:
        yield
    except _AV_ERRORS as exc:
        raise EncodeError(f"{path}: {what} failed: {exc}") from exc


def encode_chunk(
    path: str | os.PathLike[str], settings: VideoSettings, frames: Iterable[npt.NDArray[np.uint8] | Drawn]
) -> int:
    """Encode ``frames`` (RGB24, any count >= 1) as a video-only MP4 at ``path``; returns the frame count.

    ``Drawn`` frames say where each changed since the one before, and only that is converted to YUV."""
    dest = Path(path)
    shape = (settings.height, settings.width, 3)
    count = 0
    with atomic_path(dest) as tmp, _wrapped(dest, f"encoding a chunk with {settings.encoder.name}"):
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            stream = _add_video(container, settings)
            converter = YuvFrames(settings.width, settings.height)
            for item in frames:
                drawn = item if isinstance(item, Drawn) else Drawn(item)
                frame = drawn.pixels
                if frame.shape != shape or frame.dtype != np.uint8:
                    raise EncodeError(f"{dest}: frame {count} is {frame.shape} {frame.dtype}; expected {shape} uint8")
                yuv = converter.convert(drawn)
                yuv.pts = count
                container.mux(stream.encode(yuv))
                count += 1
            if count == 0:
                raise EncodeError(f"{dest}: a chunk needs at least one frame")
            container.mux(stream.encode(None))
        finally:
            container.close()
    return count


def encode_audio_track(
    path: str | os.PathLike[str], settings: VideoSettings, audio: npt.NDArray[np.float32] | AudioReader,
    audio_rate: int = AUDIO_RATE, previous: Previous | None = None,
) -> Spliced:  # fmt: skip
    """The episode's AAC track alone (an audio-only MP4), made while the chunks are drawn elsewhere; ``audio`` is
    (n, 2) stereo or a reader of it, read ten seconds at a time. With ``previous`` (an earlier track of the same
    settings and where the audio changed), its packets before the change are copied (``audio/splice.py``)."""
    dest = Path(path)
    reader = as_reader(audio if not isinstance(audio, np.ndarray) else _check_audio(dest, audio), audio_rate)
    if reader.channels != 2 or reader.frames == 0:
        raise EncodeError(f"{dest}: audio must be stereo with at least one sample; got {reader.channels} channels, "
                          f"{reader.frames} frames")  # fmt: skip

    def frame_at(start: int, stop: int, pts: int) -> av.AudioFrame:
        part = np.ascontiguousarray(reader.read(start, stop))
        frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate, frame.time_base, frame.pts = audio_rate, Fraction(1, audio_rate), pts
        return frame

    with atomic_path(dest) as tmp, _wrapped(dest, "encoding the AAC track"):
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            # ten seconds at a time: no second copy of the whole episode
            return encode_spliced(container, _add_audio(container, settings), reader.frames, frame_at,
                                  audio_rate * 10, previous)  # fmt: skip
        finally:
            container.close()


class _Joiner:
    """The output container while parts are appended: video and audio packets copied, interleaved by time."""

    def __init__(self, container: OutputContainer, fps: int, video: VideoStream, sound: InputContainer) -> None:
        self.container, self.fps = container, fps
        self.video = cast(VideoStream, container.add_stream_from_template(video))
        self.sound = sound.streams.audio[0]
        self.audio = container.add_stream_from_template(self.sound)
        self.packets = (p for p in sound.demux(self.sound) if p.pts is not None)
        self.frames = 0

    def append(self, source: InputContainer) -> None:
        stream = source.streams.video[0]
        tick = stream.time_base
        if tick is None:
            raise EncodeError("a video chunk has no time base")
        step = Fraction(1, self.fps)
        count = 0
        for packet in source.demux(stream):
            if packet.pts is None or packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            # Chunk times are whole frames from the chunk's own start; move them to its place in the episode.
            pts, dts = (round(v * tick / step) + self.frames for v in (packet.pts, packet.dts))
            packet.stream = self.video
            packet.time_base = step
            packet.pts, packet.dts, packet.duration = pts, dts, 1
            self.container.mux(packet)
            count += 1
        self.frames += count

    def send_audio(self, until: Fraction | None) -> None:
        """Audio packets up to ``until`` seconds (all that are left for None), so the two streams interleave."""
        tick = self.sound.time_base
        assert tick is not None
        for packet in self.packets:
            packet.stream = self.audio
            self.container.mux(packet)
            if until is not None and packet.pts is not None and packet.pts * tick >= until:
                return


def join_chunks(
    path: str | os.PathLike[str], settings: VideoSettings, parts: Sequence[Path], audio_track: Path, frames: int
) -> int:
    """Write ``parts`` back to back with the AAC of ``audio_track`` as one faststart MP4; returns the frame count.

    The parts must hold ``frames`` frames in all: those that cover the audio (ceil(seconds * fps)), as one pass.
    """
    dest = Path(path)
    if not parts:
        raise EncodeError(f"{dest}: no video chunks to join")
    with atomic_path(dest) as tmp, _wrapped(dest, "joining the video chunks"), av.open(str(audio_track)) as sound:
        container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            with av.open(str(parts[0])) as first:
                joiner = _Joiner(container, settings.fps, first.streams.video[0], sound)
            for part in parts:
                with av.open(str(part)) as source:
                    joiner.append(source)
                joiner.send_audio(Fraction(joiner.frames, settings.fps))
            if joiner.frames != frames:
                raise EncodeError(f"{dest}: the chunks hold {joiner.frames} frames; the audio needs {frames}")
            joiner.send_audio(None)
        finally:
            container.close()  # writes the index, then moves it to the front (faststart)
    return frames


def frames_needed(samples: int, fps: int, audio_rate: int = AUDIO_RATE) -> int:
    """ceil(audio seconds * fps): the frame count that covers the audio, no more (as ``VideoWriter``)."""
    return -(-samples * fps // audio_rate)
