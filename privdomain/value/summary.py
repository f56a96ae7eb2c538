"""The RFM summary that every repeat-purchase model is fitted on (lifetimes-compatible)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from privdomain.domain._time import (
    MICROS_PER_SECOND,
    EpochUnit,
    as_utc_datetime,
    epoch_seconds,
)
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.result import Result
from privdomain.value._frames import frame_column, frame_index, is_frame, utc_datetimes
from privdomain.value._periods import (
    UNIT_SECONDS,
    Period,
    TimeUnit,
    check_period_and_unit,
    check_time_unit,
    durations,
    period_index,
)
from privdomain.value._show import shown
from privdomain.value._transactions import (
    Transactions,
    customer_codes,
    instant_micros,
    offset_seconds,
    period_totals,
)

__all__ = ["RFMSummary", "SnapshotLike", "rfm_summary", "rfm_summary_from_snapshot"]

_UTC = dt.timedelta(0)


def _float_column(value: Any, name: str) -> NDArray[np.float64]:
    try:
        column = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name} must be numbers: {exc}") from None
    if column.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {column.shape}")
    return column


@attrs.frozen(eq=False, repr=False)  # the shared preview is the repr
class RFMSummary(Result):
    """Per-customer frequency, recency, age and mean repeat spend (one row per buyer).

    Select customers with a boolean mask or row numbers, as with a numpy array:
    ``summary[summary.frequency > 0]``, ``summary.take([0, 5])`` (see :meth:`take`). The
    columns must have one entry per customer (checked when the summary is built).

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

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "frequency",
        "recency",
        "T",
        "monetary_value",
    )

    customer_ids: NDArray[Any]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64] | None
    period: str
    time_unit: str

    def __attrs_post_init__(self) -> None:
        ids = np.asarray(self.customer_ids)
        if ids.ndim != 1:
            raise ValidationError(f"customer_ids must be one-dimensional, got shape {ids.shape}")
        object.__setattr__(self, "customer_ids", ids)
        for name in self._row_fields[1:]:
            value = getattr(self, name)
            if value is None and name == "monetary_value":
                continue
            column = _float_column(value, name)
            if column.shape[0] != ids.shape[0]:
                raise ValidationError(
                    f"{name} must have one entry per customer ({ids.shape[0]}), "
                    f"got {column.shape[0]}"
                )
            object.__setattr__(self, name, column)

    def columns(self) -> dict[str, NDArray[Any]]:
        """The summary as named columns (``customer_id`` first)."""
        return row_columns(self)

    def _title(self) -> str:
        return f"RFMSummary({len(self)} customers, period={self.period!r}, unit={self.time_unit!r})"

    def row(self, customer_id: Any) -> int:
        """The row of ``customer_id``, an id of any type the summary holds (a transaction
        log's ids may be numbers, as CDNOW's are)."""
        return row_of(self.customer_ids, customer_id, type(self).__name__)

    def _check_concat(self, other: RFMSummary) -> None:
        if (other.period, other.time_unit) != (self.period, self.time_unit):
            raise ValidationError("concat needs summaries of one period and time unit")


def row_columns(result: Result) -> dict[str, NDArray[Any]]:
    """A result's per-row fields by name, in ``_row_fields`` order: ``customer_ids`` as
    ``customer_id``, the fields that are ``None`` (columns a result may lack) left out."""
    cols: dict[str, NDArray[Any]] = {}
    for name in result._row_fields:
        value = getattr(result, name)
        if value is not None:
            cols["customer_id" if name == "customer_ids" else name] = value
    return cols


def row_of(ids: NDArray[Any], customer_id: Any, kind: str) -> int:
    """The first row of ``customer_id`` among ``ids`` (ids of any type)."""
    try:
        hits = np.flatnonzero(ids == customer_id)
    except (TypeError, ValueError):  # an id numpy cannot compare with these ids
        hits = np.zeros(0, dtype=np.intp)
    if np.ndim(hits) != 1 or hits.size == 0:
        raise UnknownCustomerError(f"{shown(customer_id)} is not in this {kind}")
    return int(hits[0])


