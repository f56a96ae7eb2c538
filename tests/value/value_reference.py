"""Slow, obviously-correct implementations of lifetimes' summary semantics, for comparison.

Written directly from lifetimes' documented behaviour with Python datetimes and dicts, sharing
no code with privdomain.value: calendar periods come from ``datetime`` arithmetic, not from
epoch-second tricks.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

SECONDS = {"h": 3600.0, "D": 86400.0, "W": 604800.0, "M": 2629746.0}


def local(when: dt.datetime, offset: dt.timedelta) -> dt.datetime:
    return (when.astimezone(dt.UTC) + offset).replace(tzinfo=None)


def period_start(when: dt.datetime, period: str) -> dt.datetime:
    if period == "h":
        return when.replace(minute=0, second=0, microsecond=0)
    day = dt.datetime.combine(when.date(), dt.time())
    if period == "D":
        return day
    if period == "W":
        return day - dt.timedelta(days=when.weekday())  # weeks start on Monday
    return dt.datetime(when.year, when.month, 1)


def duration(start: dt.datetime, end: dt.datetime, period: str, unit: str) -> float:
    if period == "M" and unit == "M":
        return float((end.year - start.year) * 12 + end.month - start.month)
    return (end - start).total_seconds() / SECONDS[unit]


def summary(
    rows: list[tuple[Any, dt.datetime, float]],
    end: dt.datetime,
    period: str,
    unit: str,
    offset: dt.timedelta,
) -> dict[Any, tuple[float, float, float, float]]:
    """customer -> (frequency, recency, T, monetary_value)."""
    last_period = period_start(local(end, offset), period)
    spend: dict[Any, dict[dt.datetime, float]] = defaultdict(lambda: defaultdict(float))
    for customer, when, amount in rows:
        # The end is an instant: what comes after it is invisible, even within its period.
        if when <= end:
            spend[customer][period_start(local(when, offset), period)] += amount
    out = {}
    for customer, periods in spend.items():
        starts = sorted(periods)
        repeat = [periods[s] for s in starts[1:]]
        out[customer] = (
            float(len(starts) - 1),
            duration(starts[0], starts[-1], period, unit),
            duration(starts[0], last_period, period, unit),
            sum(repeat) / len(repeat) if repeat else 0.0,
        )
    return out


def holdout(
    rows: list[tuple[Any, dt.datetime, float]],
    calibration_end: dt.datetime,
    end: dt.datetime,
    period: str,
    unit: str,
    offset: dt.timedelta,
) -> tuple[dict[Any, tuple[float, ...]], float]:
    """customer -> (f_cal, r_cal, T_cal, m_cal, f_holdout, m_holdout), and duration_holdout."""
    cal = summary(
        [r for r in rows if r[1] <= calibration_end], calibration_end, period, unit, offset
    )
    periods: dict[Any, set[dt.datetime]] = defaultdict(set)
    amounts: dict[Any, list[float]] = defaultdict(list)
    for customer, when, amount in rows:
        if calibration_end < when <= end:
            periods[customer].add(period_start(local(when, offset), period))
            amounts[customer].append(amount)
    out = {}
    for customer, values in cal.items():
        spent = amounts.get(customer, [])
        out[customer] = (
            *values,
            float(len(periods.get(customer, ()))),
            sum(spent) / len(spent) if spent else 0.0,
        )
    length = duration(
        period_start(local(calibration_end, offset), period),
        period_start(local(end, offset), period),
        period,
        unit,
    )
    return out, length
