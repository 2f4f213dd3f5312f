"""Every voice a user can pick, as data: `podforge voices`, `check --show` and the studio all read this.

`list_voices()` is the one place that answers "which voices are there, where do they come from,
and can they be used here"; callers never walk the engine registry themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import EngineError
from .cast import Voice, VoiceBook, base_gender
from .derive import FEMALE_ORDER, MALE_ORDER, variant
from .files import VoiceFileProblem
from .registry import DEFAULT_VOICES, ENGINES, EngineInfo, engine_voices

HIBARI_HINT = "download it once with hibari's own tools (podforge never downloads voices)"


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    engine: str
    source: str  # bundled | installed | file | derived | cloud | test
    gender: str | None
    installed: bool
    offline: bool
    install_hint: str
    description: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _source(engine: str, voice_id: str, offline: bool) -> str:
    if not offline:
        return "cloud"
    if engine == "fake":
        return "test"
    return "bundled" if voice_id in DEFAULT_VOICES else "installed"


def _engine_rows(info: EngineInfo) -> list[VoiceInfo]:
    installed = info.installed()
    usable = engine_voices(info.name) if installed else ()
    names = list(info.voices) + [v for v in usable if v not in info.voices]
    if info.name == "hibari" and installed:
        from hibari.voices import VOICES

        names += [v for v in VOICES if v not in names]
    rows = []
    for voice in names:
        voice_id = f"{info.name}:{voice}"
        here = installed and (voice in usable or info.name != "hibari")
        hint = "" if here else (HIBARI_HINT if installed else info.install_hint())
        gender = base_gender(voice_id) if installed and info.offline else None
        description = info.description if voice in info.voices else f"hibari voice ({'in' if here else 'not in'} "
        description += "" if voice in info.voices else "hibari's cache on this machine)"
        rows.append(VoiceInfo(voice_id, info.name, _source(info.name, voice_id, info.offline), gender, here,
                              info.offline, hint, description))  # fmt: skip
    return rows


def _voice_row(voice: Voice, description: str) -> VoiceInfo:
    engine = voice.engine_id.split(":")[0]
    return VoiceInfo(voice.id, engine, voice.source, voice.gender, True, True, "", description)


def _derived_rows() -> list[VoiceInfo]:
    """The casting palette's variants of the bundled voices (what a large cast is given)."""
    rows = []
    for base_id in DEFAULT_VOICES:
        if not ENGINES[base_id.split(":")[0]].installed():
            continue
        order = MALE_ORDER if base_gender(base_id) == "male" else FEMALE_ORDER
        for name in order:
            derivation = variant(name)
            assert derivation is not None
            voice = Voice(base_id, base_id, base_gender(base_id), "bundled").derived(f"{base_id}~{name}", derivation)
            rows.append(_voice_row(voice, f"{voice.describe()}, derived for casting"))
    return rows


def _named_rows(book: VoiceBook) -> list[VoiceInfo]:
    rows = []
    for name in book.defs:
        try:
            voice = book.resolve(name)
        except (EngineError, VoiceFileProblem) as exc:
            rows.append(VoiceInfo(name, "", "file", None, False, True, str(exc), "named voice (unusable)"))
            continue
        rows.append(_voice_row(voice, f"named voice: {voice.describe()}"))
    return rows


def list_voices(base_dir: Path | None = None, book: VoiceBook | None = None) -> list[VoiceInfo]:
    """Every voice: installed ones first, then those an extra would add. ``book`` adds the config's and a
    script's named voices (their files resolved against ``base_dir`` when the book has none)."""
    voices = [row for info in ENGINES.values() for row in _engine_rows(info)]
    voices += _derived_rows()
    if book is not None:
        voices += _named_rows(book if base_dir is None else VoiceBook(book.defs, base_dir))
    return sorted(voices, key=lambda v: (not v.installed, not v.offline, v.source == "test"))
