"""Two-tier commission in exact money: a rule, a columnar ledger, and settlement into a store.

Amounts are integer minor units (fen) throughout. Each order has a *commission pool*: its paid
amount times the sum of the rates of the beneficiaries it has (tier-1 referrer, tier-2 referrer,
agent), rounded down, then capped per order. The pool is split among them by their rates with
the largest-remainder method, so the parts add up to the pool exactly and never exceed it.
Rates are flat: the order log carries no product category, so per-category rates are not
offered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.money import Money
from privdomain.errors import CurrencyMismatchError, InvalidRuleError, ValidationError
from privdomain.ports import CommissionEntry, CommissionLedger, CommissionStatus
from privdomain.referral.binding import BindingPolicy, Bindings, _search, bind
from privdomain.result import plain_column

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot

__all__ = [
    "MAX_TIERS",
    "AttributionLedger",
    "CommissionRule",
    "SettleReport",
    "attribute",
    "settle",
]

#: Commission flows at most two tiers up a referral chain (DOMAIN §6: pyramid-selling rules
#: treat three levels or more as a pyramid scheme).
MAX_TIERS = 2
#: Rates are kept exactly in parts per million.
_PPM = 1_000_000
_DAY_US = 86_400_000_000
#: Ledger status codes (:attr:`AttributionLedger.status`).
FROZEN, SETTLED, REVERSED = 0, 1, 2
STATUS_NAMES = ("frozen", "settled", "reversed")
#: Beneficiary roles (:attr:`AttributionLedger.role`).
REFERRER, AGENT = 0, 1
ROLE_NAMES = ("referrer", "agent")


def _ppm(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidRuleError(f"{what} must be a number in [0, 1], got {value!r}")
    try:
        exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidRuleError(f"{what} must be a number in [0, 1], got {value!r}") from None
    if not exact.is_finite() or exact < 0 or exact > 1:
        raise InvalidRuleError(f"{what} must be a number in [0, 1], got {value!r}")
    scaled = exact * _PPM
    if scaled != scaled.to_integral_value():
        raise InvalidRuleError(f"{what} has more precision than a millionth: {value!r}")
    return int(scaled)


def _rates(value: object) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        value = (value,)
    if len(value) == 0:
        raise InvalidRuleError("rates needs the tier-1 rate at least")
    if len(value) > MAX_TIERS:
        raise InvalidRuleError(
            f"{len(value)} tiers refused: commission may flow at most {MAX_TIERS} tiers up a "
            "referral chain (three levels or more count as a pyramid scheme, DOMAIN §6)"
        )
    return tuple(_ppm(v, f"tier-{i + 1} rate") for i, v in enumerate(value))


def _agent_ppm(value: object) -> int:
    return _ppm(value, "agent_rate")


def _cap(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, Money):
        return value.minor
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InvalidRuleError(f"a cap is Money or whole minor units >= 0, got {value!r}")
    return int(value)


@attrs.frozen
class CommissionRule:
    """How much of an order's paid amount is commission, and to whom.

    Attributes
    ----------
    rates
        The tier-1 rate, or ``(tier1, tier2)``: fractions of the order's paid amount for the
        customer's referrer and for that referrer's referrer (numbers in ``[0, 1]``, exact to a
        millionth). Three tiers or more are refused (DOMAIN §6).
    agent_rate
        The fraction for the agent the order is bound to (``Orders.agent``).
    per_order_cap
        The most commission one order pays in all (:class:`Money` or minor units).
    per_period_cap
        The most one beneficiary earns per calendar month (business time), over all orders.
    name
        Named in every ledger entry.

    Raises
    ------
    InvalidRuleError
        A negative rate or one above 1, three tiers or more, rates summing above 100%, a
        negative cap.
    """

    rates: tuple[int, ...] = attrs.field(converter=_rates)
    """Rates in parts per million, tier 1 first."""
    agent_rate: int = attrs.field(default=0, converter=_agent_ppm)
    per_order_cap: int | None = attrs.field(default=None, converter=_cap)
    per_period_cap: int | None = attrs.field(default=None, converter=_cap)
    name: str = attrs.field(default="commission", validator=attrs.validators.instance_of(str))
    cap_currency: str | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if sum(self.rates) + self.agent_rate > _PPM:
            raise InvalidRuleError(
                "the rates sum above 100% of the order: "
                f"{(sum(self.rates) + self.agent_rate) / _PPM:.6g}"
            )

    @classmethod
    def of(
        cls,
        rates: object,
        *,
        agent_rate: object = 0,
        per_order_cap: Money | None = None,
        per_period_cap: Money | None = None,
        name: str = "commission",
    ) -> CommissionRule:
        """A rule whose caps are :class:`Money`; their currency must match the snapshots it is
        applied to."""
        currencies = {c.currency for c in (per_order_cap, per_period_cap) if c is not None}
        if len(currencies) > 1:
            raise CurrencyMismatchError(f"the caps are in different currencies: {currencies}")
        rule = cls(rates, agent_rate, per_order_cap, per_period_cap, name)
        object.__setattr__(rule, "cap_currency", currencies.pop() if currencies else None)
        return rule

    @property
    def weights(self) -> tuple[int, int, int]:
        """(tier 1, tier 2, agent) rates in parts per million."""
        tier2 = self.rates[1] if len(self.rates) > 1 else 0
        return self.rates[0], tier2, self.agent_rate


@attrs.frozen(eq=False)
class AttributionLedger:
    """Commission entries as aligned columns: one per order, beneficiary and kind.

    A *credit* (``status`` frozen or settled) is what the order earns its beneficiary; a
    *reversal* (``status`` reversed, a negative amount) takes back what a refund removed. Credit
    and reversals of an entry add up to what it pays.
    """

    currency: str
    as_of: dt.datetime
    order_id: NDArray[np.object_]
    at: NDArray[np.datetime64]
    """When the order was placed."""
    order_row: NDArray[np.int64]
    """The buyer's row in the snapshot attributed."""
    buyer_id: NDArray[np.object_]
    beneficiary_id: NDArray[np.object_]
    """A customer id (referrers) or an agent id (agents)."""
    role: NDArray[np.uint8]
    """0: referrer, 1: agent (names in ``ROLE_NAMES``)."""
    tier: NDArray[np.int8]
    """1 or 2 for referrers (tiers up the chain), 1 for agents."""
    amount_minor: NDArray[np.int64]
    status: NDArray[np.uint8]
    """0 frozen, 1 settled, 2 reversed (names in ``STATUS_NAMES``)."""
    base_minor: NDArray[np.int64]
    """The order's paid amount (credits) or its refunded amount (reversals)."""
    pool_minor: NDArray[np.int64]
    """The order's commission pool."""
    rule: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.order_id.shape[0])

    def columns(self) -> dict[str, NDArray[Any]]:
        """Every column by name (statuses and roles by name)."""
        return {
            "order_id": self.order_id,
            "at": self.at,
            "buyer_id": self.buyer_id,
            "beneficiary_id": self.beneficiary_id,
            "role": np.asarray(ROLE_NAMES, dtype=object)[self.role],
            "tier": self.tier,
            "amount_minor": self.amount_minor,
            "status": np.asarray(STATUS_NAMES, dtype=object)[self.status],
            "base_minor": self.base_minor,
            "pool_minor": self.pool_minor,
            "rule": self.rule,
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per entry."""
        cols = {k: plain_column(v) for k, v in self.columns().items()}
        return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]

    def total(self, order_id: object | None = None) -> Money:
        """What the ledger pays in all, or for one order."""
        mask = slice(None) if order_id is None else self.order_id == order_id
        return Money(int(self.amount_minor[mask].sum()), self.currency)

    def totals_by_order(self) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
        """``(order_ids, net minor units)``, one per order with entries."""
        keys = np.asarray([str(o) for o in self.order_id.tolist()], dtype=object)
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        sums = np.zeros(uniq.size, dtype=np.int64)
        np.add.at(sums, inverse, self.amount_minor)
        return self.order_id[first], sums

    def explain(self, order_id: object) -> str:
        """One order's entries in words, with the numbers."""
        mine = np.flatnonzero(self.order_id == order_id)
        if mine.size == 0:
            return f"order {order_id!r}: no commission (no referrer or agent, or not attributed)"
        i = mine[0]
        lines = [
            f"order {order_id!r} by {self.buyer_id[i]!r} at {self.at[i]}: paid "
            f"{Money(int(self.base_minor[i]), self.currency)}, commission pool "
            f"{Money(int(self.pool_minor[i]), self.currency)} (rule {self.rule[i]!r})"
        ]
        for k in mine:
            lines.append(
                f"  {ROLE_NAMES[self.role[k]]} tier {self.tier[k]} {self.beneficiary_id[k]!r}: "
                f"{Money(int(self.amount_minor[k]), self.currency)} {STATUS_NAMES[self.status[k]]}"
            )
        lines.append(f"  net {self.total(order_id)}")
        return "\n".join(lines)

    def update(self, newer: AttributionLedger) -> AttributionLedger:
        """This ledger with ``newer``'s entries in place of the entries of every order ``newer``
        attributes: attributing the same orders again adds nothing, a refund seen later adds
        its reversal.

        Raises
        ------
        CurrencyMismatchError
            When the ledgers are in different currencies.
        """
        if not isinstance(newer, AttributionLedger):
            raise ValidationError(f"update takes an AttributionLedger, not {type(newer).__name__}")
        if newer.currency != self.currency:
            raise CurrencyMismatchError(
                f"ledgers in {self.currency} and {newer.currency} do not combine"
            )
        keep = ~np.isin(
            np.asarray([str(o) for o in self.order_id.tolist()], dtype=object),
            np.asarray([str(o) for o in newer.order_id.tolist()], dtype=object),
        )
        cols = [
            f.name for f in attrs.fields(AttributionLedger) if f.name not in ("currency", "as_of")
        ]
        joined = {c: np.concatenate([getattr(self, c)[keep], getattr(newer, c)]) for c in cols}
        return AttributionLedger(
            currency=self.currency, as_of=max(self.as_of, newer.as_of), **joined
        )

    def __repr__(self) -> str:
        frozen = int(self.amount_minor[self.status == FROZEN].sum())
        settled = int(self.amount_minor[self.status == SETTLED].sum())
        reversed_ = int(self.amount_minor[self.status == REVERSED].sum())
        return (
            f"AttributionLedger({len(self)} entries, {np.unique(self.order_id.astype(str)).size}"
            f" orders; frozen {Money(frozen, self.currency)}, settled "
            f"{Money(settled, self.currency)}, reversed {Money(reversed_, self.currency)})"
        )


# ------------------------------------------------------------------ attribution
def _split(
    pool: NDArray[np.int64], weights: NDArray[np.int64], group: NDArray[np.intp]
) -> NDArray[np.int64]:
    """Largest-remainder split of ``pool[g]`` among the entries of every group ``g`` by their
    ``weights`` (entries of a group are contiguous, in tie-break order)."""
    total_w = np.bincount(group, weights=weights, minlength=pool.size).astype(np.int64)
    p = pool[group]
    w_total = total_w[group]
    safe = np.where(w_total > 0, w_total, 1)
    prod = p * weights
    floor = prod // safe
    rem = prod % safe
    given = np.bincount(group, weights=floor, minlength=pool.size).astype(np.int64)
    left = (pool - given)[group]
    idx = np.arange(group.size)
    order = np.lexsort((idx, -rem, group))
    g_sorted = group[order]
    start = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(group.size) - start
    bonus = np.zeros(group.size, dtype=np.int64)
    bonus[order] = (rank < left[order]).astype(np.int64)
    return np.where(w_total > 0, floor + bonus, 0)


def _pool(base: NDArray[np.int64], weight: NDArray[np.int64], cap: int | None) -> NDArray[np.int64]:
    if base.size and int(base.max()) >= (1 << 62) // _PPM:
        raise ValidationError("an order is too large to compute its commission exactly")
    out = base * weight // _PPM
    return np.minimum(out, cap) if cap is not None else out


def _referrer_at(
    bindings: Bindings, rows: NDArray[np.int64], at: NDArray[np.int64]
) -> NDArray[np.int64]:
    """The referrer bound to each ``rows[i]`` at instant ``at[i]`` (-1 if none)."""
    who, ref, since = bindings.history()
    if who.size == 0 or rows.size == 0:
        return np.full(rows.size, -1, dtype=np.int64)
    t = since.astype("datetime64[us]").view(np.int64)
    pos = _search(who, t, rows, at + 1) - 1
    safe = np.clip(pos, 0, who.size - 1)
    ok = (pos >= 0) & (who[safe] == rows)
    return np.where(ok, ref[safe], -1)


def attribute(
    snapshot: Snapshot,
    rule: CommissionRule,
    *,
    as_of: dt.datetime | None = None,
    refund_window_days: float = 7,
    bindings: Bindings | BindingPolicy | None = None,
) -> AttributionLedger:
    """Credit every order of ``snapshot`` to its referrers (two tiers up) and its agent.

    Parameters
    ----------
    snapshot
        Orders, refunds and the invitation graph as of ``snapshot.as_of``.
    rule
        The :class:`CommissionRule`.
    as_of
        When the ledger is drawn up (default ``snapshot.as_of``): credits of orders placed less
        than ``refund_window_days`` before it stay frozen, older ones are settled.
    refund_window_days
        How long a commission stays frozen (default 7 days, a common no-questions refund
        window).
    bindings
        The bindings to credit by, or the :class:`BindingPolicy` to bind with (default: a
        permanent binding).

    Returns
    -------
    AttributionLedger
        Orders sorted by time then id; per order, tier 1, tier 2, agent. The referrers are the
        ones bound to the buyer, and to the tier-1 referrer, when the order was placed.

    Raises
    ------
    ValidationError
        A bad argument; :class:`CurrencyMismatchError` when the rule's caps are in another
        currency than the snapshot.
    """
    from privdomain.domain._time import as_utc_datetime
    from privdomain.domain.snapshot import Snapshot

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"attribute() takes a Snapshot, got {type(snapshot).__name__}")
    if not isinstance(rule, CommissionRule):
        raise ValidationError(f"rule must be a CommissionRule, got {type(rule).__name__}")
    if rule.cap_currency is not None and rule.cap_currency != snapshot.currency:
        raise CurrencyMismatchError(
            f"the rule's caps are in {rule.cap_currency}, the orders in {snapshot.currency}"
        )
    if (
        isinstance(refund_window_days, bool)
        or not isinstance(refund_window_days, int | float)
        or not refund_window_days >= 0
    ):
        raise ValidationError(f"refund_window_days must be >= 0, got {refund_window_days!r}")
    when = snapshot.as_of if as_of is None else as_utc_datetime(as_of, what="as_of")
    if bindings is None or isinstance(bindings, BindingPolicy):
        bindings = bind(snapshot, bindings)
    if not isinstance(bindings, Bindings) or len(bindings) != len(snapshot):
        raise ValidationError("bindings must be a Bindings of this snapshot")

    log = snapshot.order_log
    at_us = log.at.astype("datetime64[us]").view(np.int64)
    keys = np.asarray([str(o) for o in log.order_id.tolist()], dtype=object)
    order = np.lexsort((keys, at_us)) if len(log) else np.zeros(0, dtype=np.intp)
    row, at = log.row[order].astype(np.int64), at_us[order]
    gross = log.gross_minor[order].astype(np.int64)
    net = np.maximum(gross - log.refunded_minor[order].astype(np.int64), 0)
    tier1 = _referrer_at(bindings, row, at)
    has1 = tier1 >= 0
    tier2 = np.full(row.size, -1, dtype=np.int64)
    tier2[has1] = _referrer_at(bindings, tier1[has1], at[has1])
    agent = log.agent[order].astype(np.int64)
    w1, w2, wa = rule.weights

    # candidate beneficiaries: (order, slot) with slot 0 tier 1, 1 tier 2, 2 agent
    n = row.size
    present = np.stack([has1 & (w1 > 0), (tier2 >= 0) & (w2 > 0), (agent >= 0) & (wa > 0)], 1)
    o_idx, slot = np.nonzero(present)  # row-major: per order, slots in order
    weight = np.asarray([w1, w2, wa], dtype=np.int64)[slot]
    order_w = np.bincount(o_idx, weights=weight, minlength=n).astype(np.int64)
    pool_g = _pool(gross, order_w, rule.per_order_cap)
    pool_n = _pool(net, order_w, rule.per_order_cap)
    g = _split(pool_g, weight, o_idx)
    nn = _split(pool_n, weight, o_idx)

    names = np.asarray([*list(snapshot.agent_names), None], dtype=object)
    ids = snapshot.customer_ids
    beneficiary = np.empty(o_idx.size, dtype=object)
    for s, who in ((0, tier1), (1, tier2)):
        m = slot == s
        beneficiary[m] = ids[who[o_idx[m]]]
    m = slot == 2
    beneficiary[m] = names[agent[o_idx[m]]]

    credit = g
    if rule.per_period_cap is not None and o_idx.size:
        credit = _period_capped(g, beneficiary, slot, at[o_idx], snapshot, rule.per_period_cap)
    back = -np.minimum(credit, np.maximum(g - nn, 0))

    cutoff = int(np.datetime64(when.replace(tzinfo=None), "us").view(np.int64))
    frozen = at[o_idx] + round(refund_window_days * _DAY_US) > cutoff
    status_credit = np.where(frozen, FROZEN, SETTLED).astype(np.uint8)
    rev = np.flatnonzero(back < 0)
    sel = np.concatenate([np.arange(o_idx.size), rev])
    src = order[o_idx[sel]]
    is_rev = np.arange(sel.size) >= o_idx.size
    # entries of one order together: sort by (order position, credit before reversal, slot)
    arrange = np.lexsort((slot[sel], is_rev, o_idx[sel]))
    sel, src, is_rev = sel[arrange], src[arrange], is_rev[arrange]
    amount = np.where(is_rev, back[sel], credit[sel])
    status = np.where(is_rev, REVERSED, status_credit[sel]).astype(np.uint8)
    base = np.where(is_rev, (gross - net)[o_idx[sel]], gross[o_idx[sel]])
    pool = np.where(is_rev, (pool_g - pool_n)[o_idx[sel]], pool_g[o_idx[sel]])
    return AttributionLedger(
        currency=snapshot.currency,
        as_of=when,
        order_id=log.order_id[src].astype(object),
        at=log.at[src].astype("datetime64[us]"),
        order_row=log.row[src].astype(np.int64),
        buyer_id=ids[log.row[src]].astype(object),
        beneficiary_id=beneficiary[sel],
        role=np.where(slot[sel] == 2, AGENT, REFERRER).astype(np.uint8),
        tier=np.where(slot[sel] == 1, 2, 1).astype(np.int8),
        amount_minor=amount.astype(np.int64),
        status=status,
        base_minor=base.astype(np.int64),
        pool_minor=pool.astype(np.int64),
        rule=np.full(sel.size, rule.name, dtype=object),
    )


