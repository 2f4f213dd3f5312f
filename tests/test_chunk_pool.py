"""Re-renders after a take: cuts a take cannot move, chunk sizes that follow the episode, a pool kept warm."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from podforge.chunkpool import WarmPool
from podforge.chunks import (
    LONG_EPISODE_LINES,
    ChunkSpec,
    chunk_density,
    chunk_frames,
    chunk_plan,
    chunk_tasks,
    frame_plan,
    with_audio,
)
from podforge.config import VideoConfig, load_render_config
from podforge.encode import EncoderChoice
from podforge.pipeline import RenderOptions, render
from podforge.timeline import SpeakerInfo, SpeechSegment, Timeline
from podforge.visuals.frames import render_frames
from podforge.visuals.visualizers import AudioFeatures

RATE = 48_000


def long_timeline(lines: int, lengths: list[float], clip: str = "a") -> Timeline:
    """``lines`` lines one after the other, line k ``lengths[k % len(lengths)]`` seconds long."""
    speakers = {who: SpeakerInfo(who, "fake:a", "#ffffff") for who in ("ALEX", "SAM")}
    segments, at = [], 0
    for k in range(lines):
        end = at + round(lengths[k % len(lengths)] * RATE)
        who = ("ALEX", "SAM")[k % 2]
        text = f"line {k} of the show, said by {who}"
        clip_hash = hashlib.sha256(f"{clip}{k}".encode()).hexdigest()
        segments.append(SpeechSegment(at, end, k + 1, who, "fake:a", text, text, clip_hash))
        at = end + RATE // 4
    return Timeline("Long", RATE, at, speakers, tuple(segments))


def first_lines(timeline: Timeline, fps: int = 25) -> list[int]:
    """The script line each chunk begins with (cuts named by line, so they compare across shifted timelines)."""
    lines = sorted(timeline.of_kind(SpeechSegment), key=lambda s: s.start)
    out = []
    for chunk in chunk_plan(timeline, fps):
        start = chunk.start * RATE // fps
        out.append(next(s.line for s in lines if s.start >= start))
    return out


def test_a_new_take_never_moves_a_cut_in_a_long_episode() -> None:
    """New takes of every line (new clips, new lengths, same text) leave every chunk starting at the same line."""
    before = long_timeline(LONG_EPISODE_LINES + 20, [6.0, 4.5, 9.0, 3.0])
    cuts = first_lines(before)
    assert 20 <= len(cuts) < LONG_EPISODE_LINES // 2  # 10-30 s chunks, some lines never cut
    for seed in ("b", "c", "d"):
        after = long_timeline(LONG_EPISODE_LINES + 20, [6.0, 4.5, 9.0, 3.0], clip=seed)
        assert first_lines(after) == cuts
    # One line re-taken a second longer: every later line moves, no cut does.
    longer = long_timeline(LONG_EPISODE_LINES + 20, [6.0, 4.5, 9.0, 3.0], clip="e")
    shifted = [replace(s, end=s.end + RATE) if s.line == 30 else s for s in longer.segments]
    moved = [replace(s, start=s.start + RATE, end=s.end + RATE) if s.line > 30 else s for s in shifted]
    assert first_lines(replace(longer, segments=tuple(moved), duration=longer.duration + RATE)) == cuts


def test_short_episodes_get_short_chunks_and_long_ones_keep_ten_to_thirty_seconds() -> None:
    assert chunk_density(LONG_EPISODE_LINES) == (10.0, 30.0, 2)
    low, high, every = chunk_density(16)
    assert (low, high, every) == (4.0, 12.0, 1)
    short = chunk_plan(long_timeline(16, [6.0, 4.5, 9.0, 3.0]), 25)
    assert len(short) >= 10 and all(4 * 25 <= c.frames <= 12 * 25 for c in short[:-1])  # a short tail joins
    long = chunk_plan(long_timeline(LONG_EPISODE_LINES, [6.0, 4.5, 9.0, 3.0]), 25)
    assert all(10 * 25 <= c.frames <= 30 * 25 for c in long[:-1]) and long[-1].frames >= 10 * 25


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("chunk 3 cannot be drawn")
    return x


def _die(x: int) -> int:
    os._exit(3)


def _log_and_square(item: tuple[str, int]) -> int:
    folder, x = item
    Path(folder, str(x)).touch()
    if x == 0:
        return 0
    time.sleep(0.2)  # slow enough that the queue behind the first result is still waiting when the render stops
    return x * x


def test_the_warm_pool_keeps_its_workers_and_survives_a_failing_and_a_crashing_render(tmp_path: Path) -> None:
    with WarmPool(2) as pool:
        pids = set(pool.map(_pid, range(6)))
        with pytest.raises(ValueError, match="chunk 3"):
            list(pool.map(_fail_on_three, range(6)))
        assert set(pool.map(_pid, range(6))) <= pids  # the same processes, still running after the failure
        with pytest.raises(BrokenProcessPool):
            list(pool.map(_die, range(2)))
        assert list(pool.map(_square, range(5))) == [0, 1, 4, 9, 16]  # a fresh pool after the crash
        # A worker killed while the pool sits idle between renders: the next render still gets its chunks.
        idle = pool._pool
        os.kill(next(iter(set(pool.map(_pid, range(4))))), signal.SIGKILL)
        for _ in range(100):  # until the pool has noticed (its management thread marks it broken)
            if idle is None or getattr(idle, "_broken", False):
                break
            time.sleep(0.1)
        assert list(pool.map(_square, range(3))) == [0, 1, 4]
        # A render that stops at its first result leaves no queued calls behind it.
        results = pool.map(_log_and_square, [(str(tmp_path), k) for k in range(40)])
        assert next(results) == 0
        results.close()  # type: ignore[attr-defined]
        assert list(pool.map(_square, [7])) == [49]
        assert len(list(tmp_path.iterdir())) <= 6  # 2 workers x 2 ahead, and the one submitted after the first


def _pid(_: int) -> int:
    return os.getpid()


def test_a_warm_pool_takes_a_new_number_of_workers_at_the_next_render() -> None:
    """The studio's pool follows the workspace's ``workers:`` setting, changed between two renders."""
    with WarmPool(2) as pool:
        before = set(pool.start().map(_pid, range(8)))
        assert pool.resize(0 if os.cpu_count() == 2 else 2).workers == 2
        before |= set(pool.map(_pid, range(8)))
        after = set(pool.resize(1).map(_pid, range(8)))
        assert len(after) == 1 and not after & before  # a pool of one, started afresh


SCRIPT = """---
title: Warm
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e", avatar: illustrated}
  SAM: {voice: "fake:b", color: "#3b82f6", avatar: illustrated}
