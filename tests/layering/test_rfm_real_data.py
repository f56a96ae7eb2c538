"""RFM on real data: distinct purchase days, lapsed cohorts and collapsing quantile bands.

The lapsed cohort is built like the CDNOW log seen long after its end: repeat buyers bought
every few weeks, and everybody's last purchase is one to one and a half years old.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from helpers import at
from layering_helpers import build_snapshot, columns_snapshot

from privdomain.errors import ValidationError
from privdomain.layering import (
    CollapsedBandsWarning,
    LayeringWarning,
    RecencyWarning,
    RFMLayering,
    RFMScorer,
    median_interpurchase_days,
)


def lapsed_cohort() -> dict[str, dict[str, Any]]:
    """40 customers; customer i first buys on day i, then every 20 days (i % 5 times more)."""
    pool: dict[str, dict[str, Any]] = {}
    for i in range(40):
        buys = [(i + 20 * k, 30 + 7 * i + k) for k in range(1 + i % 5)]
        pool[f"c{i:02d}"] = {"joined": 0, "buys": buys}
    return pool


def healthy_snapshot() -> Any:
    """A cohort that still buys every 20 days: every last purchase is 3 to 32 days old."""
    pool: dict[str, dict[str, Any]] = {}
    for i in range(40):
        last = 97 - i % 30
        buys = [(last - 20 * k, 30 + 7 * i + k) for k in range(1 + i % 5)]
        pool[f"c{i:02d}"] = {"joined": 0, "buys": buys}
    return build_snapshot(pool)


def lapsed_snapshot() -> Any:
    # the last purchase is at most day 119: as of day 500, everybody has been silent 380+ days
    return build_snapshot(lapsed_cohort(), as_of=at(500))


def fit_quietly(model: RFMLayering, snapshot: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LayeringWarning)
        return model.fit(snapshot).apply(snapshot)


class TestFrequencyIsPurchaseDays:
    def test_two_orders_on_one_day_are_one_visit(self) -> None:
        snap = build_snapshot(
            {
                # before: 4 orders on 2 days scored like 4 visits
                "splitter": {"buys": [(90, 10), (90.01, 10), (95, 10), (95.01, 10)]},
                "regular": {"buys": [(80, 10), (85, 10), (90, 10), (95, 10)]},
                "once": {"buys": [(97, 40)]},
            }
        )
        seg = fit_quietly(RFMLayering(table=None, levels=3), snap)
        assert "purchase_days" in seg.columns()
        assert seg.columns()["purchase_days"].tolist() == [2, 4, 1]
        f = dict(zip(snap.customer_ids.tolist(), seg.columns()["f"].tolist(), strict=True))
        assert f["regular"] > f["splitter"] > f["once"]
        by_orders = fit_quietly(RFMLayering(table=None, levels=3, frequency="orders"), snap)
        assert by_orders.columns()["orders"].tolist() == [4, 4, 1]
        f_orders = by_orders.columns()["f"].tolist()
        assert f_orders[0] == f_orders[1]

    def test_the_rules_read_the_fitted_frequency(self) -> None:
        snap = columns_snapshot([1, 5, 30, np.nan], [3, 2, 1, 0], [300, 200, 100, 0])
        rfm = RFMLayering(binning="fixed", recency_edges=[2, 7, 14, 28])
        rfm.set_params(frequency_edges=[1, 2, 3, 4], monetary_edges=[50, 100, 200, 300])
        seg = rfm.fit(snap).apply(snap)
        assert all("orders" not in s.rule.features() for s in seg.segments())
        assert any("purchase_days" in s.rule.features() for s in seg.segments())


class TestLapsedCohort:
    def test_the_rhythm_is_learned_from_repeat_buyers(self) -> None:
        snap = lapsed_snapshot()
        assert median_interpurchase_days(snap) == pytest.approx(20.0)
        one_day = build_snapshot({"a": {"buys": [(1, 5), (1.2, 5)]}, "b": {}})
        assert math.isnan(median_interpurchase_days(one_day))

    def test_quantile_recency_on_a_lapsed_pool_warns(self) -> None:
        snap = lapsed_snapshot()
        # before: no warning, and customers silent over a year were Champions, "bought recently"
        with pytest.warns(RecencyWarning, match="recency bands reach past recent") as caught:
            rfm = RFMLayering().fit(snap)
        assert issubclass(caught[0].category, LayeringWarning)
        assert issubclass(caught[0].category, UserWarning)
        assert rfm.median_interpurchase_days_ == pytest.approx(20.0)
        assert rfm.recent_days_ == pytest.approx(60.0)
        assert rfm.recent_reach_days_ > 365
        assert any("recency bands reach past recent" in w for w in rfm.fit_warnings_)

    def test_the_result_says_so_in_explain(self) -> None:
        snap = lapsed_snapshot()
        seg = fit_quietly(RFMLayering(), snap)
        champion = str(seg.members("Champions")[0])
        assert seg.columns()["recency_days"][seg.row(champion)] > 365
        text = seg.explain(champion)
        assert "warning: recency bands reach past recent" in text
        assert "not recent: R >= 4 reaches" in text
        assert "past the 60 days called recent" in text
        assert "warning: recency bands" in repr(seg)
        assert "warning:" in seg._repr_html_()

    def test_the_chinese_table_warns_too(self) -> None:
        with pytest.warns(RecencyWarning, match="R >= 2 of 2"):
            RFMLayering(table="chinese").fit(lapsed_snapshot())

    def test_fixed_thresholds_say_nobody_is_recent(self) -> None:
        rfm = RFMLayering(
            binning="fixed",
            recency_edges=[14, 30, 90, 180],
            frequency_edges=[1, 2, 3, 5],
            monetary_edges=[50, 100, 200, 500],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no learned edges: nothing to warn about
            seg = rfm.fit(lapsed_snapshot()).apply(lapsed_snapshot())
        assert seg.counts()["Champions"] == 0
        assert (seg.columns()["r"] == 1).all()
        assert seg.warnings == ()

    def test_recent_multiple_sets_or_turns_off_the_check(self) -> None:
        snap = lapsed_snapshot()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollapsedBandsWarning)
            warnings.simplefilter("error", RecencyWarning)
            off = fit_quietly(RFMLayering(recent_multiple=None), snap)
            RFMLayering(recent_multiple=50).fit(snap)
        assert all("recency" not in w for w in off.warnings)
        with pytest.warns(RecencyWarning, match="2 x 20.0 = 40 days"):
            RFMLayering(recent_multiple=2).fit(snap)

    def test_a_healthy_pool_does_not_warn(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CollapsedBandsWarning)
            warnings.simplefilter("error", RecencyWarning)
            rfm = RFMLayering().fit(healthy_snapshot())
        assert rfm.median_interpurchase_days_ == pytest.approx(20.0)
        assert rfm.recent_reach_days_ < rfm.recent_days_
        assert all("recency" not in w for w in rfm.fit_warnings_)

    def test_statistics_are_learned_in_fit_only(self) -> None:
        healthy = healthy_snapshot()
        lapsed = lapsed_snapshot()
        rfm = RFMLayering()
        fit_quietly(rfm, healthy)
        learned = (rfm.edges_.copy(), rfm.median_interpurchase_days_, rfm.fit_warnings_)
        with warnings.catch_warnings():
            warnings.simplefilter("error", LayeringWarning)  # layer never warns: it learns nothing
            seg = rfm.apply(lapsed)
        np.testing.assert_array_equal(rfm.edges_, learned[0])
        assert rfm.median_interpurchase_days_ == learned[1]
        assert rfm.fit_warnings_ == learned[2]
        assert seg.warnings == learned[2]
        # with the healthy pool's edges, nobody in the lapsed pool scores above R 1
        assert (seg.columns()["r"] == 1).all()

    def test_without_repeat_buyers_there_is_no_rhythm(self) -> None:
        snap = columns_snapshot([400, 420, 500, np.nan], [1, 1, 1, 0], [90, 30, 60, 0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", RecencyWarning)
            rfm = RFMLayering(table="chinese").fit(snap)
        assert math.isnan(rfm.median_interpurchase_days_)
        assert math.isnan(rfm.recent_days_)


class TestCollapsedBands:
    def test_collapsed_quantile_bands_warn(self) -> None:
        # 8 of 10 buyers bought once: four quantile edges, two distinct values
        snap = columns_snapshot(np.arange(1.0, 11), [1] * 8 + [2, 7], np.linspace(10, 100, 10))
        rfm = RFMLayering(recent_multiple=None)  # purchases a day apart: recency is not the point
        with pytest.warns(CollapsedBandsWarning, match=r"purchase_days has 2 distinct edges for 4"):
            rfm.fit(snap)
        assert rfm.empty_bands_.tolist() == [0, 2, 0]
        seg = fit_quietly(rfm, snap)
        assert "2 of 5 bands empty" in seg.column_notes["f"]
        assert any("quantile bands collapse" in w for w in seg.warnings)
        assert "quantile bands collapse" in seg.explain(str(snap.customer_ids[0]))

    def test_distinct_edges_do_not_warn(self) -> None:
        snap = columns_snapshot(np.arange(1.0, 21), np.arange(1, 21), np.arange(1.0, 21))
        with warnings.catch_warnings():
            warnings.simplefilter("error", LayeringWarning)
            rfm = RFMLayering(recent_multiple=None).fit(snap)
        assert rfm.empty_bands_.tolist() == [0, 0, 0]
        assert rfm.fit_warnings_ == ()

    def test_the_scorer_warns_too(self) -> None:
        X = np.array([[1.0], [1.0], [1.0], [1.0], [2.0]])
        with pytest.warns(CollapsedBandsWarning, match="column 0: 2 distinct"):
            RFMScorer(levels=5).fit(X)

    def test_the_demo_shows_warnings_as_text(self, sim_snapshot) -> None:
        from privdomain.layering import demo_step

        with warnings.catch_warnings():
            warnings.simplefilter("error", LayeringWarning)
            text = demo_step(sim_snapshot)
        assert "warning: quantile bands collapse" in text


def test_bad_recent_multiple() -> None:
    for bad in (0, -1.0, math.inf, math.nan, True, "3"):
        with pytest.raises(ValidationError, match="recent_multiple") as info:
            RFMLayering(recent_multiple=bad).fit(healthy_snapshot())  # type: ignore[arg-type]
        assert type(info.value) is ValidationError
