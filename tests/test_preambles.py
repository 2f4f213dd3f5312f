"""Real scripts' production apparatus (title lines, `Key: value` metadata, section marks, trailers): never spoken.

Each case is a script as people (and chat assistants) write them, and exactly what a listener hears.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podforge.script.model import Line
from podforge.script.parser import parse_script

CASES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "issue-12 title, runtime, tone, style": (
        """
        Podcast Script - "The Quiet Revolution in Small AI"
        Runtime: ~1:20
        Tone: Calm, confident, analytical
        Style: Conversational explainer, single host

        [Soft intro music - warm piano]

        Small models are quietly changing how we build software.
        """,
        [("NARRATOR", "Small models are quietly changing how we build software.")],
    ),
    "chat-assistant bold keys, rules, end line": (
        """
        **Podcast Title:** Tech Talk Today
        **Episode 5:** The Rise of Small AI
        **Duration:** ~10 minutes
        **Hosts:** Alex (tech enthusiast) and Sam (skeptic)

        ---

        **[INTRO MUSIC FADES IN]**

        **Alex:** Welcome back to Tech Talk Today!

        **Sam:** Thanks, Alex.

        **[OUTRO MUSIC]**

        ---

        *End of Episode*
        """,
        [("ALEX", "Welcome back to Tech Talk Today!"), ("SAM", "Thanks, Alex.")],
    ),
    "all-caps keys, bullets, section marks, END OF SCRIPT": (
        """
        TITLE: "Tiny Models, Big Impact"
        FORMAT: Two-host conversation
        TARGET AUDIENCE: Developers
        - Runtime: 1:20
        * Tone: warm

        INTRO

        HOST 1: Welcome.
        HOST 2: Hi.

        OUTRO
        END OF SCRIPT
        """,
        [("HOST 1", "Welcome."), ("HOST 2", "Hi.")],
    ),
    "host and guest named in the preamble, then speaking": (
        """
        Episode 12: Privacy on the Edge
        Host: Alex Chen
        Guest: Dr. Maya Patel
        Recording date: 12 March 2026

        HOST: Welcome to the show.
        GUEST: Thanks for having me.
        """,
        [("HOST", "Welcome to the show."), ("GUEST", "Thanks for having me.")],
    ),
    "trailer metadata after the last line": (
        """
        ALEX: That's all for today.
        SAM: See you next week.

        Word count: 212
        Estimated runtime: 1:30
        Music: outro theme, fade over 5 s
        Notes: tighten the second half.
        """,
        [("ALEX", "That's all for today."), ("SAM", "See you next week.")],
    ),
    "markdown heading title and italic metadata": (
        """
        # The Future of Small AI
        *Genre: Technology*
        *Audience: Curious generalists*

        NARRATOR: Every phone now carries a model.
        """,
        [("NARRATOR", "Every phone now carries a model.")],
    ),
    "quoted title line and date": (
        """
        "Why Batteries Got Better"
        Date: 2026-05-01
        Length: 3 minutes

        It started with a spoon of lithium.
        """,
        [("NARRATOR", "It started with a spoon of lithium.")],
    ),
    "episode number title with a dash": (
        """
        Episode 7 – The Long Tail of Bugs
        Voice: warm, unhurried narrator

        Every program has bugs, and some of them live for decades.
        """,
        [("NARRATOR", "Every program has bugs, and some of them live for decades.")],
    ),
    "show name podcast title": (
        """
        Tiny Machines Podcast – Episode 3
        Guests: none

        ALEX: Today it's just me.
        """,
        [("ALEX", "Today it's just me.")],
    ),
    "show name, episode number, recording date and hosts": (
        """
        My Garden Show — Episode 4
        Recorded: March 2026
        Hosts: Priya and Tom

        PRIYA: Welcome back, everyone!
        TOM: Thanks Priya.
        """,
        [("PRIYA", "Welcome back, everyone!"), ("TOM", "Thanks Priya.")],
    ),
    "season and episode in brackets, a show name with a comma": (
        """
        The Tech Hour, Ep. 12: Robots at Home
        Garden Hour (S2E4)

        ALEX: Hello.
        """,
        [("ALEX", "Hello.")],
    ),
    "an episode number inside a sentence is said": (
        """
        Welcome to episode 4 of the show
        """,
        [("NARRATOR", "Welcome to episode four of the show")],
    ),
    "a role with the person who plays it, then the person's own name": (
        """
        **Podcast Title:** The Future of Urban Farming

        **Host 1 (Sarah):** Welcome! I'm Sarah.
        **Host 2 (Mike):** And I'm Mike.
        **Sarah:** So Mike, why vertical gardens?
        Host 2: A tiny balcony.
        Host (laughing): Fair enough.
        """,
        [
            ("SARAH", "Welcome! I'm Sarah."),
            ("MIKE", "And I'm Mike."),
            ("SARAH", "So Mike, why vertical gardens?"),
            ("MIKE", "A tiny balcony."),
            ("HOST", "Fair enough."),
        ],
    ),
    "transcript timestamps before the labels": (
        """
        [00:00:01] Sarah: Welcome back to the show.
        00:04 - Mike: Great to be here.
        00:00:07
        Sarah (00:00:10): Let's dive in.
        """,
        [("SARAH", "Welcome back to the show."), ("MIKE", "Great to be here."), ("SARAH", "Let's dive in.")],
    ),
    "screenplay character cues": (
        """
                            SARAH
                  (warmly)
             Welcome to the show.

                            DR. MAYA PATEL (V.O.)
             Thanks for having me!

        NASA
        """,
        [("SARAH", "Welcome to the show."), ("DR. MAYA PATEL", "Thanks for having me!"), ("NARRATOR", "NASA")],
    ),
    "an interview's title line, then questions and answers": (
        """
        Interview with a gardener

        Q: What got you started?
        A: A tiny balcony, honestly.
        """,
        [("Q", "What got you started?"), ("A", "A tiny balcony, honestly.")],
    ),
    "emoji before names, quote marks and bullets": (
        """
        🎙️ Sarah: Welcome to the show!
        > Mike: Glad to be here.
        - Sarah: A bullet line.
        """,
        [("SARAH", "Welcome to the show!"), ("MIKE", "Glad to be here."), ("SARAH", "A bullet line.")],
    ),
    "script draft title and version": (
        """
        Podcast Script (Draft 2)
        Version: 0.3
        Status: ready for voice

        SAM: Hello, and welcome.
        """,
        [("SAM", "Hello, and welcome.")],
    ),
    "segment marks become silent, dialogue stays": (
        """
        COLD OPEN
        ALEX: Did you hear that?

        SEGMENT 1: THE NEWS
        SAM: Three things happened this week.

        [AD BREAK]

        Part Two – Why it matters
        ALEX: Because it changes everything.
        """,
        [
            ("ALEX", "Did you hear that?"),
            ("SAM", "Three things happened this week."),
            ("ALEX", "Because it changes everything."),
        ],
    ),
    "production notes section with bullets": (
        """
        ALEX: Thanks for listening.

        Production Notes:
        - Keep the intro under 10 s
        - ALEX: read this slower
        """,
        [("ALEX", "Thanks for listening.")],
    ),
    "bold production notes heading": (
        """
        SAM: Goodbye.

        **Producer's Notes**
        Mention the sponsor next time.
        """,
        [("SAM", "Goodbye.")],
    ),
    "notes as a markdown heading": (
        """
        ALEX: Bye now.

        ## Show notes
        Links: example.com
        """,
        [("ALEX", "Bye now.")],
    ),
    "mood, music and sfx keys between lines": (
        """
        Mood: upbeat
        Music: light synth bed

        ALEX: Let's start.
        SFX: whoosh
        SAM: Ready.
        """,
        [("ALEX", "Let's start."), ("SAM", "Ready.")],
    ),
    "theme, logline and premise": (
        """
        Theme: curiosity
        Logline: Two friends explain tiny computers.
        Premise: a kitchen-table chat

        ALEX: So, what is a microcontroller?
        """,
        [("ALEX", "So, what is a microcontroller?")],
    ),
    "speakers and cast lists": (
        """
        Speakers: Alex, Sam
        Cast: Alex (host), Sam (co-host)

        ALEX: Hi Sam.
        SAM: Hi Alex.
        """,
        [("ALEX", "Hi Sam."), ("SAM", "Hi Alex.")],
    ),
    "run time, reading time, air date": (
        """
        Run time: 2 min
        Reading time: 90 seconds
        Air date: Friday

        NARRATOR: Good evening.
        """,
        [("NARRATOR", "Good evening.")],
    ),
    "end marker with dashes, then a note": (
        """
        ALEX: That's the show.

        — END —
        Remember to re-record line 3.
        """,
        [("ALEX", "That's the show.")],
    ),
    "transcript title and a summary": (
        """
        Transcript: Tiny Machines, episode 4
        Summary: We build a weather station.

        SAM: First, the sensor.
        """,
        [("SAM", "First, the sensor.")],
    ),
    "numbered metadata list": (
        """
        1. Format: interview
        2. Length: 15 minutes

        HOST: Welcome, everyone.
        """,
        [("HOST", "Welcome, everyone.")],
    ),
    "narrator paragraphs that look a little like metadata are kept": (
        """
        # Small Models
        The script of this story was written on a train.

        Part of the appeal is the price.
        """,
        [
            ("NARRATOR", "The script of this story was written on a train."),
            ("NARRATOR", "Part of the appeal is the price."),
        ],
    ),
    "a host who speaks first without metadata": (
        """
        HOST: Welcome to the show, everyone!
        Host: today we talk about sleep.
        """,
        [("HOST", "Welcome to the show, everyone!"), ("HOST", "today we talk about sleep.")],
    ),
    "a host's unpunctuated first line is still spoken": (
        """
        Host: Sam Rivera
        HOST: Welcome back everyone
        GUEST: Good to be here
        """,
        [("HOST", "Welcome back everyone"), ("GUEST", "Good to be here")],
    ),
    "intro and outro marks around a plain script": (
        """
        [INTRO]
        Introduction
        This is the whole story, told once.
        Conclusion
        That was it.
        [OUTRO]
        """,
        [("NARRATOR", "This is the whole story, told once."), ("NARRATOR", "That was it.")],
    ),
    "italic sign-off and stage direction in a labelled script": (
        """
        **SARAH:** Welcome back to the Garden Hour.

        *She opens the greenhouse door.*

        **TOM:** Thanks for listening, everyone.

        *Thanks for listening! Produced by Garden Hour Media.*
        _See you next week._
        """,
        [("SARAH", "Welcome back to the Garden Hour."), ("TOM", "Thanks for listening, everyone.")],
    ),
    "italics stay spoken where nobody is labelled": (
        """
        *A story about the sea.*

        The waves came in at dawn.
        *And then they went out again.*
        """,
        [
            ("NARRATOR", "A story about the sea."),
            ("NARRATOR", "The waves came in at dawn. And then they went out again."),
        ],
    ),
}


def spoken_in(text: str) -> list[tuple[str, str]]:
    script = parse_script(textwrap.dedent(text).lstrip("\n"), Path("episode.md"))
    return [(e.speaker, e.spoken) for e in script.events if isinstance(e, Line)]


@pytest.mark.parametrize("name", list(CASES))
def test_only_what_a_host_would_say_is_spoken(name: str) -> None:
    text, expected = CASES[name]
    assert spoken_in(text) == expected


def test_at_least_twenty_real_world_preambles_and_trailers() -> None:
    assert len(CASES) >= 20


def test_title_line_names_the_episode() -> None:
    script = parse_script('Podcast Script - "The Quiet Revolution"\nRuntime: 1:20\n\nHi there.\n', Path("x.md"))
    assert script.title == "The Quiet Revolution"
    assert [(s.kind, s.text) for s in script.skipped] == [
        ("title", 'Podcast Script - "The Quiet Revolution"'),
        ("metadata", "Runtime: 1:20"),
    ]


def test_a_show_name_with_an_episode_number_is_the_whole_title() -> None:
    script = parse_script("My Garden Show — Episode 4\nHosts: Priya and Tom\n\nPRIYA: Hi.\n", Path("x.md"))
    assert script.title == "My Garden Show — Episode 4"
    assert parse_script("Episode 7 – The Long Tail\n\nHi there.\n", Path("x.md")).title == "The Long Tail"
    interview = parse_script("Interview with a gardener\n\nQ: Why?\nA: Pots.\n", Path("x.md"))
    assert interview.title == "Interview with a gardener" and list(interview.speakers) == ["Q", "A"]


def test_a_declared_role_keeps_its_voice_whoever_plays_it() -> None:
    text = '---\nspeakers:\n  HOST 1: {voice: "fake:a"}\n---\nHost 1 (Sarah): Hi.\nHost 1: Again.\n'
    assert [(e.speaker, e.spoken) for e in parse_script(text, Path("x.md")).lines] == [
        ("HOST 1", "Hi."),
        ("HOST 1", "Again."),
    ]


def test_speakers_named_like_metadata_work_when_declared() -> None:
    text = """
    ---
    speakers:
      Tone: {voice: "fake:a"}
      Music: {voice: "fake:b"}
    ---
    Runtime: 1:20
    Tone: Hello, I'm Tone.
    Music: And I'm Music.
    Word count: 9
    """
    assert spoken_in(text) == [("Tone", "Hello, I'm Tone."), ("Music", "And I'm Music.")]


def test_check_show_lists_what_was_skipped_and_why(write_script, run_cli, fake_config) -> None:
    path = write_script(CASES["issue-12 title, runtime, tone, style"][0])
    code, out, err = run_cli("check", path, "--show", "-c", fake_config)
    assert code == 0, err
    rows = {row.split()[0]: " ".join(row.split()[1:]) for row in out.splitlines() if row[:1].isdigit()}
    assert rows["1"].startswith('skipped title Podcast Script - "The Quiet')
    assert rows["2"] == "skipped metadata Runtime: ~1:20"
    assert rows["3"].startswith("skipped metadata Tone: Calm")
    assert rows["8"].startswith("speak NARRATOR (fake:")
    assert sum(row.startswith("speak") for row in rows.values()) == 1
    assert "ok: episode.md: 1 spoken lines, 1 speakers" in out
    path.write_text("ALEX: Today [seriously] we talk.\n", encoding="utf-8")
    code, out, err = run_cli("check", path, "--show", "-c", fake_config)
    assert code == 0 and "skipped cue" in out and "[seriously]" in out, err  # shown as written, not as markup
