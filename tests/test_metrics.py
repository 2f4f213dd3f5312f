"""Tests for podforge.metrics; only the NVML boundary is faked."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fake_gpu import need_gpu
from podforge.gpu import probe_gpus
from podforge.metrics import Peaks, ResourceMonitor, StageRecorder, detect_gpu, write_metrics


class FakeGpu:
    """Stands in for NVML: fixed name and memory, utilization that can be changed."""

    def __init__(self, util: float = 37.0, used_mb: float = 1234.5) -> None:
        self.util = util
        self.used_mb = used_mb

    def name(self) -> str:
        return "Fake RTX 9000"

    def memory_total_mb(self) -> float:
        return 24576.0

    def utilization_percent(self) -> float:
        return self.util

    def memory_used_mb(self) -> float:
        return self.used_mb


class BrokenGpu(FakeGpu):
    def utilization_percent(self) -> float:
        raise RuntimeError("GPU fell off the bus")


def burn_cpu(seconds: float) -> None:
    """Keep one core busy with small numpy operations (no BLAS threads, no sleeping)."""
    a = np.arange(2000, dtype=np.float64)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = np.sqrt(a * a + 1.0)


@pytest.fixture
def recorder() -> Iterator[StageRecorder]:
    yield StageRecorder(ResourceMonitor(gpu=None, interval=0.02))


# --- ResourceMonitor --------------------------------------------------------------------


def test_monitor_reports_fake_gpu_values() -> None:
    monitor = ResourceMonitor(gpu=FakeGpu(util=55.0, used_mb=2048.0), interval=0.05)
    util = monitor.get_utilization()
    assert set(util) == {"cpu_percent", "ram_mb", "gpu_util_percent", "gpu_memory_mb"}
    assert util["gpu_util_percent"] == 55.0
    assert util["gpu_memory_mb"] == 2048.0
    assert isinstance(util["cpu_percent"], float) and util["cpu_percent"] >= 0.0
    assert isinstance(util["ram_mb"], float) and util["ram_mb"] > 10.0


def test_monitor_without_gpu_reports_none() -> None:
    util = ResourceMonitor(gpu=None).get_utilization()
    assert util["gpu_util_percent"] is None
    assert util["gpu_memory_mb"] is None


def test_monitor_cpu_percent_covers_time_since_last_call() -> None:
    monitor = ResourceMonitor(gpu=None)
    monitor.get_utilization()
    cpu, wall = time.process_time(), time.perf_counter()
    burn_cpu(0.3)
    # The CPU this process was given, whatever else loads the machine (a fixed threshold fails under load).
    got = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)
    assert monitor.get_utilization()["cpu_percent"] == pytest.approx(got, abs=20)


def test_failing_gpu_reads_become_none_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    monitor = ResourceMonitor(gpu=BrokenGpu(), interval=0.05)
    for _ in range(3):
        assert monitor.gpu_sample() == (None, None)
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1


def test_monitor_rejects_bad_interval() -> None:
    with pytest.raises(ValueError):
        ResourceMonitor(gpu=None, interval=0)


def test_stage_gpu_maxima_come_from_samples() -> None:
    gpu = FakeGpu(util=10.0, used_mb=100.0)
    rec = StageRecorder(ResourceMonitor(gpu=gpu, interval=0.01))
    with rec.stage("voices"):
        gpu.util, gpu.used_mb = 90.0, 5000.0
        time.sleep(0.1)
        gpu.util, gpu.used_mb = 20.0, 300.0
    (stage,) = rec.stages
    assert stage.gpu_util_percent == 90.0
    assert stage.gpu_memory_mb == 5000.0
    assert stage.gpu_util_mean_percent is not None and 10.0 <= stage.gpu_util_mean_percent <= 90.0


def test_mean_gpu_utilisation_averages_the_samples() -> None:
    peaks = Peaks()
    for util in (10.0, 90.0, None, 20.0):  # None: a sample NVML failed to give
        peaks.update(100.0, util, 5.0)
    assert (peaks.gpu_util_percent, peaks.gpu_util_mean_percent) == (90.0, 40.0)
    assert Peaks().gpu_util_mean_percent is None


# --- StageRecorder ----------------------------------------------------------------------


def test_cpu_bound_stage_reports_busy_cpu_and_wall(recorder: StageRecorder) -> None:
    t0, cpu = time.perf_counter(), time.process_time()
    with recorder.stage("burn"):
        burn_cpu(0.3)
    measured = time.perf_counter() - t0
    (stage,) = recorder.stages
    assert stage.cpu_percent == pytest.approx(100 * (time.process_time() - cpu) / measured, abs=20)
    # The outer measurement also covers starting and joining the sampler thread.
    assert 0.3 <= stage.wall_seconds <= measured


def test_allocating_stage_reports_peak_rss(recorder: StageRecorder) -> None:
    baseline = recorder.monitor.rss_mb()
    with recorder.stage("alloc"):
        block = np.ones(200 * 1024 * 1024 // 8, dtype=np.float64)  # touched: every page written
        time.sleep(0.2)  # several sampling intervals, so the thread (not the end sample) sees it
        del block
    (stage,) = recorder.stages
    assert stage.peak_rss_mb >= baseline + 150.0
    # Freed before the stage ended, so only the background samples can have seen it.
    assert recorder.monitor.rss_mb() < stage.peak_rss_mb - 100.0


def test_stage_extra_fields(recorder: StageRecorder) -> None:
    with recorder.stage("voices", engine="hibari") as stage:
        stage.count("cache_hits", 2)
        stage.count("cache_hits")
        stage.set("engine", "piper")
        stage.set("voices", ["alex", "sam"])
    out = recorder.stages[0].to_dict()
    assert out["engine"] == "piper"
    assert out["cache_hits"] == 3
    assert out["voices"] == ["alex", "sam"]


def test_stage_refuses_to_overwrite_measured_fields(recorder: StageRecorder) -> None:
    with recorder.stage("x") as stage:
        with pytest.raises(ValueError):
            stage.set("wall_seconds", 1.0)
        stage.set("label", "text")
        with pytest.raises(TypeError):
            stage.count("label")


def test_failed_stage_is_recorded_and_error_propagates(recorder: StageRecorder) -> None:
    with pytest.raises(KeyError), recorder.stage("mix"):
        raise KeyError("nope")
    (stage,) = recorder.stages
    assert stage.finished
    assert stage.to_dict()["error"] == "KeyError"


def test_nested_stages_keep_start_order_and_wall_counts_once(recorder: StageRecorder) -> None:
    with recorder.stage("render"):
        with recorder.stage("voices"):
            time.sleep(0.05)
        with recorder.stage("mix"):
            time.sleep(0.05)
    names = [s.name for s in recorder.stages]
    assert names == ["render", "voices", "mix"]
    assert recorder.wall_seconds() == pytest.approx(recorder.stages[0].wall_seconds, abs=1e-6)


# --- the document -----------------------------------------------------------------------

TOP_KEYS = {
    "episode": str,
    "audio_seconds": float,
    "wall_seconds": float,
    "realtime_factor": float,
    "device": dict,
    "gpu": dict,
    "stages": list,
    "peak_rss_mb": float,
    "options": dict,
    "versions": dict,
}
STAGE_KEYS = {
    "name", "wall_seconds", "cpu_percent", "peak_rss_mb", "gpu_util_percent", "gpu_util_mean_percent", "gpu_memory_mb"
}  # fmt: skip


def _check_schema(doc: dict[str, object]) -> None:
    assert list(doc) == list(TOP_KEYS)
    for key, typ in TOP_KEYS.items():
        assert type(doc[key]) is typ, key
    device = doc["device"]
    assert isinstance(device, dict)
    assert set(device) == {"cpu_count", "gpu"}
    assert type(device["cpu_count"]) is int and device["cpu_count"] >= 1
    stages = doc["stages"]
    assert isinstance(stages, list)
    for stage in stages:
        assert set(stage) >= STAGE_KEYS
        assert type(stage["name"]) is str
        for key in ("wall_seconds", "cpu_percent", "peak_rss_mb"):
            assert type(stage[key]) is float, key
        for key in ("gpu_util_percent", "gpu_util_mean_percent", "gpu_memory_mb"):
            assert stage[key] is None or type(stage[key]) is float, key


def test_schema_without_gpu(recorder: StageRecorder) -> None:
    with recorder.stage("voices", engine="hibari") as stage:
        stage.count("cache_hits", 4)
    doc = recorder.to_dict("ep1", 12, options={"lufs": -16}, versions={"podforge": "0.1.0"})
    _check_schema(doc)
    assert doc["device"] == {"cpu_count": doc["device"]["cpu_count"], "gpu": None}  # type: ignore[index]
    stage_doc = doc["stages"][0]  # type: ignore[index]
    assert set(stage_doc) == STAGE_KEYS | {"engine", "cache_hits"}
    assert stage_doc["gpu_util_percent"] is None and stage_doc["gpu_memory_mb"] is None
    assert doc["options"] == {"lufs": -16} and doc["versions"] == {"podforge": "0.1.0"}
    assert doc["audio_seconds"] == 12.0


def test_schema_with_fake_gpu() -> None:
    rec = StageRecorder(ResourceMonitor(gpu=FakeGpu(), interval=0.02))
    with rec.stage("avatar"):
        time.sleep(0.03)
    doc = rec.to_dict("ep2", 60.0)
    _check_schema(doc)
    assert doc["device"]["gpu"] == {"name": "Fake RTX 9000", "memory_mb": 24576.0}  # type: ignore[index]
    stage_doc = doc["stages"][0]  # type: ignore[index]
    assert stage_doc["gpu_util_percent"] == 37.0
    assert stage_doc["gpu_memory_mb"] == 1234.5


def test_realtime_factor_and_totals() -> None:
    ticks = iter([10.0, 12.0, 13.0, 16.0])  # stage a: 10-12, stage b: 13-16
    rec = StageRecorder(ResourceMonitor(gpu=None), clock=lambda: next(ticks))
    for name in ("a", "b"):
        with rec.stage(name):
            pass
    doc = rec.to_dict("ep", 30.0)
    assert doc["wall_seconds"] == 6.0
    assert doc["realtime_factor"] == pytest.approx(6.0 / 30.0)
    assert [s["wall_seconds"] for s in doc["stages"]] == [2.0, 3.0]  # type: ignore[attr-defined]
    assert doc["peak_rss_mb"] == max(s["peak_rss_mb"] for s in doc["stages"])  # type: ignore[attr-defined]
    assert rec.to_dict("ep", 0.0)["realtime_factor"] == 0.0


def test_empty_recorder(recorder: StageRecorder) -> None:
    doc = recorder.to_dict("nothing", 5.0)
    _check_schema(doc)
    assert doc["stages"] == [] and doc["wall_seconds"] == 0.0 and doc["peak_rss_mb"] == 0.0


def test_json_round_trip(tmp_path: Path, recorder: StageRecorder) -> None:
    with recorder.stage("voices", engine="hibari"):
        pass
    doc = recorder.to_dict("ep1", 3.5, options={"format": "mp3"}, versions={"numpy": np.__version__})
    path = tmp_path / "metrics.json"
    write_metrics(path, doc)
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temp file left


def test_write_metrics_leaves_old_file_on_unserialisable_data(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_metrics(path, {"episode": "old"})
    with pytest.raises(TypeError):
        write_metrics(path, {"episode": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"episode": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# --- GPU detection ----------------------------------------------------------------------


def test_detect_gpu_is_none_without_gpu() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        assert detect_gpu() is None
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has NVML; covered by the gpu test")


def test_detect_gpu_is_none_when_nvml_init_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = pytest.importorskip("pynvml")

    def fail() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)

    monkeypatch.setattr(pynvml, "nvmlInit", fail)
    assert detect_gpu() is None


def test_detect_gpu_is_none_without_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    assert detect_gpu() is None


def test_detect_gpu_is_none_on_unexpected_errors_and_the_probe_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    pynvml = pytest.importorskip("pynvml")
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)

    def no_device(index: int) -> object:
        raise OSError("no device")

    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", no_device)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 1)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54")
    assert detect_gpu() is None
    assert probe_gpus().problem == "NVML error while listing GPUs (OSError: no device)"


@pytest.mark.gpu
def test_real_gpu() -> None:
    gpu = detect_gpu()
    if gpu is None:
        need_gpu(f"no NVIDIA GPU: {probe_gpus().problem}")
    assert gpu.name().strip()
    assert gpu.memory_total_mb() > 0
    assert 0.0 <= gpu.utilization_percent() <= 100.0
    assert 0.0 <= gpu.memory_used_mb() <= gpu.memory_total_mb()
    monitor = ResourceMonitor(gpu=gpu, interval=0.05)
    rec = StageRecorder(monitor)
    with rec.stage("probe"):
        time.sleep(0.1)
    doc = rec.to_dict("gpu", 1.0)
    _check_schema(doc)
    assert doc["device"]["gpu"]["name"] == gpu.name()  # type: ignore[index]
