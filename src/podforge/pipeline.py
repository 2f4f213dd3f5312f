"""The whole render, top-down: parse → check → voice → plan → mix → master → publish.

Mixing and mastering run only when the finished audio is not already in the
cache under the hash of its inputs. Outputs are written into a staging folder inside OUT and moved into place
only when every one of them is complete, so a failed render leaves OUT as it was; the folder of a render
that was killed is removed by the next render into the same OUT.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._outdir import place, prepare_out, staging_folder, writing_into
from ._workers import pool_size
from .align import align_timeline, cached_alignments
from .audio.mix import MixSources
from .audio.stream import AudioReader
from .cache import ContentCache, cache_cap_bytes
from .chunkpool import WarmPool
from .config import RenderConfig, with_flags, with_front_matter, with_video_flags
from .errors import Location, RenderError
from .executors import chunk_executor, parse_executor
from .gpu import GpuBackend, GpuPlan, OnnxDevice, choose_encoder, detect_gpu, onnx_device, plan_gpu
from .listen import DEFAULT_THRESHOLD, Listening, check_threshold, start_listening
from .metrics import ResourceMonitor, StageRecorder, write_metrics
from .outputs import AudioJob, AudioResult, episode_chapters, publish_audio, publish_texts, versions
from .plan import PlanInputs, plan_timeline
from .preview import chapter_window, check_window, quick_config
from .script.lexicon import engine_text
from .script.model import Script
from .script.parser import load_script_leniently
from .takes import apply_takes
from .timeline import MusicSegment, Timeline
from .validate import CheckedScript, check_script
from .voices.cast import Voice
from .voices.synth import CLIP_KIND, ClipRequest, voice_clips

if TYPE_CHECKING:
    from .chunks import Executor
    from .encode import EncoderChoice
    from .video import EarlyDraws
    from .visuals.avatars.talking import TalkingHeads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    done: int
    total: int


Progress = Callable[[ProgressEvent], None]


def _ignore(event: ProgressEvent) -> None:
    return None


@dataclass(frozen=True)
class RenderOptions:
    out_dir: Path
    audio_only: bool = False
    wav: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    config: RenderConfig = field(default_factory=RenderConfig)
    stem: str | None = None
    video_flags: dict[str, object] = field(default_factory=dict)
    # Other sections' flags, laid over the script and config: {"gpu": {"mode": "on"}, "avatar": {"fallback": ...}}
    flags: dict[str, dict[str, object]] = field(default_factory=dict)
    preview: tuple[float, float] | None = None  # only this stretch of the video, in seconds (see preview.py)
    preview_chapter: str | None = None  # only this chapter of the video, by title
    quick: bool = False  # a small frame and the fastest preset
    executor: str | None = None  # what draws the chunks: local (default), inline, ray or ray=ADDRESS
    flag_threshold: float | None = DEFAULT_THRESHOLD  # the listening check (listen.py); None turns it off
    # A chunk pool the caller keeps across renders (the studio's job worker, chunkpool.WarmPool) for the local
    # executor; None: a video render starts its own as it begins, so its workers start while the voices are made.
    chunk_pool: Executor | None = None


@dataclass(frozen=True)
class Devices:
    """What the render runs where, decided once before any synthesis (``--gpu on`` fails here)."""

    gpu: GpuPlan
    onnx: OnnxDevice
    encoder: EncoderChoice | None  # None for --audio-only

    def record(self) -> dict[str, object]:
        encoder = {"name": self.encoder.name, "reason": self.encoder.reason} if self.encoder else None
        return {**self.gpu.to_dict(), "encoder": encoder, "onnx": self.onnx.to_dict()}


@dataclass(frozen=True)
class RenderResult:
    outputs: dict[str, Path]
    timeline: Timeline
    metrics: dict[str, object]
    warnings: list[tuple[Location, str]] = field(default_factory=list)  # from the check (see CheckedScript)


def check(
    script_path: Path,
    config: RenderConfig | None = None,
    video_flags: dict[str, object] | None = None,
    flags: dict[str, dict[str, object]] | None = None,
    *,
    video: bool = True,
    quick: bool = False,
) -> CheckedScript:
    """Parse and validate only; raises ScriptError listing every problem (``video``: pictures and fonts too)."""
    config = config or RenderConfig()
    script, problems = load_script_leniently(script_path)
    config = with_video_flags(with_front_matter(config, script.front), video_flags or {})
    for section, values in (flags or {}).items():
        config = with_flags(config, section, values)
    config = quick_config(config) if quick else config
    return check_script(script, config, problems, video=video)


def plan_devices(config: RenderConfig, *, video: bool) -> Devices:
    """The GPU plan, the ONNX engines' device and the video encoder; ConfigError when --gpu on cannot be met."""
    gpu = plan_gpu(config.gpu.mode, config.gpu.device)
    encoder = choose_encoder(config.video.encoder, gpu) if video else None
    return Devices(gpu, onnx_device(gpu), encoder)


