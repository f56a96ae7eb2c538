"""The simulator stays finite and exact with extreme parameters (rates that underflow to zero)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from privdomain.simulate import SimulationParams, simulate_pool


@pytest.mark.parametrize("r", [0.01, 0.05])
def test_purchase_rates_that_underflow_to_zero_give_no_warning_and_no_impossible_time(
    r: float,
) -> None:
    """A purchase rate drawn as (almost) zero makes gaps of inf seconds between purchases; they
    fall after the window, and the customers simulated after them keep their exact times."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim = simulate_pool(2_000, seed=0, params=SimulationParams(r=r))
    at = sim.touchpoints.at
    start = int(sim.params.start.timestamp() * 1_000_000)
    assert at.min() >= start
    assert at.max() <= int(sim.as_of.timestamp() * 1_000_000)
    pool = sim.pool()  # everything ingests (times in range, no duplicates)
    assert pool.n_touchpoints == len(at)
    assert np.all(pool.snapshot(sim.as_of).orders >= 0)
