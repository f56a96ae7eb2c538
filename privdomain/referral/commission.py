"""Two-tier commission in exact money: a rule, a columnar ledger, and settlement into a store.

Amounts are integer minor units (fen) throughout. Each order has a *commission pool*: its paid
amount times the sum of the rates of the beneficiaries it has (tier-1 referrer, tier-2 referrer,
agent), rounded down, then capped per order. The pool is split among them by their rates with
the largest-remainder method, so the parts add up to the pool exactly and never exceed it.
Rates are flat by default; the order log carries no product category, so a host that pays by
category passes one per order to :func:`attribute` and gives the rule its per-category rates.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain.money import Money
from privdomain.errors import CurrencyMismatchError, InvalidRuleError, ValidationError
from privdomain.ports import CommissionEntry, CommissionLedger, CommissionStatus, get_entries
from privdomain.referral.binding import BindingPolicy, Bindings, bind
from privdomain.result import plain_column

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot
    from privdomain.referral.fraud import FraudReport

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
FROZEN, SETTLED, REVERSED, HELD = 0, 1, 2, 3
STATUS_NAMES = ("frozen", "settled", "reversed", "held")
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


def _category_rates(value: object) -> dict[str, tuple[int, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRuleError(
            f"category_rates maps category names to tier rates, got {type(value).__name__}"
        )
    out = {}
    for name, rates in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidRuleError(f"a category is a non-empty str, got {name!r}")
        try:
            out[name] = _rates(rates)
        except InvalidRuleError as exc:
            raise InvalidRuleError(f"category {name!r}: {exc}") from None
    return dict(sorted(out.items()))


def _category_agent_rates(value: object) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRuleError(
            f"category_agent_rates maps category names to rates, got {type(value).__name__}"
        )
    out = {}
    for name, rate in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidRuleError(f"a category is a non-empty str, got {name!r}")
        out[name] = _ppm(rate, f"category {name!r}: agent_rate")
    return dict(sorted(out.items()))


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
    category_rates
        Tier rates by product category (``{"baby": ("0.08", "0.02")}``), for orders
        :func:`attribute` is told are of that category; other orders earn ``rates``. At most
        two tiers, each category's rates (with its agent rate) summing to 100% at most.
    category_agent_rates
        Agent rates by product category; other orders earn ``agent_rate``.

    Raises
    ------
    InvalidRuleError
        A negative rate or one above 1, three tiers or more, rates summing above 100% (flat or
        in one category), a negative cap.
    """

    rates: tuple[int, ...] = attrs.field(converter=_rates)
    """Rates in parts per million, tier 1 first."""
    agent_rate: int = attrs.field(default=0, converter=_agent_ppm)
    per_order_cap: int | None = attrs.field(default=None, converter=_cap)
    per_period_cap: int | None = attrs.field(default=None, converter=_cap)
    name: str = attrs.field(default="commission", validator=attrs.validators.instance_of(str))
    category_rates: dict[str, tuple[int, ...]] = attrs.field(
        factory=dict, converter=_category_rates, kw_only=True
    )
    """Tier rates in parts per million by category."""
    category_agent_rates: dict[str, int] = attrs.field(
        factory=dict, converter=_category_agent_rates, kw_only=True
    )
    """Agent rates in parts per million by category."""
    cap_currency: str | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        for category, (w1, w2, wa) in zip(self.categories, self.weight_table(), strict=True):
            if w1 + w2 + wa > _PPM:
                where = "" if category is None else f" in category {category!r}"
                raise InvalidRuleError(
                    f"the rates{where} sum above 100% of the order: {(w1 + w2 + wa) / _PPM:.6g}"
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
        category_rates: Mapping[str, object] | None = None,
        category_agent_rates: Mapping[str, object] | None = None,
    ) -> CommissionRule:
        """A rule whose caps are :class:`Money`; their currency must match the snapshots it is
        applied to."""
        currencies = {c.currency for c in (per_order_cap, per_period_cap) if c is not None}
        if len(currencies) > 1:
            raise CurrencyMismatchError(f"the caps are in different currencies: {currencies}")
        rule = cls(
            rates,
            agent_rate,
            per_order_cap,
            per_period_cap,
            name,
            category_rates=category_rates,
            category_agent_rates=category_agent_rates,
        )
        object.__setattr__(rule, "cap_currency", currencies.pop() if currencies else None)
        return rule

    @property
    def weights(self) -> tuple[int, int, int]:
        """(tier 1, tier 2, agent) rates in parts per million, of orders without a category."""
        tier2 = self.rates[1] if len(self.rates) > 1 else 0
        return self.rates[0], tier2, self.agent_rate

    @property
    def categories(self) -> tuple[str | None, ...]:
        """``None`` (orders without a category) then every category the rule names, sorted;
        the rows of :meth:`weight_table`."""
        names = sorted(set(self.category_rates) | set(self.category_agent_rates))
        return (None, *names)

    def weight_table(self) -> NDArray[np.int64]:
        """``(len(categories), 3)``: (tier 1, tier 2, agent) in parts per million per category."""
        table = np.empty((len(self.categories), 3), dtype=np.int64)
        table[0] = self.weights
        for k, category in enumerate(self.categories[1:], start=1):
            tiers = self.category_rates.get(category, self.rates)  # type: ignore[arg-type]
            table[k, 0] = tiers[0]
            table[k, 1] = tiers[1] if len(tiers) > 1 else 0
            table[k, 2] = self.category_agent_rates.get(category, self.agent_rate)  # type: ignore[arg-type]
        return table


