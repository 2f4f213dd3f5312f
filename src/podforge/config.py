"""Typed configuration: the script's front matter and the render options.

Every default lives here, once. Models reject unknown keys so a typo in a
front matter or a config file is an error with a location, not a silent no-op.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from ._yamlpos import describe_yaml_error, locate
from .colors import parse_color
from .errors import ConfigError, Location

SAMPLE_RATE: Literal[44100, 48000] = 48_000
TARGET_LUFS = -16.0
TRUE_PEAK_DBTP = -1.0
MP3_BITRATE = 192_000
CACHE_MAX_GB = 5.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


VOICE_KINDS = ("female", "male", "deep")
HAIR_STYLES = ("crop", "long", "curly", "bun", "bob")


class LookConfig(_Strict):
    """An illustrated avatar's look, overriding what the speaker's seed and voice would pick."""

    gender: Literal["female", "male"] | None = None
    hair: Literal["crop", "long", "curly", "bun", "bob"] | None = None


class VoiceDef(_Strict):
    """A named voice (`voices: {narrator: {...}}`): another voice changed, or a voice file of the user's own."""

    base: str | None = Field(default=None, description="a voice id, kind or named voice to start from")
    file: str | None = Field(default=None, description="a .onnx voice file (Piper with its .onnx.json, hibari, Kokoro)")
    engine: Literal["piper", "hibari", "kokoro"] | None = Field(default=None, description="for `file`; else guessed")
    voices_file: str | None = Field(default=None, description="Kokoro: the voices .bin/.npz file")
    speaker: str | None = Field(default=None, description="Kokoro: the voice inside voices_file, e.g. af_sarah")
    gender: Literal["female", "male"] | None = None
    pitch: float = Field(default=0.0, ge=-12.0, le=12.0, description="semitones")
    formant: float = Field(default=1.0, ge=0.7, le=1.4, description="> 1 brighter/smaller, < 1 darker/larger")
    speed: float = Field(default=1.0, ge=0.5, le=2.0)

    @model_validator(mode="after")
    def _one_source(self) -> VoiceDef:
        if (self.base is None) == (self.file is None):
            raise ValueError("give either `base:` (a voice to change) or `file:` (a voice file), not both or neither")
        if self.engine == "kokoro" and not (self.voices_file and self.speaker):
            raise ValueError("a Kokoro voice needs `voices_file:` and `speaker:` (e.g. af_sarah) next to `file:`")
        return self


def _voice_names(value: dict[str, VoiceDef]) -> dict[str, VoiceDef]:
    for name in value:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name) or name in VOICE_KINDS:
            raise ValueError(f"{name!r} cannot name a voice; use letters, digits, - and _ (not female/male/deep)")
    return value


class SpeakerConfig(_Strict):
    voice: str | None = Field(
        default=None, description="a voice id, female/male/deep, a name under `voices:`, or a .onnx file"
    )
    look: LookConfig | None = None
    avatar: str | None = None
    color: str | None = None
    name: str | None = Field(default=None, description="display name, if not the label")
    speed: float = Field(default=1.0, ge=0.5, le=2.0)

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str | None) -> str | None:
        return None if value is None else parse_color(value)

    @field_validator("voice")
    @classmethod
    def _engine_voice(cls, value: str | None) -> str | None:
        if value is not None and not (re.fullmatch(r"[A-Za-z0-9_.:~+-]+", value) or ".onnx" in value):
            raise ValueError(
                f"{value!r} is not a voice id; write engine:voice (e.g. hibari:heart), female, male, deep, "
                "a name under `voices:` or a .onnx file"
            )
        return value

    @field_validator("look", mode="before")
    @classmethod
    def _look_shorthand(cls, value: Any) -> Any:
        # `look: female` is short for `look: {gender: female}`; `look: long` for `look: {hair: long}`.
        if isinstance(value, str):
            return {"hair": value} if value in HAIR_STYLES else {"gender": value}
        return value


