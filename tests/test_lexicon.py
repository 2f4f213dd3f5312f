"""The pronunciation lexicon: what it changes, where it is shown, and that only those lines are re-voiced."""

from __future__ import annotations

import itertools
import json

import numpy as np

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


def test_a_respelling_with_another_word_count_times_the_written_words_from_real_speech(write_script, tmp_path):
    """ "SQL" said "sequel" (3 letters, 1 word), "AWS" said "amazon web services" (1 token, 3 words), "Dr." said
    "doctor": the captions and transcripts show the written words, each timed from the words said for it."""
    from podforge.align import align_clip
    from podforge.outputs import sentence_spans
    from podforge.timeline import SpeechSegment
    from podforge.visuals.captions import caption_word_times
    from podforge.voices.synth import ClipRequest, synthesize_clip

    (tmp_path / "lexicon.yaml").write_text("SQL: sequel\nAWS: amazon web services\n")
    line = load_script(write_script(SCRIPT.replace("Glad to be here today.", "We ran SQL on AWS with Dr. Li."))).lines[
        1
    ]
    assert line.spoken == "We ran sequel on amazon web services with Doctor Li."
    clip = synthesize_clip(ClipRequest("hibari:heart", line.spoken), 48_000)
    words = align_clip(clip, line.spoken)
    assert [w.word for w in words] == ["we", "ran", "sequel", "on", "amazon", "web", "services", "with", "doctor", "li"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(words)) and words[-1].end <= len(clip)
    assert 0.15 <= (words[2].end - words[2].start) / 48_000 <= 1.0  # "sequel" is a word's length, not a frame
    start = 48_000  # the line one second into the episode
    segment = SpeechSegment(start, start + len(clip), line.at.line, "SAM", "hibari:heart", line.text, line.spoken, "c")
    times = caption_word_times(segment, words)
    assert [t for t, _, _ in times] == ["We", "ran", "SQL", "on", "AWS", "with", "Dr.", "Li."]
    spans = {token: (a - start, b - start) for token, a, b in times}
    assert spans["SQL"] == (words[2].start, words[2].end)
    assert spans["AWS"] == (words[4].start, words[6].end)
    assert spans["Dr."] == (words[8].start, words[8].end) and spans["Li."] == (words[9].start, words[9].end)
    sentences = sentence_spans(segment, words)  # the transcripts' cues
    assert " ".join(text for text, _, _ in sentences) == line.text
    assert (sentences[0][1], sentences[-1][2]) == (start + words[0].start, start + words[-1].end)


PHONEMES = """
---
title: Phonemes
speakers:
  ALEX: {voice: "hibari:heart"}
  SAM: {voice: "piper:joe"}
---
ALEX: We use GIF files.
SAM: We use GIF files.
"""


def _heard_gif_or_jif(clip) -> str:
    """Which of two words differing only in their first sound a recogniser hears in "we use ... files"."""
    from pocketsphinx import Decoder, get_model_path

    from podforge.align import ALIGN_RATE
    from podforge.audio.dsp import resample

    model = get_model_path()
    decoder = Decoder(samprate=ALIGN_RATE, hmm=f"{model}/en-us/en-us", dict=f"{model}/en-us/cmudict-en-us.dict",
                      lm=None, loglevel="FATAL")  # fmt: skip
    decoder.add_word("gif", "G IH F", True)  # "jif" is in the dictionary as JH IH F
    decoder.add_jsgf_string("g", "#JSGF V1.0;\ngrammar g;\npublic <g> = we use ( gif | jif ) files ;\n")
    decoder.activate_search("g")
    decoder.start_utt()
    decoder.process_raw((np.clip(resample(clip, 48_000, ALIGN_RATE), -1, 1) * 32767).astype("<i2").tobytes(),
                        full_utt=True)  # fmt: skip
    decoder.end_utt()
    return decoder.hyp().hypstr.split()[2]


