"""The daily cycle: one run is what the strategies give by hand, repeated runs change nothing,
runs go forward in time, and bad input gets a clear error."""

from __future__ import annotations

import datetime as dt
import io
import sys
import threading
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain import Pool, ProfileChanges
from privdomain.errors import EmptyPoolError, NaiveDatetimeError, ValidationError
from privdomain.layering import LayeringWarning
from privdomain.lifecycle import Lifecycle, transitions
from privdomain.memory import (
    InMemoryCommissionLedger,
    InMemoryStageStore,
    InMemoryTouchpointLog,
)
from privdomain.nudges import NudgePolicy, Nudges
from privdomain.pipeline import STAGES, CycleResult, DailyCycle, stamp, tqdm_progress
from privdomain.referral import CommissionRule, ReferralAttribution, attribute
from privdomain.simulate import SimulatedPool, simulate_pool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import sqlite_adapter as sa  # noqa: E402

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)
RULE = CommissionRule((0.10, 0.03), agent_rate=0.02)


@cache
def _sim(n: int = 600, seed: int = 11) -> SimulatedPool:
    return simulate_pool(n, seed=seed)


def _start(sim: SimulatedPool) -> dt.datetime:
    """Three weeks before the simulation's end: the first run of the tests."""
    return sim.as_of - 3 * WEEK


def _us(when: dt.datetime) -> int:
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _events(sim: SimulatedPool, after: dt.datetime | None, upto: dt.datetime) -> Any:
    """The simulated touchpoints dated in ``(after, upto]``."""
    at = sim.touchpoints.at
    keep = at <= _us(upto)
    if after is not None:
        keep &= at > _us(after)
    return sim.touchpoints.take(np.flatnonzero(keep))


def _pool(sim: SimulatedPool, upto: dt.datetime) -> Pool:
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    pool.ingest(_events(sim, None, upto))
    return pool


def _cycle(pool: Pool, **kwargs: Any) -> DailyCycle:
    kwargs.setdefault("referral", ReferralAttribution(RULE))
    return DailyCycle(pool, **kwargs)


def _ledger_state(ledger: Any) -> list[tuple[str, str, int, str]]:
    return [(e.id, e.order_id, e.amount.minor, e.status.name) for e in ledger.entries()]


def _state(cycle: DailyCycle) -> dict[str, Any]:
    """What the cycle persisted: the ports' content and the pool's events."""
    stored = cycle.stages.get_stages(cycle.pool.customer_ids.tolist())
    log = cycle.touchpoints
    return {
        "ledger": _ledger_state(cycle.ledger),
        "stages": stored,
        "stages_as_of": getattr(cycle.stages, "as_of", None),
        "pool_events": cycle.pool.n_touchpoints,
        "log": None if log is None else log.read_since(0)[1],
    }


def _same_plan(a: Any, b: Any) -> None:
    for name, col in a.columns().items():
        other = b.columns()[name]
        if col.dtype.kind == "f":
            np.testing.assert_array_equal(col, other)
        else:
            assert col.tolist() == other.tolist(), name