@attrs.frozen(eq=False)
class AttributionLedger:
    """Commission entries as aligned columns: one per order, beneficiary and kind.

    A *credit* (``status`` frozen, settled or held) is what the order earns its beneficiary; a
    *reversal* (``status`` reversed, a negative amount) takes back what a refund removed. Credit
    and reversals of an entry add up to what it pays. A *held* credit is one a
    :class:`~privdomain.referral.FraudReport` flagged: it stays in the ledger, with the flags
    that held it in :attr:`hold_flags`, and :func:`settle` never makes it payable.

    People are kept as integer codes into name tables (:attr:`buyer_code`,
    :attr:`beneficiary_code`), so that a ledger of millions of entries is built without a
    Python object per entry; :attr:`buyer_id`, :attr:`beneficiary_id` and :attr:`rule` give the
    names.
    """

    currency: str
    as_of: dt.datetime
    order_id: NDArray[Any]
    """The orders' ids, as the snapshot's order log has them."""
    at: NDArray[np.datetime64]
    """When the order was placed."""
    order_row: NDArray[np.int64]
    """The buyer's row in the snapshot attributed."""
    buyer_code: NDArray[np.int64]
    """The buyer, in :attr:`customer_names`."""
    beneficiary_code: NDArray[np.int64]
    """A referrer in :attr:`customer_names` or an agent in :attr:`agent_names` (by role)."""
    role: NDArray[np.uint8]
    """0: referrer, 1: agent (names in ``ROLE_NAMES``)."""
    tier: NDArray[np.int8]
    """1 or 2 for referrers (tiers up the chain), 1 for agents."""
    amount_minor: NDArray[np.int64]
    status: NDArray[np.uint8]
    """0 frozen, 1 settled, 2 reversed, 3 held (names in ``STATUS_NAMES``)."""
    base_minor: NDArray[np.int64]
    """The order's paid amount (credits) or its refunded amount (reversals)."""
    pool_minor: NDArray[np.int64]
    """The order's commission pool."""
    rule_code: NDArray[np.int32]
    """The rule (and category) that priced the entry, in :attr:`rule_names`."""
    hold_flags: NDArray[np.uint8]
    """The :class:`~privdomain.referral.FraudFlag` bits that held the entry (0: not held)."""
    customer_names: NDArray[np.object_] = attrs.field(repr=False)
    agent_names: NDArray[np.object_] = attrs.field(repr=False)
    rule_names: NDArray[np.object_] = attrs.field(repr=False)

    def __len__(self) -> int:
        return int(self.order_id.shape[0])

    @property
    def buyer_id(self) -> NDArray[np.object_]:
        """The buyer's customer id, per entry."""
        return np.asarray(self.customer_names[self.buyer_code])

    @property
    def beneficiary_id(self) -> NDArray[np.object_]:
        """A customer id (referrers) or an agent id (agents), per entry."""
        out = np.empty(len(self), dtype=object)
        agent = self.role == AGENT
        out[~agent] = self.customer_names[self.beneficiary_code[~agent]]
        out[agent] = self.agent_names[self.beneficiary_code[agent]]
        return out

    @property
    def rule(self) -> NDArray[np.object_]:
        """The rule's name per entry, with the category in brackets when it had one."""
        return np.asarray(self.rule_names[self.rule_code])

    @property
    def held(self) -> NDArray[np.bool_]:
        """Which entries are held credit."""
        return np.asarray(self.status == HELD)

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
            "hold_flags": self.hold_flags,
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per entry."""
        cols = {k: plain_column(np.asarray(v)) for k, v in self.columns().items()}
        return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]

    def total(self, order_id: object | None = None) -> Money:
        """What the ledger pays in all (held credit included), or for one order."""
        mask = slice(None) if order_id is None else self.order_id == order_id
        return Money(int(self.amount_minor[mask].sum()), self.currency)

    def totals_by_order(self) -> tuple[NDArray[Any], NDArray[np.int64]]:
        """``(order_ids, net minor units)``, one per order with entries."""
        _, first, inverse = np.unique(_order_keys(self.order_id), True, True)
        sums = np.bincount(inverse, weights=self.amount_minor, minlength=first.size)
        # float sums are exact below 2**53 minor units; recount exactly beyond that
        if first.size and np.abs(self.amount_minor).sum() >= 2**53:
            exact = np.zeros(first.size, dtype=np.int64)
            np.add.at(exact, inverse, self.amount_minor)
            return self.order_id[first], exact
        return self.order_id[first], sums.astype(np.int64)

    def explain(self, order_id: object) -> str:
        """One order's entries in words, with the numbers."""
        mine = np.flatnonzero(self.order_id == order_id)
        if mine.size == 0:
            return f"order {order_id!r}: no commission (no referrer or agent, or not attributed)"
        i = mine[0]
        lines = [
            f"order {order_id!r} by {self.customer_names[self.buyer_code[i]]!r} at {self.at[i]}: "
            f"paid {Money(int(self.base_minor[i]), self.currency)}, commission pool "
            f"{Money(int(self.pool_minor[i]), self.currency)} (rule {self.rule[i]!r})"
        ]
        who = self.beneficiary_id
        for k in mine:
            status = STATUS_NAMES[self.status[k]]
            if self.status[k] == HELD:
                from privdomain.referral.fraud import FraudFlag

                status += f" ({FraudFlag(int(self.hold_flags[k])).text})"
            lines.append(
                f"  {ROLE_NAMES[self.role[k]]} tier {self.tier[k]} {who[k]!r}: "
                f"{Money(int(self.amount_minor[k]), self.currency)} {status}"
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
        mine, theirs = _order_keys(self.order_id), _order_keys(newer.order_id)
        if mine.dtype != theirs.dtype:
            mine, theirs = mine.astype(str).astype(object), theirs.astype(str).astype(object)
        keep = ~np.isin(mine, theirs)
        old = self.take(np.flatnonzero(keep))
        return AttributionLedger.concat([old, newer], as_of=max(self.as_of, newer.as_of))

    def take(self, entries: NDArray[np.intp]) -> AttributionLedger:
        """The ledger of some entries only (by position), in the order given."""
        changes = {name: getattr(self, name)[entries] for name in _ENTRY_FIELDS}
        return attrs.evolve(self, **changes)

    @classmethod
    def concat(
        cls, parts: Sequence[AttributionLedger], *, as_of: dt.datetime | None = None
    ) -> AttributionLedger:
        """The entries of several ledgers (say, of the partitions of one snapshot) in one.

        Raises
        ------
        ValidationError
            When there is no part; :class:`CurrencyMismatchError` when they differ in currency.
        """
        items = list(parts)
        if not items or not all(isinstance(p, AttributionLedger) for p in items):
            raise ValidationError("concat needs at least one AttributionLedger, and only those")
        if len({p.currency for p in items}) > 1:
            raise CurrencyMismatchError("ledgers in different currencies do not combine")
        tables: dict[str, Any] = {}
        shifts: dict[str, list[int]] = {}
        for table in ("customer_names", "agent_names", "rule_names"):
            names = [getattr(p, table) for p in items]
            if all(n is names[0] or np.array_equal(n, names[0]) for n in names):
                tables[table], shifts[table] = names[0], [0] * len(items)
            else:
                tables[table] = np.concatenate(names)
                shifts[table] = np.cumsum([0, *(len(n) for n in names[:-1])]).tolist()
        cols: dict[str, Any] = {}
        for name in _ENTRY_FIELDS:
            values = [getattr(p, name) for p in items]
            if name == "buyer_code":
                values = [v + s for v, s in zip(values, shifts["customer_names"], strict=True)]
            elif name == "rule_code":
                values = [v + s for v, s in zip(values, shifts["rule_names"], strict=True)]
            elif name == "beneficiary_code":
                values = [
                    v + np.where(p.role == AGENT, a, c)
                    for v, p, a, c in zip(
                        values,
                        items,
                        shifts["agent_names"],
                        shifts["customer_names"],
                        strict=True,
                    )
                ]
            elif name == "order_id" and len({v.dtype.kind for v in values}) > 1:
                values = [v.astype(object) for v in values]
            joined = np.concatenate(values)
            if name != "order_id":
                joined = joined.astype(getattr(items[0], name).dtype, copy=False)
            cols[name] = joined
        return cls(
            currency=items[0].currency,
            as_of=max(p.as_of for p in items) if as_of is None else as_of,
            **tables,
            **cols,
        )

    def __repr__(self) -> str:
        sums = [int(self.amount_minor[self.status == s].sum()) for s in range(len(STATUS_NAMES))]
        parts = ", ".join(
            f"{name} {Money(v, self.currency)}" for name, v in zip(STATUS_NAMES, sums, strict=True)
        )
        orders = np.unique(_order_keys(self.order_id)).size
        return f"AttributionLedger({len(self)} entries, {orders} orders; {parts})"


_ENTRY_FIELDS = (
    "order_id",
    "at",
    "order_row",
    "buyer_code",
    "beneficiary_code",
    "role",
    "tier",
    "amount_minor",
    "status",
    "base_minor",
    "pool_minor",
    "rule_code",
    "hold_flags",
)


def _order_keys(order_id: NDArray[Any]) -> NDArray[Any]:
    """Order ids as sortable, comparable keys: integers as they are, anything else as text."""
    if order_id.dtype.kind in "iu":
        return order_id
    return np.asarray(order_id.astype(str))


# ------------------------------------------------------------------ attribution
def _split(
    pool: NDArray[np.int64], weights: NDArray[np.int64], total_w: NDArray[np.int64] | None = None
) -> NDArray[np.int64]:
    """Largest-remainder split of every order's ``pool`` among its beneficiaries by their
    ``weights`` (three rows, one per slot, one column per order; weight 0: no such
    beneficiary).

    Each part is first rounded down; the minor units left over (fewer than the parts) go one
    each to the parts with the largest remainders, an earlier slot first on equal remainders.
    With three slots at most, one left over goes to the largest remainder and two to all but
    the smallest, found by elementwise comparisons instead of sorting. ``total_w`` is the sum of
    every column's weights, when the caller has it."""
    total_w = weights.sum(axis=0) if total_w is None else total_w
    floor, rem = np.divmod(pool * weights, np.maximum(total_w, 1))
    left = np.where(total_w > 0, pool - floor.sum(axis=0), 0)  # nobody to pay: nothing left
    r = np.where(weights > 0, rem, -1)  # an absent slot never gets a unit
    one = np.flatnonzero(left == 1)
    if one.size:
        r0, r1, r2 = r[0, one], r[1, one], r[2, one]
        top = np.where(r1 > r0, 1, 0)
        top = np.where(r2 > np.maximum(r0, r1), 2, top)
        floor[top, one] += 1
    two = np.flatnonzero(left == 2)  # all three slots present: all but the smallest
    if two.size:
        r0, r1, r2 = r[0, two], r[1, two], r[2, two]
        low = np.where(r2 <= r1, 2, 1)  # on equal remainders the later slot loses
        low = np.where(r0 < np.minimum(r1, r2), 0, low)
        floor[:, two] += 1
        floor[low, two] -= 1
    return floor


def _pool(base: NDArray[np.int64], weight: NDArray[np.int64], cap: int | None) -> NDArray[np.int64]:
    if base.size and int(base.max()) >= (1 << 62) // _PPM:
        raise ValidationError("an order is too large to compute its commission exactly")
    out = base * weight // _PPM
    return np.minimum(out, cap) if cap is not None else out


@attrs.frozen
class _History:
    """The binding history indexed by customer, built once per attribution: every customer's
    run of bindings (``first`` to ``ends``) and their first binding."""

    who: NDArray[np.int64]
    ref: NDArray[np.int64]
    t: NDArray[np.int64]
    count: NDArray[np.int64]
    ends: NDArray[np.int64]
    first: NDArray[np.int64]
    first_since: NDArray[np.int64]
    first_ref: NDArray[np.int64]

    @classmethod
    def of(cls, bindings: Bindings) -> _History:
        who, ref, since = bindings.history()
        n = bindings.candidate_ids.shape[0]
        t = since.astype("datetime64[us]").view(np.int64)
        count = np.bincount(who, minlength=n)
        ends = np.cumsum(count)
        first = ends - count
        first_since = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        first_ref = np.full(n, -1, dtype=np.int64)
        bound = count > 0
        first_since[bound] = t[first[bound]]
        first_ref[bound] = ref[first[bound]]
        return cls(who, ref, t, count, ends, first, first_since, first_ref)


def _referrer_at(
    bindings: Bindings | _History, rows: NDArray[np.int64], at: NDArray[np.int64]
) -> NDArray[np.int64]:
    """The referrer bound to each ``rows[i]`` at instant ``at[i]`` (-1 if none); rows are
    those of the snapshot the bindings were made from.

    Most customers were bound once: their answer is their one binding if it had begun by
    ``at``. The history is sorted by invitee then time, so the bindings of a customer bound
    several times are one run of it: start at the run's first binding and step forward while
    the next one had begun by ``at``, one round per binding of the most rebound customer,
    each over the queries still moving.
    """
    h = _History.of(bindings) if isinstance(bindings, Bindings) else bindings
    if h.who.size == 0 or rows.size == 0:
        return np.full(rows.size, -1, dtype=np.int64)
    t, ref = h.t, h.ref
    out = np.where(h.first_since[rows] <= at, h.first_ref[rows], -1)
    again = np.flatnonzero(h.count[rows] > 1)
    if again.size:
        r, when = rows[again], at[again]
        start, end = h.first[r], h.ends[r]
        pos = start.copy()
        live = np.flatnonzero(t[start] <= when)
        while live.size:
            nxt = pos[live] + 1
            go = (nxt < end[live]) & (t[np.minimum(nxt, t.size - 1)] <= when[live])
            live = live[go]
            pos[live] = nxt[go]
        out[again] = np.where(t[start] <= when, ref[pos], -1)
    return out


def _binding_rows(bindings: Bindings, snapshot: Snapshot) -> NDArray[np.int64] | None:
    """The rows, in the snapshot ``bindings`` was made from, of ``snapshot``'s customers:
    ``None`` when they are the same rows (that snapshot), found by id for a partition of it."""
    space = bindings.candidate_ids
    ids = snapshot.customer_ids
    if space is ids or (space.shape == ids.shape and np.array_equal(space, ids)):
        return None
    keys = space.astype(str)
    order = np.argsort(keys, kind="stable")
    wanted = ids.astype(str)
    pos = np.minimum(np.searchsorted(keys[order], wanted), max(keys.size - 1, 0))
    found = order[pos] if keys.size else pos
    ok = keys[found] == wanted if keys.size else np.zeros(ids.size, dtype=bool)
    if not ok.all():
        missing = ids[~ok][:3].tolist()
        raise ValidationError(
            f"bindings must be made from this snapshot or one it is a partition of; "
            f"{missing} are not in them"
        )
    return found.astype(np.int64)


def _categories(categories: object, snapshot: Snapshot, rule: CommissionRule) -> NDArray[np.int64]:
    """Each order's row of ``rule.weight_table()`` (0: no category, paid at the flat rates)."""
    log = snapshot.order_log
    n = len(log)
    codes = np.zeros(n, dtype=np.int64)
    if categories is None:
        return codes
    if isinstance(categories, Mapping):
        column = np.empty(n, dtype=object)
        column[:] = [categories.get(k) for k in log.order_id.tolist()]
    else:
        if isinstance(categories, str | bytes):
            raise ValidationError("categories is one value per order, not a single str")
        try:
            column = np.asarray(categories)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"categories cannot be read as an array: {exc}") from None
        if column.shape != (n,):
            raise ValidationError(
                f"categories needs one value per order of the snapshot's order log ({n}), "
                f"got shape {column.shape}"
            )
    if column.dtype.kind == "U":
        has = column != ""
    elif column.dtype == object:
        has = np.asarray(column != None)  # noqa: E711 - elementwise
    else:
        raise ValidationError(f"categories are str (None for none), got dtype {column.dtype}")
    if not has.any():
        return codes
    try:
        uniq, inverse = np.unique(column[has], return_inverse=True)
    except TypeError:
        raise ValidationError("categories are str (None for none), got mixed types") from None
    bad = [u for u in uniq.tolist() if not isinstance(u, str)]
    if bad:
        raise ValidationError(f"a category is a str (None for none), got {bad[0]!r}")
    lookup = {name: k for k, name in enumerate(rule.categories) if name is not None}
    unknown = [u for u in uniq.tolist() if u not in lookup]
    if unknown:
        raise ValidationError(
            f"categories the rule {rule.name!r} has no rates for: {unknown[:5]}; it knows "
            f"{list(lookup)} (None, or an empty str, for orders paid at the flat rates)"
        )
    codes[has] = np.asarray([lookup[u] for u in uniq.tolist()], dtype=np.int64)[inverse]
    return codes


