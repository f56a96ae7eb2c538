"""A host's storage for privdomain on SQLite: every port of :mod:`privdomain.ports`.

privdomain does no I/O; a host plugs its storage in through four small protocols. This example
implements all of them on the standard library's :mod:`sqlite3` and behaves exactly like the
in-memory reference adapters of :mod:`privdomain.memory`:

- :class:`SQLiteCustomerStore` (``CustomerStore``): customers by id, in insertion order;
- :class:`SQLiteTouchpointLog` (``TouchpointLog``): an append-only log whose cursor is the rowid;
- :class:`SQLiteStageStore` (``StageStore``): each customer's previous lifecycle stage;
- :class:`SQLiteCommissionLedger` (``CommissionLedger``): commission entries, versioned by id.

:class:`SQLiteStorage` opens one database and exposes the four as ``.customers``,
``.touchpoints``, ``.stages`` and ``.ledger``. Each adapter also stands alone on a path or on an
open :class:`sqlite3.Connection` (which it then leaves open for its owner).

The messages the brand sent need no table of their own: they are ``SENT`` touchpoints in the
touchpoint log, and a snapshot reads them back as ``Snapshot.contacts`` and
``Snapshot.contact_counts(window)``.

How values are stored, so that everything round-trips exactly:

- instants as integer microseconds since the Unix epoch (UTC): exact, and ordered as instants
  are (domain objects hold aware UTC datetimes; they come back aware and equal as instants);
- money as integer minor units (fen, cents) and an ISO 4217 currency code;
- enums by name (``"WECOM"``, ``"PURCHASED"``, ``"FROZEN"``), not by code;
- tags, attributes and consent as JSON text with sorted keys and items; ``None`` as NULL.

Every call is one transaction, every query is parameterised, batches go through
``executemany``. An adapter commits on its connection after each call that writes, so give it a
connection of its own rather than one the host holds a transaction open on.

Run it as a script to write a simulated pool into a database file, read it back into a new pool
and compare the snapshots of both::

    python examples/sqlite_adapter.py [path] [--replace] [--customers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from privdomain import Channel, Customer, Money, Pool, Snapshot, TouchKind, Touchpoint
from privdomain.errors import NaiveDatetimeError, ValidationError
from privdomain.ports import CommissionEntry, CommissionStatus, Cursor
from privdomain.simulate import simulate_pool

__all__ = [
    "SQLiteCommissionLedger",
    "SQLiteCustomerStore",
    "SQLiteStageStore",
    "SQLiteStorage",
    "SQLiteTouchpointLog",
    "main",
    "snapshot_differences",
]

#: What an adapter is opened on: a database file, or a connection its owner closes.
Database = str | os.PathLike[str] | sqlite3.Connection

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


# ---------------------------------------------------------------------------- value encodings
def _utc(value: object, *, what: str) -> dt.datetime:
    """An aware datetime in UTC; the library's time policy for the arguments of a port."""
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{what} must be a timezone-aware datetime, got {value!r}")
    if value.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} {value.isoformat()} is naive; pass an aware datetime")
    return value.astimezone(dt.UTC)


def _micros(value: dt.datetime) -> int:
    # Microseconds rather than seconds: the in-memory adapters keep a datetime's microseconds.
    return (value - _EPOCH) // _MICROSECOND