def read_transactions(
    customer_ids: Any,
    timestamps: Any,
    amounts: Any,
    *,
    utc_offset: object,
    epoch_unit: object,
    customer_id_col: object,
    datetime_col: object,
    monetary_value_col: object,
) -> Transactions:
    """The validated transaction log, from three columns or from a frame and column names."""
    if epoch_unit is not None and epoch_unit not in ("s", "ms", "us", "ns"):
        raise ValidationError(
            f"epoch_unit must be one of 's', 'ms', 'us', 'ns' (or None), got {shown(epoch_unit)}"
        )
    unit = None if epoch_unit is None else str(epoch_unit)
    if is_frame(customer_ids):
        frame = customer_ids
        if timestamps is not None or amounts is not None:
            raise ValidationError(
                "with a data frame, name its columns instead of passing arrays: "
                "customer_id_col=..., datetime_col=..., monetary_value_col=..."
            )
        if customer_id_col is None or datetime_col is None:
            raise ValidationError(
                "with a data frame, name its columns: customer_id_col=... and datetime_col=... "
                "(and monetary_value_col=... for spend), as in lifetimes; the frame's columns "
                f"are {[str(c) for c in list(frame.columns)]}"
            )
        ids = frame_column(frame, customer_id_col, argument="customer_id_col")
        when = frame_column(frame, datetime_col, argument="datetime_col", raw=True)
        money = (
            None
            if monetary_value_col is None
            else frame_column(frame, monetary_value_col, argument="monetary_value_col")
        )
        return Transactions.from_columns(ids, when, money, utc_offset, unit)
    named = {
        "customer_id_col": customer_id_col,
        "datetime_col": datetime_col,
        "monetary_value_col": monetary_value_col,
    }
    given = [name for name, value in named.items() if value is not None]
    if given:
        raise ValidationError(
            f"{', '.join(given)} name columns of a data frame, but customer_ids is not a frame "
            f"(got {type(customer_ids).__name__})"
        )
    if timestamps is None:
        raise ValidationError(
            "timestamps are missing: pass customer_ids, timestamps (and amounts) as columns, "
            "or a data frame with customer_id_col=... and datetime_col=..."
        )
    return Transactions.from_columns(customer_ids, timestamps, amounts, utc_offset, unit)


