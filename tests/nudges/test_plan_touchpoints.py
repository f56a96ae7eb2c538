"""NudgePlan.to_touchpoints against a reference built one Touchpoint object at a time."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain.domain.channels import Channel, TouchKind
from privdomain.domain.touchpoint import Touchpoint
from privdomain.domain.touchpoint_columns import TouchpointColumns
from privdomain.lifecycle import Lifecycle
from privdomain.nudges import Nudges
from privdomain.simulate import simulate_pool


@functools.cache
def _world(seed: int) -> tuple[Any, Any, Any]:
    sim = simulate_pool(200, seed=seed)
    pool = sim.pool()
    snap = pool.snapshot(sim.as_of)
    stages = Lifecycle().fit(snap).apply(snap)
    return sim, snap, stages


def _reference(plan: Any, tenant: str, prefix: str) -> TouchpointColumns:
    """The contacts one object per planned row, then columns (the slow, obvious way)."""
    items = []
    for i in np.flatnonzero(plan.planned).tolist():
        cid = str(plan.customer_ids[i])
        at = plan.send_at[i].astype("datetime64[us]").item().replace(tzinfo=dt.UTC)
        items.append(
            Touchpoint(
                id=prefix + cid,
                tenant=tenant,
                customer_id=cid,
                at=at,
                channel=Channel[str(plan.channel[i])],
                kind=TouchKind.SENT,
                promotion=bool(plan.promotion[i]),
            )
        )
    return TouchpointColumns.from_touchpoints(items)


def _same(got: TouchpointColumns, want: TouchpointColumns) -> None:
    assert len(got) == len(want)
    assert got.id.tolist() == want.id.tolist()
    assert got.customer_id.decode().tolist() == want.customer_id.decode().tolist()
    for name in ("at", "channel", "kind", "promotion", "amount_state", "discount_minor"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert not got.related_customer_id.present().any()
    assert not got.agent_id.present().any()
    assert got.order_id is None


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2),
    prefix=st.text(st.characters(categories=("L", "N", "P", "S")), max_size=6),
    keep=st.sampled_from(["all", "none", "some"]),
)
def test_contacts_match_the_object_reference(seed: int, prefix: str, keep: str) -> None:
    _, snap, stages = _world(seed)
    plan = Nudges().fit(snap).plan(snap, stages, at=snap.as_of)
    if keep == "none":
        plan = plan.take(np.flatnonzero(~plan.planned))
    elif keep == "some":
        plan = plan.take(np.arange(0, len(plan), 3))
    got = plan.to_touchpoints(snap.tenant, prefix)
    _same(got, _reference(plan, snap.tenant, prefix))
    assert len(got) == int(plan.planned.sum())


def test_recorded_contacts_are_idempotent_and_conflicts_are_caught() -> None:
    sim, snap, stages = _world(0)
    plan = Nudges().fit(snap).plan(snap, stages, at=snap.as_of)
    contacts = plan.to_touchpoints(snap.tenant, "n-")
    assert len(contacts) > 0
    pool = sim.pool()
    before = pool.n_touchpoints
    first = pool.ingest(contacts)
    assert first.touchpoints_accepted == len(contacts)
    assert not first.rejected
    again = pool.ingest(plan.to_touchpoints(snap.tenant, "n-"))
    assert again.touchpoints_accepted == 0
    assert len(again.duplicate_touchpoints) == len(contacts)
    assert pool.n_touchpoints == before + len(contacts)
    # the same ids a minute later: every one is a conflict, nothing is written
    later = TouchpointColumns.from_arrays(
        id=contacts.id,
        tenant=snap.tenant,
        customer_id=contacts.customer_id,
        at=contacts.at + 60_000_000,
        channel=contacts.channel,
        kind=contacts.kind,
        promotion=contacts.promotion,
        epoch_unit="us",
    )
    clash = pool.ingest(later)
    assert clash.touchpoints_accepted == 0
    assert len(clash.rejected) == len(contacts)
    assert {r.reason.name for r in clash.rejected} == {"CONFLICT"}
    assert pool.n_touchpoints == before + len(contacts)


def test_bad_arguments() -> None:
    _, snap, stages = _world(0)
    plan = Nudges().fit(snap).plan(snap, stages, at=snap.as_of)
    from privdomain.errors import ValidationError

    with pytest.raises(ValidationError):
        plan.to_touchpoints("", "n-")
    with pytest.raises(ValidationError):
        plan.to_touchpoints(snap.tenant, 3)  # type: ignore[arg-type]
