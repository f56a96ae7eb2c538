"""RFM scores and named segments: hand-computed cases, a slow reference, properties, bad input."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays
from layering_helpers import AS_OF, build_snapshot, columns_snapshot

from privdomain import F
from privdomain.errors import (
    EmptyPoolError,
    InvalidRuleError,
    NotFittedError,
    UnknownFeatureError,
    ValidationError,
)
from privdomain.layering import (
    CHINESE_8,
    CLASSIC_11,
    NEVER_BOUGHT,
    OTHER,
    RFMLayering,
    RFMScorer,
    RFMTable,
    Segmentation,
)

#: What these tests check does not depend on the warnings of learned bands (those have tests of
#: their own in test_rfm_real_data.py).
pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")


# ---------------------------------------------------------------------- a slow reference


def reference_quantile(values: list[float], q: float) -> float:
    """numpy's default ("linear") quantile, by the textbook formula."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def reference_scores(column: list[float], levels: int, reverse: bool) -> list[int]:
    """Score one column the slow way: learn edges, count edges strictly below each value."""
    known = [v for v in column if not math.isnan(v)]
    edges = [reference_quantile(known, j / levels) for j in range(1, levels)]
    out = []
    for v in column:
        if math.isnan(v):
            out.append(0)
            continue
        band = 1 + sum(1 for e in edges if e < v)
        out.append(levels + 1 - band if reverse else band)
    return out


# small integers give many ties, which is where scoring rules go wrong
tied_values = st.lists(st.integers(0, 6).map(float), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    cols=st.lists(tied_values, min_size=1, max_size=3).filter(
        lambda cs: len({len(c) for c in cs}) == 1
    ),
    levels=st.integers(2, 7),
)
def test_quantile_scores_match_the_slow_reference(cols: list[list[float]], levels: int) -> None:
    X = np.column_stack([np.array(c) for c in cols])
    got = RFMScorer(levels=levels).fit(X).transform(X)
    for j, col in enumerate(cols):
        assert got[:, j].tolist() == reference_scores(col, levels, reverse=(j == 0))


@settings(max_examples=100, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 1e6, allow_nan=False)),
    levels=st.integers(2, 9),
)
def test_quantile_scores_are_monotone_in_the_value(values: np.ndarray, levels: int) -> None:
    X = np.column_stack([values, values])
    scores = RFMScorer(levels=levels).fit(X).transform(X)
    order = np.argsort(values, kind="stable")
    # recency (column 0): a larger value never scores higher; others: never lower
    assert (np.diff(scores[order, 0]) <= 0).all()
    assert (np.diff(scores[order, 1]) >= 0).all()
    assert scores.min() >= 1
    assert scores.max() <= levels


def test_equal_values_get_equal_scores_when_quantiles_collapse() -> None:
    # 8 of 10 customers bought once: every quantile edge but the last is 1
    orders = np.array([1, 1, 1, 1, 1, 1, 1, 1, 2, 7], dtype=float)
    X = np.column_stack([orders, orders, orders])
    scorer = RFMScorer(levels=5).fit(X)
    np.testing.assert_allclose(scorer.edges_[1], [1, 1, 1, 1.2])
    f = scorer.transform(X)[:, 1]
    assert f.tolist() == [1] * 8 + [5, 5]
    # the value that sits on an edge falls in the band below it (closed on the right)
    assert RFMScorer(levels=2).fit(np.array([[1.0], [2.0], [3.0]])).transform(
        np.array([[2.0]])
    ).tolist() == [[2]]  # column 0 is reversed: band 1 → score 2


def scores_of(seg: Segmentation) -> np.ndarray:
    """The ``(r, f, m)`` scores of an RFM result."""
    cols = seg.columns()
    return np.column_stack([cols["r"], cols["f"], cols["m"]]).astype(np.int64)


def fit_apply(rfm: RFMLayering, snap) -> Segmentation:
    return rfm.fit(snap).apply(snap)


