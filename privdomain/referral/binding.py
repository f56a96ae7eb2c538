"""Who owns a referred customer: binding modes as data, every decision with its reason.

The candidates are the customers' registered referrers (``Snapshot.referrer_row``, dated at
the invitee's join) and every invitation of a joined invitee (``Snapshot.invitations``). They
are decided per invitee in time order, with numpy throughout; the result keeps the binding in
force at every instant (a history of parent pointers), so that an order is credited to whoever
owned the customer when it was placed.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError
from privdomain.result import Result

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = ["BindingMode", "BindingPolicy", "Bindings", "Reason", "bind"]

_DAY_US = 86_400_000_000


class BindingMode(enum.StrEnum):
    """How a later invitation competes with an existing binding."""

    PERMANENT = "permanent"
    """First touch: the first binding is locked for good."""
    EXPIRING = "expiring"
    """A binding is protected for ``protection_days``; a later invitation then rebinds."""
    LAST_TOUCH = "last_touch"
    """Every invitation rebinds."""


class Reason(enum.IntEnum):
    """Why a candidate binding was accepted or refused (codes of :attr:`Bindings.reason`)."""

    BOUND = 0
    SELF = 1
    UPLINE = 2
    NOT_NEW = 3
    LOCKED = 4
    PROTECTED = 5

    @property
    def text(self) -> str:
        """The reason in words."""
        return _TEXT[self]


_TEXT = {
    Reason.BOUND: "bound",
    Reason.SELF: "refused: a customer cannot be bound to themself",
    Reason.UPLINE: "refused: the invitee is the inviter's own upline (it would close a loop)",
    Reason.NOT_NEW: "refused: only brand-new customers can be bound",
    Reason.LOCKED: "refused: already bound, and permanent bindings are locked",
    Reason.PROTECTED: "refused: the current binding is still within its protection period",
}


def _mode(value: object) -> BindingMode:
    try:
        return BindingMode(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError(
            f"binding mode must be one of {[m.value for m in BindingMode]}, got {value!r}"
        ) from None


def _days(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(f"{attribute.name} must be a number of days >= 0, got {value!r}")


def _flag(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ValidationError(f"{attribute.name} must be True or False, got {value!r}")


@attrs.frozen
class BindingPolicy:
    """A binding mode as data.

    Attributes
    ----------
    mode
        :class:`BindingMode` (or its value): ``"permanent"``, ``"expiring"`` or ``"last_touch"``.
    protection_days
        For ``"expiring"``: how long a binding is protected from rebinding (default 30 days).
    new_customers_only
        Bind only brand-new customers: an invitee who had joined before the invitation, or
        had bought before it, is refused.
    """

    mode: BindingMode = attrs.field(default=BindingMode.PERMANENT, converter=_mode)
    protection_days: float = attrs.field(default=30, validator=_days)
    new_customers_only: bool = attrs.field(default=False, validator=_flag)


@attrs.frozen(eq=False)
class Bindings(Result):
    """The binding of every customer as of the snapshot, and every decision made on the way.

    Per customer (aligned to the snapshot's rows): :attr:`referrer_ids` and :attr:`bound_at`
    (``None``/NaT when unbound). Per candidate (the ``candidate_*`` arrays, in decision order):
    who invited whom, when, where it came from (``"referrer"``: the registered referrer,
    ``"invitation"``: an invitation) and the :class:`Reason` of its decision.
    """

    _row_fields: ClassVar[tuple[str, ...]] = ("customer_ids", "referrer_ids", "bound_at")

    customer_ids: NDArray[np.object_]
    referrer_ids: NDArray[np.object_]
    bound_at: NDArray[np.datetime64]
    policy: BindingPolicy
    candidate_invitee: NDArray[np.int64] = attrs.field(repr=False)
    """Row of the invitee (in the snapshot bound)."""
    candidate_inviter: NDArray[np.int64] = attrs.field(repr=False)
    candidate_at: NDArray[np.datetime64] = attrs.field(repr=False)
    candidate_source: NDArray[np.uint8] = attrs.field(repr=False)
    """0: the registered referrer, 1: an invitation."""
    reason: NDArray[np.int8] = attrs.field(repr=False)
    candidate_ids: NDArray[np.object_] = attrs.field(repr=False)
    """Customer ids by the row numbers the candidates use (those of the snapshot bound), so
    that a row selection of the bindings still explains its customers."""

    def columns(self) -> dict[str, NDArray[Any]]:
        """``customer_id``, ``referrer_id``, ``bound_at``."""
        return {
            "customer_id": self.customer_ids,
            "referrer_id": self.referrer_ids,
            "bound_at": self.bound_at,
        }

    def history(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.datetime64]]:
        """The accepted bindings as parent pointers in time: ``(invitee_row, referrer_row,
        from_at)``, sorted by invitee then time. Row numbers are those of the snapshot bound."""
        ok = self.reason == Reason.BOUND
        return self.candidate_invitee[ok], self.candidate_inviter[ok], self.candidate_at[ok]

    def explain(self, customer_id: str) -> str:
        """Every candidate binding of one customer, with its decision."""
        i = self.row(customer_id)
        lines = [f"customer {customer_id!r}: {self.policy.mode.value} binding"]
        own = np.flatnonzero(self.candidate_ids == customer_id)
        mine = np.flatnonzero(self.candidate_invitee == own[0]) if own.size else own
        if mine.size == 0:
            lines.append("  nobody invited this customer")
        for k in mine:
            src = "registered referrer" if self.candidate_source[k] == 0 else "invitation"
            who = self.candidate_ids[self.candidate_inviter[k]]
            text = Reason(int(self.reason[k])).text
            lines.append(f"  {self.candidate_at[k]} {src} {who!r}: {text}")
        ref = self.referrer_ids[i]
        lines.append(f"  bound to {ref!r}" if ref is not None else "  not bound")
        return "\n".join(lines)


def bind(snapshot: Snapshot, policy: BindingPolicy | None = None) -> Bindings:
    """Decide who owns every referred customer of ``snapshot`` under ``policy``.

    Candidates of one invitee are decided in time order (a registered referrer before an
    invitation at the same instant). Self-bindings, and, with ``new_customers_only``, invitees
    not brand new, are refused first; then the mode decides which of the rest bind; a binding
    that would make the invitee its own inviter's downline and upline at once (a loop) is
    refused as ``UPLINE`` and the invitee's next candidate is considered.
    """
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"bind() takes a Snapshot, got {type(snapshot).__name__}")
    policy = BindingPolicy() if policy is None else policy
    if not isinstance(policy, BindingPolicy):
        raise ValidationError(f"policy must be a BindingPolicy, got {type(policy).__name__}")
    n = len(snapshot)
    inv = snapshot.invitations
    has_ref = np.flatnonzero(snapshot.referrer_row >= 0)
    joined = inv.invitee_row >= 0
    invitee = np.concatenate([has_ref, inv.invitee_row[joined]]).astype(np.int64)
    inviter = np.concatenate([snapshot.referrer_row[has_ref], inv.row[joined]]).astype(np.int64)
    at = np.concatenate(
        [
            snapshot.joined_at[has_ref].astype("datetime64[us]"),
            inv.at[joined].astype("datetime64[us]"),
        ]
    )
    source = np.concatenate(
        [np.zeros(has_ref.size, np.uint8), np.ones(int(joined.sum()), np.uint8)]
    )
    # ties (one invitee, one instant, one source) go by the inviter's id: not by log or row
    # order, which depend on the order records arrived in
    order = np.lexsort((source, at.view(np.int64), invitee))
    tied = _ties(invitee[order], at.view(np.int64)[order], source[order])
    if tied.size:
        # only then rank by id: sorting a million ids costs more than all the rest
        by_id = _id_rank(snapshot.customer_ids)
        order = np.lexsort((by_id[inviter], source, at.view(np.int64), invitee))
    invitee, inviter, at, source = invitee[order], inviter[order], at[order], source[order]

    reason = np.full(invitee.size, -1, dtype=np.int8)
    reason[invitee == inviter] = Reason.SELF
    if policy.new_customers_only:
        t = at.view(np.int64)
        joined_us = snapshot.joined_at.astype("datetime64[us]").view(np.int64)[invitee]
        first = snapshot.first_purchase.astype("datetime64[us]")[invitee]
        bought = ~np.isnat(first) & (first.view(np.int64) < t)
        not_new = ((joined_us < t) & (source == 1)) | bought
        reason[(reason < 0) & not_new] = Reason.NOT_NEW

    while True:
        _decide(reason, invitee, at, policy)
        loop = _loop_edges(reason, invitee, inviter, at, snapshot.customer_ids)
        if loop.size == 0:
            break
        reason[loop] = Reason.UPLINE
        undecided = np.isin(reason, [Reason.BOUND, Reason.LOCKED, Reason.PROTECTED])
        reason[undecided] = -1

    referrer_row, bound_at = _current(reason, invitee, inviter, at, n)
    ids = snapshot.customer_ids
    referrer_ids = np.empty(n, dtype=object)
    has = referrer_row >= 0
    referrer_ids[has] = ids[referrer_row[has]]
    return Bindings(
        customer_ids=ids,
        referrer_ids=referrer_ids,
        bound_at=bound_at,
        policy=policy,
        candidate_invitee=invitee,
        candidate_inviter=inviter,
        candidate_at=at,
        candidate_source=source,
        reason=reason,
        candidate_ids=ids,
    )


def _ties(*keys: NDArray[Any]) -> NDArray[np.intp]:
    """Positions, in arrays sorted by ``keys``, equal on every key to the one before."""
    if keys[0].size < 2:
        return np.zeros(0, dtype=np.intp)
    same = np.ones(keys[0].size - 1, dtype=bool)
    for key in keys:
        same &= key[1:] == key[:-1]
    return np.flatnonzero(same) + 1


def _id_rank(ids: NDArray[np.object_]) -> NDArray[np.intp]:
    """Each id's rank among ``ids`` (ties broken by id, never by row or log order)."""
    _, rank = np.unique(ids.astype(str), return_inverse=True)
    return np.asarray(rank, dtype=np.intp)


def _decide(
    reason: NDArray[np.int8], invitee: NDArray[np.int64], at: NDArray[Any], policy: BindingPolicy
) -> None:
    """Mark every undecided candidate BOUND, LOCKED or PROTECTED (candidates sorted by invitee,
    then time)."""
    open_ = np.flatnonzero(reason < 0)
    if open_.size == 0:
        return
    who = invitee[open_]
    first = np.ones(open_.size, dtype=bool)
    first[1:] = who[1:] != who[:-1]
    if policy.mode is BindingMode.LAST_TOUCH:
        reason[open_] = Reason.BOUND
        return
    if policy.mode is BindingMode.PERMANENT:
        reason[open_] = np.where(first, Reason.BOUND, Reason.LOCKED)
        return
    # expiring: greedily, the next binding is the first candidate at or after the current
    # binding's time plus the protection period; one round per rebinding.
    protect = round(policy.protection_days * _DAY_US)
    t = at[open_].view(np.int64)
    key_who = who.astype(np.int64)
    accepted = first.copy()
    current = np.flatnonzero(first)
    while current.size:
        # the first candidate of the same invitee with time >= t + protect, after `current`
        target = t[current] + protect
        # search in (invitee, time) order: candidates are sorted by both
        pos = _search(key_who, t, key_who[current], target)
        pos = np.maximum(pos, current + 1)
        ok = (pos < open_.size) & (key_who[np.minimum(pos, open_.size - 1)] == key_who[current])
        current = pos[ok]
        accepted[current] = True
    reason[open_] = np.where(accepted, Reason.BOUND, Reason.PROTECTED)


def _search(
    who: NDArray[np.int64], t: NDArray[np.int64], qwho: NDArray[np.int64], qt: NDArray[np.int64]
) -> NDArray[np.intp]:
    """First index with (who, t) >= (qwho, qt) in arrays sorted by (who, t)."""
    lo = np.searchsorted(who, qwho, side="left")
    hi = np.searchsorted(who, qwho, side="right")
    lo.copy()
    for _ in range(64):  # binary search, vectorised over queries
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        go_right = active & (t[np.minimum(mid, t.size - 1)] < qt)
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)
    return lo


