"""SadTalker and Wav2Lip named by a script: checked before synthesis, run once per speaker through the stand-in
tool (tests/fixtures/fake_talker.py, the real tools' flags), cached per line and composited into the tile."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from fake_gpu import FakeNvml, NVMLError
from fixtures.fake_talker import COLOUR

FAKE = Path(__file__).parent / "fixtures" / "fake_talker.py"
PORTRAIT = (40, 90, 220)

SCRIPT = """\
---
title: Talking
speakers:
  ALEX: {{avatar: "photo:host.png", color: "#3b82f6"}}
  SAM: {{avatar: illustrated, color: "#22a06b"}}
avatar: {avatar}
video: {{size: 480x270}}
---
ALEX: Welcome to the show, this first line runs under the title card.
SAM: Thanks, glad to be here today.
ALEX: And this third line is spoken after the title card is gone.
"""


@pytest.fixture(autouse=True)
def talker_env(talker_log: Path) -> Path:
    return talker_log


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(init_error=NVMLError("Driver Not Loaded")))


def sadtalker(root: Path) -> Path:
    repo = root / "SadTalker"
    (repo / "checkpoints").mkdir(parents=True)
    shutil.copy(FAKE, repo / "inference.py")
    for name in ("SadTalker_V0.0.2_256.safetensors", "mapping_00109-model.pth.tar"):
        (repo / "checkpoints" / name).write_bytes(b"weights")
    return repo


def wav2lip(root: Path) -> Path:
    repo = root / "Wav2Lip"
    (repo / "checkpoints").mkdir(parents=True)
    (repo / "face_detection" / "detection" / "sfd").mkdir(parents=True)
    shutil.copy(FAKE, repo / "inference.py")
    (repo / "checkpoints" / "wav2lip_gan.pth").write_bytes(b"weights")
    (repo / "face_detection" / "detection" / "sfd" / "s3fd.pth").write_bytes(b"weights")
    return repo


def episode(write_script: Callable[..., Path], tmp_path: Path, avatar: str) -> Path:
    Image.new("RGB", (120, 160), PORTRAIT).save(tmp_path / "host.png")
    return write_script(SCRIPT.format(avatar=avatar))


def tool_avatar(engine: str, **extra: str) -> str:
    fields = {"engine": engine, "checkout": engine.replace("sadtalker", "SadTalker").replace("wav2lip", "Wav2Lip"),
              "python": sys.executable, **extra}  # fmt: skip
    return "{" + ", ".join(f"{key}: {json.dumps(value)}" for key, value in fields.items()) + "}"


def recorded(log: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(log.read_text(encoding="utf-8"))
    return data


def speech_frames(out: Path) -> dict[str, list[np.ndarray]]:
    """The middle frame of each line after the title card, by speaker (ALEX's third line, SAM's second)."""
    timeline = json.loads((out / "episode.timeline.json").read_text())
    rate = int(timeline["timebase"].split("/")[1])
    lines = [s for s in timeline["segments"] if s["kind"] == "speech"][1:]
    wanted = {round((s["start"] + s["end"]) / 2 / rate * 25): s["speaker"] for s in lines}
    found: dict[str, list[np.ndarray]] = {}
    with av.open(str(out / "episode.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found.setdefault(wanted[index], []).append(frame.to_ndarray(format="rgb24"))
    return found


def tool_pixels(frame: np.ndarray) -> int:
    """Pixels of the stand-in's orange in the left half (ALEX's tile)."""
    left = frame[:, : frame.shape[1] // 2].astype(int)
    return int((np.abs(left - np.array(COLOUR)).max(axis=2) < 40).sum())


def test_a_sadtalker_checkout_named_by_the_script_animates_the_tile(
    write_script, fake_config, run_cli, tmp_path, talker_env, no_gpu
) -> None:
    repo = sadtalker(tmp_path)
    script = episode(write_script, tmp_path, tool_avatar("sadtalker"))
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "-c", fake_config)
    assert code == 0, err
    seen = recorded(talker_env)
    assert seen["script_argv"][0] == str(repo / "inference.py") and seen["cwd"] == str(repo)
    assert seen["script_argv"][-4:] == ["full", "--size", "256", "--cpu"]  # no GPU: SadTalker is told so
    assert seen["env"]["CUDA_VISIBLE_DEVICES"] == ""
    frames = speech_frames(tmp_path / "out")
    assert tool_pixels(frames["ALEX"][0]) > 3000, "ALEX's line shows the tool's frames in ALEX's tile"
    assert tool_pixels(frames["SAM"][0]) == 0, "between ALEX's lines the portrait shows"
    metrics = json.loads((tmp_path / "out" / "episode.metrics.json").read_text())
    stage = next(s for s in metrics["stages"] if s["name"] == "avatars")
    assert (stage["engine"], stage["speakers"], stage["gpu_visible"]) == ("sadtalker", ["ALEX"], "")
    assert (stage["lines_rendered"], stage["lines_cached"]) == (2, 0)

    talker_env.unlink()  # every line is cached now: a second render runs no tool
    code, _, err = run_cli("render", script, "-o", tmp_path / "again", "-c", fake_config)
    assert code == 0, err
    assert not talker_env.exists()
    assert tool_pixels(speech_frames(tmp_path / "again")["ALEX"][0]) > 3000
    metrics = json.loads((tmp_path / "again" / "episode.metrics.json").read_text())
    stage = next(s for s in metrics["stages"] if s["name"] == "avatars")
    assert (stage["lines_rendered"], stage["lines_cached"]) == (0, 2)


def test_wav2lip_runs_on_the_configured_gpu(write_script, run_cli, tmp_path, talker_env, monkeypatch) -> None:
    # The GPU stays idle (NVML reads 0 %): what a tool whose torch has no CUDA looks like from outside.
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(("NVIDIA H100 80GB HBM3", "NVIDIA A10"), util=0.0))
    repo = wav2lip(tmp_path)
    config = tmp_path / "gpu.yaml"
    config.write_text("tts_engine: fake\ngpu: {device: 1}\n", encoding="utf-8")
    script = episode(write_script, tmp_path, tool_avatar("wav2lip"))
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "-c", config)
    assert code == 0, err
    seen = recorded(talker_env)
    assert seen["env"] == {"CUDA_VISIBLE_DEVICES": "1", "TORCH_CUDA_ARCH_LIST": None,
                           "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1", "CUDNN_BENCHMARK": "1"}  # fmt: skip
    argv = seen["script_argv"]
    assert argv[argv.index("--checkpoint_path") + 1] == str(repo / "checkpoints" / "wav2lip_gan.pth")
    assert argv[argv.index("--fps") + 1] == "25" and "--cpu" not in argv
    assert tool_pixels(speech_frames(tmp_path / "out")["ALEX"][0]) > 3000
    metrics = json.loads((tmp_path / "out" / "episode.metrics.json").read_text())
    stage = next(s for s in metrics["stages"] if s["name"] == "avatars")
    assert stage["gpu_visible"] == "1" and stage["gpu_warning"].startswith("wav2lip rendered 2 lines while NVML")


def test_a_failing_tool_fails_the_render_with_its_own_message(
    write_script, fake_config, run_cli, tmp_path, monkeypatch, no_gpu
) -> None:
    sadtalker(tmp_path)
    monkeypatch.setenv("FAKE_TALKER_MODE", "fail")
    script = episode(write_script, tmp_path, tool_avatar("sadtalker"))
    code, _, err = run_cli("render", script, "-o", tmp_path / "out", "-c", fake_config)
    assert code == 1
    assert err.startswith("error: speaker ALEX: SadTalker failed (exit 3); its last output:")
    assert "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB" in err
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("fallback", ["illustrated", "photo"])
def test_avatar_fallback_draws_the_speaker_another_way(
    fallback, write_script, fake_config, run_cli, tmp_path, monkeypatch, no_gpu
) -> None:
    sadtalker(tmp_path)
    monkeypatch.setenv("FAKE_TALKER_MODE", "novideo")
    script = episode(write_script, tmp_path, tool_avatar("sadtalker"))
    out = tmp_path / "out"
    code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--avatar-fallback", fallback)
    assert code == 0, err
    stage = next(s for s in json.loads((out / "episode.metrics.json").read_text())["stages"] if s["name"] == "avatars")
    assert stage["speakers"] == [] and stage["fallbacks"]["ALEX"].startswith(f"{fallback}: SadTalker finished but")
    alex = speech_frames(out)["ALEX"][0]
    assert tool_pixels(alex) < 200  # a few skin-toned pixels of the drawing come close to the stand-in's orange
    portrait = (np.abs(alex[:, :240].astype(int) - np.array(PORTRAIT)).max(axis=2) < 30).sum()
    if fallback == "illustrated":
        assert portrait < 200, "the drawn avatar stands in for the photo, not the still portrait"
    else:  # podforge's own photo animation (a flat picture has no face to move, so it shows as a still)
        assert portrait > 3000
    code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--avatar-fallback", "cartoon")
    assert code == 2 and err.startswith("error: --avatar-fallback: Input should be 'photo' or 'illustrated'")


def test_setup_problems_are_reported_at_the_avatar_key_before_synthesis(write_script, run_cli, tmp_path) -> None:
    script = episode(write_script, tmp_path, tool_avatar("sadtalker"))
    text = script.read_text()
    line = text[: text.index("avatar: {")].count("\n") + 1
    col = text.splitlines()[line - 1].index('"SadTalker"') + 1  # the value that is wrong
    code, _, err = run_cli("check", script)
    assert code == 2
    assert err.strip().startswith(f"error: episode.md:{line}:{col}: avatar.checkout: SadTalker checkout ")
    assert "does not exist; clone OpenTalker/SadTalker there or fix the path" in err

    repo = sadtalker(tmp_path)
    (repo / "checkpoints" / "mapping_00109-model.pth.tar").unlink()
    code, _, err = run_cli("check", script)
    assert code == 2 and f"avatar.checkout: SadTalker weights missing: {repo / 'checkpoints'}" in err
    assert "mapping_00109-model.pth.tar" in err and "podforge never downloads weights" in err

    wav2lip(tmp_path)
    script = write_script(SCRIPT.format(avatar=tool_avatar("wav2lip", checkpoint="gone.pth")))
    code, _, err = run_cli("check", script)
    assert code == 2 and "avatar.checkpoint: Wav2Lip weights missing: " in err and "gone.pth" in err

    config = tmp_path / "render.yaml"  # the same section in the render config: named as the config's key
    config.write_text("avatar: {engine: wav2lip}\n", encoding="utf-8")
    code, _, err = run_cli("check", write_script(SCRIPT.format(avatar="{}")), "-c", config)
    assert code == 2 and err.startswith("error: episode.md: config avatar.engine: Wav2Lip needs avatar.checkout")


def test_one_tool_run_is_cut_back_into_each_lines_own_frames(tmp_path, talker_env) -> None:
    """Loud, silent, loud lines: each cached clip has exactly its 25 fps frames, and its own mouth."""
    from podforge.cache import ContentCache
    from podforge.config import AvatarEngineConfig
    from podforge.timeline import SpeechSegment
    from podforge.visuals.avatars import talking
    from podforge.visuals.avatars.external import ExternalAvatar, GpuEnv
    from podforge.voices.synth import CLIP_KIND

    sadtalker(tmp_path)
    Image.new("RGB", (120, 160), PORTRAIT).save(tmp_path / "host.png")
    cache, rate = ContentCache(tmp_path / "cache"), 48_000
    lines = {"loud": (1.0, 0.5), "quiet": (0.52, 0.0), "short": (0.3, 0.5)}
    missing, start = {}, 0
    for name, (seconds, level) in lines.items():
        n = round(seconds * rate)
        cache.put_array(CLIP_KIND, name, (level * np.sin(np.arange(n) * 2 * np.pi * 220 / rate)).astype(np.float32))
        missing[f"key-{name}"] = SpeechSegment(start, start + n, 1, "ALEX", "fake:a", name, name, name)
        start += n
    cfg = AvatarEngineConfig(engine="sadtalker", checkout="SadTalker", python=sys.executable)
    tool = talking._tool(cfg, tmp_path, GpuEnv(visible_devices=""))
    talking._render(missing, tmp_path / "host.png", cache, tool, rate)
    for name, (seconds, level) in lines.items():
        path = cache.get_file(talking.KIND, f"key-{name}", ".mp4")
        assert path is not None
        frames = list(ExternalAvatar.frames(path, None))
        assert len(frames) == -(-round(seconds * 100) // 4), name  # whole 1/25 s frames covering the line
        mouth = frames[len(frames) // 2][44:56, 20:44].mean()
        assert (mouth > 200) if level else (mouth < 120), (name, mouth)
