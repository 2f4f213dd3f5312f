"""The pronunciation lexicon: words or phrases mapped to how the voices should say them.

Entries come from ``lexicon.yaml`` beside the script (the workspace or show folder) and from the
front matter's ``lexicon:``, which wins. They are applied to the written line before ``to_speech``,
whole words only and case-insensitively, longest phrase first, so a line without an entry keeps
exactly the spoken text (and so the clip) it had before.

An entry may also give phonemes for the engines that take them, in each engine's own alphabet:
``GIF: {say: jif, piper: dʒˈɪf, hibari: ʤˈɪf}``. Piper reads espeak-ng IPA in ``[[ ]]`` blocks
(piper/voice.py: each symbol one of the voice's phoneme ids), hibari reads misaki's alphabet in
``[word](/phonemes/)`` links (hibari/g2p: the token's phonemes are set directly). The line's spoken
text keeps the ``say`` respelling (the written word without one), which the aligner times, the
listening check hears and every other engine speaks; only the text sent to a piper or hibari voice
carries the phonemes (`engine_text`), so the clip's cache key changes with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from .._yamlpos import describe_yaml_error, locate
from ..errors import Location

FILE_NAME = "lexicon.yaml"
# How each engine that takes phonemes is given them inside its text (see the module docstring).
PHONEME_MARKUP = {"piper": "[[{ps}]]", "hibari": "[{said}](/{ps}/)"}
ENTRY_KEYS = ("say", *PHONEME_MARKUP)


@dataclass(frozen=True)
class Phonemes:
    """An entry's phonemes per engine, and where the entry is (for the check's messages)."""

    written: str
    said: str  # what the spoken text says instead: the `say` respelling, else the written word
    by_engine: tuple[tuple[str, str], ...]
    at: Location

    def for_engine(self, engine: str) -> str | None:
        return dict(self.by_engine).get(engine)


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[tuple[str, str], ...] = ()  # (written, said), as given
    phonemes: tuple[Phonemes, ...] = ()  # the entries that give phonemes

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        words = sorted((w for w, _ in self.entries), key=len, reverse=True)
        return re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, words))})(?!\w)", re.I) if words else None

    def respell(self, text: str) -> tuple[str, tuple[str, ...]]:
        """The text with every entry replaced, and the entries (as written in the lexicon) it used."""
        if self._pattern is None:
            return text, ()
        said = {w.casefold(): (w, s) for w, s in self.entries}
        used: dict[str, None] = {}

        def swap(match: re.Match[str]) -> str:
            written, spoken = said[match.group(0).casefold()]
            used[written] = None
            return spoken

        return self._pattern.sub(swap, text), tuple(used)


def engine_text(spoken: str, used: tuple[str, ...], phonemes: tuple[Phonemes, ...], engine: str) -> str:
    """The spoken text as ``engine`` is given it: the said words of each used entry with phonemes for it
    replaced by the engine's phoneme markup; unchanged for every other engine."""
    from .speech_text import to_speech

    markup = PHONEME_MARKUP.get(engine)
    for entry in phonemes:
        ps = entry.for_engine(engine)
        if markup is None or ps is None or entry.written not in used:
            continue
        said = to_speech(entry.said).rstrip(".!?,;:")  # as the respelling reads once the line is spoken text
        pattern = rf"(?<!\w){re.escape(said)}(?!\w)"
        spoken = re.sub(pattern, lambda m: markup.format(said=m.group(0), ps=ps), spoken, flags=re.I)  # noqa: B023
    return spoken


Entry = str | dict[str, str]


def load_lexicon(
    folder: Path, front: dict[str, Entry], problems: list[tuple[Location, str]], script: Path, front_text: str
) -> Lexicon:
    """``folder/lexicon.yaml`` with the front matter's entries laid over it; problems appended, located."""
    found = _file_entries(folder / FILE_NAME, problems)
    for word, entry in front.items():
        line, col = locate(front_text, ["lexicon", word])
        found[word] = (entry, Location(script, line + 1, col))  # the front matter's first key is on line 2
    entries, phonemes = [], []
    for word, (entry, at) in found.items():
        if not word.strip():
            continue
        said = entry if isinstance(entry, str) else entry.get("say", word)
        entries.append((word.strip(), said.strip()))
        if isinstance(entry, dict) and (given := tuple((k, v.strip()) for k, v in entry.items() if k != "say")):
            phonemes.append(Phonemes(word.strip(), said.strip(), given, at))
    return Lexicon(tuple(entries), tuple(phonemes))


def _file_entries(path: Path, problems: list[tuple[Location, str]]) -> dict[str, tuple[Entry, Location]]:
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line, col, reason = describe_yaml_error(exc, text)
        problems.append((Location(path, line, col), f"not valid YAML ({reason}); fix the syntax"))
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append((Location(path, 1, 1), "a lexicon is `word: how to say it` pairs, e.g. `Nguyen: win`"))
        return {}
    good: dict[str, tuple[Entry, Location]] = {}
    for word, said in data.items():
        line, col = locate(text, [word])
        problem = _entry_problem(word, said)
        if problem is None:
            good[word] = (said, Location(path, line, col))
            continue
        where, message = problem
        line, col = locate(text, where)
        problems.append((Location(path, line, col), message))
    return good


def _entry_problem(word: object, said: object) -> tuple[list[str | int], str] | None:
    """(where in the YAML, what to do) for an entry that is neither text nor a mapping of entry keys."""
    if isinstance(word, str) and isinstance(said, str) and said.strip():
        return None
    if isinstance(word, str) and isinstance(said, dict) and said:
        for key, value in said.items():
            if key not in ENTRY_KEYS:
                keys = ", ".join(ENTRY_KEYS)
                return [
                    word,
                    key,
                ], f"{word!r}: {key!r} is not a lexicon key; give {keys} (phonemes in that engine's alphabet)"
            if not isinstance(value, str) or not value.strip():
                example = "win" if key == "say" else "wˈɪn"
                return [word, key], f"{word!r}: give {key} as text, e.g. `{key}: {example}`"
        return None
    example = f"e.g. `{word}: win`, or phonemes, e.g. `{word}: {{say: win, piper: wˈɪn}}`"
    return [str(word)], f"{word!r}: give how to say it as text, {example}"
