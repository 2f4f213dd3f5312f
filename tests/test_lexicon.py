"""The pronunciation lexicon: what it changes, where it is shown, and that only those lines are re-voiced."""

from __future__ import annotations

import json

from podforge.script.lexicon import Lexicon
from podforge.script.parser import load_script

SCRIPT = """
---
title: Lexicon
speakers:
  ALEX: {voice: "fake:a"}
  SAM: {voice: "fake:b"}
---
ALEX: Doctor Nguyen joined us from Worcester.
SAM: Glad to be here today.
ALEX: Thanks to nguyen for the Worcester Sauce tip.
"""


def test_respelling_is_whole_word_case_blind_longest_first():
    lexicon = Lexicon((("Worcester", "wuster"), ("Worcester Sauce", "wuster sauce"), ("SQL", "sequel")))
    said, used = lexicon.respell("worcester sauce, Worcestershire and SQL; mySQL.")
    assert said == "wuster sauce, Worcestershire and sequel; mySQL."
    assert used == ("Worcester Sauce", "SQL")


def test_lexicon_revoices_only_the_lines_it_changes(write_script, fake_config, run_cli, tmp_path, isolated_cache):
    script = write_script(SCRIPT)
    assert run_cli("render", script, "-o", tmp_path / "a", "--audio-only", "-c", fake_config)[0] == 0
    (tmp_path / "lexicon.yaml").write_text("Nguyen: win\nWorcester: wuster\n")
    code, out, _ = run_cli("check", script, "--show", "-c", fake_config)
    marked = [row for row in out.splitlines() if "lexicon:" in row]
    assert code == 0 and [row.split()[0] for row in marked] == ["7", "9"] and "Doctor win joined" in marked[0]
    code, out, _ = run_cli("render", script, "-o", tmp_path / "b", "--audio-only", "-c", fake_config)
    voices = json.loads((tmp_path / "b" / "episode.metrics.json").read_text())["stages"][1]
    assert code == 0 and (voices["cache_misses"], voices["cache_hits"]) == (2, 1)
    captions = (tmp_path / "b" / "episode.srt").read_text()
    assert "Nguyen" in captions and "win" not in captions  # captions show the written word


def test_front_matter_entries_win_and_lexicon_check_lists_lines(write_script, run_cli, tmp_path, monkeypatch):
    (tmp_path / "lexicon.yaml").write_text("Nguyen: win\nPodforge: pod forge\n")
    script = write_script(SCRIPT.replace("title: Lexicon", "title: Lexicon\nlexicon: {Nguyen: nwen}"))
    lines = load_script(script).lines
    assert lines[0].spoken.startswith("Doctor nwen joined") and lines[1].respelled == ()
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("lexicon", "check")
    assert code == 0 and "episode.md:8: Nguyen -> Doctor nwen" in out and "episode.md:10: Nguyen ->" in out
    assert "unused: Podforge" in out and "ok: 2 entries, 2 lines changed" in out


def test_bad_lexicon_is_a_located_error(write_script, run_cli, tmp_path):
    script = write_script(SCRIPT)
    (tmp_path / "lexicon.yaml").write_text("Nguyen: win\nWorcester: [1, 2]\n")
    code, _, err = run_cli("check", script)
    assert code == 2 and "lexicon.yaml:2:12: 'Worcester': give how to say it as text" in err
    (tmp_path / "lexicon.yaml").write_text("Nguyen: win\n  bad: : :\n")
    code, _, err = run_cli("check", script)
    assert code == 2 and "lexicon.yaml:2:" in err and "not valid YAML" in err and "Traceback" not in err
    code, _, err = run_cli("check", write_script(SCRIPT.replace("title: Lexicon", "title: L\nlexicon: [a]")))
    assert code == 2 and "front matter lexicon" in err