def rfm_summary(
    customer_ids: Any,
    timestamps: Any = None,
    amounts: ArrayLike | None = None,
    *,
    observation_end: dt.datetime | np.datetime64,
    period: Period = "D",
    time_unit: TimeUnit | None = None,
    utc_offset: dt.timedelta = _UTC,
    epoch_unit: EpochUnit | None = None,
    customer_id_col: str | None = None,
    datetime_col: str | None = None,
    monetary_value_col: str | None = None,
) -> RFMSummary:
    """Summarise a transaction log into frequency, recency, ``T`` and monetary value.

    The semantics are those of lifetimes' ``summary_data_from_transaction_data``: purchases are
    bucketed into calendar ``period``\\ s (several purchases in one period count once and their
    amounts are summed), ``frequency`` is the number of distinct purchase periods minus one,
    ``recency`` the time from the first to the last purchase period, ``T`` the time from the first
    purchase period to the period of ``observation_end``, all measured between period starts.
    ``monetary_value`` is the mean of the repeat periods' sums.

    ``observation_end`` is an instant, and purchases after it are invisible, as in a
    :class:`~privdomain.Snapshot` ``as_of`` it: this summary and
    :func:`rfm_summary_from_snapshot` agree exactly. (lifetimes also counts purchases later in
    the end's own period; to count that whole last day, pass the end of the day.)

    Parameters
    ----------
    customer_ids : array-like, shape (n,), or data frame
        Customer of each transaction (any sortable values: str, int). Or a pandas or polars
        data frame of transactions, with its columns named by ``customer_id_col``,
        ``datetime_col`` and ``monetary_value_col`` as in lifetimes.
    timestamps : array-like, shape (n,)
        ``datetime64`` (UTC), timezone-aware ``datetime`` objects (pandas ``Timestamp``
        included), or numbers of ``epoch_unit`` since 1970-01-01 UTC.
    amounts : array-like of float, shape (n,), optional
        Amount of each transaction, at least 0; without it ``monetary_value`` is ``None``.
    observation_end : datetime or numpy.datetime64
        End of the observation window, inclusive (aware ``datetime``; naive ones are refused).
    period : {"D", "h", "W", "M"}
        Bucket length: hour, day, week (Monday to Sunday, as pandas' ``"W"``) or calendar month.
        lifetimes' ``freq``.
    time_unit : {None, "h", "D", "W", "M"}
        Unit of ``recency`` and ``T``; by default the ``period`` itself, as in lifetimes.
        ``"M"`` is the mean Gregorian month (30.436875 days), except with monthly periods, where
        whole calendar months are counted. A unit finer than the period (weekly buckets counted
        in days) warns with :class:`PeriodUnitWarning`. lifetimes' ``freq="D",
        freq_multiplier=7`` is ``period="D", time_unit="W"``.
    utc_offset : datetime.timedelta
        Fixed offset of the local calendar in which periods are cut (default UTC).
    epoch_unit : {None, "s", "ms", "us", "ns"}
        What integer or float ``timestamps`` count since the epoch; required for numbers. A
        ``YYYYMMDD`` column is a date, not a count: parse it first (the error says how).
    customer_id_col, datetime_col, monetary_value_col : str, optional
        Column names when ``customer_ids`` is a data frame (lifetimes' arguments). A column may
        also be the frame's named index.

    Returns
    -------
    RFMSummary
        One row per customer with a purchase up to ``observation_end``, sorted by customer id.

    Raises
    ------
    ValidationError
        Columns of different lengths, missing ids, NaN or negative amounts, numbers as times
        without ``epoch_unit``, times out of range, unknown ``period`` or ``time_unit``.
    NaiveDatetimeError
        A naive ``observation_end`` or naive timestamps.

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
    period, unit = check_period_and_unit(period, time_unit)
    tx = read_transactions(
        customer_ids,
        timestamps,
        amounts,
        utc_offset=utc_offset,
        epoch_unit=epoch_unit,
        customer_id_col=customer_id_col,
        datetime_col=datetime_col,
        monetary_value_col=monetary_value_col,
    )
    end_micros = instant_micros(observation_end, "observation_end")
    local_end = end_micros // MICROS_PER_SECOND + offset_seconds(utc_offset)
    end = period_index(np.array([local_end], dtype=np.int64), period)[0]
    keep = tx.micros <= end_micros
    periods = period_index(tx.seconds[keep], period)
    return _summarise(tx.select(keep), periods, end, period, unit)


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


_SNAPSHOT_COLUMNS = (
    "first_purchase",
    "last_purchase",
    "purchase_days",
    "gross_spend",
    "first_day_spend",
)


def _datetime_column(column: Any, name: str) -> NDArray[np.datetime64]:
    """A datetime column as UTC ``datetime64`` with NaT kept (pandas' aware columns too)."""
    try:
        values = np.asarray(utc_datetimes(column))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name} cannot be read as datetimes: {exc}") from None
    if values.dtype.kind != "M":
        raise ValidationError(f"{name} must hold datetime64 values, got dtype {values.dtype}")
    if values.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {values.shape}")
    return values