def _period_capped(
    amount: NDArray[np.int64],
    beneficiary: NDArray[np.object_],
    slot: NDArray[np.intp],
    at: NDArray[np.int64],
    snapshot: Snapshot,
    cap: int,
) -> NDArray[np.int64]:
    """Cut credits so that no beneficiary earns more than ``cap`` per calendar month, first
    come (by order time, then order id: entries arrive already in that order) first served."""
    offset = int(snapshot.utc_offset.total_seconds() * 1_000_000)
    month = (at + offset).astype("datetime64[us]").astype("datetime64[M]").view(np.int64)
    role = np.where(slot == 2, "a:", "c:")
    key = np.asarray([r + str(b) for r, b in zip(role, beneficiary.tolist(), strict=True)])
    _, who = np.unique(key, return_inverse=True)
    idx = np.arange(amount.size)
    order = np.lexsort((idx, month, who))
    a = amount[order]
    grp_who, grp_month = who[order], month[order]
    new = np.ones(a.size, dtype=bool)
    new[1:] = (grp_who[1:] != grp_who[:-1]) | (grp_month[1:] != grp_month[:-1])
    cum = np.cumsum(a)
    start = np.maximum.accumulate(np.where(new, np.arange(a.size), 0))
    before = cum[start] - a[start]
    running = cum - before
    capped = np.minimum(running, cap)
    prev = np.where(new, 0, np.concatenate([[0], capped[:-1]]))
    out = np.empty_like(amount)
    out[order] = capped - prev
    return out


