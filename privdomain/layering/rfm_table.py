"""Named RFM segments: ordered tables of conditions over the R, F and M scores.

A table maps every cell of the score grid (``levels ** 3`` cells) to one segment. It is checked
when it is built: two conditions that share a cell are an error (:class:`InvalidRuleError`
naming the cells), and cells that no condition covers go to an explicit ``"Other"`` segment,
listed in :attr:`RFMTable.gaps`.

Conditions are rules over four grid features: ``r``, ``f``, ``m`` (the scores) and ``fm`` (the
mean of ``f`` and ``m``), written as rule objects (``F("r") >= 4``) or as rule text
(``"r >= 4 and fm >= 4"``, see :func:`~privdomain.layering.parse_rule`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import Rule, short_repr
from privdomain.errors import InvalidRuleError, UnknownFeatureError, ValidationError
from privdomain.layering._bands import Box, boxes
from privdomain.layering._base import is_collection, is_integer
from privdomain.layering.rule_text import parse_rule

__all__ = ["CHINESE_8", "CLASSIC_11", "NEVER_BOUGHT", "OTHER", "RFMTable"]

#: The segment of customers with cells no condition of a table covers.
OTHER = "Other"
#: The segment of customers without a purchase (no recency, hence no RFM scores).
NEVER_BOUGHT = "Never bought"

_GRID_FEATURES = ("r", "f", "m", "fm")

#: The most score levels a table may have (a table covers ``levels ** 3`` cells).
MAX_LEVELS = 10


class _ScoreGrid:
    """Every cell of the score grid as a feature source: ``r``, ``f``, ``m``, ``fm``."""

    def __init__(self, levels: int) -> None:
        axis = np.arange(1, levels + 1)
        r, f, m = np.meshgrid(axis, axis, axis, indexing="ij")
        self.columns: dict[str, NDArray[Any]] = {
            "r": r.ravel(),
            "f": f.ravel(),
            "m": m.ravel(),
            "fm": (f.ravel() + m.ravel()) / 2.0,
        }

    def feature(self, name: str) -> NDArray[Any]:
        try:
            return self.columns[name]
        except KeyError:
            raise UnknownFeatureError(
                f"an RFM table condition reads {name!r}; conditions may read {_GRID_FEATURES}"
            ) from None

    def __len__(self) -> int:
        return int(self.columns["r"].shape[0])


def _cells(grid: NDArray[np.int64], code: int) -> list[tuple[int, int, int]]:
    where = np.argwhere(grid == code) + 1
    return [(int(r), int(f), int(m)) for r, f, m in where.tolist()]


def _condition(value: Rule | str) -> Rule:
    if isinstance(value, str):
        return parse_rule(value)
    if isinstance(value, Rule):
        return value
    raise InvalidRuleError(f"a table condition is a Rule or rule text, not {short_repr(value)}")


@attrs.frozen(eq=False)
class RFMTable:
    """An ordered table of named segments over the R, F and M scores.

    Build one with :meth:`from_rules`; the built-in tables are :data:`CLASSIC_11` and
    :data:`CHINESE_8`.

    Attributes
    ----------
    name : str
        A short name, shown in results.
    levels : int
        Scores run from 1 to ``levels``.
    segments : tuple of str
        The segment names, in table order (without ``"Other"``).
    conditions : tuple of Rule
        One condition per segment, over ``r``, ``f``, ``m`` and ``fm``.
    texts : tuple of str
        The conditions in words (the rule text when given as text).
    advice : tuple of str
        What fits each segment (playbook), or empty strings.
    grid : numpy.ndarray of int64, shape (levels, levels, levels)
        The segment code of every cell ``[r-1, f-1, m-1]``; code ``len(segments)`` is
        ``"Other"``.
    gaps : tuple of (int, int, int)
        Cells no condition covers (they go to ``"Other"``).
    """

    name: str
    levels: int
    segments: tuple[str, ...]
    conditions: tuple[Rule, ...]
    texts: tuple[str, ...]
    advice: tuple[str, ...]
    grid: NDArray[np.int64] = attrs.field(repr=False)
    gaps: tuple[tuple[int, int, int], ...] = attrs.field(repr=False)
    #: Per code (``"Other"`` included), disjoint boxes of score cells covering the segment.
    boxes: tuple[tuple[Box, ...], ...] = attrs.field(repr=False, default=())

    @classmethod
    def from_rules(
        cls,
        name: str,
        levels: int,
        rows: Sequence[tuple[str, Rule | str] | tuple[str, Rule | str, str]],
    ) -> RFMTable:
        """Build and check a table.

        Parameters
        ----------
        name
            A short name for the table.
        levels
            The number of score levels (scores run 1..levels), from 2 to :data:`MAX_LEVELS`.
        rows
            ``(segment name, condition)`` or ``(segment name, condition, advice)`` in order.

        Raises
        ------
        InvalidRuleError
            When a condition is malformed or reads anything but ``r``, ``f``, ``m``, ``fm``, when
            two conditions share a cell (the message lists the cells), or when names repeat or
            use the reserved names ``"Other"`` and ``"Never bought"``.
        ValidationError
            When ``levels`` is not an integer from 2 to :data:`MAX_LEVELS`.
        """
        if not isinstance(name, str) or not name:
            raise InvalidRuleError(f"a table name must be a non-empty str, not {short_repr(name)}")
        if not is_integer(levels) or not 2 <= levels <= MAX_LEVELS:
            raise ValidationError(
                f"levels must be an integer from 2 to {MAX_LEVELS}, got {short_repr(levels)}"
            )
        levels = int(levels)
        if not is_collection(rows):
            raise InvalidRuleError(
                f"rows must be a sequence of (name, condition[, advice]), not {short_repr(rows)}"
            )
        rows = list(rows)
        if not rows:
            raise InvalidRuleError("an RFM table needs at least one segment")
        names: list[str] = []
        conditions: list[Rule] = []
        texts: list[str] = []
        advice: list[str] = []
        for row in rows:
            if not isinstance(row, tuple) or len(row) not in (2, 3):
                raise InvalidRuleError(
                    f"a table row is (name, condition[, advice]), not {short_repr(row)}"
                )
            seg, cond = row[0], row[1]
            if not isinstance(seg, str) or not seg:
                raise InvalidRuleError(
                    f"a segment name must be a non-empty str, not {short_repr(seg)}"
                )
            if len(row) == 3 and not isinstance(row[2], str):
                raise InvalidRuleError(
                    f"segment {seg!r}: advice is a str, not {short_repr(row[2])}"
                )
            if seg in (OTHER, NEVER_BOUGHT):
                raise InvalidRuleError(f"{seg!r} is reserved for customers outside the table")
            if seg in names:
                raise InvalidRuleError(f"segment {seg!r} appears twice in the table")
            names.append(seg)
            conditions.append(_condition(cond))
            texts.append(cond if isinstance(cond, str) else repr(cond))
            advice.append(row[2] if len(row) == 3 else "")

        source = _ScoreGrid(levels)
        hits = np.zeros((len(names), len(source)), dtype=bool)
        for i, cond in enumerate(conditions):
            try:
                hits[i] = cond.mask(source)
            except (UnknownFeatureError, InvalidRuleError) as exc:
                raise InvalidRuleError(f"segment {names[i]!r}: {exc}") from None
        cells = np.column_stack([source.columns[c] for c in ("r", "f", "m")])
        n_hits = hits.sum(axis=0)
        overlap = np.flatnonzero(n_hits > 1)
        if overlap.size:
            shown = []
            for j in overlap[:5].tolist():
                who = [names[i] for i in np.flatnonzero(hits[:, j]).tolist()]
                shown.append(f"r={cells[j, 0]} f={cells[j, 1]} m={cells[j, 2]}: {who}")
            more = f" (and {overlap.size - 5} more)" if overlap.size > 5 else ""
            raise InvalidRuleError(
                f"table {name!r}: {overlap.size} score cells match more than one segment: "
                + "; ".join(shown)
                + more
            )
        grid = np.where(n_hits == 1, hits.argmax(axis=0), len(names)).astype(np.int64)
        gap_idx = np.flatnonzero(n_hits == 0)
        gaps = tuple((int(r), int(f), int(m)) for r, f, m in cells[gap_idx].tolist())
        grid = grid.reshape(levels, levels, levels)
        grid.flags.writeable = False
        cover = tuple(
            tuple(boxes(_cells(grid, code))) for code in range(len(names) + (1 if gaps else 0))
        )
        return cls(
            name=name,
            levels=levels,
            segments=tuple(names),
            conditions=tuple(conditions),
            texts=tuple(texts),
            advice=tuple(advice),
            grid=grid,
            gaps=gaps,
            boxes=cover,
        )

    @classmethod
    def cells(cls, levels: int = 5) -> RFMTable:
        """One segment per score cell, named like ``"R5F3M4"`` (``levels ** 3`` segments)."""
        if not is_integer(levels) or not 2 <= levels <= MAX_LEVELS:
            raise ValidationError(
                f"levels must be an integer from 2 to {MAX_LEVELS}, got {short_repr(levels)}"
            )
        levels = int(levels)
        rows: list[tuple[str, Rule | str]] = []
        for r in range(levels, 0, -1):
            for f in range(levels, 0, -1):
                for m in range(levels, 0, -1):
                    rows.append((f"R{r}F{f}M{m}", f"r == {r} and f == {f} and m == {m}"))
        return cls.from_rules(f"cells {levels}x{levels}x{levels}", levels, rows)

    @property
    def names(self) -> tuple[str, ...]:
        """Segment names of results: the table's, ``"Other"`` if it has gaps, ``"Never bought"``."""
        return (*self.segments, *((OTHER,) if self.gaps else ()), NEVER_BOUGHT)

    def cells_of(self, code: int) -> list[tuple[int, int, int]]:
        """The score cells of segment ``code`` (``len(segments)`` is ``"Other"``)."""
        n = len(self.segments) + (1 if self.gaps else 0)
        if not is_integer(code) or not 0 <= code < n:
            raise ValidationError(f"code must be an integer in [0, {n}), not {short_repr(code)}")
        return _cells(self.grid, int(code))

    def codes(self, scores: Any) -> NDArray[np.int64]:
        """The segment code of every row of ``(r, f, m)`` scores (names in :attr:`names`).

        A row with a score 0 (no purchase, so no score) is ``"Never bought"``, the last code.
        Scores come from :class:`~privdomain.layering.RFMScorer` (NaN scores 0) or from an
        RFM result's ``r``, ``f`` and ``m`` columns.

        Raises
        ------
        ValidationError
            When ``scores`` is not an ``(n, 3)`` array of integers from 0 to :attr:`levels`.
        """
        arr = np.asarray(scores)
        if arr.ndim != 2 or arr.shape[1] != 3 or (arr.size and arr.dtype.kind not in "iu"):
            raise ValidationError(
                f"scores must be an (n, 3) array of integer scores r, f, m, got shape "
                f"{arr.shape} of {arr.dtype}"
            )
        k = self.levels
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > k):
            raise ValidationError(f"scores must lie in [0, {k}]")
        arr = arr.astype(np.int64, copy=False)
        return self._codes_of(arr[:, 0], arr[:, 1], arr[:, 2])

    def _codes_of(
        self, r: NDArray[np.integer], f: NDArray[np.integer], m: NDArray[np.integer]
    ) -> NDArray[np.int64]:
        """:meth:`codes` of scores already known to lie in ``[0, levels]``, column by column."""
        k = self.levels
        never = len(self.names) - 1
        # one flat lookup in the (k+1)^3 grid; index 0 of each axis (no score) → never bought
        lookup = np.full((k + 1, k + 1, k + 1), never, dtype=np.int64)
        lookup[1:, 1:, 1:] = self.grid
        # the narrowest integers that hold every flat index
        index = np.int16 if (k + 1) ** 3 <= np.iinfo(np.int16).max else np.int64
        flat = np.multiply(r, k + 1, dtype=index)
        flat += f
        flat *= k + 1
        flat += m
        return np.asarray(lookup.ravel().take(flat), dtype=np.int64)

    def __repr__(self) -> str:
        gaps = f", {len(self.gaps)} cells to {OTHER!r}" if self.gaps else ""
        return (
            f"RFMTable({self.name!r}, levels={self.levels}, segments={list(self.segments)}{gaps})"
        )


