"""The built-in music engines: procedural beds, a user's music folder, and a fake for tests."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from ..config import MusicConfig
from ..errors import EngineError
from .registry import BedRequest, Stereo, loop_to_length

AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus")


class ProceduralEngine:
    """Production-style beds synthesised from the cue's mood words (see procedural.py)."""

    def __init__(self, config: MusicConfig, base_dir: Path) -> None:
        self.config = config

    def render(self, request: BedRequest) -> Stereo:
        from .procedural import render_bed

        return render_bed(request.cue, request.seconds, request.sample_rate, seed=request.seed)


class FakeMusicEngine:
    """A quiet chord whose pitch depends on the cue: deterministic, instant, clearly not silence."""

    def __init__(self, config: MusicConfig, base_dir: Path) -> None:
        self.config = config

    def render(self, request: BedRequest) -> Stereo:
        n = round(request.seconds * request.sample_rate)
        root = 110.0 * 2 ** ((zlib.crc32(request.cue.encode()) % 12) / 12)
        t = np.arange(n) / request.sample_rate
        tone = np.sin(2 * np.pi * root * np.outer(t, (1.0, 1.25, 1.5))).mean(axis=1)
        return np.repeat((0.3 * tone).astype(np.float32)[:, None], 2, axis=1)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower().replace("lo-fi", "lofi")) if len(w) > 1}


class FolderEngine:
    """Picks the track whose file name and tags share the most words with the cue."""

    def __init__(self, config: MusicConfig, base_dir: Path) -> None:
        if not config.folder:
            raise EngineError("the folder music engine needs `music: {folder: path/to/music}`", engine="folder")
        self.folder = (base_dir / config.folder).resolve()
        if not self.folder.is_dir():
            raise EngineError(f"music folder {config.folder!r} not found (looked in {self.folder})", engine="folder")
        self.tracks = sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not self.tracks:
            raise EngineError(f"music folder {self.folder} has no audio files ({', '.join(AUDIO_SUFFIXES)})")
        self.labels = {track: _words(f"{track.stem} {_tag_text(track)}") for track in self.tracks}

    def candidates(self, cue: str) -> list[Path]:
        """The tracks that fit the cue best; the render's seed picks one of them."""
        wanted = _words(cue)
        scores = {track: len(wanted & words) for track, words in self.labels.items()}
        best = max(scores.values())
        return [track for track in self.tracks if scores[track] == best]

    def pick(self, cue: str, seed: int = 0) -> Path:
        ties = self.candidates(cue)
        return ties[(zlib.crc32(cue.encode()) + seed) % len(ties)]

    def render(self, request: BedRequest) -> Stereo:
        from ..audio.export import decode_audio

        audio = decode_audio(self.pick(request.cue, request.seed), request.sample_rate)
        return loop_to_length(audio, round(request.seconds * request.sample_rate), request.sample_rate)


def _tag_text(path: Path) -> str:
    """Title, genre, mood and comment tags, whatever the container calls them."""
    try:
        import mutagen

        tags = mutagen.File(path, easy=True)
    except Exception:  # a tag we cannot read is only a missed hint, not an error
        return ""
    if not tags:
        return ""
    return " ".join(str(v) for key in ("title", "genre", "mood", "comment", "album") for v in tags.get(key, []))
