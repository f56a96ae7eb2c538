"""The pool (流量池): the aggregate root that validates and appends, atomically."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from privdomain.domain._columns import Column
from privdomain.domain._customer_store import CustomerRegistry
from privdomain.domain._event_store import EventStore
from privdomain.domain._ingest import Ingest
from privdomain.domain._time import Instant
from privdomain.domain.batch import (
    Batch,
    CustomerColumns,
    IngestReport,
    TouchpointColumns,
)
from privdomain.domain.changes import ProfileChanges
from privdomain.domain.customer import Customer, check_id
from privdomain.domain.money import _currency_code
from privdomain.domain.tables import EventLog, Tables
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import UnknownCustomerError, ValidationError

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot
    from privdomain.ports import TouchpointLog

__all__ = ["Pool"]


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
        self._customers = CustomerRegistry()
        self._events = EventStore()
        self._log_cursor = 0

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

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
        with self._lock:
            return len(self._customers)

    def __contains__(self, customer_id: object) -> bool:
        with self._lock:
            return isinstance(customer_id, str) and customer_id in self._customers.index

    def __repr__(self) -> str:
        return (
            f"Pool(tenant={self._tenant!r}, customers={len(self)}, "
            f"touchpoints={self.n_touchpoints}, currency={self._currency!r})"
        )

    @property
    def n_touchpoints(self) -> int:
        """Number of touchpoints in the event log."""
        with self._lock:
            return len(self._events)

    @property
    def customer_ids(self) -> NDArray[np.object_]:
        """Customer ids in index order (a copy)."""
        with self._lock:
            return np.array(self._customers.ids, dtype=object)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """Agent ids in index order."""
        with self._lock:
            return tuple(self._customers.agents.names)

    @property
    def store_ids(self) -> tuple[str, ...]:
        """Store ids in index order."""
        with self._lock:
            return tuple(self._customers.stores.names)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The declared tags and every tag some customer ever had, sorted."""
        with self._lock:
            return self._customers.names("tag:", self._declared_tags)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The declared attributes and every attribute some customer ever had, sorted."""
        with self._lock:
            return self._customers.names("attr:", self._declared_attributes)

    def index_of(self, customer_ids: Iterable[str] | str) -> NDArray[np.int64]:
        """Dense indices of ``customer_ids``; :class:`UnknownCustomerError` if any is absent."""
        keys = np.array(
            [customer_ids] if isinstance(customer_ids, str) else list(customer_ids), dtype=object
        )
        with self._lock:
            found = self._customers.lookup(keys)
        if (found < 0).any():
            missing = keys[found < 0][:5].tolist()
            raise UnknownCustomerError(f"not in the pool: {missing}")
        return found

    def customer(self, customer_id: str) -> Customer:
        """The :class:`Customer` with ``customer_id`` as the pool knows them now (latest
        profile), rebuilt from the pool's columns."""
        with self._lock:
            return self._customers.customer(int(self.index_of(customer_id)[0]), self._tenant)

    def customers(self) -> list[Customer]:
        """Every customer, as objects (one pass; for export, not for hot paths)."""
        with self._lock:
            return [self._customers.customer(i, self._tenant) for i in range(len(self))]

    @property
    def events(self) -> EventLog:
        """A read-only view of the event log."""
        with self._lock:
            return self._events.view(self._customers.referenced_view())

    def tables(self) -> Tables:
        """An immutable view of everything the pool holds: customers, profile histories and
        the event log. Later batches do not change it."""
        with self._lock:
            reg = self._customers
            return Tables(
                tenant=self._tenant,
                currency=self._currency,
                utc_offset=self._utc_offset,
                customers=reg.table(),
                events=self._events.view(reg.referenced_view()),
                profile=MappingProxyType(reg.profile.histories()),
                agent_ids=tuple(reg.agents.names),
                store_ids=tuple(reg.stores.names),
                time_zones=tuple(reg.zones.names),
                tags=reg.names("tag:", self._declared_tags),
                attributes=reg.names("attr:", self._declared_attributes),
                declared_tags=self._declared_tags,
                declared_attributes=self._declared_attributes,
            )

    # ------------------------------------------------------------------ atomic writes
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[list[tuple[Column[Any], Any, Any]]]:
        """Run a batch's writes; on any exception, put the pool back as it was."""
        customers = self._customers.checkpoint()
        events = self._events.checkpoint()
        cursor = self._log_cursor
        undo: list[tuple[Column[Any], Any, Any]] = []
        try:
            yield undo
        except BaseException:
            self._events.restore(events)
            self._customers.restore(customers, undo)
            self._log_cursor = cursor
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
        earlier in the batch) with the same content are duplicates: the first version is kept
        and they are reported, so ingesting a batch twice leaves the pool as after once; one
        whose content differs (customer, instant, channel, kind, amount, discount, order,
        promotion, related customer or agent) is rejected as a ``CONFLICT``. An ``INVITED`` or
        ``SHARED`` touchpoint may name a related customer who has not joined (yet): the
        invitation is kept and counts as converted in snapshots from their join on. A rejected
        record changes nothing, and the batch as a whole is atomic: if the call raises, the pool
        is exactly as it was before.

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
            run = Ingest(
                self._customers,
                self._events,
                tenant=self._tenant,
                currency=self._currency,
                undo=undo,
            )
            report = IngestReport()
            if customers is not None and len(customers):
                report = run.customers(customers)
            if changes is not None and len(changes):
                report = _merge(report, run.changes(changes))
            if touchpoints is not None and len(touchpoints):
                report = _merge(report, run.touchpoints(touchpoints))
            return report

    def _ingest_touchpoints(
        self, touchpoints: TouchpointColumns, customer_hint: NDArray[np.int64]
    ) -> IngestReport:
        """:meth:`ingest` of touchpoint columns with a guess of where each of
        ``touchpoints.customer_id.values`` is in the pool (checked, so the outcome is the same
        as :meth:`ingest`'s): how the daily cycle records a plan's contacts."""
        if not isinstance(touchpoints, TouchpointColumns):
            raise ValidationError(f"touchpoints are TouchpointColumns, not {type(touchpoints)}")
        with self._lock, self._transaction() as undo:
            if not len(touchpoints):
                return IngestReport()
            run = Ingest(
                self._customers,
                self._events,
                tenant=self._tenant,
                currency=self._currency,
                undo=undo,
            )
            return run.touchpoints(touchpoints, customer_hint)

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
