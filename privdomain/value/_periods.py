"""Calendar periods: bucketing instants and measuring the time between period starts.

lifetimes buckets purchases with pandas periods (``to_period(freq)``) and measures recency and
``T`` as the time between period *starts*. The same arithmetic is done here on ``int64`` epoch
seconds, so no pandas is needed and a million timestamps cost a few array operations.
"""

from __future__ import annotations

import warnings
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.value._show import shown

__all__ = [
    "PERIODS",
    "TIME_UNITS",
    "UNIT_NAMES",
    "Period",
    "PeriodUnitWarning",
    "TimeUnit",
    "check_period_and_unit",
    "durations",
    "period_index",
]

Period = Literal["h", "D", "W", "M"]
TimeUnit = Literal["h", "D", "W", "M"]

PERIODS: Final = ("h", "D", "W", "M")
TIME_UNITS: Final = ("h", "D", "W", "M")

_HOUR: Final = 3_600
_DAY: Final = 86_400
# 1970-01-05 is the first Monday after the epoch; pandas' "W" periods (W-SUN) start on Mondays.
_FIRST_MONDAY: Final = 4
#: Seconds in each time unit. A month is the mean Gregorian month (365.2425 / 12 days), the
#: length numpy gives ``timedelta64(1, "M")``, which is what lifetimes divided by.
UNIT_SECONDS: Final[dict[str, float]] = {
    "h": 3_600.0,
    "D": 86_400.0,
    "W": 604_800.0,
    "M": 2_629_746.0,
}


#: Plural names of the time units, for messages.
UNIT_NAMES: Final = {"h": "hours", "D": "days", "W": "weeks", "M": "months"}


class PeriodUnitWarning(UserWarning):
    """Purchases are bucketed in periods coarser than the unit recency and ``T`` are given in.

    Weekly buckets measured in days give recency and ``T`` in multiples of 7: almost always a
    port of lifetimes' ``freq="W"`` that meant weeks as the unit too (leave ``time_unit`` out,
    it follows ``period``).
    """


def check_period(period: object) -> Period:
    if not isinstance(period, str) or period not in PERIODS:
        raise ValidationError(f"period must be one of {PERIODS}, got {shown(period)}")
    return period  # type: ignore[return-value]


def check_time_unit(time_unit: object) -> TimeUnit:
    if not isinstance(time_unit, str) or time_unit not in TIME_UNITS:
        raise ValidationError(f"time_unit must be one of {TIME_UNITS}, got {shown(time_unit)}")
    return time_unit  # type: ignore[return-value]


def check_period_and_unit(period: object, time_unit: object) -> tuple[Period, TimeUnit]:
    """Validate ``period`` and ``time_unit`` (``None``: the unit follows the period).

    As lifetimes' ``freq``, one ``period`` alone sets both the buckets and the unit. A unit
    finer than the buckets is allowed (lifetimes' ``freq_multiplier`` goes the other way), but
    warns with :class:`PeriodUnitWarning`, since it is what a port of ``freq="W"`` that forgot
    the unit looks like.
    """
    bucket = check_period(period)
    if time_unit is None:
        return bucket, bucket
    unit = check_time_unit(time_unit)
    if PERIODS.index(bucket) > TIME_UNITS.index(unit):
        warnings.warn(
            f"period={bucket!r} buckets purchases in {UNIT_NAMES[bucket]} but recency and T "
            f"will be in {UNIT_NAMES[unit]} (time_unit={unit!r}), multiples of one "
            f"{UNIT_NAMES[bucket][:-1]}. "
            f"lifetimes' freq={bucket!r} is period={bucket!r} with the same unit: leave "
            f"time_unit out; freq='D' with freq_multiplier=7 is period='D', time_unit='W'",
            PeriodUnitWarning,
            stacklevel=3,
        )
    return bucket, unit


def period_index(local_seconds: NDArray[np.int64], period: Period) -> NDArray[np.int64]:
    """Ordinal of the period containing each instant (seconds already shifted to local time)."""
    if period == "h":
        return local_seconds // _HOUR
    days = local_seconds // _DAY
    if period == "D":
        return days
    if period == "W":
        return (days - _FIRST_MONDAY) // 7
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def period_start(index: NDArray[np.int64], period: Period) -> NDArray[np.int64]:
    """Local epoch seconds at which each period ordinal starts."""
    if period == "h":
        return index * _HOUR
    if period == "D":
        return index * _DAY
    if period == "W":
        return (index * 7 + _FIRST_MONDAY) * _DAY
    return index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) * _DAY


def durations(
    later: NDArray[np.int64], earlier: NDArray[np.int64], period: Period, time_unit: TimeUnit
) -> NDArray[np.float64]:
    """Time from the start of period ``earlier`` to the start of period ``later``, in ``time_unit``.

    Monthly periods measured in months count whole calendar months; every other combination is
    the exact time between the two period starts divided by the unit's length.
    """
    if period == "M" and time_unit == "M":
        return (later - earlier).astype(np.float64)
    seconds = period_start(later, period) - period_start(earlier, period)
    return seconds / UNIT_SECONDS[time_unit]
