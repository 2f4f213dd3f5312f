"""Resource metrics for a render: wall time, CPU, memory and GPU use per stage.

Keeps the older tool's "GPU manager" contract: a :class:`GpuBackend` that can name the
device and report its memory and utilization, :func:`detect_gpu` (``None`` without a GPU;
:func:`podforge.gpu.probe_gpus` says why) and :meth:`ResourceMonitor.get_utilization`.
Each stage samples GPU utilisation and memory on its own thread (see :class:`Tracker`).

    recorder = StageRecorder()
    with recorder.stage("voices", engine="hibari") as stage:
        stage.count("cache_hits", 3)
    write_metrics(path, recorder.to_dict("ep1", audio_seconds=612.0, options=..., versions=...))

GPU figures are device-wide (NVML cannot attribute utilization to one process), so other
work on the same GPU shows up in them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypedDict

import psutil

from ._atomic import atomic_write_text
from .gpu import GpuBackend, NvmlBackend, detect_gpu

log = logging.getLogger(__name__)

_MB = 1024.0 * 1024.0
# Keys every stage dict carries; extra fields may not shadow them.
_STAGE_KEYS = frozenset(
    {"name", "wall_seconds", "cpu_percent", "peak_rss_mb", "gpu_util_percent", "gpu_util_mean_percent", "gpu_memory_mb"}
)


class Utilization(TypedDict):
    """What :meth:`ResourceMonitor.get_utilization` returns (a plain dict at runtime)."""

    cpu_percent: float
    ram_mb: float
    gpu_util_percent: float | None
    gpu_memory_mb: float | None


# --- process sampling -------------------------------------------------------------------


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def _rss_mb(proc: psutil.Process) -> float:
    """RSS of the process plus its live descendants (shared pages count once per process)."""
    total = proc.memory_info().rss
    for child in _children(proc):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue  # exited between listing and reading
    return total / _MB


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU seconds used by the process, its reaped children and its live descendants."""
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in _children(proc):
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return float(total)


@dataclass
class Peaks:
    """Largest values seen while tracking, and the GPU's mean utilisation (a peak alone can be one busy
    sample); GPU fields stay None without GPU readings."""

    rss_mb: float = 0.0
    gpu_util_percent: float | None = None
    gpu_memory_mb: float | None = None
    gpu_util_sum: float = 0.0
    gpu_samples: int = 0
    gpu_encoder_percent: float | None = None

    def update(self, rss_mb: float, gpu_util: float | None, gpu_mem: float | None) -> None:
        self.rss_mb = max(self.rss_mb, rss_mb)
        self.gpu_util_percent = _max_opt(self.gpu_util_percent, gpu_util)
        self.gpu_memory_mb = _max_opt(self.gpu_memory_mb, gpu_mem)
        if gpu_util is not None:
            self.gpu_util_sum += gpu_util
            self.gpu_samples += 1

    @property
    def gpu_util_mean_percent(self) -> float | None:
        return self.gpu_util_sum / self.gpu_samples if self.gpu_samples else None


def _max_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


