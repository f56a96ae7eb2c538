"""Fixtures of the layering tests."""

from __future__ import annotations

import pytest

from privdomain import Snapshot


@pytest.fixture(scope="session")
def sim_snapshot() -> Snapshot:
    """A seeded simulated pool of 3,000 customers."""
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(3000, seed=7)
    return sim.pool().snapshot(sim.as_of)
