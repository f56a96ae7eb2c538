"""Builders and assertions shared by the foundation tests.

Times are in China's offset (+08:00) unless a test says otherwise, because that is where the
day boundaries of a Chinese brand's pool lie and where off-by-a-day bugs hide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from privdomain import (
    Channel,
    Customer,
    IngestReport,
    Money,
    Pool,
    Snapshot,
    TouchKind,
    Touchpoint,
    TouchpointColumns,
)
from privdomain.domain.snapshot import _Relation

TENANT = "brand"
CHINA = dt.timedelta(hours=8)
TZ8 = dt.timezone(CHINA, "UTC+08:00")
#: Midnight of 1 January 2026 in China: the origin of every test timeline.
T0 = dt.datetime(2026, 1, 1, tzinfo=TZ8)


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dt.datetime:
    """An instant measured from :data:`T0`."""
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def new_pool(**kwargs: Any) -> Pool:
    """An empty pool of :data:`TENANT` whose business days are cut at midnight in China."""
    kwargs.setdefault("utc_offset", CHINA)
    return Pool(TENANT, **kwargs)


def customer(cid: str, joined: dt.datetime = T0, **kwargs: Any) -> Customer:
    """A customer of :data:`TENANT`."""
    kwargs.setdefault("tenant", TENANT)
    return Customer(cid, joined_at=joined, **kwargs)


def touch(
    tid: str,
    cid: str,
    when: dt.datetime,
    kind: TouchKind | str = TouchKind.VISITED,
    channel: Channel | str = Channel.WECOM,
    **kwargs: Any,
) -> Touchpoint:
    """A touchpoint of :data:`TENANT`; ``amount`` and ``discount`` may be given as strings."""
    kwargs.setdefault("tenant", TENANT)
    for money in ("amount", "discount"):
        if isinstance(kwargs.get(money), str):
            kwargs[money] = Money.of(kwargs[money])
    return Touchpoint(tid, customer_id=cid, at=when, channel=channel, kind=kind, **kwargs)


def purchase(tid: str, cid: str, when: dt.datetime, amount: str, **kwargs: Any) -> Touchpoint:
    """A purchase of ``amount`` yuan."""
    return touch(
        tid,
        cid,
        when,
        TouchKind.PURCHASED,
        kwargs.pop("channel", Channel.MINI_PROGRAM),
        amount=amount,
        **kwargs,
    )


def columns_of(touchpoints: Sequence[Touchpoint], *, int_ids: bool = False) -> TouchpointColumns:
    """The same touchpoints as a host with arrays would pass them (``from_arrays``).

    Amounts go in as float minor units (NaN where a row has none), which is exact for any
    amount a test uses.
    """
    amount = [np.nan if tp.amount is None else float(tp.amount.minor) for tp in touchpoints]
    discount = [np.nan if tp.discount is None else float(tp.discount.minor) for tp in touchpoints]
    ids: Any = (
        np.array([int(tp.id.lstrip("t")) for tp in touchpoints], dtype=np.int64)
        if int_ids
        else [tp.id for tp in touchpoints]
    )
    return TouchpointColumns.from_arrays(
        id=ids,
        tenant=[tp.tenant for tp in touchpoints],
        customer_id=[tp.customer_id for tp in touchpoints],
        at=np.array([tp.at.timestamp() for tp in touchpoints], dtype=np.int64).astype("M8[s]"),
        channel=[tp.channel.name.lower() for tp in touchpoints],
        kind=[tp.kind for tp in touchpoints],
        amount=np.array(amount, dtype=np.float64),
        minor_units=True,
        promotion=np.array([tp.promotion for tp in touchpoints], dtype=bool),
        discount=np.array(discount, dtype=np.float64),
        related_customer_id=[tp.related_customer_id for tp in touchpoints],
        agent_id=[tp.agent_id for tp in touchpoints],
    )


# ---------------------------------------------------------------------------- assertions
def assert_accounted(report: IngestReport, *, customers: int = 0, touchpoints: int = 0) -> None:
    """Every record given is accounted for exactly once in ``report``.

    Customers are added, updated, unchanged or rejected; touchpoints accepted, duplicates or
    rejected. No index is reported twice, and every reported index is a position in the input.
    """
    rejected_c = [r.index for r in report.rejected if r.record == "customer"]
    rejected_t = [r.index for r in report.rejected if r.record == "touchpoint"]
    assert len(rejected_c) + len(rejected_t) == len(report.rejected), "unknown record kind"
    taken = report.customers_added + report.customers_updated + report.customers_unchanged
    assert taken + len(rejected_c) == customers, report
    duplicates = report.duplicate_touchpoints.tolist()
    assert report.touchpoints_accepted + len(duplicates) + len(rejected_t) == touchpoints, report
    assert len(set(rejected_c)) == len(rejected_c), "a customer was rejected twice"
    assert len(set(rejected_t)) == len(rejected_t), "a touchpoint was rejected twice"
    assert len(set(duplicates)) == len(duplicates), "a duplicate was reported twice"
    assert not set(duplicates) & set(rejected_t), "a touchpoint is both duplicate and rejected"
    assert all(0 <= i < customers for i in rejected_c)
    assert all(0 <= i < touchpoints for i in [*rejected_t, *duplicates])


def reasons_by_index(report: IngestReport, record: str = "touchpoint") -> dict[int, Any]:
    """``{index: reason}`` of the rejected records of one kind."""
    return {r.index: r.reason for r in report.rejected if r.record == record}


def _datetimes_as_int(value: np.ndarray) -> np.ndarray:
    return value.view(np.int64) if value.dtype.kind == "M" else value


def _assert_column_equal(name: str, left: Any, right: Any) -> None:
    if isinstance(left, np.ndarray):
        assert isinstance(right, np.ndarray), name
        assert left.shape == right.shape, f"{name}: shape {left.shape} != {right.shape}"
        assert left.dtype == right.dtype, f"{name}: dtype {left.dtype} != {right.dtype}"
        np.testing.assert_array_equal(
            _datetimes_as_int(left), _datetimes_as_int(right), err_msg=name, strict=True
        )
    else:
        assert left == right, f"{name}: {left!r} != {right!r}"


def _rows_by_id(snap: Snapshot) -> np.ndarray:
    return np.argsort(snap.customer_ids.astype(str), kind="stable")


def _relation_records(
    snap: Snapshot, table: _Relation, *, order_ids: bool = True
) -> list[tuple[Any, ...]]:
    """A relational table's rows with snapshot rows and agent codes as ids (pool-neutral)."""
    ids = np.append(snap.customer_ids, None)
    agents = np.array([*snap.agent_names, None], dtype=object)
    columns = table.columns()
    if not order_ids:
        columns.pop("order_id", None)
    for name in ("row", "invitee_row"):
        if name in columns:
            columns[name] = ids[columns[name]]
    if "agent" in columns:
        columns["agent"] = agents[columns["agent"]]
    plain = [
        [str(v) for v in col.tolist()] if col.dtype.kind == "M" else col.tolist()
        for col in columns.values()
    ]
    return list(zip(*plain, strict=True))


