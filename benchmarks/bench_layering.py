"""RFM layering against the PyPI ``rfm`` package and pymc-marketing's ``rfm_segments``.

Targets on a 2-core machine: RFM scores + named segments + value tiers for 1M customers from a
Snapshot in <= 0.5 s, and at least 10x faster than both peers on the same 100k-customer data,
measured side by side in this one run.

Two comparisons on the same simulated purchases:

- *from transactions*: each library starts from the purchase log. ``rfm`` and
  ``rfm_segments`` take a pandas DataFrame (customer, date, amount); privdomain ingests the same
  purchases into a :class:`~privdomain.Pool`, takes a snapshot and layers it.
- *from per-customer RFM values*: the layering step alone. The peers get their own
  per-customer summary (built outside the timing) and score and segment it; privdomain scores
  and segments a snapshot.

pymc-marketing is heavy (PyMC, PyTensor, numba) and requires numpy 2, which the environment of
``bench_value`` cannot take next to lifetimes, so ``make bench`` runs this module in its own
environment (``benchmarks/requirements-layering.txt``) with the real pymc-marketing and rfm.
When ``pymc_marketing`` is not importable, :func:`pymc_rfm_segments` below stands in for it: a
line-by-line pandas re-implementation of ``pymc_marketing.clv.utils.rfm_segments`` (0.19:
``rfm_summary`` with ``include_first_transaction=True``, quartiles by ``pandas.qcut`` with the
same fallbacks, the default segment table). The table says which one ran.

Our timings are the best of ``REPEAT`` runs; the peers, much slower, run once. Data generation
is not timed.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks._timing import best
from privdomain import Pool, TouchKind
from privdomain.layering import RFMLayering, ValueTiers
from privdomain.simulate import SimulatedPool, simulate_pool

N_PEERS = int(os.environ.get("BENCH_LAYERING_CUSTOMERS", 100_000))
N_BIG = int(os.environ.get("BENCH_LAYERING_BIG", 1_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
SEED = 20260101


# ---------------------------------------------------------------------- data


def _purchases(sim: SimulatedPool) -> Any:
    """The simulated purchases as the (customer_id, date, amount) frame the peers read."""
    import pandas as pd

    t = sim.touchpoints
    buy = np.flatnonzero(t.kind == TouchKind.PURCHASED.value)
    # local (China) wall-clock time, as a shop's order export would show it
    offset = np.timedelta64(int(sim.params.utc_offset.total_seconds()), "s")
    return pd.DataFrame(
        {
            "customer_id": t.customer_id.decode()[buy],
            # the pool's columns hold epoch microseconds
            "date": (t.at[buy].astype("datetime64[us]") + offset).astype("datetime64[ns]"),
            "amount": t.amount_minor[buy] / 100.0,
        }
    )


def _as_of_local(sim: SimulatedPool) -> Any:
    import pandas as pd

    return pd.Timestamp(sim.as_of.replace(tzinfo=None) + sim.params.utc_offset)


def _ingest_purchases(sim: SimulatedPool) -> Pool:
    prm = sim.params
    pool = Pool(prm.tenant, currency=prm.currency, utc_offset=prm.utc_offset)
    pool.ingest(sim.customers)
    t = sim.touchpoints
    pool.ingest(t.take(np.flatnonzero(t.kind == TouchKind.PURCHASED.value)))
    return pool


# ---------------------------------------------------------------------- ours


def ours_layering(snapshot: Any) -> Any:
    """RFM scores and the classic named segments, learned and applied on one snapshot."""
    return RFMLayering().fit(snapshot).apply(snapshot)


def ours_layering_and_tiers(snapshot: Any) -> tuple[Any, Any]:
    """What the 1M target measures: RFM scores + named segments + value tiers."""
    rfm = RFMLayering().fit(snapshot).apply(snapshot)
    return rfm, ValueTiers().fit(snapshot).apply(snapshot)


def ours_from_transactions(sim: SimulatedPool) -> Any:
    pool = _ingest_purchases(sim)
    return ours_layering(pool.snapshot(sim.as_of))


# ---------------------------------------------------------------------- PyPI rfm


def rfm_from_transactions(frame: Any) -> Any:
    from rfm import RFM

    return RFM(frame.copy(), "customer_id", "date", "amount").rfm_table


def rfm_summary_table(frame: Any) -> Any:
    from rfm import RFM

    return RFM(frame.copy(), "customer_id", "date", "amount", automated=False).produce_rfm_dateset(
        frame.copy()
    )


def rfm_from_summary(summary: Any) -> Any:
    from rfm import RFM

    model = RFM(summary, "customer_id", "date", "amount", automated=False)
    return model.find_segments(model.calculate_rfm_score(summary.copy()))


# ---------------------------------------------------------------------- pymc-marketing


def _pymc() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], str]:
    """(rfm_segments, rfm_summary, segments_from_summary, label) — real if importable."""
    try:
        from pymc_marketing.clv import utils as pmu
    except ImportError:
        return (
            pymc_rfm_segments,
            pymc_rfm_summary,
            pymc_segments_from_summary,
            "rfm_segments (pandas re-implementation)",
        )

    def from_summary(summary: Any) -> Any:
        return pymc_segments_from_summary(summary)

    return pmu.rfm_segments, pmu.rfm_summary, from_summary, "pymc-marketing rfm_segments"


_PYMC_DEFAULT_SEGMENTS = {
    "Premium Customer": ["334", "443", "444", "344", "434", "433", "343", "333"],
    "Repeat Customer": ["244", "234", "232", "332", "143", "233", "243"],
    "Top Spender": [
        "424", "414", "144", "314", "324", "124", "224", "423", "413", "133", "323", "313", "134",
    ],
    "At Risk Customer": [
        "422", "223", "212", "122", "222", "132", "322", "312", "412", "123", "214",
    ],
    "Inactive Customer": ["411", "111", "113", "114", "112", "211", "311"],
}  # fmt: skip


def pymc_rfm_summary(
    transactions: Any,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str,
    observation_period_end: Any = None,
    include_first_transaction: bool = True,
    time_unit: str = "D",
) -> Any:
    """pymc-marketing's ``rfm_summary(..., include_first_transaction=True)``, in pandas."""
    import pandas as pd

    if observation_period_end is None:
        end = pd.to_datetime(transactions[datetime_col].max()).to_period(time_unit).to_timestamp()
    else:
        end = pd.to_datetime(observation_period_end).to_period(time_unit).to_timestamp()
    cols = [customer_id_col, datetime_col, monetary_value_col]
    tx = transactions[cols].sort_values(cols).copy()
    tx[datetime_col] = pd.to_datetime(tx[datetime_col])
    tx = tx.set_index(datetime_col).to_period(time_unit).to_timestamp()
    tx = tx.loc[pd.to_datetime(tx.index) <= end].reset_index()
    periods = tx.groupby([datetime_col, customer_id_col], sort=False, as_index=False).sum()
    customers = periods.groupby(customer_id_col, sort=False)[datetime_col].agg(
        ["min", "max", "count"]
    )
    customers["frequency"] = customers["count"] - 1
    customers["recency"] = (customers["max"] - customers["min"]) / np.timedelta64(1, time_unit)
    customers["T"] = (end - customers["min"]) / np.timedelta64(1, time_unit)
    if include_first_transaction:
        customers["frequency"] = customers["frequency"] + 1
        customers["recency"] = customers["T"] - customers["recency"]
    customers["monetary_value"] = (
        periods.groupby(customer_id_col)[monetary_value_col].mean().fillna(0)
    )
    out = customers[["frequency", "recency", "monetary_value"]].astype(float)
    return out.reset_index().rename(columns={customer_id_col: "customer_id"})


