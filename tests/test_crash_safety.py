"""kill -9 a render at points in its stages, then render again: it completes, reuses what was cached, and OUT
never holds a truncated file (only the earlier complete outputs, or complete new ones)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import av
import psutil
import pytest

from media import audio_stream_info, decoded, loudness
from podforge.cache import ContentCache
from podforge.timeline import Timeline
from test_cache import broken_entries, metrics_of

SCRIPT = """---
title: Crash Test
speakers:
  ALEX: {{voice: "fake:jitter"}}
  SAM: {{voice: "fake:b"}}
video: {{size: 320x180, layout: duo}}
---
# Opening
[MUSIC: calm piano, 2s]
ALEX: Welcome back to the show, version {version}.
SAM: What happens when a render is killed?
ALEX: The next one picks up what was cached, version {version}.
SAM: And the outputs are whole or absent.
"""
POLL_SECONDS = 0.002


def _write(folder: Path, version: int) -> Path:
    path = folder / "crash.md"
    path.write_text(SCRIPT.format(version=version), encoding="utf-8")
    return path


def _staging(out: Path) -> list[Path]:
    """Staging folders (the probe file that checks OUT is writable is no render's staging)."""
    return [p for p in out.glob(".podforge-*") if p.is_dir()] if out.exists() else []


def _leftovers(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.startswith(".podforge-")]


def _files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _reached(point: str, out: Path, cache: Path, clips_before: int) -> bool:
    if point == "voices":  # a new clip is being written or was written
        return _files(cache / "clips") > clips_before
    staged = _staging(out)
    if point == "mix":  # the staging folder exists, the mp3 not yet: mixing and mastering
        return any(not (folder / "crash.mp3").exists() for folder in staged)
    return any((folder / "crash.mp4").exists() and (folder / "crash.mp4").stat().st_size > 0 for folder in staged)


def _kill_at(proc: subprocess.Popen[bytes], reached: object) -> bool:
    """SIGKILL the render once ``reached()`` is true; False if it finished first. Its workers must follow it."""
    while proc.poll() is None:
        if reached():  # type: ignore[operator]
            workers = _workers_of(proc.pid)
            proc.kill()
            proc.wait()
            _, alive = psutil.wait_procs(workers, timeout=10)
            for left in alive:
                left.kill()
            assert alive == [], f"a killed render left workers running: {[p.pid for p in alive]}"
            return True
        time.sleep(POLL_SECONDS)
    return False


def _workers_of(pid: int) -> list[psutil.Process]:
    """The render's pool, lane and encoder workers (not the forkserver and resource tracker, which Python's
    multiprocessing starts and which end with their last worker or on their own)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    return [c for c in children if c.ppid() != pid]


def _whole(path: Path) -> bool:
    """A finished output: media decodes to its end, JSON parses, captions end with a newline."""
    if path.suffix in {".mp3", ".mp4"}:
        with av.open(str(path)) as container:
            declared = float(container.duration or 0) / 1e6
            stream = container.streams.audio[0]
            decoded_s = sum(frame.samples / frame.sample_rate for frame in container.decode(stream))
        return declared > 0 and abs(decoded_s - declared) < 0.1
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return bool(json.loads(text))
    return text.endswith("\n")


def _check_out(out: Path, before: dict[str, bytes]) -> None:
    for path in (p for p in out.iterdir() if not p.name.startswith(".")):
        # Either the earlier render's file, untouched, or one of the new render's, complete.
        assert path.read_bytes() == before.get(path.name) or _whole(path), path.name


def _run_and_kill(script: Path, out: Path, config: Path, reached: object) -> bool:
    """Render ``script`` and SIGKILL it once ``reached()``; OUT is checked either way. False if it finished first
    (a loaded machine can starve the poller), and then it must have succeeded."""
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} if out.exists() else {}
    log = out.parent / "stderr.log"
    with log.open("wb") as err:
        command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out), "-c", str(config)]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
        killed = _kill_at(proc, reached)
    _check_out(out, before)
    assert killed or proc.returncode == 0, log.read_text()
    return killed


def _crash_and_recover(tmp_path: Path, cache: Path, run_cli: object, delays: list[float]) -> dict[str, object]:
    config = tmp_path / "fake.yaml"
    config.write_text("tts_engine: fake\nworkers: 1\n")
    out = tmp_path / "out"
    code, _, err = run_cli("render", _write(tmp_path, 1), "-o", out, "-c", config)  # type: ignore[operator]
    assert code == 0, err
    kills: list[str] = []
    version = 1
    for point in ("voices", "mix", "video"):
        for _ in range(3):  # each try a new version of two lines, so that the stage has work to do again
            version += 1
            script, clips = _write(tmp_path, version), _files(cache / "clips")
            if _run_and_kill(script, out, config, lambda point=point, n=clips: _reached(point, out, cache, n)):
                kills.append(point)
                break
    assert _staging(out), "a killed render leaves its staging folder (the next render must remove it)"
    for delay in delays:
        version += 1
        script = _write(tmp_path, version)
        deadline = time.monotonic() + delay
        if _run_and_kill(script, out, config, lambda deadline=deadline: time.monotonic() > deadline):
            kills.append(f"after {delay:.2f} s")
    code, _, err = run_cli("render", script, "-o", out, "-c", config)  # type: ignore[operator]
    assert code == 0, err
    return {"kills": kills, "out": out, "script": script}


def _assert_recovered(result: dict[str, object], cache: Path) -> dict[str, dict[str, object]]:
    out = result["out"]
    assert isinstance(out, Path)
    assert _leftovers(out) == []  # the killed renders' staging folders were removed
    timeline = Timeline.from_json((out / "crash.timeline.json").read_text())
    for ext in ("mp3", "mp4"):
        assert abs(audio_stream_info(out / f"crash.{ext}")[2] - timeline.seconds) < 0.1
        assert _whole(out / f"crash.{ext}")
    assert abs(loudness(decoded(out / "crash.mp3")) + 16.0) <= 0.5
    assert broken_entries(cache) == [] and not list(cache.rglob(".*.tmp-*"))
    assert len(list(ContentCache(cache).entries())) > 0
    return metrics_of(out, "crash")


def test_a_render_killed_in_voices_mix_and_video_recovers(tmp_path, isolated_cache, run_cli):
    result = _crash_and_recover(tmp_path, isolated_cache, run_cli, delays=[])
    print(f"faults injected: {result['kills']}")
    assert result["kills"] == ["voices", "mix", "video"]
    stages = _assert_recovered(result, isolated_cache)
    # Voiced before the kills (mix and video came after the voices): nothing is voiced again ...
    assert stages["voices"]["cache_misses"] == 0 and stages["voices"]["cache_hits"] == 4
    # ... and the episode audio finished before the kill mid video. The MP4 in staging is joined from chunks that
    # are all drawn and cached by then, so nothing is drawn again: the kill landed either before the joined file
    # reached the cache (it is joined anew from cached chunks) or after (the whole file comes from the cache).
    assert stages["audio"]["cached"] is True
    video = stages["video"]
    assert video["cached"] is True or (video["chunk_cache_misses"] == 0 and video["chunk_cache_hits"] > 0)


@pytest.mark.slow
def test_renders_killed_at_random_moments_never_leave_a_truncated_output(tmp_path, isolated_cache, run_cli):
    delays = [random.Random(seed).uniform(0.5, 6.0) for seed in range(10)]
    result = _crash_and_recover(tmp_path, isolated_cache, run_cli, delays=delays)
    print(f"faults injected: {result['kills']}")
    stages = _assert_recovered(result, isolated_cache)
    assert stages["voices"]["cache_hits"] > 0


def test_a_render_removes_what_killed_renders_left_in_out_and_nothing_else(tmp_path, run_cli):
    out = tmp_path / "out"
    dead, live = out / ".podforge-999999999-abcd1234", out / f".podforge-{os.getpid()}-abcd1234"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "crash.mp3").write_bytes(b"half an mp3")
    old_probe, new_probe = out / ".podforge-probe-old", out / ".podforge-probe-new"
    old_probe.touch()
    new_probe.touch()
    os.utime(old_probe, (time.time() - 120, time.time() - 120))
    (tmp_path / "fake.yaml").write_text("tts_engine: fake\n")
    code, _, err = run_cli("render", _write(tmp_path, 1), "-o", out, "--audio-only", "-c", tmp_path / "fake.yaml")
    assert code == 0, err
    # Another live render's staging folder and a probe that may be in use stay; a dead render's leftovers go.
    assert sorted(p.name for p in _leftovers(out)) == sorted([live.name, new_probe.name])
    assert _whole(out / "crash.mp3")
