"""The listening check: real hibari speech heard by pocketsphinx; a voice that drops words is flagged."""

from __future__ import annotations

import json

import pytest

from podforge.listen import word_error_rate
from podforge.voices import registry

SCRIPT = """
---
title: Listening
speakers:
  ALEX: {voice: "hibari:heart"}
  SAM: {voice: "mumble:heart"}
---
ALEX: Welcome to the show, it is good to have you here.
SAM: Today we talk about forests and the rivers that feed them.
"""


@pytest.fixture
def mumble(monkeypatch: pytest.MonkeyPatch) -> None:
    info = registry.EngineInfo("mumble", "mumble_engine:MumbleEngine", ("heart",), ("hibari",), dist="hibari-tts")
    monkeypatch.setitem(registry.ENGINES, "mumble", info)
    registry.load_engine.cache_clear()


def test_word_error_rate_counts_edits_over_the_expected_words():
    assert word_error_rate(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == 0.0
    assert word_error_rate(["a", "b", "c", "d"], ["a", "c"]) == 0.5
    assert word_error_rate(["a", "b"], ["a", "x", "b", "y"]) == 1.0
    assert word_error_rate([], []) == 0.0


def test_a_voice_that_drops_words_is_flagged(mumble, write_script, run_cli, tmp_path, isolated_cache):
    config = tmp_path / "one.yaml"
    config.write_text("workers: 1\n")  # in this process, where the test engine is registered
    script = write_script(SCRIPT)
    code, out, err = run_cli("render", script, "-o", tmp_path / "out", "--audio-only", "-c", config)
    assert code == 0, err
    metrics = json.loads((tmp_path / "out" / "episode.metrics.json").read_text())
    flagged = metrics["lines_flagged"]
    assert [(f["line"], f["speaker"]) for f in flagged] == [(8, "SAM")] and flagged[0]["wer"] > 0.3
    listen = next(s for s in metrics["stages"] if s["name"] == "listen")
    assert (listen["lines_checked"], listen["clips_heard"]) == (2, 2)
    assert f"podforge takes {script} 8 --new" in out
    code, out, err = run_cli("render", script, "-o", tmp_path / "b", "--audio-only", "-c", config,
                             "--flag-threshold", "5")  # fmt: skip
    metrics = json.loads((tmp_path / "b" / "episode.metrics.json").read_text())
    assert code == 0 and metrics["lines_flagged"] == [] and "listening check" not in out
    assert next(s for s in metrics["stages"] if s["name"] == "listen")["clips_heard"] == 0  # cached per clip


def test_bad_threshold_is_a_flag_error(write_script, fake_config, run_cli, tmp_path):
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", tmp_path / "o", "--flag-threshold", "0")
    assert code == 2 and "--flag-threshold 0: give a word error rate above 0" in err
    assert not (tmp_path / "o").exists()


def test_takes_are_heard_before_choosing_and_the_render_reuses_it(
    mumble, write_script, run_cli, tmp_path, isolated_cache
):
    config = tmp_path / "one.yaml"
    config.write_text("workers: 1\n")  # in this process, where the test engine is registered
    script = write_script(SCRIPT)
    assert run_cli("takes", script, "8", "--new", "--voice", "hibari:heart")[0] == 0  # take 2, chosen
    code, out, err = run_cli("takes", script, "8", "--hear", "1")
    assert code == 0 and out.startswith("take 1: flagged, heard '") and "(WER " in out, err
    code, out, err = run_cli("takes", script, "8", "--hear", "2")
    assert code == 0 and "take 2: clean, heard 'today we talk about forests" in out, err
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "--preview", "-c", config)
    assert code == 0, err
    metrics = json.loads((tmp_path / "out" / "episode.metrics.json").read_text())
    stages = {s["name"]: s for s in metrics["stages"]}
    assert metrics["lines_flagged"] == []  # the chosen take is the clean one
    # Line 7 is new to the cache; line 8's chosen take was heard and aligned when it was checked.
    assert (stages["listen"]["lines_checked"], stages["listen"]["clips_heard"]) == (2, 1)
    assert (stages["align"]["cache_hits"], stages["align"]["cache_misses"]) == (1, 1)
    code, _, err = run_cli("takes", script, "8", "--hear", "3")
    assert code == 2 and "take 3: line 8 has takes 1 to 2" in err
