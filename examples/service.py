"""privdomain wrapped as a small HTTP service, on the standard library and SQLite.

A host that is not written in Python (a SCRM back end, a scheduler, a BI tool) talks to the pool
over HTTP and JSON. Storage is :mod:`sqlite_adapter` (every port on one SQLite file): a
restarted service rebuilds its pool from the database and carries on where it stopped.

Endpoints (JSON in and out):

``POST /ingest``
    ``{"customers": [...], "touchpoints": [...]}``: customers are stored and ingested,
    touchpoints appended to the log and ingested from it. Answers the ingest report (records
    the pool rejected are listed with the reason: a rejection is not an error).
``POST /cycle``
    ``{"as_of": "2026-01-05T00:00:00+08:00", "major_sale": false, "budget": null}``: runs the
    daily cycle (:class:`privdomain.pipeline.DailyCycle`) and answers its summary. Running it
    twice for one ``as_of`` changes nothing the second time (``"repeated": true``).
``GET /health?as_of=...``
    The pool's health report as of ``as_of`` (default: the last cycle's): every figure as a
    record, and the report in words.
``GET /plan?as_of=...&limit=100``
    The contact plan of the cycle of ``as_of`` (default: the last cycle's), planned nudges
    first; the cycle must have run for that instant.

A bad request (malformed JSON, a field of the wrong type, a naive time, an ``as_of`` before the
last cycle's) gets ``400`` with the library's error message: ``{"error": "...", "type":
"ValidationError"}``; an unknown path ``404``, a wrong method ``405``. Requests are served one at
a time (a lock around the pool and the database).

Run it::

    python examples/service.py pool.sqlite3 --port 8000 --tenant brand
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import sys
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

if __package__ in (None, ""):  # run as a script: the adapter sits next to this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlite_adapter import SQLiteStorage

from privdomain import Customer, Money, Pool, Touchpoint
from privdomain.errors import PrivdomainError, UnknownCustomerError, ValidationError
from privdomain.metrics import health
from privdomain.pipeline import CycleResult, DailyCycle
from privdomain.referral import CommissionRule, ReferralAttribution

__all__ = ["BadRequest", "PoolService", "main", "serve"]

_TIMES = ("joined_at", "updated_at", "at")
_MAX_BODY = 64 * 1024 * 1024


class BadRequest(Exception):
    """A request the service cannot read (answered with ``status`` and the message)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


def _instant(value: Any, what: str) -> Any:
    """An ISO 8601 text as a datetime (the library then refuses a naive one); else as is."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{what} is not an ISO 8601 time: {value!r}") from None
    return value


def _records(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = payload.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise BadRequest(f"{key!r} must be a list of JSON objects")
    return items


def _build(kind: type, fields: Mapping[str, Any], tenant: str, where: str) -> Any:
    """A Customer or Touchpoint from JSON fields: times parsed, money as Money, the tenant
    the service's unless given; the library validates the rest."""
    values = {"tenant": tenant, **fields}
    for name in _TIMES:
        if name in values:
            values[name] = _instant(values[name], f"{where}.{name}")
    for name in ("amount", "discount"):
        if values.get(name) is not None:
            values[name] = Money.of(str(values[name]), values.pop("currency", None) or "CNY")
    values.pop("currency", None)
    try:
        return kind(**values)
    except TypeError as exc:  # an unknown or missing field: say which
        raise BadRequest(f"{where}: {exc}") from None
    except PrivdomainError as exc:
        raise BadRequest(f"{where}: {exc}") from None


