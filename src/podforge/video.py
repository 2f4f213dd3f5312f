"""The video stage: the episode drawn and encoded as chunks, joined without re-encoding.

Each chunk (``chunks.py``) is drawn and encoded in a worker and cached under the hash of its own content, so
after an edit only the chunks whose frames change are drawn again; the MP4 is the chunks' bitstreams joined
with the whole mastered audio (``bitstream.py``). No frame list is ever held. The finished MP4 is also cached
under the hash of everything it is made from, so an unchanged render copies it.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._heap import trim
from .artwork import embedded_cover
from .audio.stream import AudioReader, MonoSlices
from .bitstream import encode_audio_track, frames_needed, join_chunks
from .cache import ContentCache, content_key
from .chunks import (
    CHUNK_KIND,
    Chunk,
    ChunkSpec,
    ChunkTask,
    Executor,
    chunk_plan,
    chunk_tasks,
    draw_chunk,
    frame_plan,
    local_executor,
    window_frames,
    with_audio,
)
from .config import VideoConfig
from .encode import EncoderChoice, VideoSettings, VideoWriter, select_encoder
from .errors import EncodeError
from .outputs import PreviousEpisode, file_digest
from .preview import check_window
from .timeline import Timeline

if TYPE_CHECKING:
    from .visuals.avatars.talking import TalkingHeads
    from .visuals.frames import FramePlan

__all__ = ["VideoJob", "check_window", "publish_video", "tag_mp4_cover"]

VIDEO_VERSION = "7"  # bump when frames change for the same inputs: cached MP4s are keyed on it
TRACK_KIND = "aac-tracks"  # the episode's AAC track, per mastered audio: an edit re-encodes only its end
TRACK_VERSION = "1"


@dataclass(frozen=True)
class VideoJob:
    timeline: Timeline
    video: VideoConfig
    base_dir: Path
    audio_key: str
    mastered: AudioReader | None  # None only for ``draw_early``, which needs the mix alone
    encoder: EncoderChoice | None = None  # chosen with the GPU plan (see gpu.choose_encoder); None: "auto" here
    talking: TalkingHeads | None = None  # lines a SadTalker or Wav2Lip run rendered, per speaker
    window: tuple[float, float] | None = None  # a quick preview: only this stretch, in seconds
    mixed: AudioReader | None = None  # the unmastered mix the visuals react to (else the master)
    workers: int = 0  # chunk workers; 0 = one per core
    executor: Executor | None = None  # what runs the chunks; None = a local process pool
    early: EarlyDraws | None = None  # chunks ``draw_early`` started while the audio was mastered
    previous_audio: PreviousEpisode | None = None  # the script's last encoded episode: its AAC's start is reused

    def static_key(self, encoder: str) -> str:
        """Everything a chunk's frames depend on besides its own window and audio."""
        return content_key(
            kind="video-static",
            version=VIDEO_VERSION,
            title=self.timeline.title,
            rate=self.timeline.sample_rate,
            speakers={label: asdict(info) for label, info in self.timeline.speakers.items()},
            video=self.video.model_dump(mode="json"),
            chosen=self.video.model_dump(mode="json", exclude_unset=True),
            encoder=encoder,
            **({"cover": file_digest(self.cover)} if self.cover else {}),
            portraits=self._portraits(),
            # Which speakers a tool animates (its frames per line are in each chunk's own key).
            **({"talking": [self.talking.engine, sorted(self.talking.tracks), self.talking.fallbacks]}
               if self.talking else {}),
        )  # fmt: skip

    def _portraits(self) -> dict[str, str]:
        """Each portrait's content: a photo replaced under the same name must not reuse old chunks."""
        from .visuals.cards import avatar_spec

        out = {}
        for label, info in self.timeline.speakers.items():
            photo = avatar_spec(info.avatar, self.base_dir)[1]
            if photo is not None and photo.is_file():
                out[label] = file_digest(photo)
        return out

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
    record = _encode(path, job, choice, cache, on_frames)
    if job.cover:
        tag_mp4_cover(path, embedded_cover(job.cover))
    cache.put_file("videos", key, ".mp4", path)
    return {"encoder": choice.name, "encoder_reason": choice.reason, "cached": False, **record}


@dataclass(frozen=True, eq=False)
class _Prepared:
    """What drawing the chunks needs, made once per render: the spec, the frame plan, the mix by slices, the tasks."""

    spec: ChunkSpec
    plan: FramePlan
    mono: MonoSlices
    tasks: list[ChunkTask]


