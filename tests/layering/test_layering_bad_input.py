"""Bad input to every public entry point of privdomain.layering: one privdomain error class each.

Every row names the call and the exact class it must raise (never a numpy, scikit-learn,
matplotlib or Python built-in error, never a RecursionError). Rules and segments of the domain
have their own table in ``tests/test_segment.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from layering_helpers import build_snapshot

from privdomain import F, Snapshot
from privdomain.errors import (
    EmptyPoolError,
    InvalidRuleError,
    NotFittedError,
    PrivdomainError,
    UnknownCustomerError,
    UnknownFeatureError,
    ValidationError,
)
from privdomain.layering import (
    CLASSIC_11,
    AttributeLayers,
    CouponHunters,
    KOCDetector,
    RFMLayering,
    RFMScorer,
    RFMTable,
    Segmentation,
    TagLayering,
    ValueClusters,
    ValueTiers,
    attribute_in,
    attribute_is,
    came_from,
    demo_step,
    features_from_snapshot,
    interacted,
    median_interpurchase_days,
    parse_rule,
    rfm_features,
    share_from_top,
    tag_dimension,
    tagged,
)

pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")

_SNAPSHOT: Snapshot | None = None


def snap() -> Snapshot:
    """A small pool with buyers, a tag and a text attribute (built once)."""
    global _SNAPSHOT
    if _SNAPSHOT is None:
        _SNAPSHOT = build_snapshot(
            {
                "a": {
                    "buys": [(10, 50), (40, 70)],
                    "tags": {"vip"},
                    "attributes": {"city": "上海"},
                },
                "b": {"buys": [(90, 20)], "attributes": {"city": "北京"}},
                "c": {"buys": [(60, 200), (61, 10), (80, 5)]},
                "d": {},
            }
        )
    return _SNAPSHOT


def rfm_result() -> Segmentation:
    return RFMLayering(table="chinese").fit(snap()).apply(snap())


def check(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    with pytest.raises(PrivdomainError) as info:
        call()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"


Row = tuple[str, Callable[[], Any], type[PrivdomainError]]


def rows(*items: Row) -> Any:
    return pytest.mark.parametrize(
        ("call", "error"), [pytest.param(c, e, id=name) for name, c, e in items]
    )


# ---------------------------------------------------------------------- rule text

DEEP = 5_000


@rows(
    ("not a str", lambda: parse_rule(3), InvalidRuleError),
    ("bytes", lambda: parse_rule(b"orders > 1"), InvalidRuleError),
    ("empty", lambda: parse_rule(""), InvalidRuleError),
    ("parentheses 5000 deep", lambda: parse_rule("(" * DEEP + "a" + ")" * DEEP), InvalidRuleError),
    ("not 5000 times", lambda: parse_rule("not " * DEEP + "a"), InvalidRuleError),
    (
        "and/or 300 deep",
        lambda: parse_rule("(a and (b or " * 150 + "c" + "))" * 150),
        InvalidRuleError,
    ),
    ("ordered boolean", lambda: parse_rule("orders >= true"), InvalidRuleError),
    ("ordered false", lambda: parse_rule("tag:vip < false"), InvalidRuleError),
    ("64-bit overflow", lambda: parse_rule("orders == 99999999999999999999999"), InvalidRuleError),
    ("None in a list", lambda: parse_rule("orders in [1, None]"), InvalidRuleError),
    ("unknown channel", lambda: parse_rule('source in ["MYSPACE"]'), InvalidRuleError),
)
def test_parse_rule(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("bare numeric feature", lambda: parse_rule("orders").mask(snap()), InvalidRuleError),
    ("bare float feature", lambda: parse_rule("net_spend").mask(snap()), InvalidRuleError),
    ("bare text attribute", lambda: parse_rule("attr:city").mask(snap()), InvalidRuleError),
    ("numeric == true", lambda: parse_rule("orders == true").mask(snap()), InvalidRuleError),
    ("not a bare number", lambda: parse_rule("not orders").mask(snap()), InvalidRuleError),
    ("strings in a numeric list", lambda: parse_rule('orders in ["a"]').mask(snap()),
     InvalidRuleError),
    ("booleans in a numeric list", lambda: parse_rule("orders in [true]").mask(snap()),
     InvalidRuleError),
    ("numbers in a text list", lambda: parse_rule("attr:city in [1, 2]").mask(snap()),
     InvalidRuleError),
    ("tag compared with a number", lambda: parse_rule("tag:vip == 1").mask(snap()),
     InvalidRuleError),
    ("text ordered against a number", lambda: parse_rule("attr:city > 3").mask(snap()),
     InvalidRuleError),
    ("number against a string", lambda: parse_rule('orders >= "3"').mask(snap()),
     InvalidRuleError),
    ("unknown feature", lambda: parse_rule("ordres >= 1").mask(snap()), UnknownFeatureError),
)  # fmt: skip
def test_evaluating_rule_text(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


def test_boolean_features_on_their_own_still_work() -> None:
    assert parse_rule("tag:vip").mask(snap()).tolist() == [True, False, False, False]
    assert parse_rule("not tag:vip and buyers").mask(snap()).tolist() == [False, True, True, False]
    assert parse_rule("has_referrer == false").mask(snap()).all()


# ---------------------------------------------------------------------- strategies


@rows(
    ("new_days negative", lambda: AttributeLayers(new_days=-1), ValidationError),
    ("new_days bool", lambda: AttributeLayers(new_days=True), ValidationError),
    ("new_days nan", lambda: AttributeLayers(new_days=math.nan), ValidationError),
    ("new_days inf", lambda: AttributeLayers(new_days=math.inf), ValidationError),
    ("active_days str", lambda: AttributeLayers(active_days="30"), ValidationError),
    ("apply an array", lambda: AttributeLayers().apply(np.ones((2, 3))), ValidationError),
    ("fit an array", lambda: AttributeLayers().fit(np.ones((2, 3))), ValidationError),
    ("summarize None", lambda: AttributeLayers().summarize(None), ValidationError),
    ("fit_summary of another", lambda: AttributeLayers().fit_summary(5), ValidationError),
)
def test_attribute_layers(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("min_orders 0", lambda: CouponHunters(min_orders=0), ValidationError),
    ("min_orders bool", lambda: CouponHunters(min_orders=True), ValidationError),
    ("min_orders float", lambda: CouponHunters(min_orders=2.5), ValidationError),
    ("promo_share 0", lambda: CouponHunters(promo_share=0), ValidationError),
    ("promo_share bool", lambda: CouponHunters(promo_share=True), ValidationError),
    ("promo_share nan", lambda: CouponHunters(promo_share=math.nan), ValidationError),
    ("margin_floor str", lambda: CouponHunters(margin_floor="0.3"), ValidationError),
    ("margin_floor > 1", lambda: CouponHunters(margin_floor=1.5), ValidationError),
    ("apply None", lambda: CouponHunters().apply(None), ValidationError),
)
def test_coupon_hunters(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("weights a list", lambda: KOCDetector(weights=[("count_shared", 1)]).fit(snap()),
     ValidationError),
    ("weights empty", lambda: KOCDetector(weights={}).fit(snap()), ValidationError),
    ("weight key not a str", lambda: KOCDetector(weights={1: 1.0}).fit(snap()), ValidationError),
    ("weight key empty", lambda: KOCDetector(weights={"": 1.0}).fit(snap()), ValidationError),
    ("weight bool", lambda: KOCDetector(weights={"count_shared": True}).fit(snap()),
     ValidationError),
    ("weight str", lambda: KOCDetector(weights={"count_shared": "1"}).fit(snap()),
     ValidationError),
    ("weight negative", lambda: KOCDetector(weights={"count_shared": -1}).fit(snap()),
     ValidationError),
    ("weight inf", lambda: KOCDetector(weights={"count_shared": math.inf}).fit(snap()),
     ValidationError),
    ("threshold 0", lambda: KOCDetector(threshold=0).fit(snap()), ValidationError),
    ("threshold bool", lambda: KOCDetector(threshold=True).fit(snap()), ValidationError),
    ("threshold inf", lambda: KOCDetector(threshold=math.inf).fit(snap()), ValidationError),
    ("top_k 0", lambda: KOCDetector(top_k=0).fit(snap()), ValidationError),
    ("top_k bool", lambda: KOCDetector(top_k=True).fit(snap()), ValidationError),
    ("neither", lambda: KOCDetector(threshold=None).fit(snap()), ValidationError),
    ("fit a dict", lambda: KOCDetector().fit({}), ValidationError),
    ("apply before fit", lambda: KOCDetector().apply(snap()), NotFittedError),
    ("apply a list", lambda: KOCDetector().fit(snap()).apply([]), ValidationError),
    ("fit_summary of another", lambda: KOCDetector().fit_summary(
        KOCDetector(top_k=1).summarize(snap()).positive), ValidationError),
    ("summaries of other weights", lambda: KOCDetector().fit_summary(
        KOCDetector(weights={"count_shared": 1}).summarize(snap())), ValidationError),
    ("text signal", lambda: KOCDetector(weights={"attr:city": 1}).fit(snap()), ValidationError),
    ("unknown signal", lambda: KOCDetector(weights={"shares": 1}).fit(snap()),
     UnknownFeatureError),
)  # fmt: skip
def test_koc_detector(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("segments a str", lambda: TagLayering("tag:vip"), InvalidRuleError),
    ("segments a number", lambda: TagLayering(5), InvalidRuleError),
    ("no segments", lambda: TagLayering([]), InvalidRuleError),
    ("rule a number", lambda: TagLayering([("vip", 5)]), InvalidRuleError),
    ("name a number", lambda: TagLayering([(5, "tag:vip")]), InvalidRuleError),
    ("name empty", lambda: TagLayering([("", "tag:vip")]), InvalidRuleError),
    ("description a number", lambda: TagLayering([("vip", "tag:vip", 5)]), InvalidRuleError),
    ("syntax error", lambda: TagLayering([("vip", "orders >=")]), InvalidRuleError),
    ("too deep", lambda: TagLayering([("x", "not " * DEEP + "tag:vip")]), InvalidRuleError),
    ("names repeat", lambda: TagLayering([("x", "tag:vip"), ("x", "buyers")]), InvalidRuleError),
    ("other a number", lambda: TagLayering([("x", "tag:vip")], other=5), InvalidRuleError),
    ("other empty", lambda: TagLayering([("x", "tag:vip")], other=""), InvalidRuleError),
    ("other taken", lambda: TagLayering([("Other", "tag:vip")]), InvalidRuleError),
    ("apply an array", lambda: TagLayering([("x", "tag:vip")]).apply(np.ones(3)),
     ValidationError),
    ("bare numeric on apply", lambda: TagLayering([("x", "orders")]).apply(snap()),
     InvalidRuleError),
    ("unknown feature on apply", lambda: TagLayering([("x", "ordrs > 1")]).apply(snap()),
     UnknownFeatureError),
    ("tagged a number", lambda: tagged(5), InvalidRuleError),
    ("tagged empty", lambda: tagged(""), InvalidRuleError),
    ("attribute_is name a number", lambda: attribute_is(5, "x"), InvalidRuleError),
    ("attribute_is value None", lambda: attribute_is("city", None), InvalidRuleError),
    ("attribute_in a str", lambda: attribute_in("city", "上海"), InvalidRuleError),
    ("attribute_in a number", lambda: attribute_in("city", 5), InvalidRuleError),
    ("came_from nothing", lambda: came_from(), InvalidRuleError),
    ("came_from unknown", lambda: came_from("MYSPACE"), InvalidRuleError),
    ("came_from a number", lambda: came_from(3.5), InvalidRuleError),
    ("interacted unknown", lambda: interacted("waved"), InvalidRuleError),
    ("interacted at_least 0", lambda: interacted("shared", at_least=0), InvalidRuleError),
    ("interacted at_least bool", lambda: interacted("shared", at_least=True), InvalidRuleError),
    ("interacted at_least str", lambda: interacted("shared", at_least="3"), InvalidRuleError),
    ("tag_dimension a number", lambda: tag_dimension(5), InvalidRuleError),
)  # fmt: skip
def test_tag_rules(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("shares a str", lambda: ValueTiers(shares="0.5").fit(snap()), ValidationError),
    ("shares a number", lambda: ValueTiers(shares=0.5).fit(snap()), ValidationError),
    ("shares empty", lambda: ValueTiers(shares=()).fit(snap()), ValidationError),
    ("share a str", lambda: ValueTiers(shares=("0.5",)).fit(snap()), ValidationError),
    ("share a bool", lambda: ValueTiers(shares=(True,)).fit(snap()), ValidationError),
    ("share 0", lambda: ValueTiers(shares=(0,)).fit(snap()), ValidationError),
    ("share nan", lambda: ValueTiers(shares=(math.nan,)).fit(snap()), ValidationError),
    ("shares decrease", lambda: ValueTiers(shares=(0.8, 0.5)).fit(snap()), ValidationError),
    ("value a number", lambda: ValueTiers(value=5).fit(snap()), ValidationError),
    ("value text", lambda: ValueTiers(value="attr:city").fit(snap()), ValidationError),
    ("value unknown", lambda: ValueTiers(value="spend").fit(snap()), UnknownFeatureError),
    ("fit a list", lambda: ValueTiers().fit([]), ValidationError),
    ("apply before fit", lambda: ValueTiers().apply(snap()), NotFittedError),
    ("apply None", lambda: ValueTiers().fit(snap()).apply(None), ValidationError),
    ("super_users before fit", lambda: ValueTiers().super_users(), NotFittedError),
    (
        "fit_summary of another feature",
        lambda: ValueTiers().fit_summary(ValueTiers(value="gross_spend").summarize(snap())),
        ValidationError,
    ),
    ("names of bad shares", lambda: ValueTiers(shares=(2,)).names(), ValidationError),
    ("share_from_top of text", lambda: share_from_top(["1", "2"]), ValidationError),
    ("share_from_top of a str", lambda: share_from_top("abc"), ValidationError),
    ("share_from_top of a matrix", lambda: share_from_top(np.ones((2, 2))), ValidationError),
    ("share_from_top of inf", lambda: share_from_top([1.0, math.inf]), ValidationError),
)
def test_value_tiers(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("n_clusters 0", lambda: ValueClusters(n_clusters=0).fit(snap()), ValidationError),
    ("n_clusters bool", lambda: ValueClusters(n_clusters=True).fit(snap()), ValidationError),
    ("n_clusters str", lambda: ValueClusters(n_clusters="many").fit(snap()), ValidationError),
    ("features a str", lambda: ValueClusters(features="orders").fit(snap()), ValidationError),
    ("features empty", lambda: ValueClusters(features=()).fit(snap()), ValidationError),
    ("feature a number", lambda: ValueClusters(features=[1]).fit(snap()), ValidationError),
    ("feature text", lambda: ValueClusters(features=["attr:city"]).fit(snap()), ValidationError),
    ("value_column bool", lambda: ValueClusters(value_column=True).fit(snap()), ValidationError),
    ("value_column out of range", lambda: ValueClusters(value_column=5).fit(snap()),
     ValidationError),
    ("log_scale str", lambda: ValueClusters(log_scale="yes").fit(snap()), ValidationError),
    ("k_range bad", lambda: ValueClusters(n_clusters="auto", k_range=(1, 3)).fit(snap()),
     ValidationError),
    ("k_range not a pair", lambda: ValueClusters(n_clusters="auto", k_range=5).fit(snap()),
     ValidationError),
    ("sample_size 0", lambda: ValueClusters(sample_size=0).fit(snap()), ValidationError),
    ("n_init 0", lambda: ValueClusters(n_init=0).fit(snap()), ValidationError),
    ("random_state negative", lambda: ValueClusters(random_state=-1).fit(snap()),
     ValidationError),
    ("random_state str", lambda: ValueClusters(random_state="0").fit(snap()), ValidationError),
    ("fit infinity", lambda: ValueClusters().fit(np.array([[1.0, math.inf]] * 3)),
     ValidationError),
    ("fit text", lambda: ValueClusters().fit([["a", "b"]]), ValidationError),
    ("fit a 1-D array", lambda: ValueClusters().fit(np.ones(3)), ValidationError),
    ("summarize an array", lambda: ValueClusters().summarize(np.ones((3, 3))), ValidationError),
    ("fit_summary of another", lambda: ValueClusters().fit_summary(snap()), ValidationError),
    ("apply before fit", lambda: ValueClusters().apply(snap()), NotFittedError),
    ("apply an array", lambda: ValueClusters(n_clusters=2).fit(snap()).apply(np.ones((3, 3))),
     ValidationError),
)  # fmt: skip
def test_value_clusters(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


FIXED = {
    "binning": "fixed",
    "recency_edges": [7, 30, 90, 180],
    "frequency_edges": [1, 2, 3, 5],
    "monetary_edges": [50, 100, 200, 500],
}
X_OK = np.array([[3.0, 2, 90], [40, 1, 30], [np.nan, np.nan, np.nan]])


@rows(
    ("table unknown", lambda: RFMLayering(table="nope").fit(snap()), ValidationError),
    ("table a number", lambda: RFMLayering(table=5).fit(snap()), ValidationError),
    ("levels not the table's", lambda: RFMLayering(levels=4).fit(snap()), ValidationError),
    ("levels of cells too many", lambda: RFMLayering(table=None, levels=11).fit(snap()),
     ValidationError),
    ("levels bool", lambda: RFMLayering(table=None, levels=True).fit(snap()), ValidationError),
    ("binning unknown", lambda: RFMLayering(binning="magic").fit(snap()), ValidationError),
    ("binning a number", lambda: RFMLayering(binning=5).fit(snap()), ValidationError),
    ("mean needs 2 levels", lambda: RFMLayering(binning="mean").fit(snap()), ValidationError),
    ("frequency a number", lambda: RFMLayering(frequency=5).fit(snap()), ValidationError),
    ("frequency empty", lambda: RFMLayering(frequency="").fit(snap()), ValidationError),
    ("monetary None", lambda: RFMLayering(monetary=None).fit(snap()), ValidationError),
    ("frequency text", lambda: RFMLayering(frequency="attr:city").fit(snap()), ValidationError),
    ("frequency unknown", lambda: RFMLayering(frequency="visits").fit(snap()),
     UnknownFeatureError),
    ("frequency negative", lambda: RFMLayering(frequency="days_since_active").fit(
        build_snapshot({"a": {"buys": [(200, 5)]}})), ValidationError),
    ("recent_multiple 0", lambda: RFMLayering(recent_multiple=0).fit(snap()), ValidationError),
    ("recent_multiple str", lambda: RFMLayering(recent_multiple="3").fit(snap()),
     ValidationError),
    ("edges without fixed", lambda: RFMLayering(recency_edges=[1, 2, 3, 4]).fit(snap()),
     ValidationError),
    ("fixed without edges", lambda: RFMLayering(binning="fixed").fit(snap()), ValidationError),
    ("fixed edges a number", lambda: RFMLayering(**{**FIXED, "recency_edges": 5}).fit(snap()),
     ValidationError),
    ("fixed edges a str", lambda: RFMLayering(**{**FIXED, "recency_edges": "7"}).fit(snap()),
     ValidationError),
    ("fixed edges of text", lambda: RFMLayering(
        **{**FIXED, "recency_edges": ["7", "30", "90", "180"]}).fit(snap()), ValidationError),
    ("fixed edges of bools", lambda: RFMLayering(
        **{**FIXED, "frequency_edges": [True, 2, 3, 5]}).fit(snap()), ValidationError),
    ("fixed edges too few", lambda: RFMLayering(**{**FIXED, "recency_edges": [7]}).fit(snap()),
     ValidationError),
    ("fixed edges infinite", lambda: RFMLayering(
        **{**FIXED, "monetary_edges": [1, 2, 3, math.inf]}).fit(snap()), ValidationError),
    ("fixed edges descending", lambda: RFMLayering(
        **{**FIXED, "recency_edges": [90, 30, 7, 180]}).fit(snap()), InvalidRuleError),
    ("fit an array", lambda: RFMLayering().fit(X_OK), ValidationError),
    ("fit a str", lambda: RFMLayering().fit("abc"), ValidationError),
    ("fit None", lambda: RFMLayering().fit(None), ValidationError),
    ("empty snapshot", lambda: RFMLayering().fit(build_snapshot({})), EmptyPoolError),
    ("nobody bought", lambda: RFMLayering().fit(build_snapshot({"a": {}})), EmptyPoolError),
    ("fit_summary of another", lambda: RFMLayering().fit_summary(
        ValueTiers().summarize(snap())), ValidationError),
    ("fit_summary of other features", lambda: RFMLayering().fit_summary(
        RFMLayering(frequency="orders").summarize(snap())), ValidationError),
    ("merge of other features", lambda: RFMLayering().summarize(snap()).merge(
        RFMLayering(frequency="orders").summarize(snap())), ValidationError),
    ("apply before fit", lambda: RFMLayering().apply(snap()), NotFittedError),
    ("apply an array", lambda: RFMLayering().fit(snap()).apply(X_OK), ValidationError),
    ("apply a negative frequency", lambda: RFMLayering(
        frequency="days_since_active", binning="fixed", **{k: v for k, v in FIXED.items()
        if k != "binning"}).fit(snap()).apply(build_snapshot({"a": {"buys": [(200, 5)]}})),
     ValidationError),
    ("rfm_features frequency a number", lambda: rfm_features(snap(), frequency=5),
     ValidationError),
    ("rfm_features of an array", lambda: rfm_features(X_OK), ValidationError),
    ("median_interpurchase_days of an array", lambda: median_interpurchase_days(X_OK),
     ValidationError),
)  # fmt: skip
def test_rfm_layering(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("levels 1", lambda: RFMScorer(levels=1).fit(X_OK), ValidationError),
    ("levels bool", lambda: RFMScorer(levels=True).fit(X_OK), ValidationError),
    ("levels float", lambda: RFMScorer(levels=2.5).fit(X_OK), ValidationError),
    ("binning unknown", lambda: RFMScorer(binning="x").fit(X_OK), ValidationError),
    ("edges without fixed", lambda: RFMScorer(edges=[[1, 2, 3, 4]] * 3).fit(X_OK),
     ValidationError),
    ("edges a number", lambda: RFMScorer(binning="fixed", edges=5).fit(X_OK), ValidationError),
    ("edges rows of the wrong count", lambda: RFMScorer(
        binning="fixed", edges=[[1, 2, 3, 4]]).fit(X_OK), ValidationError),
    ("lower_is_better a str", lambda: RFMScorer(lower_is_better="0").fit(X_OK),
     ValidationError),
    ("lower_is_better negative", lambda: RFMScorer(lower_is_better=[-1]).fit(X_OK),
     ValidationError),
    ("lower_is_better bool", lambda: RFMScorer(lower_is_better=[True]).fit(X_OK),
     ValidationError),
    ("X with infinity", lambda: RFMScorer().fit(np.array([[math.inf]])), ValidationError),
    ("X all NaN", lambda: RFMScorer().fit(np.array([[math.nan]])), EmptyPoolError),
    ("transform before fit", lambda: RFMScorer().transform(X_OK), NotFittedError),
    ("transform 4 columns", lambda: RFMScorer().fit(X_OK).transform(np.ones((2, 4))),
     ValidationError),
    ("transform infinity", lambda: RFMScorer().fit(X_OK).transform(
        np.array([[1.0, math.inf, 1]])), ValidationError),
    ("X of text", lambda: RFMScorer().fit([["a", "b", "c"]]), ValidationError),
    ("X a str", lambda: RFMScorer().fit("abc"), ValidationError),
    ("feature names of the wrong count", lambda: RFMScorer().fit(X_OK).get_feature_names_out(
        ["a"]), ValidationError),
)  # fmt: skip
def test_rfm_scorer(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("name a number", lambda: RFMTable.from_rules(5, 2, [("x", "r >= 1")]), InvalidRuleError),
    ("levels 1", lambda: RFMTable.from_rules("t", 1, [("x", "r >= 1")]), ValidationError),
    ("levels 11", lambda: RFMTable.from_rules("t", 11, [("x", "r >= 1")]), ValidationError),
    ("levels str", lambda: RFMTable.from_rules("t", "2", [("x", "r >= 1")]), ValidationError),
    ("rows a number", lambda: RFMTable.from_rules("t", 2, 5), InvalidRuleError),
    ("rows a str", lambda: RFMTable.from_rules("t", 2, "r >= 1"), InvalidRuleError),
    ("row a list", lambda: RFMTable.from_rules("t", 2, [["x", "r >= 1"]]), InvalidRuleError),
    ("advice a number", lambda: RFMTable.from_rules("t", 2, [("x", "r >= 1", 5)]),
     InvalidRuleError),
    ("bare score", lambda: RFMTable.from_rules("t", 2, [("x", "r")]), InvalidRuleError),
    ("score against text", lambda: RFMTable.from_rules("t", 2, [("x", 'r == "2"')]),
     InvalidRuleError),
    ("score against a boolean", lambda: RFMTable.from_rules("t", 2, [("x", "r == true")]),
     InvalidRuleError),
    ("condition too deep", lambda: RFMTable.from_rules("t", 2, [("x", "not " * DEEP + "r")]),
     InvalidRuleError),
    ("cells 11 levels", lambda: RFMTable.cells(11), ValidationError),
    ("cells str", lambda: RFMTable.cells("5"), ValidationError),
    ("cells_of out of range", lambda: RFMTable.cells(2).cells_of(99), ValidationError),
    ("cells_of a str", lambda: RFMTable.cells(2).cells_of("0"), ValidationError),
    ("codes of a vector", lambda: CLASSIC_11.codes(np.ones(3, dtype=int)), ValidationError),
    ("codes of floats", lambda: CLASSIC_11.codes(np.ones((1, 3))), ValidationError),
    ("codes past the levels", lambda: CLASSIC_11.codes(np.full((1, 3), 6)), ValidationError),
    ("codes negative", lambda: CLASSIC_11.codes(np.full((1, 3), -1)), ValidationError),
)  # fmt: skip
def test_rfm_table(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


# ---------------------------------------------------------------------- results

IDS = np.array(["a", "b"], dtype=object)
RULES = (F("orders") >= 1, F("orders") < 1)


@rows(
    ("strategy a number", lambda: Segmentation(5, IDS, np.array([0, 1]), ("p", "q"), RULES),
     ValidationError),
    ("ids 2-D", lambda: Segmentation("s", IDS[:, None], np.array([0, 1]), ("p", "q"), RULES),
     ValidationError),
    ("ids a scalar", lambda: Segmentation("s", "a", np.array([0]), ("p", "q"), RULES),
     ValidationError),
    ("labels float", lambda: Segmentation("s", IDS, np.array([0.0, 1.0]), ("p", "q"), RULES),
     ValidationError),
    ("labels out of range", lambda: Segmentation("s", IDS, np.array([0, 5]), ("p", "q"), RULES),
     ValidationError),
    ("names a str", lambda: Segmentation("s", IDS, np.array([0, 1]), "pq", RULES),
     ValidationError),
    ("names numbers", lambda: Segmentation("s", IDS, np.array([0, 1]), (1, 2), RULES),
     ValidationError),
    ("rules numbers", lambda: Segmentation("s", IDS, np.array([0, 1]), ("p", "q"), (1, 2)),
     ValidationError),
    ("rules a rule", lambda: Segmentation("s", IDS, np.array([0, 1]), ("p", "q"), RULES[0]),
     ValidationError),
    ("rules_on unknown", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, rules_on="table"), ValidationError),
    ("columns a list", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, columns=[1, 2]), ValidationError),
    ("column too short", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, columns={"x": [1]}), ValidationError),
    ("column_notes a list", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, column_notes=["x"]), ValidationError),
    ("descriptions too many", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, descriptions=("a", "b", "c")),
     ValidationError),
    ("notes a str", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, notes="careful"), ValidationError),
    ("warnings numbers", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, warnings=(1,)), ValidationError),
    ("column named segment", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, columns={"segment": [1, 2]}),
     ValidationError),
    ("take a str", lambda: rfm_result().take("a"), ValidationError),
    ("take a float", lambda: rfm_result().take([0.5]), ValidationError),
    ("take a short mask", lambda: rfm_result().take([True]), ValidationError),
    ("take out of range", lambda: rfm_result().take([9]), ValidationError),
    ("take repeated", lambda: rfm_result().take([0, 0]), ValidationError),
    ("take a matrix", lambda: rfm_result()[np.zeros((2, 2), dtype=int)], ValidationError),
    ("concat nothing", lambda: Segmentation.concat([]), ValidationError),
    ("concat a snapshot", lambda: Segmentation.concat([snap()]), ValidationError),
    ("concat twice", lambda: Segmentation.concat([rfm_result(), rfm_result()]),
     ValidationError),
    ("concat other strategies", lambda: Segmentation.concat(
        [rfm_result().take([0]), AttributeLayers().apply(snap()).take([1])]), ValidationError),
    ("row of a number", lambda: rfm_result().row(5), ValidationError),
    ("row of a list", lambda: rfm_result().row(["a"]), ValidationError),
    ("row of a stranger", lambda: rfm_result().row("zz"), UnknownCustomerError),
    ("explain a stranger", lambda: rfm_result().explain("zz"), UnknownCustomerError),
    ("explain a number", lambda: rfm_result().explain(0), ValidationError),
    ("segment_of None", lambda: rfm_result().segment_of(None), ValidationError),
    ("mask of an unknown segment", lambda: rfm_result().mask("VIP"), ValidationError),
    ("members of a number", lambda: rfm_result().members(3), ValidationError),
    ("segment unknown", lambda: rfm_result().segment("VIP"), ValidationError),
    ("feature unknown", lambda: rfm_result().feature("x"), UnknownFeatureError),
)  # fmt: skip
def test_segmentation(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("features a str", lambda: features_from_snapshot(snap(), "orders"), ValidationError),
    ("features empty", lambda: features_from_snapshot(snap(), []), ValidationError),
    ("feature a number", lambda: features_from_snapshot(snap(), [1]), ValidationError),
    ("feature text", lambda: features_from_snapshot(snap(), ["attr:city"]), ValidationError),
    ("not a snapshot", lambda: features_from_snapshot(np.ones(3), ["orders"]), ValidationError),
    ("unknown", lambda: features_from_snapshot(snap(), ["ordres"]), UnknownFeatureError),
    ("demo of an array", lambda: demo_step(np.ones((3, 3))), ValidationError),
)
def test_helpers(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


def test_plots() -> None:
    pytest.importorskip("matplotlib")
    from privdomain.layering import AttributeLayers, plot_rfm_grid, plot_segment_sizes

    seg = rfm_result()
    for call in (
        lambda: plot_rfm_grid(5),
        lambda: plot_rfm_grid(seg.columns()),
        lambda: plot_rfm_grid(AttributeLayers().apply(snap())),
        lambda: plot_rfm_grid(seg, value=5),
        lambda: plot_rfm_grid(seg, value="nope"),
        lambda: plot_rfm_grid(seg, ax="axes"),
        lambda: plot_segment_sizes([1, 2]),
        lambda: plot_segment_sizes(seg, ax=5),
    ):
        check(call, ValidationError)
