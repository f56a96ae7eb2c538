"""The RFM summary that every repeat-purchase model is fitted on (lifetimes-compatible)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.domain._time import as_utc_datetime, epoch_seconds
from privdomain.errors import ValidationError
from privdomain.value._periods import (
    UNIT_SECONDS,
    Period,
    TimeUnit,
    check_period,
    check_time_unit,
    durations,
    period_index,
)
from privdomain.value._results import ColumnarResult
from privdomain.value._transactions import (
    Transactions,
    customer_codes,
    offset_seconds,
    period_totals,
)

__all__ = ["RFMSummary", "SnapshotLike", "rfm_summary", "rfm_summary_from_snapshot"]

_UTC = dt.timedelta(0)


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class RFMSummary(ColumnarResult):
    """Per-customer frequency, recency, age and mean repeat spend (one row per buyer).

    Attributes
    ----------
    customer_ids : numpy.ndarray
        Customers with at least one purchase up to ``observation_end``, sorted.
    frequency : numpy.ndarray of float64
        Number of *repeat* purchase periods: distinct purchase periods minus one.
    recency : numpy.ndarray of float64
        Time from the first to the last purchase period, in ``time_unit``.
    T : numpy.ndarray of float64
        Time from the first purchase period to the period of ``observation_end``.
    monetary_value : numpy.ndarray of float64 or None
        Mean spend of the repeat periods (the first period is excluded), ``0`` when
        ``frequency`` is 0; ``None`` when no amounts were given.
    period, time_unit : str
        How purchases were bucketed and in what unit ``recency`` and ``T`` are expressed.
    """

    customer_ids: NDArray[Any]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64] | None
    period: str
    time_unit: str

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def columns(self) -> dict[str, NDArray[Any]]:
        """The summary as named columns (``customer_id`` first)."""
        cols: dict[str, NDArray[Any]] = {
            "customer_id": self.customer_ids,
            "frequency": self.frequency,
            "recency": self.recency,
            "T": self.T,
        }
        if self.monetary_value is not None:
            cols["monetary_value"] = self.monetary_value
        return cols

    def _title(self) -> str:
        return f"RFMSummary({len(self)} customers, period={self.period!r}, unit={self.time_unit!r})"


def rfm_summary(
    customer_ids: ArrayLike,
    timestamps: Any,
    amounts: ArrayLike | None = None,
    *,
    observation_end: dt.datetime | np.datetime64,
    period: Period = "D",
    time_unit: TimeUnit = "D",
    utc_offset: dt.timedelta = _UTC,
) -> RFMSummary:
    """Summarise a transaction log into frequency, recency, ``T`` and monetary value.

    The semantics are those of lifetimes' ``summary_data_from_transaction_data``: purchases are
    bucketed into calendar ``period``\\ s (several purchases in one period count once and their
    amounts are summed), ``frequency`` is the number of distinct purchase periods minus one,
    ``recency`` the time from the first to the last purchase period, ``T`` the time from the first
    purchase period to the period of ``observation_end``, all measured between period starts.
    ``monetary_value`` is the mean of the repeat periods' sums. Purchases in a period after the
    period of ``observation_end`` are ignored (as in lifetimes, later purchases *within* that last
    period still count).

    Parameters
    ----------
    customer_ids : array-like, shape (n,)
        Customer of each transaction (any sortable values: str, int).
    timestamps : array-like, shape (n,)
        ``datetime64`` (UTC), integer epoch seconds, or timezone-aware ``datetime`` objects.
    amounts : array-like of float, shape (n,), optional
        Amount of each transaction; without it ``monetary_value`` is ``None``.
    observation_end : datetime or numpy.datetime64
        End of the observation window (aware ``datetime``; naive ones are refused).
    period : {"h", "D", "W", "M"}
        Bucket length: hour, day, week (Monday to Sunday, as pandas' ``"W"``) or calendar month.
    time_unit : {"h", "D", "W", "M"}
        Unit of ``recency`` and ``T``. ``"M"`` is the mean Gregorian month (30.436875 days),
        except with monthly periods, where whole calendar months are counted.
    utc_offset : datetime.timedelta
        Fixed offset of the local calendar in which periods are cut (default UTC).

    Returns
    -------
    RFMSummary
        One row per customer with a purchase up to ``observation_end``, sorted by customer id.

    Examples
    --------
    >>> import numpy as np
    >>> from privdomain.value import rfm_summary
    >>> s = rfm_summary(
    ...     ["a", "a", "a", "b"],
    ...     np.array(["2024-01-01T09", "2024-01-01T18", "2024-01-08", "2024-01-03"],
    ...              dtype="datetime64[s]"),
    ...     [10.0, 5.0, 20.0, 7.0],
    ...     observation_end=np.datetime64("2024-01-15"),
    ... )
    >>> s.frequency, s.recency, s.T, s.monetary_value
    (array([1., 0.]), array([7., 0.]), array([14., 12.]), array([20.,  0.]))
    """
    period = check_period(period)
    time_unit = check_time_unit(time_unit)
    offset = offset_seconds(utc_offset)
    tx = Transactions.from_columns(customer_ids, timestamps, amounts, utc_offset)
    end = period_index(
        np.array([epoch_seconds(observation_end, what="observation_end") + offset]), period
    )[0]
    periods = period_index(tx.seconds, period)
    keep = periods <= end
    return _summarise(tx.select(keep), periods[keep], end, period, time_unit)


def _summarise(
    tx: Transactions,
    periods: NDArray[np.int64],
    end: np.int64,
    period: Period,
    time_unit: TimeUnit,
) -> RFMSummary:
    codes, ids_of = customer_codes(tx.customer_ids)
    totals = period_totals(codes, periods, tx.amounts)
    frequency = (totals.n_periods - 1).astype(np.float64)
    monetary = None
    if totals.repeat_total is not None:
        monetary = np.divide(
            totals.repeat_total,
            frequency,
            out=np.zeros_like(frequency),
            where=frequency > 0,
        )
    end_array = np.full_like(totals.first_period, end)
    return RFMSummary(
        customer_ids=ids_of(totals.codes),
        frequency=frequency,
        recency=durations(totals.last_period, totals.first_period, period, time_unit),
        T=durations(end_array, totals.first_period, period, time_unit),
        monetary_value=monetary,
        period=period,
        time_unit=time_unit,
    )


class SnapshotLike(Protocol):
    """What :func:`rfm_summary_from_snapshot` reads from a :class:`~privdomain.Snapshot`."""

    @property
    def customer_ids(self) -> NDArray[Any]: ...
    @property
    def as_of(self) -> dt.datetime: ...
    @property
    def utc_offset(self) -> dt.timedelta: ...
    @property
    def first_purchase(self) -> NDArray[np.datetime64]: ...
    @property
    def last_purchase(self) -> NDArray[np.datetime64]: ...
    @property
    def purchase_days(self) -> NDArray[np.int64]: ...
    @property
    def gross_spend(self) -> NDArray[np.float64]: ...
    @property
    def first_day_spend(self) -> NDArray[np.float64]: ...


def rfm_summary_from_snapshot(snapshot: SnapshotLike, *, time_unit: TimeUnit = "D") -> RFMSummary:
    """The RFM summary of a pool snapshot, with daily periods cut in the pool's UTC offset.

    Gives what :func:`rfm_summary` gives with ``period="D"``, ``utc_offset=snapshot.utc_offset``
    and ``observation_end=snapshot.as_of`` on the same purchases, without re-reading the event
    log: the snapshot already holds each customer's first and last purchase, number of distinct
    purchase days, gross spend and first-day spend. Only customers with a purchase appear.

    Parameters
    ----------
    snapshot : Snapshot
        Any object with the attributes of :class:`SnapshotLike`.
    time_unit : {"h", "D", "W", "M"}
        Unit of ``recency`` and ``T``.

    Returns
    -------
    RFMSummary
    """
    time_unit = check_time_unit(time_unit)
    offset = offset_seconds(snapshot.utc_offset)
    first = np.asarray(snapshot.first_purchase)
    last = np.asarray(snapshot.last_purchase)
    if first.dtype.kind != "M" or last.dtype.kind != "M":
        raise ValidationError("snapshot.first_purchase and last_purchase must be datetime64")
    buyers = ~np.isnat(first)
    if np.isnat(last[buyers]).any():
        raise ValidationError("snapshot has a first purchase without a last purchase")
    as_of = as_utc_datetime(snapshot.as_of, what="snapshot.as_of")
    end_day = np.int64((epoch_seconds(as_of) + offset) // 86_400)
    first_day = (first[buyers].astype("datetime64[s]").astype(np.int64) + offset) // 86_400
    last_day = (last[buyers].astype("datetime64[s]").astype(np.int64) + offset) // 86_400
    frequency = np.asarray(snapshot.purchase_days)[buyers].astype(np.float64) - 1.0
    if (frequency < 0).any():
        raise ValidationError("snapshot has buyers with no purchase day")
    repeat_spend = (
        np.asarray(snapshot.gross_spend, dtype=np.float64)[buyers]
        - np.asarray(snapshot.first_day_spend, dtype=np.float64)[buyers]
    )
    monetary = np.divide(repeat_spend, frequency, out=np.zeros_like(frequency), where=frequency > 0)
    ids = np.asarray(snapshot.customer_ids)[buyers]
    order = np.argsort(ids, kind="stable")
    day_unit = UNIT_SECONDS["D"] / UNIT_SECONDS[time_unit]
    recency = ((last_day - first_day) * day_unit).astype(np.float64)
    age = ((end_day - first_day) * day_unit).astype(np.float64)
    return RFMSummary(
        customer_ids=ids[order],
        frequency=frequency[order],
        recency=recency[order],
        T=age[order],
        monetary_value=monetary[order],
        period="D",
        time_unit=time_unit,
    )