#: The widely used 11-segment table on 1-5 scores, read on R and FM (the mean of F and M).
CLASSIC_11 = RFMTable.from_rules(
    "classic 11 segments",
    5,
    [
        (
            "Champions",
            "r >= 4 and fm >= 4",
            "bought recently, buy often, spend most: serve them first (privileges, early access, "
            "personal service); no discounts needed; invite them to refer and create content",
        ),
        (
            "Loyal",
            "(r == 3 and fm >= 3) or (r >= 4 and fm >= 3 and fm < 4)",
            "steady repeat buyers: membership, stored value, bundles and large threshold "
            "discounts (满减) to raise order value",
        ),
        (
            "Potential Loyalist",
            "r >= 4 and fm >= 2 and fm < 3",
            "recent with some repeat buying: targeted coupons to add the 3rd and 5th purchase",
        ),
        (
            "Recent",
            "r == 5 and fm < 2",
            "new buyers: onboarding, show product value, bestsellers; not discount-led",
        ),
        (
            "Promising",
            "r == 4 and fm < 2",
            "recent first purchases: a targeted coupon or a bestseller to trigger the second",
        ),
        (
            "Needs Attention",
            "r == 3 and fm >= 2 and fm < 3",
            "middling and cooling: personal recommendations, limited-time offers",
        ),
        (
            "About to Sleep",
            "r == 3 and fm < 2",
            "silent period: keep some contact, start small promotions",
        ),
        (
            "At Risk",
            "(r == 2 and fm >= 3) or (r == 1 and fm >= 3 and fm < 4)",
            "good customers gone quiet: win back with personal outreach and bigger promotions",
        ),
        (
            "Can't Lose Them",
            "r == 1 and fm >= 4",
            "the best customers of the past, long gone: personal call, strongest win-back offer",
        ),
        (
            "Hibernating",
            "r == 2 and fm < 3",
            "sleeping, low value: limited contact, bigger promotions only",
        ),
        (
            "Lost",
            "r == 1 and fm < 3",
            "lost: reduce contact; reach only during major sales",
        ),
    ],
)

