"""Attribute layers, value tiers, KOCs, coupon hunters and tag rules on hand-made pools."""

from __future__ import annotations

import numpy as np
import pytest
from layering_helpers import build_snapshot, columns_snapshot

from privdomain import Channel, F, Segment, TouchKind
from privdomain.errors import (
    InvalidRuleError,
    NotFittedError,
    UnknownCustomerError,
    UnknownFeatureError,
    ValidationError,
)
from privdomain.layering import (
    AttributeLayers,
    CouponHunters,
    KOCDetector,
    Layering,
    TagDimension,
    TagLayering,
    ValueTiers,
    attribute_in,
    attribute_is,
    came_from,
    interacted,
    share_from_top,
    tag_dimension,
    tagged,
)


def assert_rules_reproduce(seg, snapshot) -> None:
    source = seg if seg.rules_on == "result" else snapshot
    hits = np.zeros(len(snapshot), dtype=int)
    for code, segment in enumerate(seg.segments()):
        mask = segment.mask(source)
        np.testing.assert_array_equal(mask, seg.labels == code, err_msg=segment.name)
        hits += mask
    assert (hits == 1).all()


# ---------------------------------------------------------------------- attribute layers


def test_attribute_layers_by_hand() -> None:
    snap = build_snapshot(
        {
            "buyer": {"joined": 0, "buys": [(50, 10)]},
            "fresh": {"joined": 90},  # joined 10 days before the snapshot
            "browsing": {"joined": 0, "touches": [(95, TouchKind.VISITED)]},
            "quiet": {"joined": 0, "touches": [(10, TouchKind.OPENED)]},
            "new_buyer": {"joined": 95, "buys": [(96, 5)]},
        }
    )
    seg = AttributeLayers().apply(snap)
    assert [seg.segment_of(c) for c in snap.customer_ids] == [
        "Paying",
        "New",
        "Active",
        "Never bought",
        "Paying",
    ]
    assert_rules_reproduce(seg, snap)
    assert seg.counts() == {"Paying": 2, "New": 1, "Active": 1, "Never bought": 1}
    # the windows are parameters: with a 100-day new window everyone who never bought is new
    wide = AttributeLayers(new_days=100).apply(snap)
    assert wide.counts()["New"] == 3
    assert "rule: " in seg.explain("browsing")