video: {size: 256x144, fps: 25, layout: duo}
---
ALEX: Welcome back to the show, today we talk about tiny machines and the people who build them.
SAM: Thanks, it is a pleasure to be here and to talk about something I have loved for years.
ALEX: Let us start at the beginning, with the very first machine you built in your garage.
SAM: It was a clock, of all things, and it never once told the right time in its whole life.
ALEX: That sounds like a good start for an engineer, if you ask me, a clock that is always wrong.
SAM: It taught me patience more than anything else, and a little about gears and springs.
"""


def frame_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in container.decode(video=0)]


def test_a_warm_pool_renders_the_frames_a_cold_render_does_and_an_edit_redraws_one_chunk(
    tmp_path: Path, fake_config: Path
) -> None:
    script = tmp_path / "episode.md"
    script.write_text(SCRIPT, encoding="utf-8")
    config = load_render_config(fake_config)
    cold = render(script, RenderOptions(tmp_path / "cold", config=config, use_cache=False, flag_threshold=None))
    with WarmPool(2) as pool:
        options = RenderOptions(tmp_path / "warm", config=config, flag_threshold=None, chunk_pool=pool)
        warm = render(script, options)
        assert frame_hashes(warm.outputs["mp4"]) == frame_hashes(cold.outputs["mp4"])
        # The fourth line edited (no music under it): only the chunk that holds it is drawn again.
        script.write_text(SCRIPT.replace("of all things", "of all the things"), encoding="utf-8")
        edit = render(script, options)
    video = next(s for s in edit.metrics["stages"] if s["name"] == "video")  # type: ignore[attr-defined]
    assert video["chunks"] >= 4 and video["chunk_cache_misses"] == 1
    # ... handed to the pool as soon as the mix was made, while the audio was mastered: the same frames.
    assert video["chunks_drawn_early"] == 1
    again = render(script, RenderOptions(tmp_path / "again", config=config, use_cache=False, flag_threshold=None))
    assert frame_hashes(edit.outputs["mp4"]) == frame_hashes(again.outputs["mp4"])
    # What a worker gets: the chunk's window of the plan, pickled; it draws what the whole plan draws.
    video_config = VideoConfig.model_validate({"size": "256x144", "layout": "duo"}).model_dump(mode="json")
    spec = ChunkSpec(edit.timeline.to_json(), video_config, str(tmp_path), str(tmp_path / "c"),
                     EncoderChoice("libx264", "test"), RATE, "static")  # fmt: skip
    plan, chunks = frame_plan(spec), chunk_plan(edit.timeline, 25)
    mono = (np.random.default_rng(1).standard_normal(edit.timeline.duration) * 0.1).astype(np.float32)
    for task in with_audio(chunk_tasks(spec, plan, chunks[1:3], mono, RATE), mono, plan):
        assert task.window is not None and task.audio is not None
        shipped = pickle.loads(pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))
        drawn = render_frames(shipped.window, AudioFeatures(shipped.audio, RATE, 25))
        whole = chunk_frames(plan, task.chunk, task.audio, RATE)
        assert [hashlib.sha256(f).digest() for f in drawn] == [hashlib.sha256(f).digest() for f in whole]
