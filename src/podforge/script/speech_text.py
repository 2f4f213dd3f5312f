"""Rewrite one line of dialogue into the words a host would actually say.

TTS engines read literally: "$2.5M" comes out as "dollar two dot five em".  ``to_speech`` runs a
fixed sequence of passes, most specific first, so that a later, more general pass ("any digits")
never sees text an earlier one ("money", "times", "versions") knows how to read better.  Sentence
punctuation survives every pass because the voices use it for prosody.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

from podforge.script import _numbers as nw
from podforge.script._numbers import MONTHS, Match, words

__all__ = ["to_speech"]

# Acronyms said as words; every other all-caps word of 2-5 letters is spelled out ("G P U").
_WORD_ACRONYMS = frozenset(
    words(
        "NASA NATO LASER RADAR SONAR SCUBA RAM ROM SIM PIN GIF JPEG FIFA AIDS COVID OPEC IKEA LEGO "
        "ASCII SWAT FOMO YOLO NAFTA TED"
    )
)
# Capitalised at the start of a sentence without being a name, so never a product ("Python 3.11").
_FUNCTION_WORDS = frozenset(
    words(
        "The A An In On At By For From To Of And But Or So It Its This That These Those We I You "
        "They He She About Around Only Just Over Under With Was Is Are Were Up Nearly Almost"
    )
)
_TLDS = (
    "com|org|net|io|ai|dev|co|fm|tv|app|edu|gov|me|info|biz|us|uk|ca|de|fr|eu|xyz|tech|ly|gg|"
    "news|blog|show|audio|podcast"
)
_ROMAN = words("II III IV VI VII VIII IX XI XII XIII XIV XV XVI XVII XVIII XIX XX")
_ROMAN_VALUES = (2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
_DROP_ALWAYS = frozenset("*_#`|\\<>{}[]/•†‡§¶·")
_TRAILING_PUNCT = ".,;:!?)'\""


def _ends_sentence(m: Match) -> bool:
    """True when a match swallowed a "." that also closes the sentence ("... etc." / "7 p.m.")."""
    rest = m.string[m.end() :]
    return m.group().endswith(".") and (not rest.strip() or re.match(r"\s+[A-Z]", rest) is not None)


def _stop(m: Match) -> str:
    return "." if _ends_sentence(m) else ""


def _sub_all(rules: tuple[tuple[str, str], ...], text: str) -> str:
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


# --- markup, addresses, abbreviations, symbols ----------------------------------------------

_MARKDOWN = (
    (r"!?\[([^\]]*)\]\([^)]*\)", r"\1"),
    (r"`+([^`]*)`+", r"\1"),
    (r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2"),
    (r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])", r"\1"),
    (r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])", r"\1"),
    (r"~~(.+?)~~", r"\1"),
    (r"^\s*(?:#{1,6}(?=\s)|>+|[-*+](?=\s))\s*", ""),
)


def _strip_markdown(text: str) -> str:
    text = re.sub(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", lambda m: html.unescape(m.group()), text)
    return _sub_all(_MARKDOWN, text)


def _say_host(host: str) -> str:
    host = re.sub(r"^www\.", "", host, flags=re.IGNORECASE)
    return " dot ".join(part for part in host.split(".") if part)


def _say_url(m: Match) -> str:
    url = m.group().rstrip(_TRAILING_PUNCT)
    trailing = m.group()[len(url) :]
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return _say_host(host) + trailing


def _say_email(m: Match) -> str:
    names = {".": " dot ", "_": " underscore ", "-": " dash ", "+": " plus "}
    local = re.sub(r"[._+-]", lambda c: names[c.group()], m[1])
    return f"{local} at {_say_host(m[2])}"


def _speak_addresses(text: str) -> str:
    text = re.sub(r"(?<![\w.+-])([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)(?![\w-])", _say_email, text)
    text = re.sub(r"\b(?:https?|ftp)://[^\s<>\"'()\[\]]+", _say_url, text, flags=re.IGNORECASE)
    domain = rf"(?<![\w@.-])((?:www\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS}))(?![\w-])"
    return re.sub(domain + r"(/[^\s]*)?", _say_url_like_domain, text, flags=re.IGNORECASE)


def _say_url_like_domain(m: Match) -> str:
    path = m[2] or ""
    return _say_host(m[1]) + path[len(path.rstrip(_TRAILING_PUNCT)) :]


# (pattern, spoken, the "." may also end the sentence)
_ABBREVIATIONS: tuple[tuple[str, str, bool], ...] = (
    (r"\bMrs\.", "Missus", False),
    (r"\bMr\.", "Mister", False),
    (r"\bMs\.", "Miz", False),
    (r"\bProf\.", "Professor", False),
    (r"\bMt\.", "Mount", False),
    (r"\bJr\.", "Junior", True),
    (r"\bSr\.", "Senior", True),
    (r"\b[Vv]s\.?(?=\s)", "versus", False),
    (r"\b[Ee]tc\.", "et cetera", True),
    (r"\b[Ee]\.g\.", "for example", False),
    (r"\b[Ii]\.e\.", "that is", False),
    (r"\b[Aa]pprox\.", "approximately", False),
    (r"\b[Nn]o\.(?=\s*\d)", "number", False),
)
# "May" is never shortened; a bare "Mar"/"Jun" is a month only when a day number follows.
_MONTH_ABBREVIATION = r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)(?:\.|(?=\s+\d))"


def _say_month_abbreviation(m: Match) -> str:
    return next(month for month in MONTHS if month.startswith(m[1][:3])) + _stop(m)


def _expander(spoken: str, can_end: bool) -> Callable[[Match], str]:
    return lambda m: spoken + (_stop(m) if can_end else "")


def _say_title_or_street(m: Match) -> str:
    """ "Dr."/"St." is Doctor/Saint before a name, unless a street name precedes it ("Main St.")."""
    title, street = {"Dr": ("Doctor", "Drive"), "St": ("Saint", "Street")}[m[1]]
    after_street_name = re.search(r"[a-z\d,]\s+[A-Z][a-z]*\s+$", m.string[: m.start()])
    if after_street_name:
        return street + _stop(m)
    return title if re.match(r"\s+[A-Z]", m.string[m.end() :]) else title + _stop(m)


def _expand_abbreviations(text: str) -> str:
    text = re.sub(r"\b(Dr|St)\.", _say_title_or_street, text)
    for pattern, spoken, can_end in _ABBREVIATIONS:
        text = re.sub(pattern, _expander(spoken, can_end), text)
    return re.sub(_MONTH_ABBREVIATION, _say_month_abbreviation, text)


_SYMBOLS = (
    (r"(?<=[A-Za-z])-(?=\d)", " "),
    (r"\s*&\s*", " and "),
    (r"\s*\+\s*", " plus "),
    (r"\s*=+\s*", " equals "),
    (r"\s*±\s*", " plus or minus "),
    (r"[~≈]\s*(?=[-−$€£¥]?\.?\d)", "about "),
    (r"#\s?(?=\d)", "number "),
    (r"(?<=\d)\s?½", " and a half"),
    (r"(?<=\d)\s?¼", " and a quarter"),
    (r"(?<=\d)\s?¾", " and three quarters"),
    (r"½", " one half "),
    (r"¼", " one quarter "),
    (r"¾", " three quarters "),
    (r"²", " squared "),
    (r"³", " cubed "),
    (r"\s*@\s*", " at "),
)


def _speak_symbols(text: str) -> str:
    return _sub_all(_SYMBOLS, text)


# --- dates, times, versions -----------------------------------------------------------------


def _say_iso_date(m: Match) -> str:
    month, day = int(m[2]), int(m[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group()
    return f"{MONTHS[month - 1]} {nw.ordinal(m[3])}, {nw.year(int(m[1]))}"


def _say_month_day(m: Match) -> str:
    if not 1 <= int(m[2]) <= 31:
        return m.group()
    year = f", {nw.year(int(m[3]))}" if m[3] else ""
    return f"{m[1]} {nw.ordinal(m[2])}{year}"


def _say_clock(m: Match) -> str:
    hour, minute, meridiem = int(m[1]), int(m[2] or 0), m[4]
    if hour > 24 or minute > 59:
        return m.group()
    if m[3]:
        units = ((hour, "hour"), (minute, "minute"), (int(m[3]), "second"))
        return " ".join(f"{nw.cardinal(n)} {u}{'' if n == 1 else 's'}" for n, u in units if n)
    words = nw.cardinal(hour)
    if minute:
        words += f" oh {nw.cardinal(minute)}" if minute < 10 else f" {nw.cardinal(minute)}"
    elif not meridiem:
        words += " o'clock" if 0 < hour <= 12 else " hundred"
    if meridiem:
        words += f" {meridiem.lower()} m" + _stop(m)
    return words


_MERIDIEM = r"(?:\s?([AaPp])\.?\s?[Mm]\b\.?)"


def _speak_dates_and_times(text: str) -> str:
    text = re.sub(r"(?<![\w-])(\d{4})-(\d{2})-(\d{2})(?![\w-])", _say_iso_date, text)
    months = "|".join(MONTHS)
    month_day = rf"\b({months})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,\s*(\d{{4}}))?(?![\w:]|\.\d)"
    text = re.sub(month_day, _say_month_day, text)
    clock = rf"(?<![\w:.])(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?{_MERIDIEM}?(?![\w:])"
    text = re.sub(clock, _say_clock, text)
    return re.sub(rf"(?<![\w:.])(\d{{1,2}})()(){_MERIDIEM}", _say_clock, text)


def _parts(version: str) -> str:
    return " point ".join(nw.integer(part) for part in version.split("."))


def _say_named_version(m: Match) -> str:
    name = m[1]
    if name in _FUNCTION_WORDS or name.isupper():
        return m.group()
    return f"{name} {_parts(m[2])}"


def _speak_versions(text: str) -> str:
    end = r"(?!\w|\.\d)"
    text = re.sub(rf"\b([Vv]ersion|[Rr]elease)\s+(\d+(?:\.\d+)*){end}", lambda m: f"{m[1]} {_parts(m[2])}", text)
    text = re.sub(
        rf"(?<![\w.])(?:v(\d+(?:\.\d+)*)|V(\d+(?:\.\d+)+)){end}",
        lambda m: "version " + _parts(m[1] or m[2]),
        text,
    )
    name = r"\b([A-Z][\w+#-]*|[a-z]+[A-Z]\w*)"
    text = re.sub(rf"{name}\s(\d+\.\d+(?:\.\d+)*){end}", _say_named_version, text)
    return re.sub(rf"(?<![\w.])\d+(?:\.\d+){{2,}}{end}", lambda m: _parts(m.group()), text)


# --- letters and cleanup --------------------------------------------------------------------


def _say_roman(m: Match) -> str:
    if m[1] in _FUNCTION_WORDS:
        return m.group()
    return f"{m[1]} {nw.cardinal(_ROMAN_VALUES[_ROMAN.index(m[2])])}"


def _spell_acronyms(text: str) -> str:
    text = re.sub(rf"\b([A-Z][a-z]+)\s+({'|'.join(_ROMAN)})\b", _say_roman, text)
    # Three all-caps words in a row is shouting, not a run of acronyms: leave it as words.
    shouted = [m.span() for m in re.finditer(r"\b[A-Z]{2,}(?:[\s,]+[A-Z]{2,}\b){2,}", text)]

    def spell(m: Match) -> str:
        if m[1] in _WORD_ACRONYMS or any(a <= m.start() < b for a, b in shouted):
            return m.group()
        return " ".join(m[1]) + ("'s" if m[2] else "")

    return re.sub(r"\b([A-Z]{2,5})(s|['’]s)?\b", spell, text)


def _drop_unspeakable(text: str) -> str:
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        # Joiners and variation selectors glue emoji together; removing them must not split words.
        if category in ("Cf", "Me") or "\ufe00" <= ch <= "\ufe0f":
            continue
        unspeakable = category[0] == "S" or category in ("Cc", "Co", "Cs", "Cn", "No")
        if ch == "%":
            kept.append(" percent ")
        else:
            kept.append(" " if unspeakable or ch in _DROP_ALWAYS else ch)
    return "".join(kept)


_TIDY = (
    (r"\s+", " "),
    (r"\(\s*\)", " "),
    (r"\s+([,;:!?)]|\.(?!\.))", r"\1"),
    (r"\(\s+", "("),
    (r"([,;:])(?:\s*[,;:])+", r"\1"),
)


def _tidy(text: str) -> str:
    return _sub_all(_TIDY, text).strip()


_PIPELINE: tuple[Callable[[str], str], ...] = (
    _strip_markdown,
    _speak_addresses,
    _expand_abbreviations,
    _speak_symbols,
    _speak_dates_and_times,
    _speak_versions,
    nw.speak_measures,
    nw.speak_ranges_and_ratios,
    nw.speak_numbers,
    _spell_acronyms,
    _drop_unspeakable,
    _tidy,
)


def to_display(text: str) -> str:
    """The written line as a reader should see it in captions: Markdown removed, spacing tidied."""
    return " ".join(_strip_markdown(text).split())


def to_speech(text: str) -> str:
    """Rewrite one line of dialogue as the words a host would say, for a literal-minded TTS.

    ``text`` is a single line with speaker labels and bracketed cues already removed.  Markdown,
    URLs, numbers, money, units, dates, abbreviations and acronyms become plain words; emoji and
    other unspeakable symbols are dropped; sentence punctuation is kept for prosody.
    """
    for step in _PIPELINE:
        text = step(text)
    return text
