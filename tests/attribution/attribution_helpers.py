"""Slow, obviously correct references for the attribution tests, and hypothesis strategies."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from privdomain.attribution import Journeys


def paths_of(journeys: Journeys) -> list[tuple[int, ...]]:
    """The channel codes of every journey, one Python tuple each."""
    return [
        tuple(journeys.channel[journeys.offsets[j] : journeys.offsets[j + 1]].tolist())
        for j in range(len(journeys))
    ]


def dense_markov(
    paths: list[tuple[int, ...]], converted: list[bool], n_channels: int, order: int = 1
) -> tuple[float, list[float]]:
    """P(conversion) from start and the removal effect of every channel, by a dense solve of
    the absorbing chain built with dicts, one journey at a time."""
    counts: dict[Any, dict[Any, int]] = {}

    def add(a: Any, b: Any) -> None:
        counts.setdefault(a, {}).setdefault(b, 0)
        counts[a][b] += 1

    for path, conv in zip(paths, converted, strict=True):
        if not path:
            continue
        state: Any = "start"
        for i in range(len(path)):
            nxt = tuple(path[max(0, i - order + 1) : i + 1])
            add(state, nxt)
            state = nxt
        add(state, "conv" if conv else "null")
    transient = ["start", *sorted(k for k in counts if k != "start")]

    def probability(removed: int | None) -> float:
        keep = [s for s in transient if s == "start" or removed is None or removed not in s]
        index = {s: i for i, s in enumerate(keep)}
        q = np.zeros((len(keep), len(keep)))
        r = np.zeros(len(keep))
        for s in keep:
            total = sum(counts.get(s, {}).values())
            for t, n in counts.get(s, {}).items():
                if t == "conv":
                    r[index[s]] += n / total
                elif t in index:
                    q[index[s], index[t]] += n / total
        if "start" not in counts:
            return 0.0
        return float(np.linalg.solve(np.eye(len(keep)) - q, r)[0])

    base = probability(None)
    effects = [0.0 if base == 0 else 1 - probability(c) / base for c in range(n_channels)]
    return base, effects


def brute_shapley(
    coalitions: list[frozenset[int]], converted: list[bool], n_channels: int, value: str
) -> list[float]:
    """Shapley values by the textbook formula over every subset of every other channel."""

    def v(s: frozenset[int]) -> float:
        inside = [conv for c, conv in zip(coalitions, converted, strict=True) if c and c <= s]
        if value == "conversions":
            return float(sum(inside))
        return sum(inside) / len(inside) if inside else 0.0

    players = range(n_channels)
    phi = []
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for size in range(len(others) + 1):
            w = math.factorial(size) * math.factorial(n_channels - size - 1)
            w /= math.factorial(n_channels)
            for s in itertools.combinations(others, size):
                fs = frozenset(s)
                total += w * (v(fs | {i}) - v(fs))
        phi.append(total)
    return phi


@st.composite
def journey_sets(draw: st.DrawFn, max_channels: int = 4, max_journeys: int = 25) -> Journeys:
    """Journeys with empty paths, one channel, repeated channels, all or no conversions."""
    n_channels = draw(st.integers(1, max_channels))
    n = draw(st.integers(1, max_journeys))
    paths = draw(
        st.lists(st.lists(st.integers(0, n_channels - 1), max_size=6), min_size=n, max_size=n)
    )
    converted = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ages = [draw(st.lists(st.floats(0, 60), min_size=len(p), max_size=len(p))) for p in paths]
    offsets = np.cumsum([0] + [len(p) for p in paths])
    return Journeys.from_csr(
        offsets,
        np.array([c for p in paths for c in p], dtype=np.int64),
        converted,
        channels=[f"c{i}" for i in range(n_channels)],
        age=np.array([a for ag in ages for a in ag], dtype=np.float64),
    )