def test_fewer_distinct_values_than_levels() -> None:
    snap = columns_snapshot([5, 5, 9], [1, 2, 1], [10, 10, 10])
    scores = scores_of(fit_apply(RFMLayering(table=None, levels=5), snap))
    assert scores[:, 0].tolist() == [5, 5, 1]
    assert scores[:, 1].tolist() == [1, 5, 1]
    assert scores[:, 2].tolist() == [1, 1, 1]


# ---------------------------------------------------------------------- hand-computed pools


def test_chinese_8_classes_against_the_mean_by_hand() -> None:
    # buyers: recency 10, 50, 90 (mean 50); orders 1, 4, 1 (mean 2); spend 600, 100, 200 (300)
    snap = build_snapshot(
        {
            "a": {"buys": [(90, 600)]},  # recency 10 (≤50: R high), 1 order, 600: 重要发展
            "b": {"buys": [(47, 25), (48, 25), (49, 25), (50, 25)]},  # r 50 (=mean: high), F hi
            "c": {"buys": [(10, 200)]},  # recency 90: R low; F low; M low → 一般挽留
            "d": {},  # never bought
        }
    )
    seg = fit_apply(RFMLayering(table="chinese"), snap)
    assert seg.segment_of("a") == "重要发展客户"
    assert seg.segment_of("b") == "一般价值客户"
    assert seg.segment_of("c") == "一般挽留客户"
    assert seg.segment_of("d") == NEVER_BOUGHT
    np.testing.assert_allclose(seg.columns()["recency_days"][:3], [10, 50, 90])
    rfm = RFMLayering(table="chinese").fit(snap)
    np.testing.assert_allclose(rfm.edges_[:, 0], [50, 2, 300])
    assert seg.names == (*CHINESE_8.segments, NEVER_BOUGHT)
    assert seg.counts()["重要价值客户"] == 0


def test_classic_table_with_business_thresholds_by_hand() -> None:
    snap = build_snapshot(
        {
            # recency 5 days → R5; 6 orders → F5; 1,200 yuan → M5: Champions
            "champ": {"buys": [(90 + d, 200) for d in range(5)] + [(95, 200)]},
            # recency 95 → R1; 6 orders → F5; 1,200 → M5: fm 5 → Can't Lose Them
            "gone": {"buys": [(0, 200)] * 1 + [(d, 200) for d in range(1, 6)]},
            # recency 3 → R5; 1 order → F1; 20 yuan → M1: fm 1 → Recent
            "new": {"buys": [(97, 20)]},
            # recency 40 → R3; 2 orders → F2; 300 → M3: fm 2.5 → Needs Attention
            "mid": {"buys": [(50, 150), (60, 150)]},
        }
    )
    rfm = RFMLayering(
        binning="fixed",
        recency_edges=[7, 30, 60, 90],
        frequency_edges=[1, 2, 3, 5],
        monetary_edges=[50, 100, 500, 1000],
    )
    seg = fit_apply(rfm, snap)
    got = {cid: seg.segment_of(cid) for cid in ("champ", "gone", "new", "mid")}
    assert got == {
        "champ": "Champions",
        "gone": "Can't Lose Them",
        "new": "Recent",
        "mid": "Needs Attention",
    }
    assert scores_of(seg).tolist() == [[5, 5, 5], [1, 5, 5], [5, 1, 1], [3, 2, 3]]
    assert "fixed business thresholds" in seg.notes


def test_never_bought_customers_score_zero_and_are_not_learned_from() -> None:
    snap = columns_snapshot([1, np.nan, 20, np.nan], [1, 0, 3, 0], [10, 0, 90, 0])
    rfm = RFMLayering().fit(snap)
    assert rfm.n_buyers_ == 2
    seg = rfm.apply(snap)
    scores = scores_of(seg)
    assert scores[1].tolist() == [0, 0, 0]
    assert scores[3].tolist() == [0, 0, 0]
    never = rfm.segment_names_.index(NEVER_BOUGHT)
    assert seg.labels.tolist()[1::2] == [never, never]
    # learned only from buyers: the monetary edges lie between 10 and 90
    assert rfm.edges_[2].min() >= 10


