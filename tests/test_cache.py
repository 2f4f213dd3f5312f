"""The content cache: every entry sealed with its SHA-256 and checked on read, first writer wins, LRU under a cap."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from media import audio_stream_info, decoded, loudness
from podforge._sealed import HEADER_BYTES, Corrupt, read_sealed
from podforge.cache import IN_USE_SECONDS, ContentCache

SCRIPT = """
---
title: Cache Show
speakers:
  ALEX: {voice: "fake:jitter"}
  SAM: {voice: "fake:b"}
video: {size: 320x180, layout: duo}
---
# Opening
[MUSIC: calm piano, 2s]
ALEX: Welcome to the show about caches.
SAM: Glad to be here today.
ALEX: Every entry is checked when it is read.
"""


def broken_entries(root: Path) -> list[Path]:
    """Entries whose content no longer matches their digest."""
    bad = []
    for entry in ContentCache(root).entries():
        try:
            read_sealed(entry.path, lambda reader: reader.drain())
        except Corrupt:
            bad.append(entry.path)
    return bad


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: max(HEADER_BYTES + 1, len(data) // 2)]))
    else:  # one flipped bit in the payload, the size unchanged
        data[HEADER_BYTES + (len(data) - HEADER_BYTES) // 2] ^= 0x10
        path.write_bytes(bytes(data))


def metrics_of(out: Path, stem: str = "episode") -> dict[str, dict[str, object]]:
    stages = json.loads((out / f"{stem}.metrics.json").read_text())["stages"]
    return {stage["name"]: stage for stage in stages}


def test_entries_round_trip_and_carry_their_checksum(tmp_path):
    cache = ContentCache(tmp_path)
    clip = np.linspace(-1, 1, 1000, dtype=np.float32)
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3_000_000))
    cache.put_array("clips", "ab12", clip)
    cache.put_text("align", "cd34", ".json", '{"words": []}')
    cache.put_file("videos", "ef56", ".mp4", source)
    assert np.array_equal(cache.get_array("clips", "ab12"), clip)
    assert cache.get_text("align", "cd34", ".json") == '{"words": []}'
    assert cache.copy_to("videos", "ef56", ".mp4", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()
    assert cache.get_array("clips", "none") is None and not cache.copy_to("videos", "x", ".mp4", tmp_path / "x")
    assert broken_entries(tmp_path) == [] and cache.corrupt == 0
    # A plain copy for what must be read by path: verified, at the same path each time, never an entry itself.
    plain = cache.get_file("videos", "ef56", ".mp4")
    assert plain is not None and plain.read_bytes() == source.read_bytes()
    assert cache.get_file("videos", "ef56", ".mp4") == plain and len(list(cache.entries())) == 3
    _age([plain], IN_USE_SECONDS + 10)
    ContentCache(tmp_path).evict()  # an old plain copy is swept (it is made again on demand), the entry stays
    assert not plain.exists() and cache.get_file("videos", "ef56", ".mp4") == plain and plain.exists()
    damage(cache._path("videos", "ef56", ".mp4"), "flip")
    assert cache.get_file("videos", "ef56", ".mp4") is None and cache.corrupt == 1


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_a_damaged_entry_is_a_miss_with_a_warning_and_is_removed(tmp_path, caplog, how):
    cache = ContentCache(tmp_path)
    cache.put_array("clips", "ab12", np.ones(5000, np.float32))
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(100_000))
    cache.put_file("videos", "ef56", ".mp4", source)
    for entry in cache.entries():
        damage(entry.path, how)
    with caplog.at_level(logging.WARNING, logger="podforge.cache"):
        assert cache.get_array("clips", "ab12") is None
        assert not cache.copy_to("videos", "ef56", ".mp4", tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert sum("is corrupt" in r.getMessage() for r in caplog.records) == 2 and cache.corrupt == 2
    assert list(cache.entries()) == []
    # ... and the next put writes it again (a broken entry never blocks its own repair).
    cache.put_array("clips", "ab12", np.ones(5000, np.float32))
    assert cache.get_array("clips", "ab12") is not None


def _race(root: str, length: int, barrier: multiprocessing.synchronize.Barrier) -> int:  # type: ignore[name-defined]
    barrier.wait()
    stored = ContentCache(Path(root)).put_array("clips", "race", np.full(length, length, np.float32))
    return int(stored.shape[0])


def test_the_first_writer_wins_and_every_loser_gets_its_clip(tmp_path):
    """Four processes store different clips under one key at the same moment: all use the one that was kept."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            lengths = pool.starmap(_race, [(str(tmp_path), 1000 + i, barrier) for i in range(4)])
    kept = ContentCache(tmp_path).get_array("clips", "race")
    assert kept is not None and set(lengths) == {kept.shape[0]}
    assert np.all(kept == kept.shape[0])  # one writer's content, not a mixture
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["race.npy"]


