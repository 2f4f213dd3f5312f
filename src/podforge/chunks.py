"""Video chunks as pure functions of their own content, and the executors that run them.

The episode's frames are cut into chunks of about 10-30 s at the starts of lines (``chunk_plan``). A chunk is drawn
from a window of the frame plan whose frame numbers start again at 0 (``visuals.window``) and from audio
features of its own slice of the mix, so nothing in it depends on where it sits in the episode; its key hashes
exactly that (the window's digest, the audio slice and the static settings). Because the planner moves
everything after a line on by whole frames (``plan.py``), a chunk after an edited line keeps its key and comes
from the cache. ``episode_frames`` is the single pass over the same windows, in order, in one process.

Executors are anything with ``Executor.map(fn, items)`` (``concurrent.futures``'s pools, ``InlineExecutor``,
the Ray one in ``executors.py``, the warm pool in ``chunkpool.py``); ``draw_chunk`` takes one picklable
``ChunkTask`` (with its chunk's window of the frame plan and its audio) and writes the chunk's MP4 into the
cache at ``spec.cache_root``, a path every worker must see.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ._heap import trim
from ._workers import pool_size
from ._yuv import Drawn
from .audio.stream import MonoSlices
from .bitstream import encode_chunk
from .cache import ContentCache
from .chunkpool import BoundedPool, start_worker
from .config import VideoConfig
from .encode import EncoderChoice, VideoSettings
from .timeline import SpeechSegment, Timeline
from .visuals.frames import (
    FramePlan,
    FrameRenderer,
    StaticLayers,
    drawn_frames,
    plan_frames,
    render_frames,
    static_layers,
)
from .visuals.layouts import frame_samples, speech
from .visuals.visualizers import AudioFeatures
from .visuals.window import window, window_digest

if TYPE_CHECKING:
    from .visuals.avatars.talking import TalkingHeads

CHUNK_KIND = "chunks"
MIN_CHUNK_SECONDS = 10.0
MAX_CHUNK_SECONDS = 30.0
CUT_EVERY = 2  # about one line start in this many begins a chunk (see chunk_plan)
# Episodes of fewer lines than this (about ten minutes) get shorter chunks, down to SHORT_MIN_SECONDS, each line
# a candidate cut: a take or an edit then redraws a few seconds of video, not a tenth of it. Longer episodes keep
# 10-30 s chunks, where every chunk's closed GOP (an IDR frame) would otherwise cost file size.
LONG_EPISODE_LINES = 60
SHORT_MIN_SECONDS = 4.0
Mono = npt.NDArray[np.float32]
MonoSource = Mono | MonoSlices  # the episode's mono mix in memory, or read from its file by slices
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, end)`` of the episode."""

    index: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def chunk_plan(
    timeline: Timeline, fps: int, min_seconds: float | None = None, max_seconds: float | None = None
) -> tuple[Chunk, ...]:
    """Chunks cut at the frame a line starts in, each at least ``min_seconds`` long where the episode allows.

    Which line starts a chunk is decided by the line itself (its speaker and text: one line in ``every`` on
    average), not by where the previous chunk ended: cuts chained from the last one would all move when an
    edit lengthens one chunk, and every later chunk would be drawn again; content-defined cuts fall back into
    step at the first chosen line after the edit. A new take of a line changes its clip, never its text, so it
    never moves a cut. A stretch with no chosen line for over ``max_seconds`` is cut every ``max_seconds``. A
    tail shorter than ``min_seconds`` joins the chunk before it. Unset bounds follow the episode's length
    (``chunk_density``).
    """
    lines = speech(timeline)
    low_s, high_s, every = chunk_density(len(lines))
    samples = frame_samples(timeline, fps)
    n = len(samples)
    low = max(1, round((low_s if min_seconds is None else min_seconds) * fps))
    high = max(1, round((high_s if max_seconds is None else max_seconds) * fps))
    # Cut at the frame a line starts in, not the first frame after it: that frame already shows the line's first
    # sound (the mouth opens), and in the chunk before it would tie that chunk to the next line's content.
    chosen = {int(np.searchsorted(samples, seg.start, side="right")) - 1 for seg in lines if _chosen(seg, every)}
    bounds = [0]
    for cut in [*sorted(chosen - {0}), n]:
        while cut - bounds[-1] > high and cut - bounds[-1] - high >= low:
            bounds.append(bounds[-1] + high)
        if cut - bounds[-1] >= low and cut < n:
            bounds.append(cut)
    if n - bounds[-1] < low and len(bounds) > 1:
        bounds.pop()
    bounds.append(n)
    return tuple(Chunk(k, a, b) for k, (a, b) in enumerate(itertools.pairwise(bounds)) if b > a)


