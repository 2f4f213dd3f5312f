"""The pronunciation lexicon: words or phrases mapped to how the voices should say them.

Entries come from ``lexicon.yaml`` beside the script (the workspace or show folder) and from the
front matter's ``lexicon:``, which wins. They are applied to the written line before ``to_speech``,
whole words only and case-insensitively, longest phrase first, so a line without an entry keeps
exactly the spoken text (and so the clip) it had before.
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


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[tuple[str, str], ...] = ()  # (written, said), as given

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


def load_lexicon(folder: Path, front: dict[str, str], problems: list[tuple[Location, str]]) -> Lexicon:
    """``folder/lexicon.yaml`` with the front matter's entries laid over it; problems appended, located."""
    entries = {**_file_entries(folder / FILE_NAME, problems), **front}
    return Lexicon(tuple((w.strip(), s.strip()) for w, s in entries.items() if w.strip()))


def _file_entries(path: Path, problems: list[tuple[Location, str]]) -> dict[str, str]:
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
    good = {}
    for word, said in data.items():
        if isinstance(word, str) and isinstance(said, str) and said.strip():
            good[word] = said
            continue
        line, col = locate(text, [word])
        problems.append((Location(path, line, col), f"{word!r}: give how to say it as text, e.g. `{word}: win`"))
    return good
