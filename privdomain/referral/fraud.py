"""Fraud checks on referral: who games the invitation graph, and which agents route orders
around the platform (跑单). Every flag comes with its evidence; flagged credit can be held.

The checks read the snapshot's invitation graph and order log as integer arrays:

- **self-referral**: a customer registered as their own referrer, or inviting themself;
- **rings**: customers who invited each other round a loop (the strongly connected components
  of the invitation graph, of two customers or more, found with ``scipy.sparse.csgraph``);
- **bursts**: many invitations from one customer in a short window (sliding-window counts with
  a binary search over the invitations sorted by inviter and time);
- **idle invitees**: a referrer most of whose invitees never buy within a window of joining;
- **agent bypass**: an agent's customers buying, right after being bound to the agent, without
  the agent or on a public platform.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.channels import Channel
from privdomain.errors import ValidationError
from privdomain.referral.binding import BindingPolicy, Bindings, _search, bind
from privdomain.result import Result, plain_column

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = ["Evidence", "FraudFlag", "FraudPolicy", "FraudReport", "check_fraud"]

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


class FraudFlag(enum.IntFlag):
    """What a check found (bits of :attr:`FraudReport.flags` and
    :attr:`FraudReport.agent_flags`)."""

    SELF_REFERRAL = 1
    """The customer is their own registered referrer, or invited themself."""
    RING = 2
    """The customer is on a loop of invitations (A invited B ... invited A)."""
    BURST = 4
    """The customer sent at least ``burst_invitations`` invitations within
    ``burst_window_hours``."""
    IDLE_INVITEES = 8
    """Most of the customer's invitees never bought within ``idle_days`` of joining."""
    AGENT_BYPASS = 16
    """The agent's customers bought without the agent, or on a public platform, within
    ``bypass_days`` of being bound to the agent."""

    @property
    def text(self) -> str:
        """The flags in words (``"not flagged"`` for none)."""
        names = [_TEXT[f] for f in FraudFlag if f in self]
        return "; ".join(names) if names else "not flagged"


_TEXT = {
    FraudFlag.SELF_REFERRAL: "self-referral",
    FraudFlag.RING: "invitation ring",
    FraudFlag.BURST: "invitation burst",
    FraudFlag.IDLE_INVITEES: "invitees who never buy",
    FraudFlag.AGENT_BYPASS: "agent bypass",
}
_ALL = FraudFlag(sum(FraudFlag))


def _number(minimum: float, *, integer: bool = False) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        kinds = int if integer else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not value >= minimum:
            what = "a whole number" if integer else "a number"
            raise ValidationError(f"{attribute.name} must be {what} >= {minimum}, got {value!r}")

    return check