def chunk_density(lines: int) -> tuple[float, float, int]:
    """(min seconds, max seconds, one line in how many may cut) for an episode of ``lines`` spoken lines.

    The line count, not the duration: a take or an edit to a line changes the duration, and a density that
    followed it could move every cut of the episode."""
    if lines >= LONG_EPISODE_LINES:
        return MIN_CHUNK_SECONDS, MAX_CHUNK_SECONDS, CUT_EVERY
    low = max(SHORT_MIN_SECONDS, MIN_CHUNK_SECONDS * lines / LONG_EPISODE_LINES)
    return low, 3 * low, 1


def _chosen(line: SpeechSegment, every: int) -> bool:
    if every <= 1:
        return True
    digest = hashlib.sha256(f"{line.speaker}\n{line.text}".encode()).hexdigest()
    return int(digest[:8], 16) % every == 0


@dataclass(frozen=True)
class ChunkSpec:
    """What every chunk of one render shares: small, picklable, the same in every worker."""

    timeline_json: str
    video: dict[str, Any]
    base_dir: str
    cache_root: str
    encoder: EncoderChoice
    rate: int
    static_key: str  # hash of the static settings (size, layout, colours, speakers, encoder, cover, version)
    talking: TalkingHeads | None = None  # lines a SadTalker or Wav2Lip run rendered (their MP4s are in the cache)

    @property
    def plan_key(self) -> str:
        talking = repr(self.talking.keys()) if self.talking else ""
        return hashlib.sha256((self.static_key + self.timeline_json + talking).encode()).hexdigest()

    def settings(self) -> VideoSettings:
        video = VideoConfig.model_validate(self.video)
        width, height = video.dimensions
        return VideoSettings(width, height, video.fps, video.crf, video.preset, encoder=self.encoder)


@dataclass(frozen=True)
class ChunkTask:
    spec: ChunkSpec
    chunk: Chunk
    key: str
    # The chunk's slice of the mix, mono: what its visualiser and avatars react to. Attached only to the tasks
    # that are drawn, as each is handed to a worker (``with_audio``), so an hour's slices are never all held.
    audio: Mono | None = None
    # The chunk's window of the episode's frame plan, attached with the audio: a worker draws from it and never
    # builds the whole plan itself (over a second per worker and render at 720p; the pickled window is ~10 MB).
    window: FramePlan | None = None


def with_audio(tasks: Iterable[ChunkTask], mono: MonoSource, plan: FramePlan | None = None) -> Iterator[ChunkTask]:
    for task in tasks:
        audio = audio_slice(mono, task.chunk, task.spec.rate, task.spec.settings().fps)
        part = None if plan is None else window(plan, task.chunk.start, task.chunk.end)
        yield replace(task, audio=audio, window=part)


_PLANS: dict[str, FramePlan] = {}  # per process: the plan of the render it is working on
# Per process: the static layers of the last episode planned, under what they are drawn from (``_static_key``),
# so that a process rendering the same episode again after a take or an edit (the studio's job worker)
# does not draw them again (0.34 s of the demo's 0.38 s plan at 720p).
_STATIC: dict[str, StaticLayers] = {}


def frame_plan(spec: ChunkSpec, cache: ContentCache | None = None) -> FramePlan:
    """The episode's frame plan, built once per process and render (a worker draws many chunks of it)."""
    plan = _PLANS.get(spec.plan_key)
    if plan is None:
        timeline = Timeline.from_json(spec.timeline_json)
        video = VideoConfig.model_validate(spec.video)
        cache = cache or ContentCache(Path(spec.cache_root))
        key = _static_key(spec, timeline)
        static = _STATIC.get(key)
        if static is None or (spec.talking is not None and spec.talking.tracks):  # talking heads follow the lines
            static = static_layers(timeline, video, Path(spec.base_dir), cache, spec.talking)
            _STATIC.clear()
            _STATIC[key] = static
        plan = plan_frames(timeline, video, Path(spec.base_dir), cache=cache, talking=spec.talking, static=static)
        _PLANS.clear()
        _PLANS[spec.plan_key] = plan
    return plan


def _static_key(spec: ChunkSpec, timeline: Timeline) -> str:
    # ``static_key`` holds the media's content; what the layers are drawn from is added in case a caller's key
    # (a test's, a bench's) leaves it out.
    drawn_from = json.dumps([spec.static_key, spec.base_dir, spec.video, timeline.title,
                             {k: asdict(v) for k, v in timeline.speakers.items()}], sort_keys=True)  # fmt: skip
    return hashlib.sha256(drawn_from.encode()).hexdigest()


