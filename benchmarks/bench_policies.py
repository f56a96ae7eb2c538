"""Decision quality of nudge targeting on the simulated response world, with intervals.

On a simulated pool of ``BENCH_CUSTOMERS`` customers (50,000 by default) whose responses to
nudges are known (``privdomain.simulate.response_world``), four targeting policies send the same
playbook nudges to different customers: the default policy, uplift targeting (a cross-fitted
T-learner trained on one randomised logging round), top propensity (the customers most likely
to buy, as many as the default policy) and blasting everyone reachable. The table gives each
policy's true incremental revenue per message with a bootstrap interval over the customers, the
ratio to blasting, the paired difference to blasting, and the off-policy estimates (IPS, SNIPS,
DR) an analyst would get from the logged round alone, with whether their intervals cover the
truth. A second table repeats it with a message budget of ``BENCH_BUDGET_SHARE`` of the
customers (the default policy then ranks by its score, the expected incremental response of
the periods' lift priors), with the same budget ranked by the response priors alone (the
chance to buy) as a further row, "ranked by response".

Timings: one round of responses for every reachable customer (best of ``REPEAT``), and the
whole comparison (plans, logging round, cross-fitted models, bootstrap, off-policy estimates;
one run each, with and without the budget, since the decision figures are the point here).

Run: ``python -m benchmarks policies`` (``BENCH_CUSTOMERS=10000`` for a quick look).
"""

from __future__ import annotations

import os
import time

import attrs
import numpy as np

from benchmarks._timing import best
from privdomain.domain.channels import OWNED_CHANNELS
from privdomain.nudges import NudgePolicy, PolicyComparison, compare_policies, plan
from privdomain.simulate import response_world, simulate_pool

N_CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 50_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
BUDGET_SHARE = float(os.environ.get("BENCH_BUDGET_SHARE", 0.2))
N_BOOTSTRAP = int(os.environ.get("BENCH_BOOTSTRAP", 500))


def _table(title: str, c: PolicyComparison) -> None:
    blast = c["blast"]
    print(f"\n{title}")
    head = (
        f"{'policy':<24}{'messages':>9}  {'truth/msg [95% CI]':<22}{'x blast':>8}  "
        f"{'vs blast [paired CI]':<22}{'IPS [CI]':<24}{'SNIPS [CI]':<24}{'DR [CI]':<24}"
        f"{'covered':>8}"
    )
    print(head)
    print("-" * len(head))
    for s in c.scores:
        gain, (low, high) = c.difference(s.name, "blast")
        vs = "" if s.name == "blast" else f"{gain:+5.2f} [{low:+5.2f}, {high:+5.2f}]"
        covered = "".join("y" if s.covers(m) else "n" for m in ("ips", "snips", "dr"))
        print(
            f"{s.name:<24}{s.messages:>9}  "
            f"{s.truth:5.2f} [{s.truth_ci[0]:5.2f}, {s.truth_ci[1]:5.2f}]  "
            f"{s.truth / blast.truth:>7.2f}x  {vs:<22}"
            f"{s.ips:6.2f} [{s.ips_ci[0]:6.2f}, {s.ips_ci[1]:6.2f}] "
            f"{s.snips:6.2f} [{s.snips_ci[0]:6.2f}, {s.snips_ci[1]:6.2f}] "
            f"{s.dr:6.2f} [{s.dr_ci[0]:6.2f}, {s.dr_ci[1]:6.2f}] {covered:>7}"
        )
    top = c["top propensity"]
    for name in ("default policy", "uplift"):
        gain, (low, high) = c.difference(name, "top propensity")
        print(
            f"{name} vs top propensity: {gain:+.2f} yuan per message "
            f"[{low:+.2f}, {high:+.2f}] ({c[name].truth / top.truth:.2f}x)"
        )


def main() -> None:
    gen = time.perf_counter()
    sim = simulate_pool(N_CUSTOMERS, seed=2026)
    snapshot = sim.pool().snapshot(sim.as_of)
    world = response_world(sim, snapshot, seed=1)
    print(
        f"data: {len(snapshot):,} customers, {len(snapshot.contacts):,} recent messages "
        f"(simulated, ingested and staged in {time.perf_counter() - gen:.1f} s); "
        f"response window {world.params.window_days:g} days, incremental revenue net of "
        "discounts, yuan"
    )
    reachable = np.flatnonzero(snapshot.reachable.any(axis=1))
    names = np.array([c.name for c in OWNED_CHANNELS], dtype=object)
    channel = names[np.argmax(snapshot.reachable[reachable], axis=1)]
    contacts = {
        "row": reachable,
        "channel": channel,
        "offer": np.full(reachable.size, "small_coupon", dtype=object),
    }
    respond_s, _ = best(lambda: world.respond(contacts))
    compare_s, comparison = best(
        lambda: compare_policies(world, seed=0, n_bootstrap=N_BOOTSTRAP), repeat=1
    )
    budget = max(1, int(BUDGET_SHARE * len(snapshot)))
    # the same budget ranked by the chance to buy (the response priors, no lift priors): what
    # the default ranking targeted before it ranked by the expected incremental response
    by_response = NudgePolicy(
        periods={k: attrs.evolve(r, lift_prior=None) for k, r in NudgePolicy().periods.items()}
    )
    response_ranked = plan(snapshot, world.stages, at=world.at, budget=budget, policy=by_response)
    budget_s, budgeted = best(
        lambda: compare_policies(
            world, seed=0, n_bootstrap=N_BOOTSTRAP, budget=budget,
            plans={"ranked by response": response_ranked},
        ),
        repeat=1,
    )  # fmt: skip
    _table(
        f"default policy as configured (no budget); {comparison.candidates:,} reachable, "
        f"logged round nudges {comparison.logging_share:.0%} of them at random",
        comparison,
    )
    _table(f"message budget {budget:,} ({BUDGET_SHARE:.0%} of customers)", budgeted)
    print(
        f"\none round of responses for {reachable.size:,} nudges: {respond_s * 1e3:.0f} ms; "
        f"comparison: {compare_s:.1f} s (with a budget {budget_s:.1f} s), "
        f"{N_BOOTSTRAP} bootstrap replicates"
    )


if __name__ == "__main__":
    main()
