"""``python -m privdomain demo``: the daily cycle on a simulated pool, week after week, and a
report whose figures agree with the pool they describe."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from privdomain.cli import main
from privdomain.demo import DEFAULT_STEPS, DemoRun, run_demo
from privdomain.domain.channels import TouchKind
from privdomain.nudges import compare_policies
from privdomain.ports import CommissionStatus
from privdomain.referral import referral_rate

WEEKS = 3


@pytest.fixture(scope="module")
def demo() -> tuple[DemoRun, dict[str, str]]:
    run = DemoRun(n_customers=2_500, seed=3, weeks=WEEKS)
    return run, {step.title: step.run(run) for step in DEFAULT_STEPS}


def _section(demo: tuple[DemoRun, dict[str, str]], start: str) -> str:
    (text,) = [t for title, t in demo[1].items() if title.startswith(start)]
    return text


def _numbers(line: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"(?<![\w.])\d[\d,]*(?![\d.]*\.\d)", line)]


def test_every_section_in_order(demo: tuple[DemoRun, dict[str, str]]) -> None:
    assert list(demo[1]) == [step.title for step in DEFAULT_STEPS]
    assert all(text.strip() for text in demo[1].values())


def test_one_run_a_week_and_the_table_agrees(demo: tuple[DemoRun, dict[str, str]]) -> None:
    run, _ = demo
    assert run.simulated is not None
    text = _section(demo, "The daily cycle")
    rows = [line for line in text.splitlines() if re.match(r"^  \d{4}-\d\d-\d\d ", line)]
    assert len(rows) == WEEKS == len(run.results)
    events = run.simulated.touchpoints
    own = ~np.isin(
        events.kind, [TouchKind.SENT.value, TouchKind.PURCHASED.value, TouchKind.REFUNDED.value]
    )
    responses = run.extras["responses"]
    for week, (line, result) in enumerate(zip(rows, run.results, strict=True)):
        new, moves, by_purchase, planned, recorded, buyers, left, uplift = _numbers(line)[3:11]
        # the week's events, counted here: the customers' own (but for purchases and the
        # simulator's messages) and the purchases answering last week's nudges
        end = int(np.datetime64(result.as_of.replace(tzinfo=None), "us").astype(np.int64))
        window = (events.at > end - 7 * 86_400_000_000) & (events.at <= end)
        expected = 0
        if week:
            answered = responses[week - 1]  # purchases, and the customers who left a channel
            expected = int((own & window).sum()) + int(answered.purchased1.sum())
            expected += int(answered.unsubscribed.sum())
        assert new == expected
        assert moves == len(result.transitions)
        assert by_purchase == int((result.transitions.trigger == "purchase").sum())
        assert planned == recorded == int(result.plan.planned.sum())
        assert buyers == int(responses[week].purchased1.sum())
        assert left == int(responses[week].unsubscribed.sum())
        assert uplift == round(float(np.sum(responses[week].incremental)))
    assert run.results[0].as_of == run.simulated.as_of - (WEEKS - 1) * (
        run.results[1].as_of - run.results[0].as_of
    )
    assert run.results[-1].as_of == run.simulated.as_of
    assert "The last run again: a repeat, 0 moves, 0 contacts recorded" in text
    # every recorded contact is in the pool once, as a SENT touchpoint of the next snapshot
    assert run.pool is not None
    final = run.pool.snapshot(run.simulated.as_of + (run.results[1].as_of - run.results[0].as_of))
    sent = sum(r.contacts_recorded for r in run.results)
    assert final.contacts.at.size >= sent


def test_the_plan_section_adds_up(demo: tuple[DemoRun, dict[str, str]]) -> None:
    run, _ = demo
    plan = run.results[-1].plan
    planned = int(plan.planned.sum())
    text = _section(demo, "This week's contact plan")
    assert f"{planned:,} of {len(plan):,} customers get a nudge" in text
    channels = text.split("By channel:\n", 1)[1].split("By offer:", 1)[0].splitlines()[1:]
    assert sum(_numbers(line)[0] for line in channels) == planned
    offers = text.split("By offer:\n", 1)[1].split("Not contacted", 1)[0].splitlines()[1:]
    offers = [line for line in offers if "quiet hours" not in line]
    assert sum(_numbers(line)[0] for line in offers) == planned
    reasons = text.split("Not contacted, and why:\n", 1)[1].splitlines()[1:]
    assert sum(_numbers(line)[0] for line in reasons) == len(plan) - planned


def _policy_rows(block: str) -> dict[str, str]:
    rows = [line.strip() for line in block.splitlines() if line.startswith("  ")]
    names = ("default policy", "uplift", "top propensity", "blast")
    return {name: line for line in rows[1:] for name in names if line.startswith(name + " ")}


def test_the_comparison_section_is_the_simulated_truth(
    demo: tuple[DemoRun, dict[str, str]],
) -> None:
    """The comparison scores this week's own plan; its figures are re-derived here from the
    week's simulated world: the default policy's truth per message is the mean expected
    incremental revenue of the plan's own nudges, blast contacts every reachable customer,
    and the printed cells are those of a comparison recomputed with the same seed."""
    run, _ = demo
    text = _section(demo, "Does the plan pay?")
    result = run.results[-1]
    world = run.extras["worlds"][-1]
    nudged = np.asarray(result.plan.planned, dtype=bool)
    truth = world.respond(result.plan, round=0).expected_incremental[nudged].mean()
    reachable = int(np.count_nonzero(result.snapshot.reachable.any(axis=1)))
    plain, budgeted = text.split("With a budget of", 1)
    budget = _numbers(budgeted.splitlines()[0])[0]
    assert budget == int(0.2 * len(result.snapshot))
    layers = list(result.layers.values()) or None
    for block, kwargs in ((plain, {}), (budgeted, {"budget": budget})):
        rows = _policy_rows(block)
        assert list(rows) == ["default policy", "uplift", "top propensity", "blast"]
        again = compare_policies(world, seed=run.seed, n_bootstrap=200, layers=layers, **kwargs)
        blast = again["blast"]
        assert _numbers(rows["blast"])[0] == blast.messages
        assert blast.messages <= reachable
        for name, line in rows.items():
            score = again[name]
            assert line.split()[len(name.split())] == f"{score.messages:,}"
            assert f"{score.truth:.2f} [{score.truth_ci[0]:.2f}, {score.truth_ci[1]:.2f}]" in line
            assert f"{score.truth / blast.truth:.2f}x" in line
            if name != "blast":
                gain, (low, high) = again.difference(name, "blast")
                assert line.endswith(f"{gain:+.2f} [{low:+.2f}, {high:+.2f}]")
        if not kwargs:  # the plan the cycle made, nudge for nudge
            assert again["default policy"].messages == int(nudged.sum())
            assert again["default policy"].truth == pytest.approx(truth, rel=1e-12)
        else:
            assert again["default policy"].messages == min(budget, int(nudged.sum()))


def test_referral_and_ledger_agree_with_the_pool(demo: tuple[DemoRun, dict[str, str]]) -> None:
    run, _ = demo
    last = run.results[-1]
    text = _section(demo, "Referral and commission")
    start = run.results[0].as_of - (run.results[1].as_of - run.results[0].as_of)
    rate = referral_rate(last.snapshot, start=start)
    assert f"{rate.new_customers:,} new customers, {rate.referred:,} brought by" in text
    entries = run.cycle.ledger.entries()
    total = sum(e.amount.minor for e in entries)
    assert f"Commission ledger: {len(entries):,} lines, {total / 100:,.2f} CNY in all" in text
    payable = sum(e.amount.minor for e in entries if e.status is CommissionStatus.PAYABLE)
    assert f"payable {payable / 100:,.2f} CNY" in text


def test_the_health_section_is_the_last_runs_report(
    demo: tuple[DemoRun, dict[str, str]],
) -> None:
    run, _ = demo
    text = _section(demo, "Pool health")
    assert text.startswith("\n".join(run.results[-1].health.lines()))
    assert "since the first run" in text


def test_the_demo_yields_sections_as_they_finish() -> None:
    sections = run_demo(1_000, seed=2, weeks=2, steps=DEFAULT_STEPS[:3])
    title, text = next(sections)
    assert title == "Simulate a pool"
    assert "1,000 customers" in text
    assert [t for t, _ in sections] == [s.title for s in DEFAULT_STEPS[1:3]]


def test_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "1500", "--seed", "4", "--weeks", "2"]) == 0
    out = capsys.readouterr().out
    for step in DEFAULT_STEPS:
        assert f"== {step.title} " in out
    assert "(done in " in out


@pytest.mark.parametrize("bad", [["--weeks", "0"], ["--customers", "0"], ["--weeks", "two"]])
def test_the_command_line_refuses_bad_arguments(
    bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", *bad])
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_steps_need_their_predecessors() -> None:
    run = DemoRun(n_customers=10, seed=1)
    by_title: dict[str, Any] = {s.title: s for s in DEFAULT_STEPS}
    with pytest.raises(RuntimeError, match="simulate step"):
        by_title["Ingest its history"].run(run)
    with pytest.raises(RuntimeError, match="daily cycle step"):
        by_title["This week's contact plan"].run(run)
