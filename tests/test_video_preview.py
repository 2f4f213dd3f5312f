"""A quick preview renders only a stretch of the video: the same frames the full render has there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media import decoded, rgb_frames
from podforge.config import load_render_config
from podforge.errors import ConfigError
from podforge.pipeline import RenderOptions, render

SCRIPT = """---
title: Preview
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e"}
  SAM: {voice: "fake:b", color: "#3b82f6"}
video: {size: 320x180, fps: 25, layout: duo}
---
ALEX: Welcome to the show, it is good to have you here.
SAM: Glad to be here today, thank you.
"""


def test_preview_is_the_full_render_cut_to_the_window(tmp_path: Path, fake_config: Path) -> None:
    script = tmp_path / "episode.md"
    script.write_text(SCRIPT, encoding="utf-8")
    config = load_render_config(fake_config)
    full = render(script, RenderOptions(out_dir=tmp_path / "full", config=config))
    preview = render(script, RenderOptions(out_dir=tmp_path / "preview", config=config, preview=(1.0, 2.2)))
    whole, part = rgb_frames(full.outputs["mp4"]), rgb_frames(preview.outputs["mp4"])
    assert len(part) == 30  # 1.2 s at 25 fps
    for k in (0, 12, 29):
        assert np.abs(part[k] - whole[25 + k]).mean() < 4.0, k
    assert np.abs(part[12] - whole[5]).mean() > np.abs(part[12] - whole[37]).mean()
    audio = decoded(preview.outputs["mp4"])
    assert abs(audio.shape[0] / 48_000 - 1.2) < 0.05
    assert preview.metrics["stages"] and full.timeline.seconds > 2.2


def test_bad_window_is_refused(tmp_path: Path, fake_config: Path) -> None:
    script = tmp_path / "episode.md"
    script.write_text(SCRIPT, encoding="utf-8")
    options = RenderOptions(out_dir=tmp_path / "o", config=load_render_config(fake_config), preview=(3.0, 1.0))
    with pytest.raises(ConfigError, match="start before the end"):
        render(script, options)
    assert not (tmp_path / "o").exists()


def test_cli_preview_flag(tmp_path: Path, fake_config: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "episode.md"
    script.write_text(SCRIPT, encoding="utf-8")
    code, _, err = run_cli("render", script, "-o", tmp_path / "bad", "-c", fake_config, "--from", "0", "--to", "soon")
    assert code == 2 and err.startswith("error: --to 'soon': write a time") and not (tmp_path / "bad").exists()
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "-c", fake_config, "--from", "0", "--to", "0:01")
    assert code == 0, err
    assert len(rgb_frames(tmp_path / "out" / "episode.mp4")) == 25
