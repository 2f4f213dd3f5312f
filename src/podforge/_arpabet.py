"""Pronunciations for words the aligner's dictionary lacks: the CMU dictionary inside pocketsphinx, then hibari's
G2P, then letter rules.

Each source returns ARPAbet without stress digits, in the 39-phone set of the pocketsphinx en-us model.
The chain never fails: the letter rules give every word with at least one letter or digit some phones,
and a rough pronunciation only costs alignment precision inside that word, not the words around it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PHONES = frozenset((
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K",
    "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
))  # fmt: skip

# misaki-style IPA as hibari writes it. Capitals are misaki's one-letter diphthongs; two-character keys are
# matched first so that "ɜɹ" becomes one ER rather than ER R.
_IPA: dict[str, tuple[str, ...]] = {
    "ɜɹ": ("ER",), "əɹ": ("ER",), "ʤ": ("JH",), "ʧ": ("CH",), "ʣ": ("D", "Z"), "ʦ": ("T", "S"),
    "A": ("EY",), "I": ("AY",), "O": ("OW",), "Q": ("OW",), "W": ("AW",), "Y": ("OY",),
    "a": ("AA",), "æ": ("AE",), "ɐ": ("AH",), "ɑ": ("AA",), "ɒ": ("AA",), "ɔ": ("AO",), "ə": ("AH",),
    "ᵊ": ("AH",), "ɚ": ("ER",), "ɜ": ("ER",), "e": ("EH",), "ɛ": ("EH",), "i": ("IY",), "ɪ": ("IH",),
    "ᵻ": ("IH",), "ɨ": ("IH",), "o": ("OW",), "u": ("UW",), "ʊ": ("UH",), "ʌ": ("AH",), "ɯ": ("UW",),
    "y": ("UW",), "ø": ("ER",), "œ": ("ER",),
    "b": ("B",), "β": ("B",), "d": ("D",), "ð": ("DH",), "f": ("F",), "ɸ": ("F",), "g": ("G",), "ɡ": ("G",),
    "h": ("HH",), "x": ("HH",), "χ": ("HH",), "ç": ("HH",), "j": ("Y",), "ʝ": ("Y",), "k": ("K",), "l": ("L",),
    "ɫ": ("L",), "m": ("M",), "n": ("N",), "ɲ": ("N",), "ŋ": ("NG",), "p": ("P",), "ɹ": ("R",), "r": ("R",),
    "ɾ": ("T",), "ʔ": ("T",), "s": ("S",), "ʃ": ("SH",), "t": ("T",), "θ": ("TH",), "v": ("V",), "w": ("W",),
    "z": ("Z",), "ʒ": ("ZH",), "ʎ": ("L",), "ɕ": ("SH",), "ʂ": ("SH",), "ʑ": ("ZH",),
}  # fmt: skip

# Plain letter rules for when no G2P is available: digraphs before single letters, vowels as their short
# sound. Crude, but only needs to give the acoustic model roughly the right number and kind of phones.
_LETTERS: dict[str, tuple[str, ...]] = {
    "tch": ("CH",), "sch": ("S", "K"), "igh": ("AY",),
    "ch": ("CH",), "sh": ("SH",), "th": ("TH",), "ph": ("F",), "wh": ("W",), "ng": ("NG",), "ck": ("K",),
    "qu": ("K", "W"), "ee": ("IY",), "ea": ("IY",), "oo": ("UW",), "ou": ("AW",), "ow": ("OW",), "oi": ("OY",),
    "oy": ("OY",), "ai": ("EY",), "ay": ("EY",), "au": ("AO",), "aw": ("AO",), "er": ("ER",), "ir": ("ER",),
    "ur": ("ER",), "ar": ("AA", "R"), "or": ("AO", "R"),
    "a": ("AE",), "b": ("B",), "c": ("K",), "d": ("D",), "e": ("EH",), "f": ("F",), "g": ("G",), "h": ("HH",),
    "i": ("IH",), "j": ("JH",), "k": ("K",), "l": ("L",), "m": ("M",), "n": ("N",), "o": ("AA",), "p": ("P",),
    "q": ("K",), "r": ("R",), "s": ("S",), "t": ("T",), "u": ("AH",), "v": ("V",), "w": ("W",), "x": ("K", "S"),
    "y": ("IY",), "z": ("Z",),
    "0": ("Z", "IH", "R", "OW"), "1": ("W", "AH", "N"), "2": ("T", "UW"), "3": ("TH", "R", "IY"),
    "4": ("F", "AO", "R"), "5": ("F", "AY", "V"), "6": ("S", "IH", "K", "S"), "7": ("S", "EH", "V", "AH", "N"),
    "8": ("EY", "T"), "9": ("N", "AY", "N"),
}  # fmt: skip


def fold(word: str) -> str:
    """Lower-case ASCII spelling of a word ("Café" → "cafe"), for dictionary lookups."""
    decomposed = unicodedata.normalize("NFKD", word.lower().replace("’", "'"))
    return "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch == "'"))


def _greedy(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """Longest-match transcription; characters the table lacks (stress marks, length) are skipped."""
    phones: list[str] = []
    i = 0
    while i < len(text):
        for size in (3, 2, 1):
            if text[i : i + size] in table:
                phones += table[text[i : i + size]]
                i += size
                break
        else:
            i += 1
    return phones


def ipa_to_arpabet(ipa: str) -> list[str]:
    # misaki spells some geminates twice ("hɪbˈɑɹɹi"); one phone is what the acoustic model expects.
    phones = _greedy(ipa, _IPA)
    return [p for i, p in enumerate(phones) if i == 0 or p != phones[i - 1]]


def letters_to_arpabet(word: str) -> list[str]:
    # A silent final e ("forge") would otherwise add a vowel the speaker never said.
    spelled = fold(word).replace("'", "")
    if len(spelled) > 2 and spelled.endswith("e") and spelled[-2] not in "aeiouy":
        spelled = spelled[:-1]
    return _greedy(spelled, _LETTERS)


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    """Headword → first pronunciation, from the CMU dictionary pocketsphinx ships (126,052 headwords), read once."""
    try:
        from pocketsphinx import get_model_path

        text = (Path(get_model_path()) / "en-us" / "cmudict-en-us.dict").read_text(encoding="utf-8")
    except Exception as exc:  # an optional source: a broken install only loses it
        log.warning("the pocketsphinx dictionary is unavailable (%s); using other pronunciation sources", exc)
        return {}
    entries: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        word, *phones = line.split()
        if phones and "(" not in word:  # "word(2)" lines are alternatives; the first one is the usual
            entries.setdefault(word, tuple(phones))
    return entries


@lru_cache(maxsize=1)
def _hibari() -> Any:
    try:
        import hibari

        return hibari.Hibari()
    except Exception as exc:  # an optional source, as above
        log.warning("hibari G2P is unavailable (%s); using letter rules", exc)
        return None


def _from_hibari(word: str) -> list[str]:
    g2p = _hibari()
    if g2p is None:
        return []
    try:
        return ipa_to_arpabet(" ".join(g2p.phonemize(word)))
    except Exception as exc:  # its OOV network may reject odd input; the letter rules still answer
        log.debug("hibari could not phonemize %r (%s)", word, exc)
        return []


@lru_cache(maxsize=4096)
def pronounce(word: str) -> tuple[str, ...]:
    """ARPAbet phones (no stress digits) for one word; never empty for a word with a letter or digit."""
    known = _dictionary().get(fold(word))
    if known:
        return tuple(re.sub(r"\d", "", phone) for phone in known)
    phones = [p for p in _from_hibari(word) if p in PHONES] or letters_to_arpabet(word)
    return tuple(phones) or ("AH",)
