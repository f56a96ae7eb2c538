"""Stage histories: one sweep over the purchases equals the stages of every date's snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from privdomain import Pool
from privdomain.errors import NotFittedError, ValidationError
from privdomain.lifecycle import (
    LADDERS,
    Lifecycle,
    PAliveLadder,
    RelationshipLadder,
    StageHistory,
    stage_history,
)
from privdomain.value import ModifiedBetaGeo, rfm_summary_from_snapshot


def weekly(end: dt.datetime, weeks: int) -> Any:
    last = np.datetime64(int(end.timestamp() * 1_000_000), "us")
    return last - np.arange(weeks - 1, -1, -1) * np.timedelta64(7, "D")


@pytest.fixture(scope="module")
def history(sim_pool: tuple[Pool, Any], fitted: Lifecycle) -> tuple[StageHistory, Any]:
    pool, sim = sim_pool
    dates = weekly(sim.as_of, 52)
    return stage_history(fitted, pool.snapshot(sim.as_of), dates), dates


def assert_equals_snapshots(
    history: StageHistory, pool: Pool, model: Lifecycle, dates: Any, steps: Any
) -> None:
    for step in steps:
        snap = pool.snapshot(dates[step])
        stages = model.apply(snap)
        rows = np.searchsorted(history.index, snap.index)
        for ladder in history.ladders:
            assert np.array_equal(
                history.codes[ladder][step][rows], stages.ladder(ladder).labels
            ), (
                step,
                ladder,
            )
        absent = np.ones(len(history), dtype=bool)
        absent[rows] = False
        for ladder in history.ladders:
            assert (history.codes[ladder][step][absent] == -1).all()


class TestEqualsSnapshots:
    def test_every_date(self, history, sim_pool, fitted) -> None:
        found, dates = history
        pool, _ = sim_pool
        assert_equals_snapshots(found, pool, fitted, dates, range(0, 52, 3))

    def test_the_last_date_from_tables_or_the_pool(self, history, sim_pool, fitted) -> None:
        found, dates = history
        pool, _ = sim_pool
        for source in (pool.tables(), pool):
            again = stage_history(fitted, source, dates[-10:])
            for ladder in LADDERS:
                assert np.array_equal(again.codes[ladder], found.codes[ladder][-10:])

    def test_a_later_snapshot_sees_only_up_to_each_date(self, sim_pool, fitted) -> None:
        pool, sim = sim_pool
        dates = weekly(sim.as_of - dt.timedelta(days=60), 6)
        found = stage_history(fitted, pool.snapshot(sim.as_of), dates)
        assert_equals_snapshots(found, pool, fitted, dates, range(6))

    def test_dates_between_purchases_of_one_day(self, sim_pool, fitted) -> None:
        pool, sim = sim_pool
        # dates at odd hours cut business days in two
        dates = weekly(sim.as_of - dt.timedelta(hours=7), 5) + np.timedelta64(13, "h")
        dates = dates[dates <= np.datetime64(int(sim.as_of.timestamp() * 1e6), "us")]
        found = stage_history(fitted, pool, dates)
        assert_equals_snapshots(found, pool, fitted, dates, range(len(dates)))

    def test_other_settings(self, sim_pool) -> None:
        pool, sim = sim_pool
        snap = pool.snapshot(sim.as_of)
        model = Lifecycle(
            PAliveLadder(ModifiedBetaGeo().fit(rfm_summary_from_snapshot(snap))),
            RelationshipLadder(window_days=30, churn_days=120),
        ).fit(snap)
        dates = weekly(sim.as_of, 8)
        found = stage_history(model, snap, dates, ladders=("relationship", "post_purchase"))
        assert found.ladders == ("relationship", "post_purchase")
        assert_equals_snapshots(found, pool, model, dates, range(0, 8, 2))

    def test_integer_dates_with_a_unit(self, history, sim_pool, fitted) -> None:
        found, dates = history
        pool, _ = sim_pool
        seconds = dates[-3:].astype("datetime64[s]").astype(np.int64)
        again = stage_history(fitted, pool, seconds, epoch_unit="s")
        assert np.array_equal(again.codes["post_purchase"], found.codes["post_purchase"][-3:])


class TestReading:
    def test_counts_and_matrices_agree(self, history) -> None:
        found, _ = history
        for ladder in LADDERS:
            counts = found.counts(ladder)
            moves = found.transition_matrices(ladder)
            assert counts.shape == (52, len(found.stage_names[ladder]))
            assert moves.shape == (51, counts.shape[1] + 1, counts.shape[1])
            assert np.array_equal(moves.sum(axis=1), counts[1:])
            assert np.array_equal(moves[:, :-1, :].sum(axis=2), counts[:-1])

    def test_nobody_returns_to_never_bought(self, history) -> None:
        found, _ = history
        moves = found.transition_matrices("post_purchase")
        assert (moves[:, 1:5, 0] == 0).all()
        assert moves[:, 0, 1:].sum() > 0

    def test_paths_and_flows(self, history, sim_pool) -> None:
        found, dates = history
        cid = str(found.customer_ids[-1])
        path = found.path(cid)
        assert len(path) == 52
        assert path[-1] == found.stages_at(-1)[-1]
        assert found.stages_at(dates[-1])[-1] == path[-1]
        flows = found.flows("post_purchase")
        assert sum(f["customers"] for f in flows) == int(found.transition_matrices().sum())
        assert {"start", "end", "source", "target", "customers"} == set(flows[0])
        frame = found.to_frame("milestone")
        assert frame.shape == (len(found), 52)
        assert "StageHistory(" in repr(found)

    def test_charts(self, history) -> None:
        matplotlib = pytest.importorskip("matplotlib")
        from matplotlib.axes import Axes

        found, _ = history
        assert isinstance(found.plot_flow(), Axes)
        assert isinstance(found.plot_transitions("relationship"), Axes)
        assert isinstance(found.plot_transitions(step=3), Axes)
        figure = matplotlib.figure.Figure()
        ax = figure.add_subplot()
        assert found.plot_flow("milestone", ax=ax) is ax


class TestRefusals:
    @pytest.mark.parametrize(
        ("dates", "kwargs", "message"),
        [
            (["2025-03-01", "2025-02-01"], {}, "goes backwards"),
            (["2025-03-01", "2025-03-01"], {}, "repeats"),
            ([], {}, "at least one date"),
            ([1_740_000_000, 1_750_000_000], {}, "epoch_unit"),
            ([1_740_000_000], {"epoch_unit": "days"}, "epoch_unit must be one of"),
            (["2030-01-01"], {}, "cannot see that far"),
            (["2025-03-01"], {"ladders": ("progress",)}, "ladders must be"),
        ],
    )
    def test_bad_dates(self, sim_snapshot, fitted, dates, kwargs, message) -> None:
        when = (
            np.array(dates, dtype="datetime64[us]")
            if dates and isinstance(dates[0], str)
            else dates
        )
        with pytest.raises(ValidationError, match=message):
            stage_history(fitted, sim_snapshot, when, **kwargs)

    def test_not_fitted(self, sim_snapshot) -> None:
        with pytest.raises(NotFittedError):
            stage_history(Lifecycle(), sim_snapshot, [np.datetime64("2025-06-01")])

    @pytest.mark.parametrize("source", [None, "pool", 3, {"a": 1}])
    def test_bad_source(self, fitted, source) -> None:
        with pytest.raises(ValidationError, match="Snapshot, Tables or a Pool"):
            stage_history(fitted, source, [np.datetime64("2025-06-01")])

    def test_not_a_lifecycle(self, sim_snapshot) -> None:
        with pytest.raises(ValidationError, match="fitted Lifecycle"):
            stage_history(object(), sim_snapshot, [np.datetime64("2025-06-01")])

    def test_bad_reads(self, history) -> None:
        found, _ = history
        with pytest.raises(ValidationError, match="no ladder"):
            found.counts("progress")
        with pytest.raises(ValidationError, match="out of range"):
            found.stages_at(52)
        with pytest.raises(ValidationError, match="not one of the history's dates"):
            found.stages_at(np.datetime64("2020-01-01"))
        pytest.importorskip("matplotlib")
        with pytest.raises(ValidationError, match="step must lie"):
            found.plot_transitions(step=60)
        with pytest.raises(ValidationError, match="matplotlib Axes"):
            found.plot_flow(ax="axes")