def clip_requests(script: Script, cast: dict[str, Voice]) -> list[ClipRequest]:
    requests = []
    for line in script.lines:
        voice = cast[line.speaker]
        speed = script.speakers[line.speaker].speed * voice.speed
        # Lexicon phonemes reach only the engines that take them; the line's spoken text stays as it is.
        text = engine_text(line.spoken, line.respelled, script.phonemes, voice.engine_id.partition(":")[0])
        requests.append(ClipRequest(voice.engine_id, text, speed, pitch=voice.pitch, formant=voice.formant))
    return requests


@contextmanager
def _clip_cache(options: RenderOptions, config: RenderConfig) -> Iterator[ContentCache]:
    if options.use_cache:
        cache = ContentCache(options.cache_dir, max_bytes=cache_cap_bytes(config.cache_max_gb))
        yield cache
        # After the outputs are in place, never before: what this render used is pinned, but only until now.
        cache.evict()
        return
    with tempfile.TemporaryDirectory(prefix="podforge-nocache-") as tmp:
        yield ContentCache(Path(tmp))


def render(script_path: Path, options: RenderOptions, on_progress: Progress = _ignore) -> RenderResult:
    if options.preview:
        check_window(options.preview)
    parse_executor(options.executor)
    if options.flag_threshold is not None:
        check_threshold(options.flag_threshold)
    recorder = StageRecorder(ResourceMonitor(gpu=_monitored_gpu(options)))
    with recorder.stage("parse"):
        checked = check(script_path, options.config, options.video_flags, options.flags,
                        video=not options.audio_only, quick=options.quick)  # fmt: skip
        devices = plan_devices(checked.config, video=not options.audio_only)
        prepare_out(options.out_dir)  # before minutes of synthesis, not after
    script, config = checked.script, checked.config
    rate = config.output.sample_rate
    with _clip_cache(options, config) as cache, contextlib.ExitStack() as stack:
        with recorder.stage("voices", engine=",".join(sorted(set(checked.voices.values())))) as stage:
            requests = apply_takes(script, clip_requests(script, checked.cast))  # the chosen takes
            progress = lambda done, total: on_progress(ProgressEvent("voices", done, total))  # noqa: E731
            voiced = voice_clips(
                requests, cache, rate, workers=config.workers, on_progress=progress, device=devices.onnx
            )
            stage.count("cache_hits", voiced.hits)
            stage.count("cache_misses", voiced.misses)
            stage.set("onnx_provider", devices.onnx.provider)
        with recorder.stage("plan"):
            genders = {label: voice.gender or "" for label, voice in checked.cast.items()}
            inputs = PlanInputs(script, checked.voices, voiced.keys, voiced.lengths, _lengths(checked), config, rate,
                                genders)  # fmt: skip
            timeline = plan_timeline(inputs)
        options = stack.enter_context(_chunk_pool(options, config, timeline))  # starts while the render aligns
        if not options.audio_only:
            with recorder.stage("align") as stage:
                on_progress(ProgressEvent("align", 0, 1))
                hits, misses = cached_alignments(timeline, cache)
                stage.count("cache_hits", hits)
                stage.count("cache_misses", misses)
                timeline = align_timeline(timeline, cache, workers=config.workers)
            on_progress(ProgressEvent("align", 1, 1))
        if options.preview_chapter:  # a chapter is found by title once the timeline knows where it is
            options = replace(options, preview=chapter_window(timeline, options.preview_chapter), preview_chapter=None)
        if options.preview:
            check_window(options.preview, timeline.seconds)
        sources = _sources(timeline, cache, checked)
        job = AudioJob(script, timeline, sources, options.wav or config.output.wav, config)
        with writing_into(options.out_dir):
            result = _publish(job, cache, options, recorder, on_progress, devices)
        return replace(result, warnings=checked.warnings)


