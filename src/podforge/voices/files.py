"""Voice files of the user's own, checked before any synthesis: the file exists, its engine loads it, and its
sample rate is one podforge can use. Each problem is one sentence that says what to do; callers add the
line:col where the file was named."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .registry import ENGINES

RATES = range(8_000, 96_001)


class VoiceFileProblem(ValueError):
    """A voice file that cannot be used; ``str()`` is the message without a location."""


def guess_engine(path: Path) -> str:
    """Piper voices come with an .onnx.json beside them; any other .onnx is taken for a hibari voice."""
    return "piper" if Path(str(path) + ".json").is_file() else "hibari"


def voice_file_id(path: Path, engine: str | None, voices_file: Path | None = None, speaker: str | None = None) -> str:
    """The voice id of a checked voice file (``piper:/abs/x.onnx``); raises VoiceFileProblem."""
    shown = path.name
    if not path.is_file():
        raise VoiceFileProblem(f"voice file {shown!r} not found (looked in {path.parent}); check the path")
    engine = engine or guess_engine(path)
    info = ENGINES[engine]
    if not info.installed():
        raise VoiceFileProblem(f"voice file {shown!r} needs the {engine} engine; run {info.install_hint()}")
    if engine == "kokoro":
        return _kokoro_id(path, voices_file, speaker)
    try:
        stat = path.stat()
        rate = _load(engine, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except Exception as exc:  # a corrupt or foreign file: onnxruntime, json and piper raise many kinds
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise VoiceFileProblem(
            f"voice file {shown!r} cannot be loaded as a {engine} voice ({reason}); "
            "give a Piper .onnx with its .onnx.json, or a hibari .onnx"
        ) from exc
    if rate not in RATES:
        raise VoiceFileProblem(f"voice file {shown!r} declares a sample rate of {rate} Hz; expected 8000–96000")
    return f"{engine}:{path.resolve()}"


@lru_cache(maxsize=32)
def _load(engine: str, path: str, size: int, mtime_ns: int) -> int:
    """The file's sample rate once it loads; remembered per file version, as check resolves a voice twice."""
    if engine == "piper":
        from .piper import voice_file_rate

        return voice_file_rate(Path(path))
    from .hibari import voice_file_rate as hibari_rate

    return hibari_rate(Path(path))


def _kokoro_id(model: Path, voices_file: Path | None, speaker: str | None) -> str:
    from .kokoro import voice_names

    if voices_file is None or not voices_file.is_file():
        shown = voices_file.name if voices_file else "(none)"
        raise VoiceFileProblem(f"Kokoro voices file {shown!r} not found; name it with `voices_file:`")
    try:
        names = voice_names(voices_file)
    except Exception as exc:  # numpy raises ValueError, OSError or zipfile errors for a foreign file
        raise VoiceFileProblem(f"Kokoro voices file {voices_file.name!r} cannot be read ({exc})") from exc
    if speaker not in names:
        raise VoiceFileProblem(f"{voices_file.name} has no voice {speaker!r}; it has {', '.join(names[:12])}")
    return f"kokoro:{model.resolve()}|{voices_file.resolve()}|{speaker}"
