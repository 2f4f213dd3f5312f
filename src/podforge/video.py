"""The video stage: frames streamed from the timeline straight into the encoder.

No frame list is ever held: `render_frames` yields into `VideoWriter`, which
interleaves the mastered audio as the video advances. The finished MP4 is
cached under the hash of everything it is made from.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cache import ContentCache, content_key
from .config import VideoConfig
from .encode import VideoSettings, VideoWriter, select_encoder
from .timeline import Timeline

VIDEO_VERSION = "2"  # bump when frames change for the same inputs: cached MP4s are keyed on it
PROGRESS_EVERY = 25


@dataclass(frozen=True)
class VideoJob:
    timeline: Timeline
    video: VideoConfig
    base_dir: Path
    audio_key: str
    mastered: Callable[[], np.ndarray]

    def key(self, encoder: str) -> str:
        return content_key(
            kind="video",
            version=VIDEO_VERSION,
            audio=self.audio_key,
            timeline=self.timeline.to_json(),
            video=self.video.model_dump(mode="json"),
            # What was chosen, not only its value: a visualiser with no chosen position is placed by the layout.
            chosen=self.video.model_dump(mode="json", exclude_unset=True),
            encoder=encoder,
        )


def publish_video(
    path: Path, job: VideoJob, cache: ContentCache, on_frames: Callable[[int, int], None]
) -> dict[str, Any]:
    """Write the episode MP4 at `path`; returns what the metrics should record."""
    choice = select_encoder(job.video.encoder)
    key = job.key(choice.name)
    cached = cache.get_file("videos", key, ".mp4")
    if cached is not None:
        shutil.copyfile(cached, path)
        return {"encoder": choice.name, "encoder_reason": choice.reason, "cached": True}
    frames = _encode(path, job, choice, cache, on_frames)
    cache.put_file("videos", key, ".mp4", path)
    return {"encoder": choice.name, "encoder_reason": choice.reason, "cached": False, "frames": frames}


def _encode(path: Path, job: VideoJob, choice: Any, cache: ContentCache, on_frames: Callable[[int, int], None]) -> int:
    from .visuals.frames import plan_frames, render_frames
    from .visuals.visualizers import AudioFeatures

    video = job.video
    width, height = video.dimensions
    settings = VideoSettings(width, height, video.fps, video.crf, video.preset, encoder=choice)
    audio = job.mastered()
    plan = plan_frames(job.timeline, video, job.base_dir, cache=cache)
    features = AudioFeatures(audio, job.timeline.sample_rate, video.fps)
    with VideoWriter(path, settings, audio, job.timeline.sample_rate) as writer:
        total = writer.frames_needed
        for frame in render_frames(plan, features):
            writer.write(frame)
            if writer.frames_written % PROGRESS_EVERY == 0 or writer.frames_written == total:
                on_frames(writer.frames_written, total)
    return writer.frames_written