@contextmanager
def _chunk_pool(options: RenderOptions, config: RenderConfig, timeline: Timeline) -> Iterator[RenderOptions]:
    """``options`` with a chunk pool: the caller's, or one started now, whose workers start (and import what
    drawing needs) while the render aligns, mixes and masters; none for audio, previews (drawn in this process),
    the other executors and a video of one chunk (drawn in this process, as a pool would not pay off)."""
    drawn_here = options.audio_only or options.preview or options.preview_chapter
    wanted = options.chunk_pool is None and not drawn_here and parse_executor(options.executor)[0] == "local"
    if wanted:
        from .chunks import chunk_plan  # the drawing and encoding stack: an audio-only render never imports it
    chunks = len(chunk_plan(timeline, config.video.fps)) if wanted else 0
    if chunks < 2:
        yield options
        return
    with WarmPool(pool_size(config.workers, chunks)) as pool:
        yield replace(options, chunk_pool=pool.start())


def _start_listening(timeline: Timeline, cache: ContentCache, options: RenderOptions, workers: int) -> Listening | None:
    """The listening check, started in worker processes to run alongside the audio stage; None when it is off."""
    if options.flag_threshold is None:
        return None
    return start_listening(timeline, cache, options.flag_threshold, workers=workers)


def _listen(listening: Listening | None, recorder: StageRecorder, on_progress: Progress) -> list[dict[str, object]]:
    """The listening check's flagged lines (as JSON), or none when it is off; the stage's seconds are the wait."""
    if listening is None:
        return []
    with recorder.stage("listen") as stage:
        on_progress(ProgressEvent("listen", 0, 1))
        heard = listening.result()
        stage.count("lines_checked", heard.checked)
        stage.count("clips_heard", heard.heard_now)
        stage.set("heard_cpu_seconds", round(heard.heard_cpu_seconds, 3))
        stage.set("threshold", listening.threshold)
    on_progress(ProgressEvent("listen", 1, 1))
    return heard.to_json()


def _monitored_gpu(options: RenderOptions) -> GpuBackend | None:
    """The GPU whose use the stages record (NVML); none with --gpu off, which leaves the GPU alone."""
    gpu = with_flags(options.config, "gpu", options.flags.get("gpu", {})).gpu
    return None if gpu.mode == "off" else detect_gpu(gpu.device)


def _publish(
    job: AudioJob, cache: ContentCache, options: RenderOptions, recorder: StageRecorder, on_progress: Progress,
    devices: Devices,
) -> RenderResult:  # fmt: skip
    script, timeline = job.script, job.timeline
    stem = options.stem or job.config.output.stem or script.path.stem
    options.out_dir.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(options.out_dir)
    audio: AudioResult | None = None
    listening: Listening | None = None
    early: list[EarlyDraws] = []
    try:
        listening = _start_listening(timeline, cache, options, job.config.workers)  # heard while the audio is made
        on_progress(ProgressEvent("audio", 0, 1))
        with recorder.stage("audio") as stage:
            # the MP3's worker pays off only when the listening check or the video runs while it encodes
            background = not options.audio_only or options.flag_threshold is not None
            audio = publish_audio(staging, stem, job, cache, keep_master=not options.audio_only, background=background,
                                  on_mixed=_early_chunks(job, cache, options, devices, early))  # fmt: skip
            for key, value in audio.levels.items():
                stage.set(key, value)
        staged = dict(audio.paths)
        on_progress(ProgressEvent("audio", 1, 1))
        flagged = _listen(listening, recorder, on_progress)
        if not options.audio_only:
            staged["mp4"] = staging / f"{stem}.mp4"
            talking = _talking_heads(job, cache, recorder, on_progress, devices.gpu)
            from .video import VideoJob, publish_video  # the video stack, as chunk_plan in _chunk_pool

            with chunk_executor(options.executor) as executor, recorder.stage("video") as stage:
                video_job = VideoJob(timeline, job.config.video, script.base_dir, audio.key, audio.mastered,
                                     devices.encoder, talking, window=options.preview, mixed=audio.mixed,
                                     workers=job.config.workers, executor=executor or options.chunk_pool,
                                     early=early[0] if early and executor is None else None,
                                     previous_audio=audio.previous)  # fmt: skip
                progress = lambda done, total: on_progress(ProgressEvent("video", done, total))  # noqa: E731
                for key, value in publish_video(staged["mp4"], video_job, cache, progress).items():
                    stage.set(key, value)
        with recorder.stage("publish") as stage:
            staged.update(publish_texts(staging, stem, script, timeline, job.config.video))
            for key, value in audio.finish().items():  # the MP3, encoded meanwhile in a worker
                stage.set(key, value)
        metrics = recorder.to_dict(
            script.title, timeline.seconds, options=_options_record(options), versions=versions(),
            gpu=devices.record(),
        )  # fmt: skip
        metrics["lines_flagged"] = flagged
        staged["metrics"] = staging / f"{stem}.metrics.json"
        write_metrics(staged["metrics"], metrics)
        outputs = place(staged, options.out_dir)
    finally:
        for drawing in early:
            drawing.close()  # after a failure, the chunks not started yet are not drawn
        if listening is not None:
            listening.cancel()  # nothing left to stop once its result is in; after a failure, stops the workers
        if audio is not None:
            audio.abandon()
        shutil.rmtree(staging, ignore_errors=True)
    return RenderResult(outputs, timeline, metrics)


