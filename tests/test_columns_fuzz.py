"""Fuzzing the columnar constructors with junk for every argument.

Whatever a host passes, one of two things happens: a privdomain error is raised, or columns come
out that a pool ingests, accounting for every row (accepted, duplicate or rejected). And when
the pool itself refuses a batch with a privdomain error, it is left exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import attrs
import hypothesis.extra.numpy as hnp
import numpy as np
from helpers import TENANT, assert_accounted, at, customer, purchase, touch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain import (
    Channel,
    CustomerColumns,
    EncodedIds,
    Money,
    Pool,
    TouchKind,
    TouchpointColumns,
)
from privdomain.errors import PrivdomainError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
AS_OF = at(60)
EPOCH_2026 = 1_767_225_600  # 2026-01-01T00:00:00Z in seconds

# ---------------------------------------------------------------------------- junk
scalar_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62 - 2, max_value=2**64 + 1),
    st.integers(min_value=-(2**64), max_value=-(2**62)),
    st.floats(),
    st.just(math.nan),
    st.decimals(),
    st.text(max_size=4),
    st.sampled_from(["wecom", "purchased", "c1", "c2", "brand", "CNY", "jpy", "True", "nan"]),
    st.sampled_from(["1.5", "-2", "1e999999", "9" * 40, "", "abc"]),
    st.binary(max_size=3),
    st.builds(Money, st.integers(-(10**6), 10**6), st.sampled_from(["CNY", "JPY", "USD", "cny"])),
    st.just(Channel.WECOM),
    st.just(TouchKind.PURCHASED),
    st.lists(st.integers(), max_size=2),
    st.tuples(st.text(max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.just(dt.datetime(2026, 1, 2)),  # naive
    st.just(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
    st.just(np.datetime64("NaT")),
    st.just(np.arange(2)),  # an array inside an object column
    st.just(np.float64("nan")),
    st.just(np.int64(-1)),
)
DTYPES = st.sampled_from(
    [
        np.int8,
        np.int64,
        np.uint8,
        np.uint64,
        np.float16,
        np.float64,
        np.bool_,
        np.complex128,
        np.dtype("<U3"),
        np.dtype("S2"),
        np.dtype("datetime64[s]"),
        np.dtype("timedelta64[s]"),
    ]
)


def lengths(n: int) -> st.SearchStrategy[int]:
    """Mostly the right length; sometimes one short, one long, or empty."""
    return st.sampled_from([n, n, n, n + 1, max(n - 1, 0), 0])


def junk(n: int) -> st.SearchStrategy[Any]:
    """Anything a host might pass as a column of ``n`` rows (or instead of one)."""
    return st.one_of(
        scalar_junk,
        lengths(n).flatmap(lambda k: st.lists(scalar_junk, min_size=k, max_size=k)),
        st.tuples(DTYPES, lengths(n)).flatmap(lambda dk: hnp.arrays(dk[0], dk[1])),
        hnp.arrays(np.int64, st.sampled_from([(n, 1), (1, n), (), (n, 2)])),
        lengths(n).flatmap(
            lambda k: st.lists(scalar_junk, min_size=k, max_size=k).map(_object_array)
        ),
    )


def _object_array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def draw_arguments(
    draw: st.DrawFn, valid: dict[str, st.SearchStrategy[Any]], n: int
) -> dict[str, Any]:
    """Valid values for most arguments and junk for a few (none to three of them), so that
    both the checks and the pool behind them are reached."""
    spoiled = draw(st.sets(st.sampled_from(sorted(valid)), max_size=3), label="junk for")
    return {
        name: draw(junk(n) if name in spoiled else strategy, label=name)
        for name, strategy in valid.items()
    }


# ---------------------------------------------------------------------------- touchpoints
CHANNELS = ["wecom", "WeCom", "mini_program", Channel.SMS, 1, 4, "douyin", "fax", 99]
KINDS = ["purchased", "refunded", "visited", "invited", TouchKind.SENT, 8, 9, 4, "teleported"]
CUSTOMER_IDS = ["c1", "c2", "nobody", None]


def instants(n: int) -> st.SearchStrategy[Any]:
    seconds = st.lists(st.integers(0, 50 * 86_400), min_size=n, max_size=n)
    return st.one_of(
        seconds.map(lambda s: [at(seconds=x) for x in s]),
        seconds.map(lambda s: (np.array(s) + EPOCH_2026).astype("datetime64[s]")),
    )


@st.composite
def touchpoint_arrays(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 6))
    rows = lambda values: st.lists(st.sampled_from(values), min_size=n, max_size=n)  # noqa: E731
    epoch_unit = draw(st.sampled_from([None, None, "s", "ms", "days"]))
    valid: dict[str, st.SearchStrategy[Any]] = {
        "id": st.one_of(
            rows(["t1", "t2", "t3", "t4", "t5", "t6"]),
            st.lists(st.integers(-5, 5), min_size=n, max_size=n).map(np.array),
        ),
        "tenant": st.one_of(st.just(TENANT), rows([TENANT, "other"])),
        "customer_id": st.one_of(st.sampled_from(CUSTOMER_IDS), rows(CUSTOMER_IDS)),
        "at": instants(n),
        "channel": st.one_of(st.sampled_from(CHANNELS), rows(CHANNELS)),
        "kind": st.one_of(st.sampled_from(KINDS), rows(KINDS)),
        "amount": st.one_of(
            st.none(),
            st.lists(st.floats(-10, 1e4), min_size=n, max_size=n).map(np.array),
            st.lists(st.integers(-10, 10**6), min_size=n, max_size=n),
            rows([Money(990), Money(500, "JPY"), None, "9.90", math.nan]),
        ),
        "currency": st.one_of(st.just("CNY"), rows(["CNY", "cny", "JPY"])),
        "minor_units": st.booleans(),
        "promotion": st.one_of(st.booleans(), rows([True, False, 0, 1])),
        "discount": st.one_of(
            st.none(),
            st.lists(st.floats(0, 100), min_size=n, max_size=n),
            rows([Money(100), Money(1, "USD"), None]),
        ),
        "related_customer_id": st.one_of(st.none(), rows(CUSTOMER_IDS)),
        "agent_id": st.one_of(st.none(), rows(["a1", "a2", None, ""])),
    }
    drawn = draw_arguments(draw, valid, n)
    if epoch_unit is not None:
        drawn["epoch_unit"] = epoch_unit
        if draw(st.booleans()):
            drawn["at"] = EPOCH_2026 + np.arange(n) * 3600  # seconds, read in the drawn unit
    return drawn


def seeded_pool() -> Pool:
    """A pool with two customers and a few touchpoints, so that duplicates can happen."""
    pool = Pool(TENANT)
    report = pool.ingest(
        [
            customer("c1"),
            customer("c2"),
            purchase("t1", "c1", at(1), "10.00"),
            touch("t2", "c2", at(2)),
        ]
    )
    assert report.ok, report
    return pool


def pool_state(pool: Pool) -> tuple[Any, ...]:
    snap = pool.snapshot(AS_OF, threads=1)
    return (
        len(pool),
        pool.n_touchpoints,
        tuple(pool.customer_ids.tolist()),
        len(snap),
        float(snap.gross_spend.sum()),
        float(snap.refunded.sum()),
        int(snap.orders.sum()),
    )


def ingests_every_row(columns: TouchpointColumns | CustomerColumns) -> None:
    """``columns`` go into a pool with every row accounted for, or leave it unchanged."""
    pool = seeded_pool()
    before = pool_state(pool)
    try:
        report = pool.ingest(columns)
    except PrivdomainError:
        assert pool_state(pool) == before
        return
    if isinstance(columns, TouchpointColumns):
        assert_accounted(report, touchpoints=len(columns))
    else:
        assert_accounted(report, customers=len(columns))
    pool_state(pool)  # and the pool still answers


@FUZZ
@given(kwargs=touchpoint_arrays())
def test_touchpoint_columns_from_arrays(kwargs: dict[str, Any]) -> None:
    try:
        columns = TouchpointColumns.from_arrays(**kwargs)
    except PrivdomainError:
        return
    assert len(columns) == len(columns.id) == len(columns.customer_id)
    assert set(columns.amount_state.tolist()) <= {-1, 0, 1}
    valid = columns.amount_state == 1
    assert (columns.amount_minor[valid] >= 0).all()
    assert (columns.amount_minor[valid] < 2**62).all()
    ingests_every_row(columns)


def _valid_touchpoint_fields() -> dict[str, Any]:
    columns = TouchpointColumns.from_arrays(
        id=["t1", "t3", "t4"],
        tenant=TENANT,
        customer_id=["c1", "c2", "c1"],
        at=[at(1), at(2), at(3)],
        channel="wecom",
        kind=["purchased", "visited", "refunded"],
        amount=[9.9, math.nan, 1.0],
    )
    return {f.name: getattr(columns, f.name) for f in attrs.fields(TouchpointColumns)}


TOUCHPOINT_FIELDS = [f.name for f in attrs.fields(TouchpointColumns)]


@FUZZ
@given(
    replaced=st.lists(st.sampled_from(TOUCHPOINT_FIELDS), min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_touchpoint_columns_constructor(replaced: list[str], data: st.DataObject) -> None:
    fields = _valid_touchpoint_fields()
    for name in replaced:
        fields[name] = data.draw(junk(3), label=name)
    try:
        columns = TouchpointColumns(**fields)
    except PrivdomainError:
        return
    assert columns.at.dtype == np.int64
    assert columns.channel.dtype == columns.kind.dtype == np.uint8
    assert columns.promotion.dtype == np.bool_
    ingests_every_row(columns)


# ---------------------------------------------------------------------------- customers
@st.composite
def customer_arrays(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 5))
    rows = lambda values: st.lists(st.sampled_from(values), min_size=n, max_size=n)  # noqa: E731
    ids = ["c1", "c2", "c3", "c4", "c5", "c6", "", None]
    valid: dict[str, st.SearchStrategy[Any]] = {
        "id": rows(ids),
        "tenant": st.one_of(st.just(TENANT), rows([TENANT, "other"])),
        "joined_at": instants(n),
        "source": st.one_of(
            st.sampled_from(["douyin", Channel.JD, 21, "fax"]), rows(["jd", 3, 255])
        ),
        "consent": st.one_of(st.integers(0, 1023), rows([0, 1, 6, 1023]).map(np.array)),
        "referrer_id": st.one_of(st.none(), rows(ids)),
        "agent_id": st.one_of(st.none(), rows(["a1", None, ""])),
        "tags": st.one_of(
            st.none(),
            rows([None, ("vip",), ("vip", "new"), ()]),
            st.just({"vip": np.ones(n, bool)}),
        ),
        "attributes": st.one_of(
            st.none(),
            rows([None, {"age": 30}, {"region": "华东"}, {}]),
            st.just({"age": np.arange(n, dtype=float)}),
        ),
    }
    return draw_arguments(draw, valid, n)


@FUZZ
@given(kwargs=customer_arrays())
def test_customer_columns_from_arrays(kwargs: dict[str, Any]) -> None:
    try:
        columns = CustomerColumns.from_arrays(**kwargs)
    except PrivdomainError:
        return
    assert len(columns) == len(columns.id) == len(columns.consent)
    assert (columns.consent < 1 << 10).all()
    ingests_every_row(columns)


def _valid_customer_fields() -> dict[str, Any]:
    columns = CustomerColumns.from_arrays(
        id=["c3", "c1", "c4"],
        tenant=TENANT,
        joined_at=[at(0)] * 3,
        referrer_id=[None, None, "c3"],
        tags={"vip": np.array([True, False, True])},
        attributes={"age": [30, None, 41]},
    )
    names = ("id", "tenant", "joined_at", "source", "consent", "referrer_id", "agent_id")
    return {name: getattr(columns, name) for name in (*names, "tags", "attributes")}


CUSTOMER_FIELDS = [*_valid_customer_fields()]


@FUZZ
@given(
    replaced=st.lists(st.sampled_from(CUSTOMER_FIELDS), min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_customer_columns_constructor(replaced: list[str], data: st.DataObject) -> None:
    fields = _valid_customer_fields()
    for name in replaced:
        if name in ("tags", "attributes") and data.draw(st.booleans()):
            fields[name] = {"x": data.draw(junk(3), label=name)}
        else:
            fields[name] = data.draw(junk(3), label=name)
    try:
        columns = CustomerColumns(**fields)
    except PrivdomainError:
        return
    assert columns.joined_at.dtype == np.int64
    assert columns.consent.dtype == np.uint32
    ingests_every_row(columns)


# ---------------------------------------------------------------------------- encoded ids
@FUZZ
@given(codes=junk(3), values=junk(2))
def test_encoded_ids_from_codes_and_values(codes: Any, values: Any) -> None:
    try:
        ids = EncodedIds(codes, values)
    except PrivdomainError:
        return
    assert ids.codes.dtype == np.int64
    assert ((ids.codes >= -1) & (ids.codes < len(ids.values))).all()
    assert len(ids.decode()) == len(ids)


@FUZZ
@given(values=junk(3), n=st.sampled_from([None, 3]))
def test_encoded_ids_encode(values: Any, n: int | None) -> None:
    try:
        ids = EncodedIds.encode(values, n, what="customer_id")
    except PrivdomainError:
        return
    if len(ids) != 3:
        return
    columns = TouchpointColumns.from_arrays(
        id=["t7", "t8", "t9"],
        tenant=TENANT,
        customer_id=ids,
        at=[at(1)] * 3,
        channel="wecom",
        kind="visited",
        related_customer_id=ids,
        agent_id=ids,
    )
    ingests_every_row(columns)


# ---------------------------------------------------------------------------- money
money = st.builds(
    Money, st.integers(-(2**62) + 1, 2**62 - 1), st.sampled_from(["CNY", "JPY", "USD"])
)


@FUZZ
@given(amount=scalar_junk, currency=st.one_of(st.sampled_from(["CNY", "jpy"]), scalar_junk))
def test_money_of_gives_money_or_invalid_money(amount: Any, currency: Any) -> None:
    try:
        result = Money.of(amount, currency)
    except PrivdomainError:
        return
    assert -(2**62) < result.minor < 2**62


@FUZZ
@given(minor=scalar_junk, currency=st.one_of(st.just("CNY"), scalar_junk))
def test_money_gives_money_or_invalid_money(minor: Any, currency: Any) -> None:
    try:
        result = Money(minor, currency)
    except PrivdomainError:
        return
    assert type(result.minor) is int


@FUZZ
@given(
    left=money,
    right=st.one_of(money, scalar_junk),
    weights=st.one_of(st.lists(st.one_of(scalar_junk, st.integers(0, 9)), max_size=4), scalar_junk),
)
def test_money_operators_stay_in_the_family(left: Money, right: Any, weights: Any) -> None:
    for operation in (
        lambda: left + right,
        lambda: left - right,
        lambda: left < right,
        lambda: left >= right,
    ):
        try:
            operation()
        except PrivdomainError:
            pass
        except TypeError:  # Python's own, for an operand that is no Money
            assert not isinstance(right, Money)
    try:
        parts = left.allocate(weights)
    except PrivdomainError:
        return
    assert sum(p.minor for p in parts) == left.minor


def test_decimal_weights_at_every_magnitude_split_exactly() -> None:
    for exponent in (-30, 0, 30, 10**6):
        weights = [Decimal(f"1e{exponent}"), Decimal(f"3e{exponent}")]
        assert [p.minor for p in Money(100).allocate(weights)] == [25, 75]