def _snapshot_columns(
    snapshot: Any, as_of: object, utc_offset: object
) -> tuple[NDArray[Any], dict[str, Any], object, object]:
    """Customer ids, the five purchase columns (and ``joined_at`` when present), ``as_of`` and
    ``utc_offset`` of the input."""
    if is_frame(snapshot):
        names = [str(c) for c in list(snapshot.columns)]
        missing = [c for c in _SNAPSHOT_COLUMNS if c not in names]
        if missing:
            raise ValidationError(
                f"a frame passed as snapshot must have the columns of Snapshot.to_frame(); "
                f"missing {missing}. For a frame of transactions use rfm_summary(frame, "
                "customer_id_col=..., datetime_col=..., monetary_value_col=...)"
            )
        if as_of is None or utc_offset is None:
            raise ValidationError(
                "a frame does not know its instant or time zone: pass as_of= and utc_offset= "
                "(those of the snapshot it came from)"
            )
        if "customer_id" in names:
            ids = frame_column(snapshot, "customer_id", argument="snapshot")
        else:
            index = frame_index(snapshot)
            ids = np.arange(len(snapshot)) if index is None else index
        cols = {
            c: frame_column(snapshot, c, argument="snapshot", raw=True)
            for c in (*_SNAPSHOT_COLUMNS, "joined_at")
            if c in names
        }
        return ids, cols, as_of, utc_offset
    needed = ("customer_ids", "as_of", "utc_offset", *_SNAPSHOT_COLUMNS)
    absent = [name for name in needed if not hasattr(snapshot, name)]
    if absent:
        raise ValidationError(
            f"snapshot must be a Snapshot (or its to_frame()), got {type(snapshot).__name__} "
            f"without {absent}"
        )
    if as_of is not None or utc_offset is not None:
        raise ValidationError("as_of and utc_offset are for frames; a Snapshot knows its own")
    cols = {
        c: getattr(snapshot, c) for c in (*_SNAPSHOT_COLUMNS, "joined_at") if hasattr(snapshot, c)
    }
    return np.asarray(snapshot.customer_ids), cols, snapshot.as_of, snapshot.utc_offset


def _count_column(value: Any, name: str, n: int) -> NDArray[np.float64]:
    column = _float_column(value, name)
    if column.shape[0] != n:
        raise ValidationError(
            f"{name} must have one entry per customer ({n}), got {column.shape[0]}"
        )
    return column


def rfm_summary_from_snapshot(
    snapshot: SnapshotLike | Any,
    *,
    time_unit: TimeUnit = "D",
    as_of: dt.datetime | np.datetime64 | None = None,
    utc_offset: dt.timedelta | None = None,
) -> RFMSummary:
    """The RFM summary of a pool snapshot's buyers, with daily periods cut in the pool's UTC offset.

    Gives exactly what :func:`rfm_summary` gives with ``period="D"``,
    ``utc_offset=snapshot.utc_offset`` and ``observation_end=snapshot.as_of`` on the same
    purchases, without re-reading the event log: the snapshot already holds each customer's
    first and last purchase, number of distinct purchase days, gross spend and first-day spend.

    This is lifetimes' summary table: only customers with a purchase appear, sorted by customer
    id, ready to fit a model on. For one row per customer of the snapshot, in its row order
    (customers who never bought included), use :func:`customer_rfm`.

    Parameters
    ----------
    snapshot : Snapshot or data frame
        Any object with the attributes of :class:`SnapshotLike`, or the frame of
        ``Snapshot.to_frame()`` (then give ``as_of`` and ``utc_offset``).
    time_unit : {"D", "h", "W", "M"}
        Unit of ``recency`` and ``T``.
    as_of : datetime or numpy.datetime64, optional
        The snapshot's instant, for a frame only.
    utc_offset : datetime.timedelta, optional
        The pool's UTC offset, for a frame only.

    Returns
    -------
    RFMSummary
    """
    rows = snapshot_rows(snapshot, time_unit=time_unit, as_of=as_of, utc_offset=utc_offset)
    buyers = rows.buyer
    ids = rows.customer_ids[buyers]
    try:
        order = np.argsort(ids, kind="stable")
    except TypeError as exc:
        raise ValidationError(f"customer ids must be comparable with each other: {exc}") from None
    keep = np.flatnonzero(buyers)[order]
    return RFMSummary(
        customer_ids=rows.customer_ids[keep],
        frequency=rows.frequency[keep],
        recency=rows.recency[keep],
        T=rows.T[keep],
        monetary_value=rows.monetary_value[keep],
        period="D",
        time_unit=rows.time_unit,
    )


@attrs.frozen
class SnapshotRows:
    """The RFM columns of every customer of a snapshot, in its row order (see :func:`customer_rfm`).

    Customers who never bought have ``buyer`` False, frequency, recency and monetary value 0,
    and ``T`` counted from the day they joined (NaN when the input has no ``joined_at``).
    """

    customer_ids: NDArray[Any]
    buyer: NDArray[np.bool_]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    as_of: dt.datetime
    time_unit: TimeUnit


