"""Tests for podforge.script.speech_text: written dialogue -> what a host would say."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podforge.script.speech_text import to_speech

CASES = [
    # markdown
    ("This is **bold** text.", "This is bold text."),
    ("This is *emphasis* here.", "This is emphasis here."),
    ("This is _emphasis_ here.", "This is emphasis here."),
    ("A __strong__ word.", "A strong word."),
    ("Run `podforge render` now.", "Run podforge render now."),
    ("Read [the docs](https://docs.example.com/x) today.", "Read the docs today."),
    ("# Big news", "Big news"),
    ("> a quoted line", "a quoted line"),
    ("Keep snake_case_names readable.", "Keep snake case names readable."),
    # addresses
    ("Go to https://www.example.com/path?x=1.", "Go to example dot com."),
    ("Visit podforge.io for more.", "Visit podforge dot io for more."),
    ("See www.example.com/episodes today.", "See example dot com today."),
    ("Write to a@b.org now.", "Write to a at b dot org now."),
    ("Email jane.doe@example.co.uk.", "Email jane dot doe at example dot co dot uk."),
    # numbers
    ("We had 1,250 listeners.", "We had one thousand two hundred fifty listeners."),
    ("Pi is 3.14 roughly.", "Pi is three point one four roughly."),
    ("It was -5 outside.", "It was minus five outside."),
    ("She came 3rd.", "She came third."),
    ("He came 21st.", "He came twenty-first."),
    ("We hit 2.5M downloads.", "We hit two point five million downloads."),
    ("Almost 10k subscribers.", "Almost ten thousand subscribers."),
    ("Over 3B views.", "Over three billion views."),
    ("That's 1,000,000,000,000.", "That's one trillion."),
    ("Agent 007 reporting.", "Agent zero zero seven reporting."),
    ("We sold 1500 copies.", "We sold one thousand five hundred copies."),
    # years and decades
    ("In 1999 it changed.", "In nineteen ninety-nine it changed."),
    ("Since 2026 we grow.", "Since twenty twenty-six we grow."),
    ("By 2000 it was over.", "By two thousand it was over."),
    ("In 2005, we started.", "In two thousand five, we started."),
    ("Back in 1900 nobody knew.", "Back in nineteen hundred nobody knew."),
    ("It was 1999.", "It was nineteen ninety-nine."),
    ("The 1990s were wild.", "The nineteen nineties were wild."),
    ("The '90s were wild.", "The nineties were wild."),
    ("We're in our 20s.", "We're in our twenties."),
    # percentages
    ("Growth was 45%.", "Growth was forty-five percent."),
    ("Only 2.5% left.", "Only two point five percent left."),
    ("Up 5-10% this week.", "Up five to ten percent this week."),
    # currency
    ("It costs $9.99.", "It costs nine dollars and ninety-nine cents."),
    ("It costs $1.", "It costs one dollar."),
    ("A $5M round.", "A five million dollars round."),
    ("They raised $2.5 billion.", "They raised two point five billion dollars."),
    ("Just €20 today.", "Just twenty euros today."),
    ("Only £3.50 each.", "Only three pounds fifty each."),
    ("About ¥500 there.", "About five hundred yen there."),
    ("Only $0.50 now.", "Only fifty cents now."),
    ("A $1,000,000 prize.", "A one million dollars prize."),
    # versions
    ("Try v2.1 today.", "Try version two point one today."),
    ("Use Python 3.11 now.", "Use Python three point eleven now."),
    ("Ship version 1.2.3 now.", "Ship version one point two point three now."),
    ("Upgrade to 4.0.12 soon.", "Upgrade to four point zero point twelve soon."),
    # times, dates, ranges, fractions
    ("See you at 7:30 pm.", "See you at seven thirty p m."),
    ("We start at 10:00.", "We start at ten o'clock."),
    ("Doors open at 7pm sharp.", "Doors open at seven p m sharp."),
    ("It ran from 2020-2024.", "It ran from twenty twenty to twenty twenty-four."),
    ("Read pages 10–20.", "Read pages ten to twenty."),
    ("On 2024-03-15 we launch.", "On March fifteenth, twenty twenty-four we launch."),
    ("Add 1/2 a cup.", "Add one half a cup."),
    ("Use 3/4 of it.", "Use three quarters of it."),
    ("I give it 8/10.", "I give it eight out of ten."),
    ("Open 24/7.", "Open twenty-four seven."),
    # symbols
    ("Salt & pepper.", "Salt and pepper."),
    ("Disney+ and Apple+ streaming.", "Disney plus and Apple plus streaming."),
    ("So 2 + 2 = 4.", "So two plus two equals four."),
    ("It takes ~5 minutes.", "It takes about five minutes."),
    ("It's 2x faster.", "It's two times faster."),
    ("A 10x improvement.", "A ten times improvement."),
    ("The #1 show.", "The number one show."),
    # abbreviations
    ("Dr. Smith is here.", "Doctor Smith is here."),
    ("Mr. and Mrs. Lee met Ms. Day.", "Mister and Missus Lee met Miz Day."),
    ("We flew to St. Louis.", "We flew to Saint Louis."),
    ("Apples vs. oranges.", "Apples versus oranges."),
    ("Apples, pears, etc.", "Apples, pears, et cetera."),
    ("Fruit, e.g., apples.", "Fruit, for example, apples."),
    ("Food, i.e. fuel.", "Food, that is fuel."),
    ("It weighs approx. 5 kg.", "It weighs approximately five kilograms."),
    ("On Jan. 5 we rest.", "On January fifth we rest."),
    ("Due in Dec. now.", "Due in December now."),
    ("He is fan No. 1 here.", "He is fan number one here."),
    ("Lives on Main St. Then he left.", "Lives on Main Street. Then he left."),
    # units
    ("Run 5 km.", "Run five kilometers."),
    ("Run 1 km.", "Run one kilometer."),
    ("It has 16 GB.", "It has sixteen gigabytes."),
    ("A 3 GHz chip.", "A three gigahertz chip."),
    ("Tuned to 440 Hz.", "Tuned to four hundred forty hertz."),
    ("Master to -16 LUFS.", "Master to minus sixteen L U F S."),
    ("At 60 fps.", "At sixty frames per second."),
    ("A 20 ms delay.", "A twenty milliseconds delay."),
    ("Cut 6 dB.", "Cut six decibels."),
    ("It's 72°F.", "It's seventy-two degrees Fahrenheit."),
    # acronyms
    ("The AI runs on a GPU.", "The A I runs on a G P U."),
    ("The CPU and the TTS API.", "The C P U and the T T S A P I."),
    ("Paste the URL.", "Paste the U R L."),
    ("NASA and NATO agree.", "NASA and NATO agree."),
    ("More RAM, a SIM, a PIN, a GIF, a JPEG.", "More RAM, a SIM, a PIN, a GIF, a JPEG."),
    ("Buy more GPUs.", "Buy more G P U's."),
    ("It uses GPT-4 and MP3.", "It uses G P T four and M P three."),
    ("World War II ended.", "World War two ended."),
    ("I LOVE THIS SHOW", "I LOVE THIS SHOW"),
    # emoji, symbols and whitespace
    ("Great show 🎉🔥 folks!", "Great show folks!"),
    ("Hello 👋🏽 family 👨\u200d👩\u200d👧!", "Hello family!"),
    ("Too   many    spaces .", "Too many spaces."),
    ("Wait... really?! Yes — really.", "Wait... really?! Yes — really."),
]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_to_speech(written: str, spoken: str) -> None:
    assert to_speech(written) == spoken


@pytest.mark.parametrize(
    "prose",
    [
        "Welcome back to the show.",
        "It's a great day, isn't it? I think so!",
        'She said, "Let\'s begin."',
        "Today we talk about coffee; tomorrow, tea.",
        "",
    ],
)
def test_plain_prose_is_unchanged(prose: str) -> None:
    assert to_speech(prose) == prose


_WORD = st.sampled_from(["the", "show", "Python", "In", "since", "km", "GB", "v", "x", "k", "M", "pm"])
_NUMBER = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"\A\d{1,3}(,\d{3}){0,4}(\.\d{1,4})?\Z"),
)
_PIECE = st.one_of(_WORD, _NUMBER, st.sampled_from(["$", "%", ".", ","]))
_SEPARATOR = st.sampled_from(["", " ", "  "])


@st.composite
def _dialogue(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.tuples(_PIECE, _SEPARATOR), max_size=12))
    return "".join(piece + sep for piece, sep in pieces)


@settings(max_examples=400, deadline=None)
@given(_dialogue())
def test_never_raises_and_leaves_no_digits(text: str) -> None:
    assert re.search(r"\d", to_speech(text)) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_arbitrary_text_never_raises_and_leaves_no_digits(text: str) -> None:
    assert re.search(r"\d", to_speech(text)) is None
