"""Talking heads from SadTalker or Wav2Lip for the photo avatars: every line rendered once, cached, composited.

With ``avatar: {engine: sadtalker, checkout: ~/SadTalker}`` in the front matter (or the render config),
each speaker whose avatar is a photo is animated by that tool instead of podforge's own landmark
animation. For each such speaker, the lines not yet in the cache are joined into one 16 kHz WAV (each
padded to whole frames, so the tool's video can be cut back exactly), the tool runs once on it through
:class:`~.external.ExternalAvatar` (argument list, GPU environment, no shell), and the video is cut into
one square MP4 per line, cached under the hash of (tool, settings, portrait bytes, the line's clip). The
video stage then shows, during each line, that line's frames in the speaker's tile (``tiles.TalkingArt``)
and the portrait between lines. A tool that fails is an EngineError carrying the tool's own last
output, unless ``avatar.fallback`` (``--avatar-fallback``) names what the speaker gets instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ...audio.dsp import resample
from ...cache import ContentCache, content_key
from ...config import AvatarEngineConfig
from ...errors import EngineError, RenderError
from ...timeline import SpeechSegment, Timeline
from ...voices.synth import CLIP_KIND
from .. import cards
from ..layouts import speech
from .external import ExternalAvatar, ExternalAvatarConfig, GpuEnv

log = logging.getLogger(__name__)

KIND = "talking"
VERSION = "1"  # bump when the cut clips change for the same inputs
TOOL_FPS = 25  # SadTalker always writes 25 fps; Wav2Lip is told --fps 25 for a still portrait
TOOL_RATE = 16_000  # both tools resample their input to 16 kHz
# A tool that writes fewer frames than its audio needs would drift: allow a frame or two of rounding only.
SLACK_FRAMES = 2
UPSTREAM = {"sadtalker": "OpenTalker/SadTalker", "wav2lip": "Rudrabha/Wav2Lip"}


@dataclass(frozen=True)
class TalkingClip:
    """One line's cached talking-head video, placed at ``start`` (samples) for ``length`` samples."""

    start: int
    length: int
    key: str


@dataclass(frozen=True)
class TalkingTrack:
    portrait: Path
    clips: tuple[TalkingClip, ...]


@dataclass(frozen=True)
class TalkingHeads:
    """Per speaker, their lines' videos; ``fallbacks`` are speakers whose tool failed, with what they get."""

    tracks: dict[str, TalkingTrack]
    fallbacks: dict[str, str]
    reasons: dict[str, str]
    engine: str
    rendered: int = 0  # lines the tool rendered in this run
    cached: int = 0  # lines found in the cache

    def keys(self) -> dict[str, list[str]]:
        """What the episode video depends on (for its cache key)."""
        return {label: [c.key for c in track.clips] for label, track in self.tracks.items()} | {
            f"fallback:{label}": [kind] for label, kind in self.fallbacks.items()
        }


def tool_portrait(avatar: str, base_dir: Path) -> Path | None:
    """The portrait a talking-head tool animates for this avatar spec: a photo, never a drawing or a card."""
    _wanted, photo = cards.avatar_spec(avatar, base_dir)
    return photo


