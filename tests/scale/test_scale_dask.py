"""The Dask path gives the single-machine answers, on a LocalCluster of two worker processes.

Exact statistics (snapshots, fitted thresholds, every strategy's result, bindings and the
commission ledger) are identical; quantile edges come from merged sketches, identical to the
sketch of the whole pool, and within the sketch's relative error of the exact quantiles.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from privdomain.dask import (  # noqa: E402 - after the skips
    PARTITION,
    PartitionedPool,
    PartitionedSnapshot,
    partition_by_customer,
    referral_groups,
    tree_merge,
)
from privdomain.errors import ValidationError  # noqa: E402
from privdomain.frames import to_frame  # noqa: E402
from privdomain.layering import CollapsedBandsWarning, KOCDetector, RFMLayering, ValueTiers  # noqa: E402
from privdomain.lifecycle import Lifecycle  # noqa: E402
from privdomain.nudges import Nudges  # noqa: E402
from privdomain.referral import CommissionRule, ReferralAttribution  # noqa: E402
from privdomain.simulate import simulate_pool  # noqa: E402
from privdomain.strategy import QuantileSketch  # noqa: E402
from privdomain.value import LifetimeValue  # noqa: E402

CUSTOMER_COLUMNS = {
    "source": "source",
    "consent": "consent",
    "referrer_id": "referrer_id",
    "agent_id": "agent_id",
}
TOUCHPOINT_COLUMNS = {
    "amount": "amount_minor",
    "minor_units": True,
    "promotion": "promotion",
    "discount": "discount_minor",
    "related_customer_id": "related_customer_id",
    "agent_id": "agent_id",
}
RULE = CommissionRule(("0.05", "0.02"), agent_rate="0.03")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # object columns stay objects (dask would turn integer attributes into strings), and the
    # simulated frames travel inside the graph
    config = {
        "dataframe.convert-string": False,
        "distributed.admin.large-graph-warning-threshold": "1GiB",
    }
    with (
        dask.config.set(config),
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def world(client: Any) -> dict[str, Any]:
    sim = simulate_pool(1_200, seed=11)
    customers = dd.from_pandas(to_frame(sim.customers), npartitions=3)
    touchpoints = dd.from_pandas(to_frame(sim.touchpoints), npartitions=5)
    pool = PartitionedPool.from_frames(
        customers,
        touchpoints,
        tenant=sim.params.tenant,
        currency=sim.params.currency,
        utc_offset=sim.params.utc_offset,
        npartitions=4,
        customer_columns=CUSTOMER_COLUMNS,
        touchpoint_columns=TOUCHPOINT_COLUMNS,
    )
    return {
        "sim": sim,
        "pool": pool,
        "parts": pool.snapshot(sim.as_of),
        "whole": sim.pool().snapshot(sim.as_of),
    }


def _aligned(result: Any, ids: np.ndarray) -> Any:
    """``result`` with its rows in the order of ``ids``."""
    order = np.argsort(result.customer_ids.astype(str))
    found = np.searchsorted(result.customer_ids.astype(str)[order], ids.astype(str))
    return result.take(order[found])


def _assert_same_columns(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Every column equal, but the pool index: a position in a pool (see INDEX_BITS)."""
    assert list(got) == list(want)
    for name, column in want.items():
        if name == "index":
            assert np.unique(got[name]).size == got[name].size
            continue
        nan = column.dtype.kind in "fcmM"
        assert np.array_equal(got[name], column, equal_nan=nan), name


def test_every_row_is_ingested_and_reported(world: dict[str, Any]) -> None:
    reports = [r for part in world["pool"].reports() for r in part]
    assert all(r.ok for r in reports)
    assert sum(r.customers_added for r in reports) == len(world["sim"].customers)
    assert sum(r.touchpoints_accepted for r in reports) == len(world["sim"].touchpoints)
    assert sum(world["parts"].sizes()) == len(world["whole"])


def test_snapshots_are_identical(world: dict[str, Any]) -> None:
    whole = world["whole"]
    joined = world["parts"].compute()
    _assert_same_columns(joined.take(joined.rows(whole.customer_ids)).columns(), whole.columns())
    assert len(joined.order_log) == len(whole.order_log)
    assert len(joined.invitations) == len(whole.invitations)
    assert len(joined.contacts) == len(whole.contacts)
    # every referrer found in the customer's own partition: referral groups stay together
    assert (joined.referrer_row >= 0).sum() == (whole.referrer_row >= 0).sum()


