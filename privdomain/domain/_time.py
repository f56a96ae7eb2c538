"""The one time policy of privdomain, in one place.

The pool stores instants as ``int64`` microseconds since the Unix epoch (UTC): the resolution of
Python's ``datetime``, so an aware ``datetime`` goes in and comes out exactly, and ``as_of``
hides the future exactly. A ``datetime`` must be timezone-aware (naive ones raise
:class:`~privdomain.errors.NaiveDatetimeError`); a numpy ``datetime64`` is read as UTC, as numpy
itself does, and floored to the microsecond; plain integers are epoch *seconds*.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privdomain.errors import NaiveDatetimeError, ValidationError

__all__ = [
    "Instant",
    "as_utc_datetime",
    "epoch_seconds",
    "epoch_seconds_array",
    "seconds_to_datetime",
]

#: Anything privdomain accepts as a point in time.
Instant = dt.datetime | np.datetime64

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SECONDS_PER_DAY = 86_400
MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = SECONDS_PER_DAY * MICROS_PER_SECOND
_MAX_SECONDS = np.iinfo(np.int64).max // MICROS_PER_SECOND


def as_utc_datetime(value: object, *, what: str = "timestamp") -> dt.datetime:
    """Return ``value`` as an aware UTC ``datetime``, enforcing the time policy."""
    if isinstance(value, np.datetime64):
        return seconds_to_datetime(epoch_seconds(value, what=what))
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{what} must be a timezone-aware datetime, got {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(
            f"{what} {value.isoformat()} is naive; pass a timezone-aware datetime "
            "(e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai')))"
        )
    return value.astimezone(dt.UTC)


def epoch_seconds(value: object, *, what: str = "timestamp") -> int:
    """Whole seconds since the epoch of an aware ``datetime`` or a ``datetime64`` (UTC)."""
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValidationError(f"{what} is NaT")
        return int(value.astype("datetime64[s]").astype(np.int64))
    aware = as_utc_datetime(value, what=what)
    return (aware - _EPOCH) // dt.timedelta(seconds=1)


def epoch_seconds_array(values: Any, *, what: str = "timestamps") -> NDArray[np.int64]:
    """Convert a column of instants to ``int64`` epoch seconds.

    Accepts ``datetime64`` arrays (UTC), integer arrays (already epoch seconds) and sequences of
    aware ``datetime`` objects. ``NaT`` and naive datetimes raise.
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        if np.isnat(arr).any():
            raise ValidationError(f"{what} contain NaT")
        return arr.astype("datetime64[s]").astype(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "O" or arr.size == 0:
        return np.fromiter((epoch_seconds(v, what=what) for v in arr.ravel()), np.int64, arr.size)
    raise ValidationError(
        f"{what} must be datetime64, integer epoch seconds or datetimes, got {arr.dtype}"
    )


def seconds_to_datetime(seconds: int) -> dt.datetime:
    """The aware UTC ``datetime`` of ``seconds`` since the epoch."""
    return _EPOCH + dt.timedelta(seconds=int(seconds))


def epoch_micros(value: object, *, what: str = "timestamp") -> int:
    """Microseconds since the epoch of an aware ``datetime`` or a ``datetime64`` (UTC)."""
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValidationError(f"{what} is NaT")
        return int(value.astype("datetime64[us]").astype(np.int64))
    aware = as_utc_datetime(value, what=what)
    return (aware - _EPOCH) // dt.timedelta(microseconds=1)


def epoch_micros_array(values: Any, *, what: str = "timestamps") -> NDArray[np.int64]:
    """A column of instants as ``int64`` epoch microseconds.

    Accepts ``datetime64`` arrays (UTC, any unit, floored to the microsecond), integer arrays of
    epoch *seconds*, and sequences of aware ``datetime`` objects. ``NaT`` and naive datetimes
    raise.
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        if np.isnat(arr).any():
            raise ValidationError(f"{what} contain NaT")
        return arr.astype("datetime64[us]").astype(np.int64)
    if arr.dtype.kind in "iu":
        if arr.size and (np.abs(arr.astype(np.float64)) >= _MAX_SECONDS).any():
            raise ValidationError(f"{what}: epoch seconds out of range")
        return arr.astype(np.int64) * MICROS_PER_SECOND
    if arr.dtype.kind == "O" or arr.size == 0:
        return np.fromiter((epoch_micros(v, what=what) for v in arr.ravel()), np.int64, arr.size)
    raise ValidationError(
        f"{what} must be datetime64, integer epoch seconds or datetimes, got {arr.dtype}"
    )


def micros_to_datetime(micros: int) -> dt.datetime:
    """The aware UTC ``datetime`` of ``micros`` microseconds since the epoch."""
    return _EPOCH + dt.timedelta(microseconds=int(micros))
