"""The video stage: frames streamed from the timeline straight into the encoder.

No frame list is ever held: `render_frames` yields into `VideoWriter`, which
interleaves the mastered audio as the video advances. The finished MP4 is
cached under the hash of everything it is made from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artwork import embedded_cover
from .cache import ContentCache, content_key
from .config import VideoConfig
from .encode import EncoderChoice, VideoSettings, VideoWriter, select_encoder
from .errors import ConfigError, EncodeError
from .outputs import file_digest
from .timeline import Timeline

if TYPE_CHECKING:
    from .visuals.avatars.talking import TalkingHeads

VIDEO_VERSION = "2"  # bump when frames change for the same inputs: cached MP4s are keyed on it
PROGRESS_EVERY = 25


@dataclass(frozen=True)
class VideoJob:
    timeline: Timeline
    video: VideoConfig
    base_dir: Path
    audio_key: str
    mastered: Callable[[], np.ndarray]
    encoder: EncoderChoice | None = None  # chosen with the GPU plan (see gpu.choose_encoder); None: "auto" here
    talking: TalkingHeads | None = None  # lines a SadTalker or Wav2Lip run rendered, per speaker
    window: tuple[float, float] | None = None  # a quick preview: only this stretch, in seconds

    def key(self, encoder: str) -> str:
        window = {"window": list(self.window)} if self.window else {}
        return content_key(
            **window,
            kind="video",
            version=VIDEO_VERSION,
            audio=self.audio_key,
            timeline=self.timeline.to_json(),
            video=self.video.model_dump(mode="json"),
            # What was chosen, not only its value: a visualiser with no chosen position is placed by the layout.
            chosen=self.video.model_dump(mode="json", exclude_unset=True),
            encoder=encoder,
            **({"cover": file_digest(self.cover)} if self.cover else {}),
            **({"talking": self.talking.keys()} if self.talking else {}),
        )

    @property
    def cover(self) -> Path | None:
        return self.base_dir / self.video.cover if self.video.cover else None


def publish_video(
    path: Path, job: VideoJob, cache: ContentCache, on_frames: Callable[[int, int], None]
) -> dict[str, Any]:
    """Write the episode MP4 at `path`; returns what the metrics should record."""
    choice = job.encoder or select_encoder(job.video.encoder)
    key = job.key(choice.name)
    if cache.copy_to("videos", key, ".mp4", path):
        return {"encoder": choice.name, "encoder_reason": choice.reason, "cached": True}
    frames = _encode(path, job, choice, cache, on_frames)
    if job.cover:
        tag_mp4_cover(path, embedded_cover(job.cover))
    cache.put_file("videos", key, ".mp4", path)
    return {"encoder": choice.name, "encoder_reason": choice.reason, "cached": False, "frames": frames}


def _encode(path: Path, job: VideoJob, choice: Any, cache: ContentCache, on_frames: Callable[[int, int], None]) -> int:
    from .visuals.frames import plan_frames, render_frames
    from .visuals.visualizers import AudioFeatures

    video = job.video
    width, height = video.dimensions
    settings = VideoSettings(width, height, video.fps, video.crf, video.preset, encoder=choice)
    audio = job.mastered()
    plan = plan_frames(job.timeline, video, job.base_dir, cache=cache, talking=job.talking)
    features = AudioFeatures(audio, job.timeline.sample_rate, video.fps)
    first, audio = _window(job, audio, plan.n_frames)
    with VideoWriter(path, settings, audio, job.timeline.sample_rate) as writer:
        total = writer.frames_needed
        frames = render_frames(plan, features) if job.window is None else _frames_from(plan, features, first, total)
        for frame in frames:
            writer.write(frame)
            if writer.frames_written % PROGRESS_EVERY == 0 or writer.frames_written == total:
                on_frames(writer.frames_written, total)
    return writer.frames_written


def tag_mp4_cover(path: Path, jpeg: bytes) -> None:
    """Add ``jpeg`` as the MP4's cover art (``covr``) after the mux.

    Done here rather than in the encoder: mutagen rewrites the ``moov`` box in place and moves the chunk
    offsets with it, so the fast-start layout survives; ``path`` is a staged file, so a failure leaves no
    half-tagged video where the user looks.
    """
    from mutagen import MutagenError
    from mutagen.mp4 import MP4, MP4Cover

    try:
        mp4 = MP4(path)
        mp4["covr"] = [MP4Cover(jpeg, imageformat=MP4Cover.FORMAT_JPEG)]
        mp4.save()
    except (MutagenError, OSError) as exc:
        raise EncodeError(f"{path.name}: cannot add the cover art ({exc}); check free disk space") from exc


def check_window(window: tuple[float, float]) -> None:
    start, end = window
    if not (0 <= start < end):
        raise ConfigError(f"preview {start:g}-{end:g} s: give a start before the end, both 0 or more seconds")


def _window(job: VideoJob, audio: np.ndarray, n_frames: int) -> tuple[int, np.ndarray]:
    """(first frame, the audio under the frames) of the preview window; the whole episode without one."""
    if job.window is None:
        return 0, audio
    rate, fps = job.timeline.sample_rate, job.video.fps
    # Every frame that shows some of the window; the epsilon keeps 2.2 s * 25 fps at 55 frames, not 56.
    first = max(0, min(math.floor(job.window[0] * fps + 1e-6), n_frames - 1))
    last = max(first + 1, min(math.ceil(job.window[1] * fps - 1e-6), n_frames))
    return first, audio[first * rate // fps : last * rate // fps]


def _frames_from(plan: Any, features: Any, first: int, count: int) -> Iterator[np.ndarray]:
    from .visuals.frames import FrameRenderer

    renderer = FrameRenderer(plan, features)
    for i in range(first, first + count):
        yield renderer.draw(min(i, plan.n_frames - 1))
