"""The snapshot entry point on a real simulated pool gives the transaction-log summary."""

from __future__ import annotations

import numpy as np
import pytest

from privdomain.value import rfm_summary, rfm_summary_from_snapshot


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
