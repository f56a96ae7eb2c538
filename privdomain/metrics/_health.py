"""The health report of a pool: the three core metrics, the KPIs around them, the revenue
decomposition, cohort retention and the public → private funnel."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.domain._time import as_utc_datetime, epoch_micros
from privdomain.domain.channels import OWNED_CHANNELS, Channel, TouchKind
from privdomain.domain.money import minor_unit_exponent
from privdomain.errors import ValidationError
from privdomain.metrics._cohorts import (
    CohortRetention,
    SourceFunnel,
    build_cohorts,
    build_funnel,
    funnel_stages,
)
from privdomain.metrics._decomposition import RevenueDecomposition, RevenueFactors, decompose
from privdomain.result import Result, shown

if TYPE_CHECKING:
    from privdomain.domain.snapshot import Snapshot
    from privdomain.layering import KOCDetector, ValueTiers
    from privdomain.referral.binding import BindingPolicy, Bindings
    from privdomain.referral.metrics import KFactor, ReferralRate
    from privdomain.value import CustomerValue, LifetimeValue

__all__ = ["HealthComparison", "HealthReport", "health"]


def _us(values: NDArray[Any]) -> NDArray[np.int64]:
    return np.asarray(values.astype("datetime64[us]").view(np.int64))


def _share(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False, repr=False)
class HealthReport(Result):
    """How healthy a pool is as of a snapshot, over the window from ``start`` to ``as_of``.

    Made by :func:`health`. The figures are properties grouped as the articles group them:

    - **pool** (流量池): :attr:`customers`, :attr:`reachable` (on at least one owned channel),
      :attr:`inflow` and :attr:`outflow` over the window, :attr:`sources` (arrivals by source),
      :attr:`source_breadth` and :attr:`source_concentration` (HHI), :attr:`reachable_share`
      per owned channel, :attr:`multi_channel_share` (多点留存);
    - **value per customer** (单客价值): :attr:`conversion`, :attr:`repurchase_rate`,
      :attr:`order_value`, :attr:`revenue_per_customer`, :attr:`expected_clv`;
    - **referral** (老用户荐新率): :attr:`referral_rate`, :attr:`k_factor`;
    - **KPIs**: :attr:`kocs`, :attr:`creators`, :attr:`super_users`,
      :attr:`super_user_revenue_share`;
    - :attr:`factors`, :attr:`previous_factors` and :meth:`decomposition` (revenue = traffic ×
      conversion × order value × orders per buyer, period over period), :attr:`cohorts` and
      :attr:`funnel`.

    :meth:`metrics` lists every figure as records, :meth:`compare` tells what changed between
    two reports and why, :meth:`plot` draws the one-page dashboard (``privdomain[plot]``).

    As every result, it also has one row per customer of the snapshot (:meth:`columns`,
    :meth:`to_records`, :meth:`to_frame`, :meth:`explain`): what each customer counts in.
    The figures describe the whole pool, so a report cannot be cut into rows (:meth:`take`)
    or joined from parts (:meth:`concat`): report on the snapshot of the rows instead.
    """

    _row_fields: ClassVar[tuple[str, ...]] = (
        "customer_ids",
        "source",
        "new",
        "funnel_stage",
        "orders",
        "revenue_minor",
        "previous_orders",
        "previous_revenue_minor",
        "repeat",
        "reachable_channels",
        "lost",
        "koc",
        "super_user",
        "creator",
        "clv",
    )

    customer_ids: NDArray[np.object_]
    source: NDArray[np.uint8]
    """Code of the :class:`~privdomain.Channel` that brought each customer."""
    new: NDArray[np.bool_]
    """Joined in the window."""
    funnel_stage: NDArray[np.int8]
    """How many stages of :data:`FUNNEL_STAGES` the customer passed, every earlier one too."""
    orders: NDArray[np.int64]
    """Orders in the window."""
    revenue_minor: NDArray[np.int64]
    """Net revenue of those orders, in minor units."""
    previous_orders: NDArray[np.int64]
    """Orders in the previous period (as long as the window, just before it)."""
    previous_revenue_minor: NDArray[np.int64]
    repeat: NDArray[np.bool_]
    """Bought on two or more days by ``as_of``."""
    reachable_channels: NDArray[np.int64]
    """Owned channels that reach the customer as of ``as_of``."""
    lost: NDArray[np.bool_]
    """Reachable at ``start`` (on the previous snapshot) and on no owned channel now."""
    koc: NDArray[np.bool_]
    super_user: NDArray[np.bool_]
    creator: NDArray[np.bool_]
    """Created or shared content (a POSTED or SHARED touch) by ``as_of``."""
    clv: NDArray[np.float64]
    """Expected lifetime value (NaN without a value model)."""
    as_of: dt.datetime
    start: dt.datetime
    previous_start: dt.datetime
    currency: str
    utc_offset: dt.timedelta
    """The pool's business time zone: months of the cohorts, dates shown."""
    minor_per_major: int
    previous_traffic: int
    """Customers who had joined before ``start``."""
    reachable_at_start: int | None
    """Customers reachable at ``start`` (``None`` without the previous snapshot)."""
    reachable_share: tuple[float, ...]
    """Per owned channel (order of :data:`~privdomain.OWNED_CHANNELS`), the share of
    customers it reaches."""
    referral: ReferralRate
    kfactor: KFactor
    cohorts: CohortRetention
    funnel: SourceFunnel
    value_model: bool
    """Whether a value model gave :attr:`clv`."""
    super_user_share: float
    """The revenue share that defines super users (e.g. 0.8)."""
    koc_cutoff: float

    # ------------------------------------------------------------------ rows
    def columns(self) -> dict[str, NDArray[Any]]:
        """Per customer: what they count in."""
        names = np.array([c.name.lower() for c in Channel], dtype=object)
        return {
            "customer_id": self.customer_ids,
            "source": names[self.source],
            "new": self.new,
            "funnel_stage": self.funnel_stage,
            "orders": self.orders,
            "revenue": self.revenue_minor / self.minor_per_major,
            "previous_orders": self.previous_orders,
            "previous_revenue": self.previous_revenue_minor / self.minor_per_major,
            "repeat": self.repeat,
            "reachable_channels": self.reachable_channels,
            "lost": self.lost,
            "koc": self.koc,
            "super_user": self.super_user,
            "creator": self.creator,
            "clv": self.clv,
        }

    def take(self, rows: Any) -> HealthReport:
        """Refused: the figures describe the whole pool (report on ``snapshot.take(rows)``)."""
        raise ValidationError(
            "a HealthReport describes the whole pool and cannot be cut into rows; "
            "call health() on snapshot.take(rows) instead"
        )

    @classmethod
    def concat(cls, parts: Any) -> HealthReport:
        """Refused: report on the whole snapshot (``Snapshot.concat`` of the parts)."""
        raise ValidationError(
            "health reports of parts do not add up to the report of the whole; "
            "call health() on Snapshot.concat(parts) instead"
        )

    # ------------------------------------------------------------------ pool
    @property
    def customers(self) -> int:
        """Customers in the pool as of ``as_of``."""
        return len(self)

    @property
    def reachable(self) -> int:
        """Customers reachable on at least one owned channel."""
        return int((self.reachable_channels > 0).sum())

    @property
    def inflow(self) -> int:
        """Customers who joined in the window."""
        return int(self.new.sum())

    @property
    def outflow(self) -> int | None:
        """Customers reachable at ``start`` and on no owned channel as of ``as_of`` (``None``
        without the previous snapshot)."""
        return None if self.reachable_at_start is None else int(self.lost.sum())

    @property
    def sources(self) -> dict[Channel, int]:
        """Customers who joined in the window, by source, largest first."""
        return {
            c: int(n)
            for c, n in zip(self.funnel.sources, self.funnel.counts[:, 0], strict=True)
            if n
        }

    def _external(self) -> NDArray[np.float64]:
        return np.array(
            [n for c, n in self.sources.items() if c is not Channel.REFERRAL], dtype=np.float64
        )

    @property
    def source_breadth(self) -> int:
        """How many sources (public platforms, stores, owned channels: every source but
        referral) brought customers in the window."""
        return int(self._external().size)

    @property
    def source_concentration(self) -> float:
        """Herfindahl-Hirschman index of the window's arrivals over those sources: the sum of
        squared shares, 1 when one source brings everyone, ``1/k`` for ``k`` equal sources
        (NaN without arrivals)."""
        counts = self._external()
        if not counts.sum():
            return math.nan
        shares = counts / counts.sum()
        return float((shares * shares).sum())

    @property
    def multi_channel_share(self) -> float:
        """Share of customers reachable on two or more owned channels (多点留存)."""
        return _share(int((self.reachable_channels >= 2).sum()), len(self))

    # ------------------------------------------------------------------ value per customer
    @property
    def factors(self) -> RevenueFactors:
        """Traffic, buyers, orders and revenue of the window."""
        return RevenueFactors(
            len(self),
            int((self.orders > 0).sum()),
            int(self.orders.sum()),
            int(self.revenue_minor.sum()) / self.minor_per_major,
        )

    @property
    def previous_factors(self) -> RevenueFactors:
        """The same for the previous period (as long as the window, just before it)."""
        return RevenueFactors(
            self.previous_traffic,
            int((self.previous_orders > 0).sum()),
            int(self.previous_orders.sum()),
            int(self.previous_revenue_minor.sum()) / self.minor_per_major,
        )

    @property
    def revenue(self) -> float:
        """Net revenue of the window's orders (major units)."""
        return self.factors.revenue

    @property
    def conversion(self) -> float:
        """Share of the pool who bought in the window."""
        return self.factors.conversion

    @property
    def order_value(self) -> float:
        """Net revenue per order in the window."""
        return self.factors.order_value

    @property
    def repurchase_rate(self) -> float:
        """Share of the window's buyers who have bought on two or more days (repeat buyers)."""
        bought = self.orders > 0
        return _share(int((bought & self.repeat).sum()), int(bought.sum()))

    @property
    def revenue_per_customer(self) -> float:
        """Net revenue of the window per customer of the pool."""
        return _share(self.revenue, len(self))

    @property
    def expected_clv(self) -> float:
        """Mean expected lifetime value per customer (NaN without a value model)."""
        if not self.value_model or not len(self):
            return math.nan
        return float(np.nanmean(self.clv)) if not np.isnan(self.clv).all() else math.nan

    # ------------------------------------------------------------------ referral and KPIs
    @property
    def referral_rate(self) -> float:
        """Share of the window's new customers brought by existing customers (老带新)."""
        return self.referral.rate

    @property
    def k_factor(self) -> float:
        """New customers each customer brought through invitations in the window."""
        return self.kfactor.k

    @property
    def kocs(self) -> int:
        """Customers whose KOC score reaches the detector's cut-off."""
        return int(self.koc.sum())

    @property
    def creators(self) -> int:
        """Customers who created or shared content."""
        return int(self.creator.sum())

    @property
    def super_users(self) -> int:
        """The super users: the fewest customers bringing :attr:`super_user_share` of the
        pool's net spend."""
        return int(self.super_user.sum())

    @property
    def super_user_revenue_share(self) -> float:
        """Share of the window's revenue that came from super users."""
        total = int(self.revenue_minor.sum())
        return _share(int(self.revenue_minor[self.super_user].sum()), total)

    def decomposition(self) -> RevenueDecomposition:
        """The change of revenue from the previous period to the window, by factor."""
        return decompose(self.previous_factors, self.factors)

    # ------------------------------------------------------------------ records
    def metrics(self) -> list[dict[str, Any]]:
        """Every figure as a record: ``group``, ``metric``, ``value`` (``None`` when it cannot
        be known) and ``unit``."""
        cur = self.currency
        rows: list[tuple[str, str, Any, str]] = [
            ("pool", "customers", self.customers, "customers"),
            ("pool", "reachable", self.reachable, "customers"),
            ("pool", "inflow", self.inflow, "customers"),
            ("pool", "outflow", self.outflow, "customers"),
            ("pool", "source_breadth", self.source_breadth, "sources"),
            ("pool", "source_concentration", self.source_concentration, "HHI"),
            ("pool", "multi_channel_share", self.multi_channel_share, "share"),
        ]
        rows += [
            ("pool", f"arrivals_{c.name.lower()}", n, "customers") for c, n in self.sources.items()
        ]
        rows += [
            ("pool", f"reachable_{c.name.lower()}", s, "share")
            for c, s in zip(OWNED_CHANNELS, self.reachable_share, strict=True)
        ]
        rows += [
            ("value", "revenue", self.revenue, cur),
            ("value", "buyers", self.factors.buyers, "customers"),
            ("value", "orders", self.factors.orders, "orders"),
            ("value", "conversion", self.conversion, "share"),
            ("value", "repurchase_rate", self.repurchase_rate, "share"),
            ("value", "orders_per_buyer", self.factors.orders_per_buyer, "orders"),
            ("value", "order_value", self.order_value, cur),
            ("value", "revenue_per_customer", self.revenue_per_customer, cur),
            ("value", "expected_clv", self.expected_clv, cur),
            ("referral", "new_customers", self.referral.new_customers, "customers"),
            ("referral", "referred_by_customers", self.referral.referred, "customers"),
            ("referral", "referral_rate", self.referral_rate, "share"),
            ("referral", "k_factor", self.k_factor, "customers per customer"),
            ("kpi", "kocs", self.kocs, "customers"),
            ("kpi", "creators", self.creators, "customers"),
            ("kpi", "super_users", self.super_users, "customers"),
            ("kpi", "super_user_revenue_share", self.super_user_revenue_share, "share"),
        ]
        decomposition = self.decomposition()
        rows.append(("revenue_change", "previous_revenue", decomposition.before.revenue, cur))
        rows.append(("revenue_change", "change", decomposition.change, cur))
        rows += [("revenue_change", name, c, cur) for name, c in decomposition.by_factor().items()]
        return [{"group": g, "metric": m, "value": _plain(v), "unit": u} for g, m, v, u in rows]

    def metrics_frame(self) -> Any:
        """:meth:`metrics` as a pandas ``DataFrame`` indexed by group and metric (needs
        ``privdomain[pandas]``)."""
        from privdomain._optional import import_optional

        pd = import_optional("pandas", extra="pandas")
        frame = pd.DataFrame.from_records(self.metrics())
        return frame.set_index(["group", "metric"])

    # ------------------------------------------------------------------ comparison
    def compare(self, other: HealthReport) -> HealthComparison:
        """What changed between this report and ``other``, and why.

        The earlier report (by ``as_of``) is *before*. The change of revenue between the two
        windows is split among traffic, conversion, order value and orders per buyer (the Shapley
        decomposition, :func:`~privdomain.metrics.decompose`); every other figure is listed
        with its two values.

        Raises
        ------
        ValidationError
            When ``other`` is not a HealthReport, is as of the same instant, or counts money in
            another currency.
        """
        if not isinstance(other, HealthReport):
            raise ValidationError(f"compare takes a HealthReport, not {type(other).__name__}")
        if other.as_of == self.as_of:
            raise ValidationError("compare needs reports as of two different instants")
        if other.currency != self.currency:
            raise ValidationError(f"cannot compare reports in {other.currency} and {self.currency}")
        before, after = (other, self) if other.as_of < self.as_of else (self, other)
        return HealthComparison(before, after, decompose(before.factors, after.factors))

    # ------------------------------------------------------------------ display
    def local(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` in the pool's business time zone."""
        return instant.astimezone(dt.timezone(self.utc_offset))

    def _title(self) -> str:
        return (
            f"HealthReport of {len(self):,} customers as of {self.local(self.as_of).isoformat()} "
            f"(window from {self.local(self.start).isoformat()})"
        )

    def lines(self) -> list[str]:
        """The report in words, as printed."""
        cur = self.currency
        out = [self._title()]
        outflow = "n/a (no previous snapshot)" if self.outflow is None else f"{self.outflow:,}"
        out += [
            "pool",
            f"  customers {self.customers:,}, reachable {self.reachable:,} "
            f"({_pct(_share(self.reachable, self.customers))})",
            f"  inflow {self.inflow:,}, outflow {outflow}",
            f"  sources {self.source_breadth}, concentration (HHI) "
            f"{_num(self.source_concentration)}, reachable on 2+ channels "
            f"{_pct(self.multi_channel_share)}",
            "value per customer",
            f"  revenue {self.revenue:,.2f} {cur} from {self.factors.orders:,} orders of "
            f"{self.factors.buyers:,} buyers",
            f"  conversion {_pct(self.conversion)}, repurchase rate "
            f"{_pct(self.repurchase_rate)}, order value {_num(self.order_value)} {cur}, "
            f"expected CLV {_num(self.expected_clv)} {cur}",
            "referral",
            f"  referral rate {_pct(self.referral_rate)} ({self.referral.referred:,} of "
            f"{self.referral.new_customers:,} new customers), K-factor {_num(self.k_factor)}",
            "KPIs",
            f"  KOCs {self.kocs:,}, creators {self.creators:,}, super users "
            f"{self.super_users:,} bringing {_pct(self.super_user_revenue_share)} of revenue",
            "revenue change from the previous period",
        ]
        out += ["  " + line for line in self.decomposition().lines(cur)]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(r['group'])}</td><td>{html.escape(r['metric'])}</td>"
            f"<td>{html.escape(shown(math.nan if r['value'] is None else r['value']))}</td>"
            f"<td>{html.escape(r['unit'])}</td></tr>"
            for r in self.metrics()
        )
        return (
            f"<div><strong>{html.escape(self._title())}</strong><table><thead><tr>"
            "<th>group</th><th>metric</th><th>value</th><th>unit</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )

    def plot(self, *, figsize: tuple[float, float] = (15.0, 9.0)) -> Any:
        """The one-page dashboard: a matplotlib ``Figure`` (needs ``privdomain[plot]``).

        Panels: arrivals by source, reach per owned channel, the revenue bridge from the
        previous period, the funnel, cohort retention and the KPIs. The figure is not
        registered with pyplot; save it with ``figure.savefig(path)``.
        """
        from privdomain.metrics._dashboard import dashboard

        return dashboard(self, figsize=figsize)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _figure(value: Any, *, sign: bool = False) -> str:
    """A figure as text: counts with thousands separators, money-sized numbers to cents,
    shares and ratios to 4 significant digits."""
    plus = "+" if sign else ""
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:{plus},}"
    if abs(value) >= 1000:
        return f"{value:{plus},.2f}"
    return f"{value:{plus}.4g}"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.2f}"


@attrs.frozen(eq=False, repr=False)
class HealthComparison:
    """Two health reports side by side: every figure before and after, and the change of
    revenue split among its factors."""

    before: HealthReport
    after: HealthReport
    revenue: RevenueDecomposition
    """The revenue of ``before``'s window against ``after``'s, by factor."""

    def changes(self) -> list[dict[str, Any]]:
        """Every figure of :meth:`HealthReport.metrics` with its value before and after and
        the difference (``None`` where a side has no value)."""
        old = {(r["group"], r["metric"]): r for r in self.before.metrics()}
        out = []
        for r in self.after.metrics():
            if r["group"] == "revenue_change":
                continue
            prev = old.get((r["group"], r["metric"]), {"value": None})["value"]
            new = r["value"]
            diff = new - prev if new is not None and prev is not None else None
            out.append(
                {
                    "group": r["group"],
                    "metric": r["metric"],
                    "before": prev,
                    "after": new,
                    "change": diff,
                    "unit": r["unit"],
                }
            )
        return out

    def why(self) -> list[str]:
        """The change of revenue in words, the largest contribution first."""
        return self.revenue.lines(self.after.currency)

    def lines(self) -> list[str]:
        """The comparison as printed."""
        out = [
            f"from {self.before.local(self.before.as_of).isoformat()} to "
            f"{self.after.local(self.after.as_of).isoformat()}",
            *self.why(),
            "what else changed",
        ]
        for r in self.changes():
            if r["group"] == "revenue_change" or r["change"] in (None, 0):
                continue
            if r["metric"].startswith(("arrivals_", "reachable_")) and r["group"] == "pool":
                continue
            out.append(
                f"  {r['metric'].replace('_', ' ')}: {_figure(r['before'])} → "
                f"{_figure(r['after'])} ({_figure(r['change'], sign=True)})"
            )
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


# ---------------------------------------------------------------------------- the computation
def _window(snapshot: Snapshot, start: Any, previous: Any) -> tuple[dt.datetime, int, int]:
    from privdomain.domain.snapshot import Snapshot

    if previous is not None:
        if not isinstance(previous, Snapshot):
            raise ValidationError(
                f"previous must be the Snapshot as of start, got {type(previous).__name__}"
            )
        if previous.tenant != snapshot.tenant or previous.currency != snapshot.currency:
            raise ValidationError("previous must be a snapshot of the same pool")
    if start is None:
        if previous is None:
            raise ValidationError(
                "health needs the window: give start (its first instant) or previous (the "
                "snapshot as of start)"
            )
        begin = previous.as_of
    else:
        begin = as_utc_datetime(start, what="start")
        if previous is not None and as_utc_datetime(previous.as_of) != begin:
            raise ValidationError(
                f"previous is as of {previous.as_of.isoformat()}, not start {begin.isoformat()}"
            )
    lo, hi = epoch_micros(begin, what="start"), epoch_micros(snapshot.as_of)
    if previous is not None and lo >= hi:
        raise ValidationError(
            f"previous is as of {previous.as_of.isoformat()}, not before the snapshot's as_of "
            f"{snapshot.as_of.isoformat()}: previous must be the earlier snapshot (as of the "
            "window's start), snapshot the later one"
        )
    if lo >= hi:
        raise ValidationError(
            f"start {begin.isoformat()} must be before the snapshot's as_of "
            f"{snapshot.as_of.isoformat()}"
        )
    return begin, lo, hi


def _previous_reach(snapshot: Snapshot, previous: Snapshot) -> NDArray[np.bool_]:
    """Per row of ``snapshot``, whether the customer was reachable on ``previous``."""
    order = np.argsort(snapshot.index, kind="stable")
    pos = np.searchsorted(snapshot.index[order], previous.index)
    pos = np.minimum(pos, max(len(snapshot) - 1, 0))
    rows = order[pos] if len(snapshot) else pos
    if len(previous) and (
        not len(snapshot)
        or not np.array_equal(snapshot.index[rows], previous.index)
        or not np.array_equal(snapshot.customer_ids[rows], previous.customer_ids)
    ):
        raise ValidationError(
            "previous has customers the snapshot lacks: it must be an earlier snapshot of the "
            "same pool"
        )
    if len(previous) and not np.array_equal(snapshot.joined_at[rows], previous.joined_at):
        raise ValidationError(
            "previous has customers who joined at other times than in the snapshot: it must be "
            "an earlier snapshot of the same pool, taken from its current records "
            "(pool.snapshot(start))"
        )
    joined_by = int(np.count_nonzero(snapshot.joined_at <= _naive(previous.as_of)))
    if joined_by != len(previous):
        raise ValidationError(
            f"the snapshot has {joined_by} customers who joined by previous.as_of "
            f"({previous.as_of.isoformat()}), previous has {len(previous)}: it must be an earlier "
            "snapshot of the same pool, taken from its current records (pool.snapshot(start))"
        )
    out = np.zeros(len(snapshot), dtype=bool)
    out[rows] = previous.reachable.any(axis=1)
    return out


def _naive(when: dt.datetime) -> np.datetime64:
    return np.datetime64(as_utc_datetime(when).replace(tzinfo=None), "us")


def _months(micros: NDArray[np.int64], offset: dt.timedelta) -> NDArray[np.int64]:
    shift = offset // dt.timedelta(microseconds=1)
    local = (micros + shift).astype("datetime64[us]")
    return np.asarray(local.astype("datetime64[M]").astype(np.int64))


def _by_row(n: int, rows: NDArray[np.int64], amounts: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, rows, amounts)
    return out


def health(
    snapshot: Snapshot,
    *,
    start: dt.datetime | np.datetime64 | None = None,
    previous: Snapshot | None = None,
    value: LifetimeValue | CustomerValue | None = None,
    kocs: KOCDetector | None = None,
    super_users: ValueTiers | None = None,
    spend: Mapping[Channel | str, float] | None = None,
    bindings: Bindings | BindingPolicy | None = None,
    cohort_months: int = 12,
) -> HealthReport:
    """The health report of the pool in ``snapshot`` over the window from ``start`` to its
    ``as_of``.

    Everything is read from the snapshot, so nothing dated after ``as_of`` counts. The
    previous period, for the revenue decomposition, is as long as the window and ends at
    ``start``; its orders are seen as of ``as_of`` (refunds made since count).

    Parameters
    ----------
    snapshot : Snapshot
        The pool as of the window's end.
    start : datetime or numpy.datetime64, optional
        The window's first instant (timezone-aware). Defaults to ``previous.as_of``.
    previous : Snapshot, optional
        The same pool as of ``start``: with it the report counts the outflow (customers
        reachable then and on no owned channel now). Checked as far as it can be: the same
        tenant and currency, an earlier ``as_of``, and exactly the snapshot's customers who
        had joined by then, with the same join times (take it from the pool's current records,
        ``pool.snapshot(start)``, not from before late records arrived).
    value : LifetimeValue or CustomerValue, optional
        A fitted :class:`~privdomain.value.LifetimeValue` (applied to the snapshot) or its
        result for this snapshot: the expected CLV per customer.
    kocs : KOCDetector, optional
        Who counts as a KOC; default ``KOCDetector()`` (score threshold 10). Fitted on the
        snapshot unless already fitted.
    super_users : ValueTiers, optional
        Who counts as a super user (the last tier); default ``ValueTiers()`` (80% of net spend).
        Fitted on the snapshot unless already fitted.
    spend : mapping of Channel (or its name) to float, optional
        What the host spent acquiring customers from each source in the window: the funnel
        then reports acquisition cost per source.
    bindings : Bindings or BindingPolicy, optional
        How referred customers are bound to referrers (see
        :func:`privdomain.referral.referral_rate`).
    cohort_months : int, default 12
        How many join months (up to ``as_of``'s) the retention triangle holds.

    Returns
    -------
    HealthReport

    Raises
    ------
    ValidationError
        When ``snapshot`` is not a Snapshot; ``start`` is missing, naive, not a time or not
        before ``as_of``; ``previous`` is not an earlier snapshot of the same pool as of
        ``start``; ``value`` is neither a fitted LifetimeValue nor a CustomerValue of these
        customers; ``spend`` names an unknown source or an amount that is not a finite
        number >= 0; ``cohort_months`` is not an integer in [1, 600].
    NotFittedError
        When ``value`` is a LifetimeValue that was not fitted.
    """
    from privdomain.domain.snapshot import Snapshot
    from privdomain.layering import KOCDetector, ValueTiers
    from privdomain.referral.metrics import k_factor, referral_rate

    if not isinstance(snapshot, Snapshot):
        raise ValidationError(f"health takes a Snapshot, got {type(snapshot).__name__}")
    if (
        isinstance(cohort_months, bool)
        or not isinstance(cohort_months, int | np.integer)
        or not 1 <= cohort_months <= 600
    ):
        raise ValidationError(
            f"cohort_months must be an integer in [1, 600], got {cohort_months!r}"
        )
    begin, lo, hi = _window(snapshot, start, previous)
    prev_lo = lo - (hi - lo)
    n = len(snapshot)
    scale = 10 ** minor_unit_exponent(snapshot.currency)

    # orders of the window and of the previous period, per customer, in exact minor units
    log = snapshot.order_log
    at = _us(log.at)
    row = log.row.astype(np.int64)
    net = (log.gross_minor - log.refunded_minor).astype(np.int64)
    now, before = at >= lo, (at >= prev_lo) & (at < lo)
    orders = np.bincount(row[now], minlength=n).astype(np.int64)
    previous_orders = np.bincount(row[before], minlength=n).astype(np.int64)
    revenue = _by_row(n, row[now], net[now])
    previous_revenue = _by_row(n, row[before], net[before])

    joined = _us(snapshot.joined_at)
    new = joined >= lo
    stage = funnel_stages(
        snapshot.consent,
        snapshot.reachable,
        snapshot.touches_by_kind,
        snapshot.orders,
        snapshot.purchase_days,
        snapshot.referrals,
    )
    reach = snapshot.reachable_channels
    if previous is not None:
        was = _previous_reach(snapshot, previous)
        lost = was & (reach == 0)
        reachable_at_start: int | None = int(was.sum())
    else:
        lost = np.zeros(n, dtype=bool)
        reachable_at_start = None

    kinds = snapshot.touches_by_kind
    creator = (kinds[:, TouchKind.POSTED.value] > 0) | (kinds[:, TouchKind.SHARED.value] > 0)
    detector = KOCDetector() if kocs is None else kocs
    if not isinstance(detector, KOCDetector):
        raise ValidationError(f"kocs must be a KOCDetector, got {type(detector).__name__}")
    if not hasattr(detector, "cutoff_"):
        detector = detector.fit(snapshot)
    koc = detector.apply(snapshot).labels == 0
    tiers = ValueTiers() if super_users is None else super_users
    if not isinstance(tiers, ValueTiers):
        raise ValidationError(f"super_users must be a ValueTiers, got {type(tiers).__name__}")
    if not hasattr(tiers, "thresholds_"):
        tiers = tiers.fit(snapshot)
    is_super = tiers.apply(snapshot).labels < len(tiers.thresholds_)
    clv = _clv(snapshot, value)

    last_month = int(_months(np.array([hi], dtype=np.int64), snapshot.utc_offset)[0])
    cohorts = build_cohorts(
        _months(joined, snapshot.utc_offset),
        snapshot.source,
        row,
        _months(at, snapshot.utc_offset),
        last_month,
        int(cohort_months),
    )
    funnel = build_funnel(snapshot.source, stage, new, spend)
    reach_share = snapshot.reachable.mean(axis=0) if n else np.full(len(OWNED_CHANNELS), np.nan)
    start_utc = as_utc_datetime(begin)
    # the window holds what happened at as_of itself, as the snapshot does
    through = as_utc_datetime(snapshot.as_of) + dt.timedelta(microseconds=1)
    return HealthReport(
        customer_ids=snapshot.customer_ids,
        source=snapshot.source,
        new=_frozen(new),
        funnel_stage=_frozen(stage),
        orders=_frozen(orders),
        revenue_minor=_frozen(revenue),
        previous_orders=_frozen(previous_orders),
        previous_revenue_minor=_frozen(previous_revenue),
        repeat=_frozen(snapshot.purchase_days >= 2),
        reachable_channels=_frozen(np.asarray(reach, dtype=np.int64)),
        lost=_frozen(lost),
        koc=_frozen(np.asarray(koc)),
        super_user=_frozen(np.asarray(is_super)),
        creator=_frozen(np.asarray(creator)),
        clv=_frozen(clv),
        as_of=as_utc_datetime(snapshot.as_of),
        start=start_utc,
        previous_start=start_utc - dt.timedelta(microseconds=hi - lo),
        currency=snapshot.currency,
        utc_offset=snapshot.utc_offset,
        minor_per_major=scale,
        previous_traffic=int((joined < lo).sum()),
        reachable_at_start=reachable_at_start,
        reachable_share=tuple(float(v) for v in reach_share),
        referral=referral_rate(snapshot, start=start_utc, end=through, bindings=bindings),
        kfactor=k_factor(snapshot, start=start_utc, end=through),
        cohorts=cohorts,
        funnel=funnel,
        value_model=value is not None,
        super_user_share=float(tiers._params()[0][-1]),
        koc_cutoff=float(detector.cutoff_),
    )


def _clv(snapshot: Snapshot, value: Any) -> NDArray[np.float64]:
    from privdomain.value import CustomerValue, LifetimeValue

    if value is None:
        return np.full(len(snapshot), np.nan)
    if isinstance(value, LifetimeValue):
        value = value.apply(snapshot)
    if not isinstance(value, CustomerValue):
        raise ValidationError(
            f"value must be a fitted LifetimeValue or a CustomerValue, got {type(value).__name__}"
        )
    if len(value) != len(snapshot) or not np.array_equal(
        np.asarray(value.customer_ids, dtype=object), snapshot.customer_ids
    ):
        raise ValidationError("value must be the CustomerValue of this snapshot's customers")
    return np.asarray(value.clv, dtype=np.float64).copy()
