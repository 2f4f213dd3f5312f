"""Who speaks with which voice: named voices resolved, and a distinct voice for every speaker who names none.

A voice reference in a script or config is, in the order tried: a name under `voices:`, a kind (`female`,
`male`, `deep`), a voice file (`.onnx`, relative to the script), or a voice id (`hibari:heart`, with an optional
derived variant `~bright`, see voices/derive.py). Casting gives speakers without a voice the distinct installed
voices first (alternating female and male), then derived variants of the two bundled voices spread over pitch
and formant, so no two speakers share a voice unless the script says so, which is then a warning.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import VOICE_KINDS, VoiceDef
from ..errors import EngineError
from .derive import FEMALE_ORDER, MALE_ORDER, Derivation, variant
from .files import VoiceFileProblem, voice_file_id
from .registry import DEFAULT_VOICES, ENGINES, check_voice, default_voices, engine_voices, split_voice_id

MAX_CANDIDATES = 2_000


@dataclass(frozen=True)
class Voice:
    """A voice ready to synthesise: which engine voice to load and how its output is derived."""

    id: str  # as the user sees it: hibari:heart, piper:joe~low, narrator, voices/anna.onnx
    engine_id: str  # what load_engine takes: hibari:heart, piper:/abs/anna.onnx
    gender: str | None
    source: str  # bundled | installed | file | derived
    pitch: float = 0.0
    formant: float = 1.0
    speed: float = 1.0

    @property
    def sound(self) -> tuple[str, float, float, float]:
        """Two voices with the same sound are the same voice to a listener, whatever they are called."""
        return self.engine_id, round(self.pitch, 2), round(self.formant, 3), round(self.speed, 3)

    def derived(self, voice_id: str, derivation: Derivation, speed: float = 1.0) -> Voice:
        return replace(self, id=voice_id, source="derived", pitch=self.pitch + derivation.pitch,
                       formant=self.formant * derivation.formant, speed=self.speed * speed)  # fmt: skip

    def describe(self) -> str:
        changes = [f"{self.pitch:+g} st"] if self.pitch else []
        changes += [f"formant {self.formant:g}"] if self.formant != 1.0 else []
        changes += [f"speed {self.speed:g}"] if self.speed != 1.0 else []
        base = self.engine_id.split("|")[0]
        return f"{base} {' '.join(changes)}".strip() if self.id != self.engine_id else self.id


def base_gender(engine_id: str) -> str | None:
    engine, voice = split_voice_id(engine_id)
    if engine == "piper" and voice == "joe":
        return "male"
    if engine == "hibari" and ENGINES["hibari"].installed():
        from hibari.voices import VOICES

        gender = VOICES.get(voice, {}).get("gender")
        return str(gender) if gender else None
    return None


def engine_voice(voice_id: str) -> Voice:
    """A bundled or installed engine voice; raises EngineError."""
    check_voice(voice_id)
    engine, voice = split_voice_id(voice_id)
    canonical = f"{engine}:{voice}"
    source = "bundled" if canonical in DEFAULT_VOICES or engine == "fake" else "installed"
    return Voice(canonical, canonical, base_gender(canonical), source if ENGINES[engine].offline else "cloud")


@dataclass
class VoiceBook:
    """Named voices (config first, then the front matter over them) resolved on demand."""

    defs: Mapping[str, VoiceDef] = field(default_factory=dict)
    base_dir: Path = Path(".")

    def resolve(self, ref: str, seen: tuple[str, ...] = ()) -> Voice:
        """The voice ``ref`` names; raises EngineError or VoiceFileProblem. Kinds are the caster's business."""
        if ref in self.defs:
            if ref in seen:
                raise EngineError(f"voice {ref!r} is based on itself ({' → '.join((*seen, ref))})")
            return self._named(ref, self.defs[ref], (*seen, ref))
        if ref.endswith(".onnx"):
            path = self.base_dir / ref
            return Voice(ref, voice_file_id(path, None), None, "file")
        base, tilde, name = ref.rpartition("~")
        if tilde:
            derivation = variant(name)
            if derivation is None:
                names = ", ".join(_variant_names())
                raise EngineError(f"unknown voice variant {name!r} in {ref!r}; use one of {names}")
            return self.resolve(base, seen).derived(ref, derivation)
        if ":" not in ref and ref not in ENGINES:
            raise EngineError(
                f"unknown voice {ref!r}: not a voice id (engine:voice, e.g. hibari:heart), not female/male/deep, "
                f"not a name under `voices:` ({', '.join(self.defs) or 'none defined'}) and not a .onnx file"
            )
        return engine_voice(ref)

    def _named(self, name: str, spec: VoiceDef, seen: tuple[str, ...]) -> Voice:
        if spec.file is not None:
            voices_file = self.base_dir / spec.voices_file if spec.voices_file else None
            engine_id = voice_file_id(self.base_dir / spec.file, spec.engine, voices_file, spec.speaker)
            voice = Voice(name, engine_id, spec.gender, "file")
        elif spec.base in VOICE_KINDS:
            raise EngineError(f"voice {name!r}: `base:` must be a voice id or a named voice, not {spec.base!r}")
        else:
            voice = self.resolve(str(spec.base), seen)
        derived = voice.derived(name, Derivation(spec.pitch, spec.formant), spec.speed)
        source = "file" if voice.source == "file" and derived.sound == voice.sound else "derived"
        return replace(derived, gender=spec.gender or voice.gender, source=source)


