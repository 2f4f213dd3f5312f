"""Lip-sync measurement of a rendered episode: mouth opening per frame against the speech envelope.

Faces are found in every frame with the same landmark model the photo avatar
uses (MediaPipe FaceMesh), the inner-lip gap is normalised by face height,
and each face's opening is correlated with the audio's loudness envelope at
lags of ±200 ms; the best lag is the audio-video offset. With the episode's
timeline next to the video, each face is scored only while its speaker talks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .errors import MediaError
from .timeline import SpeechSegment, Timeline

ENVELOPE_RATE = 100  # 10 ms hops
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


def speech_envelope(audio: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    """RMS loudness of the mono mix in 10 ms hops."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    hop = rate // ENVELOPE_RATE
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def mouth_tracks(video: Path, faces: int = 2) -> tuple[list[npt.NDArray[np.float64]], float]:
    """Per face (ordered left to right), the mouth opening in every frame (NaN where not found); and the fps."""
    import av

    from .visuals.avatars._landmarks import mouth_opening

    openings: list[list[tuple[float, float]]] = []
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 25)
            mesh = _video_mesh(faces)
            for frame in container.decode(stream):
                faces_found = mesh(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))
                openings.append(sorted((float(lm[:, 0].mean()), mouth_opening(lm)) for lm in faces_found))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{video.name}: cannot decode the video ({exc})") from exc
    counts = [len(found) for found in openings]
    tracks = max(counts, default=0)
    result = [np.full(len(openings), np.nan) for _ in range(tracks)]
    for index, seen in enumerate(openings):
        if len(seen) == tracks:
            for face, (_, opening) in enumerate(seen):
                result[face][index] = opening
    return result, fps


def _video_mesh(faces: int) -> Callable[[npt.NDArray[np.uint8]], list[npt.NDArray[np.float32]]]:
    """FaceMesh in tracking mode: landmarks (478, 2) in pixels for each face in a frame."""
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=faces, refine_landmarks=True)

    def find(frame: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.float32]]:
        result = mesh.process(frame)
        height, width = frame.shape[:2]
        return [
            np.array([(p.x * width, p.y * height) for p in face.landmark], np.float32)
            for face in (result.multi_face_landmarks or [])
        ]

    return find


def best_lag(
    opening: npt.NDArray[np.float64], envelope: npt.NDArray[np.float64], fps: float, mask: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """(correlation, offset ms): positive offset means the mouth moves before the sound."""
    frame_times = np.arange(len(opening)) / fps + 0.5 / fps
    env_times = np.arange(len(envelope)) / ENVELOPE_RATE + 0.5 / ENVELOPE_RATE
    usable = mask & np.isfinite(opening)
    best = (-1.0, 0.0)
    for lag_ms in range(-MAX_LAG_MS, MAX_LAG_MS + 1, 5):
        sound = np.interp(frame_times + lag_ms / 1000, env_times, envelope)
        if usable.sum() < MIN_FRAMES or np.std(opening[usable]) == 0 or np.std(sound[usable]) == 0:
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

    audio = decode_audio(video, 48_000)
    envelope = speech_envelope(audio, 48_000)
    tracks, fps = mouth_tracks(video)
    if not tracks:
        raise MediaError(f"{video.name}: no face found in any frame; sync-report needs visible avatar faces")
    report = []
    for index, (track, (speaker, mask)) in enumerate(
        zip(tracks, _speaker_masks(timeline, len(tracks[0]), fps, len(tracks)), strict=False)
    ):
        correlation, offset = best_lag(track, envelope, fps, mask)
        report.append(FaceSync(index, speaker, correlation, offset, int((mask & np.isfinite(track)).sum())))
    return report
