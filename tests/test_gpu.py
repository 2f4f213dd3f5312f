"""GPU detection, the GPU plan, NVENC and the ONNX provider choice: every branch through a fake NVML, a fake
test encode and a faked onnxruntime provider list (the GPU boundary), plus `--gpu` through the CLI."""

from __future__ import annotations

import json
import logging
import sys

import av
import onnxruntime
import pytest

from fake_gpu import FakeNvml, NVMLError, need_gpu
from podforge import encode
from podforge.encode import NVENC, X264
from podforge.errors import ConfigError, EngineError
from podforge.gpu import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    OnnxDevice,
    choose_encoder,
    onnx_device,
    plan_gpu,
    probe_gpus,
    use_onnx_device,
)

H100, A10 = "NVIDIA H100 80GB HBM3", "NVIDIA A10"
CUDA_LIST = [CUDA_PROVIDER, CPU_PROVIDER]


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch):
    def install(*gpus: str, **kwargs: object) -> FakeNvml:
        fake = FakeNvml(gpus, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", fake)
        return fake

    return install


@pytest.fixture
def nvenc(monkeypatch: pytest.MonkeyPatch):
    """Make the NVENC test encode answer ``problem`` ("" = it worked), whatever this machine has."""

    def answer(problem: str) -> list[tuple[str, int]]:
        asked: list[tuple[str, int]] = []

        def test_encode(name: str, device: int = 0) -> str:
            asked.append((name, device))
            return problem

        monkeypatch.setattr(av, "codecs_available", av.codecs_available | {NVENC})
        monkeypatch.setattr(encode, "_test_encode", test_encode)
        return asked

    return answer


REFUSED = "h264_nvenc unavailable: OpenEncodeSessionEx failed: out of memory (10)"


# --- detection ------------------------------------------------------------------------------


def test_probe_without_the_nvml_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert "nvidia-ml-py (pynvml) is not installed" in probe_gpus().problem


def test_probe_without_a_driver_says_so(nvml) -> None:
    nvml(init_error=NVMLError("Driver Not Loaded"))
    probe = probe_gpus()
    assert probe.devices == () and probe.problem == "no NVIDIA driver: NVML could not start (Driver Not Loaded)"


def test_probe_reports_an_unexpected_error_with_its_type(nvml) -> None:
    nvml(init_error=OSError("libnvidia-ml.so.1: cannot open shared object file"))
    assert probe_gpus().problem == (
        "no NVIDIA driver: NVML could not start (OSError: libnvidia-ml.so.1: cannot open shared object file)"
    )


def test_probe_lists_two_gpus_and_the_driver(nvml) -> None:
    nvml(H100, A10)
    probe = probe_gpus()
    assert [(d.index, d.name) for d in probe.devices] == [(0, H100), (1, A10)]
    assert probe.driver == "550.54.15" and probe.problem == "" and probe.devices[0].memory_mb == 81920.0


def test_probe_with_a_driver_but_no_gpu(nvml) -> None:
    nvml()
    assert probe_gpus().problem == "the NVIDIA driver 550.54.15 reports no GPU"


# --- the plan -------------------------------------------------------------------------------


def test_off_never_asks_nvml(nvml) -> None:
    fake = nvml(H100)
    plan = plan_gpu("off", 0)
    assert not plan.use and "gpu.mode: off" in plan.reason and fake.inits == 0


def test_auto_without_a_gpu_falls_back_with_the_reason(nvml) -> None:
    nvml(init_error=NVMLError("Driver Not Loaded"))
    plan = plan_gpu("auto", 0)
    assert not plan.use and plan.to_dict()["reason"] == "no NVIDIA driver: NVML could not start (Driver Not Loaded)"


def test_on_without_a_gpu_is_a_config_error_saying_why(nvml) -> None:
    nvml(init_error=NVMLError("Driver Not Loaded"))
    with pytest.raises(ConfigError, match=r"--gpu on: no usable GPU: no NVIDIA driver.*Driver Not Loaded"):
        plan_gpu("on", 0)


def test_device_picks_the_second_of_two_gpus(nvml) -> None:
    nvml(H100, A10)
    plan = plan_gpu("on", 1)
    assert plan.use and plan.device is not None and plan.device.name == A10
    assert plan.to_dict() == {"mode": "on", "device": 1, "name": A10, "driver": "550.54.15", "used": True,
                              "reason": f"GPU 1: {A10}, driver 550.54.15"}  # fmt: skip


def test_a_device_past_the_last_gpu(nvml) -> None:
    nvml(H100, A10)
    assert plan_gpu("auto", 2).reason == "gpu.device is 2, but this machine has 2 GPUs (0-1)"
    with pytest.raises(ConfigError, match="has 2 GPUs"):
        plan_gpu("on", 2)


# --- NVENC ----------------------------------------------------------------------------------


def test_on_with_nvenc_refusing_is_a_config_error(nvml, nvenc) -> None:
    nvml(H100)
    nvenc(REFUSED)
    with pytest.raises(ConfigError, match=r"--gpu on: NVENC refused on GPU 0: .*OpenEncodeSessionEx"):
        choose_encoder("auto", plan_gpu("on", 0))


def test_nvenc_is_tested_on_the_chosen_device(nvml, nvenc) -> None:
    nvml(H100, A10)
    asked = nvenc("")
    choice = choose_encoder("auto", plan_gpu("on", 1))
    assert (choice.name, choice.device) == (NVENC, 1) and asked == [(NVENC, 1)]
    settings = encode.VideoSettings(64, 64, encoder=choice)
    assert encode._codec_options(settings)["gpu"] == "1"


def test_auto_with_nvenc_refusing_uses_x264_and_says_why(nvml, nvenc) -> None:
    nvml(H100)
    nvenc(REFUSED)
    choice = choose_encoder("auto", plan_gpu("auto", 0))
    assert choice.name == X264 and "OpenEncodeSessionEx" in choice.reason


def test_off_never_test_encodes_and_refuses_a_forced_nvenc(nvenc) -> None:
    asked = nvenc("")
    plan = plan_gpu("off", 0)
    assert choose_encoder("auto", plan).name == X264 and asked == []
    with pytest.raises(ConfigError, match=r"gpu\.mode is off"):
        choose_encoder(NVENC, plan)


# --- ONNX engines ---------------------------------------------------------------------------


def providers(monkeypatch: pytest.MonkeyPatch, names: list[str]) -> None:
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(names))


