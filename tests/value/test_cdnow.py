"""The whole customer-value analysis on real data: the CDNOW logs that lifetimes ships.

The 2,357-customer sample is the data of Fader, Hardie & Lee (2005): split at 30 September 1997
(39 weeks of calibration, daily purchase periods measured in weeks), it reproduces their
published BG/NBD estimates (r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, log-likelihood
-9582.4) and lifetimes' Gamma-Gamma ones (p = 6.25, q = 3.74, v = 15.44). The full log of
23,570 customers has one customer whose repeat purchase cost $0, which the Gamma-Gamma fit
leaves out and reports, while every customer still gets a lifetime value. See
``data/README.md`` for the files' source and licence.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from privdomain.errors import ValidationError
from privdomain.value import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    calibration_holdout,
    customer_lifetime_value,
    rfm_summary,
)

DATA = Path(__file__).resolve().parent / "data"
CALIBRATION_END = np.datetime64("1997-09-30")
OBSERVATION_END = np.datetime64("1998-06-30")


def _dates(yyyymmdd: Any) -> Any:
    """``YYYYMMDD`` integers as ``datetime64[D]``, vectorised."""
    d = np.asarray(yyyymmdd, dtype=np.int64)
    months = np.array(d // 10_000 - 1970, dtype="datetime64[Y]").astype("datetime64[M]")
    return (months + (d // 100 % 100 - 1)).astype("datetime64[D]") + (d % 100 - 1)


@pytest.fixture(scope="module")
def master() -> Any:
    """customer id, date (YYYYMMDD), CDs, dollars: 69,659 purchases."""
    return np.loadtxt(DATA / "CDNOW_master.txt.gz", skiprows=1)


@pytest.fixture(scope="module")
def sample() -> Any:
    """master id, sample id, date (YYYYMMDD), CDs, dollars: 6,919 purchases."""
    return np.loadtxt(DATA / "CDNOW_sample.txt.gz")


def test_the_files_are_the_ones_lifetimes_ships(master: Any, sample: Any) -> None:
    assert master.shape == (69_659, 4)
    assert np.unique(master[:, 0]).size == 23_570
    assert sample.shape == (6_919, 5)
    assert np.unique(sample[:, 1]).size == 2_357
    # the sample is the master's rows of 2,357 of its customers
    mine = master[np.isin(master[:, 0], sample[:, 0])]
    theirs = sample[:, [0, 2, 3, 4]]
    np.testing.assert_array_equal(
        mine[np.lexsort(mine.T[::-1])], theirs[np.lexsort(theirs.T[::-1])]
    )


def test_yyyymmdd_numbers_are_refused_with_a_way_out(master: Any) -> None:
    with pytest.raises(ValidationError, match=re.escape("pd.to_datetime(col.astype(str)")):
        rfm_summary(master[:, 0], master[:, 1].astype(np.int64), observation_end=OBSERVATION_END)


def test_the_sample_reproduces_the_published_estimates(sample: Any) -> None:
    split = calibration_holdout(
        sample[:, 1].astype(np.int64),
        _dates(sample[:, 2]),
        sample[:, 4],
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        time_unit="W",  # lifetimes: freq="D", freq_multiplier=7
    )
    cal = split.calibration
    assert len(cal) == 2_357
    assert split.duration_holdout == 39.0
    # lifetimes' cdnow_customers_summary.csv, first rows: ID 1 is (2, 30.43, 38.86)
    assert (cal.frequency[0], round(cal.recency[0], 2), round(cal.T[0], 2)) == (2, 30.43, 38.86)
    assert int(cal.frequency.sum()) == 2_457  # as in that file

    bgf = BetaGeo().fit(cal)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert bgf.params_[name] == pytest.approx(value, abs=6e-4), name
    assert bgf.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)

    ggf = GammaGamma().fit(cal)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert ggf.params_[name] == pytest.approx(value, abs=5e-3), name
    assert ggf.n_customers_ == 946
    assert ggf.n_excluded_ == 0

    # The model knows nothing of the holdout; it should still be in the right range.
    predicted = bgf.predict_purchases(split.duration_holdout, cal)
    assert split.frequency_holdout.sum() == 1_882
    assert predicted.sum() == pytest.approx(1_653.4, abs=0.5)


def test_the_full_log_end_to_end(master: Any) -> None:
    pd = pytest.importorskip("pandas")
    started = time.perf_counter()
    log = pd.DataFrame(
        {
            "customer_id": master[:, 0].astype(np.int64),
            "date": pd.to_datetime(master[:, 1].astype(np.int64).astype(str), format="%Y%m%d"),
            "amount": master[:, 3],
        }
    )
    # As a lifetimes user would: a frame and its column names; the unit follows the period.
    summary = rfm_summary(
        log,
        customer_id_col="customer_id",
        datetime_col="date",
        monetary_value_col="amount",
        observation_end=OBSERVATION_END,
        period="W",
    )
    assert (len(summary), summary.time_unit) == (23_570, "W")
    summary = rfm_summary(
        log,
        customer_id_col="customer_id",
        datetime_col="date",
        monetary_value_col="amount",
        observation_end=OBSERVATION_END,
        time_unit="W",
    )
    assert len(summary) == 23_570
    assert summary.T.max() == pytest.approx(545 / 7)  # 1 Jan 1997 -> 30 Jun 1998

    # One customer's repeat purchase cost $0.
    zero = (summary.frequency > 0) & (summary.monetary_value == 0)
    assert summary.customer_ids[zero].tolist() == [10_244]

    bgf = BetaGeo().fit(summary.to_frame())  # a lifetimes-shaped frame works as well
    expected = {"r": 0.26713, "alpha": 5.9865, "a": 0.48352, "b": 2.1116}
    for name, value in expected.items():
        assert bgf.params_[name] == pytest.approx(value, rel=1e-3), name
    for other in (ModifiedBetaGeo(), ParetoNBD()):
        other.fit(summary)
        assert np.isfinite(other.log_likelihood_)

    ggf = GammaGamma().fit(summary)
    assert ggf.n_excluded_ == 1
    assert ggf.n_customers_ == int((summary.frequency > 0).sum()) - 1
    assert "1 left out" in repr(ggf)

    spend = ggf.expected_spend(summary)
    p, q, v = (ggf.params_[n] for n in ("p", "q", "v"))
    assert spend[zero][0] == pytest.approx(p * v / (q - 1))  # the population mean
    assert np.isfinite(spend).all()
    assert (spend > 0).all()

    value = customer_lifetime_value(
        bgf, ggf, summary, horizon=12 * 4.345, step=4.345, discount_rate=0.01
    )
    assert len(value) == 23_570
    assert np.isfinite(value.clv).all()
    assert (value.clv >= 0).all()
    assert value.take(np.flatnonzero(zero)).clv[0] > 0
    best = value[np.argsort(value.clv)[::-1][:10]]
    assert best.clv[0] == value.clv.max()
    assert time.perf_counter() - started < 10


def test_calibration_and_holdout_of_the_full_log(master: Any) -> None:
    split = calibration_holdout(
        master[:, 0].astype(np.int64),
        _dates(master[:, 1]),
        master[:, 3],
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        time_unit="W",
    )
    assert len(split) == 23_570
    bgf = BetaGeo().fit(split.calibration)
    for name, value in {"r": 0.25162, "alpha": 4.7889, "a": 0.72343, "b": 2.1611}.items():
        assert bgf.params_[name] == pytest.approx(value, rel=1e-3), name
    repeat_buyers = split[split.frequency_cal > 0]
    assert len(repeat_buyers) == int((split.frequency_cal > 0).sum())
    ggf = GammaGamma().fit(split.calibration)
    value = customer_lifetime_value(
        bgf, ggf, split.calibration, horizon=39, step=4.345, discount_rate=0.01
    )
    assert np.isfinite(value.clv).all()