def attribute(
    snapshot: Snapshot,
    rule: CommissionRule,
    *,
    as_of: dt.datetime | None = None,
    refund_window_days: float = 7,
    bindings: Bindings | BindingPolicy | None = None,
    categories: Any = None,
    hold: FraudReport | None = None,
    threads: int | None = None,
) -> AttributionLedger:
    """Credit every order of ``snapshot`` to its referrers (two tiers up) and its agent.

    Parameters
    ----------
    snapshot
        Orders, refunds and the invitation graph as of ``snapshot.as_of``.
    rule
        The :class:`CommissionRule`.
    as_of
        When the ledger is drawn up (default ``snapshot.as_of``; never later, the snapshot
        cannot see what happened since): credits of orders placed less than
        ``refund_window_days`` before it stay frozen, older ones are settled.
    refund_window_days
        How long a commission stays frozen (default 7 days, a common no-questions refund
        window).
    bindings
        The bindings to credit by, or the :class:`BindingPolicy` to bind with (default: a
        permanent binding). Bindings made from a whole snapshot also attribute any partition
        of it (``snapshot.take(rows)``): referrers outside the partition are found in them.
    categories
        The product category of every order, for a rule with ``category_rates``: one value per
        entry of ``snapshot.order_log`` (in its order), or a mapping from order id to
        category. ``None`` (or ``""``, or an order missing from the mapping) means no category:
        the flat rates.
    hold
        A :class:`~privdomain.referral.FraudReport`: credit it flags (see
        :meth:`FraudReport.holds`) is recorded as *held* instead of frozen or settled.
    threads
        Threads for the per-order work of large order logs (default: the machine's cores, at
        most four; ``1`` keeps it on the calling thread). The ledger is the same either way.

    Returns
    -------
    AttributionLedger
        The credits in the order of the snapshot's order log (per order: tier 1, tier 2,
        agent), then the reversals in the same order. The referrers are the ones bound to
        the buyer, and to the tier-1 referrer, when the order was placed.

    Raises
    ------
    ValidationError
        A bad argument, an ``as_of`` later than ``snapshot.as_of``, a category the rule has no
        rates for;
        :class:`CurrencyMismatchError` when the rule's caps are in another currency than the
        snapshot.
    """
    from privdomain.domain._time import as_utc_datetime
    from privdomain.domain.snapshot import Snapshot
    from privdomain.referral.fraud import FraudReport

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
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValidationError(f"threads must be a positive int, got {threads!r}")
    if hold is not None and not isinstance(hold, FraudReport):
        raise ValidationError(f"hold must be a FraudReport, got {type(hold).__name__}")
    when = snapshot.as_of if as_of is None else as_utc_datetime(as_of, what="as_of")
    if when > snapshot.as_of:
        raise ValidationError(
            f"as_of {when.isoformat()} is later than the snapshot's ({snapshot.as_of.isoformat()}):"
            " the snapshot cannot see refunds and bindings since; take a snapshot as of"
            f" {when.isoformat()} (pool.snapshot(as_of)) and attribute that"
        )
    if bindings is None or isinstance(bindings, BindingPolicy):
        bindings = bind(snapshot, bindings)
    if not isinstance(bindings, Bindings):
        raise ValidationError("bindings must be a Bindings of this snapshot, or a BindingPolicy")
    rows_in_bindings = _binding_rows(bindings, snapshot)
    category = _categories(categories, snapshot, rule)

    log = snapshot.order_log
    n_orders = len(log)
    at = log.at.astype("datetime64[us]", copy=False).view(np.int64)
    buyer = log.row if rows_in_bindings is None else rows_in_bindings[log.row]
    buyer = buyer.astype(np.int64, copy=False)
    gross = log.gross_minor.astype(np.int64, copy=False)
    net = np.maximum(gross - log.refunded_minor, 0)
    agent = log.agent.astype(np.int64)
    table = rule.weight_table()
    # rates per slot (tier 1, tier 2, agent) and order; flat rules broadcast one column
    w = table[category].T if table.shape[0] > 1 else table[0][:, None]

    # orders are independent until the per-period cap: chunks of them run on several threads
    # (numpy releases the GIL), and join in log order
    history = _History.of(bindings)

    def run(lo: int, hi: int) -> _Credits:
        return _credit(
            history,
            buyer[lo:hi],
            at[lo:hi],
            agent[lo:hi],
            w if w.shape[1] == 1 else w[:, lo:hi],
            gross[lo:hi],
            net[lo:hi],
            rule.per_order_cap,
        )

    # one chunk per thread, none smaller than _CHUNK_ORDERS: joining chunks costs a copy
    chunks = max(1, min(_workers(threads), n_orders // _CHUNK_ORDERS))
    bounds = np.linspace(0, n_orders, chunks + 1).astype(int).tolist()
    spans = list(itertools.pairwise(bounds))
    workers = min(_workers(threads), len(spans))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda span: run(*span), spans))
    else:
        parts = [run(lo, hi) for lo, hi in spans]
    c = _Credits.join(parts, [lo for lo, _ in spans])
    o_idx, slot, gained, who = c.o_idx, c.slot, c.gained, c.who
    is_agent = slot == 2
    credit = gained
    if rule.per_period_cap is not None and o_idx.size:
        credit = _period_capped(
            gained, who * 2 + is_agent, o_idx, at, log.order_id, snapshot, rule.per_period_cap
        )
    # what a refund takes back: the part the net amount no longer earns, never more than was
    # credited
    back = -np.minimum(credit[c.rev], c.cut)
    taken = back < 0
    rev, back, pool_r = c.rev[taken], back[taken], c.pool_r[taken]
    pool_g = c.pool_g

    o_rev = o_idx[rev]
    o = np.concatenate([o_idx, o_rev])
    at_entry = at[o]
    cutoff = int(np.datetime64(when.replace(tzinfo=None), "us").view(np.int64))
    frozen = at_entry[: o_idx.size] > cutoff - round(refund_window_days * _DAY_US)
    status = np.where(frozen, FROZEN, SETTLED).astype(np.uint8)
    flags = np.zeros(o_idx.size, dtype=np.uint8)
    if hold is not None:
        flags = hold._hold_flags(bindings.candidate_ids, snapshot, who, is_agent, buyer[o_idx])
        status[flags != 0] = HELD

    # credits in the order of the order log, then the reversals in the same order; each
    # column written once, in place
    order_row = log.row[o].astype(np.int64, copy=False)
    rule_names = np.asarray(
        [rule.name if c is None else f"{rule.name}[{c}]" for c in rule.categories], dtype=object
    )
    return AttributionLedger(
        currency=snapshot.currency,
        as_of=when,
        order_id=log.order_id[o],
        at=at_entry.view("datetime64[us]"),
        order_row=order_row,
        buyer_code=order_row if rows_in_bindings is None else buyer[o],
        beneficiary_code=_two(who, who, second_at=rev),
        role=_two(is_agent, is_agent, second_at=rev).view(np.uint8),
        tier=(_two(slot, slot, second_at=rev) % 2 + 1).astype(np.int8),
        amount_minor=_two(credit, back),
        status=_two(status, np.full(rev.size, REVERSED, dtype=np.uint8)),
        base_minor=_two(gross, gross[o_rev] - net[o_rev], o_idx),
        pool_minor=_two(pool_g, pool_g[o_rev] - pool_r, o_idx),
        rule_code=category[o].astype(np.int32) if table.shape[0] > 1 else _zeros(o.size, np.int32),
        hold_flags=_two(flags, _zeros(rev.size, np.uint8)),
        customer_names=bindings.candidate_ids,
        agent_names=np.asarray(snapshot.agent_names, dtype=object),
        rule_names=rule_names,
    )