# ---------------------------------------------------------------------- one run
def test_a_run_is_what_the_strategies_give_by_hand() -> None:
    sim = _sim()
    t0 = _start(sim)
    cycle = _cycle(_pool(sim, t0))
    result = cycle.run(t0)
    assert isinstance(result, CycleResult)
    assert not result.repeated

    # an independent pool and strategies, called one by one
    snapshot = _pool(sim, t0).snapshot(t0)
    assert result.snapshot.customer_ids.tolist() == snapshot.customer_ids.tolist()
    stages = Lifecycle().fit(snapshot).apply(snapshot)
    assert result.stages.stage_keys().tolist() == stages.stage_keys().tolist()
    # the first run: every customer enters each ladder once
    assert len(result.transitions) == 3 * len(snapshot)
    assert set(result.transitions.trigger.tolist()) == {"entered"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayeringWarning)  # the cycle keeps them as notes
        layers = [s.fit(snapshot).apply(snapshot) for s in _fresh_layerings()]
    by_hand = Nudges().plan(snapshot, stages, at=t0 + dt.timedelta(hours=1), layers=layers)
    _same_plan(result.plan, by_hand)
    ledger = attribute(snapshot, RULE)
    assert result.ledger.total() == ledger.total()
    assert result.summary()["commission"]["total_minor"] == ledger.total().minor

    # persisted: the stages of t0, the contacts as SENT touchpoints, the commission
    assert cycle.stages.get_stages(snapshot.customer_ids.tolist()) == stages.store_values()
    planned = int(by_hand.planned.sum())
    assert planned > 0
    assert result.contacts_recorded == planned
    later = cycle.pool.snapshot(t0 + 2 * DAY)
    prefix = f"nudge-{stamp(t0)}-"
    assert later.contacts.at.size >= planned
    entries = cycle.ledger.entries()
    assert sum(e.amount.minor for e in entries) == ledger.total().minor
    assert len({e.order_id for e in entries}) == np.unique(ledger.order_id.astype(str)).size
    assert str(result.contacts.id[0]).startswith(prefix)


def _fresh_layerings() -> list[Any]:
    from privdomain.pipeline import default_layerings

    return list(default_layerings().values())


def test_events_after_as_of_change_nothing() -> None:
    sim = _sim()
    t0 = _start(sim)
    everything = _cycle(_pool(sim, sim.as_of)).run(t0)
    upto = _cycle(_pool(sim, t0)).run(t0)
    _same_plan(everything.plan, upto.plan)
    assert everything.stages.stage_keys().tolist() == upto.stages.stage_keys().tolist()
    assert everything.ledger.total() == upto.ledger.total()
    # customers whose profile changes after as_of: still the run of t0
    pool = _pool(sim, t0)
    ids = pool.customer_ids[:50]
    pool.ingest(
        ProfileChanges.from_arrays(
            customer_id=ids,
            tenant=pool.tenant,
            at=np.full(ids.size, _us(t0 + DAY)).astype("datetime64[us]"),
            consent={channel: np.zeros(ids.size, dtype=bool) for channel in ("wecom", "sms")},
        )
    )
    _same_plan(_cycle(pool).run(t0).plan, upto.plan)


# ---------------------------------------------------------------------- idempotency
def test_a_repeated_run_changes_nothing_in_memory() -> None:
    sim = _sim()
    t0 = _start(sim)
    log = InMemoryTouchpointLog()
    cycle = _cycle(_pool(sim, t0), touchpoints=log)
    first = cycle.run(t0)
    after_first = _state(cycle)
    assert after_first["log"] == first.contacts_recorded > 0
    again = cycle.run(t0)
    assert _state(cycle) == after_first
    assert again.repeated
    assert len(again.transitions) == 0
    assert again.contacts_recorded == 0
    assert again.settled is None  # the first run settled everything
    assert first.settled is not None
    _same_plan(first.plan, again.plan)
    # the same instant in another time zone is the same run
    china = dt.timezone(dt.timedelta(hours=8))
    third = cycle.run(t0.astimezone(china))
    assert third.repeated
    assert _state(cycle) == after_first


def test_two_threads_running_the_same_as_of_make_one_run_and_one_repeat() -> None:
    """Runs of one cycle take turns: two threads asking for the same as_of record the plan's
    contacts and settle commission once, and no warning escapes from either."""
    sim = _sim()
    t0 = _start(sim)
    log = InMemoryTouchpointLog()
    cycle = _cycle(_pool(sim, t0), touchpoints=log)
    barrier = threading.Barrier(2)
    results: list[CycleResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                results.append(cycle.run(t0))
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.repeated for r in results) == [False, True]
    first = next(r for r in results if not r.repeated)
    assert sum(r.contacts_recorded for r in results) == first.contacts_recorded > 0
    assert log.read_since(0)[1] == first.contacts_recorded
    assert sum(r.settled is not None for r in results) == 1