def _plain(value: Any) -> Any:
    """JSON for numpy scalars, datetimes and the like."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float | int | str) or value is None:
        return value
    return str(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``null``: strict JSON, which every client reads."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _report(report: Any) -> dict[str, Any]:
    return {
        "customers_added": report.customers_added,
        "customers_updated": report.customers_updated,
        "customers_unchanged": report.customers_unchanged,
        "touchpoints_accepted": report.touchpoints_accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {"index": r.index, "id": _plain(r.id), "reason": r.reason.value, "detail": r.detail}
            for r in report.rejected
        ],
    }


class PoolService:
    """The pool, its SQLite storage and its daily cycle, answering requests.

    :meth:`handle` is the whole service without HTTP: ``(method, path, query, body) ->
    (status, payload)``; :func:`serve` puts it behind :mod:`http.server`.
    """

    def __init__(
        self,
        database: str | Path,
        *,
        tenant: str = "brand",
        currency: str = "CNY",
        utc_offset: dt.timedelta = dt.timedelta(hours=8),
    ) -> None:
        # one connection for every request; the lock keeps them one at a time
        self._connection = sqlite3.connect(database, check_same_thread=False)
        self.storage = SQLiteStorage(self._connection)
        self.pool = Pool(tenant, currency=currency, utc_offset=utc_offset)
        self.pool.ingest(self.storage.customers)  # a restart: the pool from the database
        self.pool.ingest_log(self.storage.touchpoints)
        self.cycle = DailyCycle(
            self.pool,
            touchpoints=self.storage.touchpoints,
            stages=self.storage.stages,
            ledger=self.storage.ledger,
            referral=ReferralAttribution(CommissionRule((0.10, 0.03), agent_rate=0.02)),
            send_after=dt.timedelta(hours=10),
        )
        self._results: dict[dt.datetime, CycleResult] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._connection.close()

    # ------------------------------------------------------------------ dispatch
    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes
    ) -> tuple[HTTPStatus, dict[str, Any]]:
        routes = {
            "/ingest": ("POST", self.ingest),
            "/cycle": ("POST", self.run_cycle),
            "/health": ("GET", self.health),
            "/plan": ("GET", self.plan),
        }
        if path not in routes:
            return HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}", "type": "NotFound"}
        allowed, action = routes[path]
        if method != allowed:
            return HTTPStatus.METHOD_NOT_ALLOWED, {
                "error": f"{path} takes {allowed}, not {method}",
                "type": "MethodNotAllowed",
            }
        try:
            payload = self._json(body) if method == "POST" else {}
            with self._lock:
                return HTTPStatus.OK, action(payload, query)
        except BadRequest as exc:
            return exc.status, {"error": str(exc), "type": "BadRequest"}
        except UnknownCustomerError as exc:
            return HTTPStatus.NOT_FOUND, {"error": str(exc.args[0]), "type": type(exc).__name__}
        except PrivdomainError as exc:  # the library's own refusal: the client's to fix
            return HTTPStatus.BAD_REQUEST, {"error": str(exc), "type": type(exc).__name__}

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from None
        except RecursionError:  # the parser recurses once per level of nesting
            raise BadRequest("the body's JSON is nested too deeply") from None
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object")
        return payload

    def _as_of(self, value: Any, *, required: bool) -> dt.datetime:
        if value is None:
            last = self.storage.stages.as_of
            if required or last is None:
                raise BadRequest("as_of is required (an ISO 8601 time with its offset)")
            return last
        when = _instant(value, "as_of")
        if not isinstance(when, dt.datetime):
            raise BadRequest(f"as_of is an ISO 8601 time, not {value!r}")
        if when.utcoffset() is None:
            raise ValidationError(f"as_of {when.isoformat()} is naive; give its UTC offset")
        return when.astimezone(dt.UTC)

    # ------------------------------------------------------------------ endpoints
    def ingest(self, payload: Mapping[str, Any], query: Any) -> dict[str, Any]:
        tenant = self.pool.tenant
        customers = [
            _build(Customer, c, tenant, f"customers[{i}]")
            for i, c in enumerate(_records(payload, "customers"))
        ]
        touchpoints = [
            _build(Touchpoint, t, tenant, f"touchpoints[{i}]")
            for i, t in enumerate(_records(payload, "touchpoints"))
        ]
        unknown = set(payload) - {"customers", "touchpoints"}
        if unknown:
            raise BadRequest(f"unknown keys {sorted(unknown)}; send customers and touchpoints")
        report = self.pool.ingest(customers)
        refused = {r.index for r in report.rejected}
        self.storage.customers.put(c for i, c in enumerate(customers) if i not in refused)
        self.storage.touchpoints.append(touchpoints)
        read = self.pool.ingest_log(self.storage.touchpoints)
        return {"customers": _report(report), "touchpoints": _report(read)}

    def run_cycle(self, payload: Mapping[str, Any], query: Any) -> dict[str, Any]:
        unknown = set(payload) - {"as_of", "major_sale", "budget"}
        if unknown:
            raise BadRequest(f"unknown keys {sorted(unknown)}; send as_of, major_sale, budget")
        as_of = self._as_of(payload.get("as_of"), required=True)
        result = self.cycle.run(
            as_of,
            major_sale=payload.get("major_sale", False),
            budget=payload.get("budget"),
        )
        self._results = {result.as_of: result}  # the latest run's plan, for GET /plan
        return result.summary()

    def health(self, payload: Any, query: Mapping[str, list[str]]) -> dict[str, Any]:
        as_of = self._as_of(_one(query, "as_of"), required=False)
        days = _int(_one(query, "days") or "30", "days")
        report = health(self.pool.snapshot(as_of), start=as_of - dt.timedelta(days=days))
        return {"as_of": as_of.isoformat(), "metrics": report.metrics(), "text": report.lines()}

    def plan(self, payload: Any, query: Mapping[str, list[str]]) -> dict[str, Any]:
        as_of = self._as_of(_one(query, "as_of"), required=False)
        limit = _int(_one(query, "limit") or "100", "limit")
        result = self._results.get(as_of)
        if result is None and self.storage.stages.as_of == as_of:
            result = self.cycle.run(as_of)  # after a restart: a repeat writes nothing
            self._results = {as_of: result}
        if result is None:
            raise BadRequest(
                f"no cycle has run for {as_of.isoformat()}; POST /cycle first",
                HTTPStatus.NOT_FOUND,
            )
        plan = result.plan
        rows = np.flatnonzero(plan.planned)[:limit]
        nudges = [
            {
                "customer_id": str(plan.customer_ids[i]),
                "send_at": _plain(plan.send_at[i].astype("datetime64[us]").item()) + "+00:00",
                "channel": plan.channel[i],
                "message": plan.message[i],
                "offer": plan.offer[i],
            }
            for i in rows.tolist()
        ]
        return {
            "as_of": as_of.isoformat(),
            "repeated": result.repeated,
            "reasons": plan.counts(),
            "planned": int(plan.planned.sum()),
            "nudges": nudges,
        }


def _one(query: Mapping[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"give {key} once")
    return values[0]


def _int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{what} must be a whole number, got {text!r}") from None
    if value < 1:
        raise BadRequest(f"{what} must be at least 1, got {value}")
    return value


def _handler(service: PoolService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "privdomain-example"

        def _answer(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                status, payload = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"}
            else:
                body = self.rfile.read(length) if length else b""
                try:
                    status, payload = service.handle(
                        self.command, url.path, parse_qs(url.query), body
                    )
                except Exception as exc:  # a bug, not the client's: say so, keep serving
                    status = HTTPStatus.INTERNAL_SERVER_ERROR
                    payload = {"error": f"internal error: {exc!r}", "type": "InternalError"}
            text = json.dumps(_finite(payload), default=_plain, ensure_ascii=False, allow_nan=False)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a real service logs through its own logging

    return Handler


def serve(service: PoolService, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` on ``host:port`` (``port=0``: any free port; read it
    from ``server.server_address``). Call ``serve_forever()`` on it, ``shutdown()`` to stop."""
    return ThreadingHTTPServer((host, port), _handler(service))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("database", type=Path, help="SQLite file (created if missing)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--tenant", default="brand")
    args = parser.parse_args(argv)
    service = PoolService(args.database, tenant=args.tenant)
    server = serve(service, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"serving {args.database} for tenant {args.tenant!r} on http://{host!s}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
