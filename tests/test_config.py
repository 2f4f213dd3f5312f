"""Layering settings: the config file, then the script's front matter, then command-line flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from podforge.config import FrontMatter, RenderConfig, VisualizerConfig, with_front_matter, with_video_flags


def test_front_matter_settings_stay_typed_when_laid_over_the_config_file() -> None:
    config = RenderConfig.model_validate({"video": {"fps": 30, "crf": 18}, "music": {"bed_db": -9}})
    front = FrontMatter.model_validate(
        {
            "title": "T",
            "speakers": {"ALEX": {}},
            "video": {"visualizer": {"kind": "spectrum", "color": "#ff0000"}, "crf": 23},
        }
    )
    merged = with_front_matter(config, front)
    assert isinstance(merged.video.visualizer, VisualizerConfig)
    assert (merged.video.visualizer.kind, merged.video.visualizer.color) == ("spectrum", "#ff0000")
    assert (merged.video.fps, merged.video.crf, merged.music.bed_db) == (30, 23, -9)
    flagged = with_video_flags(merged, {"fps": 25})
    assert isinstance(flagged.video.visualizer, VisualizerConfig) and flagged.video.fps == 25


def test_an_output_stem_in_the_config_file_names_the_files(
    write_script: Callable[..., Path], run_cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    script = write_script("---\ntitle: T\nspeakers:\n  ALEX: {}\n---\nALEX: Hello there.\n")
    config = tmp_path / "render.yaml"
    config.write_text("tts_engine: fake\noutput: {stem: show-001}\n", encoding="utf-8")
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "-c", config, "--audio-only")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.mp3")) == ["show-001.mp3"]


def test_a_visualiser_position_nobody_set_stays_unset_through_every_overlay() -> None:
    # The layout places a visualiser unless its position was chosen; filling in the defaults would move it.
    front = FrontMatter.model_validate(
        {"title": "T", "speakers": {"ALEX": {}}, "video": {"layout": "duo", "visualizer": {"kind": "waveform"}}}
    )
    merged = with_video_flags(with_front_matter(RenderConfig(), front), {"fps": 30})
    assert merged.video.visualizer is not None
    assert merged.video.visualizer.model_fields_set == {"kind"}
    assert merged.video.model_fields_set == {"layout", "visualizer", "fps"}
    chosen = FrontMatter.model_validate(
        {"title": "T", "speakers": {"ALEX": {}}, "video": {"visualizer": {"kind": "waveform", "y": 0.1}}}
    )
    placed = with_front_matter(RenderConfig(), chosen).video.visualizer
    assert placed is not None and placed.model_fields_set == {"kind", "y"} and placed.y == 0.1