#: The Chinese 8-class RFM table (八类客户): each of R, F, M high (2) or low (1) against a
#: centre learned in ``fit`` (the mean by default). R is high when recency is *at or below* the
#: centre: a more recent purchase is better.
CHINESE_8 = RFMTable.from_rules(
    "Chinese 8 classes",
    2,
    [
        (
            "重要价值客户",
            "r == 2 and f == 2 and m == 2",
            "important value (recent, frequent, high spend): VIP service, privileges, no discounts",
        ),
        (
            "重要发展客户",
            "r == 2 and f == 1 and m == 2",
            "important to develop (recent, high spend, seldom): raise frequency, membership",
        ),
        (
            "重要保持客户",
            "r == 1 and f == 2 and m == 2",
            "important to keep (frequent, high spend, not recent): proactive contact, care",
        ),
        (
            "重要挽留客户",
            "r == 1 and f == 1 and m == 2",
            "important to win back (high spend, seldom, not recent): win-back offer, outreach",
        ),
        (
            "一般价值客户",
            "r == 2 and f == 2 and m == 1",
            "general value (recent, frequent, low spend): bundles, 满减 to raise order value",
        ),
        (
            "一般发展客户",
            "r == 2 and f == 1 and m == 1",
            "general, to develop (recent, seldom, low spend): coupons for the next purchase",
        ),
        (
            "一般保持客户",
            "r == 1 and f == 2 and m == 1",
            "general, to keep (frequent, low spend, not recent): light-touch reminders",
        ),
        (
            "一般挽留客户",
            "r == 1 and f == 1 and m == 1",
            "general, to win back (low on everything): limited contact, major sales only",
        ),
    ],
)