def test_every_kind_of_damaged_entry_is_rebuilt_by_the_next_render(
    write_script, fake_config, run_cli, tmp_path, isolated_cache, caplog
):
    # Deterministic voices: a jittery clip voiced again would change the timeline, so the episode and video
    # would get new keys and their damaged entries would never be read (only aged out).
    script = write_script(SCRIPT.replace("fake:jitter", "fake:a"))
    assert run_cli("render", script, "-o", tmp_path / "first", "-c", fake_config)[0] == 0
    entries = list(ContentCache(isolated_cache).entries())
    kinds = {entry.kind for entry in entries}
    assert kinds == {"clips", "align", "beds", "episodes", "masters", "videos", "chunks", "aac-tracks", "audio-lineage"}
    for i, entry in enumerate(entries):
        damage(entry.path, "truncate" if i % 2 else "flip")
    with caplog.at_level(logging.WARNING, logger="podforge.cache"):
        code, _, err = run_cli("render", script, "-o", tmp_path / "again", "-c", fake_config)
    assert code == 0, err
    warned = {r.getMessage().split()[2] for r in caplog.records if "is corrupt" in r.getMessage()}
    assert warned == {str(entry.path) for entry in entries}  # each one detected
    assert broken_entries(isolated_cache) == [] and len(list(ContentCache(isolated_cache).entries())) == len(entries)
    stages = metrics_of(tmp_path / "again")
    assert stages["voices"]["cache_misses"] == 3 and stages["audio"]["cached"] is False
    assert stages["video"]["cached"] is False
    for name in ("episode.mp3", "episode.mp4"):
        _, _, seconds = audio_stream_info(tmp_path / "again" / name)
        assert abs(seconds - audio_stream_info(tmp_path / "first" / name)[2]) < 0.1
    assert abs(loudness(decoded(tmp_path / "again" / "episode.mp3")) + 16.0) <= 0.5