def test_attribute_layers_refuse_bad_windows() -> None:
    with pytest.raises(ValidationError, match="new_days"):
        AttributeLayers(new_days=-1)
    with pytest.raises(ValidationError, match="takes a Snapshot"):
        AttributeLayers().apply([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- value tiers


def test_value_tiers_by_hand() -> None:
    # total 100: the top 50% is {a}; 80% needs a + b; c, d, e are other buyers; f never bought
    snap = columns_snapshot(
        [1, 2, 3, 4, 5, np.nan], [1, 1, 1, 1, 1, 0], [50, 30, 10, 5, 5, 0], ids="abcdef"
    )
    tiers = ValueTiers().fit(snap)
    np.testing.assert_allclose(tiers.thresholds_, [50, 30])
    assert tiers.exact_thresholds_
    seg = tiers.apply(snap)
    assert seg.segment_names.tolist() == [
        "Top 50% of revenue",
        "50%–80% of revenue",
        "Other buyers",
        "Other buyers",
        "Other buyers",
        "No revenue",
    ]
    assert_rules_reproduce(seg, snap)
    assert "super users: 2 customers" in seg.notes[0]
    supers = tiers.super_users()
    assert supers.members(snap).tolist() == ["a", "b"]
    np.testing.assert_allclose(share_from_top(snap.net_spend)[:5], [0.5, 0.8, 0.9, 1.0, 1.0])


def test_value_tiers_keep_ties_together() -> None:
    # 80% of 100 is reached inside a tie of three 20s: all three are taken, never by row order
    snap = columns_snapshot([1] * 5, [1] * 5, [40, 20, 20, 20, 0], ids="abcde")
    seg = ValueTiers(shares=(0.8,)).fit(snap).apply(snap)
    assert seg.counts()["Top 80% of revenue"] == 4
    assert seg.segment_of("e") == "No revenue"


def test_value_tiers_without_revenue() -> None:
    snap = columns_snapshot([1, 2], [1, 1], [0, 0])
    seg = ValueTiers().fit(snap).apply(snap)
    assert seg.counts()["No revenue"] == 2
    assert "no revenue" in seg.notes[0]
    assert_rules_reproduce(seg, snap)
    empty = build_snapshot({})
    assert ValueTiers().fit(empty).apply(empty).counts()["No revenue"] == 0


@pytest.mark.parametrize(
    ("shares", "match"),
    [((), "at least one"), ((0.8, 0.5), "increase"), ((1.5,), r"\(0, 1\]"), (("x",), "numbers")],
)
def test_value_tiers_refuse_bad_shares(shares, match) -> None:
    snap = columns_snapshot([1], [1], [10])
    with pytest.raises(ValidationError, match=match):
        ValueTiers(shares=shares).fit(snap)


# ---------------------------------------------------------------------- KOCs


def _koc_pool():
    return build_snapshot(
        {
            # 4 shares + 2 posts (×2) + 1 invitation (×2) = 10: a KOC at the default threshold
            "loud": {
                "touches": [(1, TouchKind.SHARED)] * 4
                + [(2, TouchKind.POSTED)] * 2
                + [(3, TouchKind.INVITED)]
            },
            "quiet": {"touches": [(1, TouchKind.SHARED)] * 3},  # 3
            "inviter": {},  # referrals below: 2 × 5 = 10
            "friend1": {"referrer": "inviter"},
            "friend2": {"referrer": "inviter"},
        }
    )


def test_koc_scores_by_hand() -> None:
    snap = _koc_pool()
    seg = KOCDetector().fit(snap).apply(snap)
    assert seg.columns()["koc_score"].tolist() == [10, 3, 10, 0, 0]
    assert seg.members("KOC").tolist() == ["loud", "inviter"]
    assert seg.rules_on == "result"
    assert_rules_reproduce(seg, snap)
    text = seg.explain("loud")
    assert "count_shared = 4" in text
    assert "koc_score=10 >= 10" in text


def test_koc_top_k_includes_ties_and_never_zero() -> None:
    snap = _koc_pool()
    top = KOCDetector(top_k=1).fit(snap)
    assert top.cutoff_ == 10
    assert top.apply(snap).members("KOC").tolist() == ["loud", "inviter"]
    everyone = KOCDetector(top_k=100).fit(snap).apply(snap)
    assert everyone.members("KOC").tolist() == ["loud", "quiet", "inviter"]
    silent = KOCDetector(weights={"count_replied": 1}, top_k=3).fit(snap)
    assert silent.cutoff_ == np.inf
    assert silent.apply(snap).counts()["KOC"] == 0


def test_koc_bad_input() -> None:
    snap = _koc_pool()
    with pytest.raises(ValidationError, match="threshold or top_k"):
        KOCDetector(threshold=None).fit(snap)
    with pytest.raises(ValidationError, match="top_k"):
        KOCDetector(top_k=0).fit(snap)
    with pytest.raises(ValidationError, match=">= 0"):
        KOCDetector(weights={"count_shared": -1}).fit(snap)
    with pytest.raises(UnknownFeatureError, match="count_shared"):
        KOCDetector(weights={"count_sharde": 1}).fit(snap)
    with pytest.raises(NotFittedError):
        KOCDetector().apply(snap)


def test_koc_cutoff_is_learned_in_fit_only() -> None:
    # the top-2 cut-off of the whole pool holds for any part of it
    snap = _koc_pool()
    detector = KOCDetector(top_k=2).fit(snap)
    quiet_only = snap.take([1])
    assert detector.apply(quiet_only).counts()["KOC"] == 0
    assert KOCDetector(top_k=2).fit(quiet_only).apply(quiet_only).counts()["KOC"] == 1


# ---------------------------------------------------------------------- coupon hunters


def test_coupon_hunters_by_hand() -> None:
    snap = build_snapshot(
        {
            "hunter": {"buys": [(1, 10, True), (2, 10, True), (3, 10, True)]},
            "deep": {"buys": [(1, 60, False, 40), (2, 60, False, 40)]},  # 40% off, twice
            "mixed": {"buys": [(1, 10, True), (2, 10, True), (3, 30)]},  # one full price
            "trial": {"buys": [(1, 10, True)]},  # a single promo order
            "none": {},
        }
    )
    seg = CouponHunters().apply(snap)
    assert seg.members("Coupon hunter").tolist() == ["hunter", "deep"]
    np.testing.assert_allclose(seg.columns()["discount_rate"][1], 0.4)
    assert seg.columns()["full_price_orders"].tolist() == [0, 0, 1, 0, 0]
    assert_rules_reproduce(seg, snap)
    assert "promo_share=1 >= 0.9: yes" in seg.explain("hunter")
    assert CouponHunters(min_orders=1).apply(snap).segment_of("trial") == "Coupon hunter"


def test_coupon_hunters_refuse_bad_parameters() -> None:
    with pytest.raises(ValidationError, match="promo_share"):
        CouponHunters(promo_share=0)
    with pytest.raises(ValidationError, match="min_orders"):
        CouponHunters(min_orders=0)


def test_coupon_hunters_find_the_simulated_ones(sim_snapshot) -> None:
    from privdomain.simulate import simulate_pool

    sim = simulate_pool(3000, seed=7)
    truth = np.asarray(sim.truth["coupon_hunter"], dtype=bool)
    flagged = CouponHunters().apply(sim_snapshot).mask("Coupon hunter")
    assert flagged.sum() > 0
    # flagged customers are far more often true hunters than the pool at large
    assert truth[flagged].mean() > 3 * truth.mean()


# ---------------------------------------------------------------------- tag rules


def _tag_pool():
    return build_snapshot(
        {
            "ann": {"tags": {"vip"}, "attributes": {"gender": "F"}, "buys": [(1, 5)] * 3},
            "bo": {"source": Channel.DOUYIN, "attributes": {"gender": "M"}},
            "cy": {"source": Channel.XIAOHONGSHU, "touches": [(5, TouchKind.SHARED)] * 2},
            "di": {"tags": {"vip"}, "attributes": {"gender": "M"}},
            "ed": {},
        }
    )


def test_tag_layering_first_match_wins_and_reports_other() -> None:
    snap = _tag_pool()
    layering = TagLayering(
        [
            ("VIP buyers", "tag:vip and orders >= 3"),
            ("From short video", 'source in ["DOUYIN", "XIAOHONGSHU"]'),
            ("Sharers", interacted("shared", at_least=2)),  # cy matched above already
            Segment("Men", attribute_is("gender", "M")),
        ]
    )
    seg = layering.apply(snap)
    assert seg.segment_names.tolist() == [
        "VIP buyers",
        "From short video",
        "From short video",
        "Men",
        "Other",
    ]
    assert seg.counts()["Sharers"] == 0
    assert_rules_reproduce(seg, snap)
    assert seg.counts()["Other"] == 1
    assert seg.columns()["matched"].tolist() == [1, 2, 2, 1, 0]
    assert "matched = 2" in seg.explain("cy")
    assert any("the first that matches wins" in n for n in seg.notes)
    assert isinstance(layering, Layering)
    assert layering.fit(snap) is layering


def test_tag_layering_unknown_feature_names_the_closest() -> None:
    layering = TagLayering([("x", "ordrs >= 3")])
    with pytest.raises(UnknownFeatureError, match=r"did you mean.*orders"):
        layering.apply(_tag_pool())


def test_tag_layering_bad_definitions() -> None:
    with pytest.raises(InvalidRuleError, match="repeat"):
        TagLayering([("a", "orders >= 1"), ("a", "orders >= 2")])
    with pytest.raises(InvalidRuleError, match="at least one"):
        TagLayering([])
    with pytest.raises(InvalidRuleError, match="rename"):
        TagLayering([("Other", "orders >= 1")])
    with pytest.raises(InvalidRuleError, match="position"):
        TagLayering([("a", "orders >=")])
    with pytest.raises(InvalidRuleError, match="a Segment or"):
        TagLayering(["orders"])


def test_tag_helpers_and_dimensions() -> None:
    snap = _tag_pool()
    assert tagged("vip").mask(snap).tolist() == [True, False, False, True, False]
    assert came_from("douyin", Channel.XIAOHONGSHU).mask(snap).tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert attribute_in("gender", ["M"]).mask(snap).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert (F("count_shared") >= 2).mask(snap).tolist() == interacted(
        TouchKind.SHARED, at_least=2
    ).mask(snap).tolist()
    assert tag_dimension("attr:gender") is TagDimension.BASIC
    assert tag_dimension("source") is TagDimension.SOURCE
    assert tag_dimension("count_shared") is TagDimension.BEHAVIOUR
    assert tag_dimension("tag:vip") is TagDimension.OPERATOR
    assert tag_dimension("consent_wecom") is TagDimension.OTHER
    dims = TagLayering([("x", "attr:gender == 'F' and source in ['DOUYIN']")]).dimensions()
    assert dims == {"x": {TagDimension.BASIC, TagDimension.SOURCE}}
    with pytest.raises(InvalidRuleError):
        came_from()
    with pytest.raises(InvalidRuleError, match="unknown channel"):
        came_from("myspace")
    with pytest.raises(InvalidRuleError, match="unknown touch kind"):
        interacted("waved")


def test_unknown_customer() -> None:
    seg = AttributeLayers().apply(_tag_pool())
    with pytest.raises(UnknownCustomerError, match="zed"):
        seg.explain("zed")
