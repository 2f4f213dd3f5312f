"""The one wrapper around PyAV video encoding: RGB frames + float audio in, a faststart MP4 out.

    choice = select_encoder("auto")                  # h264_nvenc if it really works here, else libx264
    settings = VideoSettings(1280, 720, encoder=choice)
    with VideoWriter(path, settings, audio) as writer:  # audio: (n, 2) float32 at 48 kHz
        for _ in range(writer.frames_needed):
            writer.write(rgb)                          # (720, 1280, 3) uint8

The file is H.264 High / yuv420p (BT.709, limited range, tagged) at a constant frame rate plus
AAC-LC stereo at 48 kHz, interleaved as it is written and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from av.video.stream import VideoStream

from ._atomic import atomic_path
from ._yuv import Drawn, YuvFrames
from .errors import EncodeError

NVENC = "h264_nvenc"
X264 = "libx264"
ENCODERS = (X264, NVENC)
AUDIO_RATE = 48_000
MIN_AUDIO_BITRATE = 192_000
_PROBE_SIZE = 256
_PROBE_FRAMES = 16
# NVENC has no CRF; its constant-quality CQ is derived from crf so the one setting still works on
# both encoders, with the default CRF 20 landing on the CQ 23 commonly used as NVENC's equivalent.
_NVENC_CQ_OFFSET = 3
# Errors PyAV raises for FFmpeg failures, bad files and bad arguments (FFmpegError subclasses both).
_AV_ERRORS = (av.FFmpegError, OSError, ValueError)


@dataclass(frozen=True)
class EncoderChoice:
    """Which H.264 encoder to use, and why (for logs and metrics: a silent CPU fallback is slow)."""

    name: str  # "h264_nvenc" | "libx264"
    reason: str
    device: int = 0  # the GPU NVENC runs on (NVML numbering)


def select_encoder(
    preference: str = "auto", *, probe: Callable[[str], bool] | None = None, device: int = 0
) -> EncoderChoice:
    """Pick the H.264 encoder: "auto" uses NVENC only when it passes a real test encode on GPU ``device``.

    ``probe(name)`` replaces that test encode (the GPU boundary) so tests can fake either answer;
    without it the result of the real test is cached for the life of the process.
    """
    if preference == X264:
        return EncoderChoice(X264, "libx264 requested")
    if preference not in ("auto", NVENC):
        raise EncodeError(f"unknown encoder {preference!r}; use auto, {X264} or {NVENC}")
    problem = _nvenc_problem(probe, device)
    if preference == NVENC:
        if problem:
            raise EncodeError(f"{NVENC} was requested but is not usable: {problem}")
        return EncoderChoice(NVENC, f"{NVENC} requested", device)
    if problem:
        return EncoderChoice(X264, problem)
    return EncoderChoice(NVENC, f"{NVENC} passed a test encode on GPU {device}", device)


def _nvenc_problem(probe: Callable[[str], bool] | None, device: int) -> str:
    """Why NVENC cannot be used here, or "" when it can."""
    if NVENC not in av.codecs_available:
        return "no NVIDIA encoder in this FFmpeg build"
    if probe is not None:
        return "" if probe(NVENC) else f"{NVENC} unavailable: the test encode failed"
    return _test_encode(NVENC, device)


@functools.cache
def _test_encode(name: str, device: int = 0) -> str:
    """Encode a few tiny frames with ``name``; "" on success, else the reason it failed.

    Being listed in ``av.codecs_available`` only means FFmpeg was built with the encoder: the
    driver, the GPU and a free NVENC session are only proven by opening and using it. The answer
    cannot change while the process runs, and each try costs ~0.1-1 s, hence the cache.
    """
    try:
        ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
        ctx.width = ctx.height = _PROBE_SIZE
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, 25)
        ctx.options = {"gpu": str(device)}
        planes = np.full((_PROBE_SIZE * 3 // 2, _PROBE_SIZE), 128, dtype=np.uint8)
        for index in range(_PROBE_FRAMES):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            ctx.encode(frame)
        ctx.encode(None)
    except _AV_ERRORS as exc:
        return f"{name} unavailable: {exc}"
    return ""


# Threads each video encoder in this process may use; 0 lets the encoder size its pool to the machine.
_THREADS = {"per_encoder": 0}


def share_cores(workers: int) -> None:
    """Say that this process is one of ``workers`` encoding at once on this machine (a chunk pool's worker).

    A pool with a worker per core already keeps every core busy; x264's own frame threads on top of it (three
    per encoder on two cores) only add lookahead hand-offs and cache contention, so each encoder gets its share
    of the cores. The bitstream changes a little (frame threads limit motion search), its SPS/PPS do not, so
    chunks from pools of any size join.
    """
    _THREADS["per_encoder"] = max(1, (os.cpu_count() or 1) // max(1, workers))


@dataclass(frozen=True)
class VideoSettings:
    """What to encode; ``encoder`` is keyword-only so it must be chosen deliberately."""

    width: int
    height: int
    fps: int = 25
    crf: int = 20
    preset: str = "veryfast"
    audio_bitrate: int = MIN_AUDIO_BITRATE
    encoder: EncoderChoice = field(kw_only=True)

    def __post_init__(self) -> None:
        # yuv420p stores one chroma sample per 2x2 block, so odd sizes cannot be encoded.
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise EncodeError(f"video size {self.width}x{self.height}: width and height must be even and positive")
        if self.fps <= 0:
            raise EncodeError(f"video frame rate {self.fps}: must be positive")
        if not 0 <= self.crf <= 51:
            raise EncodeError(f"crf {self.crf}: must be between 0 and 51")
        if self.audio_bitrate < MIN_AUDIO_BITRATE:
            raise EncodeError(f"audio bit rate {self.audio_bitrate}: must be at least {MIN_AUDIO_BITRATE} bit/s")
        if self.encoder.name not in ENCODERS:
            raise EncodeError(f"unknown encoder {self.encoder.name!r}; use {X264} or {NVENC}")


def _codec_options(settings: VideoSettings) -> dict[str, str]:
    if settings.encoder.name == NVENC:
        cq = min(51, settings.crf + _NVENC_CQ_OFFSET)
        return {"preset": "p4", "rc": "vbr", "cq": str(cq), "profile": "high", "gpu": str(settings.encoder.device)}
    options = {"crf": str(settings.crf), "preset": settings.preset, "profile": "high"}
    if settings.preset in _X264_TUNING:
        options["x264-params"] = _X264_TUNING[settings.preset]
    return options


# Our default preset with x264's quickest sub-pixel refinement (subme 1 for veryfast's 2): in the chunk pool, 11 %
# less CPU a frame (median of eight paired runs; 8.5 % in the last), files 2 % larger, and the same SSIM against a
# lossless encode of the same frames (Y 0.9974, U/V 0.994; bench/frame_pool.py, variants lossless stock t1).
# Only there: a user who names another preset asked for x264's own trade-off.
_X264_TUNING = {"veryfast": "subme=1"}


def _add_video(container: OutputContainer, settings: VideoSettings) -> VideoStream:
    stream = cast(
        VideoStream, container.add_stream(settings.encoder.name, rate=settings.fps, options=_codec_options(settings))
    )
    stream.width, stream.height = settings.width, settings.height
    stream.pix_fmt = "yuv420p"
    # Constant frame rate: one tick per frame, and pts is simply the frame index.
    stream.codec_context.time_base = Fraction(1, settings.fps)
    stream.time_base = Fraction(1, settings.fps)
    ctx = stream.codec_context
    ctx.thread_count = _THREADS["per_encoder"]
    # Tagging the matrix we convert with lets players undo it exactly instead of guessing.
    ctx.colorspace, ctx.color_range = Colorspace.ITU709, ColorRange.MPEG
    ctx.color_primaries, ctx.color_trc = ColorPrimaries.BT709, ColorTrc.BT709
    if settings.encoder.name == NVENC:
        ctx.bit_rate = 0  # NVENC's default 2 Mbit/s target would cap the constant-quality mode
    return stream


def _add_audio(container: OutputContainer, settings: VideoSettings) -> AudioStream:
    stream = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
    stream.bit_rate = settings.audio_bitrate
    # FFmpeg's "fast" coder: 2.4x less CPU than its default "twoloop" (an episode's track is re-encoded on every
    # render, edits included) with the same error against the source at our >= 192 kbit/s, where FFmpeg's own
    # documentation calls it the better of the two; twoloop only wins below 64 kbit/s. Left and right coded
    # apart (aac_ms 0): the per-band mid/side search was two thirds of the track's CPU (0.0226 against 0.0078 s
    # per second of a mastered episode), and the track stays 41 dB above its error, 11 dB cleaner than the
    # episode's own 192 kbit/s MP3 (30 dB), where the search gave 51 dB.
    stream.codec_context.options = {"profile": "aac_low", "aac_coder": "fast", "aac_ms": "0"}
    return stream


def _check_audio(path: Path, audio: npt.ArrayLike) -> npt.NDArray[np.float32]:
    samples = np.ascontiguousarray(audio, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] == 0:
        raise EncodeError(f"{path}: audio must be (samples, 2) stereo with at least one sample; got {samples.shape}")
    return samples


@dataclass(frozen=True)
class _Output:
    """The open container and its two streams, present only inside the writer's with block."""

    container: OutputContainer
    video: VideoStream
    sound: AudioStream


