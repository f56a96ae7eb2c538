"""Fixtures of the lifecycle tests: a seeded simulated pool, its snapshot and a fitted strategy."""

from __future__ import annotations

from typing import Any

import pytest

from privdomain import Pool, Snapshot
from privdomain.lifecycle import Lifecycle


@pytest.fixture(scope="session")
def sim_pool() -> tuple[Pool, Any]:
    """A seeded simulated pool of 4,000 customers, and the simulation (truth, as_of)."""
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(4000, seed=11)
    return sim.pool(), sim


@pytest.fixture(scope="session")
def sim_snapshot(sim_pool: tuple[Pool, Any]) -> Snapshot:
    pool, sim = sim_pool
    return pool.snapshot(sim.as_of)


@pytest.fixture(scope="session")
def fitted(sim_snapshot: Snapshot) -> Lifecycle:
    return Lifecycle().fit(sim_snapshot)