def _instant(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _minor(money: Money | None) -> int | None:
    return None if money is None else money.minor


def _currency(money: Money | None) -> str | None:
    return None if money is None else money.currency


def _money(minor: int | None, currency: str | None) -> Money | None:
    return None if minor is None or currency is None else Money(minor, currency)


# ---------------------------------------------------------------------------- connections
class _Connected:
    """An open database with this adapter's tables in it; closes the connection it opened."""

    _SCHEMA = ""

    def __init__(self, database: Database) -> None:
        if isinstance(database, sqlite3.Connection):
            self._connection, self._owned = database, False
        else:
            self._connection, self._owned = sqlite3.connect(database), True
        try:
            with self._connection:
                self._connection.executescript(self._SCHEMA)
        except BaseException:
            self.close()
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection this adapter reads and writes through."""
        return self._connection

    def close(self) -> None:
        """Close the connection if this adapter opened it (a connection passed in stays open)."""
        if self._owned:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------- customers
_CUSTOMER_COLUMNS = (
    "id, tenant, joined_at_us, source, attributes, tags, consent, referrer_id, agent_id"
)


def _customer_row(c: Customer) -> tuple[Any, ...]:
    return (
        c.id,
        c.tenant,
        _micros(c.joined_at),
        c.source.name,
        _json(dict(c.attributes)),
        _json(sorted(c.tags)),
        _json(sorted(ch.name for ch in c.consent)),
        c.referrer_id,
        c.agent_id,
    )


def _customer(row: Sequence[Any]) -> Customer:
    cid, tenant, joined, source, attributes, tags, consent, referrer, agent = row
    return Customer(
        id=cid,
        tenant=tenant,
        joined_at=_instant(joined),
        source=Channel[source],
        attributes=json.loads(attributes),
        tags=json.loads(tags),
        consent=[Channel[name] for name in json.loads(consent)],
        referrer_id=referrer,
        agent_id=agent,
    )


class SQLiteCustomerStore(_Connected):
    """Customers by id, in insertion order (``CustomerStore``).

    ``put`` replaces a customer with the same id in place: it keeps its first position, as the
    in-memory store's ``dict`` does.
    """

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS customers (
            id TEXT PRIMARY KEY NOT NULL,
            tenant TEXT NOT NULL,
            joined_at_us INTEGER NOT NULL,
            source TEXT NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            consent TEXT NOT NULL,
            referrer_id TEXT,
            agent_id TEXT
        );
    """

    def put(self, customers: Iterable[Customer]) -> None:
        rows = [_customer_row(c) for c in customers]
        with self._connection:
            # An upsert, not INSERT OR REPLACE: replacing would delete the row and give the
            # customer a new rowid, moving it to the end of the insertion order.
            self._connection.executemany(
                f"INSERT INTO customers ({_CUSTOMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, "
                "joined_at_us = excluded.joined_at_us, source = excluded.source, "
                "attributes = excluded.attributes, tags = excluded.tags, "
                "consent = excluded.consent, referrer_id = excluded.referrer_id, "
                "agent_id = excluded.agent_id",
                rows,
            )

    def get(self, customer_id: str) -> Customer | None:
        row = self._connection.execute(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,)
        ).fetchone()
        return None if row is None else _customer(row)

    def __iter__(self) -> Iterator[Customer]:
        # One query read whole, like the in-memory store's copy: putting customers while
        # iterating neither fails nor shows up in the iteration.
        rows = self._connection.execute(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers ORDER BY rowid"
        ).fetchall()
        return map(_customer, rows)

    def __len__(self) -> int:
        (count,) = self._connection.execute("SELECT count(*) FROM customers").fetchone()
        return int(count)


# ---------------------------------------------------------------------------- touchpoints
_TOUCHPOINT_COLUMNS = (
    "id, tenant, customer_id, at_us, channel, kind, amount_minor, amount_currency, promotion, "
    "discount_minor, discount_currency, related_customer_id, agent_id"
)


def _touchpoint_row(t: Touchpoint) -> tuple[Any, ...]:
    return (
        t.id,
        t.tenant,
        t.customer_id,
        _micros(t.at),
        t.channel.name,
        t.kind.name,
        _minor(t.amount),
        _currency(t.amount),
        int(t.promotion),
        _minor(t.discount),
        _currency(t.discount),
        t.related_customer_id,
        t.agent_id,
    )


def _touchpoint(row: Sequence[Any]) -> Touchpoint:
    (tid, tenant, customer, at, channel, kind, amount, amount_currency, promotion, discount,
     discount_currency, related, agent) = row  # fmt: skip
    return Touchpoint(
        id=tid,
        tenant=tenant,
        customer_id=customer,
        at=_instant(at),
        channel=Channel[channel],
        kind=TouchKind[kind],
        amount=_money(amount, amount_currency),
        promotion=bool(promotion),
        discount=_money(discount, discount_currency),
        related_customer_id=related,
        agent_id=agent,
    )


