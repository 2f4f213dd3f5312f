"""Read-only commands: `check --show`, `voices`, `doctor`, `cache ls`."""

from __future__ import annotations

import os
import platform

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .cache import ContentCache, cache_cap_bytes
from .script.model import Script
from .validate import CheckedScript, spoken_rows
from .voices.cast import VoiceBook
from .voices.registry import ENGINES


def show_script(console: Console, checked: CheckedScript) -> None:
    """Exactly what will be spoken, by whom, and everything that will not."""
    table = Table("line", "what", "who", "text", box=None, pad_edge=False)
    for row in spoken_rows(checked.script, checked.voices):
        # As Text, not markup: a script's "[seriously]" is a cue to show, not a style for rich to swallow.
        table.add_row(str(row.line), Text(row.what), Text(row.who), Text(row.text))
    console.print(table)
    show_cast(console, checked)


def show_lexicon(console: Console, scripts: list[Script]) -> None:
    """Per script: each line a lexicon entry changes, and how it is now said; then entries no line uses."""
    used: set[str] = set()
    for script in scripts:
        for line in script.lines:
            if line.respelled:
                used.update(line.respelled)
                entries = ", ".join(line.respelled)
                console.print(f"{script.path.name}:{line.at.line}: {entries} -> {line.spoken}", markup=False)
    known = {word for script in scripts for word in script.lexicon_words}
    for word in sorted(known - used):
        console.print(f"unused: {word} (no line says it)", markup=False)
    changed = sum(1 for script in scripts for line in script.lines if line.respelled)
    console.print(f"ok: {len(known)} entries, {changed} lines changed")


def show_cast(console: Console, checked: CheckedScript) -> None:
    """Each speaker's voice: where it comes from, its gender, and how it was derived."""
    table = Table("speaker", "voice", "source", "gender", "sound", box=None, pad_edge=False)
    for label, voice in checked.cast.items():
        table.add_row(Text(label), Text(voice.id), voice.source, voice.gender or "", Text(voice.describe()))
    console.print(table)


def show_voices(console: Console, book: VoiceBook | None = None) -> None:
    from .voices.catalog import list_voices

    table = Table("voice", "source", "gender", "installed", "offline", "about")
    for voice in list_voices(book=book):
        installed = "yes" if voice.installed else f"no: {voice.install_hint}"
        offline = "yes" if voice.offline else "no (cloud)"
        table.add_row(voice.id, voice.source, voice.gender or "", installed, offline, voice.description)
    console.print(table)


def show_doctor(console: Console, gpu_mode: str = "auto", gpu_device: int = 0) -> None:
    import av

    console.print(
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    )
    codecs = ("libmp3lame", "aac", "libx264", "h264_nvenc")
    found = ", ".join(f"{name} {'yes' if name in av.codecs_available else 'no'}" for name in codecs)
    console.print(f"PyAV {av.__version__}; encoders: {found}")
    show_gpu(console, gpu_mode, gpu_device)
    for info in ENGINES.values():
        state = "installed" if info.installed() else f"missing ({info.install_hint()})"
        console.print(f"tts {info.name}: {state}")
    show_cache(console)


def show_gpu(console: Console, mode: str, device: int) -> None:
    """GPUs and driver, and what each GPU-capable engine would use under ``mode``, with the reason."""
    from .encode import NVENC
    from .gpu import choose_encoder, onnx_device, plan_gpu, probe_gpus

    probe = probe_gpus()
    for gpu in probe.devices:
        console.print(f"GPU {gpu.index}: {gpu.name}, {gpu.memory_mb:.0f} MB, driver {probe.driver}")
    if not probe.devices:
        console.print(f"GPU: none ({probe.problem}); CPU paths are used")
    plan = plan_gpu("auto" if mode == "on" else mode, device, probe)
    choice = choose_encoder("auto", plan)
    onnx = onnx_device(plan)
    console.print(f"gpu.mode {mode}, gpu.device {device}: {'used' if plan.use else 'not used'} ({plan.reason})")
    console.print(f"video encoder: {choice.name} ({choice.reason})")
    console.print(f"NVENC: {'yes' if choice.name == NVENC else 'no'}")
    try:
        import onnxruntime

        providers = ", ".join(onnxruntime.get_available_providers())
    except ImportError:
        providers = "onnxruntime not installed"
    console.print(f"ONNX providers: {providers}")
    onnx_users = ", ".join(name for name, info in ENGINES.items() if info.onnx)
    console.print(f"tts {onnx_users} (ONNX) run on {onnx.provider} ({onnx.reason})")
    where = f"GPU {plan.index}" if plan.use else "the CPU"
    console.print(f"avatar sadtalker, wav2lip: run on {where} (CUDA_VISIBLE_DEVICES), if their own torch has CUDA")


def show_cache(console: Console, cap_gb: float | None = None) -> None:
    store = ContentCache(max_bytes=cache_cap_bytes(cap_gb))
    entries = list(store.entries())
    total = sum(entry.size_bytes for entry in entries)
    by_kind: dict[str, int] = {}
    for entry in entries:
        by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(by_kind.items())) or "empty"
    console.print(
        f"cache {store.root}: {kinds}; total {total / 1e6:.1f} MB of {store.max_bytes / 1e9:.3g} GB "
        "(least recently used entries are removed above that)"
    )