def _spec(job: VideoJob, choice: EncoderChoice, cache: ContentCache) -> ChunkSpec:
    rate, static = job.timeline.sample_rate, job.static_key(choice.name)
    return ChunkSpec(job.timeline.to_json(), job.video.model_dump(mode="json"), str(job.base_dir),
                     str(cache.root), choice, rate, static, job.talking)  # fmt: skip


def _prepare(job: VideoJob, choice: EncoderChoice, cache: ContentCache) -> _Prepared:
    rate = job.timeline.sample_rate
    spec = _spec(job, choice, cache)
    plan = frame_plan(spec, cache)
    audio = job.mixed if job.mixed is not None else job.mastered
    assert audio is not None
    mono = MonoSlices(audio)  # read by slices, never whole
    return _Prepared(spec, plan, mono, chunk_tasks(spec, plan, chunk_plan(job.timeline, job.video.fps), mono, rate))


@dataclass(frozen=True, eq=False)
class EarlyDraws:
    """Chunks handed to the pool as soon as the mix was made (``draw_early``); ``publish_video`` collects them."""

    prepared: _Prepared
    tasks: list[ChunkTask]  # the ones being drawn
    drawn: Iterator[object]

    def close(self) -> None:
        getattr(self.drawn, "close", lambda: None)()


def draw_early(job: VideoJob, cache: ContentCache) -> EarlyDraws | None:
    """Start drawing the chunks the cache lacks as soon as ``job.mixed`` is made: frames follow the mix, never the
    master, so after an edit or a take the pool draws while this process masters the audio and starts the MP3.
    Only when they are few (two per core at most): a cold render starts its chunks at the video stage as before,
    and keeps its memory where it was. None when there is no chunk pool or the MP4 is cached."""
    if job.executor is None or job.window is not None or job.mixed is None:
        return None
    choice = job.encoder or select_encoder(job.video.encoder)
    if cache.has("videos", job.key(choice.name), ".mp4"):
        return None
    prepared = _prepare(job, choice, cache)
    missing = _longest_first([task for task in prepared.tasks if not cache.has(CHUNK_KIND, task.key, ".mp4")])
    if len(missing) > 2 * (os.cpu_count() or 1):  # no more than a pool keeps in flight at once
        return EarlyDraws(prepared, [], iter(()))  # the video stage draws them; what was prepared is kept
    drawn = job.executor.map(draw_chunk, with_audio(missing, prepared.mono, prepared.plan))
    return EarlyDraws(prepared, missing, drawn)


def _encode(
    path: Path, job: VideoJob, choice: EncoderChoice, cache: ContentCache, on_frames: Callable[[int, int], None]
) -> dict[str, Any]:
    if job.window is not None:
        chunks = chunk_plan(job.timeline, job.video.fps)
        return _encode_window(path, job, _spec(job, choice, cache), chunks, on_frames)
    prepared = job.early.prepared if job.early is not None else _prepare(job, choice, cache)
    spec, plan, mono, tasks = prepared.spec, prepared.plan, prepared.mono, prepared.tasks
    with tempfile.TemporaryDirectory(prefix="podforge-join-") as tmp:
        parts = [Path(tmp) / f"{task.chunk.index}.mp4" for task in tasks]
        frames, missing, track = _draw_and_join(path, job, spec, tasks, plan, mono, parts, cache, on_frames)
    hits, early = len(tasks) - missing, len(job.early.tasks) if job.early else 0
    return {"frames": frames, "chunks": len(tasks), "chunk_cache_hits": hits, "chunk_cache_misses": missing,
            "chunks_drawn_early": early, **track}  # fmt: skip


