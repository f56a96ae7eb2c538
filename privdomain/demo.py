"""The demo: a simulated pool run through the daily cycle for a few weeks, and what an operator
reads at the end.

:func:`run_demo` simulates a pool, ingests its history up to a few weeks before the
simulation's end, then runs :class:`~privdomain.pipeline.DailyCycle` once a week: every week the
host records the plan's contacts back (as ``SENT`` touchpoints) and the week's new events
arrive (the simulated pool's own purchases, messages and invitations of that week). The report
follows: the week's contact plan by period, channel and offer with the reasons for everyone not
contacted, the plan against blasting everyone (and uplift and top-propensity targeting) on the
simulated customers' known responses, with and without a message budget, referral and
commission, the pool's health, customer value, layering and lifecycle.

Each step reads what earlier steps left on a :class:`DemoRun` and returns the text of its own
section. The pipeline is pure: printing is the command line's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from privdomain.domain.batch import IngestReport
from privdomain.domain.channels import TouchKind
from privdomain.domain.pool import Pool
from privdomain.domain.snapshot import Snapshot
from privdomain.simulate import SimulatedPool, simulate_pool

__all__ = ["DEFAULT_STEPS", "WEEKS", "DemoRun", "DemoStep", "run_demo"]

#: How many weekly runs of the daily cycle the demo makes.
WEEKS = 4
_WEEK = dt.timedelta(days=7)
_PLANNED_OR_BOUGHT = (TouchKind.SENT, TouchKind.PURCHASED, TouchKind.REFUNDED)
_MICROS = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

#: What each skip reason means, in an operator's words.
_SKIPPED = {
    "no_consent": "not reachable on any channel of the playbook",
    "lost_outside_sale": "lost: kept for the next major sale",
    "capped": "frequency cap reached",
    "fatigued": "tired of our messages",
    "not_worth_it": "expected value too low",
    "over_budget": "over the message budget",
    "holdout": "held out to measure the effect",
}


@attrs.define
class DemoRun:
    """What the demo's steps share: the inputs, and what each step produced."""

    n_customers: int
    seed: int
    weeks: int = WEEKS
    simulated: SimulatedPool | None = None
    pool: Pool | None = None
    report: IngestReport | None = None
    snapshot: Snapshot | None = None
    """The snapshot of the last run of the cycle (the steps after the cycle read it)."""
    cycle: Any = None
    """The :class:`~privdomain.pipeline.DailyCycle`."""
    results: list[Any] = attrs.field(factory=list)
    """One :class:`~privdomain.pipeline.CycleResult` per week."""
    extras: dict[str, Any] = attrs.field(factory=dict)
    """Anything later steps want to hand on (fitted models, layerings, ...)."""

    def need_snapshot(self) -> Snapshot:
        if self.snapshot is None:
            raise RuntimeError("this step needs the daily cycle (or a snapshot) to have run first")
        return self.snapshot

    def need_results(self) -> list[Any]:
        if not self.results:
            raise RuntimeError("this step needs the daily cycle step to have run first")
        return self.results

    @property
    def start(self) -> dt.datetime:
        """The first run of the cycle: ``weeks - 1`` weeks before the simulation's end."""
        if self.simulated is None:
            raise RuntimeError("this step needs the simulate step to have run first")
        return self.simulated.as_of - (self.weeks - 1) * _WEEK


@attrs.frozen
class DemoStep:
    """A named step: ``run`` does the work and returns the section's text."""

    title: str
    run: Callable[[DemoRun], str]