#: The fewest orders worth a chunk of their own on another thread.
_CHUNK_ORDERS = 1 << 20


def _workers(threads: int | None) -> int:
    return min(4, os.cpu_count() or 1) if threads is None else threads


@attrs.frozen
class _Credits:
    """The credits of a run of orders, before any per-period cap: one entry per order and
    beneficiary (``o_idx`` the order, ``slot`` 0 tier 1, 1 tier 2, 2 agent), and for the entries
    of refunded orders (``rev``) what the refund cuts and the pool of the net amount."""

    o_idx: NDArray[np.int64]
    slot: NDArray[np.int64]
    gained: NDArray[np.int64]
    who: NDArray[np.int64]
    pool_g: NDArray[np.int64]
    rev: NDArray[np.int64]
    cut: NDArray[np.int64]
    pool_r: NDArray[np.int64]

    @classmethod
    def join(cls, parts: list[_Credits], starts: list[int]) -> _Credits:
        if len(parts) == 1:
            return parts[0]
        entries = np.cumsum([0, *(p.o_idx.size for p in parts[:-1])]).tolist()
        return cls(
            o_idx=np.concatenate([p.o_idx + lo for p, lo in zip(parts, starts, strict=True)]),
            slot=np.concatenate([p.slot for p in parts]),
            gained=np.concatenate([p.gained for p in parts]),
            who=np.concatenate([p.who for p in parts]),
            pool_g=np.concatenate([p.pool_g for p in parts]),
            rev=np.concatenate([p.rev + e for p, e in zip(parts, entries, strict=True)]),
            cut=np.concatenate([p.cut for p in parts]),
            pool_r=np.concatenate([p.pool_r for p in parts]),
        )