def assert_snapshots_equal(
    left: Snapshot, right: Snapshot, *, by_id: bool = False, order_ids: bool = True
) -> None:
    """Every field of two snapshots is equal (NaN equals NaN, NaT equals NaT).

    With ``by_id`` the rows are matched by customer id instead of by pool index order, and the
    pool indices themselves are not compared: for pools that took the same customers in a
    different order.
    """
    lrows = _rows_by_id(left) if by_id else slice(None)
    rrows = _rows_by_id(right) if by_id else slice(None)
    for field in attrs.fields(Snapshot):
        name = field.name
        if by_id and name in ("index", "referrer_row"):
            continue  # row numbers; the ids (referrer_ids) are compared
        if name == "agent":
            continue  # a pool's own codes; the ids (agent_ids) are compared
        lv, rv = getattr(left, name), getattr(right, name)
        if name == "agent_names":
            continue  # a pool's own codes, compared through the ids they stand for
        if isinstance(lv, _Relation):
            # tables are in log order, which depends on the order of ingest: compare as sets
            lrec = sorted(_relation_records(left, lv, order_ids=order_ids), key=repr)
            rrec = sorted(_relation_records(right, rv, order_ids=order_ids), key=repr)
            assert lrec == rrec, f"{name}: {lrec} != {rrec}"
            continue
        if isinstance(lv, dict):
            assert sorted(lv) == sorted(rv), f"{name}: {sorted(lv)} != {sorted(rv)}"
            for key in lv:
                _assert_column_equal(f"{name}[{key!r}]", lv[key][lrows], rv[key][rrows])
        elif isinstance(lv, np.ndarray):
            _assert_column_equal(name, lv[lrows], rv[rrows])
        else:
            _assert_column_equal(name, lv, rv)


def assert_pools_equal(left: Pool, right: Pool, *, order_keys: bool = True) -> None:
    """Two pools hold the same customers (all fields), the same profile histories and the
    same event log (``order_keys=False`` when one used integer ids and the other strings)."""
    assert len(left) == len(right)
    assert left.customer_ids.tolist() == right.customer_ids.tolist()
    for a, b in zip(left.customers(), right.customers(), strict=True):
        assert a.same_data(b), (a, b)
    assert left.n_touchpoints == right.n_touchpoints
    skip = set() if order_keys else {"money_order", "order_labels"}
    for name in type(left.events).__slots__:
        if name in skip:
            continue
        _assert_column_equal(
            f"events.{name}", getattr(left.events, name), getattr(right.events, name)
        )
    lt, rt = left.tables(), right.tables()
    assert sorted(lt.profile) == sorted(rt.profile)
    for name in lt.profile:
        for part in ("customer", "at", "value"):
            _assert_column_equal(
                f"profile[{name}].{part}",
                getattr(lt.profile[name], part),
                getattr(rt.profile[name], part),
            )


def ingest_all(pool: Pool, batches: Iterable[Sequence[Customer | Touchpoint]]) -> Pool:
    """Ingest several batches in turn; every record must be accepted or a duplicate."""
    for batch in batches:
        report = pool.ingest(list(batch))
        assert report.ok, report.rejected
    return pool
