"""Journeys: the owned-channel touches that lead to a conversion, or to none yet.

A *journey* is what one customer saw between two purchases: the touches since the previous
purchase (within a lookback window) that end in a purchase (a *converted* journey), or, after the
last purchase, the touches within the lookback window before ``as_of`` (an *open* journey, not
converted as of then). Every attribution method of :mod:`privdomain.attribution` reads
journeys, stored as compressed sparse rows: ``offsets`` (one more than there are journeys) and a
channel code per touch, so a million journeys are a few flat integer arrays and never a list
per customer.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.channels import OWNED_CHANNELS, Channel
from privdomain.errors import ValidationError, short_repr

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = ["DEFAULT_LOOKBACK_DAYS", "Journeys"]

#: How many days before its end a touch still belongs to a journey, unless told otherwise.
DEFAULT_LOOKBACK_DAYS = 30.0


def _readonly(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class Journeys:
    """Touch paths of many journeys, in compressed sparse rows.

    The touches of journey ``j`` are ``channel[offsets[j]:offsets[j + 1]]``, oldest first;
    ``age`` holds, for every touch, how many days before the journey's end it happened (the
    conversion, or ``as_of`` for an open journey).

    Build them with :meth:`from_snapshot`, :meth:`from_events` (touch and conversion events of
    your own) or :meth:`from_frame` (the same, from a data frame), :meth:`from_paths` (one
    sequence of channels per journey) or :meth:`from_csr`.

    Attributes
    ----------
    offsets
        ``int64``, one more than there are journeys, ascending from 0.
    channel
        ``int32`` code of every touch, an index into :attr:`channel_names`.
    age
        ``float64`` days from every touch to the end of its journey (>= 0).
    converted
        ``bool``, one per journey: whether the journey ends in a conversion.
    channel_names
        The name of every channel code.
    customer
        ``int64``, one per journey: the customer's row (snapshot) or code (events), -1 unknown.
    """

    offsets: NDArray[np.int64]
    channel: NDArray[np.int32]
    age: NDArray[np.float64]
    converted: NDArray[np.bool_]
    channel_names: tuple[str, ...]
    customer: NDArray[np.int64]

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return int(self.converted.shape[0])

    @property
    def n_channels(self) -> int:
        """How many channels the codes range over."""
        return len(self.channel_names)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Number of touches of every journey."""
        return np.diff(self.offsets)

    @property
    def journey_of_touch(self) -> NDArray[np.int64]:
        """The journey of every touch."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    @property
    def conversions(self) -> int:
        """Converted journeys with at least one touch: what attribution splits among channels."""
        return int(np.count_nonzero(self.converted & (self.lengths > 0)))

    @property
    def unattributed(self) -> int:
        """Converted journeys without any touch (nothing to credit)."""
        return int(np.count_nonzero(self.converted & (self.lengths == 0)))

    def path(self, j: int) -> tuple[str, ...]:
        """The channel names of journey ``j``, oldest first."""
        if isinstance(j, bool) or not isinstance(j, int | np.integer) or not 0 <= j < len(self):
            raise ValidationError(f"journey {short_repr(j)} is out of range for {len(self)}")
        codes = self.channel[self.offsets[j] : self.offsets[j + 1]]
        return tuple(self.channel_names[c] for c in codes.tolist())

    def touched(self) -> NDArray[np.int64]:
        """``(journeys, channels)`` number of touches of every channel in every journey."""
        key = self.journey_of_touch * self.n_channels + self.channel
        counts = np.bincount(key, minlength=len(self) * self.n_channels)
        return counts.reshape(len(self), self.n_channels).astype(np.int64)

    def take(self, journeys: Any) -> Journeys:
        """The journeys selected by a boolean mask or by indices (repeats allowed: a bootstrap
        sample is a selection with repeats)."""
        index = np.asarray(journeys)
        if index.dtype == np.bool_:
            if index.shape != (len(self),):
                raise ValidationError(f"a mask must have one entry per journey ({len(self)})")
            index = np.flatnonzero(index)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise ValidationError("select journeys with a boolean mask or integer indices")
        index = index.astype(np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise ValidationError(f"journey indices must lie in [0, {len(self)})")
        lengths = self.lengths[index]
        offsets = np.zeros(index.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = np.repeat(self.offsets[:-1][index] - offsets[:-1], lengths)
        touches = starts + np.arange(offsets[-1], dtype=np.int64)
        return Journeys(
            offsets=_readonly(offsets),
            channel=_readonly(self.channel[touches]),
            age=_readonly(self.age[touches]),
            converted=_readonly(self.converted[index]),
            channel_names=self.channel_names,
            customer=_readonly(self.customer[index]),
        )

    def __repr__(self) -> str:
        return (
            f"Journeys({len(self)} journeys, {self.channel.size} touches, "
            f"{self.conversions} conversions, channels={list(self.channel_names)})"
        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_csr(
        cls,
        offsets: Any,
        channel: Any,
        converted: Any,
        *,
        channels: Sequence[Any],
        age: Any = None,
        customer: Any = None,
    ) -> Journeys:
        """Journeys from compressed sparse rows you already hold.

        Parameters
        ----------
        offsets
            Integers ascending from 0, one more than there are journeys.
        channel
            Integer channel code of every touch, each in ``[0, len(channels))``.
        converted
            One boolean per journey.
        channels
            The name of every code (names, or :class:`~privdomain.Channel` members).
        age
            Days from every touch to its journey's end (default: 0 for every touch).
        customer
            One customer code per journey (default: -1).

        Raises
        ------
        ValidationError
            Offsets that do not start at 0 or do not ascend to the number of touches, codes out of
            range, columns of the wrong length, negative or non-finite ages.
        """
        names = _channel_names(channels)
        off = _integers(offsets, "offsets")
        if off.ndim != 1 or off.size == 0 or off[0] != 0 or (np.diff(off) < 0).any():
            raise ValidationError("offsets must ascend from 0, one more than there are journeys")
        codes = _integers(channel, "channel")
        if codes.ndim != 1 or codes.size != off[-1]:
            raise ValidationError(
                f"channel must have one code per touch ({int(off[-1])}), got {codes.size}"
            )
        if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
            raise ValidationError(f"channel codes must lie in [0, {len(names)})")
        n = off.size - 1
        conv = _booleans(converted, "converted", n)
        ages = np.zeros(codes.size) if age is None else _days(age, "age", codes.size)
        if (ages < 0).any():
            raise ValidationError("age must be >= 0 (days before the journey's end)")
        cust = np.full(n, -1, np.int64) if customer is None else _integers(customer, "customer")
        if cust.shape != (n,):
            raise ValidationError(f"customer must have one entry per journey ({n})")
        return cls(
            offsets=_readonly(off.astype(np.int64)),
            channel=_readonly(codes.astype(np.int32)),
            age=_readonly(ages),
            converted=_readonly(conv),
            channel_names=names,
            customer=_readonly(cust.astype(np.int64)),
        )

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[Sequence[Any]],
        converted: Any,
        *,
        channels: Sequence[Any] | None = None,
    ) -> Journeys:
        """Journeys from one sequence of channel names per journey (analysts' path data).

        ``channels`` fixes the vocabulary (a channel outside it is an error); by default it is
        every channel that occurs, sorted by name. Touches get age 0 (no times are known).
        """
        if isinstance(paths, str | bytes) or not isinstance(paths, Sequence):
            raise ValidationError(f"paths must be a sequence of paths, got {short_repr(paths)}")
        lengths = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        flat = [_channel_name(c) for p in paths for c in p]
        names, codes = _encode(_Factors.of(np.asarray(flat, dtype=object), "channel"), channels)
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls.from_csr(offsets, codes, converted, channels=names)

    @classmethod
    def from_events(
        cls,
        customer: Any,
        at: Any,
        channel: Any,
        conversion: Any,
        *,
        as_of: Any = None,
        lookback_days: float = DEFAULT_LOOKBACK_DAYS,
        channels: Sequence[Any] | None = None,
    ) -> Journeys:
        """Journeys from an event log of touches and conversions, one row per event.

        Each customer's events are read in time order (a touch at the same instant as a purchase
        comes before it); each conversion closes the journey of the touches since the previous
        conversion that lie within ``lookback_days`` before it, and the touches after a
        customer's last conversion that lie within ``lookback_days`` before ``as_of`` form an
        open journey. Events after ``as_of`` are not seen. A conversion with no touch in its
        window is a converted journey with an empty path (counted in
        :attr:`unattributed`); an open journey with no touch in its window is no journey.

        Parameters
        ----------
        customer
            Who each event belongs to (any hashable ids: strings or integers).
        at
            When: ``datetime64`` instants, or numbers read as days.
        channel
            The channel of every touch (names, codes or :class:`~privdomain.Channel`); ignored on
            conversion rows (pass anything, e.g. ``None``).
        conversion
            Whether each event is a conversion (a purchase) rather than a touch.
        as_of
            The instant the log is read at (same kind as ``at``); default the latest event.
        lookback_days
            How many days before a journey's end a touch still counts.
        channels
            The channel vocabulary; by default every channel that occurs, sorted by name.

        Raises
        ------
        ValidationError
            Columns of different lengths, no events, unknown channels, a touch without a channel,
            non-finite times, a lookback that is not a number > 0.
        """
        cust = _Factors.of(customer, "customer")
        n = cust.codes.shape[0]
        if n == 0:
            raise ValidationError("no events: journeys need at least one touch or conversion")
        t = _days(at, "at", n)
        conv = _booleans(conversion, "conversion", n)
        touch = ~conv
        raw = _Factors.of(channel, "channel", n=n, rows=touch)  # conversions: any channel
        lookback = _lookback(lookback_days)
        end = float(t.max()) if as_of is None else float(_days(np.asarray([as_of]), "as_of", 1)[0])
        names, codes = _encode(raw, channels)
        code = np.full(n, -1, np.int64)
        code[touch] = codes
        try:
            _, cust_code = cust.sorted()
        except TypeError:
            raise ValidationError("customer ids must be all strings or all numbers") from None
        return _build(cust_code, t, code, conv, end, lookback, names, None)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        customer: str = "customer_id",
        at: str = "at",
        channel: str = "channel",
        conversion: str = "conversion",
        as_of: Any = None,
        lookback_days: float = DEFAULT_LOOKBACK_DAYS,
        channels: Sequence[Any] | None = None,
    ) -> Journeys:
        """:meth:`from_events` on the columns of a data frame (pandas, polars, or any mapping of
        names to columns), named by the keyword arguments.

        Raises
        ------
        ValidationError
            A column that is missing, and everything :meth:`from_events` refuses.
        """
        names = {"customer": customer, "at": at, "channel": channel, "conversion": conversion}
        cols: dict[str, Any] = {}
        for role, name in names.items():
            try:
                col = frame[name]
            except (KeyError, TypeError, IndexError):
                raise ValidationError(f"the frame has no {role} column {name!r}") from None
            if role in ("customer", "channel") and _categorical(col) is not None:
                cols[role] = col  # a pandas Categorical: its codes are taken as they are
            else:
                cols[role] = col.to_numpy() if hasattr(col, "to_numpy") else col
        return cls.from_events(
            cols["customer"],
            cols["at"],
            cols["channel"],
            cols["conversion"],
            as_of=as_of,
            lookback_days=lookback_days,
            channels=channels,
        )

    @classmethod
    def from_snapshot(
        cls, snapshot: Snapshot, *, lookback_days: float = DEFAULT_LOOKBACK_DAYS
    ) -> Journeys:
        """The journeys of a snapshot: the brand's messages on owned channels
        (:attr:`Snapshot.contacts`) up to each purchase (:attr:`Snapshot.order_log`).

        The snapshot keeps the messages of the last
        :data:`~privdomain.domain.snapshot.CONTACT_HISTORY_DAYS` (92) days, so only journeys
        whose whole lookback window lies inside that history are returned: purchases at least
        ``lookback_days`` after its start, and the open journeys before ``as_of``. Earlier
        purchases still close the journeys before them. Channels are every owned channel, in the
        order of :data:`~privdomain.domain.snapshot.OWNED_CHANNELS`; ``customer`` holds each
        journey's row in the snapshot.

        Raises
        ------
        ValidationError
            ``lookback_days`` not a number in ``(0, 92]``, or not a snapshot.
        """
        from privdomain.domain.snapshot import CONTACT_HISTORY_DAYS, Snapshot

        if not isinstance(snapshot, Snapshot):
            raise ValidationError(f"from_snapshot takes a Snapshot, got {short_repr(snapshot)}")
        lookback = _lookback(lookback_days)
        if lookback > CONTACT_HISTORY_DAYS:
            raise ValidationError(
                f"lookback_days must be at most {CONTACT_HISTORY_DAYS} (the contact history a "
                f"snapshot keeps), got {lookback_days!r}"
            )
        contacts, orders = snapshot.contacts, snapshot.order_log
        owned = np.full(len(Channel), -1, np.int64)
        owned[[c.value for c in OWNED_CHANNELS]] = np.arange(len(OWNED_CHANNELS))
        code = np.concatenate(
            [owned[contacts.channel.astype(np.int64)], np.full(len(orders), -1, np.int64)]
        )
        rows = np.concatenate([contacts.row, orders.row]).astype(np.int64)
        when = np.concatenate([contacts.at, orders.at]).astype("datetime64[us]")
        t = when.view(np.int64) / MICROS_PER_DAY
        conv = np.concatenate([np.zeros(len(contacts), bool), np.ones(len(orders), bool)])
        keep = conv | (code >= 0)
        end = epoch_micros(snapshot.as_of) / MICROS_PER_DAY
        earliest = end - CONTACT_HISTORY_DAYS + lookback
        names = tuple(c.name for c in OWNED_CHANNELS)
        return _build(rows[keep], t[keep], code[keep], conv[keep], end, lookback, names, earliest)


def _build(
    cust: NDArray[np.int64],
    t: NDArray[np.float64],
    code: NDArray[np.int64],
    conv: NDArray[np.bool_],
    as_of: float,
    lookback: float,
    names: tuple[str, ...],
    earliest_end: float | None,
) -> Journeys:
    """Cut each customer's time-ordered events into journeys at every conversion."""
    seen = t <= as_of
    cust, t, code, conv = cust[seen], t[seen], code[seen], conv[seen]
    # by customer, then time, a touch before a purchase at the same instant: sorted by time
    # first, then stably by customer (what lexsort does, with a cheaper integer sort last)
    by_time = np.lexsort((conv, t))
    order = by_time[np.argsort(cust[by_time], kind="stable")]
    cust, t, code, conv = cust[order], t[order], code[order], conv[order]
    n = cust.size
    start = np.ones(n, dtype=bool)
    if n:
        start[1:] = (cust[1:] != cust[:-1]) | conv[:-1]
    jid = np.cumsum(start) - 1
    n_j = int(jid[-1]) + 1 if n else 0
    converted = np.zeros(n_j, dtype=bool)
    converted[jid[conv]] = True
    end = np.full(n_j, as_of)
    end[jid[conv]] = t[conv]
    age = end[jid] - t
    in_window = ~conv & (age <= lookback)
    has_touch = np.bincount(jid[in_window], minlength=n_j) > 0
    keep_j = converted | has_touch
    if earliest_end is not None:
        keep_j &= end >= earliest_end
    new_j = np.cumsum(keep_j) - 1
    kept = in_window & keep_j[jid]
    lengths = np.bincount(new_j[jid[kept]], minlength=int(keep_j.sum()))
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    customer = np.full(n_j, -1, np.int64)
    customer[jid] = cust
    return Journeys(
        offsets=_readonly(offsets),
        channel=_readonly(code[kept].astype(np.int32)),
        age=_readonly(age[kept].astype(np.float64)),
        converted=_readonly(converted[keep_j]),
        channel_names=names,
        customer=_readonly(customer[keep_j]),
    )


