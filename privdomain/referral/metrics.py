"""How customers bring customers: referral rate, K-factor, referrers' and agents' results,
referral cascades (depth and structural virality) and the KOCs who bring the most value."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.referral.binding import BindingPolicy, Bindings, bind
from privdomain.referral.commission import _referrer_at
from privdomain.result import Result, plain_column

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "AgentStats",
    "Cascades",
    "KFactor",
    "KocRanking",
    "ReferralRate",
    "ReferrerStats",
    "agent_stats",
    "cascades",
    "k_factor",
    "koc_ranking",
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
    # the snapshot sees events at as_of itself: a half-open window may end 1 µs after it
    if hi > snapshot.as_of + dt.timedelta(microseconds=1):
        raise ValidationError(
            f"end {hi.isoformat()} is later than the snapshot's as_of"
            f" ({snapshot.as_of.isoformat()}): take a snapshot as of {hi.isoformat()}"
        )
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
    current = _parents(b)
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
    """Every agent's customers and the net revenue of their orders (``Orders.agent``), as of
    the snapshot: the agents with a customer bound to them as of ``snapshot.as_of`` or an
    order credited to them by then (an agent first assigned later is not listed)."""
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
    # the pool's vocabulary of agent names also holds agents assigned after as_of
    seen = (customers > 0) | (np.bincount(oa[oa >= 0], minlength=k) > 0)
    names = np.asarray(snapshot.agent_names, dtype=object)[seen]
    return AgentStats(tuple(names.tolist()), customers[seen], revenue[seen], snapshot.currency)


def _parents(bindings: Bindings) -> NDArray[np.int64]:
    """Each customer's referrer row as of the snapshot (-1: none), from the binding history."""
    who, ref, _ = bindings.history()
    parent = np.full(len(bindings), -1, dtype=np.int64)
    parent[who] = ref  # sorted by invitee then time: the last binding stays
    return parent