class SQLiteTouchpointLog(_Connected):
    """An append-only log of touchpoints (``TouchpointLog``); the cursor is the rowid.

    Rowids start at 1 and grow by one with every touchpoint appended, so the cursor after ``n``
    touchpoints is ``n``, as in the in-memory log. Touchpoint ids are not unique here: the log
    keeps what it is given, and the pool reports repeated ids as duplicates on ingest.
    """

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS touchpoints (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL,
            tenant TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            amount_minor INTEGER,
            amount_currency TEXT,
            promotion INTEGER NOT NULL,
            discount_minor INTEGER,
            discount_currency TEXT,
            related_customer_id TEXT,
            agent_id TEXT
        );
    """

    def append(self, touchpoints: Iterable[Touchpoint]) -> Cursor:
        rows = [_touchpoint_row(t) for t in touchpoints]
        with self._connection:
            self._connection.executemany(
                f"INSERT INTO touchpoints ({_TOUCHPOINT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return self._end()

    def read_since(
        self, cursor: Cursor = 0, limit: int | None = None
    ) -> tuple[Sequence[Touchpoint], Cursor]:
        end = self._end()
        if cursor < 0 or cursor > end:
            raise ValidationError(f"cursor {cursor} is outside the log (0..{end})")
        if limit is not None and limit < 0:
            raise ValidationError("limit must be >= 0")
        rows = self._connection.execute(
            f"SELECT position, {_TOUCHPOINT_COLUMNS} FROM touchpoints "
            "WHERE position > ? ORDER BY position LIMIT ?",
            (cursor, -1 if limit is None else limit),  # LIMIT -1: no limit
        ).fetchall()
        if not rows:
            return [], cursor
        return [_touchpoint(row[1:]) for row in rows], int(rows[-1][0])

    def __len__(self) -> int:
        (count,) = self._connection.execute("SELECT count(*) FROM touchpoints").fetchone()
        return int(count)

    def _end(self) -> Cursor:
        (end,) = self._connection.execute(
            "SELECT coalesce(max(position), 0) FROM touchpoints"
        ).fetchone()
        return int(end)


# ---------------------------------------------------------------------------- stages
class SQLiteStageStore(_Connected):
    """The latest stage of each customer and the instant it was computed for (``StageStore``)."""

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS stages (
            customer_id TEXT PRIMARY KEY NOT NULL,
            stage TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS stages_as_of (
            only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
            as_of_us INTEGER NOT NULL
        );
    """

    @property
    def as_of(self) -> dt.datetime | None:
        """The instant of the stages last put (``None`` before any)."""
        row = self._connection.execute("SELECT as_of_us FROM stages_as_of").fetchone()
        return None if row is None else _instant(row[0])

    def get_stages(self, customer_ids: Iterable[str]) -> dict[str, str]:
        wanted = list(customer_ids)
        # The ids travel as one JSON parameter, so any number of them fits in one query.
        found = dict(
            self._connection.execute(
                "SELECT customer_id, stage FROM stages "
                "WHERE customer_id IN (SELECT value FROM json_each(?))",
                (_json(wanted),),
            ).fetchall()
        )
        return {c: found[c] for c in wanted if c in found}

    def put_stages(self, stages: Mapping[str, str], as_of: dt.datetime) -> None:
        as_of_us = _micros(_utc(as_of, what="as_of"))
        rows = list(stages.items())
        with self._connection:
            self._connection.execute(
                "INSERT INTO stages_as_of (only_row, as_of_us) VALUES (1, ?) "
                "ON CONFLICT (only_row) DO UPDATE SET as_of_us = excluded.as_of_us",
                (as_of_us,),
            )
            self._connection.executemany(
                "INSERT INTO stages (customer_id, stage) VALUES (?, ?) "
                "ON CONFLICT (customer_id) DO UPDATE SET stage = excluded.stage",
                rows,
            )