def snapshot_rows(
    snapshot: SnapshotLike | Any,
    *,
    time_unit: object,
    as_of: dt.datetime | np.datetime64 | None = None,
    utc_offset: dt.timedelta | None = None,
) -> SnapshotRows:
    """Validated RFM columns of every customer of a snapshot (or its frame), in row order."""
    unit = check_time_unit(time_unit)
    ids, cols, instant, offset_value = _snapshot_columns(snapshot, as_of, utc_offset)
    offset = offset_seconds(offset_value)
    if ids.ndim != 1:
        raise ValidationError(f"snapshot customer ids must be one-dimensional, got {ids.shape}")
    n = ids.shape[0]
    first = _datetime_column(cols["first_purchase"], "snapshot first_purchase")
    last = _datetime_column(cols["last_purchase"], "snapshot last_purchase")
    days = _count_column(cols["purchase_days"], "snapshot purchase_days", n)
    gross = _count_column(cols["gross_spend"], "snapshot gross_spend", n)
    first_spend = _count_column(cols["first_day_spend"], "snapshot first_day_spend", n)
    if first.shape[0] != n or last.shape[0] != n:
        raise ValidationError("snapshot columns must have one entry per customer")
    buyers = ~np.isnat(first)
    if np.isnat(last[buyers]).any():
        raise ValidationError("snapshot has a first purchase without a last purchase")
    if not (np.isfinite(days[buyers]).all() and np.isfinite(gross[buyers]).all()):
        raise ValidationError("snapshot purchase_days and gross_spend must be finite for buyers")
    if not np.isfinite(first_spend[buyers]).all():
        raise ValidationError("snapshot first_day_spend must be finite for buyers")
    if not isinstance(instant, dt.datetime | np.datetime64):
        raise ValidationError(
            f"snapshot.as_of must be a timezone-aware datetime, got {shown(instant)}"
        )
    when = as_utc_datetime(instant, what="snapshot.as_of")
    end_day = np.int64((epoch_seconds(when) + offset) // 86_400)
    first_day = _local_days(first[buyers], offset)
    last_day = _local_days(last[buyers], offset)
    buyer_frequency = days[buyers] - 1.0
    if (buyer_frequency < 0).any():
        raise ValidationError("snapshot has buyers with no purchase day")
    if (last_day < first_day).any() or (last_day > end_day).any():
        raise ValidationError("snapshot purchases must lie between the first purchase and as_of")
    repeat_spend = gross[buyers] - first_spend[buyers]
    unit_seconds = UNIT_SECONDS[unit]  # seconds over the unit, as rfm_summary: the same rounding
    frequency = np.zeros(n)
    recency = np.zeros(n)
    monetary = np.zeros(n)
    frequency[buyers] = buyer_frequency
    recency[buyers] = (last_day - first_day) * 86_400 / unit_seconds
    monetary[buyers] = np.divide(
        repeat_spend,
        buyer_frequency,
        out=np.zeros_like(buyer_frequency),
        where=buyer_frequency > 0,
    )
    age = np.full(n, np.nan)
    age[buyers] = (end_day - first_day) * 86_400 / unit_seconds
    joined = cols.get("joined_at")
    if joined is not None and not buyers.all():
        joined_at = _datetime_column(joined, "snapshot joined_at")
        if joined_at.shape[0] != n:
            raise ValidationError("snapshot columns must have one entry per customer")
        never = ~buyers
        if np.isnat(joined_at[never]).any():
            raise ValidationError("snapshot has customers without joined_at")
        joined_day = _local_days(joined_at[never], offset)
        if (joined_day > end_day).any():
            raise ValidationError("snapshot has customers who joined after as_of")
        age[never] = (end_day - joined_day) * 86_400 / unit_seconds
    return SnapshotRows(ids, buyers, frequency, recency, age, monetary, when, unit)


def _local_days(values: NDArray[np.datetime64], offset: int) -> NDArray[np.int64]:
    """The local calendar day (days since 1970-01-01) of each instant."""
    seconds = values.astype("datetime64[s]").astype(np.int64)
    days: NDArray[np.int64] = (seconds + offset) // 86_400
    return days
