"""privdomain.value against lifetimes 0.11.3, side by side in one run.

Fits (BG/NBD, Pareto/NBD) on lifetimes' own CDNOW sample (2,357 customers) and on 100,000
customers simulated from the CDNOW estimates with ages and recencies on a daily grid, as a daily
summary gives them; the summary and the calibration/holdout split on a log of ~1M transactions
of 100,000 customers; and the peak memory of CLV for 1M customers. Each timing is the median of
a few runs after a warm-up (a single run where lifetimes takes most of a minute); lifetimes
starts its optimiser at random points, so numpy's global generator is seeded first.
Log-likelihoods of both libraries' estimates are evaluated with the same function, in weeks, so
their difference says whether both found the same optimum.

Run: ``make bench`` or ``.venv-bench/bin/python -m benchmarks value``.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from privdomain.value import (
    BetaGeo,
    GammaGamma,
    ParetoNBD,
    calibration_holdout,
    customer_lifetime_value,
    rfm_summary,
)

CDNOW_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_PNBD = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}
CDNOW_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def median_time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs after a warm-up run (which gives the result)."""
    result = run()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def once(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def daily_summary(model: Any, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers of 27 to 39 weeks, recency and T on whole days, expressed in weeks."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(27 * 7, 39 * 7 + 1, n) / 7.0
    sim = model.simulate(ages, seed=seed + 1)
    recency = np.floor(sim.recency * 7) / 7
    return sim.frequency, recency, sim.T


def transaction_log(n_customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About ten purchases per customer over a year, as UTC timestamps with amounts."""
    buyers = BetaGeo.from_params(r=2.9, alpha=50.0, a=1.0, b=12.0)  # rates per day
    rng = np.random.default_rng(seed)
    ages = rng.uniform(120, 365, n_customers)
    purchases = buyers.simulate_purchases(ages, seed=seed + 1)
    start = np.datetime64("2023-01-01T00:00:00") + (365 - ages) * np.timedelta64(86_400, "s")
    seconds = np.round(purchases.time * 86_400).astype("timedelta64[s]")
    when = start.astype("datetime64[s]")[purchases.customer] + seconds
    amounts = np.round(rng.lognormal(3.5, 0.8, when.shape[0]), 2)
    return purchases.customer, when, amounts


def row(name: str, ours: float, theirs: float, check: str) -> str:
    ratio = theirs / ours if ours > 0 else float("nan")
    return f"| {name:<50} | {ours:>12.4f} | {theirs:>11.4f} | {ratio:>8.1f}x | {check:<30} |"


def main() -> None:
    import pandas as pd
    from lifetimes import BetaGeoFitter, ParetoNBDFitter
    from lifetimes.datasets import load_cdnow_summary
    from lifetimes.utils import (
        calibration_and_holdout_data,
        summary_data_from_transaction_data,
    )

    warnings.simplefilter("ignore")  # lifetimes and old pandas are chatty
    # lifetimes draws its starting points from numpy's legacy global generator.
    np.random.seed(0)  # noqa: NPY002
    header = (
        f"| {'benchmark':<50} | {'privdomain s':>12} | {'lifetimes s':>11} | {'speed-up':>9} "
        f"| {'check':<30} |"
    )
    lines = [header, "|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|"]

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    print("\n".join(lines), flush=True)

    cdnow = load_cdnow_summary(index_col=[0])
    small = (
        cdnow["frequency"].to_numpy(float),
        cdnow["recency"].to_numpy(float),
        cdnow["T"].to_numpy(float),
    )
    big_bg = daily_summary(BetaGeo.from_params(CDNOW_BG), 100_000, seed=1)
    big_pnbd = daily_summary(ParetoNBD.from_params(CDNOW_PNBD), 100_000, seed=2)

    cases = [
        ("BG/NBD fit, CDNOW 2,357 customers", BetaGeo, BetaGeoFitter, small, 15, 5),
        ("BG/NBD fit, 100k customers", BetaGeo, BetaGeoFitter, big_bg, 5, 3),
        ("Pareto/NBD fit, CDNOW 2,357 customers", ParetoNBD, ParetoNBDFitter, small, 15, 5),
        ("Pareto/NBD fit, 100k customers", ParetoNBD, ParetoNBDFitter, big_pnbd, 3, 0),
    ]
    for name, ours_cls, their_cls, (x, tx, t), ours_repeat, their_repeat in cases:
        ours_s, ours_model = median_time(lambda: ours_cls().fit(x, tx, t), ours_repeat)  # noqa: B023
        fit_theirs = lambda: their_cls().fit(x, tx, t)  # noqa: B023, E731
        if their_repeat:
            theirs_s, their_model = median_time(fit_theirs, their_repeat)
        else:
            theirs_s, their_model = once(fit_theirs)
        theirs = ours_cls.from_params({k: float(v) for k, v in their_model.params_.items()})
        ll_theirs = float(theirs.log_likelihood(x, tx, t).sum())
        check = (
            f"LL {ours_model.log_likelihood_:.3f} vs {ll_theirs - ours_model.log_likelihood_:+.1e}"
        )
        emit(row(name, ours_s, theirs_s, check))

    ids, when, amounts = transaction_log(100_000, seed=3)
    frame = pd.DataFrame({"id": ids, "date": when.astype("datetime64[ns]"), "amount": amounts})
    end = np.datetime64("2024-01-01T00:00:00")
    label = f"rfm_summary, {len(ids) / 1e6:.2f}M transactions / 100k customers"
    ours_s, ours = median_time(
        lambda: rfm_summary(ids, when, amounts, observation_end=end, time_unit="W"), 3
    )
    theirs_s, theirs = median_time(
        lambda: summary_data_from_transaction_data(
            frame,
            "id",
            "date",
            "amount",
            observation_period_end="2024-01-01",
            freq="D",
            freq_multiplier=7,
        ),
        1,
    )
    same = (
        np.array_equal(ours.customer_ids, theirs.index.to_numpy())
        and np.array_equal(ours.frequency, theirs["frequency"].to_numpy())
        and np.allclose(ours.recency, theirs["recency"].to_numpy(), rtol=1e-12)
        and np.allclose(ours.T, theirs["T"].to_numpy(), rtol=1e-12)
        and np.allclose(ours.monetary_value, theirs["monetary_value"].to_numpy(), rtol=1e-9)
    )
    emit(row(label, ours_s, theirs_s, "identical summary" if same else "DIFFERENT"))

    cal_end = np.datetime64("2023-09-01T00:00:00")
    ours_s, ours = median_time(
        lambda: calibration_holdout(
            ids, when, amounts, calibration_end=cal_end, observation_end=end
        ),
        3,
    )
    theirs_s, theirs = once(
        lambda: calibration_and_holdout_data(
            frame, "id", "date", "2023-09-01", "2024-01-01", freq="D", monetary_value_col="amount"
        )
    )
    same = (
        np.array_equal(ours.customer_ids, theirs.index.to_numpy())
        and np.array_equal(ours.frequency_holdout, theirs["frequency_holdout"].to_numpy())
        and np.allclose(ours.T_cal, theirs["T_cal"].to_numpy())
        and np.allclose(
            ours.monetary_value_holdout, theirs["monetary_value_holdout"].to_numpy(), rtol=1e-9
        )
        and ours.duration_holdout == float(theirs["duration_holdout"].iloc[0])
    )
    emit(
        row(
            "calibration/holdout split, same log",
            ours_s,
            theirs_s,
            "identical split" if same else "DIFFERENT",
        )
    )

    bg = BetaGeo.from_params(CDNOW_BG)
    gg = GammaGamma.from_params(CDNOW_GG)
    customers = bg.simulate(
        np.random.default_rng(4).integers(27 * 7, 39 * 7 + 1, 1_000_000) / 7, seed=5
    )
    customers = attrs.evolve(
        customers,
        recency=np.floor(customers.recency * 7) / 7,
        monetary_value=np.round(gg.simulate_spend(customers.frequency, seed=6), 2),
    )

    def clv() -> Any:
        return customer_lifetime_value(
            bg, gg, customers, horizon=52, discount_rate=0.01, step=52 / 12
        )

    clv_s, _ = median_time(clv, 1)
    tracemalloc.start()
    clv()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"\nCLV of 1,000,000 customers (BG/NBD + Gamma-Gamma, 12 monthly steps): "
        f"{clv_s:.2f} s, peak traced memory {peak / 2**20:.0f} MiB (target < 500 MB)",
        flush=True,
    )


if __name__ == "__main__":
    main()
