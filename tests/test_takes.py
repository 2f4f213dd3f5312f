"""Takes per line: the sidecar, the CLI, and a re-render that re-voices the chosen line alone."""

from __future__ import annotations

import json

import numpy as np

from media import decoded
from podforge.script.parser import load_script
from podforge.takes import choose_take, list_takes, load_takes, new_take, takes_path
from podforge.timeline import SpeechSegment, Timeline

SCRIPT = """
---
title: Takes
speakers:
  ALEX: {voice: "fake:a"}
  SAM: {voice: "fake:b"}
---
ALEX: Welcome to the show, it is good to have you here.
SAM: Glad to be here today.
ALEX: And that is the end of it.
"""


def _render(run_cli, script, out, config):
    code, _, err = run_cli("render", script, "-o", out, "--audio-only", "--wav", "-c", config)
    assert code == 0, err
    voices = json.loads((out / "episode.metrics.json").read_text())["stages"][1]
    timeline = Timeline.from_json((out / "episode.timeline.json").read_text())
    return voices, timeline, decoded(out / "episode.wav")


def _speech(timeline: Timeline, audio: np.ndarray) -> dict[int, np.ndarray]:
    scale = 48_000 / timeline.sample_rate
    return {s.line: audio[int(s.start * scale) : int(s.end * scale)] for s in timeline.of_kind(SpeechSegment)}


def test_second_take_chosen_revoices_that_line_alone(write_script, fake_config, run_cli, tmp_path, isolated_cache):
    script = write_script(SCRIPT)
    _, before, cold = _render(run_cli, script, tmp_path / "a", fake_config)
    assert run_cli("takes", script, "8", "--new", "--speed", "1.3")[0] == 0
    code, out, _ = run_cli("takes", script, "8", "--new")
    assert code == 0 and "* take 3: seed 2, speed x1" in out
    code, out, _ = run_cli("takes", script, "8", "--choose", "2")
    assert code == 0 and "* take 2: seed 1, speed x1.3" in out
    voices, after, warm = _render(run_cli, script, tmp_path / "b", fake_config)
    assert (voices["cache_misses"], voices["cache_hits"]) == (1, 2)
    old, new = _speech(before, cold), _speech(after, warm)
    changed = {s.line: s.clip for s in after.of_kind(SpeechSegment)}
    assert changed[8] != {s.line: s.clip for s in before.of_kind(SpeechSegment)}[8]
    assert len(new[8]) < 0.85 * len(old[8])  # the faster take is what the episode now says
    for line in (7, 9):
        a, b = old[line].ravel(), new[line][: len(old[line])].ravel()
        gain = float(np.dot(a, b) / np.dot(b, b))  # the master gain may differ, nothing else
        assert np.sqrt(np.mean((a - gain * b) ** 2)) < 0.02 * np.sqrt(np.mean(a**2))


def test_takes_follow_the_line_not_its_position(write_script, tmp_path):
    script = write_script(SCRIPT)
    new_take(load_script(script), 8, speed=0.9)
    assert choose_take(load_script(script), 8, 1).chosen == 1
    moved = script.read_text().replace("---\nALEX: Welcome", "---\nSAM: A new first line.\nALEX: Welcome")
    script.write_text(moved)
    takes = list_takes(load_script(script), 9)
    assert [t.speed for t in takes.takes] == [1.0, 0.9] and len(load_takes(script)) == 1


def test_bad_takes_requests_are_located_errors(write_script, run_cli, tmp_path):
    script = write_script(SCRIPT)
    code, _, err = run_cli("takes", script, "3")
    assert code == 2 and "episode.md:3:1: no spoken line starts here" in err
    code, _, err = run_cli("takes", script, "7", "--choose", "4")
    assert code == 2 and "line 7 has takes 1 to 1" in err
    takes_path(script).write_text("{not json")
    code, _, err = run_cli("takes", script, "7")
    assert code == 2 and err.startswith("error: episode.takes.json: not a takes file") and "Traceback" not in err
