"""Lip-sync measurement of a rendered episode: mouth opening per frame against the speech envelope.

Faces are found in every frame with the same landmark model the photo avatar
uses (MediaPipe FaceMesh), the inner-lip gap is normalised by face height,
and each face's opening is correlated with the loudness of the sound under
each frame (RMS over the frame's own duration) at lags of ±200 ms; the best
lag is the audio-video offset. With the episode's timeline next to the video,
each face is scored only while its speaker talks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .audio.dsp import RunningPower
from .errors import MediaError
from .timeline import SpeechSegment, Timeline

MAX_LAG_MS = 200
MIN_FRAMES = 25


@dataclass(frozen=True)
class FaceSync:
    index: int
    speaker: str
    correlation: float
    offset_ms: float
    frames: int

    def line(self) -> str:
        lead = "video leads" if self.offset_ms > 0 else "video lags" if self.offset_ms < 0 else "in sync"
        return (
            f"face {self.index + 1} ({self.speaker}): correlation {self.correlation:.2f}, "
            f"offset {self.offset_ms:+.0f} ms ({lead}) over {self.frames} frames"
        )


class Loudness:
    """RMS of the mix over spans given in seconds; the part of a span outside the audio counts as silence."""

    def __init__(self, audio: npt.NDArray[np.float32], rate: int) -> None:
        self.power = RunningPower(audio)
        self.rate = rate

    def over(self, starts: npt.NDArray[np.float64], seconds: float) -> npt.NDArray[np.float64]:
        """RMS over ``[start, start + seconds)`` for each start, in seconds."""
        begin = np.round(starts * self.rate).astype(np.int64)
        end = np.round((starts + seconds) * self.rate).astype(np.int64)
        return np.sqrt(self.power.energy(begin, end) / max(round(seconds * self.rate), 1))


def _regions(width: int, height: int, faces: int) -> list[tuple[slice, slice]]:
    """Where to look for each face: two hosts sit side by side (or stacked in a vertical video)."""
    if faces <= 1:
        return [(slice(0, height), slice(0, width))]
    if width >= height:
        step = width // faces
        return [(slice(0, height), slice(i * step, (i + 1) * step)) for i in range(faces)]
    step = height // faces
    return [(slice(i * step, (i + 1) * step), slice(0, width)) for i in range(faces)]


def mouth_tracks(video: Path, faces: int = 2) -> tuple[list[npt.NDArray[np.float64]], float]:
    """Per face region, the mouth opening in every frame (NaN where no face was found); and the fps."""
    import av

    from .visuals.avatars._landmarks import landmarks_of, mouth_opening, native_logs_muted, new_face_mesh

    rows: list[list[float]] = []
    try:
        with av.open(str(video)) as container, native_logs_muted():
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 25)
            regions = _regions(stream.codec_context.width, stream.codec_context.height, faces)
            meshes = [new_face_mesh(static=False) for _ in regions]  # one per face: each tracks its own
            for frame in container.decode(stream):
                rgb = np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)
                found = [landmarks_of(rgb[r], mesh) for mesh, r in zip(meshes, regions, strict=True)]
                rows.append([mouth_opening(lm) if lm is not None else np.nan for lm in found])
    except av.error.FFmpegError as exc:
        raise MediaError(f"{video.name}: cannot decode the video ({exc})") from exc
    table = np.array(rows, np.float64).reshape(len(rows), len(regions))
    return [table[:, i] for i in range(table.shape[1])], fps


def best_lag(
    opening: npt.NDArray[np.float64], loudness: Loudness, fps: float, mask: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """(correlation, offset ms): positive offset means the mouth moves before the sound.

    Each frame is held on screen for 1/fps, so it is compared with the sound over that same span, moved by
    the lag: a shorter window would add the loudness of single pitch periods the picture cannot show.
    """
    frame_starts = np.arange(len(opening)) / fps
    usable = mask & np.isfinite(opening)
    best = (-1.0, 0.0)
    if usable.sum() < MIN_FRAMES or np.std(opening[usable]) == 0:
        return best
    for lag_ms in range(-MAX_LAG_MS, MAX_LAG_MS + 1, 5):
        sound = loudness.over(frame_starts + lag_ms / 1000, 1 / fps)
        if np.std(sound[usable]) == 0:
            continue
        r = float(np.corrcoef(opening[usable], sound[usable])[0, 1])
        if r > best[0]:
            best = (r, float(lag_ms))
    return best


def _speaker_masks(
    timeline: Timeline | None, n_frames: int, fps: float, faces: int
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """Which frames to score for each face: its speaker's lines (speakers sit left to right in order)."""
    if timeline is None:
        return [(f"face {i + 1}", np.ones(n_frames, bool)) for i in range(faces)]
    masks = []
    for label in list(timeline.speakers)[:faces]:
        mask = np.zeros(n_frames, bool)
        for seg in timeline.of_kind(SpeechSegment):
            if seg.speaker == label:
                start, end = seg.start / timeline.sample_rate * fps, seg.end / timeline.sample_rate * fps
                mask[int(start) : int(np.ceil(end))] = True
        masks.append((label, mask))
    return masks


def sync_report(video: Path, timeline: Timeline | None = None) -> list[FaceSync]:
    from .audio.export import decode_audio

    loudness = Loudness(decode_audio(video, 48_000), 48_000)
    faces = min(2, len(timeline.speakers)) if timeline is not None else 2
    tracks, fps = mouth_tracks(video, faces)
    if not any(np.isfinite(track).any() for track in tracks):
        raise MediaError(f"{video.name}: no face found in any frame; sync-report needs visible avatar faces")
    report = []
    for index, (track, (speaker, mask)) in enumerate(
        zip(tracks, _speaker_masks(timeline, len(tracks[0]), fps, len(tracks)), strict=False)
    ):
        correlation, offset = best_lag(track, loudness, fps, mask)
        report.append(FaceSync(index, speaker, correlation, offset, int((mask & np.isfinite(track)).sum())))
    return report