def _quartile_labels(column: str, max_label_range: int) -> list[int]:
    if column == "r_quartile":
        return list(range(max_label_range - 1, 0, -1))
    return list(range(1, max_label_range))


def pymc_segments_from_summary(rfm_data: Any) -> Any:
    """The scoring and segment part of pymc-marketing's ``rfm_segments``."""
    import pandas as pd

    rfm_data = rfm_data.copy()
    for quartile, column in zip(
        ["r_quartile", "f_quartile", "m_quartile"],
        ["recency", "frequency", "monetary_value"],
        strict=True,
    ):
        for max_label in (5, 4, 3):
            try:
                rfm_data[quartile] = pd.qcut(
                    rfm_data[column], q=4, labels=_quartile_labels(quartile, max_label),
                    duplicates="drop",
                ).astype(str)  # fmt: skip
                break
            except ValueError:
                if max_label == 3:
                    raise
    rfm_data["rfm_score"] = rfm_data.r_quartile + rfm_data.f_quartile + rfm_data.m_quartile
    rfm_data["segment"] = "Other"
    for key, scores in _PYMC_DEFAULT_SEGMENTS.items():
        rfm_data.loc[rfm_data["rfm_score"].isin(scores), "segment"] = key
    return rfm_data.drop(columns=["r_quartile", "f_quartile", "m_quartile"])


