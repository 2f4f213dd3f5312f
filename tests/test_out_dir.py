"""OUT as users get it wrong: a file, a path through a file, read-only, a full disk, spaces and unicode."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from media import audio_stream_info

SCRIPT = "ALEX: Hello there.\nSAM: Hi.\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@contextlib.contextmanager
def mounted(target: Path, *options: str) -> Iterator[None]:
    """A real mount (root only), or skip: CI runners without CAP_SYS_ADMIN use the simulated tests."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", *options, str(target)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount here ({exc})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def test_out_that_is_a_file_is_refused_before_synthesis(write_script, run_cli, fake_config, tmp_path, isolated_cache):
    taken = tmp_path / "episode.mp3"
    taken.write_bytes(b"my old episode")
    for out in (taken, taken / "sub"):
        code, out_text, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--audio-only")
        assert code == 2 and out_text == ""
        assert err.startswith(f"error: -o {out}: ") and err.count("\n") == 1, err
        assert "is a file" in err
    assert taken.read_bytes() == b"my old episode"
    assert not list(isolated_cache.rglob("*.npy"))  # refused before any voice was made


def test_read_only_out_is_refused_before_synthesis(write_script, run_cli, fake_config, tmp_path, isolated_cache):
    source, target = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    (source / "old.mp3").write_bytes(b"previous")
    target.mkdir()
    if os.geteuid() != 0:
        target.chmod(0o555)
        context: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    else:  # root ignores permissions: a read-only bind mount is the real thing
        context = _read_only_bind(source, target)
    with context:
        code, _, err = run_cli("render", write_script(SCRIPT), "-o", target, "-c", fake_config, "--audio-only")
    assert code == 2
    assert err.startswith(f"error: -o {target}: cannot write there (") and "choose a folder" in err, err
    assert not list(isolated_cache.rglob("*.npy"))


@contextlib.contextmanager
def _read_only_bind(source: Path, target: Path) -> Iterator[None]:
    with mounted(target, "--bind", str(source)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield


def test_full_disk_mid_render_keeps_the_previous_episode(write_script, run_cli, fake_config, tmp_path) -> None:
    disk = tmp_path / "disk"
    with mounted(disk, "-t", "tmpfs", "-o", "size=2m", "tmpfs"):
        out = disk / "out"
        assert run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--audio-only")[0] == 0
        before = snapshot(out)
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 8192))
        longer = SCRIPT + "ALEX: And now a much longer line, so that the new episode needs more room.\n"
        code, _, err = run_cli("render", write_script(longer), "-o", out, "-c", fake_config, "--audio-only")
        assert code == 1
        assert err.startswith(f"error: -o {out}: no room to write the episode (No space left on device)"), err
        assert snapshot(out) == before  # nothing partial, no staging folder left, the old files intact


def test_file_size_limit_mid_render_keeps_the_previous_episode(write_script, run_cli, fake_config, tmp_path) -> None:
    # The same failure without root: RLIMIT_FSIZE makes a write past 20 kB fail with EFBIG, as a full disk would.
    out, script = tmp_path / "out", write_script(SCRIPT)
    assert run_cli("render", script, "-o", out, "-c", fake_config, "--audio-only")[0] == 0
    before = snapshot(out)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:  # --wav: the master is made again (it is not in the cache as WAV), so the MP3 is written anew
        code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--audio-only", "--wav")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert code == 1
    assert err.startswith(f"error: -o {out}: no room to write the episode (File too large)"), err
    assert snapshot(out) == before


def test_spaces_and_unicode_in_every_path(run_cli, fake_config, tmp_path: Path) -> None:
    folder = tmp_path / "dossier à"
    folder.mkdir()
    script = folder / "mon épisode ✓.md"
    script.write_text("---\ntitle: Été ✓\n---\nALEX: Hello there, ça va?\nSAM: Oui.\n", encoding="utf-8")
    out = tmp_path / "sortie ü" / "x y"
    code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--size", "256x144")
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"mon épisode ✓{s}" for s in (".mp3", ".mp4", ".srt", ".vtt", ".chapters.json",
                                                           ".timeline.json", ".metrics.json"))  # fmt: skip
    codec, _, seconds = audio_stream_info(out / "mon épisode ✓.mp4")
    assert codec == "aac" and seconds > 1.0


def test_a_folder_where_an_output_goes_leaves_out_as_it_was(write_script, run_cli, fake_config, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "episode.srt").mkdir(parents=True)
    (out / "episode.mp3").write_bytes(b"last week")
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--audio-only")
    assert code == 2 and err.startswith(f"error: -o {out}: episode.srt is a folder there"), err
    assert sorted(p.name for p in out.iterdir()) == ["episode.mp3", "episode.srt"]
    assert (out / "episode.mp3").read_bytes() == b"last week"  # not half old, half new
