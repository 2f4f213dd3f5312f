"""Chunked video: chunks cut at lines, drawn from their own content, joined without re-encoding; edits redraw little."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from media import top_level_boxes
from podforge.audio.export import decode_audio
from podforge.audio.splice import BLOCK
from podforge.cache import ContentCache
from podforge.chunks import (
    Chunk,
    ChunkSpec,
    audio_slice,
    chunk_frames,
    chunk_plan,
    chunk_tasks,
    episode_frames,
    frame_plan,
)
from podforge.config import VideoConfig
from podforge.encode import EncoderChoice
from podforge.pipeline import RenderOptions, render
from podforge.timeline import SpeechSegment, Timeline
from podforge.visuals.frames import plan_frames
from podforge.visuals.layouts import frame_samples

LINES = [
    ("ALEX", "Welcome back to the show, today we talk about tiny machines and the people who build them."),
    ("SAM", "Thanks, it is a pleasure to be here and to talk about something I have loved for years."),
    ("ALEX", "Let us start at the beginning, with the very first machine you built in your garage."),
    ("SAM", "It was a clock, of all things, and it never once told the right time in its whole life."),
    ("ALEX", "That sounds like a good start for an engineer, if you ask me, a clock that is always wrong."),
    ("SAM", "It taught me patience more than anything else, and a little about gears and springs."),
    ("ALEX", "And after the clock, what came next, was it another clock or something bigger?"),
    ("SAM", "A music box, which played one song, badly, and only when it was in a good mood."),
    ("ALEX", "We will hear more about that music box after the break, stay with us everyone."),
    ("SAM", "And bring your own music box if you have one, we could start a small orchestra."),
]
FRONT = """---
title: Tiny Machines
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e", avatar: illustrated}
  SAM: {voice: "fake:b", color: "#3b82f6", avatar: illustrated}