def _credit(
    history: _History,
    buyer: NDArray[np.int64],
    at: NDArray[np.int64],
    agent: NDArray[np.int64],
    w: NDArray[np.int64],
    gross: NDArray[np.int64],
    net: NDArray[np.int64],
    cap: int | None,
) -> _Credits:
    """Who earns what on a run of orders: the referrers bound when each order was placed, two
    tiers up, and its agent; the pool and its exact split."""
    n = buyer.size
    tier1 = _referrer_at(history, buyer, at)
    has1 = np.flatnonzero(tier1 >= 0)
    tier2 = np.full(n, -1, dtype=np.int64)
    tier2[has1] = _referrer_at(history, tier1[has1], at[has1])
    # one row per slot, one column per order
    who_all = np.stack([tier1, tier2, agent])
    present = (who_all >= 0) & (w > 0)
    weights = w * present
    order_w = weights.sum(axis=0)
    pool_g = _pool(gross, order_w, cap)
    split_g = _split(pool_g, weights, order_w)
    o_idx, slot = np.divmod(np.flatnonzero(present.T), 3)  # per order, slots in order
    flat = slot * n + o_idx
    gained = split_g.ravel()[flat]
    # refunded orders are split again on their net amount
    refunded = np.flatnonzero(net != gross)
    pool_r = _pool(net[refunded], order_w[refunded], cap)
    split_r = _split(pool_r, weights[:, refunded], order_w[refunded])
    was_refunded = np.zeros(n, dtype=bool)
    was_refunded[refunded] = True
    rev = np.flatnonzero(was_refunded[o_idx])
    k = np.searchsorted(refunded, o_idx[rev])
    return _Credits(
        o_idx=o_idx,
        slot=slot,
        gained=gained,
        who=who_all.ravel()[flat],
        pool_g=pool_g,
        rev=rev,
        cut=gained[rev] - split_r[slot[rev], k],
        pool_r=pool_r[k],
    )