def test_array_scores_and_table_codes() -> None:
    # arrays: RFMScorer scores (NaN in every column: no purchase), the table names the cell
    X = np.array([[3, 5, 900.0], [40, 1, 50.0], [200, 2, 120.0], [np.nan, np.nan, np.nan]])
    scores = RFMScorer(levels=2, binning="mean").fit(X).transform(X)
    assert scores.tolist() == [[2, 2, 2], [2, 1, 1], [1, 1, 1], [0, 0, 0]]
    names = [CHINESE_8.names[c] for c in CHINESE_8.codes(scores)]
    assert names == ["重要价值客户", "一般发展客户", "一般挽留客户", NEVER_BOUGHT]
    # the same customers as a snapshot: the same scores and segments
    snap = columns_snapshot([3, 40, 200, np.nan], [5, 1, 2, 0], [900, 50, 120, 0])
    seg = fit_apply(RFMLayering(table="chinese"), snap)
    assert scores_of(seg).tolist() == scores.tolist()
    assert seg.segment_names.tolist() == names
    with pytest.raises(ValidationError, match=r"\(n, 3\)"):
        CHINESE_8.codes(np.ones((2, 2), dtype=int))
    with pytest.raises(ValidationError, match=r"\[0, 2\]"):
        CHINESE_8.codes(np.array([[3, 1, 1]]))


# ---------------------------------------------------------------------- rules and results


@pytest.mark.parametrize("table", ["classic", "chinese", None])
def test_segment_rules_reproduce_the_partition(sim_snapshot, table) -> None:
    seg = fit_apply(RFMLayering(table=table), sim_snapshot)
    assert seg.rules_on == "snapshot"
    counts = np.zeros(len(sim_snapshot), dtype=int)
    for code, segment in enumerate(seg.segments()):
        mask = segment.mask(sim_snapshot)
        np.testing.assert_array_equal(mask, seg.labels == code, err_msg=segment.name)
        counts += mask
    assert (counts == 1).all()


def test_fixed_threshold_rules_apply_to_another_snapshot(sim_snapshot) -> None:
    rfm = RFMLayering(
        binning="fixed",
        recency_edges=[14, 30, 90, 180],
        frequency_edges=[1, 2, 3, 5],
        monetary_edges=[100, 200, 500, 1000],
    ).fit(sim_snapshot)
    other = columns_snapshot([3, 20, 100, 400, np.nan], [6, 2, 1, 3, 0], [2000, 150, 50, 700, 0])
    seg = rfm.apply(other)
    for code, segment in enumerate(seg.segments()):
        np.testing.assert_array_equal(segment.mask(other), seg.labels == code)
    assert seg.segment_names.tolist() == [
        "Champions",
        "Potential Loyalist",
        "Hibernating",  # recency 100 > 90: band 4, R = 2; fm 1
        "At Risk",
        NEVER_BOUGHT,
    ]


def test_explain_names_segment_scores_and_thresholds(sim_snapshot) -> None:
    seg = fit_apply(RFMLayering(), sim_snapshot)
    cid = str(seg.members("Champions")[0])
    text = seg.explain(cid)
    assert f"customer {cid!r} is in segment 'Champions'" in text
    assert "r >= 4 and fm >= 4" in text
    assert "R recency_days: <=" in text
    assert "what fits:" in text
    i = seg.row(cid)
    assert f"r = {seg.columns()['r'][i]}" in text
    assert "rule: " in text


