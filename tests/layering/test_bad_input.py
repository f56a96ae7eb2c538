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
    return RFMLayering(table="chinese").fit_layer(snap())


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
    ("layer an array", lambda: AttributeLayers().layer(np.ones((2, 3))), ValidationError),
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
    ("layer None", lambda: CouponHunters().layer(None), ValidationError),
)
def test_coupon_hunters(call: Callable[[], Any], error: type[PrivdomainError]) -> None:
    check(call, error)


@rows(
    ("weights a list", lambda: KOCDetector(weights=[("count_shared", 1)]), ValidationError),
    ("weights empty", lambda: KOCDetector(weights={}), ValidationError),
    ("weight key not a str", lambda: KOCDetector(weights={1: 1.0}), ValidationError),
    ("weight key empty", lambda: KOCDetector(weights={"": 1.0}), ValidationError),
    ("weight bool", lambda: KOCDetector(weights={"count_shared": True}), ValidationError),
    ("weight str", lambda: KOCDetector(weights={"count_shared": "1"}), ValidationError),
    ("weight negative", lambda: KOCDetector(weights={"count_shared": -1}), ValidationError),
    ("weight inf", lambda: KOCDetector(weights={"count_shared": math.inf}), ValidationError),
    ("threshold 0", lambda: KOCDetector(threshold=0), ValidationError),
    ("threshold bool", lambda: KOCDetector(threshold=True), ValidationError),
    ("threshold inf", lambda: KOCDetector(threshold=math.inf), ValidationError),
    ("top_k 0", lambda: KOCDetector(top_k=0), ValidationError),
    ("top_k bool", lambda: KOCDetector(top_k=True), ValidationError),
    ("neither", lambda: KOCDetector(threshold=None), ValidationError),
    ("layer a dict", lambda: KOCDetector().layer({}), ValidationError),
    ("scores a list", lambda: KOCDetector().scores([]), ValidationError),
    ("text signal", lambda: KOCDetector(weights={"attr:city": 1}).layer(snap()), ValidationError),
    ("unknown signal", lambda: KOCDetector(weights={"shares": 1}).layer(snap()),
     UnknownFeatureError),
    ("cutoff of text", lambda: KOCDetector(top_k=2).cutoff(np.array(["a"])), ValidationError),
    ("cutoff of a matrix", lambda: KOCDetector(top_k=2).cutoff(np.ones((2, 2))), ValidationError),
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
    ("layer an array", lambda: TagLayering([("x", "tag:vip")]).layer(np.ones(3)),
     ValidationError),
    ("bare numeric on layer", lambda: TagLayering([("x", "orders")]).layer(snap()),
     InvalidRuleError),
    ("unknown feature on layer", lambda: TagLayering([("x", "ordrs > 1")]).layer(snap()),
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
    ("shares a str", lambda: ValueTiers(shares="0.5"), ValidationError),
    ("shares a number", lambda: ValueTiers(shares=0.5), ValidationError),
    ("shares empty", lambda: ValueTiers(shares=()), ValidationError),
    ("share a str", lambda: ValueTiers(shares=("0.5",)), ValidationError),
    ("share a bool", lambda: ValueTiers(shares=(True,)), ValidationError),
    ("share 0", lambda: ValueTiers(shares=(0,)), ValidationError),
    ("share nan", lambda: ValueTiers(shares=(math.nan,)), ValidationError),
    ("shares decrease", lambda: ValueTiers(shares=(0.8, 0.5)), ValidationError),
    ("value a number", lambda: ValueTiers(value=5), ValidationError),
    ("value text", lambda: ValueTiers(value="attr:city").layer(snap()), ValidationError),
    ("value unknown", lambda: ValueTiers(value="spend").layer(snap()), UnknownFeatureError),
    ("layer a list", lambda: ValueTiers().layer([]), ValidationError),
    ("thresholds of None", lambda: ValueTiers().thresholds(None), ValidationError),
    ("super_users of an array", lambda: ValueTiers().super_users(np.ones(3)), ValidationError),
    ("rules of text", lambda: ValueTiers().rules(np.array(["a", "b"])), ValidationError),
    ("rules of the wrong count", lambda: ValueTiers().rules(np.ones(3)), ValidationError),
    ("rules of NaN", lambda: ValueTiers().rules(np.array([np.nan, 1.0])), ValidationError),
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
    ("fit_layer an array", lambda: ValueClusters().fit_layer(np.ones((3, 3))), ValidationError),
    ("layer before fit", lambda: ValueClusters().layer(snap()), NotFittedError),
    ("layer an array", lambda: ValueClusters(n_clusters=2).fit(snap()).layer(np.ones((3, 3))),
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
X_OK = np.array([[3.0, 2, 90], [40, 1, 30], [np.nan, 0, 0]])


@rows(
    ("table unknown", lambda: RFMLayering(table="nope").fit(X_OK), ValidationError),
    ("table a number", lambda: RFMLayering(table=5).fit(X_OK), ValidationError),
    ("levels not the table's", lambda: RFMLayering(levels=4).fit(X_OK), ValidationError),
    ("levels of cells too many", lambda: RFMLayering(table=None, levels=11).fit(X_OK),
     ValidationError),
    ("levels bool", lambda: RFMLayering(table=None, levels=True).fit(X_OK), ValidationError),
    ("binning unknown", lambda: RFMLayering(binning="magic").fit(X_OK), ValidationError),
    ("binning a number", lambda: RFMLayering(binning=5).fit(X_OK), ValidationError),
    ("mean needs 2 levels", lambda: RFMLayering(binning="mean").fit(X_OK), ValidationError),
    ("frequency a number", lambda: RFMLayering(frequency=5).fit(snap()), ValidationError),
    ("frequency empty", lambda: RFMLayering(frequency="").fit(X_OK), ValidationError),
    ("monetary None", lambda: RFMLayering(monetary=None).fit(X_OK), ValidationError),
    ("frequency text", lambda: RFMLayering(frequency="attr:city").fit(snap()), ValidationError),
    ("frequency unknown", lambda: RFMLayering(frequency="visits").fit(snap()),
     UnknownFeatureError),
    ("frequency negative", lambda: RFMLayering(frequency="days_since_active").fit(
        build_snapshot({"a": {"buys": [(200, 5)]}})), ValidationError),
    ("recent_multiple 0", lambda: RFMLayering(recent_multiple=0).fit(X_OK), ValidationError),
    ("recent_multiple str", lambda: RFMLayering(recent_multiple="3").fit(X_OK), ValidationError),
    ("edges without fixed", lambda: RFMLayering(recency_edges=[1, 2, 3, 4]).fit(X_OK),
     ValidationError),
    ("fixed without edges", lambda: RFMLayering(binning="fixed").fit(X_OK), ValidationError),
    ("fixed edges a number", lambda: RFMLayering(**{**FIXED, "recency_edges": 5}).fit(X_OK),
     ValidationError),
    ("fixed edges a str", lambda: RFMLayering(**{**FIXED, "recency_edges": "7"}).fit(X_OK),
     ValidationError),
    ("fixed edges of text", lambda: RFMLayering(
        **{**FIXED, "recency_edges": ["7", "30", "90", "180"]}).fit(X_OK), ValidationError),
    ("fixed edges of bools", lambda: RFMLayering(
        **{**FIXED, "frequency_edges": [True, 2, 3, 5]}).fit(X_OK), ValidationError),
    ("fixed edges too few", lambda: RFMLayering(**{**FIXED, "recency_edges": [7]}).fit(X_OK),
     ValidationError),
    ("fixed edges infinite", lambda: RFMLayering(
        **{**FIXED, "monetary_edges": [1, 2, 3, math.inf]}).fit(X_OK), ValidationError),
    ("fixed edges descending", lambda: RFMLayering(
        **{**FIXED, "recency_edges": [90, 30, 7, 180]}).fit(X_OK), InvalidRuleError),
    ("X with infinity", lambda: RFMLayering().fit(np.array([[1.0, math.inf, 10]])),
     ValidationError),
    ("X with -infinity", lambda: RFMLayering().fit(np.array([[1.0, 1, -math.inf]])),
     ValidationError),
    ("X with infinite recency", lambda: RFMLayering().fit(np.array([[math.inf, 1, 1]])),
     ValidationError),
    ("X with NaN frequency", lambda: RFMLayering().fit(np.array([[1.0, math.nan, 1]])),
     ValidationError),
    ("X with negative recency", lambda: RFMLayering().fit(np.array([[-1.0, 1, 1]])),
     ValidationError),
    ("X with negative frequency", lambda: RFMLayering().fit(np.array([[1.0, -1, 1]])),
     ValidationError),
    ("X of text", lambda: RFMLayering().fit([["a", "b", "c"]]), ValidationError),
    ("X a str", lambda: RFMLayering().fit("abc"), ValidationError),
    ("X None", lambda: RFMLayering().fit(None), ValidationError),
    ("X 2 columns", lambda: RFMLayering().fit(np.ones((3, 2))), ValidationError),
    ("X empty snapshot", lambda: RFMLayering().fit(build_snapshot({})), EmptyPoolError),
    ("nobody bought", lambda: RFMLayering().fit(np.array([[math.nan, 0, 0]])), EmptyPoolError),
    ("transform before fit", lambda: RFMLayering().transform(X_OK), NotFittedError),
    ("transform infinity", lambda: RFMLayering().fit(X_OK).transform(
        np.array([[1.0, math.inf, 1]])), ValidationError),
    ("transform 4 columns", lambda: RFMLayering().fit(X_OK).transform(np.ones((2, 4))),
     ValidationError),
    ("layer an array", lambda: RFMLayering().fit(X_OK).layer(X_OK), ValidationError),
    ("fit_layer an array", lambda: RFMLayering().fit_layer(X_OK), ValidationError),
    ("segments before fit", lambda: RFMLayering().segments(), NotFittedError),
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
    ("source a number", lambda: Segmentation(
        "s", IDS, np.array([0, 1]), ("p", "q"), RULES, source=5), ValidationError),
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
        lambda: plot_rfm_grid(seg.columns),
        lambda: plot_rfm_grid(AttributeLayers().layer(snap())),
        lambda: plot_rfm_grid(seg, value=5),
        lambda: plot_rfm_grid(seg, value="nope"),
        lambda: plot_rfm_grid(seg, ax="axes"),
        lambda: plot_segment_sizes([1, 2]),
        lambda: plot_segment_sizes(seg, ax=5),
    ):
        check(call, ValidationError)