def _two(
    first: NDArray[Any],
    second: NDArray[Any],
    first_at: NDArray[np.intp] | None = None,
    second_at: NDArray[np.intp] | None = None,
) -> NDArray[Any]:
    """``first[first_at]`` then ``second[second_at]`` (whole arrays without indices), gathered
    straight into one new array."""
    k = first.size if first_at is None else first_at.size
    m = second.size if second_at is None else second_at.size
    out = np.empty(k + m, dtype=first.dtype)
    if first_at is None:
        out[:k] = first
    else:
        np.take(first, first_at, out=out[:k])
    if second_at is None:
        out[k:] = second
    else:
        np.take(second, second_at, out=out[k:])
    return out


def _zeros(n: int, dtype: Any) -> NDArray[Any]:
    return np.zeros(n, dtype=dtype)


def _period_capped(
    amount: NDArray[np.int64],
    beneficiary: NDArray[np.int64],
    o_idx: NDArray[np.intp],
    at: NDArray[np.int64],
    order_id: NDArray[Any],
    snapshot: Snapshot,
    cap: int,
) -> NDArray[np.int64]:
    """Cut credits so that no beneficiary earns more than ``cap`` per calendar month, first
    come first served: by order time, then order id (never by the order orders arrived in)."""
    offset = int(snapshot.utc_offset.total_seconds() * 1_000_000)
    t = at[o_idx]
    month = (t + offset).astype("datetime64[us]").astype("datetime64[M]").view(np.int64)
    _, by_id = np.unique(_order_keys(order_id), return_inverse=True)
    order = np.lexsort((by_id[o_idx], t, month, beneficiary))
    a = amount[order]
    grp_who, grp_month = beneficiary[order], month[order]
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
    """Orders with an entry already settled in the store (payable, paid or reversed): those
    entries are left alone."""
    held: int = 0
    """Entries posted as held credit: ``FROZEN`` in the store, never ``PAYABLE``."""