@pytest.mark.parametrize(
    "make",
    [RFMLayering, ValueTiers, KOCDetector, Lifecycle, LifetimeValue],
    ids=lambda m: m.__name__,
)
def test_fit_and_apply_give_the_single_machine_answers(world: dict[str, Any], make: type) -> None:
    whole = world["whole"]
    # collapsed quantile bands warn alike on both paths; they are not the point here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapsedBandsWarning)
        alone = make().fit(whole)
        parted = world["parts"].fit(make())
    want = alone.apply(whole)
    got = _aligned(world["parts"].apply(parted).compute(), whole.customer_ids)
    _assert_same_columns(got.columns(), want.columns())


def test_sketched_quantiles_within_the_documented_bound(world: dict[str, Any]) -> None:
    """Per-partition sketches merged by the Dask tree equal the sketch of the whole pool, and
    read quantiles within ``relative_error`` of the exact ones."""
    spend = world["whole"].gross_spend[world["whole"].buyers]
    sketch = dask.delayed(lambda s: QuantileSketch.of(s.gross_spend[s.buyers], relative_error=0.01))
    merged = tree_merge([sketch(p) for p in world["parts"].partitions]).compute()
    whole = QuantileSketch.of(spend, relative_error=0.01)
    assert np.array_equal(merged.keys, whole.keys)
    assert np.array_equal(merged.counts, whole.counts)
    qs = np.linspace(0, 1, 41)
    exact = np.quantile(spend, qs, method="inverted_cdf")
    assert (np.abs(merged.quantile(qs) - exact) <= 0.01 * np.abs(exact)).all()
    assert merged.mean() == whole.mean()


def test_the_whole_pipeline_partition_by_partition(world: dict[str, Any]) -> None:
    """snapshot -> value -> layering -> lifecycle -> nudges -> referral, as on one machine."""
    whole, parts = world["whole"], world["parts"]
    at = whole.as_of + dt.timedelta(hours=10)

    value = parts.apply(parts.fit(LifetimeValue()))
    tiers = parts.apply(parts.fit(ValueTiers()))
    stages = parts.apply(parts.fit(Lifecycle()))
    nudges = Nudges()
    plan = parts.apply(nudges, "plan", stages=stages, at=at, layers=[tiers])
    referral = ReferralAttribution(rule=RULE)
    bindings = parts.apply(parts.fit(referral))
    ledgers = parts.apply(referral, "attribute")

    want_stages = Lifecycle().fit(whole).apply(whole)
    want_tiers = ValueTiers().fit(whole).apply(whole)
    want_value = LifetimeValue().fit(whole).apply(whole)
    want_plan = nudges.plan(whole, want_stages, at=at, layers=[want_tiers])
    ids = whole.customer_ids
    _assert_same_columns(_aligned(value.compute(), ids).columns(), want_value.columns())
    _assert_same_columns(_aligned(plan.compute(), ids).columns(), want_plan.columns())
    _assert_same_columns(
        _aligned(bindings.compute(), ids).columns(), referral.apply(whole).columns()
    )
    got = _ledger_rows(ledger.columns() for ledger in ledgers.parts())
    want = _ledger_rows([referral.attribute(whole).columns()])
    assert got == want
    assert len(want) > 0


def _ledger_rows(parts: Any) -> list[tuple[Any, ...]]:
    """Every ledger entry as a tuple of plain values (rows of the snapshot left out: they are
    positions, not facts), sorted."""
    rows: list[tuple[Any, ...]] = []
    for columns in parts:
        names = [n for n in columns if n != "order_row"]
        values = [[str(v) for v in np.asarray(columns[n]).tolist()] for n in names]
        rows += list(zip(*values, strict=True))
    return sorted(rows)


def test_the_ledger_is_written_as_one_dask_frame(world: dict[str, Any]) -> None:
    ledgers = world["parts"].apply(ReferralAttribution(rule=RULE), "attribute")
    frame = ledgers.to_dask_frame().compute()
    assert len(frame) == sum(len(p) for p in ledgers.parts())
    stages = world["parts"].apply(world["parts"].fit(Lifecycle()))
    assert len(stages.to_dask_frame().compute()) == len(world["whole"])


def test_what_needs_the_whole_pool_is_refused(world: dict[str, Any]) -> None:
    parts = world["parts"]
    stages = parts.apply(parts.fit(Lifecycle()))
    with pytest.raises(ValidationError, match="budget"):
        parts.apply(Nudges(), "plan", stages=stages, at=world["whole"].as_of, budget=10)
    capped = CommissionRule(("0.05", "0.02"), agent_rate="0.03", per_period_cap=1_000)
    with pytest.raises(ValidationError, match="per-period"):
        parts.apply(ReferralAttribution(rule=capped), "attribute")
    with pytest.raises(ValidationError, match="summarize"):
        parts.fit(object())
    with pytest.raises(ValidationError, match="no method"):
        parts.apply(Lifecycle(), "transform")
    short = PartitionedSnapshot(parts.partitions[:2])
    with pytest.raises(ValidationError, match="partitions"):
        short.apply(Nudges(), "plan", stages=stages, at=world["whole"].as_of)


