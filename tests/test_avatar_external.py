"""ExternalAvatar drives a user-installed SadTalker or Wav2Lip through a stand-in with the same flags."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from fixtures.fake_talker import FRAMES, GPU_VARS
from podforge.errors import EngineError, MediaError
from podforge.visuals.avatars.external import ExternalAvatar, ExternalAvatarConfig, GpuEnv, Tool

FAKE = Path(__file__).parent / "fixtures" / "fake_talker.py"


@pytest.fixture
def log(talker_log: Path) -> Path:
    return talker_log


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """A portrait and a voice track; the stand-in only checks that they exist."""
    portrait, audio = tmp_path / "host.png", tmp_path / "voice.wav"
    portrait.write_bytes(b"\x89PNG portrait")
    audio.write_bytes(b"RIFF voice")
    return portrait, audio


def checkout(tmp_path: Path, name: str) -> Path:
    """A tool checkout whose inference.py is the stand-in."""
    repo = tmp_path / name
    repo.mkdir()
    shutil.copy(FAKE, repo / "inference.py")
    return repo


def weights(repo: Path, name: str = "wav2lip_gan.pth") -> Path:
    path = repo / "checkpoints" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"not really weights")
    return path


def recorded(log: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(log.read_text(encoding="utf-8"))
    return data


def sadtalker_flags(portrait: Path, audio: Path, out: Path) -> list[str]:
    flags = ["--driven_audio", str(audio), "--source_image", str(portrait), "--result_dir", str(out)]
    return [*flags, "--still", "--preprocess", "full"]


def wav2lip_flags(ckpt: Path, portrait: Path, audio: Path, out: Path) -> list[str]:
    flags = ["--checkpoint_path", str(ckpt), "--face", str(portrait), "--audio", str(audio)]
    return [*flags, "--outfile", str(out / "result.mp4")]


def frame_count(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_gpu_env_sets_the_four_variables_and_none_inherits() -> None:
    base = {"CUDA_VISIBLE_DEVICES": "3", "TORCH_CUDA_ARCH_LIST": "8.6", "HOME": "/home/me"}
    assert GpuEnv().apply(base) == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "0",
        "TORCH_CUDA_ARCH_LIST": "8.6",
        "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1",
        "CUDNN_BENCHMARK": "1",
        "HOME": "/home/me",
    }
    off = GpuEnv(visible_devices=None, arch_list="8.0;9.0", allow_tf32=False, cudnn_benchmark=False).apply(base)
    assert [off[name] for name in GPU_VARS] == ["3", "8.0;9.0", "0", "0"]
    assert base["TORCH_CUDA_ARCH_LIST"] == "8.6", "apply must not change its input"


def test_sadtalker_runs_inference_py_with_its_flags_and_gpu_env(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path]
) -> None:
    portrait, audio = inputs
    repo, out = checkout(tmp_path, "SadTalker"), tmp_path / "avatar"
    gpu = GpuEnv(visible_devices="1", arch_list="8.0;9.0", allow_tf32=False, cudnn_benchmark=True)
    config = ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(repo), gpu=gpu)

    video = ExternalAvatar(config).render(portrait, audio, out)

    seen = recorded(log)
    assert seen["argv"] == [sys.executable, str(repo / "inference.py"), *sadtalker_flags(portrait, audio, out)]
    assert seen["cwd"] == str(repo)
    assert seen["env"] == dict(zip(GPU_VARS, ["1", "8.0;9.0", "0", "1"], strict=True))
    assert video.parent == out and video.suffix == ".mp4"
    assert frame_count(video) == FRAMES
    frames = list(ExternalAvatar.frames(video, (48, 32)))
    assert len(frames) == FRAMES
    assert all(f.shape == (32, 48, 3) and f.dtype == np.uint8 for f in frames)
    assert abs(int(frames[0][16, 24, 0]) - 200) < 12, "RGB order: the stand-in paints (200, 80, 40)"


def test_wav2lip_runs_inference_py_with_its_flags(tmp_path: Path, log: Path, inputs: tuple[Path, Path]) -> None:
    portrait, audio = inputs
    repo, out = checkout(tmp_path, "Wav2Lip"), tmp_path / "avatar"
    ckpt = tmp_path / "weights" / "wav2lip.pth"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    config = ExternalAvatarConfig(tool="wav2lip", command=sys.executable, repo=str(repo), checkpoint=str(ckpt))

    video = ExternalAvatar(config).render(portrait, audio, out)

    seen = recorded(log)
    assert seen["argv"] == [sys.executable, str(repo / "inference.py"), *wav2lip_flags(ckpt, portrait, audio, out)]
    assert seen["cwd"] == str(repo)
    assert seen["env"] == dict(zip(GPU_VARS, ["0", None, "1", "1"], strict=True))
    assert video == out / "result.mp4"
    assert [f.shape for f in ExternalAvatar.frames(video, (64, 96))] == [(96, 64, 3)] * FRAMES


def test_wav2lip_finds_the_weights_in_its_checkout(tmp_path: Path, log: Path, inputs: tuple[Path, Path]) -> None:
    repo = checkout(tmp_path, "Wav2Lip")
    ckpt = weights(repo)
    config = ExternalAvatarConfig(tool="wav2lip", command=sys.executable, repo=str(repo))
    ExternalAvatar(config).render(*inputs, tmp_path / "avatar")
    argv = recorded(log)["argv"]
    assert argv[argv.index("--checkpoint_path") + 1] == str(ckpt)


def test_none_leaves_gpu_variables_as_inherited(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.9")
    gpu = GpuEnv(visible_devices=None, arch_list=None, allow_tf32=True, cudnn_benchmark=False)
    config = ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(checkout(tmp_path, "st")), gpu=gpu)
    ExternalAvatar(config).render(*inputs, tmp_path / "avatar")
    assert recorded(log)["env"] == dict(zip(GPU_VARS, ["2,3", "8.9", "1", "0"], strict=True))


def test_sadtalker_enhancer_and_extra_args_come_last(tmp_path: Path, log: Path, inputs: tuple[Path, Path]) -> None:
    portrait, audio = inputs
    repo, out = checkout(tmp_path, "SadTalker"), tmp_path / "avatar"
    (repo / "checkpoints").mkdir()
    config = ExternalAvatarConfig(
        tool="sadtalker",
        command=sys.executable,
        repo=str(repo),
        checkpoint=str(repo / "checkpoints"),
        enhancer="gfpgan",
        extra_args=("--size", "512", "--preprocess", "crop"),
    )
    ExternalAvatar(config).render(portrait, audio, out)
    extra = ["--checkpoint_dir", str(repo / "checkpoints"), "--enhancer", "gfpgan", "--size", "512"]
    assert recorded(log)["script_argv"][1:] == [*sadtalker_flags(portrait, audio, out), *extra, "--preprocess", "crop"]


def test_sadtalker_launcher_on_path(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    portrait, audio = inputs
    bin_dir, out = tmp_path / "bin", tmp_path / "avatar"
    bin_dir.mkdir()
    launcher = bin_dir / "sadtalker"
    launcher.write_text(f"#!{sys.executable}\n{FAKE.read_text(encoding='utf-8')}", encoding="utf-8")
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    video = ExternalAvatar(ExternalAvatarConfig(tool="sadtalker")).render(portrait, audio, out)

    seen = recorded(log)
    assert seen["script_argv"] == [str(launcher), *sadtalker_flags(portrait, audio, out)]
    assert seen["cwd"] == os.getcwd()
    assert frame_count(video) == FRAMES


@pytest.mark.parametrize("tool", ["sadtalker", "wav2lip"])
def test_shell_metacharacters_in_a_path_pass_through_literally(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], tool: Tool
) -> None:
    _, audio = inputs
    odd = tmp_path / "odd dir" / "a b;rm -rf x$(y).png"
    odd.parent.mkdir()
    odd.write_bytes(b"portrait")
    repo = checkout(tmp_path, "tool")
    canary = repo / "x"
    canary.write_text("a shell would have removed me", encoding="utf-8")
    config = ExternalAvatarConfig(tool=tool, command=sys.executable, repo=str(repo), checkpoint=None)
    if tool == "wav2lip":
        weights(repo)

    video = ExternalAvatar(config).render(odd, audio, tmp_path / "avatar")

    argv = recorded(log)["argv"]
    assert str(odd) in argv
    assert argv[argv.index("--source_image" if tool == "sadtalker" else "--face") + 1] == str(odd)
    assert canary.exists()
    assert frame_count(video) == FRAMES


def test_wav2lip_refuses_an_output_path_its_own_shell_call_would_mangle(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path]
) -> None:
    repo = checkout(tmp_path, "Wav2Lip")
    weights(repo)
    config = ExternalAvatarConfig(tool="wav2lip", command=sys.executable, repo=str(repo))
    with pytest.raises(EngineError, match="shell"):
        ExternalAvatar(config).render(*inputs, tmp_path / "my avatar;x")
    assert not log.exists(), "the tool must not have been started"


def missing_cases(tmp_path: Path) -> dict[str, tuple[ExternalAvatarConfig, list[str]]]:
    empty, bare = tmp_path / "empty", tmp_path / "bare"
    empty.mkdir()
    bare.mkdir()
    w2l = checkout(tmp_path, "Wav2Lip")
    return {
        "sadtalker nowhere": (
            ExternalAvatarConfig(tool="sadtalker"),
            ["SadTalker not found", "set avatar.repo", "inference.py", "put `sadtalker` on PATH"],
        ),
        "repo without inference.py": (
            ExternalAvatarConfig(tool="sadtalker", repo=str(empty)),
            ["SadTalker checkout not found", str(empty), "inference.py", "avatar.repo", "OpenTalker/SadTalker"],
        ),
        "command not found": (
            ExternalAvatarConfig(tool="sadtalker", command="no-such-sadtalker"),
            ["'no-such-sadtalker' not found", "avatar.command"],
        ),
        "python not found": (
            ExternalAvatarConfig(tool="wav2lip", repo=str(w2l), command=str(bare / "python")),
            ["Python for Wav2Lip not found", "avatar.command"],
        ),
        "wav2lip nowhere": (
            ExternalAvatarConfig(tool="wav2lip"),
            ["Wav2Lip not found", "set avatar.repo", "inference.py"],
        ),
        "wav2lip weights not set": (
            ExternalAvatarConfig(tool="wav2lip", repo=str(w2l), command=sys.executable),
            ["Wav2Lip checkpoint not set", "avatar.checkpoint", "never downloads"],
        ),
        "wav2lip weights missing": (
            ExternalAvatarConfig(tool="wav2lip", repo=str(w2l), command=sys.executable, checkpoint=str(bare / "w.pth")),
            ["Wav2Lip checkpoint not found", str(bare / "w.pth"), "avatar.checkpoint"],
        ),
        "sadtalker checkpoints missing": (
            ExternalAvatarConfig(tool="sadtalker", repo=str(w2l), command=sys.executable, checkpoint=str(bare / "c")),
            ["SadTalker checkpoints folder not found", str(bare / "c"), "avatar.checkpoint"],
        ),
    }


MISSING = (
    "sadtalker nowhere",
    "repo without inference.py",
    "command not found",
    "python not found",
    "wav2lip nowhere",
    "wav2lip weights not set",
    "wav2lip weights missing",
    "sadtalker checkpoints missing",
)


@pytest.mark.parametrize("case", MISSING)
def test_a_missing_tool_names_what_is_missing_and_where_to_point(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bare"))  # nothing named sadtalker or python here
    cases = missing_cases(tmp_path)
    assert set(cases) == set(MISSING)
    config, phrases = cases[case]
    with pytest.raises(EngineError) as caught:
        ExternalAvatar(config).render(*inputs, tmp_path / "avatar")
    for phrase in phrases:
        assert phrase in str(caught.value)
    assert caught.value.engine == config.tool
    assert not log.exists()


def test_a_missing_portrait_is_a_media_error(tmp_path: Path, log: Path, inputs: tuple[Path, Path]) -> None:
    config = ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(checkout(tmp_path, "st")))
    with pytest.raises(MediaError, match="portrait"):
        ExternalAvatar(config).render(tmp_path / "nobody.png", inputs[1], tmp_path / "avatar")


@pytest.mark.parametrize("tool", ["sadtalker", "wav2lip"])
def test_a_failing_tool_reports_the_end_of_its_stderr(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tool: Tool
) -> None:
    monkeypatch.setenv("FAKE_TALKER_MODE", "fail")
    repo = checkout(tmp_path, "tool")
    weights(repo)
    config = ExternalAvatarConfig(tool=tool, command=sys.executable, repo=str(repo))
    with pytest.raises(EngineError) as caught:
        ExternalAvatar(config).render(*inputs, tmp_path / "avatar")
    message = str(caught.value)
    assert "exit 3" in message
    assert "CUDA out of memory. Tried to allocate 2.00 GiB" in message
    assert "noise line 7" in message and "noise line 15" in message
    assert "noise line 6" not in message, "only the last ten lines"


@pytest.mark.parametrize("tool", ["sadtalker", "wav2lip"])
def test_no_video_written_is_an_engine_error_even_with_an_old_one_there(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tool: Tool
) -> None:
    repo, out = checkout(tmp_path, "tool"), tmp_path / "avatar"
    weights(repo)
    config = ExternalAvatarConfig(tool=tool, command=sys.executable, repo=str(repo))
    old = ExternalAvatar(config).render(*inputs, out)  # a finished earlier run left its video here
    monkeypatch.setenv("FAKE_TALKER_MODE", "novideo")
    with pytest.raises(EngineError, match=r"wrote no \.mp4"):
        ExternalAvatar(config).render(*inputs, out)
    assert old.exists()


def test_sadtalker_picks_the_video_this_run_wrote(tmp_path: Path, log: Path, inputs: tuple[Path, Path]) -> None:
    repo, out = checkout(tmp_path, "SadTalker"), tmp_path / "avatar"
    avatar = ExternalAvatar(ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(repo)))
    stale = out / "2099_01_01_00.00.00.mp4"
    shutil.copy(avatar.render(*inputs, out), stale)
    future = 4_000_000_000  # newest by name and by clock: only a before/after snapshot rules it out
    os.utime(stale, (future, future))
    video = avatar.render(*inputs, out)
    assert video != stale and video.parent == out and frame_count(video) == FRAMES


def test_an_undecodable_video_is_an_engine_error(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TALKER_MODE", "garbage")
    config = ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(checkout(tmp_path, "st")))
    with pytest.raises(EngineError, match="does not decode"):
        ExternalAvatar(config).render(*inputs, tmp_path / "avatar")


def test_a_hung_tool_times_out(
    tmp_path: Path, log: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TALKER_MODE", "hang")
    repo = checkout(tmp_path, "st")
    config = ExternalAvatarConfig(tool="sadtalker", command=sys.executable, repo=str(repo), timeout_s=1.5)
    with pytest.raises(EngineError, match=r"did not finish within 1\.5 s; raise avatar.timeout_s"):
        ExternalAvatar(config).render(*inputs, tmp_path / "avatar")


def test_frames_of_a_missing_video_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot open"):
        next(ExternalAvatar.frames(tmp_path / "gone.mp4", (64, 64)))
