"""Validated transaction columns and the vectorised per-customer, per-period aggregation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.domain._time import MICROS_PER_SECOND, epoch_micros, epoch_micros_array
from privdomain.errors import ValidationError
from privdomain.value._frames import utc_datetimes
from privdomain.value._show import shown

__all__ = [
    "PeriodTotals",
    "Transactions",
    "check_customer_ids",
    "customer_codes",
    "factorize",
    "instant_micros",
    "offset_seconds",
    "period_totals",
]


def offset_seconds(utc_offset: object) -> int:
    if not isinstance(utc_offset, dt.timedelta):
        raise ValidationError(f"utc_offset must be a datetime.timedelta, got {shown(utc_offset)}")
    seconds = utc_offset.total_seconds()
    if seconds != int(seconds) or abs(seconds) >= 86_400:
        raise ValidationError(f"utc_offset must be whole seconds under a day, got {utc_offset}")
    return int(seconds)


def factorize(values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Sorted distinct values and the code of each element."""
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError as exc:  # e.g. a mix of str and int ids, which cannot be ordered
        raise ValidationError(f"customer_ids must be comparable with each other: {exc}") from exc
    return uniques, codes.reshape(-1).astype(np.int64, copy=False)


def instant_micros(value: object, what: str) -> int:
    """Epoch microseconds of an aware ``datetime`` or a ``datetime64`` (UTC), checked."""
    if not isinstance(value, dt.datetime | np.datetime64):
        raise ValidationError(
            f"{what} must be a timezone-aware datetime or a numpy.datetime64, got {shown(value)}"
        )
    return epoch_micros(value, what=what)


def _is_missing(value: object) -> bool:
    # None, float NaN, and pandas' NA / NaT (whose comparisons do not give a bool)
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def check_customer_ids(values: object) -> NDArray[Any]:
    """A 1-D column of customer ids: any sortable values, but no missing ones."""
    if isinstance(values, str | bytes) or values is None:
        raise ValidationError(f"customer_ids must be a column of ids, got {shown(values)}")
    try:
        ids = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"customer_ids cannot be read as a column: {exc}") from None
    if ids.ndim != 1:
        raise ValidationError(f"customer_ids must be one-dimensional, got shape {ids.shape}")
    if ids.dtype.kind == "f" and not np.isfinite(ids).all():
        raise ValidationError("customer_ids contain NaN or infinite values (missing ids?)")
    if ids.dtype.kind == "O" and ids.size:
        missing = np.fromiter((_is_missing(v) for v in ids.tolist()), bool, ids.size)
        if missing.any():
            raise ValidationError(
                f"customer_ids contain {int(missing.sum())} missing values (None or NaN), "
                f"first at row {int(np.argmax(missing))}"
            )
    if ids.dtype.kind not in "iuUSOf":
        raise ValidationError(f"customer_ids must be ints or strings, got dtype {ids.dtype}")
    return ids


