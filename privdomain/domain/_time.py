"""The one time policy of privdomain, in one place.

The pool stores instants as ``int64`` microseconds since the Unix epoch (UTC): the resolution of
Python's ``datetime``, so an aware ``datetime`` goes in and comes out exactly, and ``as_of``
hides the future exactly.

- A ``datetime`` must be timezone-aware (naive ones raise
  :class:`~privdomain.errors.NaiveDatetimeError`).
- A numpy ``datetime64`` is read as UTC, as numpy itself does, and floored to the microsecond.
- Plain numbers carry no unit, so integer (or float) times need an explicit ``epoch_unit``
  (``"s"``, ``"ms"``, ``"us"`` or ``"ns"`` since the epoch); without one they are refused, since
  a ``YYYYMMDD`` column read as seconds lands in 1970 without a word.
- Every instant lies in the supported range ``[1900-01-01, 2200-01-01)`` UTC; anything outside is
  refused, never wrapped or stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from privdomain.errors import NaiveDatetimeError, ValidationError

__all__ = [
    "EPOCH_UNITS",
    "MAX_INSTANT",
    "MIN_INSTANT",
    "EpochUnit",
    "Instant",
    "as_utc_datetime",
    "check_time_zone",
    "epoch_micros",
    "epoch_micros_array",
    "epoch_seconds",
    "epoch_seconds_array",
    "local_day_starts",
    "micros_to_datetime",
    "seconds_to_datetime",
]

#: Anything privdomain accepts as a point in time.
Instant = dt.datetime | np.datetime64
#: The unit of integer or float times since the epoch.
EpochUnit = Literal["s", "ms", "us", "ns"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECONDS_PER_DAY = 86_400
MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = SECONDS_PER_DAY * MICROS_PER_SECOND

#: First supported instant (inclusive).
MIN_INSTANT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
#: End of the supported range (exclusive).
MAX_INSTANT = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
MIN_MICROS = (MIN_INSTANT - _EPOCH) // dt.timedelta(microseconds=1)
MAX_MICROS = (MAX_INSTANT - _EPOCH) // dt.timedelta(microseconds=1)

#: Microseconds per unit of integer times (``ns`` is floored like ``datetime64[ns]``).
EPOCH_UNITS: dict[str, tuple[int, int]] = {  # unit: (multiply, divide) to get microseconds
    "s": (MICROS_PER_SECOND, 1),
    "ms": (1_000, 1),
    "us": (1, 1),
    "ns": (1, 1_000),
}
_DATETIME64_UNITS = frozenset({"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns"})
_RANGE_TEXT = "the supported range [1900-01-01, 2200-01-01) UTC"
_HOW_TO_PASS_DATES = (
    "pass datetime64 values or aware datetimes, or say what the numbers count with "
    "epoch_unit='s' | 'ms' | 'us' | 'ns' (since 1970-01-01 UTC); a YYYYMMDD column such as "
    "19970101 is a date, not a count: parse it first, e.g. "
    "pd.to_datetime(col.astype(str), format='%Y%m%d')"
)


def _check_unit(epoch_unit: object) -> tuple[int, int]:
    if epoch_unit not in EPOCH_UNITS:
        raise ValidationError(
            f"epoch_unit must be one of {sorted(EPOCH_UNITS)} (or None), got {epoch_unit!r}"
        )
    return EPOCH_UNITS[str(epoch_unit)]


def as_utc_datetime(value: object, *, what: str = "timestamp") -> dt.datetime:
    """Return ``value`` as an aware UTC ``datetime`` in the supported range."""
    if isinstance(value, np.datetime64):
        return micros_to_datetime(epoch_micros(value, what=what))
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{what} must be a timezone-aware datetime, got {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"{what} {value.isoformat()} is naive; pass a timezone-aware datetime "
            "(e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai')))"
        )
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise ValidationError(f"{what} {value.isoformat()} is outside {_RANGE_TEXT}") from None
    if not MIN_INSTANT <= utc < MAX_INSTANT:
        raise ValidationError(f"{what} {value.isoformat()} is outside {_RANGE_TEXT}")
    return utc


def epoch_micros(value: object, *, what: str = "timestamp") -> int:
    """Microseconds since the epoch of an aware ``datetime`` or a ``datetime64`` (UTC)."""
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValidationError(f"{what} is NaT")
        return int(epoch_micros_array(np.array([value]), what=what)[0])
    aware = as_utc_datetime(value, what=what)
    return (aware - _EPOCH) // dt.timedelta(microseconds=1)


def epoch_seconds(value: object, *, what: str = "timestamp") -> int:
    """Whole seconds since the epoch (floored) of an aware ``datetime`` or a ``datetime64``."""
    return epoch_micros(value, what=what) // MICROS_PER_SECOND


def _out_of_range(micros_lo: bool, what: str) -> ValidationError:
    side = "before 1900-01-01" if micros_lo else "on or after 2200-01-01"
    return ValidationError(f"{what}: some times are {side}, outside {_RANGE_TEXT}")


def epoch_micros_array(
    values: Any, *, epoch_unit: str | None = None, what: str = "timestamps"
) -> NDArray[np.int64]:
    """A 1-D column of instants as ``int64`` epoch microseconds, every one in range.

    Accepts ``datetime64`` arrays (UTC, any unit from years to nanoseconds, floored to the
    microsecond), sequences of aware ``datetime`` objects (pandas ``Timestamp`` included), and
    integer or float counts since the epoch *with* ``epoch_unit``. ``NaT``, NaN, naive
    datetimes, numbers without a unit, and times outside the supported range raise
    :class:`~privdomain.errors.ValidationError`.
    """
    if epoch_unit is not None:
        _check_unit(epoch_unit)
    if isinstance(values, str | bytes):
        raise ValidationError(f"{what} must be a column of instants, not a str")
    if hasattr(values, "to_numpy") and getattr(getattr(values, "dtype", None), "tz", None):
        # a tz-aware pandas column or index: its UTC instants, as datetime64
        if hasattr(values, "dt"):  # a Series: convert the values, not the index
            values = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        else:
            values = values.tz_convert("UTC").tz_localize(None).to_numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not a column of instants: {exc}") from None
    if arr.ndim != 1:
        raise ValidationError(f"{what} must be a 1-D column, got shape {arr.shape}")
    if arr.dtype.kind == "M":
        return _datetime64_micros(arr, what)
    if arr.dtype.kind in "iuf" and arr.dtype != np.bool_:
        if epoch_unit is None:
            raise ValidationError(f"{what}: numbers carry no time unit; {_HOW_TO_PASS_DATES}")
        return _count_micros(arr, epoch_unit, what)
    if arr.dtype.kind == "O" or arr.size == 0:
        out = np.empty(arr.size, dtype=np.int64)
        for i, v in enumerate(arr.tolist()):
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
                if epoch_unit is None:
                    raise ValidationError(
                        f"{what}: numbers carry no time unit; {_HOW_TO_PASS_DATES}"
                    )
                out[i] = _count_micros(np.array([v]), epoch_unit, what)[0]
            else:
                out[i] = epoch_micros(v, what=what)
        return out
    raise ValidationError(
        f"{what} must be datetime64, aware datetimes or numbers with a epoch_unit, "
        f"got dtype {arr.dtype}"
    )


def _datetime64_micros(arr: NDArray[Any], what: str) -> NDArray[np.int64]:
    unit, count = np.datetime_data(arr.dtype)
    if unit not in _DATETIME64_UNITS or (count != 1 and unit not in {"s", "ms", "us", "ns"}):
        raise ValidationError(
            f"{what}: datetime64 unit {arr.dtype.str} is not supported; use a unit from "
            "years to nanoseconds"
        )
    if np.isnat(arr).any():
        raise ValidationError(f"{what} contain NaT")
    if arr.size:
        lo = np.datetime64(MIN_INSTANT.replace(tzinfo=None)).astype(arr.dtype)
        hi = np.datetime64(MAX_INSTANT.replace(tzinfo=None)).astype(arr.dtype)
        # compare in the column's own unit, before a conversion could wrap
        if (arr < lo).any():
            raise _out_of_range(True, what)
        if (arr >= hi).any():
            raise _out_of_range(False, what)
    return arr.astype("datetime64[us]").astype(np.int64)


def _count_micros(arr: NDArray[Any], epoch_unit: str, what: str) -> NDArray[np.int64]:
    mul, div = _check_unit(epoch_unit)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValidationError(f"{what} contain NaN or infinite values")
        micros_f = np.floor(arr.astype(np.float64) * (mul / div))
        if arr.size and (micros_f < MIN_MICROS).any():
            raise _out_of_range(True, what)
        if arr.size and (micros_f >= MAX_MICROS).any():
            raise _out_of_range(False, what)
        return micros_f.astype(np.int64)
    # integers: compare against the bounds in the column's own unit, as Python ints, so
    # neither uint64 nor a product can wrap
    lo_count = -((-MIN_MICROS * div) // mul)  # ceil(MIN_MICROS * div / mul)
    hi_count = -((-MAX_MICROS * div) // mul)
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < lo_count:
            raise _out_of_range(True, what)
        if high >= hi_count:
            raise _out_of_range(False, what)
    ints = arr.astype(np.int64)
    return ints * mul if div == 1 else np.floor_divide(ints, div)


def epoch_seconds_array(
    values: Any, *, epoch_unit: str | None = None, what: str = "timestamps"
) -> NDArray[np.int64]:
    """A column of instants as ``int64`` epoch seconds (floored); see :func:`epoch_micros_array`."""
    return np.floor_divide(
        epoch_micros_array(values, epoch_unit=epoch_unit, what=what), MICROS_PER_SECOND
    )


def check_time_zone(name: object, *, what: str = "time_zone") -> str:
    """An IANA time zone name (``"Asia/Shanghai"``) that this machine's zone database knows."""
    import zoneinfo

    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValidationError(f"{what} must be an IANA time zone name, got {name!r}")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{what} {name!r} is not a known IANA time zone") from None
    return name