def settle(ledger: AttributionLedger, store: CommissionLedger) -> SettleReport:
    """Post the ledger into a :class:`~privdomain.ports.CommissionLedger`.

    Credit and reversals of one order, beneficiary and tier become one
    :class:`~privdomain.ports.CommissionEntry` with id ``"<order>/<role><tier>/<beneficiary>"``
    and the net amount: ``REVERSED`` when a refund took it all, ``FROZEN`` while frozen *or
    held* (a :class:`~privdomain.referral.FraudReport` flagged it), else ``PAYABLE``. Held
    credit is therefore never paid: it waits, frozen, until a ledger drawn up without the hold
    (the flag cleared after review) settles it. Entries already settled in the store (no longer
    frozen) are skipped, and so are frozen entries the store holds unchanged, so settling the
    same ledger twice posts nothing the second time.

    The store is asked only for the entries of this ledger's ids (see
    :func:`~privdomain.ports.get_entries`), and only new or changed entries are posted: with a
    store that looks ids up in an index (the in-memory ledger does), settling the ledger of the
    orders still inside their refund window costs in proportion to those orders, however many
    entries the store holds.

    **One store per tenant.** Entry ids name the order and the beneficiary, not the tenant: two
    tenants with the same order and customer ids would share entries, and the second tenant's
    commission would be skipped as already settled. Give every tenant its own store (its own
    table, or a key prefix in the adapter). A store entry with one of the ledger's ids but
    another currency or another order instant is refused (it cannot be this order's), which
    catches most such mix-ups, but not an order of another tenant placed at the same
    microsecond in the same currency.

    Raises
    ------
    ValidationError
        When ``ledger`` is not an :class:`AttributionLedger`; when the store holds an entry with
        one of its ids for an order in another currency or placed at another instant (another
        tenant's or pool's entries in the same store).
    """
    if not isinstance(ledger, AttributionLedger):
        raise ValidationError(f"settle takes an AttributionLedger, not {type(ledger).__name__}")
    if len(ledger) == 0:
        return SettleReport(0, ())
    order_ids = ledger.order_id.tolist()
    beneficiaries = ledger.beneficiary_id.tolist()
    ident = np.asarray(
        [
            f"{o}/{ROLE_NAMES[r][0]}{t}/{b}"
            for o, r, t, b in zip(
                order_ids, ledger.role.tolist(), ledger.tier.tolist(), beneficiaries, strict=True
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
    ids = uniq.tolist()
    stored = get_entries(store, ids)
    currency = ledger.currency
    _check_same_orders(stored, uniq, ledger.at[first], currency)
    nets = net.tolist()
    chosen: list[tuple[int, CommissionStatus]] = []  # (k, status) of the entries to post
    skipped: set[str] = set()
    for k in np.argsort(first, kind="stable").tolist():
        if was_reversed[k] and nets[k] == 0:
            status = CommissionStatus.REVERSED
        elif credit_status[k] in (FROZEN, HELD):
            status = CommissionStatus.FROZEN
        else:
            status = CommissionStatus.PAYABLE
        old = stored.get(ids[k])
        if old is not None:
            if old.status is not CommissionStatus.FROZEN:
                skipped.add(str(order_ids[first[k]]))
                continue
            if old.status is status and old.amount.minor == nets[k]:
                continue  # frozen, and still the same (currency and instant checked above)
        chosen.append((k, status))
    rows = first[[k for k, _ in chosen]] if chosen else np.zeros(0, dtype=np.intp)
    at = plain_column(ledger.at[rows])
    entries = [
        CommissionEntry(
            id=ids[k],
            order_id=str(order_ids[i]),
            beneficiary_id=str(beneficiaries[i]),
            tier=int(ledger.tier[i]),
            amount=Money(nets[k], currency),
            status=status,
            at=when,
        )
        for (k, status), i, when in zip(chosen, rows.tolist(), at, strict=True)
    ]
    held = sum(int(credit_status[k] == HELD) for k, _ in chosen)
    store.post(entries)
    return SettleReport(len(entries), tuple(sorted(skipped)), held)


def _check_same_orders(
    stored: Mapping[str, CommissionEntry],
    uniq: NDArray[np.object_],
    at: NDArray[np.datetime64],
    currency: str,
) -> None:
    """Refuse a store whose entries with the ledger's ids (sorted ``uniq``, with the instant
    ``at`` of each one's order) belong to other orders: another currency or order instant."""
    if not stored:
        return
    found = list(stored.values())
    k = np.searchsorted(uniq, np.asarray(list(stored), dtype=object))
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micro = dt.timedelta(microseconds=1)
    old_us = np.fromiter(((e.at - epoch) // micro for e in found), np.int64, len(found))
    new_us = at[k].astype("datetime64[us]").view(np.int64)
    bad = (old_us != new_us) | np.asarray([e.amount.currency != currency for e in found])
    if bad.any():
        j = int(np.argmax(bad))
        old = found[j]
        when = _instant(new_us[j])
        raise ValidationError(
            f"the store already holds entry {uniq[k[j]]!r} for an order of "
            f"{old.amount.currency} placed at {old.at.isoformat()}, but this ledger's order "
            f"is in {currency} and placed at {when.isoformat()}: the store holds "
            "another tenant's (or pool's) commission; use one store per tenant"
        )


def _instant(micros: int) -> dt.datetime:
    """Epoch microseconds as the aware instant the store keeps."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))
