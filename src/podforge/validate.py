"""Everything that can be checked before any synthesis: voices, media files, durations.

Problems are collected with their script locations and raised together, so a
user fixes the whole script in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .config import RenderConfig
from .errors import ConfigError, EngineError, Location, MediaError, ScriptError
from .mediacheck import check_cover, check_pictures, file_problem
from .script.lexicon import Phonemes
from .script.model import Heading, Line, MusicCue, Pause, Script, Sfx, Span
from .voices.cast import Cast, Voice, VoiceBook, cast_speakers
from .voices.files import VoiceFileProblem
from .voices.registry import PHONEME_ALPHABETS, phoneme_symbols

Stereo = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CheckedScript:
    script: Script
    config: RenderConfig
    voices: dict[str, str]  # speaker → voice id as the user sees it
    sfx: dict[str, Stereo]
    cast: dict[str, Voice] = field(default_factory=dict)  # speaker → what is synthesised
    #: What will work, but not as the user may expect (a photo with no face is shown as a still; two speakers
    #: sharing a voice).
    warnings: list[tuple[Location, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SpokenRow:
    """One row of `check --show` and the studio's "what will be spoken" table."""

    line: int
    what: str  # speak | pause | music | music stop | sfx | chapter | skipped <kind>
    who: str
    text: str


def spoken_rows(script: Script, voices: dict[str, str]) -> list[SpokenRow]:
    """Exactly what will be spoken, by whom, and everything that will not, in file order."""
    rows = [SpokenRow(event.at.line, *_describe(event, voices)) for event in script.events]
    rows += [SpokenRow(skip.at.line, f"skipped {skip.kind}", "", skip.text) for skip in script.skipped]
    return sorted(rows, key=lambda row: row.line)


def _describe(event: object, voices: dict[str, str]) -> tuple[str, str, str]:
    if isinstance(event, Line):
        what = f"speak, lexicon: {', '.join(event.respelled)}" if event.respelled else "speak"
        return what, f"{event.speaker} ({voices.get(event.speaker, '?')})", event.spoken
    if isinstance(event, Pause):
        return "pause", "", f"{event.seconds:g} s"
    if isinstance(event, MusicCue):
        return ("music stop", "", "") if event.stop else ("music", "", event.source)
    if isinstance(event, Sfx):
        return "sfx", "", event.path
    if isinstance(event, Heading):
        return "chapter", "", event.title
    return "?", "", str(event)


def voice_book(script: Script, config: RenderConfig) -> VoiceBook:
    """The config's named voices (files already absolute) with the front matter's over them."""
    return VoiceBook({**config.voices, **script.front.voices}, script.base_dir)


def assign_voices(script: Script, config: RenderConfig) -> Cast:
    """Speaker → voice; speakers without one get distinct voices in order of appearance (voices/cast.py)."""
    speaking = [line.speaker for line in script.lines]
    order = sorted(script.speakers, key=lambda label: speaking.index(label) if label in speaking else len(speaking))
    refs = [(label, script.speakers[label].voice) for label in order]
    return cast_speakers(refs, voice_book(script, config), config.tts_engine)


def _check_named_voices(script: Script, book: VoiceBook, problems: list[tuple[Location, str]]) -> None:
    """Every voice the front matter defines is checked where it is defined, used or not."""
    for name, at in script.voice_spans.items():
        try:
            book.resolve(name)
        except (EngineError, VoiceFileProblem) as exc:
            problems.append((Location(script.path, at.line, at.col), f"voice {name}: {exc}"))


def _located(script: Script, label: str) -> Location:
    at = script.speakers[label].declared_at or Span(1)
    return Location(script.path, at.line, at.col)


def check_script(
    script: Script, config: RenderConfig, problems: list[tuple[Location, str]] | None = None, *, video: bool = True
) -> CheckedScript:
    """Raises ScriptError with the parser's problems (if given) and every one found here, in file order.

    ``video`` also checks what only the video reads: avatars, portraits, cover art, fonts.
    """
    problems = list(problems or [])
    warnings: list[tuple[Location, str]] = []
    sample_rate = config.output.sample_rate
    _check_named_voices(script, voice_book(script, config), problems)
    cast = assign_voices(script, config)
    for label, message in cast.problems:
        if script.speakers[label].voice not in script.voice_spans:  # reported where it is defined
            problems.append((_located(script, label), f"speaker {label}: {message}"))
    sfx: dict[str, Stereo] = {}
    for event in script.events:
        if isinstance(event, Sfx | MusicCue) and _is_file(event):
            _check_media(script, event, sample_rate, sfx, problems)
    _check_music_engine(script, config, problems)
    _check_avatar_engine(script, config, problems)
    check_cover(script, config.video, problems)  # the cover goes into the MP3 too
    if video:
        check_pictures(script, config.video, problems, warnings)
    _check_phonemes(script, cast.voices, problems, warnings)
    if problems:
        raise ScriptError(sorted(problems, key=lambda p: (p[0].line, p[0].col)))
    warnings += [(_located(script, label), message) for label, message in cast.warnings]
    voices = {label: voice.id for label, voice in cast.voices.items()}
    warnings.sort(key=lambda p: (p[0].line, p[0].col))
    return CheckedScript(script, config, voices, sfx, cast.voices, warnings)


