"""Video chunks encoded on their own and joined without re-encoding.

    encode_chunk(part, settings, frames)           # video-only MP4: one closed GOP run, starting on an IDR frame
    join_chunks(path, settings, parts, audio)      # the parts' packets, re-timed, + the whole AAC track, faststart

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
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter
from av.video.stream import VideoStream

from ._atomic import atomic_path
from .encode import _AV_ERRORS, AUDIO_RATE, VideoSettings, _add_audio, _add_video, _check_audio
from .errors import EncodeError


@contextlib.contextmanager
def _wrapped(path: Path, what: str) -> Iterator[None]:
    try:
        yield
    except _AV_ERRORS as exc:
        raise EncodeError(f"{path}: {what} failed: {exc}") from exc


def encode_chunk(path: str | os.PathLike[str], settings: VideoSettings, frames: Iterable[npt.NDArray[np.uint8]]) -> int:
    """Encode ``frames`` (RGB24, any count >= 1) as a video-only MP4 at ``path``; returns the frame count."""
    dest = Path(path)
    shape = (settings.height, settings.width, 3)
    count = 0
    with atomic_path(dest) as tmp, _wrapped(dest, f"encoding a chunk with {settings.encoder.name}"):
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            stream = _add_video(container, settings)
            reformatter = VideoReformatter()
            for frame in frames:
                if frame.shape != shape or frame.dtype != np.uint8:
                    raise EncodeError(f"{dest}: frame {count} is {frame.shape} {frame.dtype}; expected {shape} uint8")
                rgb = av.VideoFrame.from_ndarray(frame, format="rgb24")
                yuv = reformatter.reformat(
                    rgb, format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
                )
                yuv.pts = count
                container.mux(stream.encode(yuv))
                count += 1
            if count == 0:
                raise EncodeError(f"{dest}: a chunk needs at least one frame")
            container.mux(stream.encode(None))
        finally:
            container.close()
    return count


class _Joiner:
    """The output container while parts are appended: video packets copied, audio encoded as the video advances."""

    def __init__(self, container: OutputContainer, settings: VideoSettings, template: VideoStream) -> None:
        self.container, self.fps = container, settings.fps
        self.video = cast(VideoStream, container.add_stream_from_template(template))
        self.sound: AudioStream = _add_audio(container, settings)
        self.frames = 0
        self.audio_sent = 0

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

    def send_audio(self, audio: npt.NDArray[np.float32], rate: int, until: int) -> None:
        start, end = self.audio_sent, min(until, len(audio))
        if end <= start:
            return
        frame = av.AudioFrame.from_ndarray(audio[start:end].reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = start
        self.container.mux(self.sound.encode(frame))
        self.audio_sent = end


def join_chunks(
    path: str | os.PathLike[str],
    settings: VideoSettings,
    parts: Sequence[Path],
    audio: npt.NDArray[np.float32],
    audio_rate: int = AUDIO_RATE,
) -> int:
    """Write ``parts`` back to back with ``audio`` as one faststart MP4 at ``path``; returns the frame count.

    The parts must hold exactly the frames that cover the audio (ceil(seconds * fps)), as one pass would.
    """
    dest = Path(path)
    samples = _check_audio(dest, audio)
    needed = -(-len(samples) * settings.fps // audio_rate)
    if not parts:
        raise EncodeError(f"{dest}: no video chunks to join")
    with atomic_path(dest) as tmp, _wrapped(dest, "joining the video chunks"):
        container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        try:
            with av.open(str(parts[0])) as first:
                joiner = _Joiner(container, settings, first.streams.video[0])
            for part in parts:
                with av.open(str(part)) as source:
                    joiner.append(source)
                joiner.send_audio(samples, audio_rate, -(-joiner.frames * audio_rate // settings.fps))
            if joiner.frames != needed:
                raise EncodeError(f"{dest}: the chunks hold {joiner.frames} frames; the audio needs {needed}")
            joiner.send_audio(samples, audio_rate, len(samples))
            container.mux(joiner.sound.encode(None))
        finally:
            container.close()  # writes the index, then moves it to the front (faststart)
    return needed
