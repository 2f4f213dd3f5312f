"""Every voice a user can pick, as data: `podforge voices`, `check --show` and the studio all read this.

`list_voices()` is the one place that answers "which voices are there, where do they come from,
and can they be used here"; callers never walk the engine registry themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .registry import ENGINES

GENDERS = {"hibari:heart": "female", "piper:joe": "male"}


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


def _source(engine: str, offline: bool) -> str:
    if not offline:
        return "cloud"
    return "test" if engine == "fake" else "bundled"


def list_voices(base_dir: Path | None = None) -> list[VoiceInfo]:
    """Every voice: installed ones first, then those an extra would add. `base_dir` resolves voice files."""
    voices = []
    for info in ENGINES.values():
        installed = info.installed()
        for voice in info.voices:
            voice_id = f"{info.name}:{voice}"
            voices.append(
                VoiceInfo(
                    voice_id,
                    info.name,
                    _source(info.name, info.offline),
                    GENDERS.get(voice_id),
                    installed,
                    info.offline,
                    "" if installed else info.install_hint(),
                    info.description,
                )
            )
    return sorted(voices, key=lambda v: (not v.installed, not v.offline, v.source == "test"))
