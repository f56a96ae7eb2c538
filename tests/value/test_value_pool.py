"""The snapshot entry point on real pools gives the transaction-log summary, at any instant."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain import Channel, Customer, Money, Pool, TouchKind, Touchpoint
from privdomain.value import RFMSummary, rfm_summary, rfm_summary_from_snapshot


@pytest.mark.parametrize("unit", ["D", "W"])
def test_snapshot_summary_equals_summary_of_the_pools_purchases(unit: str) -> None:
    simulate = pytest.importorskip("privdomain.simulate")
    from privdomain.domain.channels import TouchKind

    sim = simulate.simulate_pool(1_500, seed=3)
    pool = sim.pool()
    events = sim.touchpoints
    bought = (events.kind == TouchKind.PURCHASED.value) & (events.amount_state == 1)
    expected = rfm_summary(
        events.customer_id.values[events.customer_id.codes[bought]],
        (events.at[bought] // 1_000_000).astype("datetime64[s]"),  # microseconds -> seconds
        events.amount_minor[bought] / 100,
        observation_end=sim.as_of,
        utc_offset=pool.utc_offset,
        time_unit=unit,  # type: ignore[arg-type]
    )
    got = rfm_summary_from_snapshot(pool.snapshot(as_of=sim.as_of), time_unit=unit)  # type: ignore[arg-type]
    assert len(got) > 100
    assert got.customer_ids.tolist() == expected.customer_ids.tolist()
    np.testing.assert_array_equal(got.frequency, expected.frequency)
    np.testing.assert_allclose(got.recency, expected.recency, rtol=1e-12)
    np.testing.assert_allclose(got.T, expected.T, rtol=1e-12)
    assert got.monetary_value is not None
    assert expected.monetary_value is not None
    np.testing.assert_allclose(got.monetary_value, expected.monetary_value, rtol=1e-9)


# -- a snapshot as of an instant and a summary observed up to it are the same summary ----------

_START = dt.datetime(2024, 12, 25, tzinfo=dt.UTC)
_OFFSETS = [dt.timedelta(0), dt.timedelta(hours=8), dt.timedelta(hours=-5, minutes=-30)]


def _pool_and_log(
    rows: list[tuple[str, int, int]], offset: dt.timedelta
) -> tuple[Pool, Any, Any, Any]:
    """A pool holding the purchases ``(customer, microseconds after _START, yuan)``, and the log."""
    pool = Pool("brand", utc_offset=offset)
    people = sorted({c for c, _, _ in rows})
    joined = _START - dt.timedelta(days=1)
    batch: list[Customer | Touchpoint] = [
        Customer(c, tenant="brand", joined_at=joined) for c in people
    ]
    batch += [
        Touchpoint(
            f"t{i}",
            tenant="brand",
            customer_id=c,
            at=_START + dt.timedelta(microseconds=us),
            channel=Channel.MINI_PROGRAM,
            kind=TouchKind.PURCHASED,
            amount=Money.of(str(yuan)),
        )
        for i, (c, us, yuan) in enumerate(rows)
    ]
    if batch:
        pool.ingest(batch)
    ids = np.array([c for c, _, _ in rows], dtype=object)
    start = np.datetime64(_START.replace(tzinfo=None), "us")
    when = start + np.array([us for _, us, _ in rows], dtype="timedelta64[us]")
    amounts = np.array([float(yuan) for _, _, yuan in rows])
    return pool, ids, when, amounts


def _assert_same(got: RFMSummary, expected: RFMSummary) -> None:
    assert got.customer_ids.tolist() == expected.customer_ids.tolist()
    np.testing.assert_array_equal(got.frequency, expected.frequency)
    np.testing.assert_array_equal(got.recency, expected.recency)
    np.testing.assert_array_equal(got.T, expected.T)
    np.testing.assert_array_equal(got.monetary_value, expected.monetary_value)


_DAY_US = 86_400 * 1_000_000


@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["ann", "bob", "cy", "dee"]),
            # microseconds after _START, over a month: several purchases a day, some at once
            st.integers(0, 30 * _DAY_US) | st.sampled_from([0, 1, _DAY_US - 1, _DAY_US]),
            st.integers(0, 500),  # whole yuan, so sums are exact in float64 too
        ),
        max_size=30,
    ),
    as_of_us=st.integers(0, 32 * _DAY_US),
    unit=st.sampled_from(["D", "W", "M"]),
    offset=st.sampled_from(_OFFSETS),
)
def test_snapshot_and_log_summaries_agree_at_any_instant(
    rows: list[tuple[str, int, int]], as_of_us: int, unit: str, offset: dt.timedelta
) -> None:
    pool, ids, when, amounts = _pool_and_log(rows, offset)
    as_of = _START + dt.timedelta(microseconds=as_of_us)
    from_log = rfm_summary(
        ids, when, amounts, observation_end=as_of, time_unit=unit, utc_offset=offset
    )  # type: ignore[arg-type]
    from_pool = rfm_summary_from_snapshot(pool.snapshot(as_of=as_of), time_unit=unit)  # type: ignore[arg-type]
    _assert_same(from_pool, from_log)


def test_a_purchase_later_on_the_as_of_day_is_invisible_to_both() -> None:
    # First purchase on 1 Jan, another at 15:00 on 2 Jan; the summary is taken at 09:00 on 2 Jan.
    rows = [("ann", 7 * _DAY_US, 10), ("ann", 8 * _DAY_US + 15 * 3_600_000_000, 20)]
    pool, ids, when, amounts = _pool_and_log(rows, dt.timedelta(0))
    as_of = _START + dt.timedelta(days=8, hours=9)
    from_log = rfm_summary(ids, when, amounts, observation_end=as_of)
    from_pool = rfm_summary_from_snapshot(pool.snapshot(as_of=as_of))
    assert from_log.frequency.tolist() == from_pool.frequency.tolist() == [0.0]
    assert from_log.T.tolist() == from_pool.T.tolist() == [1.0]
    _assert_same(from_pool, from_log)
