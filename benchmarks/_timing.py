"""Timing shared by the benchmarks: the best of a few runs, after a garbage collection."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

#: Runs per measurement (``BENCH_REPEAT``); the best is reported.
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))


def best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, Any]:
    """The best wall-clock seconds of ``repeat`` calls of ``fn`` and the last call's result."""
    seconds, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        seconds = min(seconds, time.perf_counter() - start)
    return seconds, result