class VideoWriter:
    """Write exactly ``frames_needed`` RGB frames; audio is muxed alongside as the video advances.

    Use as a context manager. Nothing appears at ``path`` until the block ends without error;
    an existing file there is only replaced by a complete new one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        settings: VideoSettings,
        audio: npt.NDArray[np.float32],
        audio_rate: int = AUDIO_RATE,
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        if audio_rate <= 0:
            raise EncodeError(f"{self.path}: audio rate {audio_rate}: must be positive")
        self._audio = _check_audio(self.path, audio)
        self._audio_rate = audio_rate
        self._shape = (settings.height, settings.width, 3)
        self._frames = 0
        self._audio_sent = 0
        self._out: _Output | None = None
        self._yuv = YuvFrames(settings.width, settings.height)
        self._session: contextlib.AbstractContextManager[None] | None = None

    @property
    def frames_needed(self) -> int:
        """ceil(audio seconds * fps): the frame count that covers the audio, no more."""
        return -(-len(self._audio) * self.settings.fps // self._audio_rate)

    @property
    def frames_written(self) -> int:
        return self._frames

    def __enter__(self) -> VideoWriter:
        if self._session is not None:
            raise EncodeError(f"{self.path}: a VideoWriter can only be used once")
        self._session = self._run()
        self._session.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        assert self._session is not None, "__exit__ without __enter__"
        try:
            return self._session.__exit__(exc_type, exc, tb)
        finally:
            self._out = None

    def write(self, frame: npt.NDArray[np.uint8] | Drawn) -> None:
        """Encode one HxWx3 uint8 RGB frame, then the audio up to the end of that frame.

        A ``Drawn`` frame says where it changed since the one written before it; only that is converted to YUV.
        """
        drawn = frame if isinstance(frame, Drawn) else Drawn(frame)
        frame = drawn.pixels
        out = self._out
        if out is None:
            raise EncodeError(f"{self.path}: VideoWriter.write() called outside its with block")
        if frame.shape != self._shape or frame.dtype != np.uint8:
            raise EncodeError(
                f"{self.path}: frame {self._frames} is {frame.shape} {frame.dtype}; "
                f"expected {self._shape} uint8 (height, width, RGB)"
            )
        if self._frames >= self.frames_needed:
            raise EncodeError(
                f"{self.path}: frame {self._frames + 1} would run past the end of the audio; "
                f"write exactly frames_needed = {self.frames_needed} frames"
            )
        with self._wrapped():
            # Converting here rather than in the stream lets us pick BT.709, which we also tag.
            yuv = self._yuv.convert(drawn)
            yuv.pts = self._frames
            out.container.mux(out.video.encode(yuv))
            self._frames += 1
            # Keeping audio level with the video lets the muxer interleave with a small buffer.
            self._send_audio(out, -(-self._frames * self._audio_rate // self.settings.fps))

    @contextlib.contextmanager
    def _wrapped(self) -> Iterator[None]:
        try:
            yield
        except _AV_ERRORS as exc:
            raise EncodeError(f"{self.path}: encoding with {self.settings.encoder.name} failed: {exc}") from exc

    @contextlib.contextmanager
    def _run(self) -> Iterator[None]:
        saving = False
        try:
            with atomic_path(self.path) as tmp:
                out = self._open(tmp)
                try:
                    yield
                    self._finish(out)
                    with self._wrapped():
                        out.container.close()  # writes the index, then moves it to the front (faststart)
                except BaseException:
                    with contextlib.suppress(Exception):  # the first error is the one worth reporting
                        out.container.close()
                    raise
                saving = True
        except OSError as exc:
            if not saving:  # the caller's own OSError from inside the with block: not ours to wrap
                raise
            raise EncodeError(f"{self.path}: could not save the video: {exc}") from exc

    def _open(self, tmp: Path) -> _Output:
        with self._wrapped():
            # The temporary name does not end in .mp4, so the format is named explicitly.
            container = av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
            try:
                out = _Output(container, _add_video(container, self.settings), _add_audio(container, self.settings))
            except BaseException:
                container.close()
                raise
        self._out = out
        return out

    def _finish(self, out: _Output) -> None:
        needed = self.frames_needed
        if self._frames < needed:
            audio_seconds = len(self._audio) / self._audio_rate
            raise EncodeError(
                f"{self.path}: only {self._frames} of {needed} video frames were written "
                f"({self._frames / self.settings.fps:.3f} s of video for {audio_seconds:.3f} s of audio)"
            )
        with self._wrapped():
            out.container.mux(out.video.encode(None))
            self._send_audio(out, len(self._audio))
            out.container.mux(out.sound.encode(None))

    def _send_audio(self, out: _Output, until: int) -> None:
        start, end = self._audio_sent, min(until, len(self._audio))
        if end <= start:
            return
        # Packed float (n, 2) is one interleaved plane; the stream converts it to the AAC encoder's
        # planar format, the output rate and 1024-sample frames itself.
        frame = av.AudioFrame.from_ndarray(self._audio[start:end].reshape(1, -1), format="flt", layout="stereo")
        frame.sample_rate = self._audio_rate
        frame.time_base = Fraction(1, self._audio_rate)
        frame.pts = start
        out.container.mux(out.sound.encode(frame))
        self._audio_sent = end


def encode_frames(
    path: str | os.PathLike[str],
    settings: VideoSettings,
    frames: Iterable[npt.NDArray[np.uint8]],
    audio: npt.NDArray[np.float32],
    audio_rate: int = AUDIO_RATE,
) -> Path:
    """Write every frame of ``frames`` (e.g. a generator) with ``audio``; return the final path."""
    with VideoWriter(path, settings, audio, audio_rate) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path