# ---------------------------------------------------------------------- formatting
def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 2) -> list[str]:
    """Rows under a header; the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header]] + [
        [f"{c:,}" if isinstance(c, int) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    pad = " " * indent
    return [
        pad
        + "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        ).rstrip()
        for row in cells
    ]


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _day(when: dt.datetime, offset: dt.timedelta) -> str:
    return str(when.astimezone(dt.timezone(offset)).date())


def _us(when: dt.datetime) -> int:
    return (when - _EPOCH) // _MICROS


def _money(minor: int, currency: str = "") -> str:
    return f"{minor / 100:,.2f} {currency}".rstrip()


# ---------------------------------------------------------------------- steps
def _simulate(run: DemoRun) -> str:
    # customers keep arriving to the end, so the weeks of the daily cycle see new ones
    run.simulated = simulate_pool(run.n_customers, seed=run.seed, arrival_share=1.0)
    sim = run.simulated
    return (
        f"{len(sim.customers):,} customers and {len(sim.touchpoints):,} touchpoints over "
        f"{sim.params.days} days from {sim.params.start.date()} (seed {run.seed})"
    )


def _ingest(run: DemoRun) -> str:
    sim = run.simulated
    if sim is None:
        raise RuntimeError("the ingest step needs the simulate step to have run first")
    run.pool = Pool(
        sim.params.tenant, currency=sim.params.currency, utc_offset=sim.params.utc_offset
    )
    run.report = run.pool.ingest(sim.customers)
    history = sim.touchpoints.take(np.flatnonzero(sim.touchpoints.at <= _us(run.start)))
    touch = run.pool.ingest(history)
    again = run.pool.ingest(history)  # idempotent: the second time, all duplicates
    return (
        f"the history up to {_day(run.start, sim.params.utc_offset)}, where the daily cycle "
        f"starts:\n{run.report!r}\n{touch!r}\nre-ingesting the same touchpoints: "
        f"{again.duplicates:,} duplicates, {again.touchpoints_accepted} accepted"
    )


def _cycle(run: DemoRun) -> str:
    from privdomain._simulate_responses import ResponseParams, response_world
    from privdomain.pipeline import DailyCycle, stamp
    from privdomain.referral import CommissionRule, ReferralAttribution
    from privdomain.value import LifetimeValue

    sim, pool = run.simulated, run.pool
    if sim is None or pool is None:
        raise RuntimeError("the daily cycle step needs the ingest step to have run first")
    run.cycle = DailyCycle(
        pool,
        referral=ReferralAttribution(CommissionRule((0.10, 0.03), agent_rate=0.02)),
        value=LifetimeValue(),
        send_after=dt.timedelta(hours=10),  # the job runs at midnight, messages go at 10:00
        health_window=_WEEK,
    )
    offset = sim.params.utc_offset
    events = sim.touchpoints
    # the simulated customers' own week, but for purchases and the brand's messages: those
    # come from the plan (recorded by the cycle) and from the customers' responses to it
    own = ~np.isin(events.kind, [k.value for k in _PLANNED_OR_BOUGHT])
    responses = None
    rows = []
    for week in range(run.weeks):
        as_of = run.start + week * _WEEK
        new: Any = None
        if week:
            fresh = own & (events.at > _us(as_of - _WEEK)) & (events.at <= _us(as_of))
            new = events.take(np.flatnonzero(fresh))
            if responses is not None:
                new = [new, responses.to_touchpoints(f"bought-{stamp(as_of)}-")]
        result = run.cycle.run(as_of, new=new)
        run.results.append(result)
        # how the customers answer this week's nudges (both outcomes: with and without)
        world = response_world(
            sim,
            result.snapshot,
            seed=run.seed + week,
            stages=result.stages,
            at=result.plan.at,
            params=ResponseParams(window_days=7),
        )
        responses = world.respond(result.plan, round=week)
        run.extras.setdefault("responses", []).append(responses)
        run.extras.setdefault("worlds", []).append(world)
        moves = result.transitions
        rows.append(
            (
                _day(as_of, offset),
                result.ingested.touchpoints_accepted,
                len(moves),
                int(np.count_nonzero(moves.trigger == "purchase")),
                int(np.count_nonzero(result.plan.planned)),
                result.contacts_recorded,
                int(np.count_nonzero(responses.purchased1)),
                int(np.count_nonzero(responses.unsubscribed)),
                f"{float(np.sum(responses.incremental)):,.0f}",
            )
        )
    # run the last week again: the cycle is idempotent
    again = run.cycle.run(run.results[-1].as_of)
    run.snapshot = run.results[-1].snapshot
    cur = sim.params.currency
    lines = [
        f"One run a week for {run.weeks} weeks. Each week the plan's contacts are recorded as "
        "sent, the simulated\ncustomers answer them (buying in the following week, or not), and "
        "their other events arrive.",
        *_table(
            (
                "run of",
                "new events",
                "moves",
                "by purchase",
                "planned",
                "recorded",
                "buyers next week",
                "left",
                f"uplift ({cur}, true)",
            ),
            rows,
        ),
        "(left: customers who took offence and left the channel they were nudged on; uplift: "
        "what the nudged\ncustomers bought beyond what they would have without the nudge, "
        "known here because the\nsimulator draws both outcomes.)",
        f"The last run again: {'a repeat' if again.repeated else 'NOT a repeat'}, "
        f"{len(again.transitions)} moves, {again.contacts_recorded} contacts recorded, "
        f"{'no commission settled again' if again.settled is None else 'commission settled'}.",
    ]
    return "\n".join(lines)


def _plan(run: DemoRun) -> str:
    result = run.need_results()[-1]
    plan = result.plan
    planned = np.asarray(plan.planned, dtype=bool)
    n = len(plan)
    lines = [
        f"Run of {_day(result.as_of, result.snapshot.utc_offset)}: {int(planned.sum()):,} of "
        f"{n:,} customers get a nudge ({_pct(int(planned.sum()), n)})."
    ]
    period = np.asarray(plan.period, dtype=object).astype(str)
    rows = []
    for name in dict.fromkeys(period.tolist()):
        mine = period == name
        sent = mine & planned
        offers = plan.offer[sent]
        top = _top(offers)
        channels = _top(plan.channel[sent])
        rows.append((name, int(mine.sum()), int(sent.sum()), top, channels))
    lines.append("By post-purchase period:")
    lines += _table(("period", "customers", "nudged", "main offer", "main channel"), rows)
    lines.append("By channel:")
    lines += _table(
        ("channel", "nudges", "share"),
        [
            (name, count, _pct(count, int(planned.sum())))
            for name, count in _counts(plan.channel[planned])
        ],
    )
    lines.append("By offer:")
    lines += _table(
        ("offer", "nudges", "share"),
        [
            (name, count, _pct(count, int(planned.sum())))
            for name, count in _counts(plan.offer[planned])
        ],
    )
    moved = int(np.count_nonzero(plan.rescheduled))
    if moved:
        lines.append(f"{moved:,} nudges moved to the end of quiet hours.")
    lines.append("Not contacted, and why:")
    lines += _table(
        ("reason", "customers", "meaning"),
        [
            (reason, count, _SKIPPED.get(reason, reason.replace("_", " ")))
            for reason, count in plan.counts().items()
            if reason != "planned" and count
        ],
    )
    return "\n".join(lines)


#: Bootstrap replicates of the demo's comparison, and its budget as a share of the customers.
_BOOTSTRAP = 200
_BUDGET_SHARE = 0.2


def _comparison(run: DemoRun) -> str:
    from privdomain.nudges import compare_policies

    result = run.need_results()[-1]
    worlds = run.extras.get("worlds")
    if not worlds:
        raise RuntimeError("the comparison step needs the daily cycle step to have run first")
    world = worlds[-1]
    layers = list(result.layers.values()) or None
    c = compare_policies(world, seed=run.seed, n_bootstrap=_BOOTSTRAP, layers=layers)
    budget = max(1, int(_BUDGET_SHARE * len(world)))
    b = compare_policies(world, seed=run.seed, n_bootstrap=_BOOTSTRAP, layers=layers, budget=budget)
    run.extras.update(comparison=c, budgeted=b)
    cur = result.snapshot.currency

    def row(comparison: Any, name: str) -> tuple[Any, ...]:
        s = comparison[name]
        blast = comparison["blast"]
        vs = ""
        if name != "blast":
            gain, (low, high) = comparison.difference(name, "blast")
            vs = f"{gain:+.2f} [{low:+.2f}, {high:+.2f}]"
        return (
            name,
            s.messages,
            f"{s.truth:.2f} [{s.truth_ci[0]:.2f}, {s.truth_ci[1]:.2f}]",
            f"{s.truth / blast.truth:.2f}x" if blast.truth else "n/a",
            vs,
        )

    header = ("policy", "messages", "per message [95% CI]", "x blast", "vs blast [paired CI]")
    names = ("default policy", "uplift", "top propensity", "blast")
    lines = [
        "This week's plan against other ways of choosing whom to nudge, on the simulated "
        "customers'\nknown responses: incremental revenue per message over "
        f"{world.params.window_days:g} days, net of discounts ({cur}),\nwith 95% intervals "
        "over the customers (paired: both policies on the same resamples).\nUplift and top "
        "propensity send as many messages as the plan, picked by models trained on\none "
        "randomised round; blast sends to everyone reachable.",
        *_table(header, [row(c, name) for name in names]),
        f"With a budget of {budget:,} messages ({_BUDGET_SHARE:.0%} of the customers), "
        "ranked by expected incremental response:",
        *_table(header, [row(b, name) for name in names]),
    ]
    return "\n".join(lines)


def _counts(values: Any) -> list[tuple[str, int]]:
    names, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [(str(names[i]), int(counts[i])) for i in order]


def _top(values: Any) -> str:
    counts = _counts(values)
    return counts[0][0] if counts else "-"


def _referral(run: DemoRun) -> str:
    from privdomain.ports import CommissionStatus
    from privdomain.referral import agent_stats, k_factor, referral_rate, referrer_stats

    results = run.need_results()
    last = results[-1]
    snapshot = last.snapshot
    start = results[0].as_of - _WEEK
    rate = referral_rate(snapshot, start=start, bindings=last.bindings)
    k = k_factor(snapshot, start=start)
    cur = snapshot.currency
    lines = [
        f"Over the {len(results)} weeks: {rate.new_customers:,} new customers, "
        f"{rate.referred:,} brought by existing customers (referral rate "
        f"{_pct(rate.referred, rate.new_customers)}); {k.invites:,} invitations, "
        f"{k.converted:,} converted: K-factor {k.k:.4f}."
    ]
    stats = referrer_stats(snapshot, last.bindings)
    top = np.lexsort((-stats.revenue_minor, -stats.referred))[:5]
    lines.append("Top referrers:")
    lines += _table(
        ("customer", "referred", f"their revenue ({cur})"),
        [
            (str(stats.customer_ids[i]), int(stats.referred[i]), _money(stats.revenue_minor[i]))
            for i in top.tolist()
            if stats.referred[i]
        ],
    )
    agents = agent_stats(snapshot)
    best = np.argsort(-agents.revenue_minor, kind="stable")[:5]
    lines.append("Top agents (导购):")
    lines += _table(
        ("agent", "customers", f"credited revenue ({cur})"),
        [
            (agents.agent_ids[i], int(agents.customers[i]), _money(agents.revenue_minor[i]))
            for i in best.tolist()
        ],
    )
    entries = run.cycle.ledger.entries()
    by_status = dict.fromkeys(CommissionStatus, 0)
    for e in entries:
        by_status[e.status] += e.amount.minor
    total = sum(by_status.values())
    lines.append(
        f"Commission ledger: {len(entries):,} lines, {_money(total, cur)} in all: "
        + ", ".join(
            f"{status.value} {_money(minor, cur)}" for status, minor in by_status.items() if minor
        )
    )
    return "\n".join(lines)


def _health(run: DemoRun) -> str:
    results = run.need_results()
    last = results[-1]
    lines = list(last.health.lines())
    if len(results) > 1:
        change = last.health.compare(results[0].health)
        lines.append(f"since the first run ({_day(results[0].as_of, last.snapshot.utc_offset)}):")
        lines += ["  " + line for line in change.why()]
    return "\n".join(lines)


def _value(run: DemoRun) -> str:
    # imported here: the value models load scipy, which `import privdomain` does not need
    from privdomain.value import (
        BetaGeo,
        GammaGamma,
        customer_lifetime_value,
        rfm_summary_from_snapshot,
    )

    summary = rfm_summary_from_snapshot(run.need_snapshot(), time_unit="W")
    bgf = BetaGeo().fit(summary.frequency, summary.recency, summary.T)
    assert summary.monetary_value is not None  # a snapshot summary always carries spend
    ggf = GammaGamma().fit(summary.frequency, summary.monetary_value)
    clv = customer_lifetime_value(bgf, ggf, summary, horizon=52, discount_rate=0.01, step=4)
    alive = np.asarray(bgf.p_alive(summary.frequency, summary.recency, summary.T))
    run.extras.update(summary=summary, transaction_model=bgf, spend_model=ggf, clv=clv)
    bg = ", ".join(f"{k}={v:.3g}" for k, v in bgf.params_.items())
    gg = ", ".join(f"{k}={v:.3g}" for k, v in ggf.params_.items())
    top = np.argsort(-clv.clv, kind="stable")[:5]
    lines = [
        f"{len(summary):,} buyers summarised (frequency, recency, T in weeks)",
        f"BG/NBD: {bg} (log-likelihood {bgf.log_likelihood_:,.1f})",
        f"Gamma-Gamma: {gg}",
        f"P(alive): median {np.median(alive):.2f}, below 0.3 for {(alive < 0.3).mean():.1%}",
        f"CLV over 52 weeks at 1% per 4 weeks: total {clv.clv.sum():,.0f}, "
        f"mean {clv.clv.mean():,.2f}",
        "top customers by CLV:",
    ]
    for i in top:
        lines.append(
            f"  {summary.customer_ids[i]}  CLV {clv.clv[i]:>9,.2f}  P(alive) {alive[i]:.2f}  "
            f"frequency {summary.frequency[i]:.0f}"
        )
    return "\n".join(lines)


def _layering(run: DemoRun) -> str:
    from privdomain.layering import demo_step  # scikit-learn, loaded only when used

    return demo_step(run.need_snapshot())


def _lifecycle(run: DemoRun) -> str:
    from privdomain.lifecycle import demo_step  # scikit-learn, loaded only when used

    snapshot = run.need_snapshot()
    if run.pool is None:
        raise RuntimeError("the lifecycle step needs the ingest step to have run first")
    # last week's stages, to show who moved since: the snapshot of one week earlier
    last_week = run.pool.snapshot(as_of=snapshot.as_of - _WEEK)
    return demo_step(snapshot, last_week)


#: The steps ``make demo`` runs, in order.
DEFAULT_STEPS: list[DemoStep] = [
    DemoStep("Simulate a pool", _simulate),
    DemoStep("Ingest its history", _ingest),
    DemoStep("The daily cycle, once a week", _cycle),
    DemoStep("This week's contact plan", _plan),
    DemoStep("Does the plan pay? The simulated comparison", _comparison),
    DemoStep("Referral and commission", _referral),
    DemoStep("Pool health", _health),
    DemoStep("Customer value: BG/NBD, Gamma-Gamma and CLV", _value),
    DemoStep("Layering", _layering),
    DemoStep("Lifecycle: a year of stages, and last week's moves", _lifecycle),
]


def run_demo(
    n_customers: int = 20_000,
    *,
    seed: int = 7,
    weeks: int = WEEKS,
    steps: Sequence[DemoStep] | None = None,
) -> Iterator[tuple[str, str]]:
    """Run the demo's steps in order, yielding ``(title, text)`` as each finishes.

    ``weeks`` runs of the daily cycle, one a week, the last at the simulation's end.
    """
    run = DemoRun(n_customers=n_customers, seed=seed, weeks=weeks)
    for step in DEFAULT_STEPS if steps is None else steps:
        yield step.title, step.run(run)