def test_a_repeated_run_changes_nothing_on_sqlite_across_restarts(tmp_path: Path) -> None:
    sim = _sim(250, 5)  # small: every touchpoint goes through SQLite as an object
    t0 = _start(sim)
    path = tmp_path / "pool.sqlite3"

    def open_cycle(storage: sa.SQLiteStorage) -> DailyCycle:
        prm = sim.params
        pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
        pool.ingest(storage.customers)
        pool.ingest_log(storage.touchpoints)
        return _cycle(
            pool, touchpoints=storage.touchpoints, stages=storage.stages, ledger=storage.ledger
        )

    with sa.SQLiteStorage(path) as storage:
        storage.customers.put(sim.customer_objects())
        objects = sim.touchpoint_objects()
        storage.touchpoints.append(t for t in objects if t.at <= t0)
        first = open_cycle(storage).run(t0)
        state = _state_sqlite(storage)
    assert first.contacts_recorded > 0
    assert state["ledger"]

    # the next process: a new connection, a new pool rebuilt from the database
    with sa.SQLiteStorage(path) as storage:
        again = open_cycle(storage).run(t0)
        assert again.repeated
        assert len(again.transitions) == 0
        assert again.contacts_recorded == 0
        assert _state_sqlite(storage) == state
        # a week later moves on, once
        storage.touchpoints.append(t for t in objects if t0 < t.at <= t0 + WEEK)
        cycle = open_cycle(storage)
        week = cycle.run(t0 + WEEK)
        assert not week.repeated
        assert week.contacts_recorded > 0
        state = _state_sqlite(storage)
        assert cycle.run(t0 + WEEK).repeated
        assert _state_sqlite(storage) == state


def _state_sqlite(storage: sa.SQLiteStorage) -> dict[str, Any]:
    return {
        "ledger": _ledger_state(storage.ledger),
        "stages": dict(storage.connection.execute("SELECT customer_id, stage FROM stages")),
        "stages_as_of": storage.stages.as_of,
        "log": len(storage.touchpoints),
    }


def test_week_after_week() -> None:
    sim = _sim()
    t0 = _start(sim)
    cycle = _cycle(_pool(sim, t0))
    first = cycle.run(t0)
    stored = dict(cycle.stages.get_stages(cycle.pool.customer_ids.tolist()))
    second = cycle.run(t0 + WEEK, new=_events(sim, t0, t0 + WEEK))
    # the moves are those the stored stages give (the cycle diffs its own copy of them)
    from_store = transitions(stored, second.stages, previous_as_of=t0)
    assert second.transitions.counts() == from_store.counts()
    assert second.transitions.customer_ids.tolist() == from_store.customer_ids.tolist()
    # and the store now holds every customer's stages of this week, changed or not
    assert cycle.stages.get_stages(second.stages.customer_ids.tolist()) == (
        second.stages.store_values()
    )
    assert second.ingested.touchpoints_accepted == len(_events(sim, t0, t0 + WEEK))
    # the moves are the diff of the two runs' stages
    by_hand = transitions(first.stages, second.stages)
    assert second.transitions.counts() == by_hand.counts()
    assert len(second.transitions) > 0
    assert set(second.transitions.trigger.tolist()) <= {"purchase", "time", "entered"}
    # last week's contacts are in this week's snapshot, so caps count them
    prefix = f"nudge-{stamp(t0)}-"
    contacts = second.snapshot.contacts
    assert contacts.at.size >= first.contacts_recorded
    sent = second.snapshot.contact_counts("month").sum()
    assert sent >= first.contacts_recorded
    assert str(first.contacts.id[0]).startswith(prefix)
    # the learners were fitted once, at the first run, unless asked
    assert cycle.fitted_as_of == t0
    cycle.run(t0 + 2 * WEEK, refit=True)
    assert cycle.fitted_as_of == t0 + 2 * WEEK


