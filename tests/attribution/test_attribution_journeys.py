"""Journeys from event logs, snapshots and paths: equal to a slow reference, and bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from attribution_helpers import paths_of
from hypothesis import given, settings
from hypothesis import strategies as st

from privdomain.attribution import Journeys, linear
from privdomain.domain.snapshot import CONTACT_HISTORY_DAYS, OWNED_CHANNELS
from privdomain.errors import ValidationError
from privdomain.simulate import simulate_pool


def reference(
    customer: list[Any],
    at: list[float],
    channel: list[Any],
    conversion: list[bool],
    as_of: float,
    lookback: float,
    earliest_end: float = -np.inf,
) -> list[tuple[Any, tuple[Any, ...], bool, tuple[float, ...]]]:
    """(customer, channels, converted, ages) of every journey, customer by customer."""
    out = []
    by_customer: dict[Any, list[tuple[float, bool, Any]]] = {}
    for c, t, ch, conv in zip(customer, at, channel, conversion, strict=True):
        if t <= as_of:
            by_customer.setdefault(c, []).append((t, conv, ch))
    for who in sorted(by_customer):
        # stable: touches at one instant stay in log order
        events = sorted(by_customer[who], key=lambda e: (e[0], e[1]))
        touches: list[tuple[float, Any]] = []
        for t, conv, ch in events:
            if not conv:
                touches.append((t, ch))
                continue
            kept = [(t - s, c) for s, c in touches if t - s <= lookback]
            if t >= earliest_end:
                out.append((who, tuple(c for _, c in kept), True, tuple(a for a, _ in kept)))
            touches = []
        kept = [(as_of - s, c) for s, c in touches if as_of - s <= lookback]
        if kept and as_of >= earliest_end:
            out.append((who, tuple(c for _, c in kept), False, tuple(a for a, _ in kept)))
    return out


def as_tuples(journeys: Journeys, customers: list[Any]) -> list[Any]:
    names = journeys.channel_names
    return [
        (
            customers[int(journeys.customer[j])],
            tuple(names[c] for c in path),
            bool(journeys.converted[j]),
            tuple(journeys.age[journeys.offsets[j] : journeys.offsets[j + 1]].tolist()),
        )
        for j, path in enumerate(paths_of(journeys))
    ]


events = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.integers(0, 40),  # integer times: ties between touches and purchases are common
        st.sampled_from(["wecom", "sms", "app"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(events, st.integers(0, 50), st.sampled_from([1, 5, 30, 1000]))
def test_from_events_equals_the_reference(rows: list[Any], as_of: int, lookback: int) -> None:
    customer, at, channel, conversion = (list(c) for c in zip(*rows, strict=True))
    journeys = Journeys.from_events(
        customer,
        at,
        channel,
        conversion,
        as_of=as_of,
        lookback_days=lookback,
        channels=["app", "sms", "wecom"],
    )
    expected = reference(customer, [float(t) for t in at], channel, conversion, as_of, lookback)
    assert as_tuples(journeys, sorted(set(customer))) == expected
    # events after as_of change nothing
    later = Journeys.from_events(
        [*customer, "u1", "u9"],
        [*at, as_of + 1, as_of + 2],
        [*channel, "sms", "app"],
        [*conversion, True, False],
        as_of=as_of,
        lookback_days=lookback,
        channels=["app", "sms", "wecom"],
    )
    assert paths_of(later) == paths_of(journeys)
    assert np.array_equal(later.converted, journeys.converted)


def test_datetimes_and_channel_members() -> None:
    t0 = np.datetime64("2026-03-01T08:00", "us")
    at = t0 + np.array([0, 36, 48, 60], dtype="timedelta64[h]")
    from privdomain import Channel

    journeys = Journeys.from_events(
        ["a", "a", "a", "a"],
        at,
        [Channel.WECOM, Channel.SMS, None, Channel.SMS],
        [False, False, True, False],
        as_of=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
    )
    assert journeys.channel_names == ("SMS", "WECOM")
    assert paths_of(journeys) == [(1, 0), (0,)]
    np.testing.assert_allclose(journeys.age, [2.0, 0.5, 4 - 2.5 - 1 / 3])
    assert journeys.converted.tolist() == [True, False]


def test_from_snapshot_follows_contacts_and_orders() -> None:
    simulated = simulate_pool(3_000, seed=5)
    snap = simulated.pool().snapshot(as_of=simulated.as_of)
    lookback = 20.0
    journeys = Journeys.from_snapshot(snap, lookback_days=lookback)
    assert journeys.channel_names == tuple(c.name for c in OWNED_CHANNELS)
    assert len(journeys) > 100
    assert journeys.conversions > 10
    contacts, orders = snap.contacts, snap.order_log
    day = np.timedelta64(86_400_000_000, "us")
    code = {c.value: c.name for c in OWNED_CHANNELS}
    as_of = snap.as_of.timestamp() / 86_400

    def days(x: Any) -> list[float]:
        return (
            x.astype("datetime64[us]").astype(np.int64) / (day / np.timedelta64(1, "us"))
        ).tolist()

    expected = reference(
        contacts.row.tolist() + orders.row.tolist(),
        days(contacts.at) + days(orders.at),
        [code[c] for c in contacts.channel.tolist()] + [None] * len(orders),
        [False] * len(contacts) + [True] * len(orders),
        as_of,
        lookback,
        earliest_end=as_of - CONTACT_HISTORY_DAYS + lookback,
    )
    got = as_tuples(journeys, list(range(len(snap))))
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    np.testing.assert_allclose(
        [a for g in got for a in g[3]], [a for e in expected for a in e[3]], atol=1e-6
    )
    assert linear(journeys).credit.sum() == pytest.approx(journeys.conversions)


def test_from_paths_and_take() -> None:
    journeys = Journeys.from_paths([("b", "a"), (), ("a",)], [True, True, False])
    assert journeys.channel_names == ("a", "b")
    assert journeys.conversions == 1
    assert journeys.unattributed == 1
    assert journeys.path(0) == ("b", "a")
    boot = journeys.take([2, 0, 0])
    assert paths_of(boot) == [(0,), (1, 0), (1, 0)]
    assert boot.converted.tolist() == [False, True, True]
    assert journeys.touched().tolist() == [[1, 1], [0, 0], [1, 0]]


def _ok() -> dict[str, Any]:
    return {
        "customer": ["a", "a"],
        "at": [1.0, 2.0],
        "channel": ["sms", None],
        "conversion": [False, True],
    }


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"customer": ["a"]}, "one entry per event|entries"),
        ({"at": [1.0]}, "entries"),
        ({"channel": ["sms"]}, "one entry per event"),
        ({"conversion": [False]}, "entries"),
        ({"conversion": [0, 2]}, "booleans"),
        ({"at": [1.0, float("nan")]}, "finite"),
        ({"at": ["x", "y"]}, "datetime64 or numbers"),
        ({"at": np.array(["2026-01-01", "NaT"], dtype="datetime64[us]")}, "NaT"),
        ({"channel": ["fax", None]}, "unknown channels"),
        ({"channel": [None, None], "conversion": [False, True]}, "a channel is"),
        ({"customer": [], "at": [], "channel": [], "conversion": []}, "no events"),
        ({"customer": "ab"}, "column"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"lookback_days": "30"}, "lookback_days"),
    ],
)
def test_bad_events(change: dict[str, Any], match: str) -> None:
    kwargs = {**_ok(), "channels": ["sms", "app"], **change}
    with pytest.raises(ValidationError, match=match):
        Journeys.from_events(**kwargs)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0, 2], [0, 5], [True]), "codes"),
        (([0, 2], [0], [True]), "one code per touch"),
        (([1, 2], [0], [True]), "offsets"),
        (([0, 2, 1], [0, 0], [True, False]), "offsets"),
        (([0, 1], [0], [True, False]), "entries"),
        (([0, 1], [0.5], [True]), "integers"),
    ],
)
def test_bad_csr(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Journeys.from_csr(*args, channels=["a", "b"])


def test_bad_csr_extras() -> None:
    with pytest.raises(ValidationError, match="age"):
        Journeys.from_csr([0, 1], [0], [True], channels=["a"], age=[-1.0])
    with pytest.raises(ValidationError, match="repeat"):
        Journeys.from_csr([0, 1], [0], [True], channels=["a", "a"])
    with pytest.raises(ValidationError, match="unknown channels"):
        Journeys.from_paths([("a", "z")], [True], channels=["a"])
    snap = simulate_pool(50, seed=1).pool().snapshot(as_of=np.datetime64("2026-06-30"))
    with pytest.raises(ValidationError, match="at most 92"):
        Journeys.from_snapshot(snap, lookback_days=93)
    with pytest.raises(ValidationError, match="Snapshot"):
        Journeys.from_snapshot("snapshot")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="out of range"):
        Journeys.from_paths([("a",)], [True]).path(3)
    with pytest.raises(ValidationError, match="indices"):
        Journeys.from_paths([("a",)], [True]).take([1])


def test_from_frame_reads_named_columns() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "who": ["a", "a", "b", "a"],
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-02", "2026-01-03"]),
            "via": ["SMS", "WECOM", "SMS", None],
            "bought": [False, False, False, True],
        }
    )
    journeys = Journeys.from_frame(
        frame, customer="who", at="when", channel="via", conversion="bought"
    )
    assert [journeys.path(j) for j in range(len(journeys))] == [("SMS", "WECOM"), ("SMS",)]
    assert journeys.converted.tolist() == [True, False]
    with pytest.raises(ValidationError, match="no customer column 'customer_id'"):
        Journeys.from_frame(frame)


@settings(max_examples=40, deadline=None)
@given(
    events,
    st.integers(0, 50),
    st.booleans(),  # unused categories in the Categorical
    st.sampled_from(["str", "int"]),  # the kind of customer ids
)
def test_categorical_columns_give_the_same_journeys(
    rows: list[Any], as_of: int, unused: bool, ids: str
) -> None:
    import pandas as pd

    customer, at, channel, conversion = (list(c) for c in zip(*rows, strict=True))
    if ids == "int":
        customer = [int(c[1:]) * 7 for c in customer]  # numbers sort otherwise than names
    if all(conversion):
        return  # no touch at all: refused (test_bad_events)
    plain = Journeys.from_events(customer, at, channel, conversion, as_of=as_of)
    extra = (["zz", "u0"] if ids == "str" else [0, 99]) if unused else []
    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical(
                customer, categories=sorted(set(customer) | set(extra), reverse=True)
            ),
            "at": at,
            "channel": pd.Categorical(
                channel, categories=["wecom", "sms", "app", "fax"][: 3 + unused]
            ),
            "conversion": conversion,
        }
    )
    coded = Journeys.from_frame(frame, as_of=as_of)
    for name in ("offsets", "channel", "age", "converted", "customer"):
        assert np.array_equal(getattr(coded, name), getattr(plain, name)), name
    assert coded.channel_names == plain.channel_names
    expected = reference(customer, [float(t) for t in at], channel, conversion, as_of, 30.0)
    assert as_tuples(coded, sorted(set(customer))) == expected


def test_categorical_with_missing_values_is_refused_as_before() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical(["a", None, "b"]),
            "at": [1.0, 2.0, 3.0],
            "channel": pd.Categorical(["sms", "sms", None]),
            "conversion": [False, False, True],
        }
    )
    with pytest.raises(ValidationError, match="all strings or all numbers"):
        Journeys.from_frame(frame)
    frame["customer_id"] = pd.Categorical(["a", "a", "b"])
    frame["channel"] = pd.Categorical(["sms", None, None])
    with pytest.raises(ValidationError, match="a channel is"):
        Journeys.from_frame(frame)
    frame["channel"] = pd.Categorical(["sms", "sms", None])  # none on the conversion: fine
    assert Journeys.from_frame(frame).path(0) == ("sms", "sms")
    lists = np.empty(2, dtype=object)
    lists[0], lists[1] = ["a"], ["b"]
    with pytest.raises(ValidationError, match="hashable"):
        Journeys.from_events(lists, [1.0, 2.0], ["sms", "sms"], [False, True])
    # a conversion's channel is ignored, whatever it is
    via = np.empty(2, dtype=object)
    via[0], via[1] = "sms", ["not", "a", "channel"]
    got = Journeys.from_events(["a", "a"], [1.0, 2.0], via, [False, True])
    assert got.path(0) == ("sms",)


def test_many_channels_use_the_wide_pattern_path() -> None:
    from privdomain.attribution import counterfactual

    names = [f"c{i}" for i in range(40)]
    rng = np.random.default_rng(3)
    paths = [tuple(rng.choice(names, size=rng.integers(1, 4)).tolist()) for _ in range(400)]
    converted = [("c1" in p) or rng.random() < 0.1 for p in paths]
    credit = counterfactual(Journeys.from_paths(paths, converted, channels=names), n_bootstrap=0)
    assert credit.ranking()[0] == "c1"
