"""Bad input at every public entry point of the pool, its tables and snapshots: a privdomain
error of the documented class (a ``TypeError`` only where Python's conventions call for one),
and the pool unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import TENANT, at, customer, new_pool, purchase

from privdomain import Pool, ProfileChanges, features
from privdomain.errors import (
    InvalidMoneyError,
    NaiveDatetimeError,
    PrivdomainError,
    UnknownCustomerError,
    ValidationError,
)


@pytest.fixture
def pool() -> Pool:
    p = new_pool()
    assert p.ingest([customer("c1"), purchase("t1", "c1", at(1), "9.90")]).ok
    return p


def state(pool: Pool) -> tuple[Any, ...]:
    snap = pool.snapshot(at(30))
    return (len(pool), pool.n_touchpoints, snap.to_records(), pool.tag_names)


CONSTRUCTOR: list[tuple[str, Callable[[], object], type[Exception]]] = [
    ("tenant empty", lambda: Pool(""), ValidationError),
    ("tenant not a str", lambda: Pool(42), ValidationError),  # type: ignore[arg-type]
    ("currency not a code", lambda: Pool("b", currency="yuan"), InvalidMoneyError),
    ("offset of two days", lambda: Pool("b", utc_offset=dt.timedelta(days=2)), ValidationError),
    ("offset not a timedelta", lambda: Pool("b", utc_offset=8), ValidationError),  # type: ignore[arg-type]
    (
        "offset not whole seconds",
        lambda: Pool("b", utc_offset=dt.timedelta(milliseconds=5)),
        ValidationError,
    ),
    ("tags as one str", lambda: Pool("b", tags="vip"), ValidationError),
    ("tag name empty", lambda: Pool("b", tags=[""]), ValidationError),
]


@pytest.mark.parametrize(("name", "call", "error"), CONSTRUCTOR, ids=[c[0] for c in CONSTRUCTOR])
def test_pool_constructor_refuses(name: str, call: Callable[[], object], error: type) -> None:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, PrivdomainError)


CALLS: list[tuple[str, Callable[[Pool], object], type[Exception]]] = [
    ("ingest None", lambda p: p.ingest(None), ValidationError),  # type: ignore[arg-type]
    ("ingest a str", lambda p: p.ingest("c1"), ValidationError),  # type: ignore[arg-type]
    ("ingest a dict", lambda p: p.ingest({"id": "c1"}), ValidationError),  # type: ignore[arg-type]
    ("ingest numbers", lambda p: p.ingest([1, 2]), ValidationError),  # type: ignore[list-item]
    ("ingest an int", lambda p: p.ingest(3), ValidationError),  # type: ignore[arg-type]
    ("snapshot naive", lambda p: p.snapshot(dt.datetime(2026, 1, 1)), NaiveDatetimeError),
    ("snapshot an int", lambda p: p.snapshot(1_767_225_600), ValidationError),  # type: ignore[arg-type]
    ("snapshot NaT", lambda p: p.snapshot(np.datetime64("NaT")), ValidationError),
    ("snapshot year 3000", lambda p: p.snapshot(np.datetime64("3000-01-01")), ValidationError),
    ("snapshot threads 0", lambda p: p.snapshot(at(1), threads=0), ValidationError),
    ("snapshot threads True", lambda p: p.snapshot(at(1), threads=True), ValidationError),
    ("snapshot threads str", lambda p: p.snapshot(at(1), threads="2"), ValidationError),  # type: ignore[arg-type]
    ("index_of unknown", lambda p: p.index_of(["nobody"]), UnknownCustomerError),
    ("customer unknown", lambda p: p.customer("nobody"), UnknownCustomerError),
    ("features of a pool", lambda p: features(p, at(1)), ValidationError),  # type: ignore[arg-type]
    ("features naive", lambda p: features(p.tables(), dt.datetime(2026, 1, 1)), NaiveDatetimeError),
    ("contact window", lambda p: p.snapshot(at(2)).contact_counts("year"), ValidationError),
    ("take a float", lambda p: p.snapshot(at(2)).take(np.array([0.5])), ValidationError),
    ("take 2-D", lambda p: p.snapshot(at(2)).take(np.zeros((1, 1), int)), ValidationError),
    ("row unknown", lambda p: p.snapshot(at(2)).row("nobody"), UnknownCustomerError),
    ("feature unknown", lambda p: p.snapshot(at(2)).feature("nope"), KeyError),
    ("ingest_log batch 0", lambda p: p.ingest_log(None, batch_size=0), ValidationError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("name", "call", "error"), CALLS, ids=[c[0] for c in CALLS])
def test_pool_calls_refuse_and_change_nothing(
    pool: Pool, name: str, call: Callable[[Pool], object], error: type
) -> None:
    before = state(pool)
    with pytest.raises(error) as info:
        call(pool)
    assert isinstance(info.value, PrivdomainError)
    assert state(pool) == before


def changes(**kwargs: Any) -> ProfileChanges:
    args: dict[str, Any] = {"customer_id": ["c1"], "tenant": TENANT, "at": [at(2)], **kwargs}
    return ProfileChanges.from_arrays(**args)


PROFILE_CHANGES: list[tuple[str, Callable[[], object], type[Exception]]] = [
    ("consent on a public channel", lambda: changes(consent={"douyin": [True]}), ValidationError),
    ("consent on no channel", lambda: changes(consent={"pigeon": [True]}), ValidationError),
    ("consent not boolean", lambda: changes(consent={"wecom": [1]}), ValidationError),
    ("consent too long", lambda: changes(consent={"wecom": [True, False]}), ValidationError),
    ("tag not boolean", lambda: changes(tags={"vip": ["yes"]}), ValidationError),
    ("agent too short", lambda: changes(agent_id=[]), ValidationError),
    ("attribute too long", lambda: changes(attributes={"age": [1, 2]}), ValidationError),
    ("tenant column too short", lambda: changes(tenant=[]), ValidationError),
    ("naive time", lambda: changes(at=[dt.datetime(2026, 1, 2)]), NaiveDatetimeError),
    ("numbers without a unit", lambda: changes(at=[1_767_225_600]), ValidationError),
    ("2-D time", lambda: changes(at=np.zeros((1, 1), "datetime64[s]")), ValidationError),
    (
        "built directly with a list",
        lambda: ProfileChanges(customer_id=["c1"], tenant=TENANT, at=np.array([0])),  # type: ignore[arg-type]
        ValidationError,
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error"), PROFILE_CHANGES, ids=[c[0] for c in PROFILE_CHANGES]
)
def test_profile_changes_refuse(name: str, call: Callable[[], object], error: type) -> None:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, PrivdomainError)


def test_rejected_profile_changes_are_reported_and_change_nothing(pool: Pool) -> None:
    before = state(pool)
    report = pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=["nobody", "c1", "c1"],
            tenant=[TENANT, "other", TENANT],
            at=[at(2), at(2), at(-5)],  # the last one is dated before c1 joined
            tags={"vip": [True, True, True]},
        )
    )
    reasons = [(r.index, r.reason.value, r.record) for r in report.rejected]
    assert reasons == [
        (0, "unknown_customer", "profile_change"),
        (1, "wrong_tenant", "profile_change"),
        (2, "invalid", "profile_change"),
    ]
    assert "'nobody'" in report.rejected[0].detail
    assert state(pool) == before
