"""Layering settings: the config file, then the script's front matter, then command-line flags."""

from __future__ import annotations

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