class ResourceMonitor:
    """Reads CPU, RSS and GPU figures for this process; samples peaks on a daemon thread.

    ``gpu="auto"`` (the default) probes with :func:`detect_gpu`; pass ``None`` to
    disable GPU metrics or a backend object to use it.
    """

    def __init__(self, gpu: GpuBackend | Literal["auto"] | None = "auto", interval: float = 0.2) -> None:
        if interval <= 0:
            raise ValueError(f"sampling interval must be positive, got {interval}")
        self.gpu: GpuBackend | None = detect_gpu() if isinstance(gpu, str) else gpu
        self.interval = interval
        self._proc = psutil.Process()
        self._lock = threading.Lock()
        self._gpu_warned = False
        self._last_cpu = (time.perf_counter(), _cpu_seconds(self._proc))

    def rss_mb(self) -> float:
        return _rss_mb(self._proc)

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self._proc)

    def gpu_sample(self) -> tuple[float | None, float | None]:
        """(utilization %, used MB), or (None, None) without a GPU or when NVML fails."""
        if self.gpu is None:
            return None, None
        try:
            return float(self.gpu.utilization_percent()), float(self.gpu.memory_used_mb())
        except Exception as exc:
            # A GPU that stops answering mid-render must not fail the render.
            if not self._gpu_warned:
                self._gpu_warned = True
                log.warning("reading GPU metrics failed, reporting none: %s", exc)
            return None, None

    def get_utilization(self) -> Utilization:
        """Current figures; ``cpu_percent`` covers the time since the previous call
        (or since construction) and can exceed 100 on several cores."""
        now, cpu = time.perf_counter(), self.cpu_seconds()
        with self._lock:
            then, cpu_then = self._last_cpu
            self._last_cpu = (now, cpu)
        wall = now - then
        util, mem = self.gpu_sample()
        return {
            "cpu_percent": 100.0 * (cpu - cpu_then) / wall if wall > 0 else 0.0,
            "ram_mb": self.rss_mb(),
            "gpu_util_percent": util,
            "gpu_memory_mb": mem,
        }

    def encoder_sample(self) -> float | None:
        """NVENC's own utilisation %: video encoding barely shows in the GPU's (SM) figure. None without it."""
        read = getattr(self.gpu, "encoder_percent", None)
        if read is None:
            return None
        try:
            return float(read())
        except Exception:  # reported once through gpu_sample's warning; the encoder figure is a bonus
            return None

    def sample_into(self, peaks: Peaks) -> None:
        try:
            rss = self.rss_mb()
        except psutil.Error as exc:
            log.warning("reading process memory failed: %s", exc)
            rss = 0.0
        peaks.update(rss, *self.gpu_sample())
        peaks.gpu_encoder_percent = _max_opt(peaks.gpu_encoder_percent, self.encoder_sample())

    def start_tracking(self) -> Tracker:
        """Start sampling peaks on a daemon thread; call ``stop()`` on the result."""
        return Tracker(self)


class Tracker:
    """Samples a monitor into one :class:`Peaks` until stopped.

    Samples are also taken at start and stop, so work shorter than the interval still
    gets figures, and a short-lived spike between samples can be missed.
    """

    def __init__(self, monitor: ResourceMonitor) -> None:
        self.peaks = Peaks()
        self._monitor = monitor
        monitor.sample_into(self.peaks)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="podforge-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._monitor.interval):
            self._monitor.sample_into(self.peaks)

    def stop(self) -> Peaks:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._monitor.sample_into(self.peaks)
        return self.peaks


# --- stages -----------------------------------------------------------------------------


@dataclass
class Stage:
    """One measured stage; extra fields are added with :meth:`count` and :meth:`set`."""

    name: str
    extra: dict[str, object] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_percent: float = 0.0
    peak_rss_mb: float = 0.0
    gpu_util_percent: float | None = None
    gpu_util_mean_percent: float | None = None
    gpu_memory_mb: float | None = None
    finished: bool = False
    start: float = 0.0
    end: float = 0.0

    def count(self, key: str, n: int = 1) -> None:
        self._check_key(key)
        current = self.extra.get(key, 0)
        if not isinstance(current, int):
            raise TypeError(f"stage field {key!r} holds {current!r}, not a count")
        self.extra[key] = current + n

    def set(self, key: str, value: object) -> None:
        self._check_key(key)
        self.extra[key] = value

    @staticmethod
    def _check_key(key: str) -> None:
        if key in _STAGE_KEYS:
            raise ValueError(f"stage field {key!r} is measured, not set")

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "wall_seconds": round(self.wall_seconds, 4),
            "cpu_percent": round(self.cpu_percent, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "gpu_util_percent": _round_opt(self.gpu_util_percent, 1),
            "gpu_util_mean_percent": _round_opt(self.gpu_util_mean_percent, 1),
            "gpu_memory_mb": _round_opt(self.gpu_memory_mb, 1),
        }
        out.update(self.extra)
        return out


