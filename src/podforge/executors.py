"""What runs the chunk functions: ``--executor local`` (a process pool, the default), ``inline``, ``ray[=ADDRESS]``.

Every executor is ``Executor.map(fn, items)`` (``chunks.Executor``); chunk functions never know which one runs
them. Ray tasks return only the chunk's key: the chunk's MP4 is written into the cache at the path the render
uses, so with a Ray cluster the cache folder (``PODFORGE_CACHE_DIR``) and the script's folder (its images)
must be on a path every node sees, e.g. an NFS mount at the same place (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:  # chunks imports the drawing and encoding stack, which an audio-only render never loads
    from .chunks import Executor

T = TypeVar("T")
R = TypeVar("R")
NAMES = ("local", "inline", "ray")


def parse_executor(text: str | None) -> tuple[str, str | None]:
    """(name, address) from ``local``, ``inline``, ``ray`` or ``ray=ADDRESS``; ConfigError otherwise."""
    name, _, address = (text or "local").partition("=")
    if name not in NAMES or (address and name != "ray"):
        raise ConfigError(f"--executor {text!r}: use local, inline, ray or ray=ADDRESS (e.g. ray=10.0.0.5:6379)")
    return name, address or None


class RayExecutor:
    """Each call a Ray task on one CPU; results in the order of ``items``."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.ray = import_ray()
        if not self.ray.is_initialized():
            try:
                self.ray.init(address=address, num_cpus=num_cpus, log_to_driver=False, configure_logging=False)
            except (ValueError, ConnectionError, RuntimeError) as exc:  # what Ray raises for an address it cannot use
                raise ConfigError(f"--executor ray={address}: cannot join a Ray cluster there ({exc}); give the "
                                  "head node's HOST:PORT and check that the cluster is running") from exc  # fmt: skip

    def map(self, fn: Callable[[T], R], items: Iterable[T], /) -> Iterator[R]:
        task = self.ray.remote(num_cpus=1, max_retries=1)(fn)
        refs = [task.remote(item) for item in items]  # all submitted now, before the first result is awaited
        return (self.ray.get(ref) for ref in refs)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--executor ray needs Ray: pip install 'podforge[ray]'") from exc
    return ray


@contextmanager
def chunk_executor(text: str | None) -> Iterator[Executor | None]:
    """The executor ``text`` names; None for ``local``, which the video stage sizes to its work."""
    name, address = parse_executor(text)
    if name == "local":
        yield None
    elif name == "inline":
        from .chunks import InlineExecutor

        yield InlineExecutor()
    else:
        yield RayExecutor(address)
