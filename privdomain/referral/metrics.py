"""How customers bring customers: referral rate, K-factor, referrers' and agents' results."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.referral.binding import BindingPolicy, Bindings, bind
from privdomain.referral.commission import _referrer_at
from privdomain.result import Result

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "AgentStats",
    "KFactor",
    "ReferralRate",
    "ReferrerStats",
    "agent_stats",
    "k_factor",
    "referral_rate",
    "referrer_stats",
]


def _window(snapshot: Snapshot, start: Any, end: Any) -> tuple[np.int64, np.int64]:
    from privdomain.domain._time import as_utc_datetime
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"takes a Snapshot, got {type(snapshot).__name__}")
    lo = as_utc_datetime(start, what="start")
    hi = snapshot.as_of if end is None else as_utc_datetime(end, what="end")
    if hi <= lo:
        raise ValidationError(f"the window must end after it starts: {lo} .. {hi}")
    return (
        np.datetime64(lo.replace(tzinfo=None), "us").view(np.int64),
        np.datetime64(hi.replace(tzinfo=None), "us").view(np.int64),
    )


def _us(values: NDArray[Any]) -> NDArray[np.int64]:
    return np.asarray(values.astype("datetime64[us]").view(np.int64))


def _bindings(snapshot: Snapshot, bindings: Bindings | BindingPolicy | None) -> Bindings:
    if bindings is None or isinstance(bindings, BindingPolicy):
        return bind(snapshot, bindings)
    if not isinstance(bindings, Bindings) or len(bindings) != len(snapshot):
        raise ValidationError("bindings must be a Bindings of this snapshot")
    return bindings


@attrs.frozen
class ReferralRate:
    """Share of the customers who joined in a window that existing customers brought."""

    new_customers: int
    referred: int
    """New customers bound, when they joined, to a customer who had joined before them."""

    @property
    def rate(self) -> float:
        """``referred / new_customers`` (NaN when nobody joined)."""
        return self.referred / self.new_customers if self.new_customers else float("nan")


def referral_rate(
    snapshot: Snapshot,
    *,
    start: dt.datetime,
    end: dt.datetime | None = None,
    bindings: Bindings | BindingPolicy | None = None,
) -> ReferralRate:
    """The referral rate of existing customers (老带新) over ``[start, end)`` (``end`` defaults
    to the snapshot's ``as_of``)."""
    lo, hi = _window(snapshot, start, end)
    b = _bindings(snapshot, bindings)
    joined = _us(snapshot.joined_at)
    new = np.flatnonzero((joined >= lo) & (joined < hi))
    ref = _referrer_at(b, new.astype(np.int64), joined[new])
    ok = ref >= 0
    existing = np.zeros(new.size, dtype=bool)
    existing[ok] = joined[ref[ok]] < joined[new[ok]]
    return ReferralRate(int(new.size), int(existing.sum()))


@attrs.frozen
class KFactor:
    """The viral coefficient over a window: invites per customer times invite conversion."""

    customers: int
    """Customers who had joined by the window's end (who could invite)."""
    invites: int
    """Invitations sent in the window."""
    converted: int
    """Invitations in the window whose invitee joined at or after being invited."""

    @property
    def invites_per_customer(self) -> float:
        return self.invites / self.customers if self.customers else float("nan")

    @property
    def conversion(self) -> float:
        return self.converted / self.invites if self.invites else float("nan")

    @property
    def k(self) -> float:
        """``invites_per_customer * conversion``: new customers each customer brings."""
        return self.converted / self.customers if self.customers else float("nan")


def k_factor(snapshot: Snapshot, *, start: dt.datetime, end: dt.datetime | None = None) -> KFactor:
    """The K-factor of ``snapshot`` over ``[start, end)``."""
    lo, hi = _window(snapshot, start, end)
    inv = snapshot.invitations
    at = _us(inv.at)
    sent = (at >= lo) & (at < hi)
    joined = _us(snapshot.joined_at)
    has = inv.invitee_row >= 0
    conv = np.zeros(len(inv), dtype=bool)
    conv[has] = joined[inv.invitee_row[has]] >= at[has]
    customers = int((joined < hi).sum())
    return KFactor(customers, int(sent.sum()), int((sent & conv).sum()))


@attrs.frozen(eq=False)
class ReferrerStats(Result):
    """Per customer: how many customers they referred and what those bought while bound to
    them (net of refunds, exact minor units)."""

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "referred", "revenue_minor")

    customer_ids: NDArray[np.object_]
    referred: NDArray[np.int64]
    """Customers bound to this one as of the snapshot."""
    revenue_minor: NDArray[np.int64]
    """Net paid amount of orders placed by customers while bound to this one."""
    currency: str

    def columns(self) -> dict[str, NDArray[Any]]:
        return {
            "customer_id": self.customer_ids,
            "referred": self.referred,
            "revenue_minor": self.revenue_minor,
        }


def referrer_stats(
    snapshot: Snapshot, bindings: Bindings | BindingPolicy | None = None
) -> ReferrerStats:
    """Every customer's referred customers and referred revenue."""
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"takes a Snapshot, got {type(snapshot).__name__}")
    b = _bindings(snapshot, bindings)
    n = len(snapshot)
    ids = snapshot.customer_ids
    current = np.full(n, -1, dtype=np.int64)
    has = b.referrer_ids != None  # noqa: E711 - elementwise
    current[has] = snapshot.rows(b.referrer_ids[has]) if has.any() else current[has]
    referred = np.bincount(current[current >= 0], minlength=n).astype(np.int64)
    log = snapshot.order_log
    ref = _referrer_at(b, log.row.astype(np.int64), _us(log.at))
    net = (log.gross_minor - log.refunded_minor).astype(np.int64)
    revenue = np.zeros(n, dtype=np.int64)
    np.add.at(revenue, ref[ref >= 0], net[ref >= 0])
    return ReferrerStats(ids, referred, revenue, snapshot.currency)


@attrs.frozen(eq=False)
class AgentStats:
    """Per agent (by code, names in :attr:`agent_ids`): customers bound to them as of the
    snapshot and the net revenue of the orders they were credited with."""

    agent_ids: tuple[str, ...]
    customers: NDArray[np.int64]
    revenue_minor: NDArray[np.int64]
    currency: str

    def to_records(self) -> list[dict[str, Any]]:
        return [
            {"agent_id": a, "customers": int(c), "revenue_minor": int(r)}
            for a, c, r in zip(self.agent_ids, self.customers, self.revenue_minor, strict=True)
        ]


def agent_stats(snapshot: Snapshot) -> AgentStats:
    """Every agent's customers and the net revenue of their orders (``Orders.agent``)."""
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"takes a Snapshot, got {type(snapshot).__name__}")
    k = len(snapshot.agent_names)
    a = snapshot.agent.astype(np.int64)
    customers = np.bincount(a[a >= 0], minlength=k).astype(np.int64)
    log = snapshot.order_log
    oa = log.agent.astype(np.int64)
    net = (log.gross_minor - log.refunded_minor).astype(np.int64)
    revenue = np.zeros(k, dtype=np.int64)
    np.add.at(revenue, oa[oa >= 0], net[oa >= 0])
    return AgentStats(tuple(snapshot.agent_names), customers, revenue, snapshot.currency)
