"""Rule-based attribution: hand-computed cases, and credits that split the conversions."""

from __future__ import annotations

import numpy as np
import pytest
from attribution_helpers import journey_sets
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.attribution import (
    Journeys,
    first_touch,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from privdomain.errors import ValidationError

PATHS = [("a", "b", "c", "b"), ("c",), ("a", "c"), ("b", "b")]
CONVERTED = [True, True, True, False]


def _journeys() -> Journeys:
    offsets = [0, 4, 5, 7, 9]
    codes = [0, 1, 2, 1, 2, 0, 2, 1, 1]
    ages = [21.0, 14.0, 7.0, 0.0, 3.0, 7.0, 0.0, 1.0, 0.0]
    return Journeys.from_csr(offsets, codes, CONVERTED, channels=["a", "b", "c"], age=ages)


def test_hand_computed_credits() -> None:
    j = _journeys()
    assert first_touch(j).as_dict() == {"a": 2.0, "b": 0.0, "c": 1.0}
    assert last_touch(j).as_dict() == {"a": 0.0, "b": 1.0, "c": 2.0}
    np.testing.assert_allclose(linear(j).credit, [0.25 + 0.5, 0.5, 0.25 + 1 + 0.5])
    # 40/20/40: (a .4, b .1, c .1, b .4), (c 1), (a .5, c .5)
    np.testing.assert_allclose(position_based(j).credit, [0.9, 0.5, 1.6])
    np.testing.assert_allclose(
        position_based(j, first=0.3, last=0.1).credit, [0.3 + 0.75, 0.3 + 0.1, 0.3 + 1 + 0.25]
    )
    # half-life 7 days: weights 1/8, 1/4, 1/2, 1 over 15/8
    w = np.array([1, 2, 4, 8]) / 15
    np.testing.assert_allclose(time_decay(j).credit, [w[0] + 1 / 3, w[1] + w[3], w[2] + 1 + 2 / 3])


@settings(max_examples=60, deadline=None)
@given(journey_sets(), st.floats(0.1, 100), st.floats(0, 0.5), st.floats(0, 0.5))
def test_every_rule_splits_the_conversions(
    journeys: Journeys, half_life: float, first: float, last: float
) -> None:
    for credit in (
        first_touch(journeys),
        last_touch(journeys),
        linear(journeys),
        time_decay(journeys, half_life_days=half_life),
        position_based(journeys, first=first, last=last),
    ):
        assert credit.credit.sum() == pytest.approx(journeys.conversions)
        assert (credit.credit >= 0).all()
        assert credit.conversions + credit.unattributed == int(journeys.converted.sum())


def test_tiny_end_shares_split_two_touches_without_overflow() -> None:
    j = Journeys.from_paths([("a", "b"), ("a", "b", "a")], [True, True])
    credit = position_based(j, first=0.0, last=5e-324)
    np.testing.assert_allclose(credit.credit, [0.0, 2.0], atol=1e-300)  # b: one end, one middle


def test_old_journeys_do_not_underflow() -> None:
    j = Journeys.from_csr([0, 2], [0, 1], [True], channels=["a", "b"], age=[1e6, 1e6 - 1])
    np.testing.assert_allclose(time_decay(j, half_life_days=1).credit, [1 / 3, 2 / 3])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda j: time_decay(j, half_life_days=0), "half_life_days"),
        (lambda j: time_decay(j, half_life_days=float("inf")), "half_life_days"),
        (lambda j: position_based(j, first=0.7, last=0.7), "first \\+ last"),
        (lambda j: position_based(j, first=-0.1), "first"),
        (lambda j: linear([1, 2]), "Journeys"),
    ],
)
def test_bad_arguments(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=match):
        call(_journeys())


def test_no_journeys() -> None:
    empty = Journeys.from_csr([0], [], [], channels=["a"])
    with pytest.raises(ValidationError, match="no journeys"):
        linear(empty)


def test_result_reads_and_explains() -> None:
    credit = linear(_journeys())
    assert credit["c"] == pytest.approx(1.75)
    assert credit.ranking() == ("c", "a", "b")
    assert credit.to_records()[0] == {"channel": "a", "credit": 0.75, "share": 0.25}
    assert credit.explain("c") == "c: 1.75 of 3 conversions (58.33% of the credit) by linear"
    assert "<table>" in credit._repr_html_()
    frame = credit.to_frame()
    assert frame["channel"].tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(frame["share"].sum(), 1.0)
    assert "c=1.75" in repr(credit)
    with pytest.raises(ValidationError, match="unknown channel"):
        credit.explain("zzz")
