"""Value tiers and super users: the fewest customers that bring a given share of revenue."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.segment import And, Compare, Not, Rule, Segment, short_repr
from privdomain.domain.snapshot import Snapshot
from privdomain.errors import ValidationError
from privdomain.layering._base import check_snapshot, is_collection, is_number, numeric_array
from privdomain.layering._result import Segmentation

__all__ = ["ValueTiers", "share_from_top"]


def _shares(value: Sequence[float]) -> tuple[float, ...]:
    if not is_collection(value):
        raise ValidationError(f"shares must be numbers in (0, 1], got {short_repr(value)}")
    items = tuple(value)
    for s in items:
        if not is_number(s):
            raise ValidationError(f"shares must be numbers in (0, 1], got {short_repr(s)}")
    out = tuple(float(s) for s in items)
    if not out:
        raise ValidationError("shares needs at least one share of revenue")
    if any(not 0 < s <= 1 for s in out):
        raise ValidationError(f"every share must lie in (0, 1], got {out}")
    if any(b <= a for a, b in pairwise(out)):
        raise ValidationError(f"shares must increase, got {out}")
    return out


def _pct(share: float) -> str:
    return f"{share * 100:.4g}%"


def _feature_name(_: object, attribute: attrs.Attribute[str], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"value must be a feature name (str), not {short_repr(value)}")


@attrs.frozen
class ValueTiers:
    """Tiers of customers by the share of revenue they bring; the last share marks super users.

    The *super users* (超级用户) are the smallest set of customers that brings ``shares[-1]`` of
    the revenue (default 80%): customers are ranked by ``value`` (net spend by
    default) and taken from the top until their revenue reaches the share. The earlier shares
    cut finer tiers above it (default: the customers who bring the first 50%). Customers whose
    value equals the last one taken are all taken (a tie is never split by row order), so a
    tier is exactly "value at or above a threshold" and holds at most a few more customers
    than the strict minimum when values tie at the boundary.

    Segments, in order: one per share (``"Top 50% of revenue"``, ``"50–80% of revenue"``),
    ``"Other buyers"`` (positive value, beyond the last share) and ``"No revenue"`` (value
    zero, negative after refunds, or missing).

    Attributes
    ----------
    shares : sequence of float, default (0.5, 0.8)
        Increasing cumulative shares of revenue in (0, 1].
    value : str, default "net_spend"
        The snapshot feature that measures value (e.g. ``"gross_spend"``).

    Raises
    ------
    ValidationError
        When the shares are not increasing numbers in (0, 1] or ``value`` is not a name.
    """

    shares: tuple[float, ...] = attrs.field(default=(0.5, 0.8), converter=_shares)
    value: str = attrs.field(default="net_spend", validator=_feature_name)

    def names(self) -> tuple[str, ...]:
        """The segment names, by code."""
        tiers = [f"Top {_pct(self.shares[0])} of revenue"]
        tiers += [f"{_pct(a)}–{_pct(b)} of revenue" for a, b in pairwise(self.shares)]
        return (*tiers, "Other buyers", "No revenue")

    def thresholds(self, snapshot: Snapshot) -> NDArray[np.float64]:
        """The value at or above which a customer is in the top ``share``, per share.

        ``inf`` when the pool has no revenue at all.
        """
        check_snapshot(snapshot, "thresholds")
        return self._cut(_values(snapshot, self.value))[0]

    def _cut(
        self, v: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """Thresholds, the sorted positive values (ascending) and the total revenue."""
        positive = np.sort(v[v > 0])  # NaN compares false, so it is left out
        if positive.size == 0:
            return np.full(len(self.shares), np.inf), positive, 0.0
        from_top = np.cumsum(positive[::-1])
        total = float(from_top[-1])
        # the first position where the revenue from the top reaches each share
        need = np.asarray(self.shares) * total
        idx = np.searchsorted(from_top, need * (1 - 1e-12), side="left")
        idx = np.minimum(idx, positive.size - 1)
        return positive[::-1][idx].astype(np.float64), positive, total

    def rules(self, thresholds: NDArray[np.float64]) -> tuple[Rule, ...]:
        """One disjoint rule per segment for the given thresholds (one per share, descending)."""
        thresholds = numeric_array(thresholds, "thresholds")
        if thresholds.shape != (len(self.shares),) or np.isnan(thresholds).any():
            raise ValidationError(
                f"thresholds must be {len(self.shares)} numbers (one per share), got "
                f"{short_repr(thresholds.tolist())}"
            )
        f = self.value
        rules: list[Rule] = []
        above: Rule | None = None
        for t in thresholds.tolist():
            at_least = Compare(f, ">=", t)
            rules.append(at_least if above is None else And((at_least, Not(above))))
            above = at_least
        assert above is not None
        positive = Compare(f, ">", 0.0)
        rules.append(And((positive, Not(above))))
        rules.append(Not(positive))
        return tuple(rules)

    def super_users(self, snapshot: Snapshot) -> Segment:
        """The super users of ``snapshot`` as a segment: value at or above the last threshold."""
        check_snapshot(snapshot, "super_users")
        t = self.thresholds(snapshot)[-1]
        return Segment(
            f"Super users ({_pct(self.shares[-1])} of revenue)",
            And((Compare(self.value, ">", 0.0), Compare(self.value, ">=", float(t)))),
            description=f"{self.value} >= {t:.6g}",
        )

    def layer(self, snapshot: Snapshot) -> Segmentation:
        """Layer ``snapshot`` into value tiers."""
        check_snapshot(snapshot, "layer")
        v = _values(snapshot, self.value)
        thresholds, _, total = self._cut(v)
        k = len(self.shares)
        # tier = how many thresholds (descending) the value falls below; one pass per threshold
        labels = np.zeros(v.shape, dtype=np.int64)
        for t in thresholds.tolist():
            labels += v < t
        labels[~(v > 0)] = k + 1
        labels.flags.writeable = False
        names = self.names()
        counts = np.bincount(labels, minlength=k + 2)
        notes = []
        if total > 0:
            supers = int(counts[:k].sum())
            notes.append(
                f"super users: {supers} customers ({supers / max(len(v), 1):.1%}) bring "
                f"{_pct(self.shares[-1])} of {self.value} (each at least {thresholds[-1]:.6g})"
            )
        else:
            notes.append(f"no revenue in this snapshot: nobody has a positive {self.value}")
        descriptions = [
            f"{self.value} >= {t:.6g}" + ("" if i == 0 else f" and < {thresholds[i - 1]:.6g}")
            for i, t in enumerate(thresholds.tolist())
        ]
        descriptions += [
            f"0 < {self.value} < {thresholds[-1]:.6g}",
            f"{self.value} <= 0 or missing",
        ]
        advice = ["super users: serve first; personal service, privileges, do not disturb"] * k
        advice += ["grow: repeat-purchase offers, bundles", "convert or win back"]
        return Segmentation(
            strategy=f"value tiers by {self.value}",
            customer_ids=snapshot.customer_ids,
            labels=labels,
            names=names,
            rules=self.rules(thresholds),
            rules_on="snapshot",
            descriptions=descriptions,
            advice=advice,
            columns={self.value: v},
            notes=notes,
            source=snapshot,
        )


def _values(snapshot: Snapshot, name: str) -> NDArray[np.float64]:
    col = np.asarray(snapshot.feature(name))
    if col.dtype.kind not in "biuf":
        raise ValidationError(f"value feature {name!r} is not numeric")
    out = col.astype(np.float64)  # a copy this result owns
    out.flags.writeable = False
    return out


def share_from_top(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """For each customer, the revenue share of everyone worth at least as much (NaN if <= 0).

    How deep in the revenue a customer sits: 0.3 means the customers worth at least this one
    bring 30% of all revenue. ``O(n log n)``; computed on demand, not by :meth:`ValueTiers.layer`.

    Raises
    ------
    ValidationError
        When ``v`` is not a 1-D array of numbers.
    """
    v = numeric_array(v, "share_from_top: v")
    if v.ndim != 1:
        raise ValidationError(f"share_from_top takes a 1-D array, got shape {v.shape}")
    if np.isinf(v).any():
        raise ValidationError("share_from_top: values must not be infinite")
    out = np.full(v.shape, np.nan)
    positive = np.sort(v[v > 0])
    if positive.size == 0:
        return out
    total = positive.sum()
    # suffix sums of the ascending values: revenue of everyone at or above position i
    suffix = np.cumsum(positive[::-1])[::-1]
    has = v > 0
    out[has] = suffix[np.searchsorted(positive, v[has], side="left")] / total
    return out
