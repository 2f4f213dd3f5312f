"""CPU only vs `--gpu on` on the same machine: the 10-minute two-host episode, per stage and in total.

Each run is a full `podforge render` in its own process with its own cold cache, first with `--gpu off`,
then with `--gpu on`; the table gives each stage's wall time in both, the ratio (CPU / GPU: above 1 the
GPU run is faster), and the GPU run's peak utilisation and memory per stage (NVML, device-wide).
Without a usable NVIDIA GPU it measures nothing and says why (the same check `--gpu on` makes).
    .venv/bin/python bench/gpu.py [--minutes 10] [--size 1280x720] [--avatars] [--device 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import long_script
from video import portrait


def refusal(device: int) -> str:
    """Why `--gpu on` cannot run here, or "" when it can (NVML finds the GPU and NVENC encodes on it)."""
    from podforge.errors import ConfigError
    from podforge.gpu import choose_encoder, plan_gpu

    try:
        choose_encoder("auto", plan_gpu("on", device))
    except ConfigError as exc:
        return str(exc)
    return ""


def render(script: Path, out: Path, cache: Path, flags: list[str]) -> dict[str, object]:
    env = {"PODFORGE_CACHE_DIR": str(cache), "PATH": str(Path(sys.executable).parent)}
    command = [sys.executable, "-m", "podforge.cli", "render", str(script), "-o", str(out), *flags]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/gpu.py: render {' '.join(flags)} failed: {done.stderr.strip()}")
    metrics: dict[str, object] = json.loads((out / f"{script.stem}.metrics.json").read_text())
    metrics["process_wall"] = time.perf_counter() - started
    return metrics


def table(cpu: dict[str, object], gpu: dict[str, object]) -> list[str]:
    def stages(run: dict[str, object]) -> dict[str, dict[str, object]]:
        return {str(s["name"]): s for s in run["stages"]}  # type: ignore[attr-defined]

    a, b = stages(cpu), stages(gpu)
    rows = [f"  {'stage':<8} {'cpu s':>8} {'gpu s':>8} {'cpu/gpu':>8} {'util % mean/peak':>17} {'nvenc %':>8} "
            f"{'gpu MB':>8}"]  # fmt: skip
    for name in [n for n in a if n in b]:
        ta, tb = float(a[name]["wall_seconds"]), float(b[name]["wall_seconds"])  # type: ignore[arg-type]
        util = f"{b[name].get('gpu_util_mean_percent')}/{b[name].get('gpu_util_percent')}"
        ratio = f"{ta / tb:8.2f}" if tb > 0 else f"{'-':>8}"
        nvenc, memory = b[name].get("gpu_encoder_percent"), b[name].get("gpu_memory_mb")
        rows.append(f"  {name:<8} {ta:8.1f} {tb:8.1f} {ratio} {util:>17} {nvenc!s:>8} {memory!s:>8}")
    ta, tb = float(cpu["process_wall"]), float(gpu["process_wall"])  # type: ignore[arg-type]
    rows.append(f"  {'total':<8} {ta:8.1f} {tb:8.1f} {ta / tb:8.2f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--avatars", action="store_true", help="an illustrated and a photo avatar")
    args = parser.parse_args()
    why = refusal(args.device)
    if why:
        print(f"bench/gpu.py: no GPU comparison on this machine, nothing was measured: {why}")
        raise SystemExit(2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pair = ("illustrated", f"photo:{portrait(work).name}") if args.avatars else ("", "")
        script = work / "episode.md"
        script.write_text(long_script(args.minutes, pair), encoding="utf-8")
        common = ["--size", args.size]
        cpu = render(script, work / "cpu", work / "cache-cpu", [*common, "--gpu", "off"])
        config = work / "gpu.yaml"
        config.write_text(f"gpu: {{device: {args.device}}}\n", encoding="utf-8")
        gpu = render(script, work / "gpu", work / "cache-gpu", [*common, "--gpu", "on", "-c", str(config)])
    record: dict[str, object] = gpu["gpu"]  # type: ignore[assignment]
    print(f"{args.minutes:g}-minute two-host episode at {args.size}, {float(cpu['audio_seconds']):.0f} s of audio")  # type: ignore[arg-type]
    print(f"  GPU {record['device']}: {record['name']}, driver {record['driver']}")
    print(f"  encoder {record['encoder']}; voices {record['onnx']}")
    print("\n".join(table(cpu, gpu)))


if __name__ == "__main__":
    main()
