"""`podforge render` and `podforge demo`: options in, a progress bar, a summary out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .config import load_render_config
from .errors import RenderError
from .listen import DEFAULT_THRESHOLD
from .pipeline import ProgressEvent, RenderOptions, render


@contextmanager
def progress_bar(console: Console, *, transient: bool) -> Iterator[Callable[[ProgressEvent], None]]:
    """A rich bar per stage on a terminal (nothing elsewhere), fed by the library's progress events."""
    columns = (TextColumn("{task.description:<8}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=transient, disable=not console.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}

        def on_progress(event: ProgressEvent) -> None:
            if event.stage not in tasks:
                tasks[event.stage] = bar.add_task(event.stage, total=event.total)
            bar.update(tasks[event.stage], completed=event.done, total=event.total)

        yield on_progress


def run_render(
    script: Path,
    out_dir: Path,
    *,
    audio_only: bool,
    wav: bool,
    no_cache: bool,
    config_path: Path | None,
    video_flags: dict[str, object] | None = None,
    flags: dict[str, dict[str, object]] | None = None,
    window: tuple[float, float] | None = None,
    chapter: str | None = None,
    quick: bool = False,
    executor: str | None = None,
    flag_threshold: float | None = DEFAULT_THRESHOLD,
) -> None:
    config = load_render_config(config_path)
    options = RenderOptions(out_dir=out_dir, audio_only=audio_only, wav=wav, use_cache=not no_cache, config=config,
                            video_flags=video_flags or {}, flags=flags or {}, preview=window, preview_chapter=chapter,
                            quick=quick, executor=executor, flag_threshold=flag_threshold)  # fmt: skip
    console = Console(stderr=True)
    with progress_bar(console, transient=False) as on_progress:
        result = render(script, options, on_progress)
    for where, message in result.warnings:
        console.print(f"warning: {where}: {message}", markup=False, soft_wrap=True, highlight=False)
    _summary(Console(highlight=False, soft_wrap=True), result.metrics, result.outputs)
    _flagged(Console(highlight=False, soft_wrap=True), script, result.metrics)


def run_batch(
    folder: Path, out_dir: Path, *, audio_only: bool, no_cache: bool, config_path: Path | None, executor: str | None
) -> None:
    """Render the folder, one line per script; raises RenderError (exit 1) if any of them failed."""
    from .batch import render_batch

    options = RenderOptions(out_dir=out_dir, audio_only=audio_only, use_cache=not no_cache,
                            config=load_render_config(config_path), executor=executor)  # fmt: skip
    results = render_batch(folder, out_dir, options)
    console, errors = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    for result in results:
        if result.ok:
            console.print(f"{result.script.name}: {result.audio_seconds:.1f} s → {out_dir / result.script.stem}")
        for problem in result.problems:
            errors.print(f"error: {problem}", markup=False)
    failed = sum(1 for r in results if not r.ok)
    console.print(f"{len(results) - failed} of {len(results)} scripts rendered")
    if failed:
        raise RenderError(f"{failed} of {len(results)} scripts failed (see above); the others are in {out_dir}")


def _summary(console: Console, metrics: dict[str, object], outputs: dict[str, Path]) -> None:
    stage_list: list[dict[str, object]] = metrics["stages"]  # type: ignore[assignment]
    levels = next((s for s in stage_list if s["name"] == "audio"), {})
    console.print(
        f"rendered {metrics['audio_seconds']:.1f} s of audio in {metrics['wall_seconds']:.1f} s "
        f"(realtime factor {metrics['realtime_factor']:.3f}); "
        f"{levels.get('lufs', '?')} LUFS, true peak {levels.get('true_peak_dbtp', '?')} dBTP"
    )
    for path in outputs.values():
        console.print(f"  {path}")


def _flagged(console: Console, script: Path, metrics: dict[str, object]) -> None:
    """The lines the listening check flagged, each with the command that re-voices it."""
    flagged: list[dict[str, object]] = metrics.get("lines_flagged") or []  # type: ignore[assignment]
    if not flagged:
        return
    console.print(f"listening check flagged {len(flagged)} line(s):", markup=False)
    for line in flagged:
        console.print(
            f"  line {line['line']} ({line['speaker']}, WER {line['wer']}): heard {line['heard']!r}; "
            f"new take: podforge takes {script} {line['line']} --new",
            markup=False,
        )
