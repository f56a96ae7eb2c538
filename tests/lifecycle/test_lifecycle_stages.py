"""Stages on the three ladders: the rules, the numbers behind them, and the strategy contract."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import at
from lifecycle_helpers import AS_OF, build_pool, regulars
from sklearn.base import clone

from privdomain import Snapshot
from privdomain.errors import NotFittedError, ValidationError
from privdomain.lifecycle import (
    LADDERS,
    CadenceLadder,
    Lifecycle,
    LifecycleStages,
    LifecycleStrategy,
    LifecycleSummary,
    MilestoneLadder,
    PAliveLadder,
    PostPurchaseStage,
    RelationshipLadder,
    RelationshipStage,
    milestone_names,
)
from privdomain.memory import InMemoryStageStore
from privdomain.strategy import SummarizingStrategy, fit_partitioned, merge
from privdomain.value import BetaGeo, ModifiedBetaGeo, rfm_summary_from_snapshot

ALL = (*LADDERS, "progress")


def stages_of(spec: dict[str, Any], **kwargs: Any) -> tuple[LifecycleStages, Lifecycle]:
    snap = build_pool(spec).snapshot(AS_OF)
    model = Lifecycle(**kwargs).fit(snap)
    return model.apply(snap), model


class TestEveryCustomerHasOneStage:
    def test_every_ladder_covers_every_customer(self, fitted: Lifecycle, sim_snapshot) -> None:
        stages = fitted.apply(sim_snapshot)
        assert len(stages) == len(sim_snapshot)
        assert np.array_equal(stages.customer_ids, sim_snapshot.customer_ids)
        for name in ALL:
            seg = stages.ladder(name)
            assert sum(seg.counts().values()) == len(sim_snapshot)
        assert stages.post_purchase.names == tuple(s.value for s in PostPurchaseStage)
        assert stages.relationship.names == tuple(s.value for s in RelationshipStage)
        assert stages.milestone.names == milestone_names((1, 3, 5))

    @pytest.mark.parametrize("ladder", ALL)
    def test_the_rules_reproduce_the_stages(self, fitted, sim_snapshot, ladder: str) -> None:
        seg = fitted.apply(sim_snapshot).ladder(ladder)
        masks = np.array([s.mask(seg) for s in seg.segments()])
        assert (masks.sum(axis=0) == 1).all()
        assert np.array_equal(masks.argmax(axis=0), seg.labels)

    def test_non_buyers_are_prospects_everywhere(self, fitted, sim_snapshot) -> None:
        stages = fitted.apply(sim_snapshot)
        never = sim_snapshot.orders == 0
        assert (stages.stages("relationship")[never] == "prospect").all()
        assert (stages.stages("post_purchase")[never] == "not_bought").all()
        assert (stages.stages("milestone")[never] == "no_purchase").all()
        assert not (stages.stages("post_purchase")[~never] == "not_bought").any()


class TestCadence:
    def test_the_ratio_is_time_since_the_last_purchase_over_the_cadence(self) -> None:
        spec = regulars()
        spec["quick"] = {"buys": [80, 85, 90, 95]}  # own rhythm of 5 days, last 5 days ago
        stages, model = stages_of(spec)
        seg = stages.post_purchase
        i = stages.row("quick")
        ratio = seg.feature("cadence_ratio")[i]
        assert ratio == pytest.approx(
            seg.feature("recency_days")[i] / seg.feature("cadence_days")[i]
        )
        # pulled towards the pool's 10 days, but below it
        assert 5 < seg.feature("cadence_days")[i] < model.pool_cadence_days_
        assert model.pool_cadence_days_ == pytest.approx(10.0, rel=0.25)

    def test_bands_decide_the_stage(self) -> None:
        spec = regulars()
        for name, last in (("a", 99), ("s", 85), ("z", 70), ("l", 30)):
            spec[name] = {"buys": [last - 20, last - 10, last]}
        stages, _ = stages_of(spec)
        got = {c: stages.stage_of(c)["post_purchase"] for c in "aszl"}
        assert got == {"a": "active", "s": "silent", "z": "sleeping", "l": "lost"}

    def test_thresholds_given_as_bands_equal_cut_points(self) -> None:
        bands = {"active": (0, 1.5), "silent": (1.5, 3), "sleeping": (3, 6), "lost": (6, math.inf)}
        assert CadenceLadder(bands).thresholds == CadenceLadder((1.5, 3, 6)).thresholds

    def test_one_purchase_gets_the_pools_rhythm_and_says_so(self) -> None:
        spec = regulars()
        spec["once"] = {"buys": [95]}
        stages, model = stages_of(spec)
        i = stages.row("once")
        seg = stages.post_purchase
        assert seg.feature("own_weight")[i] == 0.0
        assert seg.feature("cadence_days")[i] == pytest.approx(model.pool_cadence_days_)
        assert any("one purchase and no rhythm of their own" in n for n in stages.notes)
        assert "own_weight = 0" in stages.explain("once")

    def test_more_purchases_weigh_more(self) -> None:
        spec = regulars()
        for k in (2, 3, 6, 12):
            spec[f"k{k}"] = {"buys": [96 - 7 * j for j in range(k)]}
        stages, _ = stages_of(spec)
        weight = [
            stages.post_purchase.feature("own_weight")[stages.row(f"k{k}")] for k in (2, 3, 6, 12)
        ]
        assert weight == sorted(weight)
        assert 0 < weight[0] < weight[-1] < 1

    def test_identical_timestamps_are_one_purchase(self) -> None:
        spec = regulars()
        spec["twice"] = {"buys": [90, 90]}
        spec["split"] = {"buys": [90, 90.01, 95]}
        stages, _ = stages_of(spec)
        seg = stages.post_purchase
        assert seg.feature("purchase_days")[stages.row("twice")] == 1
        assert seg.feature("own_weight")[stages.row("twice")] == 0.0
        assert seg.feature("purchase_days")[stages.row("split")] == 2
        assert np.isfinite(seg.feature("cadence_days")[stages.row("split")])
        assert stages.stage_of("twice")["relationship"] == "new"


@pytest.fixture(scope="module")
def model(sim_snapshot: Snapshot) -> ModifiedBetaGeo:
    return ModifiedBetaGeo().fit(rfm_summary_from_snapshot(sim_snapshot))


class TestPAlive:
    def test_p_alive_is_the_models(self, model, sim_snapshot) -> None:
        stages = Lifecycle(PAliveLadder(model)).fit_apply(sim_snapshot)
        summary = rfm_summary_from_snapshot(sim_snapshot)
        rows = sim_snapshot.rows(summary.customer_ids)
        got = stages.post_purchase.feature("p_alive")[rows]
        np.testing.assert_allclose(got, model.p_alive(summary), rtol=1e-12)
        assert np.isnan(stages.post_purchase.feature("p_alive")[sim_snapshot.orders == 0]).all()
        assert stages.method == "p_alive"

    def test_bands_of_p_alive(self, model, sim_snapshot) -> None:
        stages = Lifecycle(PAliveLadder(model, thresholds=(0.6, 0.35, 0.2))).fit_apply(sim_snapshot)
        seg = stages.post_purchase
        alive = seg.feature("p_alive")
        later = seg.feature("days_since_purchase_day") > 0
        lost = seg.mask("lost")
        assert (alive[lost] < 0.2).all()
        assert (alive[seg.mask("sleeping")] >= 0.2).all()
        assert (alive[seg.mask("active") & later] >= 0.6).all()

    def test_a_purchase_today_is_active_whatever_the_model_says(self) -> None:
        spec = regulars()
        spec["today"] = {"buys": [10, 20, 30, 40, 50, 60, 70, 80, 100]}
        snap = build_pool(spec).snapshot(AS_OF)
        # a model that lets customers drop out at every purchase with high probability
        harsh = BetaGeo.from_params(r=1.0, alpha=5.0, a=50.0, b=0.6)
        stages = Lifecycle(PAliveLadder(harsh)).fit_apply(snap)
        i = stages.row("today")
        assert stages.post_purchase.feature("p_alive")[i] < 0.6
        assert stages.stage_of("today")["post_purchase"] == "active", stages.explain("today")

    def test_a_model_in_other_units_is_refused(self, sim_snapshot) -> None:
        weekly = BetaGeo().fit(rfm_summary_from_snapshot(sim_snapshot, time_unit="W"))
        with pytest.raises(ValidationError, match=r"does not look fitted in time_unit='D'.*'W'"):
            Lifecycle(PAliveLadder(weekly)).fit(sim_snapshot)
        model = Lifecycle(PAliveLadder(weekly, time_unit="W")).fit(sim_snapshot)
        assert max(model.unit_log_likelihoods_, key=model.unit_log_likelihoods_.get) == "W"

    def test_bg_nbd_one_time_buyers_are_reported(self, sim_snapshot) -> None:
        bg = BetaGeo().fit(rfm_summary_from_snapshot(sim_snapshot))
        stages = Lifecycle(PAliveLadder(bg)).fit_apply(sim_snapshot)
        assert any(
            "BG/NBD calls every customer without a repeat purchase" in n for n in stages.notes
        )
        once = sim_snapshot.purchase_days == 1
        assert (stages.stages("post_purchase")[once] == "active").all()


class TestRelationship:
    def spec(self) -> dict[str, Any]:
        spec = regulars(every=5)
        spec.update(
            {
                "prospect": {},
                "new": {"buys": [97]},
                "growth": {"buys": [80, 85, 90, 95]},
                "mature": {"buys": [10, 20, 30, 40, 50, 60, 70, 80, 90, 97]},
                "young": {"buys": [91, 93, 95, 97, 99]},  # five purchases, but in ten days
                "decline": {"buys": [*range(0, 61, 5), 92]},
                "churned": {"buys": [5, 10, 15]},
            }
        )
        return spec

    def test_the_ladder(self) -> None:
        stages, _ = stages_of(self.spec(), relationship=RelationshipLadder(window_days=30))
        for cid in ("prospect", "new", "growth", "mature", "decline", "churned"):
            assert stages.stage_of(cid)["relationship"] == cid, stages.explain(cid)
        assert stages.stage_of("young")["relationship"] == "growth"

    def test_decline_says_which_trend(self) -> None:
        stages, _ = stages_of(self.spec(), relationship=RelationshipLadder(window_days=30))
        seg = stages.relationship
        i = stages.row("decline")
        assert seg.feature("order_trend")[i] < 0.5
        assert seg.feature("recent_orders")[i] == 1
        assert seg.feature("expected_orders")[i] > 2
        text = stages.explain("decline")
        assert "[relationship] 'decline'" in text
        assert "order_trend=" in text

    def test_churn_after_fixed_days(self) -> None:
        settings = RelationshipLadder(window_days=30, churn_days=60)
        stages, _ = stages_of(self.spec(), relationship=settings)
        assert stages.stage_of("churned")["relationship"] == "churned"
        assert "recency_days" in stages.relationship.columns()
        assert stages.stage_of("growth")["relationship"] == "growth"


class TestMilestones:
    def test_milestones_and_progress(self) -> None:
        spec = regulars(every=5)
        spec.update({"none": {}, "one": {"buys": [99]}, "three": {"buys": [1, 2, 3]}})
        stages, model = stages_of(spec)
        assert stages.stage_of("one")["milestone"] == "first_purchase"
        assert stages.stage_of("three")["milestone"] == "third_purchase"
        assert stages.stage_of("r00")["milestone"] == "fifth_purchase"
        assert stages.stage_of("r00")["progress"] == "reached_all"
        # regulars reached the fifth purchase in 20 days: 97 days after the first is stuck
        assert model.usual_days_[5] == pytest.approx(20, rel=0.05)
        assert stages.stage_of("three")["progress"] == "stuck_before_fifth_purchase"
        assert stages.stage_of("one")["progress"] == "on_track"
        assert stages.stage_of("none")["progress"] == "stuck_before_first_purchase"

    def test_configurable_milestones(self) -> None:
        spec = regulars(every=5)
        stages, model = stages_of(spec, milestones=MilestoneLadder((1, 2, 30), usual_quantile=0.5))
        assert stages.milestone.names == ("no_purchase", "first_purchase", "second_purchase",
                                          "30th_purchase")  # fmt: skip
        assert math.isinf(model.usual_days_[30])
        assert any("nobody has reached purchase 30" in n for n in model.fit_notes_)


class TestResult:
    def test_explain_names_every_ladder_with_numbers(self, fitted, sim_snapshot) -> None:
        stages = fitted.apply(sim_snapshot)
        cid = str(sim_snapshot.customer_ids[np.flatnonzero(sim_snapshot.purchase_days >= 3)[0]])
        text = stages.explain(cid)
        for name in ALL:
            assert f"[{name}]" in text
        assert "cadence_ratio = " in text
        assert "what fits:" in text

    def test_records_frames_and_display(self, fitted, sim_snapshot) -> None:
        stages = fitted.apply(sim_snapshot)
        records = stages.to_records()
        assert len(records) == len(stages)
        first = records[0]
        assert first["customer_id"] == sim_snapshot.customer_ids[0]
        assert set(ALL) <= set(first)
        frame = stages.to_frame()
        assert list(frame["post_purchase"].cat.categories) == list(stages.post_purchase.names)
        assert "post_purchase:" in repr(stages)
        assert "<table>" in stages._repr_html_()

    def test_stage_keys_go_to_the_store(self, fitted, sim_snapshot) -> None:
        stages = fitted.apply(sim_snapshot)
        store = InMemoryStageStore()
        stages.record(store)
        cid = str(stages.customer_ids[0])
        stored = store.get_stages([cid])[cid]
        assert stored == "/".join(stages.stage_of(cid)[n] for n in LADDERS)
        assert store.as_of == stages.as_of
        keys = stages.stage_keys("post_purchase")
        assert np.array_equal(keys, stages.stages("post_purchase"))

    def test_take_and_concat_are_the_stages_of_the_parts(self, fitted, sim_snapshot) -> None:
        whole = fitted.apply(sim_snapshot)
        rows = np.arange(len(sim_snapshot))
        parts = [sim_snapshot.take(r) for r in np.array_split(rows[::-1], 3)]
        joined = LifecycleStages.concat([fitted.apply(p) for p in parts])
        again = whole.take(rows[::-1])
        for name in ALL:
            assert np.array_equal(joined.ladder(name).labels, again.ladder(name).labels)
        assert np.array_equal(joined.customer_ids, again.customer_ids)


class TestContract:
    def test_follows_the_protocols(self) -> None:
        assert isinstance(Lifecycle(), LifecycleStrategy)
        assert isinstance(Lifecycle(), SummarizingStrategy)

    def test_refuses_to_apply_before_fit(self, sim_snapshot) -> None:
        with pytest.raises(NotFittedError):
            Lifecycle().apply(sim_snapshot)

    def test_partitions_fit_what_the_whole_fits(self, sim_snapshot) -> None:
        whole = Lifecycle().fit(sim_snapshot)
        rows = np.random.default_rng(3).permutation(len(sim_snapshot))
        parts = [sim_snapshot.take(np.sort(r)) for r in np.array_split(rows, 4)]
        split = fit_partitioned(Lifecycle(), parts)
        assert split.cadence_log_mean_ == whole.cadence_log_mean_
        assert split.cadence_log_var_ == whole.cadence_log_var_
        assert split.usual_days_ == whole.usual_days_
        summaries = [Lifecycle().summarize(p) for p in parts]
        merged = merge(summaries)
        assert isinstance(merged, LifecycleSummary)
        assert merged.sum_log_interval == Lifecycle().summarize(sim_snapshot).sum_log_interval

    def test_summaries_of_other_settings_do_not_merge(self, sim_snapshot) -> None:
        a = Lifecycle().summarize(sim_snapshot)
        b = Lifecycle(milestones=MilestoneLadder((1, 2))).summarize(sim_snapshot)
        with pytest.raises(ValidationError, match="one setting"):
            a.merge(b)
        with pytest.raises(ValidationError, match="other settings"):
            Lifecycle().fit_summary(b)

    def test_scikit_learn_parameters(self) -> None:
        model = Lifecycle(relationship=RelationshipLadder(window_days=60))
        assert model.get_params()["relationship"].window_days == 60
        copy = clone(model)
        assert copy.relationship == model.relationship
        copy.set_params(post_purchase=CadenceLadder((1, 3, 9)))
        assert copy.post_purchase.thresholds == (1.0, 3.0, 9.0)

    def test_a_partition_without_repeat_buyers_still_summarises(self, sim_snapshot) -> None:
        once = sim_snapshot.take(sim_snapshot.purchase_days <= 1)
        summary = Lifecycle().summarize(once)
        assert summary.repeat_buyers == 0
        whole = Lifecycle().fit_summary(merge([summary, Lifecycle().summarize(sim_snapshot)]))
        assert whole.n_repeat_buyers_ == int((sim_snapshot.purchase_days >= 2).sum())


def test_a_pool_joined_later_is_staged_from_its_own_join(sim_pool) -> None:
    pool, sim = sim_pool
    early = pool.snapshot(sim.params.start + (sim.as_of - sim.params.start) / 4)
    stages = Lifecycle().fit(pool.snapshot(sim.as_of)).apply(early)
    assert len(stages) == len(early)
    assert np.array_equal(stages.index, early.index)


def test_as_of_is_the_snapshots() -> None:
    snap = build_pool(regulars()).snapshot(at(95))
    stages = Lifecycle().fit_apply(snap)
    assert stages.as_of == snap.as_of
