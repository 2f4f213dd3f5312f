"""Who is speaking: declared speakers from the front matter, or labels found in a plain script."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from .._yamlpos import locate
from ..colors import SPEAKER_PALETTE
from ..config import FrontMatter
from ..errors import Location
from .model import Span, Speaker
from .preamble import key_kind, reads_as_value

NARRATOR = "NARRATOR"
Verdict = Literal["speaker", "metadata", "unknown", "text"]


def _is_caps(name: str) -> bool:
    return any(c.isalpha() for c in name) and name.upper() == name


def _is_titled(name: str) -> bool:
    words = name.split()
    return 0 < len(words) <= 3 and all(w[0].isupper() or w[0].isdigit() for w in words)


# A role a script names before the person who plays it: "Host 1 (Sarah):", "Guest (Dr. Maya Patel):".
_ROLE = re.compile(
    r"^(?:co-?host|host|guest|speaker|interviewer|interviewee|moderator|presenter|person|caller|panel(?:l)?ist|"
    r"expert|reporter|anchor)\s*(?:\d{1,2}|[a-d])?$",
    re.I,
)
_NAME_WORD = re.compile(r"[A-Z][a-z]*(?:[-'’][A-Z]?[a-z]+)*\.?")  # Sarah, O'Neil, Dr., J. (not V.O., CONT'D)


def named_role(name: str, inner: str) -> str | None:
    """The person in a `Host 1 (Sarah):` label, who speaks under their own name in the rest of the script."""
    from .directions import is_direction

    words = inner.split()
    if not _ROLE.match(name.strip()) or not 1 <= len(words) <= 3 or is_direction(inner):
        return None
    named = all(_NAME_WORD.fullmatch(w) for w in words) and any(len(w.rstrip(".")) > 1 for w in words)
    return inner.strip() if named else None


class SpeakerBook:
    def __init__(
        self, front: FrontMatter, path: Path, problems: list[tuple[Location, str]], yaml_text: str | None
    ) -> None:
        self.front = front
        self.path = path
        self.problems = problems
        self.yaml_text = yaml_text or ""
        self.declared = {self._key(label): label for label in front.speakers}
        for label, config in front.speakers.items():
            if config.name:
                self.declared.setdefault(self._key(config.name), label)
        self.seen: list[str] = []
        self.roles: dict[str, str] = {}  # "HOST 1" → "SARAH", from a `Host 1 (Sarah):` label

    def person(self, name: str, inner: str) -> str | None:
        """For a `Host 1 (Sarah):` label, the person speaking (Sarah), remembered for later `Host 1:` labels;
        None for any other label, or when the front matter declares the role itself."""
        if self._key(name) in self.declared:
            return None
        person = named_role(name, inner)
        if person is not None:
            self.roles[self._key(name)] = self._key(person)
        return person

    @staticmethod
    def _key(name: str) -> str:
        return re.sub(r"[\s_]+", " ", name.strip().strip("*_")).upper()

    def classify(self, name: str, text: str, *, before_dialogue: bool) -> Verdict:
        if self._key(name) in self.declared or self._key(name) in self.roles:
            return "speaker"
        kind = key_kind(name)
        if kind == "strong" or (kind == "weak" and before_dialogue and reads_as_value(text)):
            return "metadata"
        if re.search(r"\d", name) and not _is_caps(name) and not re.fullmatch(r"[A-Za-z]+ ?\d+", name):
            return "text"
        if before_dialogue and self._is_metadata(name, text):
            return "metadata"
        if self.declared:
            return "unknown" if _is_caps(name) or (_is_titled(name) and len(name.split()) == 1) else "text"
        if (_is_caps(name) and len(name.split()) <= 4) or _is_titled(name):
            return "speaker"
        return "text"

    @staticmethod
    def _is_metadata(name: str, text: str) -> bool:
        # Before anything is said, a lowercase `Some key: short value` is a note, not a speaker.
        short = len(text.split()) <= 6 and not re.search(r"[.!?]$", text.strip())
        return not _is_caps(name) and short and bool(text.strip())

    def resolve(self, name: str, at: Span) -> str:
        key = self.roles.get(self._key(name), self._key(name))
        label = self.declared.get(key) or key
        if label not in self.seen:
            self.seen.append(label)
        return label

    def narrator(self, at: Span) -> str | None:
        if len(self.front.speakers) == 1:
            return self.resolve(next(iter(self.front.speakers)), at)
        if self.front.speakers:
            return None
        return self.resolve(NARRATOR, at)

    def unknown_message(self, name: str) -> str:
        known = ", ".join(self.front.speakers)
        return (
            f"unknown speaker {name!r}; the front matter declares {known}. "
            f"Fix the name or add {name.strip()} under `speakers:`"
        )

    def unlabelled_message(self) -> str:
        known = ", ".join(self.front.speakers)
        return (
            f"text without a speaker; start it with one of {known} followed by `:`, "
            "or put it in [brackets] if it is a production cue"
        )

    def finish(self) -> dict[str, Speaker]:
        labels = list(self.front.speakers) + [s for s in self.seen if s not in self.front.speakers]
        speakers = {}
        for index, label in enumerate(labels):
            config = self.front.speakers.get(label)
            color = (config.color if config else None) or SPEAKER_PALETTE[index % len(SPEAKER_PALETTE)]
            speakers[label] = Speaker(
                label=label,
                display_name=(config.name if config else None) or label,
                voice=config.voice if config else None,
                color=color,
                avatar=config.avatar if config else None,
                speed=config.speed if config else 1.0,
                declared_at=self._voice_span(label) if config else None,
                look_gender=config.look.gender if config and config.look else None,
                look_hair=config.look.hair if config and config.look else None,
            )
        return speakers

    def voice_spans(self) -> dict[str, Span]:
        """Where each named voice sits in the front matter: its `file:` if it has one, so errors point there."""
        spans = {}
        for name, spec in self.front.voices.items():
            line, col = locate(self.yaml_text, ("voices", name, "file" if spec.file else "base"))
            spans[name] = Span(line + 1, col)
        return spans

    def _voice_span(self, label: str) -> Span:
        line, col = locate(self.yaml_text, ("speakers", label, "voice"))
        return Span(line + 1, col)