def _share(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValidationError(f"{attribute.name} must be in (0, 1], got {value!r}")


def _flags(value: object) -> FraudFlag:
    if isinstance(value, FraudFlag):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _ALL:
        raise ValidationError(f"hold must be FraudFlag bits, got {value!r}")
    return FraudFlag(value)


@attrs.frozen
class FraudPolicy:
    """The thresholds of the fraud checks, and which flags hold credit.

    Attributes
    ----------
    burst_window_hours
        The sliding window of the burst check (default 1 hour).
    burst_invitations
        Invitations from one customer within the window that make a burst (default 20).
    idle_days
        An invitee who has not bought within this many days of joining is idle (default 30);
        invitees who joined less than ``idle_days`` before ``as_of`` are not judged yet.
    idle_min_invitees
        Judged invitees a referrer needs before the idle check flags them (default 5).
    idle_share
        Share of idle invitees that flags a referrer (default 0.8).
    bypass_days
        How long after a customer is bound to an agent their orders are watched (default 7).
    bypass_orders
        Orders without the agent in that window, over all the agent's customers, that flag
        the agent (default 2) ...
    bypass_share
        ... when they are also at least this share of the orders watched (default 0.5): an
        agent most of whose new customers' first orders go elsewhere.
    hold
        The flags whose credit :func:`~privdomain.referral.attribute` holds (default: all).
    """

    burst_window_hours: float = attrs.field(default=1.0, validator=_number(0))
    burst_invitations: int = attrs.field(default=20, validator=_number(2, integer=True))
    idle_days: float = attrs.field(default=30.0, validator=_number(0))
    idle_min_invitees: int = attrs.field(default=5, validator=_number(1, integer=True))
    idle_share: float = attrs.field(default=0.8, validator=_share)
    bypass_days: float = attrs.field(default=7.0, validator=_number(0))
    bypass_orders: int = attrs.field(default=2, validator=_number(1, integer=True))
    bypass_share: float = attrs.field(default=0.5, validator=_share)
    hold: FraudFlag = attrs.field(default=_ALL, converter=_flags)


@attrs.frozen(eq=False)
class Evidence:
    """One check's evidence: aligned columns (who, what, when, how many)."""

    check: str
    cols: dict[str, NDArray[Any]] = attrs.field(repr=False)

    def __len__(self) -> int:
        return int(next(iter(self.cols.values())).shape[0]) if self.cols else 0

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every column by name."""
        return dict(self.cols)

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per piece of evidence (datetimes aware UTC)."""
        plain = {k: plain_column(np.asarray(v)) for k, v in self.cols.items()}
        return [dict(zip(plain, row, strict=True)) for row in zip(*plain.values(), strict=True)]

    def mentions(self, name: str, value: object) -> NDArray[np.bool_]:
        """Which rows have ``value`` in column ``name``."""
        return np.asarray(self.cols[name] == value)


@attrs.frozen(eq=False)
class FraudReport(Result):
    """The fraud flags of every customer of a snapshot (and of every agent), with evidence.

    :attr:`flags` is aligned to the snapshot's rows (:class:`FraudFlag` bits, 0 for none);
    :attr:`agent_flags` to :attr:`agent_ids`. The evidence tables name customers and agents by
    id, so a row selection of the report still explains its customers:

    - :attr:`self_referrals`: ``customer_id``, ``at``, ``source`` (``"referrer"`` or
      ``"invitation"``);
    - :attr:`rings`: ``customer_id``, ``ring`` (numbered by the smallest member id),
      ``ring_size``;
    - :attr:`bursts`: ``customer_id``, ``window_start``, ``invitations`` (the most in one
      window);
    - :attr:`idle`: ``customer_id``, ``invitees`` (judged), ``idle`` (never bought in time);
    - :attr:`bypass`: ``agent_id``, ``customer_id``, ``order_id``, ``at``, ``bound_at``,
      ``channel``, ``order_agent`` (the agent the order names, else the one bound at the time;
      ``None`` for none).
    """

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "flags")

    customer_ids: NDArray[np.object_]
    flags: NDArray[np.uint8]
    agent_ids: tuple[str, ...]
    agent_flags: NDArray[np.uint8]
    policy: FraudPolicy
    self_referrals: Evidence = attrs.field(repr=False)
    rings: Evidence = attrs.field(repr=False)
    bursts: Evidence = attrs.field(repr=False)
    idle: Evidence = attrs.field(repr=False)
    bypass: Evidence = attrs.field(repr=False)

    def columns(self) -> dict[str, NDArray[Any]]:
        """``customer_id`` and ``flags`` (the :class:`FraudFlag` bits)."""
        return {"customer_id": self.customer_ids, "flags": self.flags}

    @property
    def flagged(self) -> NDArray[np.bool_]:
        """Which customers carry at least one flag."""
        return np.asarray(self.flags != 0)

    def evidence(self) -> dict[str, Evidence]:
        """Every check's evidence by check name."""
        return {
            e.check: e
            for e in (self.self_referrals, self.rings, self.bursts, self.idle, self.bypass)
        }

    def explain(self, customer_id: str) -> str:
        """A customer's flags, or an agent's, with the evidence behind them."""
        if customer_id in self.agent_ids and customer_id not in self.customer_ids:
            k = self.agent_ids.index(customer_id)
            lines = [f"agent {customer_id!r}: {FraudFlag(int(self.agent_flags[k])).text}"]
            hits = np.flatnonzero(self.bypass.mentions("agent_id", customer_id))
            for rec in _records(self.bypass, hits):
                lines.append(
                    f"  order {rec['order_id']!r} by {rec['customer_id']!r} on {rec['channel']} "
                    f"(order agent {rec['order_agent']!r}), "
                    f"{_ago(rec['at'], rec['bound_at'])} after binding"
                )
            return "\n".join(lines)
        i = self.row(customer_id)
        lines = [f"customer {customer_id!r}: {FraudFlag(int(self.flags[i])).text}"]
        for e in (self.self_referrals, self.rings, self.bursts, self.idle):
            for rec in _records(e, np.flatnonzero(e.mentions("customer_id", customer_id))):
                details = ", ".join(f"{k} {v}" for k, v in rec.items() if k != "customer_id")
                lines.append(f"  {e.check}: {details}")
        return "\n".join(lines)

    @classmethod
    def concat(cls, parts: Iterable[FraudReport]) -> FraudReport:
        """One report of the customers of several (say, of the snapshots of independent
        groups of customers, each checked whole): flags row by row, agents' flags combined,
        evidence joined. Rings and bursts are found only within one part's invitation graph,
        so check a snapshot whose customers' referral groups are not split across parts.

        Raises
        ------
        ValidationError
            As :meth:`Result.concat`, or when the parts' agent codes differ.
        """
        items = list(parts) if isinstance(parts, Iterable) else []
        joined = super().concat(items)
        longest = max((p.agent_ids for p in items), key=len)
        agent_flags = np.zeros(len(longest), dtype=np.uint8)
        for p in items:
            if p.agent_ids != longest[: len(p.agent_ids)]:
                raise ValidationError("concat needs reports of one pool (agent codes differ)")
            agent_flags[: len(p.agent_ids)] |= p.agent_flags
        evidence: dict[str, Any] = {
            name: Evidence(
                getattr(joined, name).check,
                {
                    col: np.concatenate([getattr(p, name).cols[col] for p in items])
                    for col in getattr(joined, name).cols
                },
            )
            for name in ("self_referrals", "rings", "bursts", "idle", "bypass")
        }
        return attrs.evolve(joined, agent_ids=longest, agent_flags=agent_flags, **evidence)

    def holds(self) -> FraudFlag:
        """The flags that hold credit (``policy.hold``)."""
        return self.policy.hold

    def _hold_flags(
        self,
        names: NDArray[np.object_],
        snapshot: Snapshot,
        who: NDArray[np.int64],
        is_agent: NDArray[np.bool_],
        buyer: NDArray[np.int64],
    ) -> NDArray[np.uint8]:
        """The held flags of ledger entries: a referrer's entry is held when the referrer is
        flagged, or the buyer is a self-referrer or on a ring; an agent's when the agent is
        flagged. ``who`` and ``buyer`` are rows of ``names`` (agents: codes of ``snapshot``)."""
        mask = np.uint8(int(self.policy.hold))
        by_customer = _flags_of(self, names) & mask
        agent_flags = np.zeros(len(snapshot.agent_names) + 1, dtype=np.uint8)
        k = min(len(self.agent_ids), len(snapshot.agent_names))
        if self.agent_ids[:k] != tuple(snapshot.agent_names[:k]):
            raise ValidationError("hold needs a FraudReport of the same pool (agent codes differ)")
        agent_flags[:k] = self.agent_flags[:k] & mask
        buyer_bits = np.uint8(int(FraudFlag.SELF_REFERRAL | FraudFlag.RING))
        out = np.where(
            is_agent,
            agent_flags[np.where(is_agent, who, -1)],
            by_customer[np.where(is_agent, 0, who)] | (by_customer[buyer] & buyer_bits),
        )
        return np.asarray(out, dtype=np.uint8)


