"""Takes: alternative voicings of one line, recorded beside the script in ``<stem>.takes.json``.

A take is a (seed, speed, voice) variation of a line's clip request. Lines are keyed by the hash of
speaker and spoken text, so editing other lines (or moving this one) never disturbs its takes, while
rewording the line starts it afresh. Take 1 is always the line as the script voices it; the chosen
take replaces only that line's ClipRequest, so a re-render misses the cache for that line alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._atomic import atomic_write_text
from .errors import ConfigError, EngineError, Location, ScriptError
from .listen import DEFAULT_THRESHOLD, hear_once
from .script.lexicon import engine_text
from .script.model import Line, Script
from .voices.preview import VoicePreview
from .voices.registry import check_voice, speaks_words
from .voices.synth import ClipRequest

if TYPE_CHECKING:
    from .cache import ContentCache
    from .validate import CheckedScript

FORMAT = 1


@dataclass(frozen=True)
class Take:
    seed: int = 0
    speed: float = 1.0  # a factor on the line's own speed
    voice: str | None = None  # an engine voice id replacing the speaker's, e.g. "piper:joe"


ORIGINAL = Take()


@dataclass(frozen=True)
class LineTakes:
    line: int  # where the line was when last touched (for people reading the file)
    takes: tuple[Take, ...] = (ORIGINAL,)
    chosen: int = 1  # 1-based

    @property
    def take(self) -> Take:
        return self.takes[self.chosen - 1]


def line_hash(line: Line) -> str:
    return hashlib.sha256(f"{line.speaker}\n{line.spoken}".encode()).hexdigest()[:16]


def takes_path(script_path: Path) -> Path:
    return script_path.with_name(f"{script_path.stem}.takes.json")


def load_takes(script_path: Path) -> dict[str, LineTakes]:
    """The sidecar's takes by line hash; none when there is no sidecar; ConfigError naming it when malformed."""
    path = takes_path(script_path)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {key: _line_takes(value) for key, value in raw["lines"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path.name}: not a takes file ({exc}); fix it or delete it to start over") from exc


def _line_takes(raw: dict[str, Any]) -> LineTakes:
    takes = tuple(Take(int(t["seed"]), float(t["speed"]), t.get("voice") or None) for t in raw["takes"])
    chosen = int(raw["chosen"])
    if not takes or not 1 <= chosen <= len(takes) or any(not 0.25 <= t.speed <= 4.0 for t in takes):
        raise ValueError("chosen take out of range or speed outside 0.25-4")
    return LineTakes(int(raw["line"]), takes, chosen)


def save_takes(script_path: Path, takes: dict[str, LineTakes]) -> None:
    lines = {
        key: {"line": t.line, "chosen": t.chosen, "takes": [asdict(take) for take in t.takes]}
        for key, t in sorted(takes.items())
    }
    atomic_write_text(takes_path(script_path), json.dumps({"format": FORMAT, "lines": lines}, indent=2) + "\n")


def find_line(script: Script, line_no: int) -> Line:
    for line in script.lines:
        if line.at.line == line_no:
            return line
    spoken = ", ".join(str(line.at.line) for line in script.lines[:12])
    raise ScriptError.at(
        Location(script.path, line_no), f"no spoken line starts here; spoken lines start at lines {spoken}"
    )


def list_takes(script: Script, line_no: int) -> LineTakes:
    line = find_line(script, line_no)
    return load_takes(script.path).get(line_hash(line), LineTakes(line_no))


def new_take(script: Script, line_no: int, speed: float = 1.0, voice: str | None = None) -> LineTakes:
    """Record another take of the line (the next unused seed) and choose it; the render voices it."""
    if not 0.25 <= speed <= 4.0:
        raise ConfigError(f"--speed {speed}: a take's speed is a factor between 0.25 and 4")
    if voice is not None:
        try:
            check_voice(voice)
        except EngineError as exc:
            raise ConfigError(f"--voice {voice}: {exc}; see podforge voices") from exc
    line = find_line(script, line_no)
    current = list_takes(script, line_no)
    seed = max(t.seed for t in current.takes) + 1
    updated = LineTakes(line_no, (*current.takes, Take(seed, speed, voice)), len(current.takes) + 1)
    _store(script, line, updated)
    return updated


def choose_take(script: Script, line_no: int, number: int) -> LineTakes:
    line = find_line(script, line_no)
    current = list_takes(script, line_no)
    if not 1 <= number <= len(current.takes):
        raise ConfigError(f"--choose {number}: line {line_no} has takes 1 to {len(current.takes)}")
    updated = replace(current, line=line_no, chosen=number)
    _store(script, line, updated)
    return updated


def _store(script: Script, line: Line, updated: LineTakes) -> None:
    takes = load_takes(script.path)
    takes[line_hash(line)] = updated
    save_takes(script.path, takes)


def take_request(request: ClipRequest, take: Take, script: Script, line: Line) -> ClipRequest:
    if take == ORIGINAL:
        return request
    voice = take.voice or request.voice_id
    # Another voice gets the line as its own engine takes it: lexicon phonemes are written per engine.
    text = engine_text(line.spoken, line.respelled, script.phonemes, voice.partition(":")[0]) if take.voice else None
    return replace(request, voice_id=voice, seed=take.seed, speed=round(request.speed * take.speed, 4),
                   text=text or request.text)  # fmt: skip


def apply_takes(script: Script, requests: Sequence[ClipRequest]) -> list[ClipRequest]:
    """Each line's request with its chosen take laid over it (lines without takes unchanged)."""
    takes = load_takes(script.path)
    return [
        take_request(request, takes[h].take, script, line) if (h := line_hash(line)) in takes else request
        for line, request in zip(script.lines, requests, strict=True)
    ]


def take_audio(checked: CheckedScript, line_no: int, number: int, cache: ContentCache) -> VoicePreview:
    """One take of a line, voiced into the cache (where the render will find it) and returned to play."""
    request, line, samples = _voiced(checked, line_no, number, cache)
    return VoicePreview(request.voice_id, line.spoken, samples, checked.config.output.sample_rate, cached=True)


@dataclass(frozen=True)
class TakeCheck:
    """What the listening check heard in one take, and whether it would flag it."""

    line: int
    take: int
    checked: bool  # False for a voice that speaks no words (a tone engine): nothing to hear
    heard: str
    wer: float
    flagged: bool
    threshold: float


def check_take(
    checked: CheckedScript, line_no: int, number: int, cache: ContentCache, threshold: float = DEFAULT_THRESHOLD
) -> TakeCheck:
    """One take heard by the render's listening check (voiced first if need be), so takes can be compared by what
    a listener makes of them. The take is aligned too. Both results are cached per clip, as the render caches
    them, so an episode rendered with this take neither hears nor aligns it again."""
    from .align import aligned_words
    from .voices.synth import CLIP_KIND

    request, line, samples = _voiced(checked, line_no, number, cache)
    rate, key = checked.config.output.sample_rate, request.key(checked.config.output.sample_rate)
    aligned_words(cache, key, samples, line.spoken, rate, cache.digest(CLIP_KIND, key))
    if not speaks_words(request.voice_id):
        return TakeCheck(line_no, number, False, "", 0.0, False, threshold)
    heard, wer = hear_once(cache, key, line.spoken, samples, rate)
    return TakeCheck(line_no, number, True, heard, wer, wer > threshold, threshold)


def _voiced(
    checked: CheckedScript, line_no: int, number: int, cache: ContentCache
) -> tuple[ClipRequest, Line, npt.NDArray[np.float32]]:
    """Take ``number`` of the line's clip request, its line and its samples, voiced into the cache if need be."""
    from .pipeline import clip_requests
    from .voices.synth import CLIP_KIND, voice_clips

    script = checked.script
    line = find_line(script, line_no)
    takes = list_takes(script, line_no)
    if not 1 <= number <= len(takes.takes):
        raise ConfigError(f"take {number}: line {line_no} has takes 1 to {len(takes.takes)}")
    base = clip_requests(script, checked.cast)[script.lines.index(line)]
    request = take_request(base, takes.takes[number - 1], script, line)
    rate = checked.config.output.sample_rate
    voice_clips([request], cache, rate, workers=1)
    samples = cache.get_array(CLIP_KIND, request.key(rate))
    if samples is None:
        raise EngineError(f"take {number} of line {line_no} vanished from the cache")
    return request, line, samples