def test_frames_partitioned_otherwise_are_refused(world: dict[str, Any]) -> None:
    sim = world["sim"]
    customers = dd.from_pandas(to_frame(sim.customers), npartitions=2)
    touchpoints = dd.from_pandas(to_frame(sim.touchpoints), npartitions=3)
    with pytest.raises(ValidationError, match="as many partitions"):
        PartitionedPool.from_frames(customers, touchpoints, tenant=sim.params.tenant)
    with pytest.raises(ValidationError, match="npartitions"):
        partition_by_customer(customers, touchpoints, 0)


def test_partitions_hold_whole_customers_and_referral_groups(world: dict[str, Any]) -> None:
    sim = world["sim"]
    customers = dd.from_pandas(to_frame(sim.customers), npartitions=2)
    touchpoints = dd.from_pandas(to_frame(sim.touchpoints), npartitions=3)
    c, t = partition_by_customer(customers, touchpoints, 3)
    assert c.npartitions == t.npartitions == 3
    home: dict[str, int] = {}
    for i, part in enumerate(c.to_delayed()):
        frame = part.compute()
        assert (frame.index == i).all()
        home.update(dict.fromkeys(frame["customer_id"], i))
    assert len(home) == len(sim.customers)
    for i, part in enumerate(t.to_delayed()):
        frame = part.compute()
        assert all(home[x] == i for x in frame["customer_id"])
        related = frame["related_customer_id"].dropna()
        assert all(home[x] == i for x in related)
    frame = c.compute()
    referred = frame["referrer_id"].notna()
    assert all(
        home[a] == home[b]
        for a, b in zip(frame["customer_id"][referred], frame["referrer_id"][referred], strict=True)
    )
    assert frame.index.name == PARTITION


# ---------------------------------------------------------------------------- groups
ids = st.sampled_from([f"c{i}" for i in range(12)])


@settings(max_examples=60, deadline=None)
@given(links=st.lists(st.tuples(ids, ids), max_size=25), seed=st.integers(0, 2**32 - 1))
def test_referral_groups_do_not_depend_on_the_order_of_links(
    links: list[tuple[str, str]], seed: int
) -> None:
    src = np.array([a for a, _ in links], dtype=object)
    dst = np.array([b for _, b in links], dtype=object)
    names, keys = referral_groups(src, dst)
    key = dict(zip(names.tolist(), keys.tolist(), strict=True))
    assert set(key) == set(src.tolist()) | set(dst.tolist())
    for a, b in links:  # linked customers share a group
        assert key[a] == key[b]
    order = np.random.default_rng(seed).permutation(len(links))
    flipped = np.random.default_rng(seed + 1).random(len(links)) < 0.5
    src2 = np.where(flipped, dst[order], src[order])
    dst2 = np.where(flipped, src[order], dst[order])
    names2, keys2 = referral_groups(src2, dst2)
    assert dict(zip(names2.tolist(), keys2.tolist(), strict=True)) == key
    # customers not linked by any chain of links are in different groups
    lone = {a for a, b in links if a == b} - {x for a, b in links if a != b for x in (a, b)}
    assert len({key[x] for x in lone}) == len(lone)


def test_referral_groups_refuse_bad_links() -> None:
    with pytest.raises(ValidationError, match="same length"):
        referral_groups(np.array(["a"], dtype=object), np.array([], dtype=object))
    with pytest.raises(ValidationError, match="no nulls"):
        referral_groups(np.array(["a"], dtype=object), np.array([None], dtype=object))


def test_tree_merge_needs_a_summary() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        tree_merge([])


def test_categorical_ids_of_every_size_shuffle(client: Any) -> None:
    """Partitions whose categorical ids have other categories (and so other code types) are
    shuffled whole: Dask would fail to join their dictionaries."""
    import pandas as pd

    def part(i: int) -> Any:
        n = 100 if i == 0 else 300  # int8 codes, then int16 codes
        ids = [f"p{i}-{k}" for k in range(n)]
        return pd.DataFrame({"customer_id": pd.Categorical(ids), "referrer_id": [None] * n})

    def touches(i: int) -> Any:
        frame = part(i)
        return pd.DataFrame(
            {"customer_id": frame["customer_id"], "related_customer_id": frame["referrer_id"]}
        )

    customers = dd.from_map(part, [0, 1])
    touchpoints = dd.from_map(touches, [0, 1])
    c, t = partition_by_customer(customers, touchpoints, 3)
    assert len(c.compute()) == 400
    assert len(t.compute()) == 400