def _flags_of(report: FraudReport, names: NDArray[np.object_]) -> NDArray[np.uint8]:
    """The report's customer flags for customers ``names`` (0 for customers it lacks)."""
    ids = report.customer_ids
    if ids is names or (ids.shape == names.shape and np.array_equal(ids, names)):
        return report.flags
    out = np.zeros(names.size, dtype=np.uint8)
    if ids.size == 0 or names.size == 0:
        return out
    keys = ids.astype(str)
    order = np.argsort(keys, kind="stable")
    wanted = names.astype(str)
    pos = np.minimum(np.searchsorted(keys[order], wanted), keys.size - 1)
    ok = keys[order[pos]] == wanted
    out[ok] = report.flags[order[pos[ok]]]
    return out


def _records(e: Evidence, rows: NDArray[np.intp]) -> list[dict[str, Any]]:
    return Evidence(e.check, {k: v[rows] for k, v in e.cols.items()}).to_records()


def _ago(later: Any, earlier: Any) -> str:
    return str(later - earlier) if later is not None and earlier is not None else "?"


def _us(values: NDArray[Any]) -> NDArray[np.int64]:
    return np.asarray(values.astype("datetime64[us]").view(np.int64))


def check_fraud(
    snapshot: Snapshot,
    policy: FraudPolicy | None = None,
    *,
    bindings: Bindings | BindingPolicy | None = None,
) -> FraudReport:
    """Run every fraud check on ``snapshot`` under ``policy`` (default thresholds).

    Parameters
    ----------
    snapshot
        The invitation graph and the order log as of ``snapshot.as_of``.
    policy
        The thresholds, and which flags hold credit (:class:`FraudPolicy`).
    bindings
        Who each customer is bound to, for the idle-invitee check (default: a permanent
        binding of ``snapshot``).

    Returns
    -------
    FraudReport
        One row of :class:`FraudFlag` bits per customer, agents' flags, and the evidence.
        The flags depend on the customers, invitations and orders, never on the order the
        records arrived in.
    """
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"check_fraud() takes a Snapshot, got {type(snapshot).__name__}")
    policy = FraudPolicy() if policy is None else policy
    if not isinstance(policy, FraudPolicy):
        raise ValidationError(f"policy must be a FraudPolicy, got {type(policy).__name__}")
    if bindings is None or isinstance(bindings, BindingPolicy):
        bindings = bind(snapshot, bindings)
    if not isinstance(bindings, Bindings) or len(bindings) != len(snapshot):
        raise ValidationError("bindings must be a Bindings of this snapshot, or a BindingPolicy")
    n = len(snapshot)
    ids = snapshot.customer_ids
    flags = np.zeros(n, dtype=np.uint8)
    self_ev = _self_referrals(snapshot, flags)
    ring_ev = _rings(snapshot, flags)
    burst_ev = _bursts(snapshot, policy, flags)
    idle_ev = _idle(snapshot, policy, bindings, flags)
    agent_flags, bypass_ev = _bypass(snapshot, policy)
    del ids
    return FraudReport(
        customer_ids=snapshot.customer_ids,
        flags=flags,
        agent_ids=tuple(snapshot.agent_names),
        agent_flags=agent_flags,
        policy=policy,
        self_referrals=self_ev,
        rings=ring_ev,
        bursts=burst_ev,
        idle=idle_ev,
        bypass=bypass_ev,
    )


