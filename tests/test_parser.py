"""What the parser makes of real scripts: who speaks, what is said, and what is never said."""

from __future__ import annotations

from podforge.script.model import Heading, Line, MusicCue, Pause, Sfx
from podforge.script.parser import load_script

FULL = """
---
title: Tiny Machines
speakers:
  ALEX: {voice: "fake:a", color: "#e4572e"}
  SAM:  {voice: "fake:b"}
---
# Welcome
[MUSIC: upbeat intro, 8s]
ALEX: Welcome to the show. It's **great** to have you.
SAM (laughing): Glad to be here.
It continues on this line (laughs) with more.

[pause 1.5s]
ALEX:
A label standing alone.
[Music fade out]
## Part two
SAM: One [pause 0.5s] two.

Production Notes:
ALEX: this is a note and is never spoken
"""


def spoken(script) -> list[tuple[str, str]]:
    return [(e.speaker, e.spoken) for e in script.events if isinstance(e, Line)]


def test_labels_directions_continuations_and_notes(write_script):
    script = load_script(write_script(FULL))
    assert script.title == "Tiny Machines"
    assert spoken(script) == [
        ("ALEX", "Welcome to the show. It's great to have you."),
        ("SAM", "Glad to be here. It continues on this line with more."),
        ("ALEX", "A label standing alone."),
        ("SAM", "One"),
        ("SAM", "two."),
    ]
    kinds = [type(e).__name__ for e in script.events]
    assert kinds == [
        "Heading",
        "MusicCue",
        "Line",
        "Line",
        "Pause",
        "Line",
        "MusicCue",
        "Heading",
        "Line",
        "Pause",
        "Line",
    ]
    cue = script.events[1]
    assert isinstance(cue, MusicCue) and cue.source == "upbeat intro" and cue.seconds == 8.0
    assert isinstance(script.events[6], MusicCue) and script.events[6].stop
    assert [e.seconds for e in script.events if isinstance(e, Pause)] == [1.5, 0.5]
    assert {s.kind for s in script.skipped} >= {"direction", "notes"}
    assert script.events[3].direction == "laughing"


def test_nothing_in_brackets_or_directions_is_spoken(write_script):
    script = load_script(write_script(FULL))
    said = " ".join(text for _, text in spoken(script)).lower()
    for never in ("laugh", "music", "pause", "note", "alex", "sam:", "[", "("):
        assert never not in said


def test_seed_style_plain_script(write_script):
    script = load_script(
        write_script(
            """
            # The Future of Small AI
            Runtime: ~1:20
            Tone: calm, curious

            [Soft intro music – warm piano]

            HOST A: Welcome back. Today we talk about tiny models.

            HOST B:
            They run on a laptop, no cloud needed.
            (beat)
            [Pause beat]

            Some narration with no label.

            [Intro music: soft piano, -12dB, fade in 2s]
            [Music fade out]

            Production Notes:
            - Keep it warm
            """
        )
    )
    assert script.title == "The Future of Small AI"
    assert spoken(script) == [
        ("HOST A", "Welcome back. Today we talk about tiny models."),
        ("HOST B", "They run on a laptop, no cloud needed."),
        ("NARRATOR", "Some narration with no label."),
    ]
    music = [e for e in script.events if isinstance(e, MusicCue)]
    assert [m.stop for m in music] == [False, False, True]
    assert "piano" in music[0].source.lower()
    assert music[1].level_db == -12.0 and music[1].fade_seconds == 2.0
    assert {s.text for s in script.skipped if s.kind == "metadata"} == {
        "Runtime: ~1:20",
        "Tone: calm, curious",
    }
    assert sum(isinstance(e, Pause) for e in script.events) == 2


def test_podcastfy_transcript(write_script):
    script = load_script(
        write_script("<Person1>Hi there, welcome.</Person1><Person2>Thanks!\nGreat to be here.</Person2>\n")
    )
    assert spoken(script) == [("PERSON1", "Hi there, welcome."), ("PERSON2", "Thanks! Great to be here.")]


def test_json_turns_from_script_generators(write_script):
    text = (
        '{\n  "title": "Robots at Home",\n  "dialogue": [\n'
        '    {"speaker": "Host", "text": "Welcome to the show!"},\n'
        '    {"speaker": "Guest", "text": "Thanks, glad to be here."},\n'
        '    {"name": "Host", "content": "Let\'s talk [laughs] robots."}\n  ]\n}\n'
    )
    script = load_script(write_script(text))
    assert script.title == "Robots at Home"
    assert spoken(script) == [("HOST", "Welcome to the show!"), ("GUEST", "Thanks, glad to be here."),
                              ("HOST", "Let's talk robots.")]  # fmt: skip
    assert [line.at.line for line in script.lines] == [4, 5, 6]  # where each turn's text is in the file
    assert spoken(load_script(write_script('[{"speaker": "A", "text": "Hi."}]'))) == [("A", "Hi.")]


def test_json_of_another_shape_is_one_located_error(write_script, run_cli):
    code, _, err = run_cli("check", write_script('{"episode": {"a": 1}}'))
    assert code == 2 and err.startswith("error: episode.md:1:1: this JSON is not a script (it holds no list of turns)")
    code, _, err = run_cli("check", write_script('[{"speaker": "A"}]'))
    assert code == 2 and "(turn 1 has no speaker or no text)" in err


def test_title_and_episode_metadata_name_the_episode(write_script):
    assert load_script(write_script("Title: Café Talk\n\nANNA: Hi.\n")).title == "Café Talk"
    text = "**Podcast Title:** Urban Farming\n**Episode 12:** Vertical Gardens\n\nANNA: Hi.\n"
    assert load_script(write_script(text)).title == "Vertical Gardens"


def test_bold_labels_and_title_case_names(write_script):
    script = load_script(write_script("**Alex:** Hello there.\n\nSam: Hi Alex.\n"))
    assert spoken(script) == [("ALEX", "Hello there."), ("SAM", "Hi Alex.")]


def test_headings_become_chapters_and_sfx_files(write_script, tmp_path):
    (tmp_path / "bell.wav").write_bytes(b"")
    script = load_script(write_script("# One\nALEX: a.\n## Two\n[SFX: bell.wav]\nALEX: b.\n### Not a chapter\n"))
    assert [(e.title, e.level) for e in script.events if isinstance(e, Heading)] == [("One", 1), ("Two", 2)]
    assert [e.path for e in script.events if isinstance(e, Sfx)] == ["bell.wav"]


def test_speech_text_is_normalised_for_the_voice(write_script):
    script = load_script(write_script("ALEX: It costs $9.99 and runs at 45% of the speed.\n"))
    ((_, said),) = spoken(script)
    assert "nine dollars" in said and "percent" in said and "$" not in said


def test_content_in_parentheses_is_kept(write_script):
    script = load_script(write_script("ALEX: The model (which is tiny) runs anywhere.\n"))
    assert "which is tiny" in spoken(script)[0][1]


def test_crlf_and_bom(write_script):
    script = load_script(write_script("\ufeffALEX: Hello.\r\n\r\nSAM: Hi.\r\n".encode()))
    assert spoken(script) == [("ALEX", "Hello."), ("SAM", "Hi.")]