# ------------------------------------------------------------------ input checks
def _column(values: Any, name: str) -> NDArray[Any]:
    if isinstance(values, str | bytes) or values is None:
        raise ValidationError(f"{name} must be a column of values, got {short_repr(values)}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} cannot be read as a column: {exc}") from None
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _integers(values: Any, name: str) -> NDArray[np.int64]:
    arr = _column(values, name)
    if arr.size and arr.dtype.kind not in "iu":
        raise ValidationError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _booleans(values: Any, name: str, n: int) -> NDArray[np.bool_]:
    arr = _column(values, name)
    if arr.shape[0] != n:
        raise ValidationError(f"{name} must have {n} entries, got {arr.shape[0]}")
    if (arr.size and arr.dtype != np.bool_) and (
        arr.dtype.kind not in "iu" or not np.isin(arr, (0, 1)).all()
    ):
        raise ValidationError(f"{name} must hold booleans (or 0/1), got dtype {arr.dtype}")
    return arr.astype(bool)


def _days(values: Any, name: str, n: int) -> NDArray[np.float64]:
    """Times as float days: ``datetime64`` from the epoch, numbers as they are."""
    arr = _column(values, name)
    if arr.shape[0] != n:
        raise ValidationError(f"{name} must have {n} entries, got {arr.shape[0]}")
    if arr.dtype.kind == "O" and arr.size and isinstance(arr[0], dt.datetime):
        try:
            arr = np.array([np.datetime64(epoch_micros(v), "us") for v in arr.tolist()])
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{name}: {exc}") from None
    if arr.dtype.kind == "M":
        micros = arr.astype("datetime64[us]").view(np.int64)
        if (micros == np.iinfo(np.int64).min).any():
            raise ValidationError(f"{name} must not hold NaT")
        return micros / MICROS_PER_DAY
    if arr.size and (arr.dtype.kind not in "iuf"):
        raise ValidationError(f"{name} must be datetime64 or numbers (days), got {arr.dtype}")
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():
        raise ValidationError(f"{name} must be finite")
    return out


