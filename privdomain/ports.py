"""Ports: the small protocols through which a host plugs its storage into privdomain.

privdomain does no I/O. What must outlive a run lives in the host's storage, behind these
protocols: the customers, the touchpoint log, and the state strategies keep between runs (each
customer's previous lifecycle stage, the commission ledger). In-memory implementations ship in
:mod:`privdomain.memory` and are the embedded default; ``examples/sqlite_adapter.py`` implements
every port on SQLite.

Contact history has no port of its own: the contacts the brand made are touchpoints like any
other. A contact plan that is sent comes back as ``SENT`` touchpoints (channel, time,
``promotion``) that the host appends to its :class:`TouchpointLog` and the pool ingests; the
snapshot then gives what frequency caps and fatigue read, :attr:`Snapshot.contacts` (the
messages of the last :data:`~privdomain.domain.snapshot.CONTACT_HISTORY_DAYS` days) and
:meth:`Snapshot.contact_counts` (per calendar day, week or month, in each customer's time
zone).

Each protocol is deliberately small: if a port is hard to fake, it is too complicated.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs
import numpy as np

from privdomain.domain._time import as_utc_datetime
from privdomain.domain.batch import IngestReport
from privdomain.domain.customer import Customer, check_id
from privdomain.domain.money import Money
from privdomain.domain.touchpoint import Touchpoint
from privdomain.errors import InvalidRecordError, ValidationError

if TYPE_CHECKING:
    from privdomain.domain.pool import Pool

__all__ = [
    "CommissionEntry",
    "CommissionLedger",
    "CommissionStatus",
    "Cursor",
    "CustomerStore",
    "StageStore",
    "TouchpointLog",
    "get_entries",
    "sync_touchpoints",
]


def _id(value: object) -> str:
    return check_id(value, what="id")


def _instant(value: object) -> dt.datetime:
    return as_utc_datetime(value, what="time")


#: A position in a touchpoint log: opaque to privdomain, increasing with every append.
Cursor = int


@runtime_checkable
class CustomerStore(Protocol):
    """Where the host keeps its customers. ``put`` inserts or replaces by id.

    Iteration yields customers in the order their ids were first put (a replaced customer keeps
    its place), as the in-memory store does.
    """

    def put(self, customers: Iterable[Customer]) -> None:
        """Insert the customers, replacing any with the same id."""
        ...

    def get(self, customer_id: str) -> Customer | None:
        """The customer with ``customer_id``, or ``None``."""
        ...

    def __iter__(self) -> Iterator[Customer]:
        """Every customer, in insertion order."""
        ...

    def __len__(self) -> int: ...


@runtime_checkable
class TouchpointLog(Protocol):
    """An append-only log of touchpoints, read incrementally from a cursor."""

    def append(self, touchpoints: Iterable[Touchpoint]) -> Cursor:
        """Append in order; returns the cursor after the last one appended."""
        ...

    def read_since(
        self, cursor: Cursor = 0, limit: int | None = None
    ) -> tuple[Sequence[Touchpoint], Cursor]:
        """Touchpoints appended after ``cursor`` (at most ``limit``), in append order, and the
        cursor to read on from. ``read_since(0)`` reads from the beginning. A cursor the log
        never handed out, or a negative limit, raises
        :class:`~privdomain.errors.ValidationError`."""
        ...


@runtime_checkable
class StageStore(Protocol):
    """Each customer's previous lifecycle stage, so that a run can emit transitions."""

    def get_stages(self, customer_ids: Iterable[str]) -> dict[str, str]:
        """The stored stage of each customer that has one."""
        ...

    def put_stages(self, stages: Mapping[str, str], as_of: dt.datetime) -> None:
        """Store the stages of ``as_of``, replacing earlier ones."""
        ...


class CommissionStatus(enum.Enum):
    """Where a commission stands: frozen through the refund window, then payable or reversed."""

    FROZEN = "frozen"
    PAYABLE = "payable"
    PAID = "paid"
    REVERSED = "reversed"


@attrs.frozen
class CommissionEntry:
    """One line of the commission ledger: exact money owed to a beneficiary for an order."""

    id: str = attrs.field(converter=_id)
    order_id: str = attrs.field(converter=_id)
    beneficiary_id: str = attrs.field(converter=_id)
    tier: int = attrs.field(validator=attrs.validators.in_((1, 2)))
    amount: Money = attrs.field(validator=attrs.validators.instance_of(Money))
    status: CommissionStatus = attrs.field(validator=attrs.validators.instance_of(CommissionStatus))
    at: dt.datetime = attrs.field(converter=_instant)

    def __attrs_post_init__(self) -> None:
        if self.amount.minor < 0:
            raise InvalidRecordError("a commission is never negative; reverse it instead")


@runtime_checkable
class CommissionLedger(Protocol):
    """Commission entries; a status change is posted as a new version of the same entry id.

    A ledger that grows large should also have ``get_entries(ids) -> dict[str, CommissionEntry]``
    (the current version of the entries with these ids, from an index): settling a day's
    commission asks for those ids only. It is optional; see :func:`get_entries`.
    """

    def post(self, entries: Iterable[CommissionEntry]) -> None:
        """Insert entries, replacing earlier versions with the same id."""
        ...

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        """The current version of every entry (of one beneficiary, if given), oldest first;
        entries at the same instant in the order their ids were first posted."""
        ...


def get_entries(ledger: CommissionLedger, ids: Iterable[str]) -> dict[str, CommissionEntry]:
    """The current version of the entries with the given ids that ``ledger`` holds, by id.

    A ledger port may answer this itself with a method ``get_entries(ids)`` of the same
    signature (the in-memory ledger and the SQLite example look the ids up in their index), and
    should when it holds many entries: :func:`~privdomain.referral.settle` asks only for the ids
    of the ledger it settles, so that settling one day costs in proportion to that day's
    entries, not to the whole ledger. A port without the method is answered from
    :meth:`CommissionLedger.entries`, which reads every entry.

    Parameters
    ----------
    ledger : CommissionLedger
        The ledger port.
    ids : iterable of str
        Entry ids; ids the ledger does not hold are left out of the answer.

    Returns
    -------
    dict of str to CommissionEntry
        ``{id: entry}`` for every id found.
    """
    wanted = ids if isinstance(ids, set | frozenset) else set(ids)
    own = getattr(ledger, "get_entries", None)
    if callable(own):
        found = own(wanted)
        if not isinstance(found, Mapping):
            raise ValidationError(
                f"{type(ledger).__name__}.get_entries must return a mapping of id to entry, "
                f"got {type(found).__name__}"
            )
        return {k: v for k, v in found.items() if k in wanted}
    return {e.id: e for e in ledger.entries() if e.id in wanted}


def sync_touchpoints(
    pool: Pool, log: TouchpointLog, *, since: Cursor = 0, batch_size: int = 100_000
) -> tuple[IngestReport, Cursor]:
    """Ingest what ``log`` holds after cursor ``since`` into ``pool``, in batches of
    ``batch_size``; return the combined report and the cursor to pass next time.

    The report's indices count the touchpoints this call read, from 0; each rejection also
    carries the touchpoint's id. A rejected touchpoint is not read again by later calls: the
    cursor moves past everything read.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"batch_size must be a positive int, got {batch_size!r}")
    report = IngestReport()
    read = 0
    cursor = since
    while True:
        touchpoints, cursor_after = log.read_since(cursor, batch_size)
        if not touchpoints:
            return report, cursor
        part = pool.ingest(list(touchpoints))
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
        cursor = cursor_after