def _self_referrals(snapshot: Snapshot, flags: NDArray[np.uint8]) -> Evidence:
    n = len(snapshot)
    own = np.flatnonzero(snapshot.referrer_row == np.arange(n))
    inv = snapshot.invitations
    self_inv = np.flatnonzero(inv.row == inv.invitee_row)
    rows = np.concatenate([own, inv.row[self_inv]]).astype(np.int64)
    at = np.concatenate([_us(snapshot.joined_at[own]), _us(inv.at[self_inv])])
    source = np.asarray(["referrer"] * own.size + ["invitation"] * self_inv.size, dtype=object)
    order = np.lexsort((source, at, _id_rank(snapshot)[rows]))
    flags[rows] |= np.uint8(FraudFlag.SELF_REFERRAL)
    return Evidence(
        "self-referral",
        {
            "customer_id": snapshot.customer_ids[rows[order]],
            "at": at[order].view("datetime64[us]"),
            "source": source[order],
        },
    )


def _id_rank(snapshot: Snapshot) -> NDArray[np.int64]:
    """Each row's rank by customer id: an order that does not depend on row order."""
    rank = np.empty(len(snapshot), dtype=np.int64)
    rank[np.argsort(snapshot.customer_ids.astype(str), kind="stable")] = np.arange(len(snapshot))
    return rank


