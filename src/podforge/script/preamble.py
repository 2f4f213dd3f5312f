"""Production apparatus that real scripts carry around the dialogue, recognised so it is never spoken.

Scripts written for people (or by chat assistants) open with a title line and `Key: value`
metadata (`Runtime: ~1:20`, `**Tone:** calm`), mark sections (`INTRO`, `SEGMENT 2: THE NEWS`)
and close with trailers (`Word count: 212`, `*End of Episode*`). A host would say none of it.
Each test here is about one line; the parser decides where it applies.
"""

from __future__ import annotations

import re
import unicodedata

#: Keys that are metadata wherever they appear as `Key: value`, unless the front matter declares
#: a speaker of that name: nobody in a podcast is called "Runtime".
STRONG_KEYS = frozenset(
    [
        "runtime",
        "duration",
        "length",
        "tone",
        "style",
        "format",
        "genre",
        "audience",
        "music",
        "notes",
        "note",
        "date",
        "episode",
        "topic",
        "topics",
        "script",
        "transcript",
        "summary",
        "description",
        "setting",
        "mood",
        "keywords",
        "tags",
        "status",
        "version",
        "draft",
        "words",
        "count",
        "subtitle",
        "title",
        "season",
        "series",
        "language",
        "recorded",
        "produced",
        "producer",
        "sfx",
        "logline",
        "synopsis",
        "premise",
        "theme",
        "themes",
        "goal",
        "goals",
        "objective",
        "objectives",
        "cta",
        "pacing",
        "tempo",
        "speakers",
        "cast",
        "characters",
        "segments",
        "structure",
        "outline",
        "platform",
        "sponsor",
        "sponsors",
        "budget",
        "deadline",
        "target",
    ]
)
#: Keys that name people or voices: metadata only while nothing has been said yet and when the value
#: reads as a value ("Host: Alex Chen"), for `HOST:` is also the commonest speaker label of all.
WEAK_KEYS = frozenset(
    ["host", "hosts", "guest", "guests", "voice", "voices", "author", "show", "narrator", "presenter", "presenters"]
)

_EMPHASIS = re.compile(r"^(\*\*\*|\*\*|\*|___|__|_)(?=\S)(?P<inner>.*?\S)\1$")
_QUOTE_MARK = re.compile(r"^(?:>\s*)+(?=\S)")
_SYMBOLS = frozenset(["So", "Sk", "Cf", "Mn"])  # emoji, their variation selectors and joiners
_BULLET = re.compile(r"^(?:[-*+•]|\d{1,2}[.)])\s+(?=\S)")
# "Episode 4", "Ep. 12", "#31", "S2E4", "Season 2, Episode 4": an episode's number as titles carry it.
_EPISODE_NUMBER = (
    r"(?:(?:episode|ep\.?)\s*(?:#|no\.?\s*)?\d+|#\d+|s\d{1,2}\s*e\d{1,3}|season\s+\d+\s*,?\s*episode\s+\d+)"
)
_TITLE = re.compile(
    r"^(?:[\w'’&,.!?]+\s+){0,6}?(?:podcast\s+|episode\s+|show\s+|audio\s+|video\s+|radio\s+)?"
    r"(?:script|transcript|outline|draft|rundown)\s*(?:v?\d+(?:\.\d+)?)?\s*(?:[-–—:|(\[].*)?$"
    r"|^(?:podcast|episode|show|ep\.?)\s*(?:#|no\.?\s*)?\d+\s*(?:[-–—:|]\s*.*)?$"
    r"|^(?:[\w'’&,.!?]+\s+){0,6}?podcast\s*[-–—:|]\s*.+$"
    # A show's name and then the episode's number: "My Garden Show — Episode 4", "Tech Talk, Ep. 12: Robots",
    # "Garden Hour (S2E4)"; the number must follow a separator, so "Welcome to episode 4 of" is no title.
    rf"|^.{{1,80}}?(?:\s+[-–—|:]\s*|\s*[,:(]\s*){_EPISODE_NUMBER}\s*\)?\s*(?:[-–—:|]\s*.*)?$",
    re.I,
)
_ONLY_NUMBER = re.compile(rf"^\(?{_EPISODE_NUMBER}\)?$", re.I)
_QUOTED = re.compile(r"^[\"“'‘].{1,80}[\"”'’]$")
_SECTION = re.compile(
    r"^\[?(?:cold\s+open|intro(?:duction)?|outro|opening|closing|wrap[- ]?up|conclusion|recap|teaser|"
    r"(?:ad\s+|mid-?roll\s+|sponsor\s+)?break|mid-?roll|sponsor(?:\s+(?:read|message|segment))?|"
    r"(?:segment|part|act|scene|section|chapter)\s+(?:\d+|[ivx]+|one|two|three|four|five|six)\b"
    r"(?:\s*[-–—:|.]\s*.*)?)"
    r"\]?\s*:?$",
    re.I,
)
_END = re.compile(
    r"^[\W_]*end(?:\s+of\s+(?:the\s+)?(?:script|episode|show|transcript|podcast|recording|segment|part))?[\W_]*$",
    re.I,
)