def test_runs_go_forward_in_time() -> None:
    sim = _sim()
    t0 = _start(sim)
    cycle = _cycle(_pool(sim, t0))
    cycle.run(t0)
    before = _state(cycle)
    with pytest.raises(ValidationError, match="forward in time"):
        cycle.run(t0 - DAY, new=_events(sim, t0 - 2 * DAY, t0))
    assert _state(cycle) == before


# hypothesis: any sequence of runs, repeats included, persists what the distinct runs persist
_offsets = st.lists(st.integers(0, 3), min_size=1, max_size=4).map(sorted)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    offsets=_offsets,
    record=st.booleans(),
    with_log=st.booleans(),
    as_datetime64=st.booleans(),
)
def test_repeats_persist_nothing_twice(
    offsets: list[int], record: bool, with_log: bool, as_datetime64: bool
) -> None:
    sim = _sim(300, 5)
    t0 = _start(sim)

    def make() -> DailyCycle:
        log = InMemoryTouchpointLog() if with_log else None
        return _cycle(
            _pool(sim, t0),
            touchpoints=log,
            stages=InMemoryStageStore(),
            ledger=InMemoryCommissionLedger(),
            record_contacts=record,
        )

    def when(k: int) -> Any:
        t = t0 + k * 2 * DAY
        return np.datetime64(_us(t), "us") if as_datetime64 else t

    repeated = make()
    seen: set[int] = set()
    for k in offsets:
        result = repeated.run(when(k))
        assert result.repeated == (k in seen)
        if k in seen:
            assert len(result.transitions) == 0
            assert result.contacts_recorded == 0
        elif record:
            assert result.contacts_recorded == int(result.plan.planned.sum())
        else:
            assert result.contacts_recorded == 0
        seen.add(k)
    once = make()
    for k in sorted(seen):
        once.run(when(k))
    assert _state(repeated) == _state(once)


# ---------------------------------------------------------------------- progress
def test_progress_names_every_stage_in_order() -> None:
    sim = _sim()
    calls: list[tuple[str, int, int]] = []
    cycle = _cycle(_pool(sim, sim.as_of), progress=lambda *a: calls.append(a))
    cycle.run(sim.as_of)
    total = len(STAGES)
    assert calls == [(s, i, total) for i, s in enumerate(STAGES)] + [("done", total, total)]
    # a per-run callback replaces the cycle's
    other: list[str] = []
    cycle.run(sim.as_of, progress=lambda stage, done, total: other.append(stage))
    assert other == [*STAGES, "done"]
    assert len(calls) == total + 1


def test_tqdm_progress_draws_a_bar() -> None:
    out = io.StringIO()
    sim = _sim()
    _cycle(_pool(sim, sim.as_of)).run(sim.as_of, progress=tqdm_progress(file=out, ascii=True))
    text = out.getvalue()
    assert "done" in text
    assert f"{len(STAGES)}/{len(STAGES)}" in text


def test_tqdm_progress_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"privdomain\[progress\]"):
        tqdm_progress()


# ---------------------------------------------------------------------- bad input
def _bad_constructions() -> Iterator[tuple[str, dict[str, Any], str]]:
    yield "pool", {"pool": "not a pool"}, "runs on a Pool"
    yield "touchpoints", {"touchpoints": [1, 2]}, "TouchpointLog"
    yield "stages", {"stages": {}}, "StageStore"
    yield "ledger", {"ledger": []}, "CommissionLedger"
    yield "layering list", {"layering": [object()]}, "maps names"
    yield "layering without apply", {"layering": {"x": object()}}, "no fit and apply"
    yield "layering name", {"layering": {"": Lifecycle()}}, "non-empty"
    yield "lifecycle", {"lifecycle": 3}, "fit and apply"
    yield "nudges", {"nudges": "often"}, "Nudges or a NudgePolicy"
    yield "referral", {"referral": RULE}, "ReferralAttribution"
    yield "value", {"value": 3}, "LifetimeValue"
    yield "health_window", {"health_window": dt.timedelta(days=-1)}, "above zero"
    yield "record_contacts", {"record_contacts": 1}, "bool"
    yield "send_after zero", {"send_after": dt.timedelta(0)}, "above zero"
    yield "send_after int", {"send_after": 3600}, "above zero"
    yield "contact_prefix", {"contact_prefix": 7}, "str"
    yield "progress", {"progress": "bar"}, "callable"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [pytest.param(k, m, id=i) for i, k, m in _bad_constructions()],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], message: str) -> None:
    pool = kwargs.pop("pool", Pool("brand"))
    with pytest.raises(ValidationError, match=message):
        DailyCycle(pool, **kwargs)