def audio_slice(mono: MonoSource, chunk: Chunk, rate: int, fps: int) -> Mono:
    # Frame i starts at sample i * rate // fps; the chunk's audio is exactly its frames' samples.
    return np.ascontiguousarray(mono[chunk.start * rate // fps : chunk.end * rate // fps])


def chunk_frames(plan: FramePlan, chunk: Chunk, audio: Mono, rate: int) -> Iterator[npt.NDArray[np.uint8]]:
    """The chunk's frames, drawn from its own window and its own audio (the shared buffer, as ``render_frames``)."""
    return render_frames(window(plan, chunk.start, chunk.end), AudioFeatures(audio, rate, plan.fps))


def chunk_drawn(plan: FramePlan, chunk: Chunk, audio: Mono, rate: int) -> Iterator[Drawn]:
    """``chunk_frames`` for the encoder: each frame with the boxes that changed since the one before."""
    return drawn_frames(window(plan, chunk.start, chunk.end), AudioFeatures(audio, rate, plan.fps))


def episode_frames(
    plan: FramePlan, chunks: Sequence[Chunk], mono: MonoSource, rate: int
) -> Iterator[npt.NDArray[np.uint8]]:
    """Every frame of the episode in one pass: the chunks' frames in order."""
    for chunk in chunks:
        yield from chunk_frames(plan, chunk, audio_slice(mono, chunk, rate, plan.fps), rate)


def window_frames(
    plan: FramePlan, chunks: Sequence[Chunk], mono: MonoSource, rate: int, first: int, end: int
) -> Iterator[Drawn]:
    """Frames ``[first, end)`` of the episode, each drawn exactly as its chunk draws it (for previews)."""
    for chunk in chunks:
        if chunk.end <= first or chunk.start >= end:
            continue
        features = AudioFeatures(audio_slice(mono, chunk, rate, plan.fps), rate, plan.fps)
        renderer = FrameRenderer(window(plan, chunk.start, chunk.end), features)
        for i in range(max(first, chunk.start), min(end, chunk.end)):
            pixels = renderer.draw(i - chunk.start)
            yield Drawn(pixels, renderer.changed)


def chunk_tasks(
    spec: ChunkSpec, plan: FramePlan, chunks: Sequence[Chunk], mono: MonoSource, rate: int
) -> list[ChunkTask]:
    tasks = []
    for chunk in chunks:
        audio = audio_slice(mono, chunk, rate, plan.fps)
        digest = hashlib.sha256(spec.static_key.encode())
        digest.update(window_digest(window(plan, chunk.start, chunk.end)).encode())
        digest.update(audio.tobytes())
        tasks.append(ChunkTask(spec, chunk, digest.hexdigest()))
    return tasks


def draw_chunk(task: ChunkTask) -> str:
    """Draw and encode one chunk into the cache; returns its key. Runs in a worker (or a Ray task)."""
    spec = task.spec
    if task.audio is None:
        raise ValueError("draw_chunk needs the task's audio (chunks.with_audio)")
    cache = ContentCache(Path(spec.cache_root))
    if task.window is not None:
        frames = drawn_frames(task.window, AudioFeatures(task.audio, spec.rate, task.window.fps))
    else:
        frames = chunk_drawn(frame_plan(spec, cache), task.chunk, task.audio, spec.rate)
    with tempfile.TemporaryDirectory(prefix="podforge-chunk-") as tmp:
        part = Path(tmp) / "chunk.mp4"
        encode_chunk(part, spec.settings(), frames)
        cache.put_file(CHUNK_KIND, task.key, ".mp4", part)
    del frames
    trim()  # a worker draws chunk after chunk: what one freed need not stay resident (_heap)
    return task.key


class Executor(Protocol):
    """The whole seam between chunk functions and what runs them."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], /) -> Iterator[R]: ...


class InlineExecutor:
    """Runs each call in this process, in order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], /) -> Iterator[R]:
        return map(fn, items)


@contextmanager
def local_executor(workers: int, tasks: int) -> Iterator[Executor]:
    """A process pool sized to the cores (or ``workers``), or inline when one process is enough."""
    count = pool_size(workers, tasks)
    if count <= 1:
        yield InlineExecutor()
        return
    context = multiprocessing.get_context("forkserver")
    render = os.getpid()  # workers start as the warm pool's do, and end with this process
    with ProcessPoolExecutor(count, mp_context=context, initializer=start_worker, initargs=(count, render)) as pool:
        yield BoundedPool(pool, 2 * count)
