"""Bad input, one table per public entry point: each is a clear privdomain error.

Outcomes that are not errors (customers with one purchase, identical timestamps, BG/NBD's
one-time buyers, stored customers unknown now with ``unknown_customers="ignore"``) are
reported and explained; their tests sit with the features they belong to.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from lifecycle_helpers import AS_OF, build_pool

from privdomain.errors import (
    EmptyPoolError,
    NotFittedError,
    PrivdomainError,
    UnknownCustomerError,
    ValidationError,
)
from privdomain.lifecycle import (
    CadenceLadder,
    Edge,
    Lifecycle,
    LifecycleStages,
    MilestoneLadder,
    PAliveLadder,
    RelationshipLadder,
    StageMachine,
    transitions,
)
from privdomain.value import BetaGeo

MODEL = BetaGeo.from_params(r=0.5, alpha=20, a=0.8, b=2)
BANDS = {"active": (0, 1), "silent": (1, 2), "sleeping": (2, 4), "lost": (4, math.inf)}


def refused(call: Callable[[], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        call()
    assert isinstance(info.value, PrivdomainError)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ((2, 1, 4), "strictly increasing"),
        ((1, 2), "needs 3 cut points"),
        ((0, 1, 2), r"inside \(0, inf\)"),
        ((1, 2, math.inf), "inside"),
        ((1, 2, math.nan), "must be a number"),
        ("1,2,4", "three cut points or a mapping"),
        ((1, True, 3), "must be a number"),
        ({**BANDS, "silent": (1.5, 2)}, "gap between 'active' and 'silent'"),
        ({**BANDS, "silent": (0.5, 2)}, "'active' and 'silent' overlap"),
        ({**BANDS, "active": (0.5, 1)}, r"nothing covers \[0, 0.5\)"),
        ({**BANDS, "lost": (4, 10)}, "nothing covers"),
        ({k: v for k, v in BANDS.items() if k != "lost"}, "missing"),
        ({**BANDS, "dormant": (9, 10)}, "unknown stages"),
        ({**BANDS, "silent": (2, 1)}, "empty"),
        ({**BANDS, "silent": (1,)}, r"must be \(low, high\)"),
    ],
)
def test_cadence_ladder(thresholds: Any, message: str) -> None:
    refused(lambda: CadenceLadder(thresholds), ValidationError, message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": object()}, "fitted repeat-purchase model"),
        ({"model": MODEL, "time_unit": "days"}, "time_unit must be one of"),
        ({"model": MODEL, "thresholds": (0.2, 0.35, 0.6)}, "strictly decreasing"),
        ({"model": MODEL, "thresholds": (1.2, 0.35, 0.2)}, r"inside \(0, 1\)"),
        (
            {
                "model": MODEL,
                "thresholds": {
                    "active": (0.6, 1),
                    "silent": (0.3, 0.65),
                    "sleeping": (0.2, 0.3),
                    "lost": (0, 0.2),
                },
            },
            "overlap",
        ),
    ],
)
def test_p_alive_ladder(kwargs: dict[str, Any], message: str) -> None:
    refused(lambda: PAliveLadder(**kwargs), ValidationError, message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mature_purchases": 1}, "mature_purchases must be an int >= 2"),
        ({"mature_purchases": True}, "mature_purchases"),
        ({"mature_purchases": 2.5}, "mature_purchases"),
        ({"mature_days": -1}, "mature_days must be a finite number >= 0"),
        ({"window_days": 0}, "window_days must be a finite number > 0"),
        ({"window_days": math.inf}, "window_days"),
        ({"decline_ratio": 1.5}, r"decline_ratio must lie in \(0, 1\)"),
        ({"min_expected": 0}, "min_expected"),
        ({"churn_days": -5}, "churn_days must be a finite number > 0"),
        ({"churn_days": "30"}, "churn_days"),
    ],
)
def test_relationship_ladder(kwargs: dict[str, Any], message: str) -> None:
    refused(lambda: RelationshipLadder(**kwargs), ValidationError, message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"milestones": ()}, "non-empty"),
        ({"milestones": (3, 1)}, "strictly increasing"),
        ({"milestones": (0, 1)}, "ints >= 1"),
        ({"milestones": ("1",)}, "ints >= 1"),
        ({"milestones": 5}, "non-empty sequence"),
        ({"usual_quantile": 1.0}, r"usual_quantile must lie in \(0, 1\)"),
    ],
)
def test_milestone_ladder(kwargs: dict[str, Any], message: str) -> None:
    refused(lambda: MilestoneLadder(**kwargs), ValidationError, message)


@pytest.fixture(scope="module")
def small() -> Any:
    spec = {f"r{i}": {"buys": [i, i + 10, i + 20]} for i in range(10)}
    return build_pool({**spec, "once": {"buys": [50]}, "none": {}}).snapshot(AS_OF)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: Lifecycle(post_purchase="cadence").fit(s), ValidationError, "CadenceLadder"),
        (lambda s: Lifecycle(relationship=5).fit(s), ValidationError, "RelationshipLadder"),
        (lambda s: Lifecycle(milestones=(1, 3)).fit(s), ValidationError, "MilestoneLadder"),
        (lambda s: Lifecycle().fit(s.to_records()), ValidationError, "takes a Snapshot"),
        (lambda s: Lifecycle().fit(s).apply("snapshot"), ValidationError, "takes a Snapshot"),
        (lambda s: Lifecycle().apply(s), NotFittedError, "not fitted"),
        (lambda s: Lifecycle().fit_summary({"n": 1}), ValidationError, "LifecycleSummary"),
        (
            lambda s: Lifecycle().fit(s.take(s.purchase_days <= 1)),
            EmptyPoolError,
            "no customer bought on two different days",
        ),
        (
            lambda s: Lifecycle(PAliveLadder(MODEL, time_unit="M")).fit(s),
            ValidationError,
            "does not look fitted in time_unit='M'",
        ),
    ],
)
def test_lifecycle(small: Any, call: Any, error: type[Exception], message: str) -> None:
    refused(lambda: call(small), error, message)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda st: st.ladder("progression"), ValidationError, "no ladder"),
        (lambda st: st.row("nobody"), UnknownCustomerError, "'nobody' is not among"),
        (lambda st: st.take([0, 0]), ValidationError, "must not repeat"),
        (lambda st: st.take(np.ones(3, dtype=bool)), ValidationError, "one entry per row"),
        (lambda st: st.take("all"), ValidationError, "rows must be"),
        (lambda st: LifecycleStages.concat([]), ValidationError, "at least one"),
        (lambda st: LifecycleStages.concat([st, "more"]), ValidationError, "only those"),
        (lambda st: st.record(object()), ValidationError, "StageStore"),
        (lambda st: st.stage_keys(("relationship", "relationship")), ValidationError, "distinct"),
        (lambda st: st.stage_keys("age"), ValidationError, "ladders must be"),
    ],
)
def test_lifecycle_stages(small: Any, call: Any, error: type[Exception], message: str) -> None:
    stages = Lifecycle().fit_apply(small)
    refused(lambda: call(stages), error, message)


def test_concat_of_other_instants() -> None:
    pool = build_pool({f"r{i}": {"buys": [i, i + 10, i + 20]} for i in range(4)})
    now = pool.snapshot(AS_OF)
    model = Lifecycle().fit(now)
    earlier = pool.snapshot(AS_OF - dt.timedelta(days=1))
    refused(
        lambda: LifecycleStages.concat(
            [model.apply(now.take([0])), model.apply(earlier.take([1]))]
        ),
        ValidationError,
        "one tenant as of one instant",
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: StageMachine("lifetime", ("a", "b"), []), "no ladder 'lifetime'"),
        (lambda: StageMachine("post_purchase", ("active", "lost"), []), "stages are"),
        (lambda: StageMachine("milestone", ("first", "third"), []), "starts at 'no_purchase'"),
        (lambda: StageMachine("milestone", ("no_purchase", "x", "x"), []), "distinct"),
        (lambda: StageMachine("milestone", ("no_purchase",), ["a->b"]), "Edge objects"),
        (lambda: StageMachine("milestone", ("no_purchase",), Edge("a", "b", "time")), "sequence"),
        (lambda: Edge("active", "silent", "weather"), "trigger must be one of"),
        (lambda: Edge("", "silent", "time"), "source must be a stage name"),
        (lambda: StageMachine.default("lifetime"), "no ladder"),
    ],
)
def test_stage_machine(call: Callable[[], Any], message: str) -> None:
    refused(call, ValidationError, message)


class _BrokenStore:
    def get_stages(self, customer_ids: Any) -> Any:
        return [("c", "new/active/first_purchase")]

    def put_stages(self, stages: Any, as_of: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda st: transitions(st, "now"), ValidationError, "current must be LifecycleStages"),
        (lambda st: transitions(3, st), ValidationError, "StageStore, a mapping"),
        (lambda st: transitions({}, st, unknown_customers="maybe"), ValidationError, "'raise'"),
        (lambda st: transitions({}, st, ladders=("stage",)), ValidationError, "ladders must be"),
        (lambda st: transitions({}, st, machines={"x": 1}), ValidationError, "machines maps"),
        (
            lambda st: transitions(
                {}, st, machines={"milestone": StageMachine.default("relationship")}
            ),
            ValidationError,
            "is for the relationship ladder",
        ),
        (lambda st: transitions({}, st, strict="yes"), ValidationError, "must be bools"),
        (lambda st: transitions(_BrokenStore(), st), ValidationError, "not a mapping"),
        (lambda st: transitions(st, st, previous_as_of=AS_OF), ValidationError, "a result knows"),
        (
            lambda st: transitions({}, st, previous_as_of=AS_OF.replace(year=2027)),
            ValidationError,
            "must not go backwards",
        ),
        (
            lambda st: transitions({"r1": 5}, st),
            ValidationError,
            "unknown stage keys",
        ),
        (
            lambda st: transitions(
                {"r1": "new/active/first_purchase", "zz": "new/active/first_purchase"}, st
            ),
            UnknownCustomerError,
            "'zz'",
        ),
        (
            lambda st: transitions({}, st, previous_as_of="yesterday"),
            ValidationError,
            "previous_as_of",
        ),
    ],
)
def test_transitions(small: Any, call: Any, error: type[Exception], message: str) -> None:
    stages = Lifecycle().fit_apply(small)
    refused(lambda: call(stages), error, message)
