"""Cohort retention by join month and source, and the public → private funnel by source."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import CONNECT_KINDS, Channel
from privdomain.errors import ValidationError

__all__ = ["FUNNEL_STAGES", "CohortRetention", "SourceFunnel"]

#: The stages of the public → private funnel, in order.
FUNNEL_STAGES: tuple[str, ...] = (
    "arrived",
    "added",
    "first_purchase",
    "repeat",
    "referred",
)


@attrs.frozen(eq=False)
class CohortRetention:
    """Customers by the calendar month they joined (their cohort) and by source, and how many
    of each bought in each month after.

    ``active[s, c, k]`` counts the customers of source ``sources[s]`` who joined in month
    ``months[c]`` and bought at least once in the ``k``-th calendar month after it (``k = 0``:
    the month they joined), months in the pool's business time zone. The cells after the
    snapshot's month do not exist yet: the triangle. The newest cell of each cohort (the
    snapshot's own month) is a month still running.
    """

    months: NDArray[np.datetime64]
    """The cohorts' months, oldest first (``datetime64[M]``)."""
    sources: tuple[Channel, ...]
    """Sources with customers in any cohort, largest first."""
    size: NDArray[np.int64]
    """``(sources, cohorts)``: customers who joined."""
    active: NDArray[np.int64]
    """``(sources, cohorts, months since joining)``: of them, customers who bought."""

    def _rows(self, source: Channel | str | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        if source is None:
            return self.size.sum(axis=0), self.active.sum(axis=0)
        try:
            channel = Channel.parse(source)
        except (ValueError, TypeError) as exc:
            raise ValidationError(str(exc)) from None
        if channel not in self.sources:
            k = len(self.months)
            return np.zeros(k, dtype=np.int64), np.zeros((k, k), dtype=np.int64)
        i = self.sources.index(channel)
        return self.size[i], self.active[i]

    def counts(self, source: Channel | str | None = None) -> NDArray[np.int64]:
        """``(cohorts, months since joining)`` active customers of one source (all: ``None``)."""
        return self._rows(source)[1]

    def retention(self, source: Channel | str | None = None) -> NDArray[np.float64]:
        """``(cohorts, months since joining)``: the share of each cohort who bought in each
        month after joining, for one source (``None``: every source). NaN where the month has
        not come yet and for empty cohorts.

        Raises
        ------
        ValidationError
            When ``source`` is not a channel, its name or its code.
        """
        size, active = self._rows(source)
        k = len(self.months)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = active / size[:, None].astype(np.float64)
        out[size == 0] = np.nan
        later = np.add.outer(np.arange(k), np.arange(k)) >= k
        out[later] = np.nan
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """One record per source, cohort and month since joining that has come."""
        out: list[dict[str, Any]] = []
        k = len(self.months)
        for s, channel in enumerate(self.sources):
            for c in range(k):
                n = int(self.size[s, c])
                for m in range(k - c):
                    a = int(self.active[s, c, m])
                    out.append(
                        {
                            "source": channel.name.lower(),
                            "cohort": str(self.months[c]),
                            "months_since_joining": m,
                            "customers": n,
                            "active": a,
                            "retention": a / n if n else None,
                        }
                    )
        return out


@attrs.frozen(eq=False)
class SourceFunnel:
    """The public → private funnel of the customers who arrived in a window, by source.

    A customer counts at a stage when they reached it *and every stage before it*
    (:data:`FUNNEL_STAGES`): arrived (joined the pool in the window), added (connected on, or
    consented to, at least one owned channel), first purchase, repeat (bought on a second
    day), referred (brought at least one customer who joined). So every stage holds at most
    the customers of the one before. Stages are as of the snapshot's instant.
    """

    sources: tuple[Channel, ...]
    """Sources with arrivals or spend, largest first."""
    counts: NDArray[np.int64]
    """``(sources, stages)``: customers at each stage."""
    spend: NDArray[np.float64]
    """Per source, what the host spent acquiring in the window (NaN: not given)."""

    def totals(self) -> NDArray[np.int64]:
        """Customers at each stage, every source together."""
        return np.asarray(self.counts.sum(axis=0), dtype=np.int64)

    def conversion(self) -> NDArray[np.float64]:
        """``(sources, stages)``: the share of arrivals at each stage (NaN without arrivals)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.counts / self.counts[:, :1].astype(np.float64)

    def cost_per(self, stage: str = "first_purchase") -> NDArray[np.float64]:
        """Per source, spend per customer at ``stage`` (``"first_purchase"``: the acquisition
        cost of a paying customer, CAC). NaN without spend, ``inf`` for spend that brought
        nobody to the stage.

        Raises
        ------
        ValidationError
            When ``stage`` is not one of :data:`FUNNEL_STAGES`.
        """
        if stage not in FUNNEL_STAGES:
            raise ValidationError(f"stage must be one of {FUNNEL_STAGES}, got {stage!r}")
        n = self.counts[:, FUNNEL_STAGES.index(stage)].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.spend / n
        out[(n == 0) & (self.spend == 0)] = np.nan
        return np.asarray(out)

    def to_records(self) -> list[dict[str, Any]]:
        """One record per source: customers at each stage, spend and cost per paying
        customer."""
        cac = self.cost_per("first_purchase")
        out = []
        for i, channel in enumerate(self.sources):
            row: dict[str, Any] = {"source": channel.name.lower()}
            row.update(
                {s: int(v) for s, v in zip(FUNNEL_STAGES, self.counts[i].tolist(), strict=True)}
            )
            spend = float(self.spend[i])
            row["spend"] = None if math.isnan(spend) else spend
            row["cost_per_customer"] = None if math.isnan(cac[i]) else float(cac[i])
            out.append(row)
        return out


#: Largest (customers × months) grid counted with a bitmap (64 MiB of booleans).
_BITMAP_LIMIT = 1 << 26


def _spend(value: Mapping[Any, Any] | None) -> dict[Channel, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"spend must be a mapping of source to amount, got {type(value).__name__}"
        )
    out: dict[Channel, float] = {}
    for key, amount in value.items():
        try:
            channel = Channel.parse(key)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"spend: {exc}") from None
        if isinstance(amount, bool) or not isinstance(
            amount, int | float | np.integer | np.floating
        ):
            raise ValidationError(
                f"spend of {channel.name.lower()} must be a number, got {amount!r}"
            )
        if not (math.isfinite(float(amount)) and float(amount) >= 0):
            raise ValidationError(
                f"spend of {channel.name.lower()} must be finite and >= 0, got {amount!r}"
            )
        if channel in out:
            raise ValidationError(f"spend names {channel.name.lower()} twice")
        out[channel] = float(amount)
    return out


def funnel_stages(
    consent: NDArray[np.bool_],
    reachable: NDArray[np.bool_],
    touches_by_kind: NDArray[Any],
    orders: NDArray[np.int64],
    purchase_days: NDArray[np.int64],
    referrals: NDArray[np.int64],
) -> NDArray[np.int8]:
    """How many funnel stages each customer passed, every earlier one included (1..5)."""
    connects = sum(touches_by_kind[:, k.value].astype(np.int64) for k in CONNECT_KINDS)
    added = consent.any(axis=1) | reachable.any(axis=1) | (np.asarray(connects) > 0)
    passed = [added, orders > 0, purchase_days >= 2, referrals > 0]
    stage = np.ones(orders.shape[0], dtype=np.int8)
    going = np.ones(orders.shape[0], dtype=bool)
    for reached in passed:
        going &= reached
        stage += going
    return stage


def build_funnel(
    source: NDArray[np.uint8],
    stage: NDArray[np.int8],
    arrived: NDArray[np.bool_],
    spend: Mapping[Any, Any] | None,
) -> SourceFunnel:
    """The funnel of the customers with ``arrived``, by source."""
    costs = _spend(spend)
    k = len(FUNNEL_STAGES)
    n_channels = len(Channel)
    src = source[arrived].astype(np.int64)
    st = stage[arrived].astype(np.int64)
    # counts[c, j]: arrivals of source c who passed at least j + 1 stages
    exact = np.bincount(src * k + (st - 1), minlength=n_channels * k).reshape(n_channels, k)
    counts = np.cumsum(exact[:, ::-1], axis=1)[:, ::-1]
    spent = np.full(n_channels, np.nan)
    for channel, amount in costs.items():
        spent[channel.value] = amount
    keep = np.flatnonzero((counts[:, 0] > 0) | ~np.isnan(spent))
    order = keep[np.argsort(-counts[keep, 0], kind="stable")]
    return SourceFunnel(
        tuple(Channel(int(c)) for c in order),
        np.ascontiguousarray(counts[order]).astype(np.int64),
        spent[order],
    )


def build_cohorts(
    joined_month: NDArray[np.int64],
    source: NDArray[np.uint8],
    order_row: NDArray[np.int64],
    order_month: NDArray[np.int64],
    last_month: int,
    n_months: int,
) -> CohortRetention:
    """The retention triangle of the ``n_months`` cohorts up to ``last_month`` (month codes as
    ``datetime64[M]`` integers)."""
    first = last_month - n_months + 1
    n_channels = len(Channel)
    cohort = joined_month - first
    inside = (cohort >= 0) & (cohort < n_months)
    src = source.astype(np.int64)
    size = np.bincount(
        src[inside] * n_months + cohort[inside], minlength=n_channels * n_months
    ).reshape(n_channels, n_months)
    # distinct (customer, month since joining) pairs of the cohorts' orders
    row = order_row.astype(np.int64)
    c = cohort[row]
    since = order_month - joined_month[row]
    ok = (c >= 0) & (c < n_months) & (since >= 0) & (since < n_months)
    keys = row[ok] * n_months + since[ok]
    space = joined_month.shape[0] * n_months
    if space <= _BITMAP_LIMIT:  # marking a bitmap beats hashing or sorting the pairs
        seen = np.zeros(space, dtype=bool)
        seen[keys] = True
        pairs = np.flatnonzero(seen)
    else:
        pairs = np.unique(keys)
    who, when = pairs // n_months, pairs % n_months
    active = np.bincount(
        (src[who] * n_months + cohort[who]) * n_months + when,
        minlength=n_channels * n_months * n_months,
    ).reshape(n_channels, n_months, n_months)
    totals = size.sum(axis=1)
    present = np.flatnonzero(totals > 0)
    order = present[np.argsort(-totals[present], kind="stable")]
    months = (np.arange(first, last_month + 1)).astype("datetime64[M]")
    return CohortRetention(
        months,
        tuple(Channel(int(c)) for c in order),
        np.ascontiguousarray(size[order]).astype(np.int64),
        np.ascontiguousarray(active[order]).astype(np.int64),
    )
