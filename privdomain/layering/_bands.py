"""Score bands: the one tie rule of every score, and how score ranges become feature rules.

A score band of a value ``x`` against ascending edges ``e_1 <= ... <= e_{k-1}`` is
``1 + #{j : e_j < x}``: bins are closed on the right, as in ``pandas.cut``, so a value equal to
an edge falls in the lower band. The band depends on the value alone (never on row order), so
equal values always get equal bands, also when edges coincide because many customers share a
value; a band between two equal edges is then simply empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import All, And, Compare, Or, Rule

__all__ = ["band_rule", "bands", "boxes", "boxes_rule", "describe_bands", "small_bands"]

Cell = tuple[int, int, int]
Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def bands(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """``1 + (number of edges strictly below each value)``; NaN lands in band 1.

    One comparison pass per edge: with a handful of edges this is several times faster than
    a binary search per value.
    """
    if len(edges) > 16:
        found = np.searchsorted(edges, np.nan_to_num(values, nan=-np.inf), side="left")
        return np.asarray(found + 1, dtype=np.int64)
    return small_bands(values, edges).astype(np.int64)


def small_bands(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int8]:
    """:func:`bands` as ``int8``, for at most 16 edges."""
    # int8 sums: an eighth of the memory traffic of int64 for the same comparisons
    out = np.ones(values.shape, dtype=np.int8)
    above = np.empty(values.shape, dtype=np.bool_)
    for e in np.asarray(edges).tolist():
        np.greater(values, e, out=above)
        np.add(out, above, out=out, casting="unsafe")
    return out


def band_rule(feature: str, edges: Sequence[float], lo: int, hi: int) -> Rule | None:
    """A rule that holds exactly when the band of ``feature`` lies in ``[lo, hi]``.

    ``None`` when the range covers every band (no condition). Uses the same strict and
    non-strict comparisons as :func:`bands`, so the rule agrees with the band bit for bit.
    """
    k = len(edges) + 1
    parts: list[Rule] = []
    if lo > 1:
        parts.append(Compare(feature, ">", float(edges[lo - 2])))
    if hi < k:
        parts.append(Compare(feature, "<=", float(edges[hi - 1])))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def boxes(cells: Iterable[Cell]) -> list[Box]:
    """Cover a set of grid cells with disjoint boxes (greedy, deterministic)."""
    remaining = set(cells)
    out: list[Box] = []
    while remaining:
        r, f, m = min(remaining)
        m2 = m
        while (r, f, m2 + 1) in remaining:
            m2 += 1
        f2 = f
        while all((r, f2 + 1, mm) in remaining for mm in range(m, m2 + 1)):
            f2 += 1
        r2 = r
        while all(
            (r2 + 1, ff, mm) in remaining for ff in range(f, f2 + 1) for mm in range(m, m2 + 1)
        ):
            r2 += 1
        for rr in range(r, r2 + 1):
            for ff in range(f, f2 + 1):
                for mm in range(m, m2 + 1):
                    remaining.discard((rr, ff, mm))
        out.append(((r, r2), (f, f2), (m, m2)))
    return out


def boxes_rule(
    box_list: Sequence[Box],
    features: tuple[str, str, str],
    edges: NDArray[np.float64],
    levels: int,
) -> Rule:
    """The union of ``box_list`` as a rule over raw features (R reversed: lower is better).

    ``edges`` has one row of band edges per feature (recency, frequency, monetary).
    """
    if not box_list:
        return Or(())
    ors: list[Rule] = []
    for box in box_list:
        parts: list[Rule] = []
        for dim, (lo, hi) in enumerate(box):
            if dim == 0:  # the R score counts bands of recency from the top
                lo, hi = levels + 1 - hi, levels + 1 - lo
            rule = band_rule(features[dim], edges[dim].tolist(), lo, hi)
            if rule is not None:
                parts.append(rule)
        if not parts:
            ors.append(All())
        else:
            ors.append(parts[0] if len(parts) == 1 else And(tuple(parts)))
    return ors[0] if len(ors) == 1 else Or(tuple(ors))


def describe_bands(feature: str, edges: Sequence[float], *, reverse: bool) -> str:
    """``"orders: <=1 → 1, <=2 → 2, >2 → 3"`` (empty bands left out)."""
    k = len(edges) + 1
    parts: list[str] = []
    for band in range(1, k + 1):
        lo = edges[band - 2] if band > 1 else None
        hi = edges[band - 1] if band < k else None
        if k == 1 or (lo is not None and hi is not None and hi <= lo):
            continue  # an empty band: its edges coincide
        score = k + 1 - band if reverse else band
        cond = f"<={_num(hi)}" if hi is not None else f">{_num(lo)}"
        parts.append(f"{cond} → {score}")
    return f"{feature}: " + ", ".join(parts)


def _num(value: float | None) -> str:
    assert value is not None
    return f"{value:.4g}"