def test_result_exports(sim_snapshot) -> None:
    seg = fit_apply(RFMLayering(), sim_snapshot)
    records = seg.to_records()
    assert len(records) == len(sim_snapshot)
    assert set(records[0]) >= {"customer_id", "segment", "segment_code", "r", "f", "m"}
    never = [r for r in records if r["segment"] == NEVER_BOUGHT]
    assert never
    assert all(r["recency_days"] is None for r in never)
    frame = seg.to_frame()
    assert frame.index.name == "customer_id"
    assert frame["segment"].value_counts().to_dict() == {
        k: v for k, v in seg.counts().items() if v
    } | {k: 0 for k, v in seg.counts().items() if not v}
    assert sum(seg.counts().values()) == len(sim_snapshot)
    text = repr(seg)
    assert "Champions" in text
    assert "RFM, classic 11 segments" in text
    html = seg._repr_html_()
    assert "<table>" in html
    assert "Champions" in html
    sizes = seg.counts_frame()
    assert sizes["customers"].sum() == len(sim_snapshot)


def test_result_is_a_feature_source_of_its_columns(sim_snapshot) -> None:
    seg = fit_apply(RFMLayering(), sim_snapshot)
    assert (F("r") >= 4).mask(seg).sum() == int((seg.columns()["r"] >= 4).sum())
    # the rules read snapshot features, and the result holds them: they evaluate on both
    for code, segment in enumerate(seg.segments()):
        np.testing.assert_array_equal(segment.mask(seg), seg.labels == code)
    with pytest.raises(UnknownFeatureError, match="no column 'x'"):
        seg.feature("x")


# ---------------------------------------------------------------------- properties


rfm_rows = st.tuples(
    st.one_of(st.just(math.nan), st.floats(0, 400)),
    st.integers(1, 30),
    st.floats(0, 5000),
)


def rows_snapshot(rows) -> object:
    """A snapshot of ``(recency, orders, spend)`` rows; NaN recency: never bought."""
    rec = [r for r, _, _ in rows]
    bought = [r == r for r in rec]
    orders = [n if b else 0 for (_, n, _), b in zip(rows, bought, strict=True)]
    spend = [m if b else 0.0 for (_, _, m), b in zip(rows, bought, strict=True)]
    return columns_snapshot(rec, orders, spend)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(rfm_rows, min_size=1, max_size=40), seed=st.integers(0, 2**32 - 1))
def test_permuting_customers_permutes_the_result(rows, seed) -> None:
    if all(r != r for r, _, _ in rows):
        rows[0] = (1.0, *rows[0][1:])
    snap = rows_snapshot(rows)
    perm = np.random.default_rng(seed).permutation(len(snap))
    for table in ("classic", "chinese"):
        a = fit_apply(RFMLayering(table=table), snap).labels
        b = fit_apply(RFMLayering(table=table), snap.take(perm)).labels
        np.testing.assert_array_equal(a[perm], b)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(rfm_rows, min_size=1, max_size=40))
def test_every_customer_lands_in_exactly_one_segment(rows) -> None:
    if all(r != r for r, _, _ in rows):
        rows[0] = (1.0, *rows[0][1:])
    snap = rows_snapshot(rows)
    never = np.isnan(snap.recency_days)
    for table in ("classic", "chinese", None):
        rfm = RFMLayering(table=table)
        labels = fit_apply(rfm, snap).labels
        assert ((labels >= 0) & (labels < len(rfm.segment_names_))).all()
        assert (labels[never] == len(rfm.segment_names_) - 1).all()
        assert (labels[~never] != len(rfm.segment_names_) - 1).all()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(rfm_rows, min_size=1, max_size=30),
    extreme=st.tuples(
        st.sampled_from([0.0, 20_000.0]), st.sampled_from([1, 200]), st.sampled_from([0.0, 1e12])
    ),
)
def test_an_extreme_customer_moves_nobody_under_fixed_thresholds(rows, extreme) -> None:
    bigger = rows_snapshot([*rows, extreme])
    before = bigger.take(np.arange(len(rows)))
    rfm = RFMLayering(
        binning="fixed",
        recency_edges=[7, 30, 90, 180],
        frequency_edges=[1, 2, 4, 8],
        monetary_edges=[50, 200, 500, 2000],
    )
    a = fit_apply(rfm, before).labels
    b = fit_apply(rfm, bigger).labels
    np.testing.assert_array_equal(a, b[:-1])


# ---------------------------------------------------------------------- bad input


