"""The GPU: which NVIDIA device a render may use, why (or why not), and what each engine does with it.

    plan = plan_gpu(GpuConfig(mode="auto", device=0))  # asks NVML once; a failure becomes the reason
    plan.use, plan.reason                              # False, "no NVIDIA driver: NVML could not start (...)"
    choose_encoder("auto", plan)                       # h264_nvenc only after a test encode on that device
    onnx_device(plan)                                  # the CUDA execution provider when onnxruntime-gpu has it

``mode: on`` turns a missing GPU or a refused NVENC into a ConfigError that says why (the CLI exits 2);
``auto`` falls back to the CPU and records the reason in metrics.json and ``podforge doctor``; ``off``
never asks the GPU for anything. Nothing here swallows a detection error: each one is a reason.

Device numbers are NVML's (PCI bus order); external tools get ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so CUDA
counts the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigError, EngineError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .encode import EncoderChoice

log = logging.getLogger(__name__)

_MB = 1024.0 * 1024.0
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class GpuBackend(Protocol):
    """What the resource monitor needs from a GPU; NVML in production, a fake in tests."""

    def name(self) -> str: ...

    def memory_total_mb(self) -> float: ...

    def utilization_percent(self) -> float: ...

    def memory_used_mb(self) -> float: ...


def _text(raw: object) -> str:
    # Older bindings return bytes, newer ones str.
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class NvmlBackend:
    """GPU ``index`` read through NVML (the ``pynvml`` module from nvidia-ml-py); raises what NVML raises."""

    def __init__(self, index: int = 0) -> None:
        import pynvml  # here, so importing podforge never needs the NVML bindings

        pynvml.nvmlInit()
        self._nvml: Any = pynvml
        self.index = index
        try:
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:
            pynvml.nvmlShutdown()
            raise

    def name(self) -> str:
        return _text(self._nvml.nvmlDeviceGetName(self._handle))

    def memory_total_mb(self) -> float:
        return float(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).total) / _MB

    def memory_used_mb(self) -> float:
        return float(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used) / _MB

    def utilization_percent(self) -> float:
        return float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)

    def encoder_percent(self) -> float:
        """NVENC's utilisation, which the GPU (SM) utilisation above does not include."""
        utilization, _period_us = self._nvml.nvmlDeviceGetEncoderUtilization(self._handle)
        return float(utilization)

    def close(self) -> None:
        self._nvml.nvmlShutdown()


def detect_gpu(index: int = 0) -> GpuBackend | None:
    """GPU ``index`` for the resource monitor, or None; why not is logged (and given by :func:`probe_gpus`)."""
    try:
        backend = NvmlBackend(index)
        backend.name()
    except ImportError:
        log.info("no GPU metrics: nvidia-ml-py (pynvml) is not installed")
        return None
    except Exception as exc:
        log.info("no GPU metrics for GPU %d: %s", index, _nvml_problem(exc))
        return None
    return backend


def _nvml_problem(exc: BaseException) -> str:
    text = str(exc).strip() or "no message"
    return f"{type(exc).__name__}: {text}" if "NVML" not in type(exc).__name__ else text


# --- what the machine has -------------------------------------------------------------------


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    memory_mb: float


@dataclass(frozen=True)
class GpuProbe:
    """What NVML reported: the devices and driver, or ``problem`` saying why it could not answer."""

    devices: tuple[GpuDevice, ...] = ()
    driver: str = ""
    problem: str = ""


def probe_gpus() -> GpuProbe:
    """Every NVIDIA GPU NVML can see; never raises: each failure is the probe's ``problem``."""
    try:
        import pynvml
    except ImportError:
        return GpuProbe(problem="nvidia-ml-py (pynvml) is not installed, so no GPU can be found")
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return GpuProbe(problem=f"no NVIDIA driver: NVML could not start ({_nvml_problem(exc)})")
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        devices = tuple(_device(pynvml, index) for index in range(int(pynvml.nvmlDeviceGetCount())))
    except Exception as exc:
        log.warning("NVML failed while listing GPUs: %s", _nvml_problem(exc))
        return GpuProbe(problem=f"NVML error while listing GPUs ({_nvml_problem(exc)})")
    finally:
        pynvml.nvmlShutdown()
    if not devices:
        return GpuProbe((), driver, f"the NVIDIA driver {driver} reports no GPU")
    return GpuProbe(devices, driver)


def _device(nvml: Any, index: int) -> GpuDevice:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = float(nvml.nvmlDeviceGetMemoryInfo(handle).total) / _MB
    return GpuDevice(index, _text(nvml.nvmlDeviceGetName(handle)), round(memory, 1))


# --- what a render uses ---------------------------------------------------------------------


