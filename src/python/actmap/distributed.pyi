"""Type stubs of actmap.distributed (src/python/actmap/distributed.py)."""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar, Union

from distributed import Client, WorkerPlugin

from . import Model, Session

T = TypeVar("T")
Progress = Optional[Callable[[int, int], Any]]
PathLike = Union[str, os.PathLike]

PLUGIN_NAME: str
SHEET_MAX: int

class ActmapPlugin(WorkerPlugin):
    name: str
    models: list[tuple[str, str]]
    threads: Optional[int]
    device: str
    def __init__(self, models: Iterable[tuple[str, str]] = ..., threads: Optional[int] = None, device: str = "cpu") -> None: ...
    async def setup(self, worker: Any) -> None: ...

def parse_seeds(seeds: Union[str, Iterable[int]]) -> list[int]: ...
def shard(items: Sequence[T], k: int, n: int) -> Sequence[T]: ...
def render_seeds(session: Union[PathLike, Session], seeds: Union[str, Iterable[int]], out_dir: PathLike,
                 client: Optional[Client] = None, *, sheet: bool = True, chunk: Optional[int] = None,
                 threads: Optional[int] = None, device: str = "cpu", progress: Progress = None) -> dict[str, Any]: ...
def render_animation(session: Union[PathLike, Session], out: PathLike, client: Optional[Client] = None, *, frames: int = 60,
                     param: Optional[str] = None, start: Optional[float] = None, stop: Optional[float] = None,
                     seed_walk: Optional[Sequence[int]] = None, fps: float = 30.0, scale: int = 1,
                     chunk: Optional[int] = None, threads: Optional[int] = None, device: str = "cpu",
                     progress: Progress = None) -> dict[str, Any]: ...
def channel_stats(source: Union[PathLike, Session, Model], tap: Union[str, int], samples: int = 64, seed: int = 0,
                  client: Optional[Client] = None, *, batch: int = 8, edited: bool = True, chunk: Optional[int] = None,
                  threads: Optional[int] = None, device: str = "cpu", progress: Progress = None) -> dict[str, Any]: ...
def dissect(model: Union[str, Session, Model], tap: Union[str, int], region: Any, samples: int = 64, seed: int = 0,
            client: Optional[Client] = None, *, quantile: float = 0.99, batch: int = 8, chunk: Optional[int] = None,
            threads: Optional[int] = None, device: str = "cpu", progress: Progress = None) -> dict[str, Any]: ...
def sensitivity(model: Union[str, Session, Model], taps: Optional[Sequence[Union[str, int]]] = None, samples: int = 16,
                seed: int = 0, client: Optional[Client] = None, *, ablate: bool = True, factor: float = 0.0, batch: int = 64,
                synthesis: Optional[dict[str, Any]] = None, chunk: Optional[int] = None, threads: Optional[int] = None,
                device: str = "cpu", progress: Progress = None) -> dict[str, dict[str, Any]]: ...
