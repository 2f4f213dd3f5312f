"""Markdown script → `Script`.

The body is read line by line. Each line is a heading (chapter), a bracketed
cue, a parenthesised direction, a `NAME:` label (with text or standing alone),
metadata (`Key: value` before the first spoken line), a notes section, or
dialogue that continues the current speaker until a blank line.
Every problem is collected with its line:col and raised together.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import Location, ScriptError
from .cues import CueContext, CueProblem, classify_cue
from .directions import is_direction, split_inline
from .formats import NotTurns, is_podcastfy, json_turns, podcastfy_to_labelled
from .frontmatter import parse_front_matter, split_front_matter
from .lexicon import Lexicon, load_lexicon
from .model import Event, Heading, Line, MusicCue, Pause, Script, Sfx, Skipped, Span
from .preamble import is_end_marker, is_section_marker, is_title_line, strip_marks, title_of, unwrap
from .speakers import NARRATOR, SpeakerBook
from .speech_text import to_display, to_speech

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^(-{3,}|\*{3,}|_{3,})$")
_NOTES = re.compile(
    r"^(\*\*|__)?(production|show|producer'?s?|episode|end|director'?s?)?\s*notes?\s*(\*\*|__)?\s*:?\s*(\*\*|__)?$",
    re.I,
)
_LABEL = re.compile(
    r"^(?:\*\*|__)?(?P<name>[A-Za-z][\w.'\- ]{0,39}?)(?:\*\*|__)?\s*"
    r"(?:\((?P<direction>[^)]*)\))?\s*(?:\*\*|__)?\s*:(?:\*\*|__)?(?!//)\s*(?P<text>.*)$"
)
_STAMP = re.compile(r"^[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]?(?:\s*[-–—|]\s*|\s+|$)")
# A screenplay's character cue (Fountain's rule: all caps, alone on its line, after a blank line, dialogue right
# below), with its extension: "SARAH", "DR. MAYA PATEL (V.O.)", "MIKE (CONT'D)".
_CHARACTER = re.compile(
    r"^(?P<name>[A-Z](?:[A-Z0-9.'’\-]|\s(?=\S)){0,30}?)\s*(?P<ext>\((?:V\.?O\.?|O\.?S\.?|O\.?C\.?|CONT['’]?D)\))?$"
)
_TITLE_KEY = re.compile(r"(?:episode\s+)?title|(?:episode|ep\.?)\s*#?\d+")
_WHOLE_BRACKET = re.compile(r"^\[(?P<inner>.*)\]$")
_WHOLE_PAREN = re.compile(r"^\((?P<inner>[^()]*)\)$")
_ITALIC = re.compile(r"^\*(?![*\s])[^*]*(?<!\s)\*$|^_(?![_\s])[^_]*(?<!\s)_$")  # all of it, in one pair: not bold


def load_script(path: Path) -> Script:
    """Read and parse a script file; raises ScriptError listing every problem found."""
    script, problems = load_script_leniently(path)
    if problems:
        raise ScriptError(problems)
    return script


def load_script_leniently(path: Path) -> tuple[Script, list[tuple[Location, str]]]:
    """The script as far as it could be read, and its problems, so later checks can add theirs."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScriptError.at(Location(path), f"cannot read the script ({exc.strerror}); check the path") from exc
    return parse_leniently(decode_script(raw, path), path)