def _current(
    reason: NDArray[np.int8],
    invitee: NDArray[np.int64],
    inviter: NDArray[np.int64],
    at: NDArray[Any],
    n: int,
) -> tuple[NDArray[np.int64], NDArray[np.datetime64]]:
    """Parent pointers as of the end: the last BOUND candidate of every invitee."""
    parent = np.full(n, -1, dtype=np.int64)
    since = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    ok = np.flatnonzero(reason == Reason.BOUND)
    # candidates are sorted by invitee then time: assigning in order leaves the last
    parent[invitee[ok]] = inviter[ok]
    since[invitee[ok]] = at[ok]
    return parent, since


def _loop_edges(
    reason: NDArray[np.int8],
    invitee: NDArray[np.int64],
    inviter: NDArray[np.int64],
    at: NDArray[Any],
    ids: NDArray[np.object_],
) -> NDArray[np.intp]:
    """Candidate indices of the latest binding of every loop among the current bindings (of
    bindings made at one instant, the one of the invitee whose id sorts last)."""
    n = ids.size
    parent, _ = _current(reason, invitee, inviter, at, n)
    on_loop = _on_cycle(parent)
    if not on_loop.any():
        return np.zeros(0, dtype=np.intp)
    ok = np.flatnonzero(reason == Reason.BOUND)
    last = np.full(n, -1, dtype=np.int64)
    last[invitee[ok]] = ok
    members = np.flatnonzero(on_loop)
    # label each loop by its smallest member (pointer doubling along the loop)
    lab = np.arange(n, dtype=np.int64)
    jump = np.where(parent >= 0, parent, np.arange(n))
    span = 1
    while span < n:
        lab = np.minimum(lab, lab[jump])
        jump = jump[jump]
        span *= 2
    label = lab[members]
    edge = last[members]
    t = at[edge].view(np.int64)
    order = np.lexsort((_id_rank(ids[members]), t, label))
    lab_sorted = label[order]
    is_last = np.ones(order.size, dtype=bool)
    is_last[:-1] = lab_sorted[:-1] != lab_sorted[1:]
    return np.asarray(edge[order[is_last]], dtype=np.intp)


def _on_cycle(parent: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which nodes lie on a cycle of the parent pointers (-1: a root)."""
    n = parent.size
    nxt = np.where(parent >= 0, parent, np.arange(n))
    # after n steps every node is on its cycle (or at a root)
    hop = nxt.copy()
    steps = 1
    while steps < n:
        hop = hop[hop]
        steps *= 2
    # nodes reachable after >= n steps: on a cycle iff not a root and itself reached again
    candidates = hop
    is_root = parent < 0
    reached = np.zeros(n, dtype=bool)
    reached[candidates] = True
    return reached & ~is_root
    # a node reached after >= n steps lies on a cycle (roots are fixed points, excluded)