video: {size: 320x180, fps: 25, layout: duo}
---
"""


def script(lines: list[tuple[str, str]]) -> str:
    return FRONT + "".join(f"{who}: {text}\n" for who, text in lines)


def render_script(folder: Path, text: str, config: Path, cache: Path) -> dict[str, object]:
    from podforge.config import load_render_config

    (folder / "episode.md").write_text(text, encoding="utf-8")
    options = RenderOptions(out_dir=folder / "out", cache_dir=cache, config=load_render_config(config))
    return render(folder / "episode.md", options).metrics


def stage(metrics: dict[str, object], name: str) -> dict[str, object]:
    return next(s for s in metrics["stages"] if s["name"] == name)  # type: ignore[attr-defined, index]


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], dict[str, object]]:
    """One render, then the same episode with the second line edited (two words changed)."""
    folder = tmp_path_factory.mktemp("chunked")
    cache = tmp_path_factory.mktemp("chunk-cache")
    config = folder / "fake.yaml"
    config.write_text("tts_engine: fake\nworkers: 2\n", encoding="utf-8")
    cold = render_script(folder, script(LINES), config, cache)
    (folder / "cold.timeline.json").write_bytes((folder / "out" / "episode.timeline.json").read_bytes())
    edited = list(LINES)
    edited[1] = ("SAM", edited[1][1].replace("a pleasure", "an enormous pleasure"))
    edit = render_script(folder, script(edited), config, cache)
    return folder, cold, edit


def spec_for(timeline: Timeline, video: VideoConfig, cache: Path) -> ChunkSpec:
    choice = EncoderChoice("libx264", "test")
    return ChunkSpec(timeline.to_json(), video.model_dump(mode="json"), ".", str(cache), choice, 48_000, "static")


def test_chunks_cut_at_line_starts_and_cover_every_frame(renders) -> None:
    folder = renders[0]
    timeline = Timeline.from_json((folder / "out" / "episode.timeline.json").read_text())
    chunks = chunk_plan(timeline, 25, min_seconds=5.0, max_seconds=12.0)
    samples = frame_samples(timeline, 25)
    starts = {int(np.searchsorted(samples, s.start, side="right")) - 1 for s in timeline.of_kind(SpeechSegment)}
    assert len(chunks) >= 3 and chunks[0].start == 0 and chunks[-1].end == len(samples)
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
    # A chunk starts at a line's first frame, or the longest a chunk may be after the one before.
    assert all(b.start in starts or a.frames == 12 * 25 for a, b in itertools.pairwise(chunks))
    assert all(c.frames >= 5 * 25 for c in chunks)
    assert chunk_plan(timeline, 25, 5.0, 12.0) == chunks  # a pure function of the timeline


def test_chunk_frames_equal_the_single_pass(renders, tmp_path: Path) -> None:
    folder = renders[0]
    timeline = Timeline.from_json((folder / "out" / "episode.timeline.json").read_text())
    video = VideoConfig.model_validate({"size": "320x180", "layout": "duo"})
    rng = np.random.default_rng(3)
    mono = (rng.standard_normal(timeline.duration) * 0.1).astype(np.float32)
    chunks = chunk_plan(timeline, 25, min_seconds=5.0, max_seconds=12.0)
    spec = spec_for(timeline, video, tmp_path)
    single = [hashlib.sha256(f).hexdigest() for f in episode_frames(frame_plan(spec), chunks, mono, 48_000)]
    assert len(single) == len(frame_samples(timeline, 25))
    # Each chunk drawn on its own, last first, from a plan rebuilt from the JSON as a worker does.
    chunked: dict[int, list[str]] = {}
    for chunk in reversed(chunks):
        plan = frame_plan(spec_for(timeline, video, tmp_path / str(chunk.index)))
        audio = audio_slice(mono, chunk, 48_000, 25)
        chunked[chunk.index] = [hashlib.sha256(f).hexdigest() for f in chunk_frames(plan, chunk, audio, 48_000)]
    assert [h for c in chunks for h in chunked[c.index]] == single
    assert len(set(single)) > len(single) // 4  # the frames really move (avatars, captions, visualiser)


def test_a_replan_after_an_edit_reuses_the_static_layers_and_draws_the_same(renders, tmp_path: Path) -> None:
    folder = renders[0]
    cold, edit = (Timeline.from_json((folder / name).read_text()) for name in ("cold.timeline.json",
                                                                             "out/episode.timeline.json"))  # fmt: skip
    video = VideoConfig.model_validate({"size": "320x180", "layout": "duo"})
    first, again = frame_plan(spec_for(cold, video, tmp_path)), frame_plan(spec_for(edit, video, tmp_path))
    assert again.bases[0] is first.bases[0] and again.title is first.title  # one process, the same episode
    mono = (np.random.default_rng(5).standard_normal(edit.duration) * 0.1).astype(np.float32)
    as_shipped = VideoConfig.model_validate(spec_for(edit, video, tmp_path).video)  # as frame_plan reads it
    fresh = plan_frames(edit, as_shipped, Path("."), ContentCache(tmp_path / "fresh"))  # no reuse
    chunk = chunk_plan(edit, 25, min_seconds=5.0, max_seconds=12.0)[1]
    audio = audio_slice(mono, chunk, 48_000, 25)
    assert [hashlib.sha256(f).digest() for f in chunk_frames(again, chunk, audio, 48_000)] == [
        hashlib.sha256(f).digest() for f in chunk_frames(fresh, chunk, audio, 48_000)
    ]
    recoloured = replace(edit, speakers={k: replace(v, color="#22aa44") for k, v in edit.speakers.items()})
    other = frame_plan(spec_for(recoloured, video, tmp_path))
    assert other.bases[0] is not again.bases[0] and not np.array_equal(other.bases[0], again.bases[0])


def test_an_edit_redraws_only_the_chunks_it_changes(renders) -> None:
    folder, cold, edit = renders
    voices, video = stage(edit, "voices"), stage(edit, "video")
    assert (voices["cache_hits"], voices["cache_misses"]) == (len(LINES) - 1, 1)
    align = stage(edit, "align")
    assert (align["cache_hits"], align["cache_misses"]) == (len(LINES) - 1, 1)
    assert stage(edit, "audio")["cached"] is False  # the mix and the master are made again
    assert stage(cold, "video")["chunk_cache_misses"] == stage(cold, "video")["chunks"] >= 2
    before = Timeline.from_json((folder / "cold.timeline.json").read_text())
    after = Timeline.from_json((folder / "out" / "episode.timeline.json").read_text())
    assert after.duration != before.duration  # the edit moved every later line, yet their chunks were reused
    # Exactly the chunks showing some of the edited line: from the frame it starts in to the frame the next
    # line starts in (that frame shows the next line: its caption page, not the edited line's last one).
    samples, lines = frame_samples(after, 25), after.of_kind(SpeechSegment)
    first, stop = (int(np.searchsorted(samples, s.start, side="right")) - 1 for s in lines[1:3])
    touched = [c for c in chunk_plan(after, 25) if c.start < stop and c.end > first]
    assert len(touched) == 1 and video["chunk_cache_misses"] == 1
    assert video["chunk_cache_hits"] == video["chunks"] - 1 >= 2


def test_an_edit_reencodes_only_the_audio_after_it(renders) -> None:
    """The MP3 and the AAC track copy the previous render's packets up to the edited line and encode the rest;
    both still hold exactly the episode's audio."""
    folder, cold, edit = renders
    after = Timeline.from_json((folder / "out" / "episode.timeline.json").read_text())
    edited = after.of_kind(SpeechSegment)[1]
    before_edit, rest = edited.start / 48_000, (after.duration - edited.start) / 48_000
    past = (after.duration - edited.end) / 48_000  # the line's first words may sound as before: from its end, surely
    assert stage(cold, "publish")["mp3_packets_reused"] == 0 and stage(cold, "video")["aac_packets_reused"] == 0
    for name, where, frame in (("mp3", "publish", 1152), ("aac", "video", 1024)):
        record = stage(edit, where)
        slack = (BLOCK + 16 * frame) / 48_000  # a block's hash, the margin and the priming frames
        assert record[f"{name}_packets_reused"] * frame / 48_000 > before_edit - slack
        assert past < record[f"{name}_encoded_seconds"] < rest + slack
    assert decode_audio(folder / "out" / "episode.mp3").shape[0] == after.duration
    with av.open(str(folder / "out" / "episode.mp4")) as mp4:
        sound = mp4.streams.audio[0]
        decoded = sum(frame.samples for frame in mp4.decode(sound))
    assert after.duration <= decoded < after.duration + 2048  # AAC ends on a whole frame


