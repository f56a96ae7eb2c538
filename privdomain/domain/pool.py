"""The pool (流量池): the aggregate root owning customers and the columnar event log."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._columns import Column, canonical
from privdomain.domain._fingerprint import fingerprint_strings
from privdomain.domain._profile import ProfileStore
from privdomain.domain._time import Instant, micros_to_datetime
from privdomain.domain.batch import (
    Batch,
    CustomerColumns,
    EncodedIds,
    IngestReport,
    Rejection,
    RejectReason,
    TouchpointColumns,
)
from privdomain.domain.changes import ProfileChanges
from privdomain.domain.channels import IS_MONETARY, OWNED_CHANNELS, Channel, TouchKind
from privdomain.domain.customer import MAX_ID_LENGTH, Customer, check_id
from privdomain.domain.money import _currency_code
from privdomain.domain.tables import CustomerTable, EventLog, Tables
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import UnknownCustomerError, ValidationError

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot
    from privdomain.ports import TouchpointLog

__all__ = ["EventLog", "Pool"]

_REASONS = list(RejectReason)
_OK = 255  # reason code of a row that passed every check so far
_CODE = {reason: np.uint8(i) for i, reason in enumerate(_REASONS)}
_PROMOTION = np.uint8(1)
_NAT = np.iinfo(np.int64).min  # "no instant given"


def _normal_currency(code: object) -> str | None:
    """The ISO code ``code`` stands for, or ``None`` if it is no currency code at all."""
    try:
        return _currency_code(str(code))
    except ValidationError:
        return None


def _valid_ids(values: NDArray[np.object_]) -> NDArray[np.bool_]:
    """The rule of :func:`~privdomain.domain.customer.check_id` on a column, in C-level passes."""
    items = values.tolist()
    if set(map(type, items)) - {str}:
        return np.fromiter(map(_valid_id, items), dtype=bool, count=len(items))
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    printable = np.fromiter(map(str.isprintable, items), dtype=bool, count=len(items))
    blank = np.fromiter(map(str.isspace, items), dtype=bool, count=len(items))
    valid: NDArray[np.bool_] = (lengths > 0) & (lengths <= MAX_ID_LENGTH) & printable & ~blank
    return valid


def _valid_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not value.isspace()
    )


def _lookup(index: Mapping[str, int], keys: NDArray[np.object_]) -> NDArray[np.int64]:
    """Dense indices of ``keys`` in ``index``; -1 where absent (or not a valid key at all)."""
    items = keys.tolist()
    try:
        found = map(index.get, items, itertools.repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(items))
    except TypeError:  # an unhashable key: fall back to checking each one
        return np.fromiter(
            (index.get(k, -1) if isinstance(k, str) else -1 for k in items), np.int64, len(items)
        )


class Pool:
    """A brand's pool of customers and the touchpoints it has with them.

    The pool owns its customers (interned to dense indices ``0..n-1`` in order of arrival), the
    history of their profiles and an append-only, columnar event log. :meth:`ingest` is the
    only way in; it is idempotent by touchpoint id, reports every record, and is atomic: a
    batch is validated and staged first, and should anything fail while it is written (even
    ``MemoryError``), the pool is restored to exactly what it was before the batch.
    :meth:`tables` hands out an immutable view of what the pool holds and :meth:`snapshot`
    computes per-customer features as of any instant.

    A pool may be shared by several threads: :meth:`ingest`, :meth:`tables`,
    :meth:`snapshot` and every read take one lock, so each call sees the pool between batches,
    never in the middle of one. Snapshots are computed outside the lock, on an immutable view.

    Parameters
    ----------
    tenant
        The brand this pool belongs to; records of any other tenant are rejected.
    currency
        The currency of every amount in this pool (ISO 4217, default ``"CNY"``).
    utc_offset
        The fixed offset of the brand's business day from UTC (``timedelta(hours=8)`` for
        China). Purchase *days* are cut at midnight in this offset.
    tags, attributes
        Declared tag and attribute names: every snapshot has a column for each, even when no
        customer carries it yet, so that snapshots of different partitions or dates share one
        schema. Names used by customers are added to the schema as they arrive.

    Examples
    --------
    >>> import datetime as dt
    >>> from privdomain import Customer, Money, Pool, Touchpoint
    >>> tz = dt.timezone(dt.timedelta(hours=8))
    >>> pool = Pool("brand", utc_offset=dt.timedelta(hours=8))
    >>> report = pool.ingest([
    ...     Customer("c1", "brand", dt.datetime(2026, 1, 1, tzinfo=tz), source="douyin"),
    ...     Touchpoint("t1", "brand", "c1", dt.datetime(2026, 1, 2, tzinfo=tz), "wecom",
    ...                "purchased", amount=Money.of("99.00")),
    ... ])
    >>> report.customers_added, report.touchpoints_accepted
    (1, 1)
    >>> snap = pool.snapshot(as_of=dt.datetime(2026, 2, 1, tzinfo=tz))
    >>> float(snap.gross_spend[0])
    99.0
    """

    def __init__(
        self,
        tenant: str,
        *,
        currency: str = "CNY",
        utc_offset: dt.timedelta = dt.timedelta(0),
        tags: Iterable[str] = (),
        attributes: Iterable[str] = (),
    ) -> None:
        self._tenant = check_id(tenant, what="tenant")
        self._currency = _currency_code(currency)
        if not isinstance(utc_offset, dt.timedelta) or abs(utc_offset) >= dt.timedelta(days=1):
            raise ValidationError(f"utc_offset must be a timedelta under a day, got {utc_offset!r}")
        if utc_offset % dt.timedelta(seconds=1):
            raise ValidationError("utc_offset must be a whole number of seconds")
        self._utc_offset = utc_offset
        self._declared_tags = _declared(tags, "tags")
        self._declared_attributes = _declared(attributes, "attributes")
        self._lock = threading.RLock()
        # customers
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._joined: Column[np.int64] = Column(np.int64)
        self._source: Column[np.uint8] = Column(np.uint8)
        self._referrer: Column[np.int32] = Column(np.int32)
        self._profile = ProfileStore()
        self._agent_ids: list[str] = []
        self._agent_index: dict[str, int] = {}
        self._store_ids: list[str] = []
        self._store_index: dict[str, int] = {}
        # events
        self._ev_customer: Column[np.int32] = Column(np.int32)
        self._ev_at: Column[np.int64] = Column(np.int64)
        self._ev_kind: Column[np.uint8] = Column(np.uint8)
        self._ev_channel: Column[np.uint8] = Column(np.uint8)
        self._ev_flags: Column[np.uint8] = Column(np.uint8)
        self._money_amount: Column[np.int64] = Column(np.int64)
        self._money_discount: Column[np.int64] = Column(np.int64)
        self._money_order: Column[np.int64] = Column(np.int64)
        self._money_order_named: Column[np.bool_] = Column(np.bool_)
        self._order_labels: dict[int, object] = {}
        self._related_rows: Column[np.int64] = Column(np.int64)
        self._related: Column[np.int32] = Column(np.int32)
        self._agent_rows: Column[np.int64] = Column(np.int64)
        self._agent_of_event: Column[np.int32] = Column(np.int32)
        # fingerprints of every touchpoint id seen, sorted, for idempotent ingest
        self._seen_str: NDArray[np.uint64] = np.empty(0, np.uint64)
        self._seen_int: NDArray[np.int64] = np.empty(0, np.int64)
        self._log_cursor = 0

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._seen_str = canonical(self._seen_str)
        self._seen_int = canonical(self._seen_int)

    # ------------------------------------------------------------------ properties
    @property
    def tenant(self) -> str:
        """The brand this pool belongs to."""
        return self._tenant

    @property
    def currency(self) -> str:
        """The currency of every amount in the pool."""
        return self._currency

    @property
    def utc_offset(self) -> dt.timedelta:
        """The offset from UTC at which business days are cut."""
        return self._utc_offset

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, customer_id: object) -> bool:
        return isinstance(customer_id, str) and customer_id in self._index

    def __repr__(self) -> str:
        return (
            f"Pool(tenant={self._tenant!r}, customers={len(self)}, "
            f"touchpoints={self.n_touchpoints}, currency={self._currency!r})"
        )

    @property
    def n_touchpoints(self) -> int:
        """Number of touchpoints in the event log."""
        return len(self._ev_at)

    @property
    def customer_ids(self) -> NDArray[np.object_]:
        """Customer ids in index order (a copy)."""
        with self._lock:
            return np.array(self._ids, dtype=object)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """Agent ids in index order."""
        with self._lock:
            return tuple(self._agent_ids)

    @property
    def store_ids(self) -> tuple[str, ...]:
        """Store ids in index order."""
        with self._lock:
            return tuple(self._store_ids)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The declared tags and every tag some customer ever had, sorted."""
        with self._lock:
            return self._schema("tag:", self._declared_tags)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The declared attributes and every attribute some customer ever had, sorted."""
        with self._lock:
            return self._schema("attr:", self._declared_attributes)

    def _schema(self, prefix: str, declared: tuple[str, ...]) -> tuple[str, ...]:
        used = {name[len(prefix) :] for name in self._profile if name.startswith(prefix)}
        return tuple(sorted(used | set(declared)))

    def index_of(self, customer_ids: Iterable[str] | str) -> NDArray[np.int64]:
        """Dense indices of ``customer_ids``; :class:`UnknownCustomerError` if any is absent."""
        keys = np.array(
            [customer_ids] if isinstance(customer_ids, str) else list(customer_ids), dtype=object
        )
        with self._lock:
            found = _lookup(self._index, keys)
        if (found < 0).any():
            missing = keys[found < 0][:5].tolist()
            raise UnknownCustomerError(f"not in the pool: {missing}")
        return found

    def customer(self, customer_id: str) -> Customer:
        """The :class:`Customer` with ``customer_id`` as the pool knows them now (latest
        profile), rebuilt from the pool's columns."""
        with self._lock:
            i = int(self.index_of(customer_id)[0])
            profile = self._profile
            referrer = int(self._referrer.values[i])
            agent = int(profile.current("agent")[i])
            consent = frozenset(c for c in OWNED_CHANNELS if profile.current(_consent_field(c))[i])
            tags = frozenset(
                name[4:] for name in profile if name.startswith("tag:") and profile.current(name)[i]
            )
            attributes = {
                name[5:]: profile.current(name)[i]
                for name in profile
                if name.startswith("attr:") and profile.current(name)[i] is not None
            }
            return Customer(
                id=self._ids[i],
                tenant=self._tenant,
                joined_at=micros_to_datetime(int(self._joined.values[i])),
                source=Channel(int(self._source.values[i])),
                attributes=attributes,
                tags=tags,
                consent=consent,
                referrer_id=self._ids[referrer] if referrer >= 0 else None,
                agent_id=self._agent_ids[agent] if agent >= 0 else None,
            )

    def customers(self) -> list[Customer]:
        """Every customer, as objects (one pass; for export, not for hot paths)."""
        with self._lock:
            return [self.customer(c) for c in self._ids]

    @property
    def events(self) -> EventLog:
        """A read-only view of the event log."""
        with self._lock:
            return EventLog(
                customer=self._ev_customer.values,
                at=self._ev_at.values,
                kind=self._ev_kind.values,
                channel=self._ev_channel.values,
                flags=self._ev_flags.values,
                money_amount=self._money_amount.values,
                money_discount=self._money_discount.values,
                money_order=self._money_order.values,
                money_order_named=self._money_order_named.values,
                order_labels=MappingProxyType(dict(self._order_labels)),
                related_rows=self._related_rows.values,
                related_values=self._related.values,
                agent_rows=self._agent_rows.values,
                agent_values=self._agent_of_event.values,
            )

    def tables(self) -> Tables:
        """An immutable view of everything the pool holds: customers, profile histories and
        the event log. Later batches do not change it."""
        with self._lock:
            return Tables(
                tenant=self._tenant,
                currency=self._currency,
                utc_offset=self._utc_offset,
                customers=CustomerTable(
                    ids=np.array(self._ids, dtype=object),
                    joined=self._joined.values,
                    source=self._source.values,
                    referrer=self._referrer.values,
                ),
                events=self.events,
                profile=MappingProxyType(self._profile.histories()),
                agent_ids=tuple(self._agent_ids),
                store_ids=tuple(self._store_ids),
                tags=self._schema("tag:", self._declared_tags),
                attributes=self._schema("attr:", self._declared_attributes),
                declared_tags=self._declared_tags,
                declared_attributes=self._declared_attributes,
            )

    # ------------------------------------------------------------------ atomic writes
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[list[tuple[Column[Any], Any, Any]]]:
        """Run a batch's writes; on any exception, put the pool back as it was."""
        columns = [value for value in self.__dict__.values() if isinstance(value, Column)]
        sizes = [len(c) for c in columns]
        n_ids, n_agents, n_stores = len(self._ids), len(self._agent_ids), len(self._store_ids)
        index, labels = self._index, dict(self._order_labels)
        seen = (self._seen_int, self._seen_str, self._log_cursor)
        profile = self._profile.checkpoint()
        undo: list[tuple[Column[Any], Any, Any]] = []
        try:
            yield undo
        except BaseException:
            for column, size in zip(columns, sizes, strict=True):
                column.truncate(size)
            self._profile.restore(profile, undo)
            for name in self._ids[n_ids:]:
                if index.get(name, -1) >= n_ids:
                    del index[name]
            self._index = index
            del self._ids[n_ids:]
            for key in self._agent_ids[n_agents:]:
                self._agent_index.pop(key, None)
            del self._agent_ids[n_agents:]
            for key in self._store_ids[n_stores:]:
                self._store_index.pop(key, None)
            del self._store_ids[n_stores:]
            self._order_labels = labels
            self._seen_int, self._seen_str, self._log_cursor = seen
            raise

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        batch: Batch
        | CustomerColumns
        | TouchpointColumns
        | ProfileChanges
        | Iterable[Customer | Touchpoint],
    ) -> IngestReport:
        """Take customers, profile changes and touchpoints into the pool; report what became of
        each record.

        Customers are taken before touchpoints, so a batch may hold both a new customer and their
        first touchpoints. Touchpoints whose id the pool has already seen (or that repeat an id
        earlier in the batch) are duplicates: the first version is kept and they are reported,
        so ingesting a batch twice leaves the pool as after once. A rejected record changes
        nothing, and the batch as a whole is atomic: if the call raises, the pool is exactly as
        it was before.

        Profiles are *as of*: a customer's consent, agent, store, tags and attributes take
        effect at an instant, and snapshots before it do not see them. A new customer's profile
        takes effect when they join (or at ``updated_at`` if given). A customer already in the
        pool whose record differs in consent, agent, store, tags or attributes is updated from
        its ``updated_at`` on; a differing record without ``updated_at``, or dated before the
        customer's latest recorded change, is rejected (the pool never guesses when something
        happened, and never rewrites history). One that changes ``joined_at``, ``source`` or
        ``referrer_id`` is rejected as a conflict. :class:`ProfileChanges` changes only the
        fields it names, the vectorised way to update many customers.
        """
        customers, changes, touchpoints = _split_batch(batch)
        with self._lock, self._transaction() as undo:
            report = IngestReport()
            if customers is not None and len(customers):
                report = self._ingest_customers(customers, undo)
            if changes is not None and len(changes):
                report = _merge(report, self._ingest_changes(changes, undo))
            if touchpoints is not None and len(touchpoints):
                report = _merge(report, self._ingest_touchpoints(touchpoints))
            return report

    # ------------------------------------------------------------------ profiles
    def _profile_values(
        self, cols: CustomerColumns, rows: NDArray[np.int64], *, intern: bool
    ) -> dict[str, NDArray[Any]]:
        """The profile that rows ``rows`` of ``cols`` give, field by field.

        Agents and stores are looked up (``intern=False``: an unknown one reads as -2, which
        differs from every current value) or interned (``intern=True``, to be written).
        """
        values: dict[str, NDArray[Any]] = {}
        consent = cols.consent[rows].astype(np.int64)
        for channel in OWNED_CHANNELS:
            values[_consent_field(channel)] = (consent >> channel.value & 1).astype(bool)
        values["agent"] = self._codes(
            cols.agent_id[rows], self._agent_ids, self._agent_index, intern
        )
        store = getattr(cols, "store_id", None)
        if store is not None:
            values["store"] = self._codes(store[rows], self._store_ids, self._store_index, intern)
        if cols.tags is not None:
            for name in set(cols.tags) | {f[4:] for f in self._profile if f.startswith("tag:")}:
                given = cols.tags.get(name)
                values[f"tag:{name}"] = np.zeros(rows.size, bool) if given is None else given[rows]
        if cols.attributes is not None:
            for name in set(cols.attributes) | {
                f[5:] for f in self._profile if f.startswith("attr:")
            }:
                column = cols.attributes.get(name)
                values[f"attr:{name}"] = (
                    np.full(rows.size, None, dtype=object) if column is None else column[rows]
                )
        return values

    @staticmethod
    def _codes(
        names: NDArray[np.object_], table: list[str], index: dict[str, int], intern: bool
    ) -> NDArray[np.int32]:
        out = np.full(names.size, -1, dtype=np.int32)
        given = np.flatnonzero(names != None)  # noqa: E711 - elementwise on objects
        if given.size == 0:
            return out
        if intern:
            for name in dict.fromkeys(names[given].tolist()):
                if name not in index:
                    index[name] = len(table)
                    table.append(name)
        found = _lookup(index, names[given])
        out[given] = np.where(found < 0, -2, found)
        return out

    def _update_profiles(
        self,
        index: NDArray[np.int64],
        at: NDArray[np.int64],
        values_of: Any,
        reject: Any,
        undo: list[tuple[Column[Any], Any, Any]],
    ) -> tuple[int, int]:
        """Apply profile records to existing customers ``index``, in rounds so that each round
        holds a customer at most once (the k-th record of every customer in round k).

        ``values_of(positions, intern)`` gives the fields of the records at ``positions``;
        ``at`` is each record's instant (``_NAT`` when the record gave none). Records that would
        change something without an instant, or before the customer's latest change, are
        rejected through ``reject(position, reason, text)``. Returns (updated, unchanged).
        """
        updated = unchanged = 0
        if index.size == 0:
            return 0, 0
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        starts = np.ones(ordered.size, dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        position = np.arange(ordered.size)
        first_of_group = np.maximum.accumulate(np.where(starts, position, 0))
        rank = np.empty(index.size, dtype=np.int64)
        rank[order] = position - first_of_group
        for r in range(int(rank.max()) + 1):
            pos = np.flatnonzero(rank == r)
            who = index[pos]
            when = at[pos]
            differ = self._profile.differs(who, values_of(pos, False))
            latest = self._profile.changed_at.values[who]
            undated = differ & (when == _NAT)
            early = differ & ~undated & (when < latest)
            for k in np.flatnonzero(undated).tolist():
                reject(
                    int(pos[k]),
                    RejectReason.INVALID,
                    "changes the customer's profile but gives no updated_at: say when the "
                    "change took effect",
                )
            for k in np.flatnonzero(early).tolist():
                reject(
                    int(pos[k]),
                    RejectReason.CONFLICT,
                    f"dated {micros_to_datetime(int(when[k])).isoformat()}, before the "
                    "customer's latest recorded change at "
                    f"{micros_to_datetime(int(latest[k])).isoformat()}",
                )
            write = np.flatnonzero(differ & ~undated & ~early)
            if write.size:
                self._profile.write(who[write], when[write], values_of(pos[write], True), undo)
            updated += int(write.size)
            unchanged += int((~differ).sum())
        return updated, unchanged

    # ------------------------------------------------------------------ customers
    def _ingest_customers(
        self, cols: CustomerColumns, undo: list[tuple[Column[Any], Any, Any]]
    ) -> IngestReport:
        n = len(cols)
        ids = cols.id
        reasons: dict[int, tuple[RejectReason, str]] = {}

        def reject(i: int, why: RejectReason, text: str) -> None:
            reasons.setdefault(i, (why, text))

        def flag(mask: NDArray[np.bool_] | bool, why: RejectReason, text: str) -> None:
            for i in np.flatnonzero(np.broadcast_to(mask, (n,))).tolist():
                reject(i, why, text)

        flag(
            ~_valid_ids(ids), RejectReason.INVALID, "customer id must be a non-empty printable str"
        )
        flag(
            np.asarray(cols.tenant != self._tenant),
            RejectReason.WRONG_TENANT,
            f"tenant is not this pool's tenant {self._tenant!r}",
        )
        flag(cols.source == 255, RejectReason.INVALID, "unknown source channel")
        has_referrer = cols.referrer_id != None  # noqa: E711 - elementwise on objects
        if has_referrer.any():
            bad = np.zeros(n, bool)
            bad[has_referrer] = ~_valid_ids(cols.referrer_id[has_referrer])
            flag(bad, RejectReason.INVALID, "referrer id must be a non-empty printable str")
            flag(
                has_referrer & (cols.referrer_id == ids),
                RejectReason.INVALID,
                "a customer cannot be their own referrer",
            )
        for what in ("agent_id", "store_id"):
            column = getattr(cols, what, None)
            if column is None:
                continue
            given = column != None  # noqa: E711
            if given.any():
                bad = np.zeros(n, bool)
                bad[given] = ~_valid_ids(column[given])
                flag(bad, RejectReason.INVALID, f"{what} must be a non-empty printable str")
        for name in cols.tags or {}:
            flag(np.array(not _valid_id(name)), RejectReason.INVALID, f"tag {name!r} is not valid")
        for name, column in (cols.attributes or {}).items():
            flag(
                np.array(not _valid_id(name)),
                RejectReason.INVALID,
                f"attribute name {name!r} is not valid",
            )
            flag(
                ~_scalar_values(column),
                RejectReason.INVALID,
                f"attribute {name!r} must be str, int, float, bool or None",
            )
        updated_at = getattr(cols, "updated_at", None)
        if updated_at is None:
            updated_at = np.full(n, _NAT, dtype=np.int64)
        flag(
            (updated_at != _NAT) & (updated_at < cols.joined_at),
            RejectReason.INVALID,
            "updated_at is before joined_at",
        )

        usable = np.ones(n, bool)
        usable[list(reasons)] = False
        if reasons:
            hashable = ids.copy()
            hashable[~usable] = None  # invalid ids may not even be hashable
        else:
            hashable = ids
        # each id's first row in the batch; without repeats a plain dict(zip) says the same
        table: dict[Any, int] = dict(zip(hashable.tolist(), range(n), strict=True))
        if len(table) == n:
            first = np.arange(n)
        else:
            table = {}
            first = np.fromiter(
                map(table.setdefault, hashable.tolist(), itertools.count()), np.int64, n
            )
        new = usable & (first == np.arange(n))
        if self._index:
            new &= _lookup(self._index, hashable) < 0
        repeat_rows = np.flatnonzero(usable & ~new).tolist()
        referrers = cols.referrer_id.tolist()
        effective = np.where(updated_at == _NAT, cols.joined_at, updated_at)
        add = functools.partial(
            self._add_new_customers,
            cols,
            referrers=referrers,
            reject=reject,
            batch_index=table,
            effective=effective,
            undo=undo,
        )
        added = add(np.flatnonzero(new))
        # A repeat whose first row was rejected is, in order, the first of its id: add it.
        while True:
            orphans: dict[str, int] = {}
            for i in repeat_rows:
                if i not in reasons and ids[i] not in self._index:
                    orphans.setdefault(ids[i], i)
            if not orphans:
                break
            repeat_rows = [i for i in repeat_rows if i not in orphans.values()]
            added += add(np.array(sorted(orphans.values()), dtype=np.int64))

        rows = np.array([i for i in repeat_rows if i not in reasons], dtype=np.int64)
        index = _lookup(self._index, ids[rows]) if rows.size else np.empty(0, np.int64)
        # the facts of a customer never change
        conflict = np.zeros(rows.size, dtype=np.int8)
        if rows.size:
            referrer = np.full(rows.size, -1, dtype=np.int64)
            named = np.flatnonzero(cols.referrer_id[rows] != None)  # noqa: E711
            referrer[named] = _lookup(self._index, cols.referrer_id[rows][named])
            referrer[named[referrer[named] < 0]] = -2
            checks = (
                (self._joined.values[index] != cols.joined_at[rows], "joined_at", "join time"),
                (self._source.values[index] != cols.source[rows], "source", "source"),
                (self._referrer.values[index] != referrer, "referrer", "referrer"),
            )
            for k, (mask, _, _) in enumerate(checks, start=1):
                conflict[(conflict == 0) & mask] = k
            for j in np.flatnonzero(conflict).tolist():
                _, field, noun = checks[conflict[j] - 1]
                reject(
                    int(rows[j]),
                    RejectReason.CONFLICT,
                    f"{field} differs from the customer's recorded {noun}",
                )
        keep = conflict == 0
        rows, index = rows[keep], index[keep]

        def values_of(pos: NDArray[np.int64], intern: bool) -> dict[str, NDArray[Any]]:
            return self._profile_values(cols, rows[pos], intern=intern)

        updated, unchanged = self._update_profiles(
            index,
            updated_at[rows],
            values_of,
            lambda k, why, text: reject(int(rows[k]), why, text),
            undo,
        )
        rejected = tuple(
            Rejection(record="customer", index=i, id=ids[i], reason=why, detail=text)
            for i, (why, text) in sorted(reasons.items())
        )
        return IngestReport(
            customers_added=added,
            customers_updated=updated,
            customers_unchanged=unchanged,
            rejected=rejected,
        )

    def _ingest_changes(
        self, changes: ProfileChanges, undo: list[tuple[Column[Any], Any, Any]]
    ) -> IngestReport:
        n = len(changes)
        reasons: dict[int, tuple[RejectReason, str]] = {}

        def reject(i: int, why: RejectReason, text: str) -> None:
            reasons.setdefault(i, (why, text))

        ids = changes.customer_id.decode()
        wrong_tenant = np.asarray(changes.tenant != self._tenant)
        for i in np.flatnonzero(np.broadcast_to(wrong_tenant, (n,))).tolist():
            reject(
                i, RejectReason.WRONG_TENANT, f"tenant is not this pool's tenant {self._tenant!r}"
            )
        index = self._resolve(changes.customer_id).astype(np.int64)
        for i in np.flatnonzero(index < 0).tolist():
            reject(i, RejectReason.UNKNOWN_CUSTOMER, f"customer {ids[i]!r} is not in the pool")
        known = np.flatnonzero(index >= 0)
        early = known[changes.at[known] < self._joined.values[index[known]]]
        for i in early.tolist():
            reject(i, RejectReason.INVALID, "the change is dated before the customer joined")
        for what in ("agent_id", "store_id"):
            column = getattr(changes, what)
            if column is None:
                continue
            given = np.flatnonzero(column != None)  # noqa: E711
            for i in given[~_valid_ids(column[given])].tolist():
                reject(i, RejectReason.INVALID, f"{what} must be a non-empty printable str")
        for name, column in changes.attributes.items():
            for i in np.flatnonzero(~_scalar_values(column)).tolist():
                reject(
                    i,
                    RejectReason.INVALID,
                    f"attribute {name!r} must be str, int, float, bool or None",
                )
        rows = np.array([i for i in range(n) if i not in reasons], dtype=np.int64)

        def values_of(pos: NDArray[np.int64], intern: bool) -> dict[str, NDArray[Any]]:
            picked = rows[pos]
            values: dict[str, NDArray[Any]] = {
                _consent_field(c): col[picked] for c, col in changes.consent.items()
            }
            if changes.agent_id is not None:
                values["agent"] = self._codes(
                    changes.agent_id[picked], self._agent_ids, self._agent_index, intern
                )
            if changes.store_id is not None:
                values["store"] = self._codes(
                    changes.store_id[picked], self._store_ids, self._store_index, intern
                )
            values.update({f"tag:{t}": col[picked] for t, col in changes.tags.items()})
            values.update({f"attr:{a}": col[picked] for a, col in changes.attributes.items()})
            return values

        updated, unchanged = self._update_profiles(
            index[rows],
            changes.at[rows],
            values_of,
            lambda k, why, text: reject(int(rows[k]), why, text),
            undo,
        )
        rejected = tuple(
            Rejection(record="profile_change", index=i, id=ids[i], reason=why, detail=text)
            for i, (why, text) in sorted(reasons.items())
        )
        return IngestReport(
            customers_updated=updated, customers_unchanged=unchanged, rejected=rejected
        )

    def _add_new_customers(
        self,
        cols: CustomerColumns,
        rows: NDArray[np.int64],
        *,
        referrers: list[Any],
        reject: Any,
        batch_index: Mapping[Any, int],
        effective: NDArray[np.int64],
        undo: list[tuple[Column[Any], Any, Any]],
    ) -> int:
        """Append the customers at ``rows`` (new, distinct ids); returns how many were taken."""
        if rows.size == 0:
            return 0
        base = len(self._ids)
        # referrer: an existing customer (its index) or a new one of this batch (base + position)
        ref_ids = cols.referrer_id[rows]
        has_ref = ref_ids != None  # noqa: E711
        ref = np.full(rows.size, -1, dtype=np.int64)
        pending = np.zeros(rows.size, bool)
        if has_ref.any():
            ref[has_ref] = _lookup(self._index, ref_ids[has_ref])
            unresolved = np.flatnonzero(has_ref & (ref < 0))
            if unresolved.size:
                # referrers new in this batch: their row, then their position among ``rows``
                position = np.full(len(cols) + 1, -1, dtype=np.int64)
                position[rows] = np.arange(rows.size)
                batch_row = _lookup(batch_index, ref_ids[unresolved])
                k_of = position[batch_row]  # batch_row -1 picks the last slot: -1
                pending[unresolved[k_of < 0]] = True
                ref[unresolved[k_of >= 0]] = base + k_of[k_of >= 0]
        alive = ~pending
        # a referrer row that is rejected takes its referees with it (to a fixpoint)
        while pending.any() and (ref >= base).any():
            internal = ref >= base
            dead = internal & ~alive[np.clip(ref - base, 0, rows.size - 1)]
            newly = dead & alive
            if not newly.any():
                break
            alive &= ~newly
            pending |= newly
        for k in np.flatnonzero(pending).tolist():
            reject(
                int(rows[k]),
                RejectReason.UNKNOWN_REFERRER,
                f"referrer {referrers[int(rows[k])]!r} is neither in the pool "
                "nor accepted in this batch",
            )
        cyclic = _on_or_into_cycle(np.where(ref >= base, ref - base, -1)) & alive
        for k in np.flatnonzero(cyclic).tolist():
            reject(
                int(rows[k]),
                RejectReason.REFERRAL_CYCLE,
                "the referrer chain loops back to this customer",
            )
        alive &= ~cyclic
        if not alive.all():
            # renumber: accepted rows get consecutive indices
            kept = np.flatnonzero(alive)
            new_pos = np.full(rows.size, -1, dtype=np.int64)
            new_pos[kept] = np.arange(kept.size)
            internal = ref >= base
            ref = np.where(internal, base + new_pos[np.clip(ref - base, 0, rows.size - 1)], ref)
            rows, ref = rows[kept], ref[kept]
        m = rows.size
        new_ids = cols.id[rows].tolist()
        self._ids.extend(new_ids)
        if base == 0 and m == len(cols) and len(batch_index) == m and isinstance(batch_index, dict):
            # a first batch taken whole, without repeats: its row index is the pool's index
            # (nothing else reads the batch index after this)
            self._index = batch_index
        else:
            self._index.update(zip(new_ids, range(base, base + m), strict=True))
        self._joined.extend(cols.joined_at[rows])
        self._source.extend(cols.source[rows])
        self._referrer.extend(ref.astype(np.int32))
        # the profile a new customer arrives with holds from when they joined (or updated_at)
        index = np.arange(base, base + m)
        self._profile.grow(m, effective[rows])
        self._profile.write(
            index, effective[rows], self._profile_values(cols, rows, intern=True), undo
        )
        return m

    def _ingest_touchpoints(self, cols: TouchpointColumns) -> IngestReport:
        n = len(cols)
        reason = np.full(n, _OK, dtype=np.uint8)
        texts: dict[RejectReason, list[tuple[NDArray[np.bool_], str]]] = {}

        def flag(mask: NDArray[np.bool_] | bool, why: RejectReason, text: str) -> None:
            # the first failing check of a row is its reason
            hit = np.asarray(mask) & (reason == _OK)
            if hit.any():
                reason[hit] = _CODE[why]
                texts.setdefault(why, []).append((hit, text))

        int_ids = cols.id.dtype.kind in "iu"
        if not int_ids:
            flag(
                ~_valid_ids(cols.id),
                RejectReason.INVALID,
                f"touchpoint id must be a non-empty printable str of at most {MAX_ID_LENGTH} chars",
            )
        if isinstance(cols.tenant, str):
            flag(
                cols.tenant != self._tenant,
                RejectReason.WRONG_TENANT,
                f"tenant {cols.tenant!r} is not this pool's tenant {self._tenant!r}",
            )
        else:
            flag(
                cols.tenant != self._tenant,
                RejectReason.WRONG_TENANT,
                f"tenant is not this pool's tenant {self._tenant!r}",
            )
        flag(
            cols.channel == 255,
            RejectReason.INVALID,
            "unknown channel; the channels are "
            + ", ".join(c.name.lower() for c in Channel if c is not Channel.REFERRAL),
        )
        flag(
            cols.channel == Channel.REFERRAL.value,
            RejectReason.INVALID,
            "REFERRAL is a source of customers, not a channel to touch them on",
        )
        flag(
            cols.kind == 255,
            RejectReason.INVALID,
            "unknown touch kind; the kinds are " + ", ".join(k.name.lower() for k in TouchKind),
        )
        monetary = (cols.kind == TouchKind.PURCHASED.value) | (
            cols.kind == TouchKind.REFUNDED.value
        )
        flag(
            monetary & (cols.amount_state != 1),
            RejectReason.INVALID_AMOUNT,
            "purchases and refunds need a finite, non-negative amount",
        )
        flag(
            ~monetary & (cols.amount_state != 0),
            RejectReason.INVALID,
            "only purchases and refunds carry an amount",
        )
        flag(
            cols.discount_minor < 0,
            RejectReason.INVALID_AMOUNT,
            "discount must be finite and non-negative",
        )
        flag(
            (cols.discount_minor > 0) & (cols.kind != TouchKind.PURCHASED.value),
            RejectReason.INVALID,
            "only purchases carry a discount",
        )
        with_amount = cols.amount_state == 1
        if isinstance(cols.currency, str):
            if _normal_currency(cols.currency) != self._currency:
                flag(
                    with_amount,
                    RejectReason.CURRENCY_MISMATCH,
                    f"currency {cols.currency!r} is not the pool's {self._currency}",
                )
        else:
            codes = cols.currency.tolist()
            normal = {c: _normal_currency(c) for c in set(codes)}  # a handful of distinct codes
            normalised = np.fromiter(map(normal.__getitem__, codes), dtype=object, count=n)
            foreign = normalised != self._currency
            flag(
                with_amount & foreign,
                RejectReason.CURRENCY_MISMATCH,
                f"currency is not the pool's {self._currency}",
            )
        customer = self._resolve(cols.customer_id)
        flag(customer < 0, RejectReason.UNKNOWN_CUSTOMER, "customer is not in the pool")
        related = self._resolve(cols.related_customer_id)
        has_related = cols.related_customer_id.present()
        flag(
            has_related & (related < 0),
            RejectReason.UNKNOWN_RELATED_CUSTOMER,
            "related customer is not in the pool",
        )
        flag(
            has_related & (related == customer),
            RejectReason.INVALID,
            "a customer cannot invite or reach themselves",
        )
        agents = cols.agent_id
        if agents.present().any():
            bad_agent = ~_valid_ids(agents.values)
            if bad_agent.any():
                flag(
                    agents.present() & bad_agent[np.maximum(agents.codes, 0)],
                    RejectReason.INVALID,
                    "agent id must be a non-empty printable str",
                )

        ok = reason == _OK
        everything = bool(ok.all())
        rows = np.arange(0) if everything else np.flatnonzero(ok)  # unused when everything
        # idempotency: first occurrence of an id wins, in the batch and across batches
        keys: NDArray[Any] = cols.id if int_ids else fingerprint_strings(cols.id)
        if not everything:
            keys = keys[rows]
        seen = self._seen_int if int_ids else self._seen_str
        fresh, sorted_fresh = _first_unseen(keys.astype(seen.dtype, copy=False), seen)
        if fresh is not None:
            if everything:
                rows = np.arange(n)
            duplicates = rows[~fresh]
            rows = rows[fresh]
            everything = False
        else:
            duplicates = np.empty(0, dtype=np.int64)

        self._append_events(cols, None if everything else rows, customer, related)
        if seen.size:
            merged = np.concatenate([seen, sorted_fresh])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
        else:
            # never keep a view of the caller's array
            shared = np.may_share_memory(sorted_fresh, cols.id)
            merged = sorted_fresh.copy() if shared else sorted_fresh
        if int_ids:
            self._seen_int = merged
        else:
            self._seen_str = merged

        unknown = RejectReason.UNKNOWN_CUSTOMER
        named_ids = cols.customer_id.decode() if (reason == _CODE[unknown]).any() else ids_none
        unknown_related = RejectReason.UNKNOWN_RELATED_CUSTOMER
        related_ids = (
            cols.related_customer_id.decode()
            if (reason == _CODE[unknown_related]).any()
            else ids_none
        )
        rejected = tuple(
            Rejection(
                record="touchpoint",
                index=int(i),
                id=cols.id[i].item() if int_ids else cols.id[i],
                reason=_REASONS[int(reason[i])],
                detail=(
                    f"customer {named_ids[i]!r} is not in the pool"
                    if _REASONS[int(reason[i])] is unknown
                    else f"related customer {related_ids[i]!r} is not in the pool"
                    if _REASONS[int(reason[i])] is unknown_related
                    else _first_text(texts, _REASONS[int(reason[i])], int(i))
                ),
            )
            for i in np.flatnonzero(~ok)
        )
        return IngestReport(
            touchpoints_accepted=n if everything else int(rows.size),
            duplicate_touchpoints=duplicates.astype(np.int64),
            rejected=rejected,
        )

    def _resolve(self, ids: EncodedIds) -> NDArray[np.int32]:
        """Pool indices of dictionary-encoded customer ids (-1 where absent or unknown)."""
        used = ids.used()
        found = np.full(ids.values.size + 1, -1, dtype=np.int32)  # last slot: code -1
        found[used] = _lookup(self._index, ids.values[used])
        return found[ids.codes]

    def _append_events(
        self,
        cols: TouchpointColumns,
        rows: NDArray[np.intp] | None,
        customer: NDArray[np.int32],
        related: NDArray[np.int32],
    ) -> None:
        def pick(values: NDArray[Any]) -> NDArray[Any]:
            return values if rows is None else values[rows]

        agent_codes = pick(cols.agent_id.codes)
        agent = np.full(agent_codes.size, -1, dtype=np.int32)
        has_agent = agent_codes >= 0
        if has_agent.any():
            agent[has_agent] = self._intern_agents(cols.agent_id.values[agent_codes[has_agent]])
        base = len(self._ev_at)
        kinds = pick(cols.kind)
        money = np.flatnonzero(IS_MONETARY[kinds])
        self._ev_customer.extend(pick(customer))
        self._ev_at.extend(pick(cols.at))
        self._ev_kind.extend(kinds)
        self._ev_channel.extend(pick(cols.channel))
        self._ev_flags.extend(pick(cols.promotion).astype(np.uint8) * _PROMOTION)
        self._money_amount.extend(pick(cols.amount_minor)[money])
        self._money_discount.extend(pick(cols.discount_minor)[money])
        self._append_orders(cols, pick(np.arange(len(cols)))[money], kinds[money])
        related_of = pick(related)
        named = np.flatnonzero(related_of >= 0)
        self._related_rows.extend(base + named)
        self._related.extend(related_of[named])
        with_agent = np.flatnonzero(agent >= 0)
        self._agent_rows.extend(base + with_agent)
        self._agent_of_event.extend(agent[with_agent])

    def _intern_agents(self, agent_ids: NDArray[np.object_]) -> NDArray[np.int32]:
        return self._codes(agent_ids, self._agent_ids, self._agent_index, True)

    def _append_orders(
        self, cols: TouchpointColumns, rows: NDArray[np.intp], kinds: NDArray[np.uint8]
    ) -> None:
        """Order keys of the monetary rows ``rows``: a purchase's order is its ``order_id``
        (or, without one, its touchpoint id); a refund names the order it reverses, if any."""
        given = getattr(cols, "order_id", None)
        purchase = kinds == TouchKind.PURCHASED.value
        ids: NDArray[Any] = cols.id[rows]
        if given is not None:
            named_order = np.asarray(given)[rows]
            has = named_order != None  # noqa: E711 - elementwise on objects
            ids = np.where(has, named_order, ids).astype(object)
            named = has | purchase
        else:
            named = purchase
        keys = np.zeros(rows.size, dtype=np.int64)
        if ids.dtype.kind in "iu":
            keys[:] = ids
        elif named.any():
            values = ids[named]
            is_str = np.fromiter((isinstance(v, str) for v in values.tolist()), bool, values.size)
            numbers = np.zeros(values.size, dtype=np.int64)
            numbers[~is_str] = values[~is_str].astype(np.int64)
            if is_str.any():
                strings = values[is_str]
                prints = fingerprint_strings(strings).view(np.int64)
                numbers[is_str] = prints
                self._order_labels.update(zip(prints.tolist(), strings.tolist(), strict=True))
            keys[named] = numbers
        self._money_order.extend(keys)
        self._money_order_named.extend(named)

    def ingest_log(self, log: TouchpointLog, *, batch_size: int = 100_000) -> IngestReport:
        """Ingest what ``log`` holds beyond :attr:`log_cursor`, in batches; move the cursor on.

        Customers must be in the pool first (``pool.ingest(customer_store)`` ingests a whole
        :class:`~privdomain.ports.CustomerStore`, which is an iterable of customers). The report's
        indices count the touchpoints this call read, from 0; each rejection also carries the
        touchpoint's id. A rejected touchpoint is not read again by later calls: the cursor
        moves past everything read. See :func:`privdomain.ports.sync_touchpoints`.
        """
        from privdomain.ports import sync_touchpoints

        report, self._log_cursor = sync_touchpoints(
            self, log, since=self._log_cursor, batch_size=batch_size
        )
        return report

    @property
    def log_cursor(self) -> int:
        """How far :meth:`ingest_log` has read its log."""
        return self._log_cursor

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, as_of: Instant, *, threads: int | None = None) -> Snapshot:
        """Per-customer features as of ``as_of`` (aware datetime or ``datetime64``, UTC).

        Customers who joined after ``as_of`` are not in the snapshot, and events and profile
        changes after ``as_of`` are invisible. Independent groups of features are computed on
        ``threads`` threads (default: the machine's cores, at most four; ``threads=1``
        computes on the calling thread only, e.g. inside a process pool). The same as
        ``features(pool.tables(), as_of)``.
        """
        from privdomain.domain.features import features

        return features(self.tables(), as_of, threads=threads)