@dataclass(frozen=True)
class GpuPlan:
    """The GPU a render uses (``device``), or None and why: what metrics.json and doctor report."""

    mode: str
    index: int
    device: GpuDevice | None
    driver: str
    reason: str

    @property
    def use(self) -> bool:
        return self.device is not None

    def to_dict(self) -> dict[str, object]:
        name = self.device.name if self.device else None
        return {"mode": self.mode, "device": self.index, "name": name, "driver": self.driver or None,
                "used": self.use, "reason": self.reason}  # fmt: skip


def plan_gpu(mode: str, index: int, probe: GpuProbe | None = None) -> GpuPlan:
    """The GPU for ``mode`` (auto, on, off) and device ``index``; ConfigError when ``on`` finds none."""
    if mode == "off":
        return GpuPlan(mode, index, None, "", "GPU off (gpu.mode: off); everything runs on the CPU")
    found = probe if probe is not None else probe_gpus()
    device = next((d for d in found.devices if d.index == index), None)
    if found.problem:
        reason = found.problem
    elif device is None:
        count = len(found.devices)
        reason = f"gpu.device is {index}, but this machine has {count} GPU{'s' if count > 1 else ''} (0-{count - 1})"
    else:
        reason = f"GPU {index}: {device.name}, driver {found.driver}"
    if device is None and mode == "on":
        raise ConfigError(f"--gpu on: no usable GPU: {reason}; use --gpu auto to fall back to the CPU")
    return GpuPlan(mode, index, device, found.driver, reason)


def choose_encoder(preference: str, plan: GpuPlan, *, probe: Callable[[str], bool] | None = None) -> EncoderChoice:
    """The H.264 encoder for ``video.encoder`` under ``plan``; ConfigError when ``--gpu on`` meets a refused NVENC."""
    from .encode import NVENC, X264, EncoderChoice, select_encoder

    if preference == X264:
        return select_encoder(X264)
    if plan.mode == "off":
        if preference == NVENC:
            raise ConfigError(f"video.encoder is {NVENC}, but gpu.mode is off; use --gpu auto or encoder libx264")
        return EncoderChoice(X264, plan.reason)
    if plan.mode == "on":
        choice = select_encoder("auto", probe=probe, device=plan.index)
        if choice.name != NVENC:
            raise ConfigError(f"--gpu on: NVENC refused on GPU {plan.index}: {choice.reason}")
        return choice
    return select_encoder(preference, probe=probe, device=plan.index)


# --- ONNX engines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxDevice:
    """Where the ONNX voice engines run; hashable, since loaded engines are cached per device."""

    provider: str = CPU_PROVIDER
    device_id: int = 0
    reason: str = "the CPU by default"
    required: bool = False  # --gpu on: CUDA that fails to start is an error, not a quiet CPU fallback

    @property
    def cuda(self) -> bool:
        return self.provider == CUDA_PROVIDER

    def providers(self) -> list[Any]:
        if not self.cuda:
            return [CPU_PROVIDER]
        return [(CUDA_PROVIDER, {"device_id": self.device_id, "cudnn_conv_algo_search": "HEURISTIC"}), CPU_PROVIDER]

    def to_dict(self) -> dict[str, object]:
        return {"provider": self.provider, "device": self.device_id if self.cuda else None, "reason": self.reason}


def onnx_device(plan: GpuPlan) -> OnnxDevice:
    """CUDA when onnxruntime offers its CUDA execution provider (onnxruntime-gpu) and the plan has a GPU."""
    if plan.mode == "off":
        return OnnxDevice(reason=plan.reason)
    try:
        import onnxruntime
    except ImportError:
        return OnnxDevice(reason="onnxruntime is not installed")
    available = list(onnxruntime.get_available_providers())
    if CUDA_PROVIDER not in available:
        return OnnxDevice(
            reason=f"onnxruntime {onnxruntime.__version__} has no {CUDA_PROVIDER} "
            f"(it offers {', '.join(available) or 'nothing'}); install onnxruntime-gpu for it"
        )
    if plan.device is None:
        return OnnxDevice(reason=f"onnxruntime-gpu is installed, but no GPU is in use: {plan.reason}")
    why = f"onnxruntime-gpu on GPU {plan.index} ({plan.device.name})"
    return OnnxDevice(CUDA_PROVIDER, plan.index, why, required=plan.mode == "on")


def use_onnx_device(session: Any, device: OnnxDevice, engine: str) -> list[str]:
    """Move an onnxruntime session onto ``device``; the providers it ends up with, best first."""
    if not device.cuda:
        return list(session.get_providers())
    problem = ""
    try:
        session.set_providers(device.providers())
    except Exception as exc:  # onnxruntime raises RuntimeError/ValueError/its own Fail types
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    active = list(session.get_providers())
    if CUDA_PROVIDER not in active:
        why = problem or "it fell back to the CPU"
        message = f"{engine}: onnxruntime could not start CUDA on GPU {device.device_id} ({why})"
        if device.required:
            raise EngineError(f"--gpu on: {message}; use --gpu auto to let it run on the CPU", engine=engine)
        log.warning("%s; running on the CPU", message)
    return active
