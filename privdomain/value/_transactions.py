"""Validated transaction columns and the vectorised per-customer, per-period aggregation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.domain._time import epoch_seconds_array
from privdomain.errors import ValidationError

__all__ = [
    "PeriodTotals",
    "Transactions",
    "customer_codes",
    "factorize",
    "offset_seconds",
    "period_totals",
]


def offset_seconds(utc_offset: dt.timedelta) -> int:
    if not isinstance(utc_offset, dt.timedelta):
        raise ValidationError(f"utc_offset must be a datetime.timedelta, got {utc_offset!r}")
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


@attrs.frozen
class Transactions:
    """Validated columns of a transaction log: local epoch seconds, customer ids, amounts."""

    customer_ids: NDArray[Any]
    seconds: NDArray[np.int64]  # epoch seconds shifted by the UTC offset
    amounts: NDArray[np.float64] | None

    @classmethod
    def from_columns(
        cls,
        customer_ids: ArrayLike,
        timestamps: Any,
        amounts: ArrayLike | None,
        utc_offset: dt.timedelta,
    ) -> Transactions:
        ids = np.asarray(customer_ids)
        if ids.ndim != 1:
            raise ValidationError(f"customer_ids must be one-dimensional, got shape {ids.shape}")
        ts = np.asarray(timestamps)
        if ts.ndim != 1 or ts.shape[0] != ids.shape[0]:
            raise ValidationError(
                f"timestamps must be one-dimensional with one entry per customer id "
                f"({ids.shape[0]}), got shape {ts.shape}"
            )
        seconds = epoch_seconds_array(ts) + offset_seconds(utc_offset)
        money: NDArray[np.float64] | None = None
        if amounts is not None:
            try:
                money = np.asarray(amounts, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"amounts must be numbers: {exc}") from exc
            if money.shape != ids.shape:
                raise ValidationError(
                    f"amounts must have one entry per customer id ({ids.shape[0]}), "
                    f"got shape {money.shape}"
                )
            if not np.isfinite(money).all():
                raise ValidationError("amounts contain NaN or infinite values")
        return cls(ids, seconds, money)

    def select(self, mask: NDArray[np.bool_]) -> Transactions:
        money = None if self.amounts is None else self.amounts[mask]
        return Transactions(self.customer_ids[mask], self.seconds[mask], money)


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