@pytest.mark.parametrize(
    ("as_of", "error"),
    [
        (dt.datetime(2026, 1, 1), NaiveDatetimeError),
        (1_767_225_600, ValidationError),
        ("2026-01-01", ValidationError),
        (None, ValidationError),
    ],
)
def test_bad_as_of_is_refused(as_of: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        DailyCycle(Pool("brand")).run(as_of)


def test_bad_run_arguments_are_refused() -> None:
    sim = _sim()
    cycle = _cycle(_pool(sim, sim.as_of))
    with pytest.raises(ValidationError, match="refit"):
        cycle.run(sim.as_of, refit="yes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="budget"):
        cycle.run(sim.as_of, budget=0)
    with pytest.raises(ValidationError, match="major_sale"):
        cycle.run(sim.as_of, major_sale="yes")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="callable"):
        cycle.run(sim.as_of, progress=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        cycle.run(sim.as_of, new=[object()])


def test_an_empty_pool_says_so() -> None:
    with pytest.raises(EmptyPoolError, match="no customers"):
        DailyCycle(Pool("brand")).run(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_a_policy_and_no_referral() -> None:
    sim = _sim()
    policy = NudgePolicy(min_score=1.0)  # nobody is worth a message
    result = DailyCycle(_pool(sim, sim.as_of), nudges=policy, layering={}).run(sim.as_of)
    assert result.ledger is None
    assert result.bindings is None
    assert result.layers == {}
    assert result.contacts_recorded == 0
    assert not result.plan.planned.any()
    summary = result.summary()
    assert "commission" not in summary
    assert summary["customers"] == len(result.snapshot)
    assert "CycleResult" in repr(result)
    assert "<table>" in result._repr_html_()


def test_a_value_model_gives_the_health_report_its_clv() -> None:
    from privdomain.metrics import health
    from privdomain.value import LifetimeValue

    sim = _sim()
    without = DailyCycle(_pool(sim, sim.as_of)).run(sim.as_of)
    assert np.isnan(without.health.expected_clv)
    model = LifetimeValue()
    result = DailyCycle(_pool(sim, sim.as_of), value=model).run(sim.as_of)
    snapshot = result.snapshot
    by_hand = health(snapshot, start=sim.as_of - dt.timedelta(days=30), value=model)
    assert result.health.expected_clv == pytest.approx(by_hand.expected_clv)
    assert result.health.expected_clv > 0


class _BareStageStore:
    """A host's stage store with only the two methods of the port (no ``as_of``)."""

    def __init__(self) -> None:
        self.stages: dict[str, str] = {}

    def get_stages(self, customer_ids: Any) -> dict[str, str]:
        return {c: self.stages[c] for c in customer_ids if c in self.stages}

    def put_stages(self, stages: Any, as_of: dt.datetime) -> None:
        self.stages.update(stages)


def test_a_store_without_as_of_still_never_doubles_anything() -> None:
    sim = _sim()
    t0 = _start(sim)
    cycle = _cycle(_pool(sim, t0), stages=_BareStageStore())
    first = cycle.run(t0)
    state = _state(cycle)
    again = cycle.run(t0)
    # the store cannot tell a repeat, but the pool recognises the contacts by their ids, the
    # ledger its entries by theirs, and nobody moved since the stored stages
    assert not again.repeated
    assert again.contacts_recorded == 0
    assert len(again.transitions) == 0
    assert _state(cycle) == state
    assert first.contacts_recorded > 0
