"""The GPU boundary for tests: a stand-in `pynvml` module, and the rule for tests that need a real GPU.

`FakeNvml` answers the NVML calls podforge makes (devices, names, memory, utilisation, driver) for a
list of made-up GPUs, or fails the way a machine without a driver does. Install it with
`monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(...))`.

`need_gpu(reason)` skips a `gpu`-marked test on a machine without a GPU, but fails it when
PODFORGE_EXPECT_GPU=1 says one is there: a detection bug on a GPU machine must not pass as a skip.
"""

from __future__ import annotations

import os
import types
from typing import NoReturn

import pytest

MB = 1024 * 1024


class NVMLError(Exception):
    pass


class FakeNvml(types.ModuleType):
    def __init__(
        self,
        gpus: tuple[str, ...] = (),
        *,
        driver: str = "550.54.15",
        init_error: Exception | None = None,
        util: float = 42.0,
        used_mb: float = 1500.0,
        encoder: float = 0.0,
    ) -> None:
        super().__init__("pynvml")
        self.gpus, self.driver, self.init_error = gpus, driver, init_error
        self.util, self.used_mb, self.encoder = util, used_mb, encoder
        self.NVMLError = NVMLError
        self.inits = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        return None

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise NVMLError("Invalid Argument")
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.gpus[handle].encode()  # older bindings answer bytes

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(total=80 * 1024 * MB, used=int(self.used_mb * MB))

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> types.SimpleNamespace:
        return types.SimpleNamespace(gpu=self.util, memory=10)

    def nvmlDeviceGetEncoderUtilization(self, handle: int) -> list[int]:
        return [int(self.encoder), 167_000]  # percent, and the sampling period in microseconds


def need_gpu(reason: str) -> NoReturn:
    """Skip, or fail when PODFORGE_EXPECT_GPU=1 says this machine has a working NVIDIA GPU."""
    if os.environ.get("PODFORGE_EXPECT_GPU") == "1":
        pytest.fail(f"PODFORGE_EXPECT_GPU=1, but {reason}")
    pytest.skip(reason)