def _lookback(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValidationError(f"lookback_days must be a number, got {short_repr(value)}")
    if not 0 < float(value) < np.inf:
        raise ValidationError(f"lookback_days must be a finite number > 0, got {value!r}")
    return float(value)


def _channel_name(value: Any) -> str:
    if isinstance(value, Channel):
        return value.name
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(int(value))
    raise ValidationError(f"a channel is a name, a code or a Channel, not {short_repr(value)}")


def _channel_names(channels: Any) -> tuple[str, ...]:
    if isinstance(channels, str | bytes) or not isinstance(channels, Sequence):
        raise ValidationError(f"channels must be a sequence of names, got {short_repr(channels)}")
    names = tuple(_channel_name(c) for c in channels)
    if not names:
        raise ValidationError("channels must name at least one channel")
    if len(set(names)) != len(names):
        raise ValidationError(f"channels must not repeat, got {list(names)}")
    return names


def _categorical(values: Any) -> Any:
    """The pandas ``Categorical`` behind ``values`` (a Categorical or a Series of one), else
    ``None``."""
    if hasattr(values, "cat") and hasattr(values, "array"):
        values = values.array
    if hasattr(values, "codes") and hasattr(values, "categories"):
        return values
    return None


@attrs.frozen
class _Factors:
    """A column factorised: ``distinct[codes]`` is the column, ``distinct`` in order of first
    occurrence (or of the categories of a pandas ``Categorical``). Every distinct value is
    compared and named once, not once per row."""

    codes: NDArray[np.int64]
    distinct: NDArray[Any]

    @classmethod
    def of(
        cls,
        source: Any,
        name: str,
        *,
        n: int | None = None,
        rows: NDArray[np.bool_] | None = None,
    ) -> _Factors:
        """Factorise the column ``source`` (the codes of a pandas Categorical are taken as they
        are, a missing entry as a NaN category): of ``n`` entries when given, only the entries
        where ``rows`` holds when given."""
        cat = _categorical(source)
        if cat is not None:
            codes = np.asarray(cat.codes, dtype=np.int64)
            _check_length(codes.shape[0], n, name)
            distinct = np.asarray(cat.categories, dtype=object)
            if codes.size and codes.min() < 0:  # missing entries: one more category, NaN
                distinct = np.append(distinct, np.array([np.nan], dtype=object))
                codes = np.where(codes < 0, distinct.size - 1, codes)
            used = np.ones(codes.size, dtype=bool) if rows is None else rows
            return cls(codes, distinct).take(used)  # with only the categories used
        column = _column(source, name)
        _check_length(column.shape[0], n, name)
        if rows is not None:
            column = column[rows]
        if column.dtype.kind in "biufcmM":  # numbers: numpy sorts them fast
            distinct, inverse = np.unique(column, return_inverse=True)
            return cls(inverse.ravel().astype(np.int64), distinct)
        items = column.tolist()
        table: dict[Any, int] = {}
        try:  # one C-level pass: the position of each entry's first occurrence
            first = np.fromiter(
                map(table.setdefault, items, itertools.count()), np.int64, len(items)
            )
        except TypeError:
            bad = next(v for v in items if not _hashable(v))
            raise ValidationError(
                f"ids and channels must be hashable, got {type(bad).__name__} {short_repr(bad)}"
            ) from None
        positions = np.fromiter(table.values(), np.int64, len(table))  # ascending
        compact = np.empty(column.shape[0], dtype=np.int64)
        compact[positions] = np.arange(positions.size, dtype=np.int64)
        return cls(compact[first], column[positions].astype(object))

    def take(self, mask: NDArray[np.bool_]) -> _Factors:
        """The entries where ``mask`` holds, with only the distinct values they use."""
        codes = self.codes[mask]
        used = np.zeros(self.distinct.size, dtype=bool)
        used[codes] = True
        compact = np.cumsum(used) - 1
        return _Factors(compact[codes].astype(np.int64), self.distinct[used])

    def sorted(self) -> tuple[NDArray[Any], NDArray[np.int64]]:
        """What ``np.unique(column, return_inverse=True)`` gives: the distinct values sorted
        and each entry's index among them (a ``TypeError`` for values that do not compare)."""
        values = self.distinct.tolist()
        order = np.asarray(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size, dtype=np.int64)
        return self.distinct[order], rank[self.codes]


def _check_length(length: int, n: int | None, name: str) -> None:
    if n is not None and length != n:
        raise ValidationError(f"{name} must have one entry per event ({n}), got {length}")


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _encode(
    raw: _Factors, channels: Sequence[Any] | None
) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """Channel names of ``raw`` and a code per entry (distinct values looked up once)."""
    try:
        distinct, inverse = raw.sorted()
    except TypeError:  # Channel members or a mix: name every distinct value, then look names up
        named = np.array([_channel_name(v) for v in raw.distinct.tolist()], dtype=object)
        distinct, rank = np.unique(named, return_inverse=True)
        inverse = rank.ravel()[raw.codes]
    distinct_names = [_channel_name(v) for v in distinct.tolist()]
    if channels is None:
        names = tuple(sorted(set(distinct_names)))
        if not names:
            raise ValidationError("no touches: journeys need at least one channel")
    else:
        names = _channel_names(channels)
    lookup = {name: i for i, name in enumerate(names)}
    unknown = [v for v in distinct_names if v not in lookup]
    if unknown:
        raise ValidationError(f"unknown channels {unknown[:5]}; the channels are {list(names)}")
    table = np.array([lookup[v] for v in distinct_names], dtype=np.int64)
    return names, table[inverse.ravel()] if table.size else np.zeros(0, np.int64)