def _depths(parent: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distance to the root and the root of every node of a forest of parent pointers, by
    pointer jumping (log2 of the deepest chain rounds)."""
    n = parent.size
    node = np.arange(n, dtype=np.int64)
    jump = np.where(parent >= 0, parent, node)
    depth = (parent >= 0).astype(np.int64)
    for _ in range(max(n, 1).bit_length() + 1):
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            return depth, jump
        depth = depth + depth[jump]
        jump = nxt
    raise ValidationError("the bindings hold a loop: they are not a forest")  # pragma: no cover


@attrs.frozen(eq=False)
class Cascades:
    """Referral cascades: the trees of the bindings as of the snapshot, one entry per tree of
    at least ``min_size`` customers, largest first (then by root id).

    Structural virality (Goel, Anderson, Hofman and Watts, *The structural virality of online
    diffusion*, Management Science 2016) is the mean distance between two customers of a tree:
    about 2 for a broadcast (one referrer, many invitees), growing with the length of the chains
    of person-to-person referral. It is computed from the Wiener index, the sum of the
    distances of all pairs, as the sum over edges of ``size * (n - size)`` (``size``: the
    customers below and at the edge's lower end), in time linear in the tree.
    """

    root_ids: NDArray[np.object_]
    """The customer at the top of each tree (bound to nobody)."""
    size: NDArray[np.int64]
    """Customers in the tree, the root included."""
    depth: NDArray[np.int64]
    """Bindings on the longest chain from the root (0 for a lone customer)."""
    structural_virality: NDArray[np.float64]
    """Mean distance over pairs of customers of the tree (NaN for a lone customer)."""
    wiener_index: NDArray[np.int64]
    """Sum of the distances over all pairs of customers of the tree."""

    def __len__(self) -> int:
        return int(self.root_ids.shape[0])

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per cascade."""
        cols = {
            "root_id": self.root_ids,
            "size": self.size,
            "depth": self.depth,
            "structural_virality": self.structural_virality,
            "wiener_index": self.wiener_index,
        }
        plain = {k: plain_column(np.asarray(v)) for k, v in cols.items()}
        return [dict(zip(plain, row, strict=True)) for row in zip(*plain.values(), strict=True)]


def cascades(
    snapshot: Snapshot, bindings: Bindings | BindingPolicy | None = None, *, min_size: int = 2
) -> Cascades:
    """The referral cascades of ``snapshot``: size, depth and structural virality of every
    tree of the bindings in force at ``as_of`` with at least ``min_size`` customers."""
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"takes a Snapshot, got {type(snapshot).__name__}")
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValidationError(f"min_size must be a whole number >= 1, got {min_size!r}")
    b = _bindings(snapshot, bindings)
    parent = _parents(b)
    n = parent.size
    depth, root = _depths(parent)
    # subtree sizes, deepest level first: a loop over levels, never over customers
    size = np.ones(n, dtype=np.int64)
    by_depth = np.argsort(depth, kind="stable")
    level_end = np.searchsorted(depth[by_depth], np.arange(int(depth.max(initial=0)) + 2))
    for d in range(int(depth.max(initial=0)), 0, -1):
        nodes = by_depth[level_end[d] : level_end[d + 1]]
        np.add.at(size, parent[nodes], size[nodes])
    tree_size = np.bincount(root, minlength=n)
    child = np.flatnonzero(parent >= 0)
    wiener = np.bincount(
        root[child], weights=size[child] * (tree_size[root[child]] - size[child]), minlength=n
    ).astype(np.int64)
    tree_depth = np.zeros(n, dtype=np.int64)
    np.maximum.at(tree_depth, root, depth)
    roots = np.flatnonzero((parent < 0) & (tree_size >= min_size))
    ids = snapshot.customer_ids
    _, by_id = np.unique(ids[roots].astype(str), return_inverse=True)
    roots = roots[np.lexsort((by_id, -tree_size[roots]))]
    m = tree_size[roots]
    with np.errstate(invalid="ignore", divide="ignore"):
        virality = np.where(m >= 2, 2.0 * wiener[roots] / (m * (m - 1.0)), np.nan)
    return Cascades(ids[roots], m.astype(np.int64), tree_depth[roots], virality, wiener[roots])


@attrs.frozen(eq=False)
class KocRanking:
    """Referrers ranked by the value they brought: the net revenue of the orders their
    invitees placed while bound to them (tier 1), then of their invitees' invitees (tier 2)."""

    customer_ids: NDArray[np.object_]
    referred: NDArray[np.int64]
    """Customers bound to this one as of the snapshot."""
    revenue_minor: NDArray[np.int64]
    """Referred value: net revenue of orders by customers while bound to this one."""
    second_tier_revenue_minor: NDArray[np.int64]
    """Net revenue of orders by customers bound, at the time, to one bound to this one."""
    currency: str

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per referrer, best first."""
        return [
            {
                "rank": k + 1,
                "customer_id": c,
                "referred": int(r),
                "revenue_minor": int(v),
                "second_tier_revenue_minor": int(w),
            }
            for k, (c, r, v, w) in enumerate(
                zip(
                    self.customer_ids.tolist(),
                    self.referred.tolist(),
                    self.revenue_minor.tolist(),
                    self.second_tier_revenue_minor.tolist(),
                    strict=True,
                )
            )
        ]


def koc_ranking(
    snapshot: Snapshot, bindings: Bindings | BindingPolicy | None = None, *, top: int | None = 10
) -> KocRanking:
    """The ``top`` referrers by referred value (ties: more referred customers first, then by
    id); ``top=None`` ranks every customer who referred someone or brought revenue."""
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"takes a Snapshot, got {type(snapshot).__name__}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValidationError(f"top must be a whole number >= 1 or None, got {top!r}")
    b = _bindings(snapshot, bindings)
    n = len(snapshot)
    stats = referrer_stats(snapshot, b)
    log = snapshot.order_log
    at = _us(log.at)
    tier1 = _referrer_at(b, log.row.astype(np.int64), at)
    has = np.flatnonzero(tier1 >= 0)
    tier2 = _referrer_at(b, tier1[has], at[has])
    net = (log.gross_minor - log.refunded_minor).astype(np.int64)[has]
    second = np.zeros(n, dtype=np.int64)
    np.add.at(second, tier2[tier2 >= 0], net[tier2 >= 0])
    rows = np.flatnonzero((stats.referred > 0) | (stats.revenue_minor != 0))
    ids = snapshot.customer_ids
    _, by_id = np.unique(ids[rows].astype(str), return_inverse=True)
    rows = rows[np.lexsort((by_id, -stats.referred[rows], -stats.revenue_minor[rows]))]
    if top is not None:
        rows = rows[:top]
    return KocRanking(
        ids[rows],
        stats.referred[rows],
        stats.revenue_minor[rows],
        second[rows],
        snapshot.currency,
    )