def _round_opt(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


class StageRecorder:
    """Measures named stages of a render and builds the metrics document."""

    def __init__(
        self, monitor: ResourceMonitor | None = None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.monitor = monitor if monitor is not None else ResourceMonitor()
        self._clock = clock
        self._stages: list[Stage] = []

    @property
    def stages(self) -> list[Stage]:
        """Finished stages, in the order they started."""
        return [s for s in self._stages if s.finished]

    @contextmanager
    def stage(self, name: str, **extra: object) -> Iterator[Stage]:
        """Measure the block; a stage that raises is still recorded, with ``error`` set."""
        stage = Stage(name)
        for key, value in extra.items():
            stage.set(key, value)
        self._stages.append(stage)  # at start, so nested stages follow their parent
        tracker = self.monitor.start_tracking()
        cpu0, stage.start = self.monitor.cpu_seconds(), self._clock()
        try:
            yield stage
        except BaseException as exc:
            stage.set("error", type(exc).__name__)
            raise
        finally:
            stage.end, cpu1 = self._clock(), self.monitor.cpu_seconds()
            self._finish(stage, cpu1 - cpu0, tracker.stop())

    @staticmethod
    def _finish(stage: Stage, cpu_used: float, peaks: Peaks) -> None:
        stage.wall_seconds = max(stage.end - stage.start, 0.0)
        stage.cpu_percent = 100.0 * cpu_used / stage.wall_seconds if stage.wall_seconds > 0 else 0.0
        stage.peak_rss_mb = peaks.rss_mb
        stage.gpu_util_percent, stage.gpu_memory_mb = peaks.gpu_util_percent, peaks.gpu_memory_mb
        stage.gpu_util_mean_percent = peaks.gpu_util_mean_percent
        if peaks.gpu_encoder_percent is not None:
            stage.extra["gpu_encoder_percent"] = round(peaks.gpu_encoder_percent, 1)
        stage.finished = True

    def wall_seconds(self) -> float:
        """From the first stage's start to the last stage's end (nested stages count once)."""
        done = self.stages
        if not done:
            return 0.0
        return max(s.end for s in done) - min(s.start for s in done)

    def device(self) -> dict[str, object]:
        gpu: dict[str, object] | None = None
        if self.monitor.gpu is not None:
            try:
                gpu = {
                    "name": self.monitor.gpu.name(),
                    "memory_mb": round(float(self.monitor.gpu.memory_total_mb()), 1),
                }
            except Exception as exc:
                log.warning("reading GPU details failed: %s", exc)
        return {"cpu_count": os.cpu_count() or 1, "gpu": gpu}

    def to_dict(
        self,
        episode: str,
        audio_seconds: float,
        *,
        options: dict[str, object] | None = None,
        versions: dict[str, object] | None = None,
        gpu: dict[str, object] | None = None,
    ) -> dict[str, object]:
        """The metrics document; ``options``/``versions`` record what produced the episode, ``gpu`` what
        the render did with the GPU and why (see :class:`podforge.gpu.GpuPlan`)."""
        done = self.stages
        wall = self.wall_seconds()
        audio = float(audio_seconds)
        return {
            "episode": episode,
            "audio_seconds": audio,
            "wall_seconds": round(wall, 4),
            "realtime_factor": round(wall / audio, 4) if audio > 0 else 0.0,
            "device": self.device(),
            "gpu": dict(gpu or {}),
            "stages": [s.to_dict() for s in done],
            "peak_rss_mb": round(max((s.peak_rss_mb for s in done), default=0.0), 1),
            "options": dict(options or {}),
            "versions": dict(versions or {}),
        }


def write_metrics(path: str | os.PathLike[str], data: dict[str, object]) -> None:
    """Write ``data`` as JSON so readers never see a half-written file."""
    # Serialise first: a non-JSON value must fail before anything touches the disk.
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(path, text)


__all__ = [
    "GpuBackend", "NvmlBackend", "Peaks", "ResourceMonitor", "Stage", "StageRecorder", "Tracker", "Utilization",
    "detect_gpu", "write_metrics",
]  # fmt: skip