@attrs.frozen
class Transactions:
    """Validated columns of a transaction log: instants, customer ids, amounts."""

    customer_ids: NDArray[Any]
    micros: NDArray[np.int64]  # UTC epoch microseconds: exact, for cuts at an instant
    seconds: NDArray[np.int64]  # epoch seconds shifted by the UTC offset: for calendar periods
    amounts: NDArray[np.float64] | None

    @classmethod
    def from_columns(
        cls,
        customer_ids: ArrayLike,
        timestamps: Any,
        amounts: ArrayLike | None,
        utc_offset: object,
        epoch_unit: str | None = None,
    ) -> Transactions:
        ids = check_customer_ids(customer_ids)
        offset = offset_seconds(utc_offset)
        micros = epoch_micros_array(
            utc_datetimes(timestamps), epoch_unit=epoch_unit, what="timestamps"
        )
        if micros.shape[0] != ids.shape[0]:
            raise ValidationError(
                f"timestamps must have one entry per customer id ({ids.shape[0]}), "
                f"got {micros.shape[0]}"
            )
        seconds = np.floor_divide(micros, MICROS_PER_SECOND) + offset
        money: NDArray[np.float64] | None = None
        if amounts is not None:
            if isinstance(amounts, str | bytes):
                raise ValidationError(f"amounts must be a column of numbers, got {shown(amounts)}")
            try:
                money = np.asarray(amounts, dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValidationError(f"amounts must be numbers: {exc}") from None
            if money.shape != ids.shape:
                raise ValidationError(
                    f"amounts must have one entry per customer id ({ids.shape[0]}), "
                    f"got shape {money.shape}"
                )
            if not np.isfinite(money).all():
                raise ValidationError("amounts contain NaN or infinite values")
            if (money < 0).any():
                raise ValidationError(
                    f"amounts contain {int((money < 0).sum())} negative values: a refund is not "
                    "a purchase; drop refund rows or net them against their purchases first"
                )
        return cls(ids, micros, seconds, money)

    def select(self, mask: NDArray[np.bool_]) -> Transactions:
        money = None if self.amounts is None else self.amounts[mask]
        return Transactions(self.customer_ids[mask], self.micros[mask], self.seconds[mask], money)


@attrs.frozen
class PeriodTotals:
    """One row per customer with at least one purchase period, customers in code order."""

    codes: NDArray[np.int64]  # customer code of each row
    n_periods: NDArray[np.int64]
    first_period: NDArray[np.int64]
    last_period: NDArray[np.int64]
    repeat_total: NDArray[np.float64] | None  # amounts of every period but the first


def period_totals(
    codes: NDArray[np.int64],
    periods: NDArray[np.int64],
    amounts: NDArray[np.float64] | None,
) -> PeriodTotals:
    """Distinct purchase periods per customer code, with the first and last and the amounts.

    Codes need not be dense: the work is one sort of the transactions, whatever the codes.
    """
    if codes.size == 0:
        empty = np.zeros(0, np.int64)
        none_or_empty = None if amounts is None else np.zeros(0)
        return PeriodTotals(empty, empty, empty, empty, none_or_empty)
    low = int(periods.min())
    span = int(periods.max()) - low + 1
    if span * (int(codes.max()) + 1) >= 2**62:
        raise ValidationError("customer ids and periods span too wide a range to summarise")
    # One sortable integer per (customer, period): sorting it groups by customer, then by time.
    key = codes * span + (periods - low)
    if amounts is None:
        pair_key = np.unique(key)
        pair_amount = None
    else:
        pair_key, inverse = np.unique(key, return_inverse=True)
        pair_amount = np.bincount(inverse.reshape(-1), weights=amounts, minlength=pair_key.size)
    pair_code = pair_key // span
    pair_period = pair_key % span + low
    new_customer = np.ones(pair_key.size, dtype=bool)
    new_customer[1:] = pair_code[1:] != pair_code[:-1]
    starts = np.flatnonzero(new_customer)
    ends = np.append(starts[1:], pair_key.size)
    repeat_total = None
    if pair_amount is not None:
        # Zero the first period rather than subtract it later: no cancellation error.
        repeats = pair_amount.copy()
        repeats[starts] = 0.0
        repeat_total = np.add.reduceat(repeats, starts)
    return PeriodTotals(
        codes=pair_code[starts],
        n_periods=(ends - starts).astype(np.int64),
        first_period=pair_period[starts],
        last_period=pair_period[ends - 1],
        repeat_total=repeat_total,
    )


def customer_codes(
    ids: NDArray[Any],
) -> tuple[NDArray[np.int64], Callable[[NDArray[np.int64]], Any]]:
    """Integer codes of customer ids, and the function mapping codes back to ids.

    Integer ids are their own codes (offset by the smallest), which saves a sort; any other ids
    are factorised.
    """
    if ids.dtype.kind in "iu" and ids.size:
        low = int(ids.min())
        if int(ids.max()) - low < 2**40:
            return ids.astype(np.int64) - low, lambda codes: (codes + low).astype(ids.dtype)
    uniques, codes = factorize(ids)
    return codes, lambda c: uniques[c]
