"""The demo as a pipeline of steps: simulate a pool, ingest it, take a snapshot, report.

Each step reads what earlier steps left on a :class:`DemoRun` and returns the text of its own
section. Strategy packages add their own steps to :data:`DEFAULT_STEPS`, so ``make demo`` grows
with the library. The pipeline is pure: printing is the command line's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from privdomain.domain.batch import IngestReport
from privdomain.domain.pool import Pool
from privdomain.domain.snapshot import Snapshot
from privdomain.metrics import overview
from privdomain.simulate import SimulatedPool, simulate_pool

__all__ = ["DEFAULT_STEPS", "DemoRun", "DemoStep", "run_demo"]


@attrs.define
class DemoRun:
    """What the demo's steps share: the inputs, and what each step produced."""

    n_customers: int
    seed: int
    simulated: SimulatedPool | None = None
    pool: Pool | None = None
    report: IngestReport | None = None
    snapshot: Snapshot | None = None
    extras: dict[str, Any] = attrs.field(factory=dict)
    """Anything later steps want to hand on (fitted models, layerings, ...)."""

    def need_snapshot(self) -> Snapshot:
        if self.snapshot is None:
            raise RuntimeError("this step needs the snapshot step to have run first")
        return self.snapshot


@attrs.frozen
class DemoStep:
    """A named step: ``run`` does the work and returns the section's text."""

    title: str
    run: Callable[[DemoRun], str]


def _simulate(run: DemoRun) -> str:
    run.simulated = simulate_pool(run.n_customers, seed=run.seed)
    sim = run.simulated
    return (
        f"{len(sim.customers):,} customers and {len(sim.touchpoints):,} touchpoints over "
        f"{sim.params.days} days from {sim.params.start.date()} (seed {run.seed})"
    )


def _ingest(run: DemoRun) -> str:
    assert run.simulated is not None
    sim = run.simulated
    run.pool = Pool(
        sim.params.tenant, currency=sim.params.currency, utc_offset=sim.params.utc_offset
    )
    run.report = run.pool.ingest(sim.customers)
    touch = run.pool.ingest(sim.touchpoints)
    again = run.pool.ingest(sim.touchpoints)  # idempotent: the second time, all duplicates
    return (
        f"{run.report!r}\n{touch!r}\nre-ingesting the same touchpoints: "
        f"{again.duplicates:,} duplicates, {again.touchpoints_accepted} accepted"
    )


def _snapshot(run: DemoRun) -> str:
    assert run.simulated is not None
    assert run.pool is not None
    run.snapshot = run.pool.snapshot(as_of=run.simulated.as_of)
    return repr(run.snapshot)


def _overview(run: DemoRun) -> str:
    return str(overview(run.need_snapshot()))


def _value(run: DemoRun) -> str:
    # imported here: the value models load scipy, which `import privdomain` does not need
    import numpy as np

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
    last_week = run.pool.snapshot(as_of=snapshot.as_of - dt.timedelta(days=7))
    return demo_step(snapshot, last_week)


#: The steps ``make demo`` runs, in order.
DEFAULT_STEPS: list[DemoStep] = [
    DemoStep("Simulate a pool", _simulate),
    DemoStep("Ingest it", _ingest),
    DemoStep("Snapshot", _snapshot),
    DemoStep("Pool overview", _overview),
    DemoStep("Customer value: BG/NBD, Gamma-Gamma and CLV", _value),
    DemoStep("Layering", _layering),
    DemoStep("Lifecycle: a year of stages, and last week's moves", _lifecycle),
]


def run_demo(
    n_customers: int = 20_000, *, seed: int = 7, steps: Sequence[DemoStep] | None = None
) -> Iterator[tuple[str, str]]:
    """Run the demo's steps in order, yielding ``(title, text)`` as each finishes."""
    run = DemoRun(n_customers=n_customers, seed=seed)
    for step in DEFAULT_STEPS if steps is None else steps:
        yield step.title, step.run(run)
