"""Invariants of every layering, on random small pools (hypothesis).

- each layering partitions the pool: one segment per customer, and the segments' rules,
  evaluated on their source, reproduce the labels exactly;
- permuting the customers permutes the result;
- rules of any shape and depth, built or parsed, evaluate or raise InvalidRuleError, and a
  feature used on its own is refused unless it is boolean.
"""

from __future__ import annotations

import contextlib

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from layering_helpers import build_snapshot, pools, valid_spec

from privdomain.errors import EmptyPoolError
from privdomain.layering import (
    AttributeLayers,
    CouponHunters,
    KOCDetector,
    RFMLayering,
    TagLayering,
    ValueClusters,
    ValueTiers,
)

#: What these tests check does not depend on the warnings of learned bands (those have tests of
#: their own in test_rfm_real_data.py).
pytestmark = pytest.mark.filterwarnings("ignore::privdomain.layering.LayeringWarning")


def _strategies():
    return [
        AttributeLayers(),
        ValueTiers(),
        KOCDetector(threshold=2),
        KOCDetector(top_k=2),
        CouponHunters(min_orders=1),
        TagLayering([("vip", "tag:vip"), ("douyin", 'source in ["DOUYIN"]')]),
        RFMLayering(),
        RFMLayering(table="chinese"),
        RFMLayering(
            binning="fixed",
            recency_edges=[7, 30, 60, 90],
            frequency_edges=[1, 2, 3, 4],
            monetary_edges=[10, 50, 100, 500],
        ),
        ValueClusters(n_clusters=2, n_init=1),
    ]


def _layer(strategy, snap):
    try:
        return strategy.fit(snap).apply(snap)
    except EmptyPoolError:
        return None  # learners need buyers; nothing to partition


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=pools)
def test_each_layering_partitions_the_pool(specs) -> None:
    snap = build_snapshot({f"c{i}": valid_spec(s) for i, s in enumerate(specs)})
    for strategy in _strategies():
        seg = _layer(strategy, snap)
        if seg is None:
            assert not snap.buyers.any()
            continue
        assert len(seg) == len(snap)
        assert sum(seg.counts().values()) == len(snap)
        # rules over snapshot features evaluate on the snapshot, and on the result, which
        # holds every feature they read
        sources = (seg,) if seg.rules_on == "result" else (snap, seg)
        hits = np.zeros(len(snap), dtype=int)
        for code, segment in enumerate(seg.segments()):
            for source in sources:
                mask = segment.mask(source)
                np.testing.assert_array_equal(mask, seg.labels == code, err_msg=segment.name)
            hits += mask
        assert (hits == 1).all(), type(strategy).__name__


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=pools.filter(lambda s: len(s) >= 2), seed=st.integers(0, 2**16))
def test_permuting_customers_permutes_every_layering(specs, seed) -> None:
    named = {f"c{i}": valid_spec(s) for i, s in enumerate(specs)}
    order = np.random.default_rng(seed).permutation(len(named))
    keys = list(named)
    a = build_snapshot(named)
    b = build_snapshot({keys[i]: named[keys[i]] for i in order})
    for strategy in _strategies():
        sa, sb = _layer(strategy, a), _layer(strategy, b)
        if sa is None:
            assert sb is None
            continue
        by_id_a = dict(zip(sa.customer_ids.tolist(), sa.segment_names.tolist(), strict=True))
        by_id_b = dict(zip(sb.customer_ids.tolist(), sb.segment_names.tolist(), strict=True))
        assert by_id_a == by_id_b, type(strategy).__name__


# ---------------------------------------------------------------------- rules never crash
#
# Rules, whether built with F/&/|/~ or parsed from text, of any shape and depth, either
# evaluate to one bool per row or raise InvalidRuleError: never a numpy TypeError, never a
# RecursionError.


class _Columns:
    """A feature source of named columns, one of every kind the snapshot serves."""

    def __init__(self, columns: dict) -> None:
        self.columns = columns

    def feature(self, name: str) -> np.ndarray:
        from privdomain.errors import UnknownFeatureError

        if name not in self.columns:
            raise UnknownFeatureError(f"no feature {name!r}")
        return self.columns[name]

    def __len__(self) -> int:
        return 4


COLUMNS = _Columns(
    {
        "flag": np.array([True, False, True, False]),
        "n": np.array([0, 1, 2, 3]),
        "x": np.array([0.5, np.nan, -2.0, 1e9]),
        "city": np.array(["上海", None, "北京", "上海"], dtype=object),
        "member": np.array([True, None, False, True], dtype=object),
        "mixed": np.array([1, "XL", None, 2.5], dtype=object),
        "unset": np.array([None] * 4, dtype=object),
    }
)
NAMES = st.sampled_from(sorted(COLUMNS.columns))
NON_BOOLEAN = ["n", "x", "city", "mixed"]
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.none(),
)
leaf = st.one_of(
    st.builds(
        lambda name, op, value: (name, op, value),
        NAMES,
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        scalars,
    ),
    st.builds(lambda name, values: (name, "in", values), NAMES, st.lists(scalars, max_size=3)),
    st.builds(lambda name: (name, "isnan", None), NAMES),
    st.builds(lambda name: (name, "bare", None), NAMES),
)
trees = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.tuples(st.just("not"), children),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=0, max_size=3)),
    ),
    max_leaves=12,
)


