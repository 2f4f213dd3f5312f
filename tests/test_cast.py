"""A cast of any size: distinct voices told apart on real audio, kinds, shared-voice warnings, derived voices.

The distinctness measure: every pair of voices in a six-voice cast has median F0 (WORLD Harvest over voiced
frames, octave jumps folded, the same generated text for all) at least 12 % apart; and a speech recogniser
hears each voice's words (pocketsphinx, a free word loop over the generated text's vocabulary, so no language
model guesses) at WER <= 0.15.
"""

from __future__ import annotations

import itertools
import random
import textwrap

import numpy as np
import pytest

from podforge.pipeline import check, clip_requests
from podforge.voices.cast import VoiceBook, cast_speakers
from podforge.voices.synth import ClipRequest, synthesize_clip

RATE = 16_000
VOCABULARY = "zero one two three four five six seven eight nine red green blue yellow black white north south east west"
WORDS = VOCABULARY.split()
F0_APART = 1.12
MAX_WER = 0.15


def median_f0(samples: np.ndarray, rate: int = RATE, fold: bool = False) -> float:
    """Median F0 of the voiced frames (WORLD Harvest). On a deep voice trackers jump an octave up wherever the
    fundamental is faint; with ``fold`` such frames (above 1.8x the lower quartile) count at half, as a listener
    hears them (for comparing voices, not for measuring a shift within one)."""
    import pyworld

    f0, _ = pyworld.harvest(np.ascontiguousarray(samples, np.float64), rate, f0_floor=40.0, frame_period=10.0)
    voiced = f0[f0 > 0]
    low = np.percentile(voiced, 25)
    return float(np.median(np.where(fold & (voiced > 1.8 * low), voiced / 2, voiced)))


def heard(samples: np.ndarray) -> list[str]:
    """pocketsphinx over a free loop of the vocabulary's words (any order, any number)."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=RATE, lm=None)
    decoder.add_jsgf_string("words", f"#JSGF V1.0;\ngrammar words;\npublic <s> = ( {' | '.join(WORDS)} )+ ;\n")
    decoder.activate_search("words")
    pcm = (np.clip(samples / max(1e-6, float(np.abs(samples).max())) * 0.5, -1, 1) * 32767).astype("<i2")
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr.split() if decoder.hyp() else []


def wer(reference: list[str], hypothesis: list[str]) -> float:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp))
    return row[-1] / len(reference)


def script_of(labels: list[str], text: str, front: str = "") -> str:
    head = f"---\n{textwrap.dedent(front).strip()}\n---\n" if front else ""
    return head + "".join(f"{label}: {text}\n" for label in labels)


LABELS = ["ANA", "BEN", "CLEO", "DAN", "EVE", "FINN"]
GENERATED = random.Random(10).choices(WORDS, k=16)


@pytest.fixture(scope="module")
def six_voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, np.ndarray]]:
    """A six-speaker script with no voices set, each line voiced exactly as a render would voice it."""
    path = tmp_path_factory.mktemp("six") / "six.md"
    path.write_text(script_of(LABELS, " ".join(GENERATED) + "."), encoding="utf-8")
    checked = check(path)
    requests = clip_requests(checked.script, checked.cast)
    return {
        line.speaker: (checked.voices[line.speaker], synthesize_clip(request, RATE))
        for line, request in zip(checked.script.lines, requests, strict=True)
    }


def test_six_unvoiced_speakers_have_six_voices_apart_in_pitch(six_voices):
    pitches = {voice: median_f0(samples, fold=True) for voice, samples in six_voices.values()}
    assert len(pitches) == 6, pitches
    for (a, fa), (b, fb) in itertools.combinations(pitches.items(), 2):
        assert max(fa, fb) / min(fa, fb) >= F0_APART, f"{a} {fa:.0f} Hz vs {b} {fb:.0f} Hz"


def test_every_voice_of_six_is_understood(six_voices):
    for voice, samples in six_voices.values():
        hypothesis = heard(samples)
        assert wer(GENERATED, hypothesis) <= MAX_WER, f"{voice}: heard {' '.join(hypothesis)}"


@pytest.mark.parametrize("count", [3, 4, 6])
def test_casts_never_share_a_voice_silently(run_cli, write_script, count):
    labels = LABELS[:count]
    path = write_script(script_of(labels, "Hello there."))
    checked = check(path)
    assert len({voice.sound for voice in checked.cast.values()}) == count
    assert checked.warnings == []
    code, out, err = run_cli("check", path, "--show")
    assert code == 0 and "warning" not in err
    for label in labels:
        assert any(line.split()[:2] == [label, checked.voices[label]] for line in out.splitlines()), out


def test_a_shared_voice_is_a_located_warning(run_cli, write_script):
    path = write_script(
        """
        ---
        speakers:
          ANA: {voice: "hibari:heart"}
          BEN: {}
          CLEO: {voice: "hibari:heart"}
        ---
        ANA: One.
        BEN: Two.
        CLEO: Three.
        """
    )
    code, _, err = run_cli("check", path)
    assert code == 0
    assert err.strip().splitlines() == [
        "warning: episode.md:5:17: speaker CLEO has the same voice as ANA (hibari:heart); listeners may not tell "
        "them apart: give one another voice, or drop `voice:` for a distinct one"
    ]
    assert check(path).voices["BEN"] != "hibari:heart"


def test_kinds_of_voice_are_honoured():
    refs = [("A", "male"), ("B", "female"), ("C", "deep"), ("D", "female"), ("E", None)]
    cast = cast_speakers(refs, VoiceBook()).voices
    assert [cast[k].gender for k in "ABCD"] == ["male", "female", "male", "female"]
    assert cast["C"].pitch <= -6.0 and cast["C"].id == "piper:joe~deep"
    assert len({v.sound for v in cast.values()}) == 5


def test_a_named_voice_moves_pitch_by_its_semitones(write_script):
    path = write_script(
        """
        ---
        voices:
          narrator: {base: "hibari:heart", pitch: -2.5, formant: 0.92, speed: 0.97}
        speakers:
          NARRATOR: {voice: narrator}
        ---
        NARRATOR: The seven white boats sailed north past the old lighthouse at dawn.
        """
    )
    checked = check(path)
    (request,) = clip_requests(checked.script, checked.cast)
    assert (request.voice_id, request.pitch, request.formant, request.speed) == ("hibari:heart", -2.5, 0.92, 0.97)
    base = ClipRequest("hibari:heart", request.text, request.speed)
    assert base.key(RATE) != request.key(RATE)  # derived clips are cached under their own key
    ratio = median_f0(synthesize_clip(request, RATE)) / median_f0(synthesize_clip(base, RATE))
    assert ratio == pytest.approx(2 ** (-2.5 / 12), rel=0.03)


def test_world_derivation_shifts_a_known_pitch():
    """Engines without native parameters go through WORLD: the fake's 120 Hz voice, 3 semitones up."""
    text = "one two three four five six"
    plain = synthesize_clip(ClipRequest("fake:a", text), RATE)
    derived = synthesize_clip(ClipRequest("fake:a", text, pitch=3.0, formant=1.05), RATE)
    assert abs(derived.shape[0] - plain.shape[0]) <= RATE // 100
    assert median_f0(plain) == pytest.approx(120.0, rel=0.02)
    assert median_f0(derived) == pytest.approx(120.0 * 2 ** (3 / 12), rel=0.02)


