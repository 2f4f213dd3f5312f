"""`podforge batch FOLDER -o OUT`: every script in a folder rendered into OUT/<stem>/.

Locally the scripts render one after another, each spreading its own work over the cores (synthesis lanes,
chunk workers). With ``--executor ray[=ADDRESS]`` each script is one Ray task that draws its chunks in the task
(inline), so a season spreads over the cluster a script per CPU. A script that fails is reported and the others
still render.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .chunks import Executor, InlineExecutor
from .errors import ConfigError, PodforgeError, ScriptError
from .executors import RayExecutor, parse_executor
from .pipeline import RenderOptions, render


@dataclass(frozen=True)
class BatchResult:
    script: Path
    problems: tuple[str, ...] = ()  # the error lines when it failed
    outputs: dict[str, Path] = field(default_factory=dict)
    audio_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def batch_scripts(folder: Path) -> list[Path]:
    """The scripts (``*.md``) directly in ``folder``, by name."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder; give the folder that holds the episode scripts")
    scripts = sorted(p for p in folder.glob("*.md") if not p.name.startswith(".") and p.name.lower() != "readme.md")
    if not scripts:
        raise ConfigError(f"{folder}: no scripts (*.md) in this folder")
    return scripts


def render_one(job: tuple[Path, RenderOptions]) -> BatchResult:
    """Render one script; its PodforgeError becomes the result's problems (it runs in a worker or a Ray task)."""
    script, options = job
    try:
        result = render(script, options)
    except ScriptError as exc:
        return BatchResult(script, tuple(exc.lines()))
    except PodforgeError as exc:
        return BatchResult(script, (f"{script.name}: {exc}",))
    return BatchResult(script, (), result.outputs, result.timeline.seconds)


def render_batch(folder: Path, out_dir: Path, options: RenderOptions) -> list[BatchResult]:
    """Every script in ``folder`` into ``out_dir/<stem>/``, with ``options`` (their ``out_dir`` aside)."""
    scripts = batch_scripts(folder)
    name, address = parse_executor(options.executor)
    executor: Executor = InlineExecutor()
    if name == "ray":
        executor = RayExecutor(address)
        options = replace(options, executor="inline")  # a task draws its own chunks: one CPU per script
    jobs = [(script, replace(options, out_dir=out_dir / script.stem)) for script in scripts]
    return list(executor.map(render_one, jobs))
