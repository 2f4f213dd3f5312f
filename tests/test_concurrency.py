"""Renders in parallel processes sharing one cache, with a voice that (like piper) differs from run to run."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from media import audio_stream_info, decoded, loudness
from podforge.cache import ContentCache
from podforge.timeline import SpeechSegment, Timeline
from podforge.voices.synth import CLIP_KIND, ClipRequest, voice_clips
from test_cache import broken_entries, metrics_of

RATE = 48_000
LINES = (
    "First line here. It has three sentences. All of them jitter.",
    "Second line now. Another three sentences. Each one varies.",
    "Third and last. Three more sentences. Then we are done.",
)


def _voice(root: str, barrier: multiprocessing.synchronize.Barrier) -> tuple[dict[str, int], int]:  # type: ignore[name-defined]
    requests = [ClipRequest("fake:jitter", text) for text in LINES]
    barrier.wait()
    result = voice_clips(requests, ContentCache(Path(root)), RATE, workers=1)
    return result.lengths, result.misses


def test_two_processes_voicing_the_same_lines_plan_with_the_clips_they_will_mix(tmp_path):
    """Both voice every line at once (each sentence takes 0.1 s, so both miss); each clip differs in length
    between the two, yet both come back with the lengths of the one clip per line the cache kept."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(2)
        with ctx.Pool(2) as pool:
            (first, first_misses), (second, second_misses) = pool.starmap(_voice, [(str(tmp_path), barrier)] * 2)
    assert (first_misses, second_misses) == (3, 3)  # a real race: both synthesised every line
    cache = ContentCache(tmp_path)
    kept = {key: cache.get_array(CLIP_KIND, key) for key in first}
    assert first == second == {key: clip.shape[0] for key, clip in kept.items() if clip is not None}
    assert len(list(cache.entries())) == 3


SCRIPT = """
---
title: {title}
speakers:
  ALEX: {{voice: "fake:jitter"}}
  SAM: {{voice: "fake:b"}}
video: {{size: 320x180, layout: duo}}
---
# Opening
ALEX: {first}
SAM: Glad to be here. It is a good day.
ALEX: Two renders, one cache. Nothing mixed up.
"""


def _script(folder: Path, name: str, title: str, first: str) -> Path:
    path = folder / f"{name}.md"
    path.write_text(textwrap.dedent(SCRIPT.format(title=title, first=first)).lstrip(), encoding="utf-8")
    return path


def _render(script: Path, out: Path, config: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out), "-c", str(config), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))


def _assert_episode(out: Path, stem: str) -> Timeline:
    timeline = Timeline.from_json((out / f"{stem}.timeline.json").read_text())
    for ext in ("mp3", "mp4"):
        _, _, seconds = audio_stream_info(out / f"{stem}.{ext}")
        assert abs(seconds - timeline.seconds) < 0.1, ext
    assert abs(loudness(decoded(out / f"{stem}.mp3")) + 16.0) <= 0.5
    return timeline


def test_parallel_renders_share_one_cache(tmp_path, isolated_cache, run_cli):
    """Three renders at once, two of one script and one of another; then a fourth finds every clip cached."""
    config = tmp_path / "fake.yaml"
    config.write_text("tts_engine: fake\nworkers: 1\n")
    same = _script(tmp_path, "same", "Same", "Welcome to the show. Let us begin now.")
    other = _script(tmp_path, "other", "Other", "A different opening. With other words.")
    jobs = [(same, tmp_path / "a1"), (same, tmp_path / "a2"), (other, tmp_path / "b")]
    procs = [_render(script, out, config) for script, out in jobs]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    timelines = [_assert_episode(out, script.stem) for script, out in jobs]
    # The two renders of one script planned with the same clips (the ones the cache kept), so they match.
    assert timelines[0].to_json() == timelines[1].to_json()
    cache = ContentCache(isolated_cache)
    for timeline in timelines:
        for seg in timeline.of_kind(SpeechSegment):
            clip = cache.get_array(CLIP_KIND, seg.clip)
            assert clip is not None and seg.length == clip.shape[0]
    assert broken_entries(isolated_cache) == []
    assert not [p for p in isolated_cache.rglob(".*.tmp-*")]
    for script, name in ((same, "c1"), (other, "c2")):
        code, _, err = run_cli("render", script, "-o", tmp_path / name, "--audio-only", "-c", config)
        assert code == 0, err
        voices = metrics_of(tmp_path / name, script.stem)["voices"]
        assert voices["cache_misses"] == 0 and voices["cache_hits"] == 3
    misses = [json.loads((out / f"{s.stem}.metrics.json").read_text())["stages"][1]["cache_misses"] for s, out in jobs]
    print(f"voices cache misses in the parallel renders (same, same, other): {misses}")
    assert sum(misses) >= 4  # every distinct line voiced at least once (two lines are in both scripts)


@pytest.mark.slow
def test_two_piper_renders_of_one_script_at_once_agree(tmp_path, isolated_cache):
    """The real non-deterministic engine: piper's takes of one sentence differ in length from run to run."""
    pytest.importorskip("piper")
    script = tmp_path / "piper.md"
    script.write_text(
        "---\nspeakers:\n  JOE: {voice: 'piper:joe'}\n---\nJOE: Two renders at once share one cache.\n"
        "JOE: Each mixes the take that was kept.\n",
        encoding="utf-8",
    )
    config = tmp_path / "one.yaml"
    config.write_text("workers: 1\n")
    outs = [tmp_path / "p1", tmp_path / "p2"]
    procs = [_render(script, out, config, "--audio-only") for out in outs]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    # Both checked the cache before either had loaded piper, so both voiced both lines: a real race.
    assert [metrics_of(out, "piper")["voices"]["cache_misses"] for out in outs] == [2, 2]
    timelines = [Timeline.from_json((out / "piper.timeline.json").read_text()) for out in outs]
    assert timelines[0].to_json() == timelines[1].to_json()
    cache = ContentCache(isolated_cache)
    for seg in timelines[0].of_kind(SpeechSegment):
        clip = cache.get_array(CLIP_KIND, seg.clip)
        assert clip is not None and seg.length == clip.shape[0]