def _build(tree):
    """A rule from a tree description; InvalidRuleError may come from any constructor."""
    from privdomain import F
    from privdomain.domain.segment import And, Compare, Not, Or

    head = tree[0]
    if head == "not":
        return Not(_build(tree[1]))
    if head in ("and", "or"):
        return (And if head == "and" else Or)([_build(t) for t in tree[1]])
    name, op, value = tree
    if op == "bare":
        return F(name).is_true()
    if op == "in":
        return F(name).isin(value)
    if op == "isnan":
        return F(name).isnan()
    return Compare(name, op, value)


def _evaluates_or_refuses(make) -> None:
    from privdomain import Segment
    from privdomain.errors import InvalidRuleError

    try:
        rule = make()
        mask = Segment("s", rule).mask(COLUMNS)
        explained = rule.explain(COLUMNS, 0)
    except InvalidRuleError:
        return
    assert mask.dtype == bool
    assert mask.shape == (4,)
    assert isinstance(explained, str)
    assert repr(rule)


@settings(max_examples=300, deadline=None)
@given(tree=trees)
def test_random_rule_trees_evaluate_or_raise_invalid_rule_error(tree) -> None:
    _evaluates_or_refuses(lambda: _build(tree))


@settings(max_examples=40, deadline=None)
@given(
    tree=trees,
    depth=st.integers(1, 3_000),
    wrappers=st.lists(st.sampled_from(["not", "and", "or"]), min_size=1, max_size=3),
)
def test_deep_rule_trees_evaluate_or_raise_invalid_rule_error(tree, depth, wrappers) -> None:
    def make():
        from privdomain import F
        from privdomain.domain.segment import And, Not, Or

        rule = _build(tree)
        for i in range(depth):
            kind = wrappers[i % len(wrappers)]
            if kind == "not":
                rule = Not(rule)
            else:
                rule = (And if kind == "and" else Or)((rule, F("flag").is_true()))
        return rule

    _evaluates_or_refuses(make)


_TOKENS = st.sampled_from(
    [*sorted(COLUMNS.columns), "and", "or", "not", "in", "is", "missing", "true", "false",
     "==", "!=", "<", "<=", ">", ">=", "(", ")", "[", "]", ",", "3", "-1.5", "1e999",
     "99999999999999999999999", '"上海"', "'x'", "=", "!", "$", "tag:vip"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(_TOKENS, max_size=25))
def test_random_rule_text_parses_and_evaluates_or_raises_invalid_rule_error(tokens) -> None:
    from privdomain.errors import InvalidRuleError, UnknownFeatureError
    from privdomain.layering import parse_rule

    text = " ".join(tokens)
    try:
        _evaluates_or_refuses(lambda: parse_rule(text))
    except UnknownFeatureError:
        assert "tag:vip" in text  # the one name the source lacks
    except InvalidRuleError:
        pass


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=40), depth=st.integers(0, 3_000))
def test_any_text_parses_or_raises_invalid_rule_error(text, depth) -> None:
    from privdomain.domain.segment import Rule
    from privdomain.errors import InvalidRuleError
    from privdomain.layering import parse_rule

    for candidate in (text, "(" * depth + text + ")" * depth, "not " * depth + "flag"):
        with contextlib.suppress(InvalidRuleError):
            assert isinstance(parse_rule(candidate), Rule)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(NON_BOOLEAN),
    literal=st.booleans(),
    negate=st.booleans(),
    op=st.sampled_from(["==", "!="]),
)
def test_a_bare_non_boolean_feature_is_always_refused(name, literal, negate, op) -> None:
    from privdomain import F
    from privdomain.errors import InvalidRuleError
    from privdomain.layering import parse_rule

    text = ("not " if negate else "") + name
    spelled = "true" if literal else "false"
    for make in (
        lambda: F(name).is_true(),
        lambda: parse_rule(text),
        lambda: parse_rule(f"{name} {op} {spelled}"),
        lambda: parse_rule(f"flag and ({text} or flag)"),
        lambda: F(name).isin([literal]),
    ):
        with pytest.raises(InvalidRuleError, match="not boolean"):
            make().mask(COLUMNS)
    with pytest.raises(InvalidRuleError, match="no order"):
        parse_rule(f"{name} >= {spelled}")
