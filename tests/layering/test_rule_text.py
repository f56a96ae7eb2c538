"""The rule text language: what it parses to, what it refuses, and that it never evaluates."""

from __future__ import annotations

import numpy as np
import pytest
from layering_helpers import build_snapshot

from privdomain import Channel, F, Segment, TouchKind
from privdomain.domain.segment import And, Compare, Not, Or
from privdomain.errors import InvalidRuleError, UnknownFeatureError
from privdomain.layering import parse_rule


def test_the_example_of_the_issue() -> None:
    rule = parse_rule(
        'tag:vip and (orders >= 3 or source in ["DOUYIN", "XIAOHONGSHU"]) '
        'and not attr:gender == "F"'
    )
    assert rule == And(
        (
            Compare("tag:vip", "==", True),
            Or(
                (
                    Compare("orders", ">=", 3),
                    Compare("source", "in", (Channel.DOUYIN, Channel.XIAOHONGSHU)),
                )
            ),
            Not(Compare("attr:gender", "==", "F")),
        )
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders > 2", F("orders") > 2),
        ("net_spend <= 99.5", F("net_spend") <= 99.5),
        ("net_spend != -1e3", F("net_spend") != -1000.0),
        ("recency_days is missing", F("recency_days").isnan()),
        ("recency_days IS NOT NaN", Not(F("recency_days").isnan())),
        ("has_referrer", F("has_referrer") == True),  # noqa: E712 - builds a rule
        ("has_referrer == false", F("has_referrer") == False),  # noqa: E712
        ("attr:city not in ['上海', \"北京\"]", Not(F("attr:city").isin(["上海", "北京"]))),
        ("tag:高价值", F("tag:高价值") == True),  # noqa: E712
        ("a or b and c", Or((F("a") == True, And((F("b") == True, F("c") == True))))),  # noqa: E712
        ("not not a", Not(Not(F("a") == True))),  # noqa: E712
        ("attr:note == 'it\\'s'", F("attr:note") == "it's"),
    ],
)
def test_grammar(text, expected) -> None:
    assert parse_rule(text) == expected


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("orders >=", 9),
        ("orders = 3", 7),
        ("(orders > 1", 11),
        ("orders > 1 xyz", 11),
        ("orders in 3", 10),
        ("orders in [1,]", 13),
        ("source in ['MYSPACE']", 11),
        ("orders > 1 and", 14),
        ("__import__('os').system('x')", 16),
        ("orders is 3", 10),
        ("3 > orders", 0),
        ("orders > 'x", 9),
    ],
)
def test_syntax_errors_point_at_the_position(text, position) -> None:
    with pytest.raises(InvalidRuleError, match=f"at position {position}\\b") as info:
        parse_rule(text)
    caret_line = str(info.value).splitlines()[-1]
    assert caret_line == "  " + " " * position + "^"


def test_not_a_string() -> None:
    with pytest.raises(InvalidRuleError, match="must be a str"):
        parse_rule(3)  # type: ignore[arg-type]


def test_nothing_is_evaluated(monkeypatch) -> None:
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("eval must never run")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    parse_rule("orders >= 3 and tag:vip")
    with pytest.raises(InvalidRuleError):
        parse_rule("().__class__")


def test_parsed_rules_evaluate_on_a_snapshot() -> None:
    snap = build_snapshot(
        {
            "a": {"tags": {"vip"}, "buys": [(1, 10)] * 3, "source": Channel.DOUYIN},
            "b": {"source": Channel.XIAOHONGSHU, "attributes": {"gender": "F"}},
            "c": {"touches": [(2, TouchKind.SHARED)]},
        }
    )
    rule = parse_rule(
        'tag:vip and orders >= 3 or source in ["XIAOHONGSHU"] and not attr:gender == "M"'
    )
    assert rule.mask(snap).tolist() == [True, True, False]
    assert parse_rule("count_shared >= 1").mask(snap).tolist() == [False, False, True]
    typo = Segment("typo", parse_rule("count_shard >= 1"))
    with pytest.raises(UnknownFeatureError, match="did you mean"):
        typo.mask(snap)
    np.testing.assert_array_equal(
        parse_rule("recency_days is missing").mask(snap), np.isnan(snap.recency_days)
    )


def test_a_feature_on_its_own_must_be_boolean() -> None:
    snap = build_snapshot({"a": {"tags": {"vip"}, "buys": [(1, 10)]}, "b": {}})
    assert parse_rule("tag:vip").mask(snap).tolist() == [True, False]
    assert parse_rule("buyers and not has_referrer").mask(snap).tolist() == [True, False]
    # before: "orders" meant orders == 1 and "orders >= true" meant orders >= 1
    with pytest.raises(InvalidRuleError, match="'orders' is numeric, not boolean"):
        parse_rule("orders").mask(snap)
    with pytest.raises(InvalidRuleError, match="not boolean"):
        parse_rule("tag:vip or orders == true").mask(snap)
    with pytest.raises(InvalidRuleError, match=r"true and false have no order; .* at position 10"):
        parse_rule("orders >= true")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 101 + "a" + ")" * 101,
        "(" * 10_000 + "a" + ")" * 10_000,
        "not " * 101 + "a",
        "not " * 10_000 + "a",
        "(a and (b or " * 400 + "c" + "))" * 400,
        "not (" * 3_000 + "a" + ")" * 3_000,
    ],
    ids=["101 parens", "10000 parens", "101 nots", "10000 nots", "and-or 800", "not-paren 6000"],
)
def test_deep_text_is_refused_with_a_position(text: str) -> None:
    # before: RecursionError
    with pytest.raises(InvalidRuleError, match=r"levels .* at position \d+") as info:
        parse_rule(text)
    shown = str(info.value).splitlines()
    assert len(shown[1]) < 200  # a long rule is shown around the error, not in full


def test_the_deepest_allowed_text_parses() -> None:
    rule = parse_rule("(" * 100 + "tag:vip" + ")" * 100)
    assert rule == parse_rule("tag:vip")
    assert parse_rule("not " * 99 + "tag:vip").depth == 100
    long = " or ".join(f"orders == {i}" for i in range(20_000))
    assert len(parse_rule(long).rules) == 20_000  # wide is fine: only depth is capped


def test_a_value_that_cannot_be_held_points_at_its_comparison() -> None:
    with pytest.raises(InvalidRuleError, match="64 bits at position 12"):
        parse_rule("tag:vip and n == 123456789012345678901234567890")