def test_chunk_keys_survive_a_shift_by_whole_frames(renders, tmp_path: Path) -> None:
    folder = renders[0]
    before = Timeline.from_json((folder / "cold.timeline.json").read_text())
    after = Timeline.from_json((folder / "out" / "episode.timeline.json").read_text())
    video = VideoConfig.model_validate({"size": "320x180", "layout": "duo"})
    keys = []
    for timeline in (before, after):
        mono = np.zeros(timeline.duration, np.float32)
        spec = spec_for(timeline, video, tmp_path)
        tasks = chunk_tasks(spec, frame_plan(spec), chunk_plan(timeline, 25), mono, 48_000)
        keys.append([t.key for t in tasks])
    shared = set(keys[0]) & set(keys[1])
    assert shared and keys[0][-1] == keys[1][-1]  # the last chunk, moved in time by the edit, is the same chunk


def test_joined_mp4_has_every_frame_and_the_audio(renders) -> None:
    out = renders[0] / "out"
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    with av.open(str(out / "episode.mp4")) as container:
        frames = [f.time for f in container.decode(video=0)]
    with av.open(str(out / "episode.mp4")) as container:
        audio_end = max(f.time + f.samples / f.sample_rate for f in container.decode(audio=0))
    assert len(frames) == len(frame_samples(timeline, 25))
    assert frames == sorted(frames) and abs(frames[0]) < 1e-6
    assert abs(frames[-1] + 1 / 25 - timeline.seconds) <= 1 / 25
    assert abs(audio_end - timeline.seconds) <= 1 / 25
    boxes = top_level_boxes(out / "episode.mp4")
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert json.loads((out / "episode.metrics.json").read_text())["stages"]


def test_joined_mp4_plays_in_a_browser(renders, browser_page) -> None:
    out = renders[0] / "out"
    (out / "play.html").write_text('<video id="v" src="episode.mp4" muted playsinline></video>', encoding="utf-8")
    page = browser_page
    page.goto((out / "play.html").as_uri())
    page.evaluate("document.getElementById('v').play()")
    page.wait_for_function("document.getElementById('v').currentTime > 0.5", timeout=15_000)
    duration = page.evaluate("document.getElementById('v').duration")
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    assert abs(duration - timeline.seconds) <= 0.1
    assert page.evaluate("document.getElementById('v').videoWidth") == 320


def test_chunk_is_frozen() -> None:
    assert Chunk(0, 0, 10).frames == 10


def _square(x: int) -> int:
    return x * x


def test_the_local_pool_takes_tasks_only_a_little_ahead_of_the_results() -> None:
    """Tasks carry their chunk's audio: an hour's worth must never be pulled into memory at once."""
    from podforge.chunks import local_executor

    pulled: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for k in range(40):
            pulled.append(k)
            yield k

    with local_executor(2, 40) as executor:
        results = executor.map(_square, items())
        assert len(pulled) == 4  # 2 workers x 2 started at once, before any result is asked for
        first = next(results)
        assert first == 0 and len(pulled) == 5
        assert [first, *results] == [k * k for k in range(40)]


class _Recording:
    """Runs each chunk in this process, noting the frames of each chunk in the order it was handed over."""

    def __init__(self) -> None:
        self.frames: list[int] = []

    def map(self, fn, items):  # type: ignore[no-untyped-def]
        for item in items:
            self.frames.append(item.chunk.frames)
            yield fn(item)


def test_the_longest_chunks_are_drawn_first(tmp_path: Path) -> None:
    """So the workers end together instead of one drawing a long last chunk while the others wait."""
    from podforge.config import load_render_config

    config = tmp_path / "fake.yaml"
    config.write_text("tts_engine: fake\n", encoding="utf-8")
    (tmp_path / "episode.md").write_text(script(LINES), encoding="utf-8")
    pool = _Recording()
    options = RenderOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache",
                            config=load_render_config(config), chunk_pool=pool)  # fmt: skip
    metrics = render(tmp_path / "episode.md", options).metrics
    assert len(pool.frames) == stage(metrics, "video")["chunks"] and len(set(pool.frames)) > 1
    assert pool.frames == sorted(pool.frames, reverse=True)