def local_day_starts(as_of: int, zone: str | dt.timedelta) -> tuple[int, int, int]:
    """UTC microseconds at which the local day, week (from Monday) and month that hold
    ``as_of`` began, in time zone ``zone`` (an IANA name, or a fixed offset from UTC)."""
    import zoneinfo

    tz: dt.tzinfo = dt.timezone(zone) if isinstance(zone, dt.timedelta) else zoneinfo.ZoneInfo(zone)
    local = micros_to_datetime(as_of).astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    week = day - dt.timedelta(days=day.weekday())
    month = day.replace(day=1)

    def utc_micros(moment: dt.datetime) -> int:
        # wall-clock midnight in the zone (re-attached, so that a DST change in between counts)
        aware = moment.replace(tzinfo=None).replace(tzinfo=tz)
        return (aware.astimezone(dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)

    return utc_micros(day), utc_micros(week), utc_micros(month)


def seconds_to_datetime(seconds: int) -> dt.datetime:
    """The aware UTC ``datetime`` of ``seconds`` since the epoch."""
    return _EPOCH + dt.timedelta(seconds=int(seconds))


def micros_to_datetime(micros: int) -> dt.datetime:
    """The aware UTC ``datetime`` of ``micros`` microseconds since the epoch."""
    return _EPOCH + dt.timedelta(microseconds=int(micros))