def _draw_and_join(
    path: Path, job: VideoJob, spec: ChunkSpec, tasks: list[ChunkTask], plan: FramePlan, mono: MonoSlices,
    parts: list[Path], cache: ContentCache, on_frames: Callable[[int, int], None],
) -> tuple[int, int, dict[str, Any]]:  # fmt: skip
    """Cached chunks copied out verified (a damaged one is drawn again), the others drawn from their windows of
    the frame plan and their slices of ``mono`` (the mix, read by slices), or collected from ``job.early``; then
    the join."""
    started = job.early.tasks if job.early is not None else []
    keys = {task.key for task in started}
    missing = _longest_first([t for t, part in zip(tasks, parts, strict=True)
                              if t.key not in keys and not cache.copy_to(CHUNK_KIND, t.key, ".mp4", part)])  # fmt: skip
    total = sum(task.chunk.frames for task in tasks)
    done = total - sum(task.chunk.frames for task in [*started, *missing])
    on_frames(done, total)
    settings, mastered, rate = spec.settings(), job.mastered, spec.rate
    assert mastered is not None
    needed = frames_needed(mastered.frames, settings.fps, rate)
    with _executor(job, len(missing)) as executor:
        drawn = executor.map(draw_chunk, with_audio(missing, mono, plan))  # the workers start now
        early = job.early.drawn if job.early is not None else iter(())
        try:
            track = parts[0].parent / "audio.mp4"
            record = _audio_track(track, job, settings, cache)  # meanwhile, in this otherwise idle process
            for task, _ in zip([*started, *missing], itertools.chain(early, drawn), strict=True):
                done += task.chunk.frames
                on_frames(done, total)
                trim()  # the chunk's audio slice and its pickled task are freed: let them go (_heap)
        finally:
            # Stopped early (cancelled, failed): a pool that outlives this render drops the calls not yet started.
            getattr(drawn, "close", lambda: None)()
            getattr(early, "close", lambda: None)()
    missing += started
    for task in missing:
        cache.pin(CHUNK_KIND, task.key, ".mp4")  # written by a worker: this render's eviction must keep it
        if not cache.copy_to(CHUNK_KIND, task.key, ".mp4", parts[task.chunk.index]):
            raise EncodeError("a video chunk vanished from the cache during the render; render again")
    return join_chunks(path, settings, parts, track, needed), len(missing), record


def _longest_first(tasks: list[ChunkTask]) -> list[ChunkTask]:
    """The workers end together when the long chunks go first, not one drawing a long last chunk while the others
    wait (4 s of a core at the end of a 10-minute episode's 22 chunks, measured)."""
    return sorted(tasks, key=lambda task: -task.chunk.frames)


def _audio_track(dest: Path, job: VideoJob, settings: VideoSettings, cache: ContentCache) -> dict[str, Any]:
    """The AAC track: cached under the episode's audio, or encoded, copying the start of the previous episode's
    track up to where the audio changed (an edit in the middle re-encodes half of it)."""
    rate = job.timeline.sample_rate
    assert job.mastered is not None
    if cache.copy_to(TRACK_KIND, _track_key(job.audio_key, settings), ".mp4", dest):
        return {"aac_cached": True}
    earlier, previous = job.previous_audio, None
    if earlier is not None:
        key = _track_key(earlier.key, settings)
        previous = earlier.file(cache, TRACK_KIND, key, ".mp4", dest.with_name("previous.mp4"))
    spliced = encode_audio_track(dest, settings, job.mastered, rate, previous=previous)
    cache.put_file(TRACK_KIND, _track_key(job.audio_key, settings), ".mp4", dest)
    return {"aac_cached": False, **spliced.record("aac", rate)}


def _track_key(audio_key: str, settings: VideoSettings) -> str:
    return content_key(kind=TRACK_KIND, audio=audio_key, bitrate=settings.audio_bitrate, version=TRACK_VERSION)


def _encode_window(
    path: Path, job: VideoJob, spec: ChunkSpec, chunks: tuple[Chunk, ...], on_frames: Callable[[int, int], None]
) -> dict[str, Any]:
    """Only the frames that show some of ``job.window``, drawn as the full render draws them, in one pass."""
    assert job.window is not None and job.mastered is not None
    mono = MonoSlices(job.mixed if job.mixed is not None else job.mastered)
    plan = frame_plan(spec)
    rate, fps = spec.rate, plan.fps
    # Every frame that shows some of the window; the epsilon keeps 2.2 s * 25 fps at 55 frames, not 56.
    first = max(0, min(math.floor(job.window[0] * fps + 1e-6), plan.n_frames - 1))
    last = max(first + 1, min(math.ceil(min(job.window[1], 1e9) * fps - 1e-6), plan.n_frames))
    audio = job.mastered.read(first * rate // fps, last * rate // fps)
    with VideoWriter(path, spec.settings(), audio, rate) as writer:
        total = writer.frames_needed
        for frame in window_frames(plan, chunks, mono, rate, first, first + total):
            writer.write(frame)
            if writer.frames_written % fps == 0 or writer.frames_written == total:
                on_frames(writer.frames_written, total)
    return {"frames": writer.frames_written, "window_seconds": [first / fps, (first + total) / fps]}


@contextmanager
def _executor(job: VideoJob, tasks: int) -> Iterator[Executor]:
    if job.executor is not None:
        yield job.executor
        return
    with local_executor(job.workers, tasks) as executor:
        yield executor


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
