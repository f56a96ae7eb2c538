"""The HTTP service of ``examples/``: the real server on an ephemeral port, called over HTTP.

A pool goes in through ``/ingest``, the daily cycle runs through ``/cycle`` (once: the second
call is a repeat that writes nothing), ``/plan`` and ``/health`` answer what the library
computes, a restarted service carries on from its database, and every bad request gets a 4xx
with the library's message, never a 500.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privdomain import Customer, Touchpoint
from privdomain.simulate import SimulatedPool, simulate_pool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import service as svc  # noqa: E402

TENANT = "demo-brand"


@cache
def _sim() -> SimulatedPool:
    return simulate_pool(200, seed=21)


def _customer_json(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "joined_at": c.joined_at.isoformat(),
        "source": c.source.name.lower(),
        "consent": sorted(ch.name for ch in c.consent),
        "tags": sorted(c.tags),
        "attributes": dict(c.attributes),
        "referrer_id": c.referrer_id,
        "agent_id": c.agent_id,
    }


def _touchpoint_json(t: Touchpoint) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "customer_id": t.customer_id,
        "at": t.at.isoformat(),
        "channel": t.channel.name,
        "kind": t.kind.name.lower(),
        "promotion": t.promotion,
        "related_customer_id": t.related_customer_id,
        "agent_id": t.agent_id,
    }
    if t.amount is not None:
        out["amount"] = str(t.amount.amount)
        out["currency"] = t.amount.currency
    if t.discount is not None:
        out["discount"] = str(t.discount.amount)
    if t.order_id is not None:
        out["order_id"] = t.order_id
    return out


def _not_json(constant: str) -> Any:
    raise AssertionError(f"{constant} is not JSON: a browser's JSON.parse refuses it")


class Client:
    """JSON over HTTP to the running service."""

    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body))
            connection.request(method, path, body=data, headers={"Content-Type": "json"})
            response = connection.getresponse()
            payload = json.loads(response.read(), parse_constant=_not_json)
            return response.status, payload
        finally:
            connection.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Client, Path]]:
    with _started(tmp_path / "pool.sqlite3") as client:
        yield client, tmp_path / "pool.sqlite3"


class _started:
    """The service on an ephemeral port, served from a thread, stopped on exit."""

    def __init__(self, database: Path) -> None:
        self.service = svc.PoolService(database, tenant=TENANT)
        self.server = svc.serve(self.service, port=0)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Client:
        self.thread.start()
        return Client(int(self.server.server_address[1]))

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.service.close()


def _ingest_history(client: Client, upto: dt.datetime) -> dict[str, Any]:
    sim = _sim()
    touchpoints = [t for t in sim.touchpoint_objects() if t.at <= upto]
    status, answer = client.call(
        "POST",
        "/ingest",
        {
            "customers": [_customer_json(c) for c in sim.customer_objects()],
            "touchpoints": [_touchpoint_json(t) for t in touchpoints],
        },
    )
    assert status == 200, answer
    assert answer["customers"]["customers_added"] == len(sim.customer_objects())
    assert answer["touchpoints"]["touchpoints_accepted"] == len(touchpoints)
    assert answer["touchpoints"]["rejected"] == []
    return answer  # type: ignore[no-any-return]


def _database_state(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("customers", "touchpoints", "stages", "commission_entries")
        } | {
            "ledger": connection.execute(
                "SELECT sum(amount_minor) FROM commission_entries"
            ).fetchone()[0]
        }


def test_ingest_cycle_plan_and_health_over_http(running: tuple[Client, Path]) -> None:
    client, path = running
    as_of = _sim().as_of
    _ingest_history(client, as_of)
    status, summary = client.call("POST", "/cycle", {"as_of": as_of.isoformat()})
    assert status == 200, summary
    assert summary["repeated"] is False
    assert summary["customers"] == 200
    planned = summary["plan"]["reasons"]["planned"]
    assert planned == summary["contacts_recorded"] > 0
    state = _database_state(path)
    assert state["stages"] == 200
    assert state["commission_entries"] > 0

    # the plan, as the library planned it
    status, plan = client.call("GET", f"/plan?as_of={as_of.isoformat()}".replace("+", "%2B"))
    assert status == 200, plan
    assert plan["planned"] == planned
    assert len(plan["nudges"]) == min(planned, 100)
    assert {n["channel"] for n in plan["nudges"]} <= set(summary["plan"]["by_channel"])

    # health: the library's report of the same snapshot
    status, report = client.call("GET", "/health")
    assert status == 200, report
    figures = {(r["group"], r["metric"]): r["value"] for r in report["metrics"]}
    assert figures[("pool", "customers")] == 200
    assert report["text"][0].startswith("HealthReport of 200 customers")

    # the same day again: a repeat, nothing written twice
    status, again = client.call("POST", "/cycle", {"as_of": as_of.isoformat()})
    assert status == 200, again
    assert again["repeated"] is True
    assert again["contacts_recorded"] == 0
    assert _database_state(path) == state


def test_a_restarted_service_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "pool.sqlite3"
    sim = _sim()
    first = sim.as_of - dt.timedelta(days=7)
    with _started(path) as client:
        _ingest_history(client, first)
        status, summary = client.call("POST", "/cycle", {"as_of": first.isoformat()})
        assert status == 200, summary
    state = _database_state(path)
    with _started(path) as client:  # a new process would do the same: all from the file
        status, plan = client.call("GET", "/plan")
        assert status == 200, plan
        assert plan["repeated"] is True
        assert plan["planned"] == summary["plan"]["reasons"]["planned"]
        assert _database_state(path) == state
        # a week later: the new week's events, then the next run moves on
        week = [t for t in sim.touchpoint_objects() if first < t.at <= sim.as_of]
        status, answer = client.call(
            "POST", "/ingest", {"touchpoints": [_touchpoint_json(t) for t in week]}
        )
        assert status == 200, answer
        assert answer["touchpoints"]["touchpoints_accepted"] == len(week)
        status, later = client.call("POST", "/cycle", {"as_of": sim.as_of.isoformat()})
        assert status == 200, later
        assert later["repeated"] is False
        assert sum(later["transitions"].get("post_purchase", {}).values()) >= 0
        # the first week's contacts were read back from the log: nothing duplicated
        assert later["ingested"]["duplicates"] == 0


_NAIVE = {"id": "x1", "joined_at": "2026-01-01T00:00:00"}
_OK = {"id": "x1", "joined_at": "2026-01-01T00:00:00+08:00"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/ingest", b"not json", 400, "not JSON"),
        ("POST", "/ingest", b"[1, 2]", 400, "JSON object"),
        ("POST", "/ingest", {"customers": {"id": 1}}, 400, "list of JSON objects"),
        ("POST", "/ingest", {"customers": [_NAIVE]}, 400, "naive"),
        ("POST", "/ingest", {"customers": [{**_OK, "shoe_size": 42}]}, 400, "shoe_size"),
        ("POST", "/ingest", {"customers": [{**_OK, "source": "mars"}]}, 400, "mars"),
        ("POST", "/ingest", {"customers": [{**_OK, "joined_at": "soon"}]}, 400, "ISO 8601"),
        ("POST", "/ingest", {"others": []}, 400, "unknown keys"),
        (
            "POST",
            "/ingest",
            {
                "touchpoints": [
                    {
                        "id": "t1",
                        "customer_id": "x1",
                        "at": "2026-01-02T00:00:00+08:00",
                        "channel": "wecom",
                        "kind": "purchased",
                        "amount": "-5",
                    }
                ]
            },
            400,
            "touchpoints[0]",
        ),
        ("POST", "/ingest", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (
            "POST",
            "/ingest",
            b'{"customers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            400,
            "nested too deeply",
        ),
        ("POST", "/cycle", {}, 400, "as_of is required"),
        ("POST", "/cycle", {"as_of": "yesterday"}, 400, "ISO 8601"),
        ("POST", "/cycle", {"as_of": "2026-01-01T00:00:00"}, 400, "naive"),
        ("POST", "/cycle", {"as_of": 20260101}, 400, "ISO 8601"),
        ("POST", "/cycle", {"as_of": "2026-01-01T00:00:00+08:00", "budget": 0}, 400, "budget"),
        (
            "POST",
            "/cycle",
            {"as_of": "2026-01-01T00:00:00+08:00", "major_sale": "yes"},
            400,
            "major_sale",
        ),
        ("POST", "/cycle", {"as_of": "2026-01-01T00:00:00+08:00", "when": 1}, 400, "unknown"),
        ("GET", "/plan?as_of=2020-01-01T00:00:00%2B00:00", None, 404, "no cycle has run"),
        ("GET", "/plan", None, 400, "as_of is required"),
        ("GET", "/health?as_of=2026-01-01T00:00:00%2B08:00&days=abc", None, 400, "whole number"),
        ("GET", "/health?as_of=2026-01-01T00:00:00%2B08:00&days=0", None, 400, "at least 1"),
        ("GET", "/health?as_of=a&as_of=b", None, 400, "once"),
        ("GET", "/nowhere", None, 404, "no such endpoint"),
        ("GET", "/cycle", None, 405, "takes POST"),
        ("DELETE", "/ingest", None, 405, "takes POST"),
    ],
)
def test_bad_requests_get_4xx_with_the_message(
    running: tuple[Client, Path],
    method: str,
    path: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    client, database = running
    before = _database_state(database)
    raw = body if isinstance(body, bytes) else None
    got, answer = client.call(method, path, None if raw is not None else body, raw=raw)
    assert got == status, answer
    assert message in answer["error"]
    assert _database_state(database) == before


def test_an_empty_pool_and_runs_back_in_time_are_refused(running: tuple[Client, Path]) -> None:
    client, _ = running
    status, answer = client.call("POST", "/cycle", {"as_of": "2026-01-01T00:00:00+08:00"})
    assert status == 400
    assert answer["type"] == "EmptyPoolError"
    as_of = _sim().as_of
    _ingest_history(client, as_of)
    assert client.call("POST", "/cycle", {"as_of": as_of.isoformat()})[0] == 200
    earlier = (as_of - dt.timedelta(days=1)).isoformat()
    status, answer = client.call("POST", "/cycle", {"as_of": earlier})
    assert status == 400
    assert "forward in time" in answer["error"]


def test_records_the_pool_rejects_are_reported_not_errors(running: tuple[Client, Path]) -> None:
    client, _ = running
    stranger = {
        "id": "t-unknown",
        "customer_id": "nobody",
        "at": "2026-01-02T00:00:00+08:00",
        "channel": "wecom",
        "kind": "opened",
    }
    status, answer = client.call("POST", "/ingest", {"customers": [_OK], "touchpoints": [stranger]})
    assert status == 200, answer
    assert answer["customers"]["customers_added"] == 1
    (rejected,) = answer["touchpoints"]["rejected"]
    assert rejected["id"] == "t-unknown"
    assert rejected["reason"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_fields = st.sampled_from(
    ["customers", "touchpoints", "as_of", "budget", "major_sale", "id", "joined_at", "at"]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/ingest", "/cycle"]),
    body=st.dictionaries(_fields, _json | st.lists(st.dictionaries(_fields, _json), max_size=2)),
)
def test_no_body_gets_a_500(running: tuple[Client, Path], path: str, body: Any) -> None:
    client, _ = running
    status, answer = client.call("POST", path, body)
    assert status < 500, answer
    if status >= 400:
        assert answer["error"]