def _early_chunks(
    job: AudioJob, cache: ContentCache, options: RenderOptions, devices: Devices, into: list[EarlyDraws]
) -> Callable[[AudioReader, str], None] | None:
    """What to do once the mix is made: hand the chunks an edit or a take changed to the chunk pool
    (``video.draw_early``), so they are drawn while the audio is mastered; None where that cannot be."""
    wanted = options.chunk_pool is not None and parse_executor(options.executor)[0] == "local"
    if not wanted or options.audio_only or options.preview or options.preview_chapter or _talks(job.config):
        return None
    from .video import VideoJob, draw_early  # as in _publish

    def start(mixed: AudioReader, audio_key: str) -> None:
        video = VideoJob(job.timeline, job.config.video, job.script.base_dir, audio_key, None, devices.encoder,
                         mixed=mixed, workers=job.config.workers, executor=options.chunk_pool)  # fmt: skip
        if (drawing := draw_early(video, cache)) is not None:
            into.append(drawing)

    return start


def _talks(config: RenderConfig) -> bool:
    """Whether SadTalker or Wav2Lip animate the photo speakers (their own stage, before the video's)."""
    return config.avatar.engine != "photo" and config.video.layout != "audiogram"


def _talking_heads(
    job: AudioJob, cache: ContentCache, recorder: StageRecorder, on_progress: Progress, gpu: GpuPlan
) -> TalkingHeads | None:
    """Run SadTalker or Wav2Lip for the photo speakers' lines (its own stage: that is where a GPU works hardest)."""
    avatar = job.config.avatar
    if not _talks(job.config):
        return None
    from .visuals.avatars.external import GpuEnv
    from .visuals.avatars.talking import render_talking_heads

    env = GpuEnv(visible_devices=str(gpu.index) if gpu.use else "")
    with recorder.stage("avatars", engine=avatar.engine) as stage:
        progress = lambda done, total: on_progress(ProgressEvent("avatars", done, total))  # noqa: E731
        talking = render_talking_heads(job.timeline, cache, avatar, job.script.base_dir, env, progress)
        stage.set("speakers", sorted(talking.tracks))
        stage.count("lines_rendered", talking.rendered)
        stage.count("lines_cached", talking.cached)
        stage.set("gpu_visible", env.visible_devices)
        if talking.fallbacks:
            why = {label: f"{kind}: {talking.reasons[label]}" for label, kind in talking.fallbacks.items()}
            stage.set("fallbacks", why)
    if gpu.use and talking.rendered and stage.gpu_util_percent == 0.0:
        # The tools pick CUDA themselves and quietly run on the CPU when their torch has none: say so.
        idle = (f"{avatar.engine} rendered {talking.rendered} lines while NVML saw GPU {gpu.index} idle; "
                "its torch may have no CUDA (try `python -c 'import torch; print(torch.cuda.is_available())'` "
                "in its environment)")  # fmt: skip
        log.warning("%s", idle)
        stage.set("gpu_warning", idle)
    return talking


def _options_record(options: RenderOptions) -> dict[str, object]:
    return {
        "audio_only": options.audio_only,
        "wav": options.wav,
        "cache": options.use_cache,
        "preview": list(options.preview) if options.preview else options.preview_chapter,
        "quick": options.quick,
        "executor": options.executor or "local",
        **options.config.model_dump(mode="json"),
    }


def _lengths(checked: CheckedScript) -> dict[str, int]:
    return {name: int(audio.shape[0]) for name, audio in checked.sfx.items()}


def _sources(timeline: Timeline, cache: ContentCache, checked: CheckedScript) -> MixSources:
    from .music.registry import music_reader

    def clip(key: str) -> np.ndarray:
        array = cache.get_array(CLIP_KIND, key)
        if array is None:
            raise RenderError(f"clip {key} vanished from the cache during the render; render again")
        return array

    def music(bed: MusicSegment) -> AudioReader:
        return music_reader(bed, timeline.sample_rate, checked.config.music, checked.script.base_dir, cache)

    return MixSources(clip, music, checked.sfx.__getitem__)


__all__ = ["ProgressEvent", "RenderOptions", "RenderResult", "check", "episode_chapters", "render"]
