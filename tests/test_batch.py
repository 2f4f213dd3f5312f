"""`podforge batch` renders a folder of scripts; `--executor` picks what draws the chunks (Ray in a slow test)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from media import decoded

EPISODE = """---
title: Episode {n}
speakers:
  ALEX: {{voice: "fake:a", color: "#e4572e"}}
  SAM: {{voice: "fake:b", color: "#3b82f6"}}
video: {{size: 320x180, fps: 25, layout: duo}}
---
ALEX: This is episode number {n}, and it is short.
SAM: Short and sweet, see you next time.
"""


def season(folder: Path, count: int = 2, broken: bool = False) -> Path:
    folder.mkdir()
    for n in range(1, count + 1):
        (folder / f"ep{n}.md").write_text(EPISODE.format(n=n), encoding="utf-8")
    if broken:
        (folder / "ep9.md").write_text("---\ntitle: Broken\nspeakers:\n  ALEX: {voice: 3}\n---\nBOB: hi\n")
    return folder


def test_batch_renders_every_script_and_reports_the_broken_one(tmp_path: Path, fake_config: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = season(tmp_path / "season", broken=True)
    code, out, err = run_cli("batch", folder, "-o", tmp_path / "out", "-c", fake_config, "--audio-only")
    assert code == 1
    for n in (1, 2):
        audio = decoded(tmp_path / "out" / f"ep{n}" / f"ep{n}.mp3")
        assert audio.shape[0] > 48_000
    assert "2 of 3 scripts rendered" in out
    lines = err.strip().splitlines()
    assert lines[:-1] and all(line.startswith("error: ep9.md:") for line in lines[:-1])
    assert lines[-1].startswith("error: 1 of 3 scripts failed")
    assert not (tmp_path / "out" / "ep9").exists()


def test_bad_executor_and_folder_are_refused(tmp_path: Path, fake_config: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = season(tmp_path / "season", count=1)
    code, _, err = run_cli("render", folder / "ep1.md", "-o", tmp_path / "o", "-c", fake_config, "--executor", "gpu")
    assert (
        code == 2
        and err.startswith("error: --executor 'gpu': use local, inline, ray")
        and not (tmp_path / "o").exists()
    )
    code, _, err = run_cli("batch", tmp_path / "nowhere", "-o", tmp_path / "o", "-c", fake_config)
    assert code == 2 and "not a folder" in err


def test_a_ray_address_it_cannot_use_is_a_flag_error(tmp_path: Path, fake_config: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray")
    folder = season(tmp_path / "season", count=1)
    code, _, err = run_cli("render", folder / "ep1.md", "-o", tmp_path / "o", "-c", fake_config, "--executor", "ray=::")
    assert code == 2 and err.startswith("error: --executor ray=::: cannot join a Ray cluster there"), err
    assert not any((tmp_path / "o").glob("ep1.*"))


@pytest.mark.slow
def test_ray_executor_draws_the_chunks_and_batch_spreads_scripts(tmp_path: Path, fake_config: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        folder = season(tmp_path / "season")
        code, _, err = run_cli("render", folder / "ep1.md", "-o", tmp_path / "one", "-c", fake_config,
                               "--executor", "ray")  # fmt: skip
        assert code == 0, err
        with av.open(str(tmp_path / "one" / "ep1.mp4")) as container:
            expected = container.streams.video[0].frames
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == expected > 25
        assert '"executor": "ray"' in (tmp_path / "one" / "ep1.metrics.json").read_text()
        code, out, err = run_cli("batch", folder, "-o", tmp_path / "all", "-c", fake_config, "--executor", "ray")
        assert code == 0, err
        assert "2 of 2 scripts rendered" in out
        assert all((tmp_path / "all" / f"ep{n}" / f"ep{n}.mp4").stat().st_size > 10_000 for n in (1, 2))
    finally:
        ray.shutdown()