def pymc_rfm_segments(
    transactions: Any,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str,
    observation_period_end: Any = None,
) -> Any:
    """pymc-marketing's ``rfm_segments`` with its default segment table, in pandas."""
    summary = pymc_rfm_summary(
        transactions, customer_id_col, datetime_col, monetary_value_col, observation_period_end
    )
    return pymc_segments_from_summary(summary)


# ---------------------------------------------------------------------- the run


def _row(task: str, ours: float, peers: list[float]) -> str:
    cells = [f"{task:<46}", f"{ours:>9.3f} s"]
    for t in peers:
        cells += [f"{t:>9.2f} s", f"{t / ours:>7.1f}x"]
    return "  ".join(cells)


def compare_with_peers() -> None:
    """The 100k-customer comparison, side by side."""
    segments, summary_fn, from_summary, pymc_label = _pymc()

    sim = simulate_pool(N_PEERS, seed=SEED)
    frame = _purchases(sim)
    as_of_local = _as_of_local(sim)
    snapshot = _ingest_purchases(sim).snapshot(sim.as_of)
    print(
        f"{N_PEERS:,} customers, {len(frame):,} purchases, "
        f"{int(snapshot.buyers.sum()):,} buyers (seed {SEED})"
    )

    t_ours_tx, _ = best(lambda: ours_from_transactions(sim))
    t_ours_layer, _ = best(lambda: ours_layering(snapshot))
    t_rfm_tx, _ = best(lambda: rfm_from_transactions(frame), repeat=1)
    rfm_summary = rfm_summary_table(frame)
    t_rfm_layer, _ = best(lambda: rfm_from_summary(rfm_summary), repeat=1)
    t_pymc_tx, _ = best(
        lambda: segments(
            frame, "customer_id", "date", "amount", observation_period_end=as_of_local
        ),
        repeat=1,
    )
    pymc_summary = summary_fn(
        frame, "customer_id", "date", "amount", observation_period_end=as_of_local,
        include_first_transaction=True,
    )  # fmt: skip
    t_pymc_layer, _ = best(lambda: from_summary(pymc_summary), repeat=1)

    short = "rfm_segments" + ("" if pymc_label.startswith("pymc") else "*")
    heads = [("privdomain", 11), ("rfm (PyPI)", 11), ("ratio", 8), (short, 11), ("ratio", 8)]
    print(f"{'task':<46}  " + "  ".join(f"{h:>{w}}" for h, w in heads))
    print(
        _row("peers from transactions, ours from a snapshot", t_ours_layer, [t_rfm_tx, t_pymc_tx])
    )
    print(
        _row(
            "layering step only, from per-customer values",
            t_ours_layer,
            [t_rfm_layer, t_pymc_layer],
        )
    )
    print(_row("end to end from the purchase log", t_ours_tx, [t_rfm_tx, t_pymc_tx]))
    print(
        "  privdomain: RFM scores + the classic 11 named segments; end to end adds ingesting the\n"
        "  purchases into a Pool and taking the snapshot. Peers: their own RFM scoring and\n"
        "  default segments; 'layering step only' starts from their own per-customer summary."
    )
    if short.endswith("*"):
        print(
            "  * a pandas re-implementation of pymc-marketing 0.19's rfm_segments (not installed)"
        )


def one_million() -> None:
    """The absolute target: RFM + named segments + value tiers for 1M customers."""
    big_sim = simulate_pool(N_BIG, seed=SEED)
    big = _ingest_purchases(big_sim).snapshot(big_sim.as_of)
    del big_sim
    gc.collect()
    t_big, (_, tiers) = best(lambda: ours_layering_and_tiers(big))
    print(
        f"{N_BIG:,} customers: RFM scores + named segments + value tiers from a Snapshot: "
        f"{t_big:.3f} s (target <= 0.5 s)"
    )
    print(f"  {tiers.notes[0]}")


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)  # the peers warn about bins
    compare_with_peers()
    gc.collect()
    one_million()


if __name__ == "__main__":
    main()
