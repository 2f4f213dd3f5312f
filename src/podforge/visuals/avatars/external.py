"""Talking-head video from heavy tools the user installed themselves: SadTalker and Wav2Lip.

podforge never installs or downloads these tools or their weights. It finds them where the user
points (`avatar.repo`, `avatar.command`, `avatar.checkpoint`), runs their `inference.py` as a child
process with an argument list (no shell, so a path is passed literally whatever it contains),
checks that the video they wrote decodes, and reads it back as RGB frames for our layouts.

Flags follow the upstream scripts: OpenTalker/SadTalker `inference.py` and Rudrabha/Wav2Lip
`inference.py`. `extra_args` go last, so a repeated flag there (`--preprocess crop`,
`--size 512`) overrides ours: argparse keeps the last value.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import av
import numpy as np

from ...errors import EngineError, MediaError

Tool = Literal["sadtalker", "wav2lip"]

_NAMES: dict[str, str] = {"sadtalker": "SadTalker", "wav2lip": "Wav2Lip"}
_UPSTREAM: dict[str, str] = {"sadtalker": "OpenTalker/SadTalker", "wav2lip": "Rudrabha/Wav2Lip"}
# Where Wav2Lip's README tells people to put the weights they download, best first.
_WAV2LIP_WEIGHTS = ("checkpoints/wav2lip_gan.pth", "checkpoints/wav2lip.pth")
_TAIL_LINES = 10


@dataclass(frozen=True)
class GpuEnv:
    """The GPU environment variables the tool runs with; None leaves a variable as inherited."""

    visible_devices: str | None = "0"  # "" hides every GPU: the tool runs on the CPU
    arch_list: str | None = None
    device_order: str | None = "PCI_BUS_ID"  # count GPUs as NVML (and podforge's gpu.device) does
    allow_tf32: bool = True
    cudnn_benchmark: bool = True

    def apply(self, base: Mapping[str, str]) -> dict[str, str]:
        """A copy of `base` with the GPU variables set."""
        env = dict(base)
        if self.visible_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.visible_devices
        if self.device_order is not None:
            env["CUDA_DEVICE_ORDER"] = self.device_order
        if self.arch_list is not None:
            env["TORCH_CUDA_ARCH_LIST"] = self.arch_list
        # Written as "0" rather than left out: NVIDIA's containers export the override as "1",
        # and an inherited "1" would silently turn TF32 back on.
        env["TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"] = "1" if self.allow_tf32 else "0"
        env["CUDNN_BENCHMARK"] = "1" if self.cudnn_benchmark else "0"
        return env


@dataclass(frozen=True)
class ExternalAvatarConfig:
    """Where the user's tool lives and how to run it.

    command: with `repo`, the Python that runs `<repo>/inference.py` (default `python` on PATH;
        point it at the tool's own environment); without `repo`, a launcher that takes
        inference.py's flags (default `sadtalker` on PATH). A name on PATH or a path.
    repo: the tool's checkout, the folder with inference.py; also the working directory, since
        both tools read `./checkpoints` (SadTalker) or write `./temp` (Wav2Lip) relative to it.
    checkpoint: Wav2Lip's .pth (default: `<repo>/checkpoints/wav2lip_gan.pth` or `wav2lip.pth`);
        for SadTalker, a checkpoints folder passed as `--checkpoint_dir`.
    enhancer: SadTalker's optional face enhancer; off by default because GFPGAN roughly
        doubles the render time.
    """

    tool: Tool
    command: str | None = None
    repo: str | None = None
    checkpoint: str | None = None
    enhancer: Literal["gfpgan", "RestoreFormer"] | None = None
    extra_args: tuple[str, ...] = ()
    gpu: GpuEnv = field(default_factory=GpuEnv)
    timeout_s: float = 3600.0


def _user_path(value: str) -> Path:
    """A path from the user's settings: `~` expanded, made absolute (the tool runs in its own cwd)."""
    return Path(os.path.abspath(os.path.expanduser(value)))


class ExternalAvatar:
    """Runs SadTalker or Wav2Lip on one portrait and one voice track."""

    def __init__(self, config: ExternalAvatarConfig) -> None:
        if config.tool not in _NAMES:
            raise EngineError(f"unknown avatar tool {config.tool!r}; use sadtalker or wav2lip", engine="avatar")
        self.config = config
        self.name = _NAMES[config.tool]

    def render(self, portrait: Path, audio_wav: Path, out_dir: Path) -> Path:
        """Animate `portrait` speaking `audio_wav`; the path of the video the tool wrote in `out_dir`."""
        portrait, audio_wav, out_dir = (Path(os.path.abspath(p)) for p in (portrait, audio_wav, out_dir))
        for path, what in ((portrait, "portrait"), (audio_wav, "audio")):
            if not path.is_file():
                raise MediaError(f"{path.name}: {what} for the {self.name} avatar not found at {path}")
        program, cwd = self._program()
        flags, expected = self._flags(portrait, audio_wav, out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        before = _mp4_snapshot(out_dir)
        proc = self._run([*program, *flags], cwd)
        video = _new_video(out_dir, before, expected)
        if video is None:
            raise self._error(
                f"{self.name} finished but wrote no .mp4 into {out_dir}; its last output:\n"
                + _tail(proc.stderr or proc.stdout)
            )
        self._check_decodes(video)
        return video

    @staticmethod
    def frames(video: Path, size: tuple[int, int] | None) -> Iterator[np.ndarray]:
        """The video's frames as (height, width, 3) uint8 RGB arrays scaled to `size` = (width, height)
        (None: as they are)."""
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            raise ValueError(f"frame size must be positive, got {size}")
        scale = {} if size is None else {"width": size[0], "height": size[1]}
        try:
            container = av.open(str(video))
        except av.FFmpegError as exc:
            raise MediaError(f"{Path(video).name}: cannot open the avatar video ({exc})") from exc
        with container:
            if not container.streams.video:
                raise MediaError(f"{Path(video).name}: the avatar video has no video stream")
            try:
                for frame in container.decode(video=0):
                    yield frame.reformat(format="rgb24", **scale).to_ndarray()
            except av.FFmpegError as exc:
                raise MediaError(f"{Path(video).name}: the avatar video stopped decoding ({exc})") from exc

    # -- finding the tool ---------------------------------------------------------------------

    def _program(self) -> tuple[list[str], Path | None]:
        """The executable (plus inference.py for a checkout) and the working directory."""
        cfg = self.config
        if cfg.repo is None:
            return [self._launcher()], None
        repo = _user_path(cfg.repo)
        script = repo / "inference.py"
        if not script.is_file():
            raise self._error(
                f"{self.name} checkout not found: {repo} has no inference.py; set avatar.repo to the folder "
                f"you cloned {_UPSTREAM[cfg.tool]} into (podforge never installs it)"
            )
        python = _which(cfg.command or "python")
        if python is None:
            raise self._error(
                f"Python for {self.name} not found: {cfg.command or 'python'!r} is not on PATH or not executable; "
                f"set avatar.command to the python of the environment {self.name} is installed in"
            )
        return [python, str(script)], repo

    def _launcher(self) -> str:
        cfg = self.config
        if cfg.command is not None:
            found = _which(cfg.command)
            if found is None:
                raise self._error(
                    f"{self.name} command {cfg.command!r} not found or not executable: set avatar.command to a "
                    f"name on PATH or a full path, or set avatar.repo to your {self.name} checkout "
                    "(folder with inference.py)"
                )
            return found
        # SadTalker has launchers (pip/conda wrappers) named `sadtalker`; Wav2Lip has none, only its checkout.
        found = _which("sadtalker") if cfg.tool == "sadtalker" else None
        if found is None:
            on_path = " or put `sadtalker` on PATH" if cfg.tool == "sadtalker" else ""
            raise self._error(
                f"{self.name} not found: set avatar.repo to your {self.name} checkout (folder with inference.py)"
                f"{on_path}; podforge never installs it"
            )
        return found

    def _wav2lip_checkpoint(self) -> Path:
        cfg = self.config
        if cfg.checkpoint is not None:
            path = _user_path(cfg.checkpoint)
            if not path.is_file():
                raise self._error(
                    f"Wav2Lip checkpoint not found at {path}: set avatar.checkpoint to the wav2lip_gan.pth or "
                    "wav2lip.pth you downloaded (podforge never downloads weights)"
                )
            return path
        where = ""
        if cfg.repo is not None:
            repo = _user_path(cfg.repo)
            for candidate in (repo / name for name in _WAV2LIP_WEIGHTS):
                if candidate.is_file():
                    return candidate
            where = f" (none in {repo / 'checkpoints'})"
        raise self._error(
            f"Wav2Lip checkpoint not set{where}: set avatar.checkpoint to your wav2lip_gan.pth or wav2lip.pth "
            "(podforge never downloads weights)"
        )

    # -- running it -----------------------------------------------------------------------------

    def _flags(self, portrait: Path, audio: Path, out_dir: Path) -> tuple[list[str], Path | None]:
        """inference.py's flags, and the exact file the tool will write where it is known in advance."""
        cfg = self.config
        if cfg.tool == "wav2lip":
            outfile = out_dir / "result.mp4"
            _refuse_shell_words(outfile, audio)
            checkpoint = str(self._wav2lip_checkpoint())
            flags = ["--checkpoint_path", checkpoint, "--face", str(portrait), "--audio", str(audio)]
            return [*flags, "--outfile", str(outfile), *cfg.extra_args], outfile
        # --still with --preprocess full keeps the whole portrait and only moves the face, which is
        # what a podcast frame wants; SadTalker's default (crop) returns a 256px face-only square.
        flags = ["--driven_audio", str(audio), "--source_image", str(portrait), "--result_dir", str(out_dir)]
        flags += ["--still", "--preprocess", "full"]
        if cfg.checkpoint is not None:
            checkpoints = _user_path(cfg.checkpoint)
            if not checkpoints.is_dir():
                raise self._error(
                    f"SadTalker checkpoints folder not found at {checkpoints}: set avatar.checkpoint to the "
                    "folder SadTalker's download script filled, or leave it unset to use <repo>/checkpoints"
                )
            flags += ["--checkpoint_dir", str(checkpoints)]
        if cfg.enhancer is not None:
            flags += ["--enhancer", cfg.enhancer]
        return [*flags, *cfg.extra_args], None

    def _run(self, args: list[str], cwd: Path | None) -> subprocess.CompletedProcess[bytes]:
        cfg = self.config
        try:
            proc = subprocess.run(
                args,
                shell=False,
                env=cfg.gpu.apply(os.environ),
                cwd=cwd,
                capture_output=True,
                timeout=cfg.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise self._error(
                f"{self.name} did not finish within {cfg.timeout_s:g} s; raise avatar.timeout_s or shorten the audio"
            ) from exc
        except OSError as exc:
            raise self._error(
                f"{self.name} could not be started ({args[0]}: {exc.strerror}); check avatar.command"
            ) from exc
        if proc.returncode != 0:
            how = f"exit {proc.returncode}" if proc.returncode > 0 else f"killed by signal {-proc.returncode}"
            raise self._error(f"{self.name} failed ({how}); its last output:\n" + _tail(proc.stderr or proc.stdout))
        return proc

    def _check_decodes(self, video: Path) -> None:
        """Decode the first frame: proves a video stream with frames without decoding an hour of it."""
        try:
            with av.open(str(video)) as container:
                if not container.streams.video:
                    raise self._error(f"{self.name} wrote {video} but it has no video stream")
                for _frame in container.decode(video=0):
                    return
        except av.FFmpegError as exc:
            raise self._error(f"{self.name} wrote {video} but it does not decode ({exc})") from exc
        raise self._error(f"{self.name} wrote {video} but it has no frames")

    def _error(self, message: str) -> EngineError:
        return EngineError(message, engine=self.config.tool)


def _which(command: str) -> str | None:
    """`command` on PATH, or as a path; absolute, because the tool runs with its checkout as cwd."""
    found = shutil.which(os.path.expanduser(command))
    return os.path.abspath(found) if found else None


def _refuse_shell_words(outfile: Path, audio: Path) -> None:
    # Wav2Lip's inference.py builds its ffmpeg commands by string formatting and runs them through
    # a shell: --outfile always, --audio when it does not end in .wav. Such a path with a space
    # would be split, and one with `;` or `$(` would run as a command, so refuse it up front.
    exposed = [outfile] if str(audio).endswith(".wav") else [outfile, audio]
    for path in exposed:
        if shlex.quote(str(path)) != str(path):
            raise EngineError(
                f"Wav2Lip would hand {str(path)!r} to a shell unquoted (its inference.py runs ffmpeg through "
                "a shell); use an output folder and audio path made only of letters, digits and - _ . / : , + = @ %",
                engine="wav2lip",
            )


def _mp4_snapshot(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.glob("*.mp4")}


def _new_video(folder: Path, before: Mapping[Path, int], expected: Path | None) -> Path | None:
    """The newest .mp4 the run created or rewrote; compared with a snapshot, not the clock, so coarse
    file timestamps cannot hide a fresh file or pass off an old one."""
    fresh = [path for path in folder.glob("*.mp4") if before.get(path) != path.stat().st_mtime_ns]
    if expected is not None:
        fresh = [path for path in fresh if path == expected]
    return max(fresh, key=lambda path: path.stat().st_mtime_ns, default=None)


def _tail(output: bytes) -> str:
    lines = [line for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return "\n".join(f"  {line}" for line in lines[-_TAIL_LINES:]) or "  (no output)"