def _variant_names() -> list[str]:
    return [*FEMALE_ORDER, *MALE_ORDER, "v1", "v2", "…"]


def _bases(engine: str) -> list[Voice]:
    """Distinct installed voices, alternating female and male so small casts get both."""
    if engine != "auto":
        return [engine_voice(v) for v in default_voices(engine)]
    ids = list(default_voices("auto"))
    if ENGINES["hibari"].installed():
        ids += [f"hibari:{v}" for v in engine_voices("hibari") if f"hibari:{v}" not in ids]
    voices = [engine_voice(v) for v in ids]
    female = [v for v in voices if v.gender == "female"]
    others = [v for v in voices if v.gender != "female"]
    return [v for pair in itertools.zip_longest(female, others) for v in pair if v is not None]


def candidates(engine: str) -> Iterator[Voice]:
    """Every voice casting may hand out, most distinct first; endless (derived variants never run out)."""
    bases = _bases(engine)
    yield from bases
    parents = bases[:2]
    if not parents:
        return
    for n in itertools.count():
        for i, parent in enumerate(parents):
            downward = parent.gender == "male" or (parent.gender is None and i % 2 == 1)
            order = MALE_ORDER if downward else FEMALE_ORDER
            name = order[n] if n < len(order) else f"v{(n - len(order)) * len(parents) + i + 1}"
            yield parent.derived(f"{parent.id}~{name}", variant(name) or Derivation())


def _fits(voice: Voice, kind: str | None, genders_known: bool) -> bool:
    if kind == "deep":
        return voice.pitch <= -6.0 and (voice.gender == "male" or not genders_known)
    return kind is None or not genders_known or voice.gender == kind


@dataclass(frozen=True)
class Cast:
    voices: dict[str, Voice]
    problems: list[tuple[str, str]]  # (speaker label, message)
    warnings: list[tuple[str, str]]


def cast_speakers(refs: Sequence[tuple[str, str | None]], book: VoiceBook, engine: str = "auto") -> Cast:
    """Speakers (label, voice reference or None) in order of appearance → a voice each."""
    voices: dict[str, Voice] = {}
    problems: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    for label, ref in refs:
        if ref is None or ref in VOICE_KINDS:
            continue
        try:
            voice = book.resolve(ref)
        except (EngineError, VoiceFileProblem) as exc:
            problems.append((label, str(exc)))
            continue
        if engine in ("auto", voice.engine_id.split(":")[0]):
            twin = next((other for other, v in voices.items() if v.sound == voice.sound), None)
            if twin is not None:
                warnings.append(
                    (
                        label,
                        f"speaker {label} has the same voice as {twin} ({ref}); listeners may not "
                        "tell them apart: give one another voice, or drop `voice:` for a distinct one",
                    )
                )
            voices[label] = voice
    unset = [label for label, _ in refs if label not in voices]
    try:
        warnings += _fill(refs, voices, engine)
    except EngineError as exc:  # an unknown engine, or one with only voice files (kokoro)
        problems += [(label, f"no voice to give: {exc}") for label in unset]
    return Cast({label: voices[label] for label, _ in refs if label in voices}, problems, warnings)


def _fill(refs: Sequence[tuple[str, str | None]], voices: dict[str, Voice], engine: str) -> list[tuple[str, str]]:
    """Kinds first (they are pickier), then everyone else, each the first free candidate that fits; a kind that
    no installed voice has is a warning, and the speaker gets the next free voice."""
    pool = list(itertools.islice(candidates(engine), MAX_CANDIDATES))
    if not pool:
        raise EngineError(f"{engine} has no voices of its own; give each speaker a voice under `voices:`")
    genders_known = any(v.gender for v in pool)
    wanted: list[tuple[str, str | None]] = [(lab, ref) for lab, ref in refs if lab not in voices and ref in VOICE_KINDS]
    wanted += [(label, None) for label, ref in refs if label not in voices and ref not in VOICE_KINDS]
    warnings = []
    for label, kind in wanted:
        taken = {v.sound for v in voices.values()}
        free = [v for v in pool if v.sound not in taken] or pool
        fitting = (v for v in free if _fits(v, kind, genders_known))
        voices[label] = next(fitting, None) or free[0]
        if kind and not _fits(voices[label], kind, genders_known):
            warnings.append((label, f"no {kind} voice is installed, so speaker {label} gets {voices[label].id}; "
                                    "pip install 'podforge[piper]' adds a male voice"))  # fmt: skip
    return warnings