ids_none: NDArray[np.object_] = np.empty(0, dtype=object)


def _first_text(
    texts: Mapping[RejectReason, list[tuple[NDArray[np.bool_], str]]], why: RejectReason, i: int
) -> str:
    for mask, text in texts.get(why, ()):
        if mask[i]:
            return text
    return why.value


def _first_unseen(
    keys: NDArray[Any], seen: NDArray[Any]
) -> tuple[NDArray[np.bool_] | None, NDArray[Any]]:
    """Which keys are new (first occurrence in the batch, absent from sorted ``seen``), and the
    new keys sorted. The mask is ``None`` when every key is new."""
    if keys.size == 0:
        return None, keys
    increasing = bool((keys[1:] > keys[:-1]).all())  # e.g. auto-increment ids: no sort needed
    sk = keys if increasing else np.sort(keys)
    repeated = np.zeros(0, bool) if increasing else sk[1:] == sk[:-1]
    if seen.size and sk[0] <= seen[-1] and sk[-1] >= seen[0]:
        known = seen[np.minimum(np.searchsorted(seen, sk), seen.size - 1)] == sk
    else:
        known = np.zeros(0, bool)
    if not repeated.any() and not known.any():  # the common case: all new, no argsort needed
        return None, sk
    if known.size == 0:
        known = np.zeros(sk.size, bool)
    order = np.argsort(keys, kind="stable")  # np.sort(keys) == keys[order], value for value
    first = ~known
    if repeated.size:
        first[1:] &= ~repeated
    fresh = np.empty(keys.size, bool)
    fresh[order] = first
    return fresh, sk[first]