def render_talking_heads(
    timeline: Timeline, cache: ContentCache, cfg: AvatarEngineConfig, base_dir: Path, gpu: GpuEnv,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> TalkingHeads:  # fmt: skip
    """Run the tool for every photo speaker's uncached lines; raises EngineError unless ``cfg.fallback``."""
    tracks: dict[str, TalkingTrack] = {}
    fallbacks: dict[str, str] = {}
    reasons: dict[str, str] = {}
    counts = [0, 0]  # rendered, cached
    speakers = [(label, tool_portrait(info.avatar, base_dir)) for label, info in timeline.speakers.items()]
    todo = [(label, portrait) for label, portrait in speakers if portrait is not None]
    for done, (label, portrait) in enumerate(todo):
        on_progress(done, len(todo))
        lines = [seg for seg in speech(timeline) if seg.speaker == label]
        tool = _tool(cfg, base_dir, gpu)
        try:
            clips, rendered = _speaker_clips(lines, portrait, cache, cfg, tool, timeline.sample_rate)
            tracks[label] = TalkingTrack(portrait, clips)
            counts[0], counts[1] = counts[0] + rendered, counts[1] + len({c.key for c in clips}) - rendered
        except EngineError as exc:
            if cfg.fallback is None:
                raise EngineError(f"speaker {label}: {exc}", engine=cfg.engine) from exc
            fallbacks[label], reasons[label] = cfg.fallback, str(exc).splitlines()[0]
            log.warning("speaker %s: %s; showing the %s avatar instead", label, reasons[label], cfg.fallback)
    on_progress(len(todo), len(todo))
    return TalkingHeads(tracks, fallbacks, reasons, cfg.engine, *counts)


def check_talking_engine(cfg: AvatarEngineConfig, base_dir: Path) -> list[tuple[str, str]]:
    """(avatar key, problem) for a tool that cannot run as configured: checked before any synthesis."""
    if cfg.engine == "photo":
        return []
    name, upstream = ExternalAvatar(ExternalAvatarConfig(cfg.engine)).name, UPSTREAM[cfg.engine]
    if cfg.checkout is None:
        return [("engine", f"{name} needs avatar.checkout: the folder you cloned {upstream} into "
                 "(podforge never installs it)")]  # fmt: skip
    checkout = _resolve(base_dir, cfg.checkout)
    if not checkout.is_dir():
        return [("checkout", f"{name} checkout {checkout} does not exist; clone {upstream} there or fix the path")]
    if not (checkout / "inference.py").is_file():
        return [("checkout", f"{checkout} has no inference.py, so it is not a {name} checkout; clone {upstream}")]
    problems = []
    if cfg.python is not None and shutil.which(_python(cfg.python, base_dir)) is None:
        problems.append(("python", f"{cfg.python} is not an executable Python; set the python of {name}'s environment"))
    elif cfg.python is None and shutil.which("python") is None:
        problems.append(("engine", f"no `python` on PATH to run {name}; set avatar.python to its environment's python"))
    missing = [path for path in _weights(cfg, base_dir, checkout) if not path.is_file()]
    if missing:
        where = "checkpoint" if cfg.checkpoint else "checkout"
        shown = ", ".join(str(path) for path in missing)
        problems.append((where, f"{name} weights missing: {shown}; download them as {upstream}'s README says "
                         "(podforge never downloads weights)"))  # fmt: skip
    return problems


def _resolve(base_dir: Path, value: str) -> Path:
    return (base_dir / Path(value).expanduser()).resolve()


def _python(value: str, base_dir: Path) -> str:
    """A bare name is looked up on PATH; a path is relative to the script, like every other avatar path.

    Not resolved: a virtual environment's python is a symlink, and only under its own name does it find
    the environment's packages."""
    if "/" not in value and "\\" not in value:
        return value
    return os.path.abspath(base_dir / Path(value).expanduser())


def _weights(cfg: AvatarEngineConfig, base_dir: Path, checkout: Path) -> list[Path]:
    """The files the tool loads, where its own download instructions put them."""
    if cfg.engine == "sadtalker":
        # src/utils/init_path.py: the safetensors model of the chosen size, and the mapping net
        # that --preprocess full (which podforge passes) uses.
        folder = _resolve(base_dir, cfg.checkpoint) if cfg.checkpoint else checkout / "checkpoints"
        return [folder / f"SadTalker_V0.0.2_{cfg.size}.safetensors", folder / "mapping_00109-model.pth.tar"]
    detector = checkout / "face_detection" / "detection" / "sfd" / "s3fd.pth"
    if cfg.checkpoint:
        return [_resolve(base_dir, cfg.checkpoint), detector]
    gan, plain = checkout / "checkpoints" / "wav2lip_gan.pth", checkout / "checkpoints" / "wav2lip.pth"
    return [plain if plain.is_file() and not gan.is_file() else gan, detector]


def clip_key(cfg: AvatarEngineConfig, portrait_digest: str, clip: str) -> str:
    settings = cfg.model_dump(mode="json", exclude={"fallback", "timeout_s", "python"})
    return content_key(kind=KIND, version=VERSION, settings=settings, portrait=portrait_digest, clip=clip)


def _speaker_clips(
    lines: list[SpeechSegment], portrait: Path, cache: ContentCache, cfg: AvatarEngineConfig, tool: ExternalAvatar,
    rate: int,
) -> tuple[tuple[TalkingClip, ...], int]:  # fmt: skip
    """The speaker's lines as cached clips, and how many of them the tool had to render now."""
    digest = hashlib.sha256(portrait.read_bytes()).hexdigest()
    clips = tuple(TalkingClip(seg.start, seg.length, clip_key(cfg, digest, seg.clip)) for seg in lines)
    missing: dict[str, SpeechSegment] = {}
    for seg, clip in zip(lines, clips, strict=True):
        if cache.get_file(KIND, clip.key, ".mp4") is None:
            missing.setdefault(clip.key, seg)
    if missing:
        _render(missing, portrait, cache, tool, rate)
    return clips, len(missing)


def _tool(cfg: AvatarEngineConfig, base_dir: Path, gpu: GpuEnv) -> ExternalAvatar:
    def where(value: str | None) -> str | None:
        return None if value is None else str(_resolve(base_dir, value))

    extra: tuple[str, ...] = ()
    if cfg.engine == "sadtalker":
        extra = ("--size", str(cfg.size)) + (("--cpu",) if gpu.visible_devices == "" else ())
    else:
        extra = ("--fps", str(TOOL_FPS))
    python = _python(cfg.python, base_dir) if cfg.python else None
    config = ExternalAvatarConfig(
        cfg.engine, command=python, repo=where(cfg.checkout), checkpoint=where(cfg.checkpoint),  # type: ignore[arg-type]
        enhancer=cfg.enhancer, extra_args=extra + tuple(cfg.extra_args), gpu=gpu, timeout_s=cfg.timeout_s,
    )  # fmt: skip
    return ExternalAvatar(config)


def _render(
    missing: dict[str, SpeechSegment], portrait: Path, cache: ContentCache, tool: ExternalAvatar, rate: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="podforge-talking-") as tmp:
        folder = Path(tmp)
        audio = [_clip_audio(cache, seg) for seg in missing.values()]
        counts = _write_joined_wav(folder / "speech.wav", audio, rate)
        cutter = _Cutter(tool.render(portrait, folder / "speech.wav", folder / "out"), tool.name, sum(counts))
        for key, count in zip(missing, counts, strict=True):
            _write_clip(folder / "clip.mp4", cutter.take(count))
            cache.put_file(KIND, key, ".mp4", folder / "clip.mp4")


def _clip_audio(cache: ContentCache, seg: SpeechSegment) -> np.ndarray:
    audio = cache.get_array(CLIP_KIND, seg.clip)
    if audio is None:
        raise RenderError(f"clip {seg.clip} vanished from the cache during the render; render again")
    return np.asarray(audio, np.float32).reshape(-1)


def _write_joined_wav(path: Path, clips: list[np.ndarray], rate: int) -> list[int]:
    """Each clip at 16 kHz, padded with silence to whole frames, as 16-bit mono; the frames each one spans."""
    per_frame = TOOL_RATE // TOOL_FPS
    pieces, counts = [], []
    for audio in clips:
        pcm = resample(audio, rate, TOOL_RATE)
        frames = max(1, -(-len(pcm) // per_frame))
        pieces.append(np.pad(pcm, (0, frames * per_frame - len(pcm))))
        counts.append(frames)
    samples = np.clip(np.concatenate(pieces), -1.0, 1.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(TOOL_RATE)
        out.writeframes((samples * 32767.0).astype("<i2").tobytes())
    return counts


def square_crop(frame: np.ndarray) -> np.ndarray:
    """The centred square of a frame, with an even side (H.264 in yuv420p needs one)."""
    height, width = frame.shape[:2]
    side = min(height, width) // 2 * 2
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(frame[top : top + side, left : left + side])


class _Cutter:
    """Hands out the tool's frames in runs, one per line; a frame or two short at the end repeats the last."""

    def __init__(self, video: Path, name: str, needed: int) -> None:
        self._frames = (square_crop(f) for f in ExternalAvatar.frames(video, None))
        self._name, self._needed = name, needed
        self._last: np.ndarray | None = None
        self._short = 0

    def take(self, count: int) -> Iterator[np.ndarray]:
        for _ in range(count):
            frame = next(self._frames, None)
            if frame is None:
                self._short += 1
                if self._last is None or self._short > SLACK_FRAMES:
                    raise EngineError(
                        f"{self._name} wrote too few frames for its {self._needed / TOOL_FPS:.2f} s of speech "
                        f"(the lips would drift from the voice); check its output and settings",
                        engine=self._name.lower(),
                    )
                frame = self._last
            self._last = frame
            yield frame


def _write_clip(path: Path, frames: Iterator[np.ndarray]) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        stream = None
        for index, rgb in enumerate(frames):
            if stream is None:
                stream = container.add_stream("libx264", rate=TOOL_FPS, options={"crf": "16", "preset": "veryfast"})
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.codec_context.time_base = Fraction(1, TOOL_FPS)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        if stream is not None:
            container.mux(stream.encode(None))


class ClipFrames:
    """A speaker's talking-head frames for the episode's video frames, decoded in order and scaled to ``size``.

    ``index(i)`` says which (line, tool frame) video frame ``i`` shows, or None between lines (the caller
    shows the portrait). Frames are asked for in order while the episode is encoded, so each line's MP4 is
    decoded once, front to back; asking for an earlier frame reopens it.
    """

    def __init__(self, track: TalkingTrack, cache: ContentCache, samples: np.ndarray, rate: int, size: int) -> None:
        self.track, self.size = track, size
        self._paths = [cache.get_file(KIND, clip.key, ".mp4") for clip in track.clips]
        self._at = _frame_index(track.clips, samples, rate)
        self._open: tuple[int, Iterator[np.ndarray]] | None = None
        self._next = 0
        self._current: np.ndarray | None = None

    def index(self, i: int) -> tuple[int, int] | None:
        clip, frame = (int(v) for v in self._at[min(max(i, 0), len(self._at) - 1)])
        return None if clip < 0 else (clip, frame)

    def frame(self, clip: int, frame: int) -> np.ndarray:
        """Tool frame ``frame`` of line ``clip``; past the clip's end its last frame holds."""
        if self._open is None or self._open[0] != clip or frame < self._next - 1:
            path = self._paths[clip]
            if path is None:
                raise EngineError(f"talking-head clip {self.track.clips[clip].key} vanished from the cache")
            self._open, self._next, self._current = (clip, ExternalAvatar.frames(path, (self.size, self.size))), 0, None
        while self._next <= frame:
            decoded = next(self._open[1], None)
            if decoded is None:
                break
            self._current, self._next = decoded, self._next + 1
        if self._current is None:
            raise EngineError(f"talking-head clip {self.track.clips[clip].key} has no frames")
        return self._current


def _frame_index(clips: tuple[TalkingClip, ...], samples: np.ndarray, rate: int) -> np.ndarray:
    """Per video frame (start sample in ``samples``): (line index, tool frame), or (-1, 0) between lines."""
    out = np.zeros((len(samples), 2), np.int64)
    out[:, 0] = -1
    for k, clip in enumerate(clips):
        inside = (samples >= clip.start) & (samples < clip.start + clip.length)
        out[inside, 0] = k
        out[inside, 1] = (samples[inside] - clip.start) * TOOL_FPS // rate
    return out