def test_phonemes_reach_piper_and_hibari_and_the_aligner_still_times_the_word(write_script, tmp_path):
    from podforge.align import align_clip
    from podforge.pipeline import check, clip_requests
    from podforge.voices.synth import ClipRequest, synthesize_clip

    script = write_script(PHONEMES)
    plain = [synthesize_clip(r, 48_000) for r in clip_requests(check(script).script, check(script).cast)]
    (tmp_path / "lexicon.yaml").write_text("GIF: {piper: dʒˈɪf, hibari: ʤˈɪf}\n", encoding="utf-8")
    checked = check(script)
    assert checked.warnings == [] and [line.spoken for line in checked.script.lines] == ["We use GIF files."] * 2
    requests = clip_requests(checked.script, checked.cast)
    assert [r.text for r in requests] == ["We use [GIF](/ʤˈɪf/) files.", "We use [[dʒˈɪf]] files."]
    from podforge.takes import Take, take_request  # a take in another voice gets that engine's phonemes

    swapped = take_request(requests[1], Take(seed=2, voice="hibari:heart"), checked.script, checked.script.lines[1])
    assert (swapped.voice_id, swapped.text) == ("hibari:heart", requests[0].text)
    said = [synthesize_clip(r, 48_000) for r in requests]
    assert [_heard_gif_or_jif(c) for c in plain] == ["gif", "gif"]
    assert [_heard_gif_or_jif(c) for c in said] == ["jif", "jif"]  # what the phonemes say, in both engines
    # hibari is deterministic: its phonemes give exactly the clip of a respelling with those phonemes.
    assert np.array_equal(said[0], synthesize_clip(ClipRequest("hibari:heart", "We use jif files."), 48_000))
    for clip in said:  # the spoken text still says "GIF", which the aligner times in the new audio
        words = align_clip(clip, "We use GIF files.")
        assert [w.word for w in words] == ["we", "use", "gif", "files"]
        assert all(a.end <= b.start for a, b in itertools.pairwise(words)) and words[-1].end <= len(clip)
        assert 0.1 <= (words[2].end - words[2].start) / 48_000 <= 0.8


def test_phonemes_an_engine_cannot_take_are_flagged_at_the_entry(write_script, run_cli, tmp_path):
    script = write_script(PHONEMES.replace('"piper:joe"', '"fake:a"'))
    (tmp_path / "lexicon.yaml").write_text("Intro: hi\nGIF: {say: jif, hibari: ʤˈɪf}\n", encoding="utf-8")
    code, _, err = run_cli("check", script)
    assert code == 0 and "warning: lexicon.yaml:2:1: 'GIF': fake voices line 8, saying 'jif'" in err
    (tmp_path / "lexicon.yaml").write_text("GIF: {hibari: ʤˈɪf%}\nSQL: {sey: sequel}\n", encoding="utf-8")
    code, _, err = run_cli("check", script)
    assert code == 2 and "lexicon.yaml:1:1: 'GIF': hibari has no phonemes %" in err
    assert "lexicon.yaml:2:12: 'SQL': 'sey' is not a lexicon key; give say, piper, hibari" in err
    assert "Traceback" not in err
    front = PHONEMES.replace('"piper:joe"', '"fake:a"').replace(
        "title: Phonemes", "title: P\nlexicon: {GIF: {hibari: ʤˈɪf}}"
    )
    code, _, err = run_cli("check", write_script(front, "front.md"))
    assert code == 2 and "lexicon.yaml:2:12: 'SQL'" in err and "'GIF'" not in err  # the front matter's entry wins
    (tmp_path / "lexicon.yaml").unlink()
    code, _, err = run_cli("check", tmp_path / "front.md")
    assert code == 0 and "warning: front.md:3:11: 'GIF': fake voices line 9, saying 'GIF'" in err
    assert "a `say:` respelling is what they would speak" in err
    code, _, err = run_cli("check", write_script(front.replace("{hibari:", "{sey: jif, hibari:"), "bad.md"))
    assert code == 2 and err.strip() == "error: bad.md:3:11: front matter lexicon.GIF.entry.sey: unknown key 'sey'"
