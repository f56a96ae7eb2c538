"""Segments: named rules over snapshot features, composed with & | ~, that explain themselves."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from typing import Any

import numpy as np
import pytest
from helpers import at, customer, new_pool, purchase

from privdomain import Channel, F, Segment, Snapshot
from privdomain.domain.segment import (
    MAX_RULE_DEPTH,
    All,
    And,
    Compare,
    Not,
    Or,
    Rule,
)
from privdomain.errors import (
    InvalidRuleError,
    NaiveDatetimeError,
    UnknownFeatureError,
    ValidationError,
)

IDS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    """Four customers as of day 60.

    ====  ======  =======  =========  ==========  ====  ======
    id    orders  recency  source     tags        age   region
    ====  ======  =======  =========  ==========  ====  ======
    a     3       2        Douyin     vip         35    华东
    b     1       50       Taobao                 22
    c     0       NaN      referral   vip, kol
    d     5       55       Douyin                 50    华南
    ====  ======  =======  =========  ==========  ====  ======
    """
    pool = new_pool()
    report = pool.ingest(
        [
            customer("a", source=Channel.DOUYIN, tags={"vip"},
                     attributes={"age": 35, "region": "华东"}),
            customer("b", source=Channel.TAOBAO, attributes={"age": 22}),
            customer("c", source=Channel.REFERRAL, tags={"vip", "kol"}, referrer_id="a"),
            customer("d", source=Channel.DOUYIN, attributes={"age": 50, "region": "华南"}),
            *(purchase(f"a{d}", "a", at(d), "10.00") for d in (50, 55, 58)),
            purchase("b1", "b", at(10), "99.00"),
            *(purchase(f"d{d}", "d", at(d), "1.00") for d in range(1, 6)),
        ]
    )  # fmt: skip
    assert report.ok
    return pool.snapshot(at(60))


def members(rule: Rule | Segment, snap: Snapshot) -> list[str]:
    mask = rule.mask(snap)
    assert mask.dtype == bool
    assert mask.shape == (len(snap),)
    return [cid for cid, inside in zip(snap.customer_ids, mask, strict=True) if inside]


def test_the_fixture_is_what_its_table_says(snap: Snapshot) -> None:
    assert snap.customer_ids.tolist() == IDS
    assert snap.orders.tolist() == [3, 1, 0, 5]
    assert snap.recency_days[[0, 1, 3]].tolist() == [2.0, 50.0, 55.0]


class TestComparisons:
    @pytest.mark.parametrize(
        ("rule", "expected"),
        [
            (F("orders") >= 3, ["a", "d"]),
            (F("orders") > 3, ["d"]),
            (F("orders") == 1, ["b"]),
            (F("orders") != 1, ["a", "c", "d"]),
            (F("orders") < 1, ["c"]),
            (F("orders") <= 1, ["b", "c"]),
            (F("orders").between(1, 3), ["a", "b"]),
            (F("gross_spend") > 50, ["b"]),
            (F("referrals") >= 1, ["a"]),
            (F("has_referrer").is_true(), ["c"]),
        ],
        ids=repr,
    )
    def test_masks(self, snap: Snapshot, rule: Rule, expected: list[str]) -> None:
        assert members(rule, snap) == expected

    def test_missing_values_compare_false_either_way(self, snap: Snapshot) -> None:
        # c never bought: it is neither recent nor lapsed, it is something else
        assert members(F("recency_days") <= 30, snap) == ["a"]
        assert members(F("recency_days") > 30, snap) == ["b", "d"]
        assert members(F("recency_days") == 2, snap) == ["a"]
        assert members(F("recency_days").isnan(), snap) == ["c"]

    def test_negating_a_rule_includes_the_missing(self, snap: Snapshot) -> None:
        assert members(~(F("recency_days") <= 30), snap) == ["b", "c", "d"]

    def test_not_equal_is_false_for_missing_values(self, snap: Snapshot) -> None:
        assert members(F("recency_days") != 2, snap) == ["b", "d"]


class TestSourcesTagsAttributes:
    def test_source_compares_with_channel_members(self, snap: Snapshot) -> None:
        assert members(F("source") == Channel.TAOBAO, snap) == ["b"]
        assert members(F("source").isin([Channel.DOUYIN, Channel.REFERRAL]), snap) == [
            "a",
            "c",
            "d",
        ]
        assert members(F("source").isin([Channel.JD]), snap) == []

    def test_tags(self, snap: Snapshot) -> None:
        assert members(F("tag:vip").is_true(), snap) == ["a", "c"]
        assert members(F("tag:vip").is_true() & F("tag:kol").is_true(), snap) == ["c"]
        # a tag nobody carries is simply false for everyone
        assert members(F("tag:whale").is_true(), snap) == []

    def test_numeric_attributes_are_floats_with_nan_where_unset(self, snap: Snapshot) -> None:
        age = snap.feature("attr:age")
        assert age.dtype == np.float64
        assert age[[0, 1, 3]].tolist() == [35.0, 22.0, 50.0]
        assert np.isnan(age[2])
        assert members(F("attr:age") > 30, snap) == ["a", "d"]
        assert members(F("attr:age") <= 30, snap) == ["b"]
        assert members(F("attr:age").isnan(), snap) == ["c"]

    def test_text_attributes(self, snap: Snapshot) -> None:
        assert members(F("attr:region") == "华东", snap) == ["a"]
        assert members(F("attr:region").isin(["华东", "华南"]), snap) == ["a", "d"]
        assert members(F("attr:region").isnan(), snap) == ["b", "c"]

    def test_ordering_text_against_a_number_is_a_rule_error(self, snap: Snapshot) -> None:
        with pytest.raises(InvalidRuleError, match="attr:region"):
            (F("attr:region") > 3).mask(snap)


class TestComposition:
    def test_and_or_not(self, snap: Snapshot) -> None:
        frequent = F("orders") >= 3
        recent = F("recency_days") <= 30
        assert members(frequent & recent, snap) == ["a"]
        assert members(frequent & ~recent, snap) == ["d"]
        assert members(frequent | recent, snap) == ["a", "d"]
        assert members(~frequent | F("tag:kol").is_true(), snap) == ["b", "c"]
        assert members(frequent & recent & F("tag:vip").is_true(), snap) == ["a"]

    def test_double_negation_is_the_rule(self) -> None:
        rule = F("orders") >= 3
        assert ~~rule == rule

    def test_all_is_everyone(self, snap: Snapshot) -> None:
        assert members(All(), snap) == IDS
        assert members(All() & (F("orders") >= 3), snap) == ["a", "d"]

    def test_segments_compose_and_are_named_after_their_parts(self, snap: Snapshot) -> None:
        loyal = Segment("loyal", (F("orders") >= 3) & (F("recency_days") <= 30))
        vip = Segment("vip", F("tag:vip").is_true())
        assert (loyal & vip).name == "loyal & vip"
        assert (loyal | vip).name == "loyal | vip"
        assert (~loyal).name == "not loyal"
        assert members(loyal & vip, snap) == ["a"]
        assert members(loyal | vip, snap) == ["a", "c"]
        assert members(~loyal, snap) == ["b", "c", "d"]

    def test_a_rule_combines_with_a_segment(self, snap: Snapshot) -> None:
        vip = Segment("vip", F("tag:vip").is_true())
        assert members((F("orders") >= 1) & vip, snap) == ["a"]  # type: ignore[operator]

    @pytest.mark.parametrize("other", [5, "orders >= 3", None])
    def test_a_rule_combines_only_with_rules(self, other: object) -> None:
        with pytest.raises(InvalidRuleError):
            (F("orders") >= 3) & other  # type: ignore[operator]
        with pytest.raises(InvalidRuleError):
            (F("orders") >= 3) | other  # type: ignore[operator]

    def test_features_are_not_hashable(self) -> None:
        # == builds a rule, so a feature in a set or dict key would be a silent mistake
        with pytest.raises(TypeError):
            hash(F("orders"))

    def test_rules_know_the_features_they_read(self) -> None:
        rule = ((F("orders") >= 3) & ~F("tag:vip").is_true()) | F("attr:age").isnan()
        assert rule.features() == {"orders", "tag:vip", "attr:age"}

    def test_rules_read_back_as_code(self) -> None:
        rule = (F("orders") >= 3) & ~F("source").isin([Channel.DOUYIN])
        assert repr(rule) == "((F('orders') >= 3) & ~F('source').isin([14]))"


class TestSegments:
    def test_members_and_count(self, snap: Snapshot) -> None:
        buyers = Segment("buyers", F("orders") >= 1, description="bought at least once")
        assert buyers.members(snap).tolist() == ["a", "b", "d"]
        assert buyers.count(snap) == 3
        assert buyers.description == "bought at least once"

    def test_an_unknown_feature_is_an_error_with_a_hint(self, snap: Snapshot) -> None:
        typo = Segment("typo", (F("tag:vip").is_true()) | (F("recensy_days") <= 30))
        with pytest.raises(UnknownFeatureError, match=r"recensy_days.*did you mean.*recency_days"):
            typo.mask(snap)
        with pytest.raises(KeyError):
            Segment("typo", F("order") >= 1).count(snap)
        with pytest.raises(UnknownFeatureError, match="touches_wecom"):
            snap.feature("touches_weecom")

    def test_a_segment_needs_a_name_and_a_rule(self) -> None:
        with pytest.raises(InvalidRuleError, match="a segment name must be a str"):
            Segment(42, F("orders") >= 1)  # type: ignore[arg-type]
        with pytest.raises(InvalidRuleError, match="parse_rule"):
            Segment("loyal", "orders >= 3")  # type: ignore[arg-type]

    def test_explain_gives_the_numbers(self, snap: Snapshot) -> None:
        loyal = Segment("loyal", (F("orders") >= 3) & (F("recency_days") <= 30))
        assert loyal.explain(snap, 0) == (
            "loyal: (orders=3 >= 3: yes and recency_days=2 <= 30: yes)"
        )
        assert loyal.explain(snap, 3) == (
            "loyal: (orders=5 >= 3: yes and recency_days=55 <= 30: no)"
        )
        text = loyal.explain(snap, 2)
        assert "orders=0 >= 3: no" in text
        assert "recency_days=nan" in text

    def test_explain_negations_tags_and_attributes(self, snap: Snapshot) -> None:
        rule = ~F("tag:vip").is_true() | (F("attr:age") > 30)
        text = Segment("s", rule).explain(snap, 1)
        assert "not tag:vip=False == True: no" in text
        assert "attr:age=22 > 30: no" in text

    def test_an_empty_snapshot_gives_an_empty_mask(self) -> None:
        pool = new_pool()
        pool.ingest([customer("late", at(10), tags={"vip"})])
        empty = pool.snapshot(at(0))
        segment = Segment("s", (F("orders") >= 1) | F("tag:vip").is_true() | (F("attr:x") == 1))
        assert segment.mask(empty).shape == (0,)
        assert segment.count(empty) == 0

    def test_segments_work_on_any_feature_source(self) -> None:
        class Table:
            def __init__(self, **columns: Any) -> None:
                self.columns = {k: np.asarray(v) for k, v in columns.items()}

            def feature(self, name: str) -> Any:
                try:
                    return self.columns[name]
                except KeyError:
                    raise UnknownFeatureError(name) from None

            def __len__(self) -> int:
                return len(next(iter(self.columns.values())))

        table = Table(orders=[0, 2, 5], score=[0.1, np.nan, 0.9])
        assert Segment("s", (F("orders") >= 2) & (F("score") > 0.5)).mask(table).tolist() == [
            False,
            False,
            True,
        ]


class Table:
    """A small feature source: named columns of equal length."""

    def __init__(self, **columns: Any) -> None:
        self.columns = {k: np.asarray(v) for k, v in columns.items()}

    def feature(self, name: str) -> Any:
        try:
            return self.columns[name]
        except KeyError:
            raise UnknownFeatureError(name) from None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


def attribute_table() -> Table:
    """Object columns as the snapshot gives text and boolean attributes (None where unset)."""
    return Table(
        member=np.array([True, False, None], dtype=object),
        region=np.array(["华东", None, "华南"], dtype=object),
        mixed=np.array([1, "XL", None], dtype=object),
        unset=np.array([None, None, None], dtype=object),
        orders=np.array([0, 1, 2]),
    )


class TestTypesAreNeverMixed:
    """A comparison whose value does not fit the feature is refused, never silently misread."""

    def test_a_numeric_feature_is_not_a_boolean(self, snap: Snapshot) -> None:
        # before: is_true() meant orders == 1 and selected customer b
        with pytest.raises(InvalidRuleError, match="'orders' is numeric, not boolean"):
            F("orders").is_true().mask(snap)
        with pytest.raises(InvalidRuleError, match="not boolean"):
            (F("recency_days") == False).mask(snap)  # noqa: E712 - builds a rule
        with pytest.raises(InvalidRuleError, match="not boolean"):
            F("orders").isin([True]).mask(snap)

    def test_a_boolean_feature_compares_only_with_booleans(self, snap: Snapshot) -> None:
        assert members(F("tag:vip") == True, snap) == ["a", "c"]  # noqa: E712
        assert members(F("tag:vip") != True, snap) == ["b", "d"]  # noqa: E712
        with pytest.raises(InvalidRuleError, match="'tag:vip' is boolean: compare it with true"):
            (F("tag:vip") == 1).mask(snap)
        with pytest.raises(InvalidRuleError, match="has no order"):
            (F("has_referrer") >= False).mask(snap)

    def test_text_never_compares_with_numbers(self, snap: Snapshot) -> None:
        # before: orders == "3" was silently false for everyone
        with pytest.raises(InvalidRuleError, match="'orders' is numeric: compare it with a number"):
            (F("orders") == "3").mask(snap)
        with pytest.raises(InvalidRuleError, match=r"Channel\.DOUYIN"):
            (F("source") == "DOUYIN").mask(snap)
        with pytest.raises(InvalidRuleError, match="'attr:region' is text"):
            (F("attr:region") == 3).mask(snap)

    def test_membership_lists_must_fit_the_feature(self, snap: Snapshot) -> None:
        # before: numpy's ValueError (invalid literal for int) escaped
        with pytest.raises(InvalidRuleError, match="compare it with a number, not 'a'"):
            F("orders").isin(["a", "b"]).mask(snap)
        with pytest.raises(InvalidRuleError):
            F("attr:region").isin([1, 2]).mask(snap)

    def test_membership_keeps_fractions(self, snap: Snapshot) -> None:
        # before: the list took the column's integer type, and 1.5 became 1
        assert members(F("orders").isin([1.5]), snap) == []
        assert members(F("orders").isin([1, 5.0]), snap) == ["b", "d"]
        assert members(F("attr:age").isin([35, 50]), snap) == ["a", "d"]

    def test_object_columns(self) -> None:
        table = attribute_table()
        assert F("member").is_true().mask(table).tolist() == [True, False, False]
        assert (F("member") != True).mask(table).tolist() == [False, True, False]  # noqa: E712
        assert (F("region") > "华").mask(table).tolist() == [True, False, True]
        assert (F("region") != "华东").mask(table).tolist() == [False, False, True]
        assert F("region").isin(["华南"]).mask(table).tolist() == [False, False, True]
        assert (F("mixed") == "XL").mask(table).tolist() == [False, True, False]
        assert F("unset").is_true().mask(table).tolist() == [False] * 3
        with pytest.raises(InvalidRuleError, match="'region' is text, not boolean"):
            F("region").is_true().mask(table)
        with pytest.raises(InvalidRuleError, match="'mixed' is of mixed types, not boolean"):
            F("mixed").is_true().mask(table)
        with pytest.raises(InvalidRuleError, match="'member' is boolean"):
            (F("member") == 1).mask(table)
        with pytest.raises(InvalidRuleError, match="cannot compare feature 'mixed'"):
            (F("mixed") > 0).mask(table)

    @pytest.mark.parametrize(
        ("build", "match"),
        [
            (lambda: F("recency_days") == None, "isnan"),  # noqa: E711
            (lambda: F("recency_days") <= float("nan"), "NaN"),
            (lambda: F("orders") == [1, 2], "isin"),
            (lambda: F("orders") == {1: 2}, "a value is a bool, a number"),
            (lambda: F("orders") == 10**30, "64 bits"),
            (lambda: F("orders") >= 10**5000, "64 bits"),
            (lambda: F("orders").isin("abc"), "a list of values, not str"),
            (lambda: F("orders").isin(3), "a list of values"),
            (lambda: F("orders").isin([None]), "isnan"),
            (lambda: F("orders").between(5, 1), "low bound exceeds"),
            (lambda: F("orders").between(1, "x"), "bounds of one type"),
            (lambda: Compare("orders", "=>", 1), "op must be one of"),
            (lambda: Compare("orders", "isnan", 3), "isnan takes no value"),
            (lambda: Compare("orders", "in", 3), "needs a list"),
            (lambda: F(123), "a feature name must be a str, not int"),
            (lambda: F(""), "must not be empty"),
            (lambda: And([F("orders") >= 1, "tag:vip"]), "must be a Rule"),
            (lambda: And(5), "a sequence of rules"),
            (lambda: Or("orders"), "a sequence of rules"),
            (lambda: Not("orders >= 1"), "must be a Rule"),
            (lambda: (F("orders") >= 1) & 5, "cannot combine"),
            (lambda: Segment("", F("orders") >= 1), "must not be empty"),
            (lambda: Segment("s", F("orders") >= 1, description=5), "description must be a str"),
        ],
        ids=lambda v: v if isinstance(v, str) else "",
    )
    def test_bad_rules_are_refused_when_built(self, build: Any, match: str) -> None:
        with pytest.raises(InvalidRuleError, match=match) as info:
            build()
        assert type(info.value) is InvalidRuleError

    def test_times(self) -> None:
        day = np.datetime64("2026-01-02", "us")
        table = Table(last=np.array([day, np.datetime64("NaT", "us"), day + 86_400_000_000]))
        since = dt.datetime(2026, 1, 2, 20, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert (F("last") > since).mask(table).tolist() == [False, False, True]
        with pytest.raises(NaiveDatetimeError):
            Compare("last", ">", dt.datetime(2026, 1, 2))
        assert (F("last") != np.datetime64("2026-01-02")).mask(table).tolist() == [
            False,
            False,
            True,
        ]
        assert F("last").isnan().mask(table).tolist() == [False, True, False]
        with pytest.raises(InvalidRuleError, match="'last' is a time"):
            (F("last") > 3).mask(table)


def _chain(depth: int, kind: str) -> Rule:
    rule: Rule = F("orders") >= 1
    for i in range(depth - 1):
        join = And if i % 2 else Or
        rule = Not(rule) if kind == "not" else join((rule, F("orders") < i))
    return rule


class TestDeepRules:
    """No rule can raise RecursionError: nesting is capped when a rule is built."""

    @pytest.mark.parametrize("kind", ["not", "and-or"])
    @pytest.mark.parametrize("depth", [MAX_RULE_DEPTH + 1, 500, 5_000])
    def test_too_deep_is_refused_when_built(self, kind: str, depth: int) -> None:
        with pytest.raises(InvalidRuleError, match=f"at most {MAX_RULE_DEPTH}"):
            _chain(depth, kind)

    @pytest.mark.parametrize("kind", ["not", "and-or"])
    def test_the_deepest_allowed_rule_works_everywhere(self, snap: Snapshot, kind: str) -> None:
        rule = _chain(MAX_RULE_DEPTH, kind)
        assert rule.depth == MAX_RULE_DEPTH
        mask = Segment("deep", rule).mask(snap)
        assert mask.shape == (len(snap),)
        assert rule.explain(snap, 0)
        assert rule.features() == {"orders"}
        assert rule == _chain(MAX_RULE_DEPTH, kind)
        assert hash(rule) == hash(_chain(MAX_RULE_DEPTH, kind))
        assert repr(rule)
        assert pickle.loads(pickle.dumps(rule)) == rule
        assert copy.deepcopy(rule) is rule  # rules are immutable

    def test_chains_built_by_operators_stay_flat(self, snap: Snapshot) -> None:
        rule: Rule = F("orders") >= 0
        other: Rule = F("orders") >= 0
        for i in range(5_000):
            rule = (F("orders") != i + 10) & rule
            other = other | (F("orders") == i + 10)
        assert rule.depth == 2
        assert other.depth == 2
        assert members(rule, snap) == IDS
        assert members(~(rule | (F("orders") > 99)), snap) == []


class TestSourcesAndRows:
    def test_a_source_must_be_a_feature_source(self) -> None:
        segment = Segment("s", F("orders") >= 1)
        for bad in (None, 5, {"orders": [1]}):
            with pytest.raises(ValidationError, match="feature source") as info:
                segment.mask(bad)  # type: ignore[arg-type]
            assert type(info.value) is ValidationError
        with pytest.raises(ValidationError, match="needs a Snapshot"):
            segment.members(Table(orders=[1]))
        for rule in (F("orders") >= 1, All(), ~(F("orders") >= 1), (F("x") > 1) | (F("y") > 1)):
            with pytest.raises(ValidationError, match="feature source"):
                rule.mask(None)  # type: ignore[arg-type]
            with pytest.raises(ValidationError, match="feature source"):
                rule.explain([1, 2], 0)  # type: ignore[arg-type]

    def test_a_feature_is_one_value_per_row(self) -> None:
        table = Table(orders=np.ones((3, 2)), other=[1, 2, 3])
        with pytest.raises(ValidationError, match="one value per row"):
            (F("orders") >= 1).mask(table)

    @pytest.mark.parametrize("row", [4, -1, 1.0, "0", True, None])
    def test_explain_needs_a_row_of_the_source(self, snap: Snapshot, row: Any) -> None:
        segment = Segment("s", (F("orders") >= 1) & F("tag:vip").is_true())
        with pytest.raises(ValidationError, match="row") as info:
            segment.explain(snap, row)
        assert type(info.value) is ValidationError
        with pytest.raises(ValidationError, match="row"):
            segment.rule.explain(snap, row)
        with pytest.raises(ValidationError, match="row"):
            All().explain(snap, row)
