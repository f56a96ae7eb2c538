"""The lifecycle section of ``python -m privdomain demo``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from privdomain import Pool, Snapshot
from privdomain.demo import DEFAULT_STEPS, run_demo
from privdomain.errors import ValidationError
from privdomain.lifecycle import demo_step


@pytest.fixture(scope="module")
def demo_text(sim_pool: tuple[Pool, Any], sim_snapshot: Snapshot) -> str:
    pool, sim = sim_pool
    return demo_step(sim_snapshot, pool.snapshot(sim.as_of - dt.timedelta(days=7)))


def _day(when: dt.datetime) -> str:
    return str(when.date())


def test_the_stage_flow_over_a_year(demo_text: str, sim_pool: tuple[Pool, Any]) -> None:
    assert "The pool's rhythm:" in demo_text
    assert "customers per stage over a year replayed weekly (52 dates)" in demo_text
    for header in (
        "date        not_bought   active   silent  sleeping     lost",
        "date        prospect      new   growth   mature  decline  churned",
    ):
        assert header in demo_text
    # five dates per table (every 13 weeks and the last), the last the snapshot's own day
    dated = re.findall(r"^    (\d{4}-\d\d-\d\d) ", demo_text, flags=re.MULTILINE)
    assert len(dated) == 10
    assert dated[:5] == dated[5:]
    assert dated[4] == _day(sim_pool[1].as_of)
    assert "returns to active by buying again" in demo_text
    assert "Stuck before a milestone:" in demo_text


def test_last_weeks_moves_and_explanations(demo_text: str, sim_pool: tuple[Pool, Any]) -> None:
    since = _day(sim_pool[1].as_of - dt.timedelta(days=7))
    assert re.search(rf"Moves since {since}: [\d,]+ \([\d,]+ made by a purchase", demo_text)
    assert "    post-purchase: " in demo_text
    assert "    relationship: " in demo_text
    assert "    milestones reached: " in demo_text
    explained = demo_text.split("A few moves, explained:\n", 1)[1]
    assert explained.count("  customer '") == 3
    assert "by purchase" in explained
    assert "by time" in explained
    assert "cadence_ratio=" in explained
    # the section's own lines stay short (the explanations are the library's own text)
    summary = demo_text.split("A few moves, explained:\n", 1)[0]
    assert max(len(line) for line in summary.splitlines()) <= 92


def test_the_demo_runs_the_step() -> None:
    titles = [step.title for step in DEFAULT_STEPS]
    assert titles[-1].startswith("Lifecycle")
    picked = [s for s in DEFAULT_STEPS if s.title.split()[0] in ("Simulate", "Ingest", "The")]
    sections = dict(run_demo(3_000, seed=5, weeks=2, steps=[*picked, DEFAULT_STEPS[-1]]))
    text = sections[titles[-1]]
    assert "Post-purchase period" in text
    assert "A few moves, explained:" in text


def test_the_step_takes_snapshots_in_order(
    sim_pool: tuple[Pool, Any], sim_snapshot: Snapshot
) -> None:
    pool, sim = sim_pool
    with pytest.raises(ValidationError, match="two snapshots"):
        demo_step(sim_snapshot, "last week")  # type: ignore[arg-type]
    last_week = pool.snapshot(sim.as_of - dt.timedelta(days=7))
    with pytest.raises(ValidationError, match="must not go backwards"):
        demo_step(last_week, sim_snapshot)