# ------------------------------------------------------------------ settlement
@attrs.frozen
class SettleReport:
    """What :func:`settle` posted and skipped."""

    posted: int
    """Entries posted (new, or a frozen entry updated)."""
    skipped_orders: tuple[str, ...]
    """Orders already settled in the store (an entry payable, paid or reversed), left alone."""


def settle(ledger: AttributionLedger, store: CommissionLedger) -> SettleReport:
    """Post the ledger into a :class:`~privdomain.ports.CommissionLedger`.

    Credit and reversals of one order, beneficiary and tier become one
    :class:`~privdomain.ports.CommissionEntry` with id ``"<order>/<role><tier>/<beneficiary>"``
    and the net amount: ``REVERSED`` when a refund took it all, ``FROZEN`` while frozen, else
    ``PAYABLE``. Orders with an entry in the store that is no longer frozen are skipped, so
    settling the same ledger twice posts nothing the second time.
    """
    if not isinstance(ledger, AttributionLedger):
        raise ValidationError(f"settle takes an AttributionLedger, not {type(ledger).__name__}")
    done = {e.order_id for e in store.entries() if e.status is not CommissionStatus.FROZEN}
    if len(ledger) == 0:
        return SettleReport(0, ())
    ident = np.asarray(
        [
            f"{o}/{ROLE_NAMES[r][0]}{t}/{b}"
            for o, r, t, b in zip(
                ledger.order_id.tolist(),
                ledger.role.tolist(),
                ledger.tier.tolist(),
                ledger.beneficiary_id.tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    uniq, first, inverse = np.unique(ident, return_index=True, return_inverse=True)
    net = np.zeros(uniq.size, dtype=np.int64)
    np.add.at(net, inverse, ledger.amount_minor)
    was_reversed = np.zeros(uniq.size, dtype=bool)
    was_reversed[inverse[ledger.status == REVERSED]] = True
    credit_status = np.full(uniq.size, SETTLED, dtype=np.uint8)
    credit = ledger.status != REVERSED
    credit_status[inverse[credit]] = ledger.status[credit]
    entries = []
    skipped: set[str] = set()
    for k in np.argsort(first, kind="stable"):
        i = int(first[k])
        order_id = str(ledger.order_id[i])
        if order_id in done:
            skipped.add(order_id)
            continue
        if was_reversed[k] and net[k] == 0:
            status = CommissionStatus.REVERSED
        elif credit_status[k] == FROZEN:
            status = CommissionStatus.FROZEN
        else:
            status = CommissionStatus.PAYABLE
        entries.append(
            CommissionEntry(
                id=str(uniq[k]),
                order_id=order_id,
                beneficiary_id=str(ledger.beneficiary_id[i]),
                tier=int(ledger.tier[i]),
                amount=Money(int(net[k]), ledger.currency),
                status=status,
                at=plain_column(ledger.at[i : i + 1])[0],
            )
        )
    store.post(entries)
    return SettleReport(len(entries), tuple(sorted(skipped)))
