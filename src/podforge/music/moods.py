"""What a music cue's free-form words ("upbeat intro", "soft warm piano", "chill lo-fi beat") ask for: a mood
preset (tempo, key, chords, drums), nudged by tempo and colour adjectives. Depends on the words alone."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

MOODS = ("calm", "upbeat", "dramatic", "news", "ambient", "lofi", "piano")


@dataclass(frozen=True)
class MoodSpec:
    """What a cue's words resolve to.

    ``progression`` holds one chord per entry as semitones above ``key_root_midi``; the key root
    fixes the key, while each part picks its own octave.
    """

    mood: str
    tempo_bpm: float
    brightness: float  # 0..1: lowpass cutoffs and harmonic richness
    drums: bool
    key_root_midi: int
    progression: tuple[tuple[int, ...], ...]


# Progressions as semitones over the key root, with added sevenths and ninths where the mood wants them.
_POP = ((0, 4, 7, 14), (7, 11, 14, 19), (9, 12, 16, 19), (5, 9, 12, 16))  # I–V–vi–IV
_CALM = ((0, 4, 7, 11), (9, 12, 16, 19), (5, 9, 12, 16), (7, 11, 14, 17))  # Imaj7–vi7–IVmaj7–V7
_EPIC = ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17))  # minor i–VI–III–VII
_NEWS = ((0, 3, 7, 14), (8, 12, 15), (5, 8, 12), (10, 14, 17))  # minor i–VI–iv–VII
_FLOAT = ((0, 4, 7, 11), (5, 9, 12, 16), (9, 12, 16, 19), (2, 5, 9, 12))  # Imaj7–IVmaj7–vi7–ii7
_JAZZ = ((2, 5, 9, 12), (7, 11, 14, 17), (0, 4, 7, 11), (9, 12, 16, 19))  # ii7–V7–Imaj7–vi7
_BALLAD = ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14))  # I–vi–IV–V
_PRESETS: dict[str, MoodSpec] = {
    "calm": MoodSpec("calm", 72.0, 0.3, False, 65, _CALM),
    "upbeat": MoodSpec("upbeat", 120.0, 0.85, True, 62, _POP),
    "dramatic": MoodSpec("dramatic", 92.0, 0.45, False, 62, _EPIC),
    "news": MoodSpec("news", 116.0, 0.85, True, 64, _NEWS),
    # 70 rather than 60 bpm: half of a typical upbeat tempo would blur the two moods' pulse.
    "ambient": MoodSpec("ambient", 70.0, 0.25, False, 64, _FLOAT),
    "lofi": MoodSpec("lofi", 80.0, 0.45, True, 63, _JAZZ),
    "piano": MoodSpec("piano", 76.0, 0.55, False, 60, _BALLAD),
}

# Words that vote for a mood, with how strongly; instrument and genre names outvote adjectives.
_VOTES: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("piano", "pianist", "keys", "ballad"), ("piano", 3)),
    **dict.fromkeys(("lofi", "chillhop", "vinyl", "hiphop", "boombap"), ("lofi", 3)),
    **dict.fromkeys(("chill", "study", "jazzy", "beats", "dusty"), ("lofi", 1)),
    **dict.fromkeys(("news", "newsroom", "bulletin", "headline", "headlines"), ("news", 3)),
    **dict.fromkeys(("breaking", "urgent", "report", "briefing", "update"), ("news", 2)),
    **dict.fromkeys(("dramatic", "tense", "tension", "suspense", "suspenseful", "ominous"), ("dramatic", 3)),
    **dict.fromkeys(("epic", "thriller", "intense", "cinematic", "mystery", "mysterious"), ("dramatic", 2)),
    **dict.fromkeys(("dark", "sting", "serious", "menacing", "trailer"), ("dramatic", 1)),
    **dict.fromkeys(("upbeat", "energetic", "uplifting", "happy", "cheerful", "bouncy"), ("upbeat", 3)),
    **dict.fromkeys(("fun", "pop", "driving", "lively", "peppy", "corporate", "positive"), ("upbeat", 2)),
    **dict.fromkeys(("exciting", "excited", "funky", "dance", "energy", "motivational"), ("upbeat", 2)),
    **dict.fromkeys(("ambient", "atmospheric", "drone", "ethereal", "meditation", "meditative"), ("ambient", 3)),
    **dict.fromkeys(("dreamy", "spacey", "space", "airy", "floating", "evolving", "pad"), ("ambient", 2)),
    **dict.fromkeys(("calm", "peaceful", "tranquil", "serene", "relaxing", "relaxed"), ("calm", 3)),
    **dict.fromkeys(("gentle", "mellow", "soothing", "quiet", "soft", "warm", "easy"), ("calm", 1)),
}
# Ties go to the more specific mood.
_TIE_ORDER = ("piano", "lofi", "news", "dramatic", "upbeat", "ambient", "calm")
_DARKER = frozenset(("dark", "warm", "soft", "mellow", "muted", "gentle", "dusty"))
_BRIGHTER = frozenset(("bright", "sparkly", "crisp", "shiny", "airy"))
_FASTER = frozenset(("fast", "faster", "quick", "brisk"))
_SLOWER = frozenset(("slow", "slower", "lazy", "laidback"))


def _words(cue: str) -> list[str]:
    text = re.sub(r"\blo[\s_-]?fi\b", "lofi", cue.lower())
    text = re.sub(r"\bhip[\s_-]?hop\b", "hiphop", text)
    return re.findall(r"[a-z]+", text)


def _vote(word: str) -> tuple[str, int] | None:
    if word in _VOTES:
        return _VOTES[word]
    return _VOTES.get(word[:-1]) if word.endswith("s") else None


def _drums_asked(words: list[str], default: bool) -> bool:
    for before, word in zip(["", *words], words, strict=False):
        if word in ("drums", "drum", "percussion"):
            return before not in ("no", "without", "minus")
    return default


def mood_from_cue(cue: str) -> MoodSpec:
    """Resolve free-form cue words to a mood preset, nudged by tempo and colour adjectives.

    Unknown words fall back to ``calm``; the result depends on the words alone.
    """
    words = _words(cue)
    score = dict.fromkeys(MOODS, 0)
    for word in words:
        vote = _vote(word)
        if vote is not None:
            score[vote[0]] += vote[1]
    best = max(_TIE_ORDER, key=lambda m: (score[m], -_TIE_ORDER.index(m)))
    mood = best if score[best] > 0 else "calm"
    spec = _PRESETS[mood]
    wordset = set(words)
    shade = 0.1 * (len(wordset & _BRIGHTER) - len(wordset & _DARKER))
    pace = 1.0 + 0.1 * (len(wordset & _FASTER) - len(wordset & _SLOWER))
    return replace(
        spec,
        brightness=float(np.clip(spec.brightness + shade, 0.05, 1.0)),
        tempo_bpm=spec.tempo_bpm * min(max(pace, 0.8), 1.2),
        drums=_drums_asked(words, spec.drums),
    )


__all__ = ["MOODS", "MoodSpec", "mood_from_cue"]