def test_empty_pool() -> None:
    empty = build_snapshot({})
    with pytest.raises(EmptyPoolError):
        RFMLayering().fit(empty)
    fitted = RFMLayering().fit(columns_snapshot([1], [1], [1]))
    seg = fitted.apply(empty)
    assert len(seg) == 0
    assert sum(seg.counts().values()) == 0


def test_pool_where_nobody_bought() -> None:
    snap = build_snapshot({"a": {}, "b": {}})
    with pytest.raises(EmptyPoolError, match="no customer has bought"):
        RFMLayering().fit(snap)
    fixed = RFMLayering(
        binning="fixed",
        recency_edges=[7, 30, 90, 180],
        frequency_edges=[1, 2, 4, 8],
        monetary_edges=[50, 200, 500, 2000],
    )
    assert fit_apply(fixed, snap).counts()[NEVER_BOUGHT] == 2


def test_one_customer() -> None:
    snap = build_snapshot({"solo": {"buys": [(99, 30)]}})
    seg = fit_apply(RFMLayering(), snap)
    # recency equals every edge: the band below it, which for recency is the best
    assert scores_of(seg)[0].tolist() == [5, 1, 1]
    assert seg.segment_of("solo") == "Recent"


def test_all_customers_identical() -> None:
    snap = columns_snapshot([10] * 6, [2] * 6, [50] * 6)
    seg = fit_apply(RFMLayering(), snap)
    assert (scores_of(seg) == [5, 1, 1]).all()
    assert len(set(seg.labels.tolist())) == 1


def test_all_zero_spend() -> None:
    snap = columns_snapshot(np.arange(1.0, 9), np.arange(1, 9), np.zeros(8))
    assert (scores_of(fit_apply(RFMLayering(), snap))[:, 2] == 1).all()


def test_infinite_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="infinity"):
        RFMScorer().fit(np.array([[1.0, np.inf, 10]]))


def test_the_scorer_checks_the_number_of_columns() -> None:
    scorer = RFMScorer().fit(np.ones((3, 3)))
    with pytest.raises(ValidationError, match="3 features"):
        scorer.transform(np.ones((3, 4)))