def decode_script(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise ScriptError.at(
            Location(path, line, col),
            f"not UTF-8 text (byte 0x{bad}); save the script as UTF-8 (e.g. in your editor: 'Save with encoding')",
        ) from exc


def parse_script(text: str, path: Path) -> Script:
    script, problems = parse_leniently(text, path)
    if problems:
        raise ScriptError(problems)
    return script


def parse_leniently(text: str, path: Path) -> tuple[Script, list[tuple[Location, str]]]:
    problems: list[tuple[Location, str]] = []
    yaml_text, first_line, body = split_front_matter(text.replace("\r\n", "\n").replace("\r", "\n"))
    front = parse_front_matter(yaml_text, path, problems)
    json_title, numbered = _numbered(body, first_line, path, problems)
    given = {w: e if isinstance(e, str) else e.model_dump(exclude_none=True) for w, e in front.lexicon.items()}
    lexicon = load_lexicon(path.parent, given, problems, path, yaml_text or "")
    reader = _BodyReader(path, SpeakerBook(front, path, problems, yaml_text), problems, lexicon)
    for line_no, line in numbered:
        reader.feed(line_no, line)
    reader.close()
    reader.title_from_narrator()
    if not problems and not any(isinstance(e, Line) for e in reader.events):
        problems.append(
            (Location(path, 1, 1), "nothing to say: the script has no spoken lines; add e.g. `ALEX: Hello`")
        )
    title = front.title or json_title or reader.first_title or path.stem.replace("_", " ").replace("-", " ").title()
    book = reader.speakers
    speakers = book.finish()
    script = Script(path, title, front, speakers, tuple(reader.events), tuple(reader.skipped), yaml_text or "",
                    book.voice_spans(), tuple(w for w, _ in lexicon.entries), lexicon.phonemes)  # fmt: skip
    return script, problems


def _numbered(
    body: list[str], first_line: int, path: Path, problems: list[tuple[Location, str]]
) -> tuple[str | None, list[tuple[int, str]]]:
    """The body's lines with their numbers in the file, podcastfy and JSON turns made `SPEAKER: text` lines; and
    the title a JSON script names."""
    joined = "\n".join(body)
    try:
        found = json_turns(joined)
    except NotTurns as exc:
        example = '[{"speaker": "Ana", "text": "Hello"}, ...]'
        why = f"this JSON is not a script ({exc}); podforge reads JSON as a list of turns such as {example}"
        problems.append((Location(path, first_line, 1), f"{why}, or write the script as `ANA: Hello` lines"))
        return None, []
    if found is not None:
        return found[0], [(first_line - 1 + line_no, line) for line_no, line in found[1]]
    if is_podcastfy(joined):
        return None, podcastfy_to_labelled(body, first_line)
    return None, [(first_line + i, line) for i, line in enumerate(body)]


class _BodyReader:
    def __init__(
        self, path: Path, speakers: SpeakerBook, problems: list[tuple[Location, str]], lexicon: Lexicon
    ) -> None:
        self.path = path
        self.lexicon = lexicon
        self.speakers = speakers
        self.problems = problems
        self.events: list[Event] = []
        self.skipped: list[Skipped] = []
        self.first_title: str | None = None
        self.in_notes = False
        self.has_spoken = False  # a Line is in events (kept as a flag: asked on every line)
        self.current: str | None = None
        self.direction = ""
        self.buffer: list[str] = []
        self.buffer_at = Span(0)
        self.after_blank = True  # the line before was blank (or there was none)
        self.character: tuple[str, int, int] | None = None  # a screenplay CHARACTER line waiting for its dialogue

    def problem(self, line_no: int, col: int, message: str) -> None:
        self.problems.append((Location(self.path, line_no, col), message))

    def feed(self, line_no: int, raw: str) -> None:
        line = raw.strip()
        col = len(raw) - len(raw.lstrip()) + 1
        if self.character is not None:
            self._settle_character(dialogue_follows=bool(line))
        if not line:
            self.flush()
            self.current = None
        elif self.in_notes:
            self.skipped.append(Skipped("notes", line, Span(line_no, col)))
        else:
            self._feed_content(line, line_no, col)
        self.after_blank = not line

    def close(self) -> None:
        if self.character is not None:
            self._settle_character(dialogue_follows=False)
        self.flush()

    def title_from_narrator(self) -> None:
        """In a script whose speakers are named by labels, a short unpunctuated first line that nobody is named
        for ("Interview with a gardener") is its title, not the only line of a narrator."""
        lines = [e for e in self.events if isinstance(e, Line)]
        first = lines[0] if lines else None
        if first is None or first.speaker != NARRATOR or self.speakers.front.speakers or self.first_title:
            return
        if len(first.text.split()) > 10 or re.search(r"[.!?…:;,]$", first.text) or len(lines) < 2:
            return
        if any(line.speaker == NARRATOR for line in lines[1:]):
            return
        self.events.remove(first)
        self.skipped.append(Skipped("title", first.text, first.at))
        self.first_title = first.text
        self.speakers.seen.remove(NARRATOR)

    def _settle_character(self, *, dialogue_follows: bool) -> None:
        """A screenplay's CHARACTER line (caps, alone, after a blank line) names who speaks the lines right
        below it; with nothing below, it was an ordinary line after all."""
        assert self.character is not None
        (raw, line_no, col), self.character = self.character, None
        match = _CHARACTER.match(raw)
        assert match is not None
        if not dialogue_follows:
            self._feed_content(raw, line_no, col, character=False)
            return
        self.current, self.direction = self.speakers.resolve(match["name"], Span(line_no, col)), ""
        if match["ext"]:
            self.skipped.append(Skipped("direction", match["ext"], Span(line_no, col + match.start("ext"))))

    @property
    def before_dialogue(self) -> bool:
        return not self.buffer and not self.has_spoken

    def _feed_content(self, raw: str, line_no: int, col: int, *, character: bool = True) -> None:
        raw, col = self._timestamp(raw, line_no, col)
        if not raw:
            return
        line = unwrap(raw)
        start, col = col, col + raw.find(line)
        if match := _HEADING.match(raw):
            self._heading(match, line_no, col)
        elif _RULE.match(line) or line.startswith("<!--"):
            self.flush()
        elif _NOTES.match(line) or (is_end_marker(line) and not self.before_dialogue):
            # After "END OF SCRIPT" or "Production Notes:" nothing more is meant to be said.
            self._skip("notes" if _NOTES.match(line) else "end", raw, line_no, col)
            self.in_notes = True
        elif self.before_dialogue and self.current is None and is_title_line(line):
            self._skip("title", raw, line_no, col)
            self.first_title = self.first_title or title_of(line)
        elif line[:1].isupper() and is_section_marker(line):
            self._skip("section", raw, line_no, col)
        elif match := _WHOLE_BRACKET.match(line):
            self._cue(match["inner"], line, line_no, col)
        elif (match := _WHOLE_PAREN.match(line)) and (self.current is None or is_direction(match["inner"])):
            self._direction_line(match["inner"], line, line_no, col)
        elif (match := _LABEL.match(line)) and self._label(match, line_no, col):
            return
        elif self.current is None and _ITALIC.match(strip_marks(raw)) and self._labelled():
            self._skip("direction", raw, line_no, col)  # `*Thanks for listening! Produced by …*` at the end
        elif character and self.after_blank and self._is_character(line):
            self.flush()
            self.character = (line, line_no, col)
        else:  # as written: `*sighs*` is a direction only while its stars are there
            self._dialogue(raw, line_no, start)

    def _labelled(self) -> bool:
        """Whether someone has spoken under a label: then a line wholly in italics that nobody is labelled to say
        is a stage direction, a credit or a note (as in audio-drama scripts), not the narrator's."""
        return any(label != NARRATOR for label in self.speakers.seen)

    def _is_character(self, line: str) -> bool:
        match = _CHARACTER.match(line)
        return match is not None and self.speakers.classify(match["name"], "", before_dialogue=False) == "speaker"

    def _timestamp(self, raw: str, line_no: int, col: int) -> tuple[str, int]:
        """A transcript's time before a label (`[00:01:02] SAM: …`, `00:07 SAM: …`) or alone on its line is
        not said; the rest of the line is read as usual."""
        stamp = _STAMP.match(raw)
        rest = raw[stamp.end() :] if stamp else raw
        if stamp is None or (rest and not _LABEL.match(unwrap(rest))):
            return raw, col
        self.skipped.append(Skipped("timestamp", stamp[0].strip(), Span(line_no, col)))
        return rest, col + stamp.end()

    def _skip(self, kind: str, text: str, line_no: int, col: int) -> None:
        self.flush()
        self.current = None
        self.skipped.append(Skipped(kind, text, Span(line_no, col)))

    def _heading(self, match: re.Match[str], line_no: int, col: int) -> None:
        self.flush()
        self.current = None
        title, level = match[2].strip(), len(match[1])
        if _NOTES.match(title):
            self.in_notes = True
            self.skipped.append(Skipped("notes", match[0], Span(line_no, col)))
            return
        if self.first_title is None and level == 1:
            self.first_title = title
        if level <= 2 and title:
            self.events.append(Heading(title, level, Span(line_no, col)))
        else:
            self.skipped.append(Skipped("heading", match[0], Span(line_no, col)))

    def _cue(self, inner: str, line: str, line_no: int, col: int) -> None:
        self.flush()
        try:
            cue = classify_cue(inner, CueContext(line, line_no, col + 1))
        except CueProblem as problem:
            self.problem(line_no, problem.col + col - 1, str(problem))
            return
        if isinstance(cue, Skipped):
            self.skipped.append(cue)
        else:
            self.events.append(cue)

    def _direction_line(self, inner: str, line: str, line_no: int, col: int) -> None:
        self.flush()
        self.skipped.append(Skipped("direction", line, Span(line_no, col)))
        word = inner.strip().lower().rstrip(".")
        if word in {"beat", "pause", "a beat", "long pause", "short pause"}:
            self.events.append(Pause(2.0 if word == "long pause" else 0.6, Span(line_no, col)))

    def _label(self, match: re.Match[str], line_no: int, col: int) -> bool:
        """Handle `NAME: text`; False when the label is not a speaker (then it is dialogue text)."""
        name, text, direction = match["name"].strip(), match["text"], (match["direction"] or "").strip()
        if person := self.speakers.person(name, direction):  # `Host 1 (Sarah):` is Sarah speaking
            name, direction = person, ""
        verdict = self.speakers.classify(name, text, before_dialogue=self.before_dialogue)
        if verdict == "text":
            return False
        self.flush()
        if verdict == "metadata":
            self.skipped.append(Skipped("metadata", match[0], Span(line_no, col)))
            if self.first_title is None and _TITLE_KEY.fullmatch(name.lower()) and text.strip():
                self.first_title = text.strip().strip('*_"“”')  # "Title: Café Talk", "Episode 12: Vertical Gardens"
            return True
        if verdict == "unknown":
            self.problem(line_no, col, self.speakers.unknown_message(name))
            self.current = None
            return True
        self.current = self.speakers.resolve(name, Span(line_no, col))
        self.direction = direction
        if self.direction:
            self.skipped.append(Skipped("direction", f"({self.direction})", Span(line_no, col)))
        if text.strip():
            self._dialogue(text, line_no, col + match.start("text"))
        return True

    def _dialogue(self, text: str, line_no: int, col: int) -> None:
        if self.current is None:
            narrator = self.speakers.narrator(Span(line_no, col))
            if narrator is None:
                self.problem(line_no, col, self.speakers.unlabelled_message())
                return
            self.current, self.direction = narrator, ""
        try:
            parts, skipped = split_inline(text, line_no, col)
        except CueProblem as problem:
            self.problem(line_no, problem.col, str(problem))
            return
        self.skipped.extend(skipped)
        for part in parts:
            self._add_part(part, line_no, col)

    def _add_part(self, part: str | Pause | MusicCue | Sfx, line_no: int, col: int) -> None:
        if isinstance(part, str):
            if part.strip():
                if not self.buffer:
                    self.buffer_at = Span(line_no, col)
                self.buffer.append(part.strip())
            return
        self.flush()
        self.events.append(part)

    def flush(self) -> None:
        if not self.buffer or self.current is None:
            self.buffer = []
            return
        text = to_display(" ".join(self.buffer))
        self.buffer = []
        said, respelled = self.lexicon.respell(text)
        spoken = to_speech(said)
        if not re.search(r"\w", spoken):
            self.skipped.append(Skipped("empty", text, self.buffer_at))
            return
        self.events.append(Line(self.current, text, spoken, self.buffer_at, self.direction, respelled))
        self.has_spoken = True
