"""Stage directions inside dialogue: `(laughs)`, `*sighs*`, inline `[cues]`.

Parentheses also hold real content ("the model (which is tiny) runs"), so only
parentheticals that read as performance directions are removed.
"""

from __future__ import annotations

import re

from .cues import CueContext, CueProblem, classify_cue
from .model import MusicCue, Pause, Sfx, Skipped, Span

DIRECTION_WORDS = frozenset(
    [
        "laugh",
        "laughs",
        "laughing",
        "laughter",
        "chuckle",
        "chuckles",
        "chuckling",
        "giggle",
        "giggles",
        "giggling",
        "sigh",
        "sighs",
        "sighing",
        "pause",
        "pauses",
        "pausing",
        "beat",
        "whisper",
        "whispers",
        "whispering",
        "whispered",
        "shout",
        "shouts",
        "shouting",
        "cough",
        "coughs",
        "coughing",
        "gasp",
        "gasps",
        "gasping",
        "inhale",
        "inhales",
        "exhale",
        "exhales",
        "smile",
        "smiles",
        "smiling",
        "grin",
        "grins",
        "grinning",
        "clears",
        "clearing",
        "sniff",
        "sniffs",
        "nod",
        "nods",
        "nodding",
        "groan",
        "groans",
        "groaning",
        "excited",
        "excitedly",
        "sarcastic",
        "sarcastically",
        "softly",
        "quietly",
        "loudly",
        "slowly",
        "quickly",
        "warmly",
        "dryly",
        "playfully",
        "thoughtfully",
        "seriously",
        "enthusiastically",
        "laughingly",
        "nervously",
        "reading",
        "narrating",
        "narration",
        "aside",
        "off-mic",
        "offmic",
        "to-camera",
        "beat.",
        "v.o.",
        "vo",
        "o.s.",
        "continuing",
        "cont'd",
        "contd",
        "interrupting",
        "interrupts",
        "overlapping",
        "mock",
        "mocking",
        "teasing",
        "amused",
        "surprised",
        "skeptical",
        "skeptically",
        "deadpan",
        "cheerful",
        "cheerfully",
    ]
)
_PAREN = re.compile(r"\(([^()]{1,60})\)")
_STARS = re.compile(r"(?<![*\w])\*([^*]{1,40})\*(?![*\w])")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


def is_direction(text: str) -> bool:
    """True when a parenthetical reads as a performance note, not content."""
    words = re.findall(r"[\w.'-]+", text.lower())
    return bool(words) and len(words) <= 6 and words[0] in DIRECTION_WORDS


InlinePart = str | Pause | MusicCue | Sfx


def split_inline(text: str, line_no: int, col: int) -> tuple[list[InlinePart], list[Skipped]]:
    """Dialogue text → spoken text pieces interleaved with pauses/cues, plus what was removed.

    Raises CueProblem (with a column in the full line) for a malformed inline cue.
    """
    skipped: list[Skipped] = []
    parts: list[InlinePart] = []
    cursor = 0
    if (unclosed := _unclosed_bracket(text)) >= 0:
        # Else its words would be said aloud: "[SFX: door creak" as "S F X door creak".
        raise CueProblem("`[` is not closed: end the cue with `]` on the same line "
                         "(or remove the `[` if the words are meant to be said)", col + unclosed)  # fmt: skip
    for match in _BRACKET.finditer(text):
        parts.append(text[cursor : match.start()])
        ctx = CueContext(text, line_no, match.start() + 2)
        try:
            cue = classify_cue(match[1], ctx)
        except CueProblem as problem:
            raise CueProblem(str(problem), problem.col + col - 1) from None
        if isinstance(cue, Skipped):
            skipped.append(Skipped("cue", cue.text, Span(line_no, col + match.start())))
        else:
            parts.append(cue)
        cursor = match.end()
    parts.append(text[cursor:])
    cleaned: list[InlinePart] = []
    for part in parts:
        if isinstance(part, str):
            part = _strip_directions(part, Span(line_no, col), skipped)
        cleaned.append(part)
    return cleaned, skipped


def _unclosed_bracket(text: str) -> int:
    """Where the first `[` that no `]` closes is, or -1."""
    opened: list[int] = []
    for at, char in enumerate(text):
        if char == "[":
            opened.append(at)
        elif char == "]" and opened:
            opened.pop()
    return opened[0] if opened else -1


def _strip_directions(text: str, at: Span, skipped: list[Skipped]) -> str:
    def drop(match: re.Match[str]) -> str:
        if is_direction(match[1]):
            skipped.append(Skipped("direction", match[0], at))
            return " "
        return match[0]

    text = _PAREN.sub(drop, text)
    return _STARS.sub(drop, text)