def _on_or_into_cycle(parent: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Nodes of a functional graph (``parent`` -1 = root) whose chain never reaches a root."""
    # After k rounds of pointer jumping, jump[i] is i's ancestor 2**k steps up (or -1). A chain
    # that ends does so within parent.size steps; one that never ends is on or into a cycle.
    jump = parent.copy()
    for _ in range(int(parent.size).bit_length() + 1):
        up = jump >= 0
        jump[up] = jump[jump[up]]
    return jump >= 0


def _scalar_values(column: NDArray[Any]) -> NDArray[np.bool_]:
    """Which values of an attribute column are allowed (str, int, float, bool or None)."""
    if column.dtype.kind in "biufU":
        return np.ones(column.shape[0], dtype=bool)
    items = column.tolist()
    allowed = {str, int, float, bool, type(None)}
    if set(map(type, items)) <= allowed:
        return np.ones(len(items), dtype=bool)
    ok = (v is None or isinstance(v, str | int | float | bool) for v in items)
    return np.fromiter(ok, dtype=bool, count=len(items))


def _consent_field(channel: Channel) -> str:
    return f"consent:{channel.name.lower()}"


def _declared(names: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise ValidationError(f"{what} must be a collection of names, not a single str")
    return tuple(sorted({check_id(name, what=what[:-1]) for name in names}))


def _split_batch(
    batch: object,
) -> tuple[CustomerColumns | None, ProfileChanges | None, TouchpointColumns | None]:
    """The customers, profile changes and touchpoints of whatever :meth:`Pool.ingest` got."""
    if isinstance(batch, Batch):
        c, t = batch.customers, batch.touchpoints
        customers = c if isinstance(c, CustomerColumns) else CustomerColumns.from_customers(c)
        touchpoints = (
            t if isinstance(t, TouchpointColumns) else TouchpointColumns.from_touchpoints(t)
        )
        return customers, None, touchpoints
    if isinstance(batch, CustomerColumns):
        return batch, None, None
    if isinstance(batch, ProfileChanges):
        return None, batch, None
    if isinstance(batch, TouchpointColumns):
        return None, None, batch
    if batch is None or isinstance(batch, str | bytes | Mapping) or not isinstance(batch, Iterable):
        raise ValidationError(
            "ingest takes a Batch, CustomerColumns, ProfileChanges, TouchpointColumns or an "
            f"iterable of Customer and Touchpoint objects, not {type(batch).__name__}"
        )
    cs: list[Customer] = []
    ts: list[Touchpoint] = []
    for record in batch:
        if isinstance(record, Customer):
            cs.append(record)
        elif isinstance(record, Touchpoint):
            ts.append(record)
        else:
            raise ValidationError(
                f"a batch holds Customer and Touchpoint objects, not {type(record).__name__}"
            )
    return (
        CustomerColumns.from_customers(cs) if cs else None,
        None,
        TouchpointColumns.from_touchpoints(ts) if ts else None,
    )


def _merge(first: IngestReport, second: IngestReport) -> IngestReport:
    return IngestReport(
        customers_added=first.customers_added + second.customers_added,
        customers_updated=first.customers_updated + second.customers_updated,
        customers_unchanged=first.customers_unchanged + second.customers_unchanged,
        touchpoints_accepted=first.touchpoints_accepted + second.touchpoints_accepted,
        duplicate_touchpoints=np.concatenate(
            [first.duplicate_touchpoints, second.duplicate_touchpoints]
        ),
        rejected=first.rejected + second.rejected,
    )