def _age(paths: list[Path], seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    for path in paths:
        os.utime(path, (when, when))


def test_least_recently_used_entries_go_first(
    write_script, fake_config, run_cli, tmp_path, isolated_cache, monkeypatch
):
    """Over the cap, a render's eviction removes the least recently used entries, and only as many as needed."""
    old = ContentCache(isolated_cache)
    for i in range(4):
        old.put_array("clips", f"{i:02d}old", np.zeros(250_000, np.float32))  # 1 MB each
    olds = sorted(e.path for e in old.entries())
    for i, path in enumerate(olds):
        _age([path], IN_USE_SECONDS + 1000 * (4 - i))  # 00old is the least recently used
    script = write_script(SCRIPT)
    args = ("render", script, "-o", tmp_path / "o", "--audio-only", "-c", fake_config)
    assert run_cli(*args)[0] == 0
    used = {e.path for e in ContentCache(isolated_cache).entries()} - set(olds)
    used_bytes = sum(p.stat().st_size for p in used)
    # Room for this render's entries and two of the old ones.
    monkeypatch.setenv("PODFORGE_CACHE_MAX_GB", str((used_bytes + 2 * olds[0].stat().st_size + 100) / 1e9))
    _age(list(used), IN_USE_SECONDS + 100)  # no longer "recent", but newer than every old entry
    ContentCache(isolated_cache).get_array("clips", "00old")  # reading it makes it the most recently used
    code, _, err = run_cli(*args)
    assert code == 0, err
    left = {e.path for e in ContentCache(isolated_cache).entries()}
    assert left == used | {olds[0], olds[3]}  # 01old and 02old went: the least recently used, as many as needed
    code, out, _ = run_cli("cache", "ls")
    assert code == 0 and "5 clips" in out and "total" in out and "GB" in out


def test_eviction_never_removes_what_this_process_used_nor_what_another_used_recently(tmp_path):
    writer = ContentCache(tmp_path)
    for key in ("aa01", "aa02", "aa03", "aa04"):
        writer.put_array("clips", key, np.zeros(1000, np.float32))
    paths = {e.key: e.path for e in writer.entries()}
    _age([paths["aa01"], paths["aa02"], paths["aa04"]], IN_USE_SECONDS + 60)
    user = ContentCache(tmp_path, max_bytes=0)
    assert user.get_array("clips", "aa01") is not None
    user.pin("clips", "aa04")  # what this render's worker processes wrote
    _age([paths["aa01"]], IN_USE_SECONDS + 60)  # as if read long ago in this same (long) render
    assert user.evict() > 0
    # aa01: read by this render; aa04: pinned by it; aa03: written by another process moments ago; aa02: none
    # of these, so it goes.
    assert sorted(e.key for e in user.entries()) == ["aa01", "aa03", "aa04"]


def test_the_cap_comes_from_the_config_and_a_bad_env_value_is_refused(run_cli, tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("cache_max_gb: 0.25\n")
    code, out, _ = run_cli("cache", "ls", "-c", config)
    assert code == 0 and "of 0.25 GB" in " ".join(out.split())
    code, out, _ = run_cli("cache", "ls")
    assert code == 0 and "of 5 GB" in " ".join(out.split())
    monkeypatch.setenv("PODFORGE_CACHE_MAX_GB", "lots")
    code, _, err = run_cli("cache", "ls", "-c", config)
    assert code == 2 and "PODFORGE_CACHE_MAX_GB" in err and "Traceback" not in err


def test_temporary_files_of_dead_writers_are_swept(tmp_path):
    cache = ContentCache(tmp_path)
    cache.put_array("clips", "ab12", np.ones(10, np.float32))
    folder = tmp_path / "clips" / "ab"
    dead = folder / ".cd34.npy.tmp-999999999-0a1b2c3d"  # no such pid
    alive = folder / f".ef56.npy.tmp-{os.getpid()}-0a1b2c3d"
    dead.write_bytes(b"half")
    alive.write_bytes(b"being written")
    cache.evict()
    assert not dead.exists() and alive.exists() and (folder / "ab12.npy").exists()


def test_a_clip_voiced_again_after_eviction_is_aligned_again(tmp_path):
    """Alignments are keyed by the clip's content too: a jittery voice's second take (after the first was evicted)
    is another clip, not the first one's timings."""
    from podforge.align import align_timeline
    from podforge.timeline import SpeakerInfo, SpeechSegment, Timeline
    from podforge.voices.synth import CLIP_KIND, ClipRequest, voice_clips

    cache, text = ContentCache(tmp_path), "Welcome to the show."
    timings = []
    for _ in range(2):
        for _ in range(5):  # another take of another length (equal ones are a 1-in-1200 chance)
            cache.remove(CLIP_KIND, ClipRequest("fake:jitter", text).key(48_000))
            voiced = voice_clips([ClipRequest("fake:jitter", text)], cache, 48_000, workers=1)
            key = voiced.keys[0]
            length = voiced.lengths[key]
            if not timings or length != timings[0][0]:
                break
        segment = SpeechSegment(0, length, 1, "A", "fake:jitter", text, text, key)
        timeline = Timeline("T", 48_000, length, {"A": SpeakerInfo("A", "fake:jitter", "#e4572e")}, (segment,))
        timings.append((length, align_timeline(timeline, cache, workers=1).words[key]))
    (first_length, first), (second_length, second) = timings
    assert first_length != second_length
    assert max(word.end for word in first) <= first_length and max(word.end for word in second) <= second_length
    assert len([e for e in cache.entries() if e.kind == "align"]) == 2  # two takes, two alignments