def test_rfm_layering_reads_snapshots() -> None:
    for call in (
        lambda: RFMLayering().fit(np.ones((3, 3))),
        lambda: RFMLayering().summarize(np.ones((3, 3))),
    ):
        with pytest.raises(ValidationError, match="takes a Snapshot"):
            call()


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        RFMScorer().transform(np.ones((2, 3)))
    snap = build_snapshot({"a": {"buys": [(1, 5)]}})
    with pytest.raises(NotFittedError):
        RFMLayering().apply(snap)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"table": "nope"}, ValidationError, "table must be"),
        ({"levels": 4}, ValidationError, "has 5 levels"),
        ({"binning": "mean"}, ValidationError, "needs levels=2"),
        ({"binning": "magic"}, ValidationError, "binning must be one of"),
        ({"binning": "fixed"}, ValidationError, "needs recency_edges"),
        (
            {
                "binning": "fixed",
                "recency_edges": [7, 30, 90],
                "frequency_edges": [1, 2, 4, 8],
                "monetary_edges": [50, 200, 500, 2000],
            },
            ValidationError,
            "recency_edges needs 4 thresholds, got 3",
        ),
        (
            {
                "binning": "fixed",
                "recency_edges": [70, 30, 90, 100],
                "frequency_edges": [1, 2, 4, 8],
                "monetary_edges": [50, 200, 500, 2000],
            },
            InvalidRuleError,
            "ascending",
        ),
    ],
)
def test_bad_parameters(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        RFMLayering(**kwargs).fit(columns_snapshot([1, 2, 3], [1, 1, 1], [1, 1, 1]))


def test_apply_takes_a_snapshot() -> None:
    rfm = RFMLayering().fit(columns_snapshot([1, 2, 3], [1, 1, 1], [1, 1, 1]))
    with pytest.raises(ValidationError, match="takes a Snapshot"):
        rfm.apply(np.ones((3, 3)))  # type: ignore[arg-type]


# ---------------------------------------------------------------------- rule tables


def test_builtin_tables_cover_the_grid_without_overlap() -> None:
    for table in (CLASSIC_11, CHINESE_8):
        assert table.gaps == ()
        assert sorted(set(table.grid.ravel().tolist())) == list(range(len(table.segments)))
    assert len(CLASSIC_11.segments) == 11
    assert len(CHINESE_8.segments) == 8
    # recency's direction: R high (2) is the recent half in every 重要/一般 "价值" class
    assert CHINESE_8.grid[1, 1, 1] == CHINESE_8.segments.index("重要价值客户")
    assert CHINESE_8.grid[0, 0, 0] == CHINESE_8.segments.index("一般挽留客户")


def test_a_table_with_overlaps_is_refused() -> None:
    with pytest.raises(InvalidRuleError, match=r"match more than one segment.*'high', 'busy'"):
        RFMTable.from_rules("bad", 3, [("high", "r >= 2"), ("busy", "f == 3"), ("rest", "r < 2")])


def test_a_table_with_gaps_reports_other() -> None:
    table = RFMTable.from_rules("gappy", 3, [("top", "r == 3 and f == 3"), ("low", "r == 1")])
    assert len(table.gaps) == 27 - 3 - 9
    assert table.names == ("top", "low", OTHER, NEVER_BOUGHT)
    snap = columns_snapshot([1, 50, 20, np.nan], [9, 1, 5, 0], [9, 1, 5, 0])
    rfm = RFMLayering(table=table)
    seg = fit_apply(rfm, snap)
    assert seg.segment_names.tolist() == ["top", "low", OTHER, NEVER_BOUGHT]
    assert rfm.segment_names_ == seg.names
    assert any("uncovered" in n for n in seg.notes)
    assert "uncovered" in repr(seg)
    for code, segment in enumerate(seg.segments()):
        np.testing.assert_array_equal(segment.mask(snap), seg.labels == code)


def test_table_conditions_may_be_rule_objects() -> None:
    table = RFMTable.from_rules(
        "objects", 2, [("recent", F("r") == 2), ("old", F("r") == 1, "win them back")]
    )
    assert table.gaps == ()
    assert table.advice == ("", "win them back")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([("x", "recency >= 2")], "conditions may read"),
        ([("x", "r >= ")], "position 5"),
        ([("x", "r >= 1"), ("x", "r < 1")], "appears twice"),
        ([(OTHER, "r >= 1")], "reserved"),
        ([], "at least one segment"),
        ([("x",)], "a table row is"),
        ([("x", 3)], "a Rule or rule text"),
    ],
)
def test_bad_tables(rows, match) -> None:
    with pytest.raises(InvalidRuleError, match=match):
        RFMTable.from_rules("bad", 2, rows)


def test_bad_table_levels() -> None:
    with pytest.raises(ValidationError, match="levels must be"):
        RFMTable.from_rules("bad", 1, [("x", "r >= 1")])


def test_cells_table_names_every_cell() -> None:
    table = RFMTable.cells(3)
    assert len(table.segments) == 27
    assert table.segments[0] == "R3F3M3"
    assert table.gaps == ()


def test_segmentation_validates_itself() -> None:
    ids = np.array(["a", "b"], dtype=object)
    rules = tuple(F("orders") >= i for i in range(2))
    with pytest.raises(ValidationError, match="labels must lie"):
        Segmentation("x", ids, np.array([0, 2]), ("p", "q"), rules)
    with pytest.raises(ValidationError, match="unique"):
        Segmentation("x", ids, np.array([0, 1]), ("p", "p"), rules)
    with pytest.raises(ValidationError, match="one rule per segment"):
        Segmentation("x", ids, np.array([0, 1]), ("p", "q"), rules[:1])
    seg = Segmentation("x", ids, np.array([0, 1]), ("p", "q"), rules)
    with pytest.raises(ValidationError, match="no segment 'z'"):
        seg.mask("z")
    assert AS_OF is not None