def test_say_previews_a_derived_voice(run_cli, tmp_path):
    from podforge.audio.export import decode_audio

    out = tmp_path / "sample.wav"
    code, _, err = run_cli("say", "Seven white boats sailed at dawn.", "--voice", "hibari:heart~bright", "-o", out)
    assert code == 0, err
    samples = decode_audio(out, RATE)[:, 0]
    assert samples.shape[0] > RATE
    plain = synthesize_clip(ClipRequest("hibari:heart", "Seven white boats sailed at dawn."), RATE)
    assert median_f0(samples) / median_f0(plain) == pytest.approx(2 ** (3 / 12), rel=0.03)


@pytest.mark.parametrize("voice", ["piper:bob", "hibari:heart~squeaky", "nobody"])
def test_say_rejects_an_unknown_voice(run_cli, tmp_path, voice):
    out = tmp_path / "sample.wav"
    code, _, err = run_cli("say", "Hello.", "--voice", voice, "-o", out)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith(f"error: --voice {voice}: ")
    assert not out.exists()


def test_a_kind_nobody_has_is_a_warning(monkeypatch):
    from podforge.voices import registry

    monkeypatch.setattr(registry, "DEFAULT_VOICES", ("hibari:heart",))
    monkeypatch.setattr("podforge.voices.cast.default_voices", lambda engine: ("hibari:heart",))
    cast = cast_speakers([("A", "female"), ("B", "male")], VoiceBook())
    assert cast.voices["A"].id == "hibari:heart" and cast.voices["B"].gender == "female"
    assert cast.warnings == [
        ("B", "no male voice is installed, so speaker B gets hibari:heart~bright; "
              "pip install 'podforge[piper]' adds a male voice")
    ]  # fmt: skip


def test_render_warns_about_a_shared_voice_too(run_cli, write_script, fake_config, tmp_path):
    front = '---\nspeakers:\n  ANA: {voice: "fake:a"}\n  BEN: {voice: "fake:a"}\n---\n'
    path = write_script(front + "ANA: One.\nBEN: Two.\n")
    code, _, err = run_cli("render", path, "-o", tmp_path / "out", "--audio-only", "-c", fake_config)
    assert code == 0, err
    assert "warning: episode.md:4:16: speaker BEN has the same voice as ANA (fake:a)" in err
    assert (tmp_path / "out" / "episode.mp3").is_file()


def test_say_needs_words(run_cli, tmp_path):
    code, _, err = run_cli("say", "  ...  ", "-o", tmp_path / "s.wav")
    assert code == 2 and err.startswith("error: say: nothing to say") and not (tmp_path / "s.wav").exists()


@pytest.mark.parametrize(
    ("engine", "where"),
    [("kokoro", "episode.md:1:1: speaker ANA: no voice to give: kokoro has no voices of its own"),
     ("nope", "c.yaml:2:13: tts_engine: unknown TTS engine 'nope'; choose one of auto, hibari")],
)  # fmt: skip
def test_an_engine_that_gives_no_voices_is_one_located_error(run_cli, write_script, tmp_path, engine, where):
    config = tmp_path / "c.yaml"
    config.write_text(f"workers: 1\ntts_engine: {engine}\n")  # an unknown one is told at its config line
    code, _, err = run_cli("check", write_script("ANA: Hello.\n"), "-c", config)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {where}"), err
