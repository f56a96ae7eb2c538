"""Stage machines and transitions: legal edges, diffs of stored and current stages, reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from helpers import at
from lifecycle_helpers import build_pool, regulars

from privdomain import Pool
from privdomain.errors import UnknownCustomerError, ValidationError
from privdomain.lifecycle import (
    LADDERS,
    CadenceLadder,
    Edge,
    Lifecycle,
    LifecycleStages,
    StageMachine,
    Transitions,
    possible_edges,
    transitions,
)
from privdomain.memory import InMemoryStageStore
from privdomain.ports import StageStore

WEEK = dt.timedelta(days=7)


@pytest.fixture(scope="module")
def two_runs(sim_pool: tuple[Pool, Any]) -> tuple[Lifecycle, LifecycleStages, LifecycleStages]:
    pool, sim = sim_pool
    before = pool.snapshot(sim.as_of - 3 * WEEK)
    now = pool.snapshot(sim.as_of)
    model = Lifecycle().fit(before)
    return model, model.apply(before), model.apply(now)


class TestStageMachine:
    @pytest.mark.parametrize("ladder", LADDERS)
    def test_the_default_machine_allows_every_possible_move(self, ladder: str) -> None:
        machine = StageMachine.default(ladder)
        assert {(e.source, e.target, e.trigger) for e in machine.edges} == set(
            possible_edges(ladder)
        )
        assert all(machine.rule(e.source, e.target, e.trigger) for e in machine.edges)

    def test_time_only_moves_down_the_post_purchase_ladder(self) -> None:
        edges = possible_edges("post_purchase")
        order = ("active", "silent", "sleeping", "lost")
        for source, target, trigger in edges:
            if trigger == "time":
                assert order.index(target) > order.index(source)
            assert target != "not_bought"
        assert all(
            (s, "active", "purchase") in edges for s in ("not_bought", *order) if s != "active"
        )

    def test_leaving_decline_or_churned_needs_a_purchase(self) -> None:
        edges = possible_edges("relationship")
        for source, _target, trigger in edges:
            if source in ("decline", "churned"):
                assert trigger == "purchase" or _target == "churned"

    @pytest.mark.parametrize(
        ("ladder", "edge", "message"),
        [
            ("post_purchase", Edge("lost", "silent", "time"), "only moves a customer down"),
            ("post_purchase", Edge("active", "not_bought", "purchase"), "never-bought"),
            ("relationship", Edge("mature", "growth", "purchase"), "cannot happen"),
            ("relationship", Edge("growth", "prospect", "time"), "nobody returns to prospect"),
            ("relationship", Edge("churned", "growth", "time"), "only slides"),
            ("milestone", Edge("third_purchase", "first_purchase", "purchase"), "never lost"),
            ("milestone", Edge("no_purchase", "first_purchase", "time"), "only purchases"),
            ("post_purchase", Edge("active", "asleep", "time"), "no stage 'asleep'"),
            ("post_purchase", Edge("active", "active", "time"), "goes nowhere"),
        ],
    )
    def test_an_illegal_edge_is_refused(self, ladder: str, edge: Edge, message: str) -> None:
        stages = StageMachine.default(ladder).stages
        with pytest.raises(ValidationError, match=message):
            StageMachine(ladder, stages, [edge])

    def test_the_same_edge_twice_is_refused(self) -> None:
        edge = Edge("active", "silent", "time")
        with pytest.raises(ValidationError, match="given twice"):
            StageMachine("post_purchase", StageMachine.default("post_purchase").stages, [edge] * 2)

    def test_allows_is_a_lookup_of_codes(self) -> None:
        machine = StageMachine.default("post_purchase")
        source = np.array([1, 4, 4, 2])
        target = np.array([2, 1, 2, 3])
        purchased = np.array([False, True, False, False])
        assert machine.allows(source, target, purchased).tolist() == [True, True, False, True]
        assert machine.allows(source, target, None).tolist() == [True, True, True, True]


class TestTransitions:
    def test_every_move_is_an_allowed_edge(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now)
        assert isinstance(moves, Transitions)
        assert moves.allowed.all()
        assert set(moves.trigger.tolist()) <= {"purchase", "time", "entered"}
        assert len(moves) > 0
        for ladder in LADDERS:
            machine = StageMachine.default(ladder, now.ladder(ladder).names)
            mine = moves.of(ladder)
            for s, t, how in zip(mine.source, mine.target, mine.trigger, strict=True):
                if how != "entered":
                    assert machine.rule(s, t, how), (ladder, s, t, how)

    def test_the_diff_is_the_changed_stages(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now, entered=False)
        rows = np.searchsorted(now.index, before.index)
        for ladder in LADDERS:
            changed = before.ladder(ladder).labels != now.ladder(ladder).labels[rows]
            assert len(moves.of(ladder)) == int(changed.sum())
            flows = moves.flow_matrix(ladder)
            assert flows.sum() == int(changed.sum())
            assert np.trace(flows[:-1]) == 0

    def test_new_customers_enter(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now)
        joined = len(now) - len(before)
        entered = moves.trigger == "entered"
        assert int(entered.sum()) == joined * len(LADDERS)
        assert all(s is None for s in moves.source[entered])
        assert np.isnat(moves.at[entered]).all()

    def test_purchases_return_customers_to_active_at_the_purchase(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now).of("post_purchase")
        back = (moves.target == "active") & (moves.trigger != "entered")
        assert back.any()
        assert (moves.trigger[back] == "purchase").all()
        rows = np.array([now.row(c) for c in moves.customer_ids[back]])
        assert np.array_equal(moves.at[back], now.last_purchase[rows])

    def test_time_moves_happened_between_the_runs(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now).of("post_purchase")
        timed = moves.trigger == "time"
        assert timed.any()
        start = np.datetime64(before.as_of.replace(tzinfo=None), "us")
        end = np.datetime64(now.as_of.replace(tzinfo=None), "us")
        assert (moves.at[timed] > start).all()
        assert (moves.at[timed] <= end).all()

    def test_milestones_reached_are_events(self, two_runs) -> None:
        _, before, now = two_runs
        events = transitions(before, now, entered=False).of("milestone")
        assert set(events.target.tolist()) <= {"first_purchase", "third_purchase", "fifth_purchase"}
        assert (events.trigger == "purchase").all()
        assert len(events) > 0

    def test_reasons_carry_the_numbers(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before, now, entered=False)
        i = int(np.flatnonzero((moves.ladder == "post_purchase") & (moves.trigger == "time"))[0])
        text = moves.reason(i)
        assert "cadence_ratio=" in text
        assert "reached" in text
        assert moves.explain(str(moves.customer_ids[i])).count("->") >= 1
        records = moves.take(np.arange(3)).to_records()
        assert {"customer_id", "ladder", "source", "target", "reason"} <= set(records[0])
        frame = moves.take(np.arange(3)).to_frame()
        assert list(frame["customer_id"]) == moves.customer_ids[:3].tolist()
        assert "Transitions(" in repr(moves)
        assert "<table>" in moves._repr_html_()
        counts = moves.counts()
        assert sum(counts.values()) == len(moves)

    def test_a_store_gives_what_the_result_gives(self, two_runs) -> None:
        _, before, now = two_runs
        store = InMemoryStageStore()
        assert isinstance(store, StageStore)
        before.record(store)
        from_store = transitions(store, now)
        from_result = transitions(before, now)
        assert from_store.previous_as_of == before.as_of
        for name in ("customer_ids", "ladder", "source", "target", "trigger", "at"):
            assert np.array_equal(getattr(from_store, name), getattr(from_result, name)), name

    def test_without_the_previous_instant_the_trigger_is_unknown(self, two_runs) -> None:
        _, before, now = two_runs
        moves = transitions(before.store_values(), now, entered=False)
        assert set(moves.trigger.tolist()) == {"unknown"}
        assert moves.allowed.all()
        timed = transitions(before.store_values(), now, previous_as_of=before.as_of)
        assert "time" in set(timed.trigger.tolist())

    def test_one_ladder_in_the_store(self, two_runs) -> None:
        _, before, now = two_runs
        stored = before.store_values("post_purchase")
        moves = transitions(stored, now, ladders="post_purchase", previous_as_of=before.as_of)
        assert set(moves.ladder.tolist()) == {"post_purchase"}
        assert len(moves) == len(transitions(before, now).of("post_purchase"))


class TestWhatCannotHappen:
    def test_stages_of_other_thresholds_are_refused(self, two_runs, sim_pool) -> None:
        _, _, now = two_runs
        pool, sim = sim_pool
        strict = Lifecycle(CadenceLadder((0.5, 1, 2))).fit(pool.snapshot(sim.as_of - 3 * WEEK))
        earlier = strict.apply(pool.snapshot(sim.as_of - 3 * WEEK))
        # laxer thresholds now call some lost customers sleeping again, without a purchase
        with pytest.raises(ValidationError, match="not edges of their stage machine"):
            transitions(earlier.store_values(), now, previous_as_of=earlier.as_of)
        lenient = transitions(
            earlier.store_values(), now, previous_as_of=earlier.as_of, strict=False
        )
        assert not lenient.allowed.all()
        assert any("not allowed" in n for n in lenient.notes)

    def test_a_machine_without_an_edge_refuses_that_move(self, two_runs) -> None:
        _, before, now = two_runs
        full = StageMachine.default("post_purchase")
        fewer = [e for e in full.edges if (e.source, e.target) != ("active", "silent")]
        machine = StageMachine("post_purchase", full.stages, fewer)
        with pytest.raises(ValidationError, match="active -> silent by time"):
            transitions(before, now, machines={"post_purchase": machine})

    def test_stored_customers_unknown_now(self, two_runs) -> None:
        _, before, now = two_runs
        stored = {**before.store_values(), "ghost": "new/active/first_purchase"}
        with pytest.raises(UnknownCustomerError, match="'ghost'"):
            transitions(stored, now)
        moves = transitions(stored, now, unknown_customers="ignore")
        assert any("1 stored customers are not among" in n for n in moves.notes)

    def test_unknown_stage_names(self, two_runs) -> None:
        _, _, now = two_runs
        cid = str(now.customer_ids[0])
        with pytest.raises(ValidationError, match="'asleep'"):
            transitions({cid: "new/asleep/first_purchase"}, now)
        with pytest.raises(ValidationError, match="unknown stage keys"):
            transitions({cid: "new/active"}, now)

    def test_previous_stages_after_the_current_ones(self, two_runs) -> None:
        _, before, now = two_runs
        with pytest.raises(ValidationError, match="must not go backwards"):
            transitions(now, before)

    def test_stages_of_another_pool(self, two_runs) -> None:
        _, _, now = two_runs
        other = Lifecycle().fit_apply(build_pool(regulars()).snapshot(at(100)))
        with pytest.raises(ValidationError, match="tenant"):
            transitions(other, now)