class MusicConfig(_Strict):
    intro: str | None = None
    outro: str | None = None
    engine: str = "procedural"
    bed_db: float = Field(default=-6.0, ge=-60.0, le=6.0, description="music alone, in LU against speech")
    duck_db: float = Field(default=-12.0, ge=-40.0, le=0.0)
    intro_lead_seconds: float = Field(
        default=6.0,
        ge=0.0,
        le=30.0,
        description="a music cue with no duration before the first line plays alone so long",
    )
    folder: str | None = Field(default=None, description="music folder for the `folder` engine")
    model: str | None = Field(default=None, description="local MusicGen model folder for the `musicgen` engine")
    seed: int = 0


class VisualizerConfig(_Strict):
    kind: Literal["waveform", "spectrum", "circular", "particles"] = "spectrum"
    color: str = "#ffffff"
    opacity: float = Field(default=0.85, ge=0.0, le=1.0)
    x: float = Field(default=0.0, ge=0.0, le=1.0)
    y: float = Field(default=0.62, ge=0.0, le=1.0)
    width: float = Field(default=1.0, gt=0.0, le=1.0)
    height: float = Field(default=0.14, gt=0.0, le=1.0)

    @field_validator("color")
    @classmethod
    def _known_color(cls, value: str) -> str:
        return parse_color(value)


class VideoConfig(_Strict):
    size: str = "1280x720"
    fps: Literal[25, 30] = 25
    layout: Literal["solo", "duo", "active-speaker", "audiogram"] = "duo"
    captions: bool = True
    word_vtt: bool = False
    cover: str | None = None
    background: str = "#14171f"
    visualizer: VisualizerConfig | None = Field(default_factory=VisualizerConfig)
    encoder: Literal["auto", "libx264", "h264_nvenc"] = "auto"
    crf: int = Field(default=20, ge=0, le=51)
    preset: str = "veryfast"

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        named = {"720p": "1280x720", "1080p": "1920x1080", "vertical": "1080x1920", "square": "1080x1080"}
        value = named.get(value, value)
        if not re.fullmatch(r"\d{2,4}x\d{2,4}", value):
            raise ValueError(
                f"{value!r} is not a size; write WIDTHxHEIGHT, e.g. 1280x720, 1920x1080, 1080x1920, 1080x1080"
            )
        width, height = (int(v) for v in value.split("x"))
        if width % 2 or height % 2 or not (128 <= width <= 3840 and 128 <= height <= 3840):
            raise ValueError(f"{value!r}: width and height must be even and between 128 and 3840")
        return value

    @field_validator("background")
    @classmethod
    def _known_background(cls, value: str) -> str:
        return parse_color(value)

    @property
    def dimensions(self) -> tuple[int, int]:
        width, height = self.size.split("x")
        return int(width), int(height)


class OutputConfig(_Strict):
    stem: str | None = None
    mp3_bitrate: int = Field(default=MP3_BITRATE, ge=128_000, le=320_000)
    wav: bool = False
    sample_rate: Literal[44100, 48000] = SAMPLE_RATE
    target_lufs: float = Field(default=TARGET_LUFS, ge=-30.0, le=-9.0)
    true_peak_dbtp: float = Field(default=TRUE_PEAK_DBTP, ge=-6.0, le=0.0)


class GpuConfig(_Strict):
    """`gpu:` in the render config (or `--gpu`): whether the render may use an NVIDIA GPU, and which one."""

    mode: Literal["auto", "on", "off"] = Field(default="auto", description="on: fail unless the GPU is usable")
    device: int = Field(default=0, ge=0, le=63, description="NVML index of the GPU to use")


class AvatarEngineConfig(_Strict):
    """`avatar:` in the front matter or the render config: what animates the photo avatars.

    `photo` is podforge's own landmark animation; `sadtalker` and `wav2lip` run a checkout of that
    project the user installed (see ``visuals.avatars.talking``). Paths are relative to the script.
    """

    engine: Literal["photo", "sadtalker", "wav2lip"] = "photo"
    checkout: str | None = Field(default=None, description="the folder the tool was cloned into")
    python: str | None = Field(default=None, description="the Python of the tool's environment")
    checkpoint: str | None = Field(default=None, description="Wav2Lip .pth or SadTalker checkpoints folder")
    size: Literal[256, 512] = Field(default=256, description="SadTalker's model size")
    enhancer: Literal["gfpgan", "RestoreFormer"] | None = None
    extra_args: tuple[str, ...] = ()
    timeout_s: float = Field(default=3600.0, gt=0.0)
    fallback: Literal["photo", "illustrated"] | None = Field(
        default=None, description="what a speaker gets when the tool fails; unset: the render fails"
    )