# ---------------------------------------------------------------------------- commissions
class SQLiteCommissionLedger(_Connected):
    """Commission entries by id, oldest first (``CommissionLedger``).

    Posting an id again replaces the entry in place (a status change): it keeps the position of
    its first posting among entries of the same instant, as the in-memory ledger does.
    """

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS commission_entries (
            id TEXT PRIMARY KEY NOT NULL,
            order_id TEXT NOT NULL,
            beneficiary_id TEXT NOT NULL,
            tier INTEGER NOT NULL,
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            status TEXT NOT NULL,
            at_us INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS commission_entries_by_beneficiary
            ON commission_entries (beneficiary_id, at_us);
    """

    _COLUMNS = "id, order_id, beneficiary_id, tier, amount_minor, currency, status, at_us"

    def post(self, entries: Iterable[CommissionEntry]) -> None:
        rows = [
            (e.id, e.order_id, e.beneficiary_id, e.tier, e.amount.minor, e.amount.currency,
             e.status.name, _micros(e.at))
            for e in entries
        ]  # fmt: skip
        with self._connection:
            self._connection.executemany(
                f"INSERT INTO commission_entries ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET order_id = excluded.order_id, "
                "beneficiary_id = excluded.beneficiary_id, tier = excluded.tier, "
                "amount_minor = excluded.amount_minor, currency = excluded.currency, "
                "status = excluded.status, at_us = excluded.at_us",
                rows,
            )

    def get_entries(self, ids: Iterable[str]) -> dict[str, CommissionEntry]:
        """The entries with these ids, looked up by primary key (in chunks of bound
        parameters), so that settling a day's commission does not read the whole table."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, CommissionEntry] = {}
        for lo in range(0, len(wanted), 500):
            chunk = wanted[lo : lo + 500]
            cursor = self._connection.execute(
                f"SELECT {self._COLUMNS} FROM commission_entries "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((e.id, e) for e in self._rows(cursor.fetchall()))
        return found

    def entries(self, beneficiary_id: str | None = None) -> list[CommissionEntry]:
        if beneficiary_id is None:
            cursor = self._connection.execute(
                f"SELECT {self._COLUMNS} FROM commission_entries ORDER BY at_us, rowid"
            )
        else:
            cursor = self._connection.execute(
                f"SELECT {self._COLUMNS} FROM commission_entries WHERE beneficiary_id = ? "
                "ORDER BY at_us, rowid",
                (beneficiary_id,),
            )
        return self._rows(cursor.fetchall())

    @staticmethod
    def _rows(rows: Iterable[tuple[Any, ...]]) -> list[CommissionEntry]:
        return [
            CommissionEntry(
                id=eid,
                order_id=order,
                beneficiary_id=beneficiary,
                tier=tier,
                amount=Money(minor, currency),
                status=CommissionStatus[status],
                at=_instant(at_us),
            )
            for eid, order, beneficiary, tier, minor, currency, status, at_us in rows
        ]


# ---------------------------------------------------------------------------- all together
class SQLiteStorage:
    """Every port on one SQLite database: ``.customers``, ``.touchpoints``, ``.stages`` and
    ``.ledger`` share one connection.

    Examples
    --------
    >>> with SQLiteStorage(":memory:") as storage:
    ...     pool = Pool("brand")
    ...     report = pool.ingest(storage.customers)
    ...     report = pool.ingest_log(storage.touchpoints)
    ...     len(pool), pool.log_cursor
    (0, 0)
    """

    def __init__(self, database: Database) -> None:
        if isinstance(database, sqlite3.Connection):
            self._connection, self._owned = database, False
        else:
            self._connection, self._owned = sqlite3.connect(database), True
        try:
            self.customers = SQLiteCustomerStore(self._connection)
            self.touchpoints = SQLiteTouchpointLog(self._connection)
            self.stages = SQLiteStageStore(self._connection)
            self.ledger = SQLiteCommissionLedger(self._connection)
        except BaseException:
            self.close()
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The one connection every port reads and writes through."""
        return self._connection

    def close(self) -> None:
        """Close the connection if this storage opened it."""
        if self._owned:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------- the script
def snapshot_differences(left: Snapshot, right: Snapshot) -> list[str]:
    """Names of the snapshot columns that differ (NaN equals NaN, NaT equals NaT)."""
    differ = [
        name
        for name in ("as_of", "tenant", "currency", "utc_offset")
        if getattr(left, name) != getattr(right, name)
    ]
    a, b = left.columns(), right.columns()
    differ.extend(sorted(set(a) ^ set(b)))
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype.kind == "M" and y.dtype.kind == "M":
            x, y = x.view("i8"), y.view("i8")
        same = x.dtype == y.dtype and x.shape == y.shape
        if same and x.dtype.kind == "f":
            same = bool(np.array_equal(x, y, equal_nan=True))
        elif same:
            same = bool(np.array_equal(x, y))
        if not same:
            differ.append(name)
    return differ


def main(argv: Sequence[str] | None = None) -> int:
    """Write a simulated pool into a SQLite file, read it back, and compare both snapshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "path", nargs="?", default="pool.sqlite3", type=Path, help="database file to write"
    )
    parser.add_argument("--replace", action="store_true", help="delete the file first if it exists")
    parser.add_argument("--customers", type=int, default=2_000, help="how many to simulate")
    args = parser.parse_args(argv)
    path: Path = args.path
    if path.exists():
        if not args.replace:
            print(f"{path} exists; pass --replace to write a new pool over it", file=sys.stderr)
            return 2
        path.unlink()

    sim = simulate_pool(args.customers, seed=1)
    direct = sim.pool()
    with SQLiteStorage(path) as storage:
        storage.customers.put(sim.customer_objects())
        storage.touchpoints.append(sim.touchpoint_objects())

    # A new connection, as a host's next run would open: only the file carries the pool over.
    with SQLiteStorage(path) as storage:
        rebuilt = Pool(direct.tenant, currency=direct.currency, utc_offset=direct.utc_offset)
        customers = rebuilt.ingest(storage.customers)
        touchpoints = rebuilt.ingest_log(storage.touchpoints)
    print(f"wrote and read back {path}")
    print(f"  customers:   {customers.customers_added} added, {len(customers.rejected)} rejected")
    print(
        f"  touchpoints: {touchpoints.touchpoints_accepted} accepted, "
        f"{len(touchpoints.duplicate_touchpoints)} duplicates, "
        f"{len(touchpoints.rejected)} rejected"
    )

    left, right = direct.snapshot(sim.as_of), rebuilt.snapshot(sim.as_of)
    print(f"simulated pool: {left!r}")
    print(f"from SQLite:    {right!r}")
    differ = snapshot_differences(left, right)
    if differ:
        print(f"the snapshots differ in {len(differ)} columns: {', '.join(differ)}")
        return 1
    print(f"the snapshots are equal in all {len(left.columns())} columns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
