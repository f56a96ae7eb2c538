"""Frames in and out: a pool built from pandas, polars or PyArrow frames is the pool built from
arrays, and every result reads back into a frame column for column."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

from privdomain import Channel, Pool, ProfileChanges, TouchKind, TouchpointColumns  # noqa: E402
from privdomain.errors import ValidationError  # noqa: E402
from privdomain.frames import (  # noqa: E402
    customers_from_frame,
    profile_changes_from_frame,
    to_frame,
    touchpoints_from_frame,
)
from privdomain.layering import ValueTiers  # noqa: E402
from privdomain.lifecycle import Lifecycle  # noqa: E402
from privdomain.nudges import Nudges  # noqa: E402
from privdomain.referral import CommissionRule, ReferralAttribution  # noqa: E402
from privdomain.simulate import simulate_pool  # noqa: E402
from privdomain.value import LifetimeValue  # noqa: E402

BACKENDS = ["pandas", "polars", "pyarrow"]
CUSTOMERS = {"source": "source", "consent": "consent", "referrer_id": "referrer_id"}
CUSTOMERS |= {"agent_id": "agent_id"}
TOUCHPOINTS = {
    "amount": "amount_minor",
    "minor_units": True,
    "promotion": "promotion",
    "discount": "discount_minor",
    "related_customer_id": "related_customer_id",
    "agent_id": "agent_id",
}
TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def sim() -> Any:
    return simulate_pool(600, seed=4)


@pytest.fixture(scope="module")
def snap(sim: Any) -> Any:
    return sim.pool().snapshot(sim.as_of)


def _pool(sim: Any) -> Pool:
    return Pool(sim.params.tenant, currency=sim.params.currency, utc_offset=sim.params.utc_offset)


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for name, column in want.items():
        nan = column.dtype.kind in "fcmM"
        assert np.array_equal(got[name], column, equal_nan=nan), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pool_from_frames_is_the_pool_from_arrays(sim: Any, snap: Any, backend: str) -> None:
    customers = to_frame(sim.customers, backend)
    touchpoints = to_frame(sim.touchpoints, backend)
    pool = _pool(sim)
    tenant = sim.params.tenant
    assert pool.ingest(customers_from_frame(customers, tenant=tenant, **CUSTOMERS)).ok
    assert pool.ingest(touchpoints_from_frame(touchpoints, tenant=tenant, **TOUCHPOINTS)).ok
    _same(pool.snapshot(sim.as_of).columns(), snap.columns())


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_result_reads_out(snap: Any, backend: str) -> None:
    stages = Lifecycle().fit(snap).apply(snap)
    tiers = ValueTiers().fit(snap).apply(snap)
    referral = ReferralAttribution(rule=CommissionRule(("0.05", "0.02"), agent_rate="0.03"))
    results = [
        snap,
        stages,
        tiers,
        LifetimeValue().fit(snap).apply(snap),
        Nudges().plan(snap, stages, at=snap.as_of, layers=[tiers]),
        referral.apply(snap),
        referral.attribute(snap),
    ]
    for result in results:
        frame = to_frame(result, backend)
        table = (
            frame
            if backend == "pyarrow"
            else pa.table(frame.to_arrow() if backend == "polars" else frame)
        )
        columns = result.columns()
        assert table.column_names == list(columns)
        assert table.num_rows == len(result)
        for name, want in columns.items():
            got = table.column(name).to_numpy(zero_copy_only=False)
            want = np.asarray(want)
            if want.dtype.kind == "M":
                assert str(table.schema.field(name).type) == "timestamp[us, tz=UTC]"
                got = got.astype("datetime64[us]")
                assert np.array_equal(got, want.astype("datetime64[us]"), equal_nan=True), name
            elif want.dtype.kind == "f":
                assert np.array_equal(got.astype(float), want, equal_nan=True), name
            elif want.dtype.kind == "O":
                assert [None if v is None else str(v) for v in got] == [
                    None if v is None else str(v) for v in want
                ], name
            else:
                assert np.array_equal(got, want), name


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_numeric_columns_are_shared_not_copied(snap: Any, backend: str) -> None:
    frame = to_frame(snap, backend)
    assert np.shares_memory(frame["gross_spend"].to_numpy(), snap.gross_spend)
    assert np.shares_memory(frame["orders"].to_numpy(), snap.orders)


def test_aware_and_integer_times_are_instants() -> None:
    utc = np.array(["2026-03-01T01:00", "2026-03-02T02:30"], dtype="datetime64[us]")
    local = pd.Series(pd.to_datetime(utc).tz_localize("UTC").tz_convert("Asia/Shanghai"))
    frames = [
        pd.DataFrame({"customer_id": ["a", "b"], "joined_at": local}),
        pl.DataFrame({"customer_id": ["a", "b"], "joined_at": pl.Series(utc)}).with_columns(
            pl.col("joined_at").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo")
        ),
        pl.DataFrame({"customer_id": ["a", "b"], "joined_at": utc}),
        pa.table(
            {"customer_id": ["a", "b"], "joined_at": pa.array(utc, pa.timestamp("us", "UTC"))}
        ),
    ]
    for frame in frames:
        columns = customers_from_frame(frame, tenant="brand")
        assert np.array_equal(columns.joined_at, utc.view(np.int64))
    seconds = pd.DataFrame({"customer_id": ["a", "b"], "joined_at": utc.view(np.int64) // 10**6})
    columns = customers_from_frame(seconds, tenant="brand", epoch_unit="s")
    assert np.array_equal(columns.joined_at, utc.view(np.int64))
    with pytest.raises(ValidationError, match=r"epoch_unit|unit"):
        customers_from_frame(seconds, tenant="brand")


def test_id_columns_are_dictionary_encoded_alike() -> None:
    ids = ["b", "a", None, "b", "c"]
    at = np.arange(5, dtype=np.int64) * 10**6 + 1_767_225_600 * 10**6
    frames = [
        pd.DataFrame({"id": range(5), "customer_id": ids, "at": at}),
        pd.DataFrame({"id": range(5), "customer_id": pd.Categorical(ids), "at": at}),
        pl.DataFrame({"id": range(5), "customer_id": ids, "at": at}),
        pl.DataFrame({"id": range(5), "customer_id": ids, "at": at}).with_columns(
            pl.col("customer_id").cast(pl.Categorical)
        ),
        pl.DataFrame({"id": range(5), "customer_id": ids, "at": at}).with_columns(
            pl.col("customer_id").cast(pl.Enum(["c", "b", "a"]))
        ),
        pa.table({"id": list(range(5)), "customer_id": ids, "at": at}),
    ]
    for frame in frames:
        columns = touchpoints_from_frame(
            frame, tenant="brand", channel=Channel.WECOM, kind=TouchKind.SENT, epoch_unit="us"
        )
        assert columns.customer_id.decode().tolist() == ids
        assert columns.id.tolist() == list(range(5))


def test_profile_changes_from_a_frame() -> None:
    at = np.array(["2026-03-01", "2026-03-02"], dtype="datetime64[us]")
    frame = pl.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "at": at,
            "wecom": [False, True],
            "agent": ["guide-B", None],
            "tag:vip": [True, False],
            "attr:city": ["上海", None],
        }
    )
    got = profile_changes_from_frame(
        frame, tenant="brand", consent={"wecom": "wecom"}, agent_id="agent"
    )
    want = ProfileChanges.from_arrays(
        customer_id=["c1", "c2"],
        tenant="brand",
        at=at,
        consent={"wecom": [False, True]},
        agent_id=["guide-B", None],
        tags={"vip": [True, False]},
        attributes={"city": ["上海", None]},
    )
    assert got.customer_id.decode().tolist() == want.customer_id.decode().tolist()
    assert np.array_equal(got.at, want.at)
    assert {c: v.tolist() for c, v in got.consent.items()} == {
        c: v.tolist() for c, v in want.consent.items()
    }
    assert got.agent_id is not None
    assert got.agent_id.tolist() == ["guide-B", None]
    assert {k: v.tolist() for k, v in got.tags.items()} == {"vip": [True, False]}
    assert {k: v.tolist() for k, v in got.attributes.items()} == {"city": ["上海", None]}


def test_bad_frames_are_refused_with_the_column_named(sim: Any) -> None:
    frame = to_frame(sim.touchpoints, "polars")
    with pytest.raises(ValidationError, match=r"amount='paid' is not a column.*columns are"):
        touchpoints_from_frame(frame, tenant="brand", amount="paid")
    with pytest.raises(ValidationError, match="column name"):
        touchpoints_from_frame(frame, tenant="brand", at=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="eager data frame"):
        customers_from_frame({"customer_id": ["a"]}, tenant="brand")
    with pytest.raises(ValidationError, match="boolean"):
        customers_from_frame(
            pd.DataFrame(
                {"customer_id": ["a"], "joined_at": [np.datetime64("2026-01-01")], "w": [1]}
            ),
            tenant="brand",
            consent={"wecom": "w"},
        )
    with pytest.raises(ValidationError, match="not a str"):
        customers_from_frame(to_frame(sim.customers), tenant="brand", tags="tag:vip")
    with pytest.raises(ValidationError, match="backend"):
        to_frame(sim.customers, "excel")
    with pytest.raises(ValidationError, match="to_frame takes"):
        to_frame(42)


# ---------------------------------------------------------------------------- properties
rows = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "nobody", None]),  # unknown and missing customers
        st.integers(0, 400 * 86_400),  # seconds after 2026-01-01, some after as_of
        st.sampled_from(["purchased", "refunded", "sent", "invited", "pigeon"]),
        st.one_of(st.none(), st.just(float("nan")), st.floats(-5, 500)),
        st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(rows=rows, backend=st.sampled_from(BACKENDS), times=st.sampled_from(["datetime", "int"]))
def test_frames_and_arrays_ingest_alike(rows: list[Any], backend: str, times: str) -> None:
    """Whatever the rows (unknown customers, bad amounts, unknown kinds, late events, none at
    all), a frame reports and builds exactly what the same arrays do."""
    start = np.datetime64("2026-01-01T00:00", "s")
    customers = ["c1", "c2", "c3"]
    joined = np.array([start] * 3, dtype="datetime64[us]")
    seconds = np.array([r[1] for r in rows], dtype=np.int64)
    columns: dict[str, Any] = {
        "id": [f"t{i}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows],
        "at": (start + seconds).astype("datetime64[us]") if times == "datetime" else seconds,
        "kind": [r[2] for r in rows],
        "amount": np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=float),
        "promotion": np.array([r[4] for r in rows], dtype=bool),
    }
    unit = None if times == "datetime" else "s"
    if times == "int":
        columns["at"] = seconds + int(start.astype(np.int64))
    want_pool, got_pool = Pool("brand"), Pool("brand")
    for p in (want_pool, got_pool):
        p.ingest(
            customers_from_frame(
                pd.DataFrame({"customer_id": customers, "joined_at": joined}), tenant="brand"
            )
        )
    want = want_pool.ingest(
        TouchpointColumns.from_arrays(
            tenant="brand", channel="wecom", epoch_unit=unit, **_as_arrays(columns)
        )
    )
    frame = to_frame(_Columns(columns), backend) if rows else _empty(backend, times)
    got = got_pool.ingest(
        touchpoints_from_frame(
            frame,
            tenant="brand",
            channel=Channel.WECOM,
            amount="amount",
            promotion="promotion",
            epoch_unit=unit,
        )
    )
    assert [(r.index, r.reason) for r in got.rejected] == [
        (r.index, r.reason) for r in want.rejected
    ]
    assert got.touchpoints_accepted == want.touchpoints_accepted
    as_of = dt.datetime(2026, 6, 30, tzinfo=TZ)
    _same(got_pool.snapshot(as_of).columns(), want_pool.snapshot(as_of).columns())


class _Columns:
    """Anything with ``columns()``: what :func:`to_frame` writes."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self._columns = columns

    def columns(self) -> dict[str, Any]:
        return {
            k: np.asarray(v, dtype=object if k in ("id", "customer_id", "kind") else None)
            for k, v in self._columns.items()
        }


def _as_arrays(columns: dict[str, Any]) -> dict[str, Any]:
    return {
        k: np.asarray(v, dtype=object) if k in ("id", "customer_id", "kind") else v
        for k, v in columns.items()
    }


def _empty(backend: str, times: str) -> Any:
    schema = {
        "id": pl.String,
        "customer_id": pl.String,
        "at": pl.Datetime("us") if times == "datetime" else pl.Int64,
        "kind": pl.String,
        "amount": pl.Float64,
        "promotion": pl.Boolean,
    }
    frame = pl.DataFrame(schema=schema)
    return (
        frame.to_pandas()
        if backend == "pandas"
        else frame.to_arrow()
        if backend == "pyarrow"
        else frame
    )
