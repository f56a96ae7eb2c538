"""Set-based Shapley: the textbook formula, efficiency, symmetry, the coalition cap."""

from __future__ import annotations

import numpy as np
import pytest
from attribution_helpers import brute_shapley, journey_sets, paths_of
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.attribution import Journeys, coalitions, shapley
from privdomain.errors import ValidationError


@settings(max_examples=60, deadline=None)
@given(journey_sets(max_channels=5), st.sampled_from(["conversions", "rate"]))
def test_equal_to_the_textbook_formula_and_efficient(journeys: Journeys, value: str) -> None:
    sets = [frozenset(p) for p in paths_of(journeys)]
    phi = brute_shapley(sets, journeys.converted.tolist(), journeys.n_channels, value)
    credit = shapley(journeys, value=value)  # type: ignore[arg-type]
    total = sum(phi)
    expected = np.array(phi) / total * journeys.conversions if total > 0 else np.zeros(len(phi))
    np.testing.assert_allclose(credit.credit, expected, atol=1e-9)
    # efficiency: the credits split the conversions (whenever anything is credited)
    if total > 0:
        assert credit.credit.sum() == pytest.approx(journeys.conversions)


def test_conversion_game_efficiency_before_scaling() -> None:
    # the additive game needs no scaling: its Shapley values already sum to the conversions
    journeys = Journeys.from_paths(
        [("a", "b"), ("b", "c", "b"), ("c",), ("a",), ()], [True, True, False, True, True]
    )
    phi = brute_shapley(
        [frozenset(p) for p in paths_of(journeys)], journeys.converted.tolist(), 3, "conversions"
    )
    assert sum(phi) == pytest.approx(journeys.conversions) == pytest.approx(3)
    np.testing.assert_allclose(shapley(journeys).credit, phi)
    assert shapley(journeys).unattributed == 1


@settings(max_examples=40, deadline=None)
@given(journey_sets(max_channels=4), st.sampled_from(["conversions", "rate"]))
def test_symmetric_channels_get_equal_credit(journeys: Journeys, value: str) -> None:
    # duplicate every journey with channels 0 and 1 swapped: the two become interchangeable
    n = journeys.n_channels
    if n < 2:
        return
    swap = np.arange(n)
    swap[[0, 1]] = [1, 0]
    both = Journeys.from_csr(
        np.concatenate([journeys.offsets, journeys.offsets[1:] + journeys.offsets[-1]]),
        np.concatenate([journeys.channel, swap[journeys.channel]]),
        np.concatenate([journeys.converted, journeys.converted]),
        channels=journeys.channel_names,
    )
    credit = shapley(both, value=value)  # type: ignore[arg-type]
    assert credit.credit[0] == pytest.approx(credit.credit[1], abs=1e-9)


def test_the_cap_keeps_the_most_recent_distinct_channels() -> None:
    journeys = Journeys.from_paths(
        [("a", "b", "c", "a", "d"), ("d", "d", "c"), ("b",)],
        [True, False, True],
        channels=["a", "b", "c", "d"],
    )
    masks = coalitions(journeys, max_coalition_size=2)
    assert masks.tolist() == [0b1001, 0b1100, 0b0010]  # {a, d}, {c, d}, {b}
    assert coalitions(journeys).tolist() == [0b1111, 0b1100, 0b0010]
    capped = shapley(journeys, max_coalition_size=2)
    np.testing.assert_allclose(capped.credit, [0.5, 1.0, 0.0, 0.5])
    assert "max_coalition_size=2" in capped.method


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"value": "share"}, "value"),
        ({"max_coalition_size": 0}, "max_coalition_size"),
        ({"max_coalition_size": 2.0}, "max_coalition_size"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    journeys = Journeys.from_paths([("a",)], [True])
    with pytest.raises(ValidationError, match=match):
        shapley(journeys, **kwargs)  # type: ignore[arg-type]


def test_rate_game_refuses_too_many_channels() -> None:
    names = [f"c{i}" for i in range(21)]
    journeys = Journeys.from_paths([("c0",)], [True], channels=names)
    with pytest.raises(ValidationError, match="at most 20"):
        shapley(journeys, value="rate")
    assert shapley(journeys).credit[0] == 1.0  # the closed form has no such limit