class LexiconEntry(_Strict):  # an entry with phonemes for the engines that take them (script/lexicon.py)
    say: str | None = Field(default=None, min_length=1, description="the respelling other engines speak")
    piper: str | None = Field(default=None, min_length=1, description="espeak-ng IPA phonemes")
    hibari: str | None = Field(default=None, min_length=1, description="misaki (Kokoro) phonemes")


# A mapping is an entry with phonemes, anything else must be text: one error for a bad value, not one per kind.
LexiconValue = Annotated[
    Annotated[str, Tag("text")] | Annotated[LexiconEntry, Tag("entry")],
    Discriminator(lambda value: "entry" if isinstance(value, dict | LexiconEntry) else "text"),
]


class FrontMatter(_Strict):
    title: str | None = None
    author: str | None = None
    album: str | None = None
    year: str | int | None = None
    speakers: dict[str, SpeakerConfig] = Field(default_factory=dict)
    voices: dict[str, VoiceDef] = Field(default_factory=dict, description="named voices, paths relative to the script")
    music: MusicConfig = Field(default_factory=MusicConfig)
    video: VideoConfig = Field(default_factory=VideoConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    avatar: AvatarEngineConfig = Field(default_factory=AvatarEngineConfig)
    lexicon: dict[str, LexiconValue] = Field(
        default_factory=dict, description="word or phrase: how to say it, or {say:, piper:, hibari:} phonemes"
    )
    # What `podforge publish` puts in the feed; a plain render ignores them.
    episode: int | None = Field(default=None, ge=1, strict=True)
    season: int | None = Field(default=None, ge=1, strict=True)
    date: datetime.date | None = None
    description: str | None = None
    explicit: bool | None = Field(default=None, strict=True)

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        # YAML reads 2024-05-01 as a date already; anything else must be that form, not a timestamp.
        if value is None or type(value) is datetime.date:
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return value.strip()
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-05-01")

    @field_validator("voices")
    @classmethod
    def _voice_names(cls, value: dict[str, VoiceDef]) -> dict[str, VoiceDef]:
        return _voice_names(value)

    @field_validator("speakers", mode="before")
    @classmethod
    def _null_speakers(cls, value: Any) -> Any:
        # `ALEX:` with nothing after it in YAML is None: a speaker with all defaults.
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value


class RenderConfig(_Strict):
    """Settings from `-c config.yaml`: defaults for every script rendered with it."""

    tts_engine: str = "auto"
    gap_seconds: float = Field(default=0.35, ge=0.0, le=5.0)
    same_speaker_gap_seconds: float = Field(default=0.18, ge=0.0, le=5.0)
    chapter_gap_seconds: float = Field(default=0.8, ge=0.0, le=10.0)
    workers: int = Field(default=0, ge=0, le=64, description="0 = one per core")
    voices: dict[str, VoiceDef] = Field(default_factory=dict, description="named voices, paths relative to the config")
    cache_max_gb: float = Field(default=CACHE_MAX_GB, gt=0.0, description="LRU cap; $PODFORGE_CACHE_MAX_GB wins")
    music: MusicConfig = Field(default_factory=MusicConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    video: VideoConfig = Field(default_factory=VideoConfig)
    avatar: AvatarEngineConfig = Field(default_factory=AvatarEngineConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)

    @field_validator("voices")
    @classmethod
    def _voice_names(cls, value: dict[str, VoiceDef]) -> dict[str, VoiceDef]:
        return _voice_names(value)

    @field_validator("tts_engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:  # here, so the error points at the config's line, not the script's
        from .voices.registry import ENGINES

        if value != "auto" and value not in ENGINES:
            raise ValueError(f"unknown TTS engine {value!r}; choose one of auto, {', '.join(ENGINES)}")
        return value


Section = TypeVar("Section", bound=BaseModel)


def _overlaid(section: Section, update: dict[str, Any]) -> Section:
    """``section`` with the keys of ``update`` replaced, validated again: nested settings (a visualiser) come
    back as models, where ``model_copy(update=...)`` would leave them as the plain dicts it was given.

    Only what was set goes in, so what nobody set stays unset: a visualiser whose position nobody chose is
    still placed by the layout (see ``visuals.frames``)."""
    return type(section).model_validate({**section.model_dump(exclude_unset=True), **update})


def with_front_matter(config: RenderConfig, front: FrontMatter) -> RenderConfig:
    """The render config with what the script's front matter sets explicitly laid over it."""
    music = _overlaid(config.music, front.music.model_dump(exclude_unset=True))
    output = _overlaid(config.output, front.output.model_dump(exclude_unset=True))
    video = _overlaid(config.video, front.video.model_dump(exclude_unset=True))
    avatar = _overlaid(config.avatar, front.avatar.model_dump(exclude_unset=True))
    return config.model_copy(update={"music": music, "output": output, "video": video, "avatar": avatar})


def with_video_flags(config: RenderConfig, flags: dict[str, object]) -> RenderConfig:
    """Command-line video flags (--size, --fps, --layout, --no-captions) over everything else."""
    return with_flags(config, "video", flags)


# The command-line flag that sets a (section, key) whose name is not simply --key.
FLAG_NAMES = {("gpu", "mode"): "--gpu", ("avatar", "fallback"): "--avatar-fallback"}


def with_flags(config: RenderConfig, section: str, flags: dict[str, object]) -> RenderConfig:
    """Command-line flags for one section (`video`, `gpu`, `avatar`) laid over everything else."""
    if not flags:
        return config
    try:
        updated = _overlaid(getattr(config, section), flags)
    except ValidationError as exc:
        (key_path, message), *_ = describe_validation_error(exc)
        key = str(key_path[0])
        flag = FLAG_NAMES.get((section, key), f"--{key.replace('_', '-')}")
        raise ConfigError(f"{flag}: {message}") from exc
    return config.model_copy(update={section: updated})


def dotted_path(key_path: tuple[str | int, ...]) -> str:
    """`video.size`; a key with spaces or control characters is quoted, so the message stays one line."""
    return ".".join(str(p) if re.fullmatch(r"[\w-]+", str(p)) else repr(str(p)) for p in key_path)


def describe_validation_error(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, message) for each problem pydantic found, phrased for a person."""
    problems = []
    for err in exc.errors():
        path = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r}"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
        problems.append((path, message))
    return problems


def _anchored_voice_files(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Voice files in a config are relative to the config, wherever the script is: make them absolute."""
    voices = data.get("voices")
    if not isinstance(voices, dict):
        return data
    anchored = {}
    for name, spec in voices.items():
        if isinstance(spec, dict):
            spec = {k: str(base / v) if k in ("file", "voices_file") and isinstance(v, str) else v
                    for k, v in spec.items()}  # fmt: skip
        anchored[name] = spec
    return {**data, "voices": anchored}


def load_render_config(path: Path | None) -> RenderConfig:
    """Read `-c config.yaml`; no path means all defaults."""
    if path is None:
        return RenderConfig()
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot read config ({exc.strerror}); check the -c path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text; save the config as UTF-8") from exc
    except yaml.YAMLError as exc:
        line, col, reason = describe_yaml_error(exc, text)
        raise ConfigError(f"{Location(path, line, col)}: not valid YAML ({reason}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{Location(path, 1, 1)}: expected `key: value` settings at the top level")
    try:
        config = RenderConfig.model_validate(_anchored_voice_files(data, path.parent))
    except ValidationError as exc:
        lines = [
            f"{Location(path, *locate(text, key_path))}: {dotted_path(key_path)}: {message}; see README 'Configuration'"
            for key_path, message in describe_validation_error(exc)
        ]
        raise ConfigError("\n".join(lines)) from exc  # every problem at once, one line each
    for name, spec in config.voices.items():  # a missing file is reported here, where it is named
        for key in ("file", "voices_file"):
            value = getattr(spec, key)
            if value is not None and not Path(value).is_file():
                where = Location(path, *locate(text, ("voices", name, key)))
                raise ConfigError(f"{where}: voices.{name}.{key}: {Path(value).name!r} not found (looked in "
                                  f"{Path(value).parent}); paths are relative to the config")  # fmt: skip
    return config