def strip_marks(line: str) -> str:
    """The line without a list bullet or a quote mark (`> `) before it; its emphasis kept."""
    return _BULLET.sub("", _QUOTE_MARK.sub("", line, count=1), count=1)


def unwrap(line: str) -> str:
    """The line without emphasis around all of it (`**[MUSIC]**`, `*End of Episode*`), a list bullet, a quote
    mark (`> `) or the emoji some scripts put before a name (`🎙️ Sarah:`)."""
    line = strip_marks(line)
    at = 0
    while at < len(line) and (unicodedata.category(line[at]) in _SYMBOLS or line[at].isspace()):
        at += 1
    line = line[at:] if at < len(line) else line
    while match := _EMPHASIS.match(line):
        line = match["inner"].strip()
    return line


def key_kind(name: str) -> str | None:
    """'strong', 'weak' or None for the key of a `Key: value` line ("Target audience" → strong)."""
    words = re.sub(r"[^\w\s]", " ", name.lower()).split()
    if not words:
        return None
    if words[-1] in STRONG_KEYS or " ".join(words) in {"run time", "read time", "reading time", "air date"}:
        return "strong"
    if words[-1] in WEAK_KEYS and len(words) <= 2:
        return "weak"
    return None


def reads_as_value(text: str) -> bool:
    """A name or a description, not a sentence: "Alex Chen", "Dr. Maya Patel (AI)", "warm female, mid-30s".

    "Welcome back everyone" (no full stop, but lower-case words) is what a host says, so it is not one.
    """
    text = text.strip()
    if not text or len(text.split()) > 8 or re.search(r"[.!?…]$", text.rstrip("\"'”’)*_")):
        return False
    words = re.findall(r"[\w'’.-]+", re.sub(r"\([^)]*\)", " ", text))
    if len(words) <= 1 or "," in text or "(" in text:
        return True
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in _NAME_JOINERS for w in words)


_NAME_JOINERS = frozenset(["and", "&", "with", "of", "the", "de", "van", "von", "da", "y"])


def is_title_line(line: str) -> bool:
    """`Podcast Script - "Tiny Machines"`, `Episode 12 Script`, `"The Quiet Revolution"` (before any dialogue)."""
    if len(line) > 120 or re.search(r"[.!?]$", line.strip("\"'”’*_ ")):
        return False
    return bool(_TITLE.match(line) or _QUOTED.match(line))


def title_of(line: str) -> str | None:
    """The episode's title in a title line: the quoted part, or what follows the dash."""
    quoted = re.search(r"[\"“]([^\"”]{2,})[\"”]", line)
    if quoted:
        return quoted[1].strip()
    parts = re.split(r"\s[-–—:|]\s", line, maxsplit=1)
    if len(parts) == 2 and _ONLY_NUMBER.match(parts[1].strip()):
        return line.strip()  # "My Garden Show — Episode 4": the number alone is no title
    return parts[1].strip() if len(parts) == 2 and parts[1].strip() else None


def is_section_marker(line: str) -> bool:
    """`INTRO`, `COLD OPEN`, `SEGMENT 2: THE NEWS`, `Part One – Why it matters`, `[AD BREAK]`."""
    return len(line) <= 80 and bool(_SECTION.match(line)) and not re.search(r"[.!?]$", line)


def is_end_marker(line: str) -> bool:
    """`END`, `— End of Episode —`, `END OF SCRIPT` (but not "The end.", which a story may say)."""
    return bool(_END.match(line))