def _rings(snapshot: Snapshot, flags: NDArray[np.uint8]) -> Evidence:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(snapshot)
    inv = snapshot.invitations
    has_ref = np.flatnonzero(snapshot.referrer_row >= 0)
    joined = inv.invitee_row >= 0
    src = np.concatenate([snapshot.referrer_row[has_ref], inv.row[joined]]).astype(np.int64)
    dst = np.concatenate([has_ref, inv.invitee_row[joined]]).astype(np.int64)
    loop = src != dst  # a self-loop is a self-referral, not a ring
    src, dst = src[loop], dst[loop]
    empty = {
        "customer_id": np.zeros(0, dtype=object),
        "ring": np.zeros(0, np.int64),
        "ring_size": np.zeros(0, np.int64),
    }
    if src.size == 0:
        return Evidence("ring", empty)
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _, label = connected_components(graph, directed=True, connection="strong")
    size = np.bincount(label)
    members = np.flatnonzero(size[label] >= 2)
    if members.size == 0:
        return Evidence("ring", empty)
    flags[members] |= np.uint8(FraudFlag.RING)
    rank = _id_rank(snapshot)[members]
    lab = label[members]
    # number rings by their smallest member id; members by id
    smallest = np.full(label.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(smallest, lab, rank)
    _, ring = np.unique(smallest[lab], return_inverse=True)
    order = np.lexsort((rank, ring))
    return Evidence(
        "ring",
        {
            "customer_id": snapshot.customer_ids[members[order]],
            "ring": ring[order].astype(np.int64),
            "ring_size": size[lab[order]].astype(np.int64),
        },
    )


def _bursts(snapshot: Snapshot, policy: FraudPolicy, flags: NDArray[np.uint8]) -> Evidence:
    inv = snapshot.invitations
    who = inv.row.astype(np.int64)
    t = _us(inv.at)
    order = np.lexsort((t, who))
    who, t = who[order], t[order]
    window = round(policy.burst_window_hours * _HOUR_US)
    # invitations of the same inviter in [t_i, t_i + window): from the first at t_i (ties
    # count alike, whatever their order) to the first at or after t_i + window
    first = _search(who, t, who, t)
    end = _search(who, t, who, t + window) if window > 0 else first + 1
    count = (end - first).astype(np.int64)
    hot = count >= policy.burst_invitations
    if not hot.any():
        return Evidence(
            "burst",
            {
                "customer_id": np.zeros(0, dtype=object),
                "window_start": np.zeros(0, dtype="datetime64[us]"),
                "invitations": np.zeros(0, np.int64),
            },
        )
    # per inviter: the most in one window, the earliest such window
    k = np.flatnonzero(hot)
    pick = np.lexsort((t[k], -count[k], who[k]))
    k = k[pick]
    keep = np.ones(k.size, dtype=bool)
    keep[1:] = who[k][1:] != who[k][:-1]
    k = k[keep]
    flags[who[k]] |= np.uint8(FraudFlag.BURST)
    by_id = np.argsort(_id_rank(snapshot)[who[k]], kind="stable")
    k = k[by_id]
    return Evidence(
        "burst",
        {
            "customer_id": snapshot.customer_ids[who[k]],
            "window_start": t[k].view("datetime64[us]"),
            "invitations": count[k],
        },
    )


def _idle(
    snapshot: Snapshot, policy: FraudPolicy, bindings: Bindings, flags: NDArray[np.uint8]
) -> Evidence:
    n = len(snapshot)
    who, ref, _ = bindings.history()
    parent = np.full(n, -1, dtype=np.int64)
    parent[who] = ref  # sorted by invitee then time: the last binding stays
    joined = _us(snapshot.joined_at)
    first = snapshot.first_purchase.astype("datetime64[us]")
    window = round(policy.idle_days * _DAY_US)
    as_of = int(np.datetime64(snapshot.as_of.replace(tzinfo=None), "us").view(np.int64))
    judged = (parent >= 0) & (joined + window <= as_of)
    bought = ~np.isnat(first) & (first.view(np.int64) <= joined + window)
    invitees = np.bincount(parent[judged], minlength=n)
    idle = np.bincount(parent[judged & ~bought], minlength=n)
    hit = (invitees >= policy.idle_min_invitees) & (
        idle >= policy.idle_share * np.maximum(invitees, 1)
    )
    rows = np.flatnonzero(hit)
    flags[rows] |= np.uint8(FraudFlag.IDLE_INVITEES)
    rows = rows[np.argsort(_id_rank(snapshot)[rows], kind="stable")]
    return Evidence(
        "idle invitees",
        {
            "customer_id": snapshot.customer_ids[rows],
            "invitees": invitees[rows].astype(np.int64),
            "idle": idle[rows].astype(np.int64),
        },
    )


def _bypass(snapshot: Snapshot, policy: FraudPolicy) -> tuple[NDArray[np.uint8], Evidence]:
    k = len(snapshot.agent_names)
    agent = snapshot.agent.astype(np.int64)
    # bound to the agent since the customer's first invitation through that agent, or since
    # joining when no invitation names the agent
    bound_at = _us(snapshot.joined_at).copy()
    inv = snapshot.invitations
    via = np.flatnonzero(
        (inv.invitee_row >= 0)
        & (inv.agent >= 0)
        & (inv.agent == agent[np.maximum(inv.invitee_row, 0)])
    )
    if via.size:
        t = _us(inv.at[via])
        first = np.full(len(snapshot), np.iinfo(np.int64).max)
        np.minimum.at(first, inv.invitee_row[via], t)
        has = first < np.iinfo(np.int64).max
        bound_at[has] = first[has]
    log = snapshot.order_log
    mine = agent[log.row]
    t = _us(log.at)
    start = bound_at[log.row]
    public = (log.channel >= Channel.TAOBAO.value) & (log.channel <= Channel.OTHER_PUBLIC.value)
    elsewhere = (log.agent.astype(np.int64) != mine) | public
    window = round(policy.bypass_days * _DAY_US)
    watched = np.flatnonzero((mine >= 0) & (t >= start) & (t <= start + window))
    hit = watched[elsewhere[watched]]
    counts = np.bincount(mine[hit], minlength=k)[:k]
    seen = np.bincount(mine[watched], minlength=k)[:k]
    bad = (counts >= policy.bypass_orders) & (counts >= policy.bypass_share * seen)
    agent_flags = np.where(bad, int(FraudFlag.AGENT_BYPASS), 0)
    flagged = hit[agent_flags[mine[hit]] != 0]
    from privdomain.referral.commission import _order_keys

    _, by_order = np.unique(_order_keys(log.order_id[flagged]), return_inverse=True)
    order = np.lexsort((by_order, t[flagged], _id_rank(snapshot)[log.row[flagged]], mine[flagged]))
    flagged = flagged[order]
    names = np.asarray([*snapshot.agent_names, None], dtype=object)
    channel_names = np.empty(max(c.value for c in Channel) + 1, dtype=object)
    for c in Channel:
        channel_names[c.value] = c.name.lower()
    return agent_flags.astype(np.uint8), Evidence(
        "agent bypass",
        {
            "agent_id": names[mine[flagged]],
            "customer_id": snapshot.customer_ids[log.row[flagged]],
            "order_id": log.order_id[flagged],
            "at": t[flagged].view("datetime64[us]"),
            "bound_at": start[flagged].view("datetime64[us]"),
            "channel": channel_names[log.channel[flagged]],
            "order_agent": names[log.agent[flagged]],
        },
    )
