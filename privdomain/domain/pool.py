"""The pool (流量池): the aggregate root owning customers and the columnar event log."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._columns import Column, canonical
from privdomain.domain._fingerprint import fingerprint_strings
from privdomain.domain._time import Instant, epoch_micros, micros_to_datetime
from privdomain.domain.batch import (
    Batch,
    CustomerColumns,
    EncodedIds,
    IngestReport,
    Rejection,
    RejectReason,
    TouchpointColumns,
)
from privdomain.domain.channels import IS_MONETARY, Channel, TouchKind
from privdomain.domain.customer import MAX_ID_LENGTH, Customer, check_id
from privdomain.domain.money import _currency_code
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


@attrs.frozen(eq=False)
class EventLog:
    """A read-only view of a pool's columnar event log, one row per accepted touchpoint, in
    ingest order. Customers, related customers and agents are dense indices (-1 for none).

    Every event has a customer, an instant, a kind, a channel and flags. Only purchases and
    refunds carry money, so amounts and discounts are kept for those *monetary* events alone, in
    log order; related customers and agents, which few events have, are kept as (row, value)
    pairs. This keeps a pool under 64 bytes per event. The dense properties
    (:attr:`amount_minor`, :attr:`discount_minor`, :attr:`related`, :attr:`agent`) expand them
    on demand.
    """

    customer: NDArray[np.int32]
    at: NDArray[np.int64]
    """Epoch microseconds."""
    kind: NDArray[np.uint8]
    """:class:`TouchKind` codes."""
    channel: NDArray[np.uint8]
    """:class:`Channel` codes."""
    flags: NDArray[np.uint8]
    """Bit 0: promotion."""
    money_amount: NDArray[np.int64]
    """Amount in minor units of each monetary event (purchase or refund), in log order."""
    money_discount: NDArray[np.int64]
    """Discount in minor units of each monetary event, in log order."""
    related_rows: NDArray[np.int64]
    """Rows of the events that name a related customer."""
    related_values: NDArray[np.int32]
    """The related customer of each of :attr:`related_rows`."""
    agent_rows: NDArray[np.int64]
    """Rows of the events that name an agent."""
    agent_values: NDArray[np.int32]
    """The agent of each of :attr:`agent_rows`."""

    def __len__(self) -> int:
        return int(self.at.shape[0])

    @property
    def monetary(self) -> NDArray[np.intp]:
        """Rows of the monetary events (purchases and refunds), aligned with the money columns."""
        return np.flatnonzero(IS_MONETARY[self.kind])

    @property
    def amount_minor(self) -> NDArray[np.int64]:
        """Amount of every event in minor units (0 for events without one)."""
        out = np.zeros(len(self), dtype=np.int64)
        out[self.monetary] = self.money_amount
        return out

    @property
    def discount_minor(self) -> NDArray[np.int64]:
        """Discount of every event in minor units (0 for events without one)."""
        out = np.zeros(len(self), dtype=np.int64)
        out[self.monetary] = self.money_discount
        return out

    @property
    def related(self) -> NDArray[np.int32]:
        """Related customer of every event (-1 for none)."""
        out = np.full(len(self), -1, dtype=np.int32)
        out[self.related_rows] = self.related_values
        return out

    @property
    def agent(self) -> NDArray[np.int32]:
        """Agent of every event (-1 for none)."""
        out = np.full(len(self), -1, dtype=np.int32)
        out[self.agent_rows] = self.agent_values
        return out

    @property
    def promotion(self) -> NDArray[np.bool_]:
        """Whether each touch was promotion-driven."""
        return (self.flags & _PROMOTION).astype(bool)


class Pool:
    """A brand's pool of customers and the touchpoints it has with them.

    The pool owns its customers (interned to dense indices ``0..n-1`` in order of arrival) and an
    append-only, columnar event log. :meth:`ingest` is the only way in; it is idempotent by
    touchpoint id and reports every record. :meth:`snapshot` computes per-customer features as of
    any instant.

    Parameters
    ----------
    tenant
        The brand this pool belongs to; records of any other tenant are rejected.
    currency
        The currency of every amount in this pool (ISO 4217, default ``"CNY"``).
    utc_offset
        The fixed offset of the brand's business day from UTC (``timedelta(hours=8)`` for
        China). Purchase *days* are cut at midnight in this offset.

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
    ) -> None:
        self._tenant = check_id(tenant, what="tenant")
        self._currency = _currency_code(currency)
        if not isinstance(utc_offset, dt.timedelta) or abs(utc_offset) >= dt.timedelta(days=1):
            raise ValidationError(f"utc_offset must be a timedelta under a day, got {utc_offset!r}")
        if utc_offset % dt.timedelta(seconds=1):
            raise ValidationError("utc_offset must be a whole number of seconds")
        self._utc_offset = utc_offset
        # customers
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._joined: Column[np.int64] = Column(np.int64)
        self._source: Column[np.uint8] = Column(np.uint8)
        self._consent: Column[np.uint16] = Column(np.uint16)
        self._referrer: Column[np.int32] = Column(np.int32)
        self._agent: Column[np.int32] = Column(np.int32)
        self._tags: dict[str, Column[np.bool_]] = {}
        self._attributes: dict[str, Column[np.object_]] = {}
        self._agent_ids: list[str] = []
        self._agent_index: dict[str, int] = {}
        # events
        self._ev_customer: Column[np.int32] = Column(np.int32)
        self._ev_at: Column[np.int64] = Column(np.int64)
        self._ev_kind: Column[np.uint8] = Column(np.uint8)
        self._ev_channel: Column[np.uint8] = Column(np.uint8)
        self._ev_flags: Column[np.uint8] = Column(np.uint8)
        self._money_amount: Column[np.int64] = Column(np.int64)
        self._money_discount: Column[np.int64] = Column(np.int64)
        self._related_rows: Column[np.int64] = Column(np.int64)
        self._related: Column[np.int32] = Column(np.int32)
        self._agent_rows: Column[np.int64] = Column(np.int64)
        self._agent_of_event: Column[np.int32] = Column(np.int32)
        # fingerprints of every touchpoint id seen, sorted, for idempotent ingest
        self._seen_str: NDArray[np.uint64] = np.empty(0, np.uint64)
        self._seen_int: NDArray[np.int64] = np.empty(0, np.int64)
        self._log_cursor = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
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
        return np.array(self._ids, dtype=object)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """Agent ids in index order."""
        return tuple(self._agent_ids)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """Every tag used by some customer, sorted."""
        return tuple(sorted(self._tags))

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Every attribute name used by some customer, sorted."""
        return tuple(sorted(self._attributes))

    def index_of(self, customer_ids: Iterable[str] | str) -> NDArray[np.int64]:
        """Dense indices of ``customer_ids``; :class:`UnknownCustomerError` if any is absent."""
        keys = np.array(
            [customer_ids] if isinstance(customer_ids, str) else list(customer_ids), dtype=object
        )
        found = _lookup(self._index, keys)
        if (found < 0).any():
            missing = keys[found < 0][:5].tolist()
            raise UnknownCustomerError(f"not in the pool: {missing}")
        return found

    def customer(self, customer_id: str) -> Customer:
        """The :class:`Customer` with ``customer_id``, rebuilt from the pool's columns."""
        i = int(self.index_of(customer_id)[0])
        referrer = int(self._referrer.values[i])
        agent = int(self._agent.values[i])
        consent = int(self._consent.values[i])
        return Customer(
            id=self._ids[i],
            tenant=self._tenant,
            joined_at=micros_to_datetime(int(self._joined.values[i])),
            source=Channel(int(self._source.values[i])),
            attributes={
                k: col.values[i] for k, col in self._attributes.items() if col.values[i] is not None
            },
            tags=frozenset(t for t, col in self._tags.items() if col.values[i]),
            consent=frozenset(c for c in Channel if c.owned and consent >> c.value & 1),
            referrer_id=self._ids[referrer] if referrer >= 0 else None,
            agent_id=self._agent_ids[agent] if agent >= 0 else None,
        )

    def customers(self) -> list[Customer]:
        """Every customer, as objects (one pass; for export, not for hot paths)."""
        return [self.customer(c) for c in self._ids]

    @property
    def events(self) -> EventLog:
        """A read-only view of the event log."""
        return EventLog(
            customer=self._ev_customer.values,
            at=self._ev_at.values,
            kind=self._ev_kind.values,
            channel=self._ev_channel.values,
            flags=self._ev_flags.values,
            money_amount=self._money_amount.values,
            money_discount=self._money_discount.values,
            related_rows=self._related_rows.values,
            related_values=self._related.values,
            agent_rows=self._agent_rows.values,
            agent_values=self._agent_of_event.values,
        )

    # ------------------------------------------------------------------ customer columns
    def _customer_columns(self) -> dict[str, NDArray[Any]]:
        return {
            "joined": self._joined.values,
            "source": self._source.values,
            "consent": self._consent.values,
            "referrer": self._referrer.values,
            "agent": self._agent.values,
        }

    def _tag_columns(self) -> dict[str, NDArray[np.bool_]]:
        return {t: col.values for t, col in sorted(self._tags.items())}

    def _attribute_columns(self) -> dict[str, NDArray[np.object_]]:
        return {a: col.values for a, col in sorted(self._attributes.items())}

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        batch: Batch | CustomerColumns | TouchpointColumns | Iterable[Customer | Touchpoint],
    ) -> IngestReport:
        """Take customers and touchpoints into the pool; report what became of each record.

        Customers are taken before touchpoints, so a batch may hold both a new customer and their
        first touchpoints. Touchpoints whose id the pool has already seen (or that repeat an id
        earlier in the batch) are duplicates: the first version is kept and they are reported,
        so ingesting a batch twice leaves the pool as after once. A rejected record changes
        nothing. A customer that is already in the pool with other tags, attributes, consent or
        agent is updated; one that changes ``joined_at``, ``source`` or ``referrer_id`` is
        rejected as a conflict.
        """
        customers: CustomerColumns | None = None
        touchpoints: TouchpointColumns | None = None
        if isinstance(batch, Batch):
            c, t = batch.customers, batch.touchpoints
            customers = c if isinstance(c, CustomerColumns) else CustomerColumns.from_customers(c)
            touchpoints = (
                t if isinstance(t, TouchpointColumns) else TouchpointColumns.from_touchpoints(t)
            )
        elif isinstance(batch, CustomerColumns):
            customers = batch
        elif isinstance(batch, TouchpointColumns):
            touchpoints = batch
        else:
            if isinstance(batch, str | bytes | Mapping):
                raise ValidationError(f"cannot ingest a {type(batch).__name__}")
            cs: list[Customer] = []
            ts: list[Touchpoint] = []
            for record in batch:
                if isinstance(record, Customer):
                    cs.append(record)
                elif isinstance(record, Touchpoint):
                    ts.append(record)
                else:
                    raise ValidationError(
                        "a batch holds Customer and Touchpoint objects, "
                        f"not {type(record).__name__}"
                    )
            customers = CustomerColumns.from_customers(cs) if cs else None
            touchpoints = TouchpointColumns.from_touchpoints(ts) if ts else None
        report = IngestReport()
        if customers is not None and len(customers):
            report = self._ingest_customers(customers)
        if touchpoints is not None and len(touchpoints):
            tp = self._ingest_touchpoints(touchpoints)
            report = IngestReport(
                customers_added=report.customers_added,
                customers_updated=report.customers_updated,
                customers_unchanged=report.customers_unchanged,
                touchpoints_accepted=tp.touchpoints_accepted,
                duplicate_touchpoints=tp.duplicate_touchpoints,
                rejected=report.rejected + tp.rejected,
            )
        return report

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
        flag(cols.channel == 255, RejectReason.INVALID, "unknown channel")
        flag(
            cols.channel == Channel.REFERRAL.value,
            RejectReason.INVALID,
            "REFERRAL is a source of customers, not a channel to touch them on",
        )
        flag(cols.kind == 255, RejectReason.INVALID, "unknown touch kind")
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

        rejected = tuple(
            Rejection(
                record="touchpoint",
                index=int(i),
                id=cols.id[i].item() if int_ids else cols.id[i],
                reason=_REASONS[int(reason[i])],
                detail=_first_text(texts, _REASONS[int(reason[i])], int(i)),
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
        related_of = pick(related)
        named = np.flatnonzero(related_of >= 0)
        self._related_rows.extend(base + named)
        self._related.extend(related_of[named])
        with_agent = np.flatnonzero(agent >= 0)
        self._agent_rows.extend(base + with_agent)
        self._agent_of_event.extend(agent[with_agent])

    def _intern_agents(self, agent_ids: NDArray[np.object_]) -> NDArray[np.int32]:
        for a in dict.fromkeys(agent_ids.tolist()):
            if a not in self._agent_index:
                self._agent_index[a] = len(self._agent_ids)
                self._agent_ids.append(a)
        return _lookup(self._agent_index, agent_ids).astype(np.int32)

    def _ingest_customers(self, cols: CustomerColumns) -> IngestReport:
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
        has_agent = cols.agent_id != None  # noqa: E711
        if has_agent.any():
            bad = np.zeros(n, bool)
            bad[has_agent] = ~_valid_ids(cols.agent_id[has_agent])
            flag(bad, RejectReason.INVALID, "agent id must be a non-empty printable str")
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
        added = self._add_new_customers(cols, np.flatnonzero(new), referrers, reject, table)
        # A repeat whose first row was rejected is, in order, the first of its id: add it.
        while True:
            orphans: dict[str, int] = {}
            for i in repeat_rows:
                if i not in reasons and ids[i] not in self._index:
                    orphans.setdefault(ids[i], i)
            if not orphans:
                break
            repeat_rows = [i for i in repeat_rows if i not in orphans.values()]
            rows = np.array(sorted(orphans.values()), dtype=np.int64)
            added += self._add_new_customers(cols, rows, referrers, reject, table)
        updated = unchanged = 0
        agents = cols.agent_id
        for i in repeat_rows:
            if i in reasons:
                continue
            outcome = self._update_customer(cols, i, referrers[i], agents[i])
            if isinstance(outcome, str):
                reject(i, RejectReason.CONFLICT, outcome)
            elif outcome:
                updated += 1
            else:
                unchanged += 1
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

    def _add_new_customers(
        self,
        cols: CustomerColumns,
        rows: NDArray[np.int64],
        referrers: list[Any],
        reject: Any,
        batch_index: Mapping[Any, int],
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
        self._consent.extend(cols.consent[rows])
        self._referrer.extend(ref.astype(np.int32))
        agent = np.full(m, -1, dtype=np.int32)
        agent_ids = cols.agent_id[rows]
        has_agent = agent_ids != None  # noqa: E711
        if has_agent.any():
            agent[has_agent] = self._intern_agents(agent_ids[has_agent])
        self._agent.extend(agent)
        for col in self._tags.values():
            col.extend(np.zeros(m, bool))
        for acol in self._attributes.values():
            acol.extend(np.full(m, None, dtype=object))
        self._write_profile(np.arange(base, base + m), cols, rows)
        return m

    def _write_profile(
        self, index: NDArray[np.int64], cols: CustomerColumns, rows: NDArray[np.int64]
    ) -> None:
        """Set the tags and attributes of pool customers ``index`` from batch ``rows``."""
        size = len(self._ids)
        if cols.tags is not None:
            for name in cols.tags.keys() - self._tags.keys():
                if cols.tags[name][rows].any():
                    col: Column[np.bool_] = Column(np.bool_)
                    col.extend(np.zeros(size, bool))
                    self._tags[name] = col
            for name, col in self._tags.items():
                given = cols.tags.get(name)
                col[index] = False if given is None else given[rows]
        if cols.attributes is not None:
            for name in cols.attributes.keys() - self._attributes.keys():
                acol: Column[np.object_] = Column(np.object_)
                acol.extend(np.full(size, None, dtype=object))
                self._attributes[name] = acol
            for name, acol in self._attributes.items():
                given_values = cols.attributes.get(name)
                acol[index] = None if given_values is None else given_values[rows]

    def _update_customer(
        self, cols: CustomerColumns, row: int, referrer: Any, agent: Any
    ) -> bool | str:
        """Apply row ``row`` to the existing customer; ``True`` if changed, a str on conflict."""
        i = self._index[cols.id[row]]
        if int(self._joined.values[i]) != int(cols.joined_at[row]):
            return "joined_at differs from the customer's recorded join time"
        if int(self._source.values[i]) != int(cols.source[row]):
            return "source differs from the customer's recorded source"
        current_ref = int(self._referrer.values[i])
        if (self._ids[current_ref] if current_ref >= 0 else None) != referrer:
            return "referrer differs from the customer's recorded referrer"
        current = self.customer(cols.id[row])
        tags = cols.row_tags(row)
        tags = current.tags if tags is None else tags
        attributes = cols.row_attributes(row)
        attributes = dict(current.attributes) if attributes is None else attributes
        consent = int(cols.consent[row])
        if (
            tags == current.tags
            and attributes == dict(current.attributes)
            and consent == int(self._consent.values[i])
            and agent == current.agent_id
        ):
            return False
        self._consent[i] = consent
        self._agent[i] = (
            -1 if agent is None else int(self._intern_agents(np.array([agent], dtype=object))[0])
        )
        self._write_profile(np.array([i]), cols, np.array([row]))
        return True

    def ingest_log(self, log: TouchpointLog, *, batch_size: int = 100_000) -> IngestReport:
        """Ingest what ``log`` holds beyond :attr:`log_cursor`, in batches; move the cursor on.

        Customers must be in the pool first (``pool.ingest(customer_store)`` ingests a whole
        :class:`~privdomain.ports.CustomerStore`, which is an iterable of customers). The report's
        indices count the touchpoints this call read, from 0; each rejection also carries the
        touchpoint's id. A rejected touchpoint is not read again by later calls: the cursor
        moves past everything read.
        """
        if batch_size < 1:
            raise ValidationError("batch_size must be >= 1")
        report = IngestReport()
        read = 0
        while True:
            touchpoints, cursor = log.read_since(self._log_cursor, batch_size)
            if not touchpoints:
                return report
            part = self.ingest(list(touchpoints))
            report = IngestReport(
                customers_added=report.customers_added,
                customers_updated=report.customers_updated,
                customers_unchanged=report.customers_unchanged,
                touchpoints_accepted=report.touchpoints_accepted + part.touchpoints_accepted,
                duplicate_touchpoints=np.concatenate(
                    [report.duplicate_touchpoints, part.duplicate_touchpoints + read]
                ),
                rejected=report.rejected
                + tuple(attrs.evolve(r, index=r.index + read) for r in part.rejected),
            )
            read += len(touchpoints)
            self._log_cursor = cursor

    @property
    def log_cursor(self) -> int:
        """How far :meth:`ingest_log` has read its log."""
        return self._log_cursor

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, as_of: Instant, *, threads: int | None = None) -> Snapshot:
        """Per-customer features as of ``as_of`` (aware datetime or ``datetime64``, UTC).

        Customers who joined after ``as_of`` are not in the snapshot, and events after ``as_of``
        are invisible. Independent groups of features are computed on ``threads`` threads
        (default: the machine's cores, at most four; ``threads=1`` computes on the calling
        thread only, e.g. inside a process pool).
        """
        from privdomain.domain.snapshot import compute_snapshot

        if threads is not None and (isinstance(threads, bool) or threads < 1):
            raise ValidationError(f"threads must be a positive int, got {threads!r}")
        return compute_snapshot(self, epoch_micros(as_of, what="as_of"), threads=threads)


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
