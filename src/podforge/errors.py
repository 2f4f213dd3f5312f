"""The exceptions podforge raises.

    PodforgeError                 anything podforge reports to a user
    ├── InputError                bad input: the CLI exits 2
    │   ├── ScriptError           a script problem, with path:line:col
    │   ├── ConfigError           a config file or flag problem
    │   └── MediaError            a music/sfx/image file that is missing or unreadable
    └── RenderError               a failure while rendering: the CLI exits 1
        ├── EngineError           an engine (tts, music, avatar) failed or is unknown
        └── EncodeError           the encoder (PyAV/FFmpeg) failed

Foreign errors (PyAV, onnxruntime, pocketsphinx) are re-raised as one of these ``from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where in a file something is: 1-based line and column."""

    path: Path | str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        name = Path(self.path).name if str(self.path) else "<input>"
        if self.line <= 0:
            return name
        return f"{name}:{self.line}:{max(self.col, 1)}"


class PodforgeError(Exception):
    """Root of all podforge errors; ``str()`` is the one line the CLI prints after ``error:``."""

    exit_code = 1


class InputError(PodforgeError):
    """The user's input (script, config, flag, media file) is wrong; nothing was rendered."""

    exit_code = 2


class ScriptError(InputError):
    """One or more problems in a script, each with a location and how to fix it."""

    def __init__(self, problems: list[tuple[Location, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{loc}: {msg}" for loc, msg in self.problems))

    @classmethod
    def at(cls, location: Location, message: str) -> ScriptError:
        return cls([(location, message)])

    def lines(self) -> list[str]:
        return [f"{loc}: {msg}" for loc, msg in self.problems]


class ConfigError(InputError):
    """A config file or command-line option is invalid."""


class MediaError(InputError):
    """A media file the script refers to is missing or cannot be decoded."""


class RenderError(PodforgeError):
    """Something failed while rendering valid input."""


class EngineError(RenderError):
    """An engine is unknown, not installed, or failed."""

    def __init__(self, message: str, *, engine: str = "", voice: str = "") -> None:
        self.engine = engine
        self.voice = voice
        super().__init__(message)


class EncodeError(RenderError):
    """PyAV/FFmpeg could not encode or mux."""


def error_lines(exc: BaseException) -> list[str]:
    """What a user sees for ``exc``: the CLI's `error:` lines, which the studio shows verbatim too."""
    if isinstance(exc, ScriptError):
        return [f"error: {line}" for line in exc.lines()]
    if isinstance(exc, PodforgeError):  # one line per problem: a config may have several
        return [f"error: {line}" for line in str(exc).splitlines() or [type(exc).__name__]]
    return [f"error: internal error: {type(exc).__name__}: {exc}"]