def test_onnx_uses_cuda_with_onnxruntime_gpu_and_a_gpu(nvml, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml(H100, A10)
    providers(monkeypatch, CUDA_LIST)
    device = onnx_device(plan_gpu("auto", 1))
    assert device.cuda and device.device_id == 1 and not device.required and A10 in device.reason
    assert device.providers()[0] == (CUDA_PROVIDER, {"device_id": 1, "cudnn_conv_algo_search": "HEURISTIC"})
    assert onnx_device(plan_gpu("on", 0)).required


def test_onnx_without_the_cuda_provider_stays_on_the_cpu(nvml, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml(H100)
    providers(monkeypatch, [CPU_PROVIDER])
    device = onnx_device(plan_gpu("auto", 0))
    assert device.provider == CPU_PROVIDER and "install onnxruntime-gpu" in device.reason


def test_onnx_with_the_cuda_provider_but_no_gpu(nvml, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml(init_error=NVMLError("Driver Not Loaded"))
    providers(monkeypatch, CUDA_LIST)
    device = onnx_device(plan_gpu("auto", 0))
    assert device.provider == CPU_PROVIDER and "Driver Not Loaded" in device.reason
    assert onnx_device(plan_gpu("off", 0)).to_dict() == {"provider": CPU_PROVIDER, "device": None,
                                                       "reason": plan_gpu("off", 0).reason}  # fmt: skip


def cuda_is_real() -> bool:
    return CUDA_PROVIDER in onnxruntime.get_available_providers()


@pytest.mark.parametrize("voice", ["hibari:heart", "piper:joe"])
def test_onnx_voice_sessions_follow_the_device(voice: str, caplog: pytest.LogCaptureFixture) -> None:
    from podforge.voices.registry import load_engine

    engine = voice.split(":")[0]
    pytest.importorskip(engine)  # piper is an extra
    cpu = load_engine(voice, OnnxDevice(reason="test"))
    assert cpu.providers == [CPU_PROVIDER]
    if cuda_is_real():
        pytest.skip("this onnxruntime really has CUDA: covered by the gpu test")
    with caplog.at_level(logging.WARNING):  # an onnxruntime without CUDA keeps the CPU, and says so
        moved = load_engine(voice, OnnxDevice(CUDA_PROVIDER, 1, "test"))
    assert moved.providers == [CPU_PROVIDER]
    assert f"{engine}: onnxruntime could not start CUDA on GPU 1" in caplog.text
    session = cpu.model.sess if engine == "hibari" else cpu.voice.session
    with pytest.raises(EngineError, match=f"--gpu on: {engine}: onnxruntime could not start CUDA"):
        use_onnx_device(session, OnnxDevice(CUDA_PROVIDER, 0, "test", required=True), engine)


@pytest.mark.gpu
def test_hibari_runs_on_cuda_with_onnxruntime_gpu() -> None:
    from podforge.voices.registry import load_engine

    if not cuda_is_real():
        pytest.skip("onnxruntime-gpu is not installed (an install choice, not a detection failure)")
    device = onnx_device(plan_gpu("auto", 0))
    if not device.cuda:
        need_gpu(f"the voices cannot use CUDA here: {device.reason}")
    engine = load_engine("hibari:heart", device)
    assert engine.providers[0] == CUDA_PROVIDER


# --- through the CLI ------------------------------------------------------------------------

SCRIPT = """\
---
title: GPU
---
ALEX: Hello there.
SAM: Hi.
"""


def test_render_gpu_on_without_a_gpu_exits_2_and_writes_nothing(nvml, write_script, fake_config, run_cli, tmp_path):
    nvml(init_error=NVMLError("Driver Not Loaded"))
    out = tmp_path / "out"
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--gpu", "on")
    assert code == 2
    assert err.strip() == (
        "error: --gpu on: no usable GPU: no NVIDIA driver: NVML could not start (Driver Not Loaded); "
        "use --gpu auto to fall back to the CPU"
    )
    assert not out.exists() or not any(out.iterdir())


def test_render_gpu_on_with_nvenc_refusing_exits_2(nvml, nvenc, write_script, fake_config, run_cli, tmp_path):
    nvml(H100)
    nvenc(REFUSED)
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", tmp_path / "out", "-c", fake_config, "--gpu", "on")
    assert code == 2 and err.startswith("error: --gpu on: NVENC refused on GPU 0: ") and "OpenEncodeSessionEx" in err


def test_render_rejects_an_unknown_gpu_mode(write_script, fake_config, run_cli, tmp_path):
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", tmp_path, "-c", fake_config, "--gpu", "yes")
    assert code == 2 and err.startswith("error: --gpu: Input should be 'auto', 'on' or 'off'")


def test_metrics_record_the_gpu_each_stage_used(nvml, write_script, run_cli, tmp_path, monkeypatch):
    """Two fake GPUs, gpu.device 1 from the config, --gpu on: NVML is sampled per stage on that device."""
    nvml(H100, A10, util=37.0, used_mb=2048.0, encoder=12.0)
    providers(monkeypatch, [CPU_PROVIDER])
    config = tmp_path / "gpu.yaml"
    config.write_text("tts_engine: fake\ngpu: {device: 1}\n", encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", config, "--gpu", "on", "--audio-only")
    assert code == 0, err
    metrics = json.loads((out / "episode.metrics.json").read_text())
    assert metrics["device"]["gpu"]["name"] == A10
    gpu = metrics["gpu"]
    assert (gpu["mode"], gpu["device"], gpu["name"], gpu["used"]) == ("on", 1, A10, True)
    assert gpu["onnx"]["provider"] == CPU_PROVIDER and "onnxruntime-gpu" in gpu["onnx"]["reason"]
    for stage in metrics["stages"]:
        measured = (stage["gpu_util_percent"], stage["gpu_util_mean_percent"], stage["gpu_memory_mb"])
        assert measured == (37.0, 37.0, 2048.0), stage["name"]
        assert stage["gpu_encoder_percent"] == 12.0, stage["name"]
    voices = next(s for s in metrics["stages"] if s["name"] == "voices")
    assert voices["onnx_provider"] == CPU_PROVIDER


def test_metrics_and_doctor_say_why_auto_used_no_gpu(nvml, write_script, fake_config, run_cli, tmp_path):
    nvml(init_error=NVMLError("Driver Not Loaded"))
    out = tmp_path / "out"
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--audio-only")
    assert code == 0, err
    metrics = json.loads((out / "episode.metrics.json").read_text())
    assert metrics["device"]["gpu"] is None and metrics["gpu"]["used"] is False
    assert metrics["gpu"]["reason"] == "no NVIDIA driver: NVML could not start (Driver Not Loaded)"
    assert metrics["gpu"]["onnx"]["provider"] == CPU_PROVIDER
    code, text, _ = run_cli("doctor")
    assert code == 0
    assert "GPU: none (no NVIDIA driver: NVML could not start (Driver Not Loaded))" in " ".join(text.split())
    assert "ONNX providers:" in text and "NVENC:" in text


def test_doctor_lists_gpus_and_what_uses_them(nvml, nvenc, run_cli, monkeypatch) -> None:
    nvml(H100, A10)
    nvenc("")
    providers(monkeypatch, CUDA_LIST)
    code, text, _ = run_cli("doctor")
    flat = " ".join(text.split())
    assert code == 0
    assert f"GPU 0: {H100}, 81920 MB, driver 550.54.15" in flat and f"GPU 1: {A10}" in flat
    assert "video encoder: h264_nvenc" in flat and "NVENC: yes" in flat
    assert "tts hibari, piper (ONNX) run on CUDAExecutionProvider" in flat
    assert "avatar sadtalker, wav2lip: run on GPU 0" in flat


@pytest.mark.gpu
def test_real_gpu_render_uses_nvenc_and_the_gpu(write_script, fake_config, run_cli, tmp_path):
    """On a machine with an NVIDIA GPU: --gpu on renders, encodes with NVENC, and the video stage used the GPU."""
    probe = probe_gpus()
    if not probe.devices:
        need_gpu(f"no NVIDIA GPU: {probe.problem}")
    out = tmp_path / "out"
    script = write_script(SCRIPT + "ALEX: " + "This line keeps the encoder busy for a while. " * 6 + "\n")
    code, _, err = run_cli("render", script, "-o", out, "-c", fake_config, "--gpu", "on", "--size", "1920x1080")
    assert code == 0, err
    metrics = json.loads((out / "episode.metrics.json").read_text())
    video = next(s for s in metrics["stages"] if s["name"] == "video")
    assert metrics["gpu"]["used"] and video["encoder"] == NVENC
    # NVENC is its own engine: the encoding shows in its utilisation more than in the SM figure.
    assert (video.get("gpu_encoder_percent") or 0) > 0 or (video["gpu_util_percent"] or 0) > 0
    with av.open(str(out / "episode.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_render_gpu_off_never_touches_nvml(nvml, write_script, fake_config, run_cli, tmp_path):
    fake = nvml(H100)
    out = tmp_path / "out"
    code, _, err = run_cli("render", write_script(SCRIPT), "-o", out, "-c", fake_config, "--gpu", "off", "--audio-only")
    assert code == 0, err
    metrics = json.loads((out / "episode.metrics.json").read_text())
    assert fake.inits == 0 and metrics["device"]["gpu"] is None
    assert (metrics["gpu"]["mode"], metrics["gpu"]["used"]) == ("off", False)
    assert all(stage["gpu_util_percent"] is None for stage in metrics["stages"])