def _check_phonemes(
    script: Script, cast: dict[str, Voice], problems: list[tuple[Location, str]], warnings: list[tuple[Location, str]]
) -> None:
    """Lexicon phonemes: symbols the engine has no id for are errors; a line voiced by an engine the entry gives
    no phonemes for is a warning at the entry (that voice says the respelling), never a silent fallback."""
    for entry in script.phonemes:
        lines = [line for line in script.lines if entry.written in line.respelled and line.speaker in cast]
        voices = [cast[line.speaker].engine_id for line in lines]
        for engine, ps in entry.by_engine:
            known = phoneme_symbols(next((v for v in voices if v.startswith(f"{engine}:")), f"{engine}:"))
            unknown = sorted(set(ps) - known) if known is not None else []
            if unknown:
                alphabet = PHONEME_ALPHABETS[engine]
                message = f"{engine} has no phonemes {' '.join(unknown)} (in {ps!r}); write them in {alphabet}"
                problems.append((entry.at, f"{entry.written!r}: {message}"))
        without: dict[str, list[int]] = {}
        for line, voice in zip(lines, voices, strict=True):
            if entry.for_engine(engine := voice.partition(":")[0]) is None:
                without.setdefault(engine, []).append(line.at.line)
        warnings += [(entry.at, _unphonemed(entry, engine, numbers)) for engine, numbers in without.items()]


def _unphonemed(entry: Phonemes, engine: str, lines: list[int]) -> str:
    fix = f"give `{engine}:` phonemes too" if engine in PHONEME_ALPHABETS else f"{engine} voices take no phonemes"
    if entry.said == entry.written:
        fix += "; a `say:` respelling is what they would speak"
    return f"{entry.written!r}: {engine} voices line {', '.join(map(str, lines))}, saying {entry.said!r}; {fix}"


def _check_music_engine(script: Script, config: RenderConfig, problems: list[tuple[Location, str]]) -> None:
    """A music engine that cannot start is a setup problem: report it before any synthesis."""
    moods = [e for e in script.events if isinstance(e, MusicCue) and not e.stop and not e.is_file]
    if not (moods or config.music.intro or config.music.outro):
        return
    from .music.registry import check_music_engine

    try:
        check_music_engine(config.music, script.base_dir)
    except (EngineError, ConfigError) as exc:
        at = moods[0].at if moods else Span(1)
        problems.append((Location(script.path, at.line, at.col), f"music: {exc}"))
        return
    if config.music.engine == "folder":
        _check_folder_tracks(script, config, moods, problems)


def _check_folder_tracks(
    script: Script, config: RenderConfig, moods: list[MusicCue], problems: list[tuple[Location, str]]
) -> None:
    """The track the folder engine will pick for each cue must decode, like any music file."""
    from .audio.export import decode_audio
    from .music.engines import FolderEngine
    from .music.registry import load_music_engine

    engine = load_music_engine(config.music, script.base_dir)
    assert isinstance(engine, FolderEngine)
    wanted = [(cue.source, cue.at) for cue in moods]
    wanted += [(cue, script.front_span("music", key)) for key, cue in
               (("intro", config.music.intro), ("outro", config.music.outro)) if cue]  # fmt: skip
    checked: set[Path] = set()
    for cue, span in wanted:
        for track in engine.candidates(cue):
            if track in checked:
                continue
            checked.add(track)
            try:
                decode_audio(track, config.output.sample_rate)
            except MediaError as exc:
                problems.append((Location(script.path, span.line, span.col), f"music folder track: {exc}"))


def _check_avatar_engine(script: Script, config: RenderConfig, problems: list[tuple[Location, str]]) -> None:
    """A SadTalker or Wav2Lip setup that cannot run is reported at its `avatar:` key, before any synthesis."""
    if config.avatar.engine == "photo":
        return
    from ._yamlpos import locate
    from .script.frontmatter import split_front_matter
    from .visuals.avatars.talking import check_talking_engine

    found = check_talking_engine(config.avatar, script.base_dir)
    if not found:
        return
    try:
        front_text, _, _ = split_front_matter(script.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        front_text = None
    for key, message in found:
        if front_text is not None and key in script.front.avatar.model_fields_set:
            line, col = locate(front_text, ("avatar", key))
            problems.append((Location(script.path, line + 1, col), f"avatar.{key}: {message}"))
        else:  # set in the render config (-c), which has no place in this script
            problems.append((Location(script.path, 0), f"config avatar.{key}: {message}"))


def _is_file(event: Sfx | MusicCue) -> bool:
    return isinstance(event, Sfx) or event.is_file


def _check_media(
    script: Script,
    event: Sfx | MusicCue,
    rate: int,
    sfx: dict[str, Stereo],
    problems: list[tuple[Location, str]],
) -> None:
    from .audio.export import decode_audio

    name = event.path if isinstance(event, Sfx) else event.source
    path = script.base_dir / name
    where = Location(script.path, event.at.line, event.at.col)
    what = "sound effect" if isinstance(event, Sfx) else "music file"
    missing = file_problem(path)
    if missing:
        problems.append((where, f"{what} {name!r} {missing}"))
        return
    try:
        audio = decode_audio(path, rate)
    except MediaError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        problems.append((where, f"{what} {name!r}: {reason}"))
        return
    if isinstance(event, Sfx):
        sfx[name] = audio
