"""Print scikit-uplift's own numbers on seeded datasets: the fixtures of
``tests/nudges/test_evaluation.py``.

Run in the nudges benchmark environment (``benchmarks/requirements-nudges.txt``, which pins
scikit-uplift 0.5.1)::

    .venv-bench-nudges/bin/python -m benchmarks.sklift_fixtures

and paste the printed dictionary into the test. :func:`dataset` is repeated in the test, so
that both draw the same rows from the same seed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

#: (seed, rows, decimals of the scores: few decimals make many ties)
DATASETS = ((11, 500, 1), (12, 3000, 2), (13, 2000, 12))

#: (metric, keyword arguments) as scikit-uplift names them
METRICS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("uplift_auc_score", {}),
    ("qini_auc_score", {}),
    ("qini_auc_score", {"negative_effect": False}),
    ("uplift_at_k", {"strategy": "overall", "k": 0.3}),
    ("uplift_at_k", {"strategy": "overall", "k": 0.1}),
    ("uplift_at_k", {"strategy": "by_group", "k": 0.3}),
    ("uplift_at_k", {"strategy": "overall", "k": 57}),
    ("uplift_at_k", {"strategy": "by_group", "k": 40}),
)


def dataset(
    seed: int, n: int, decimals: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(y, uplift, treatment): a 40% treated arm, a response that rises with the score."""
    rng = np.random.default_rng(seed)
    treatment = (rng.random(n) < 0.4).astype(np.int64)
    score = rng.normal(size=n)
    base = 1.0 / (1.0 + np.exp(-(score - 1.0)))
    lift = 0.08 + 0.15 * np.tanh(score)
    y = (rng.random(n) < np.clip(base + treatment * lift, 0.0, 1.0)).astype(np.int64)
    uplift = np.round(score + rng.normal(scale=0.5, size=n), decimals)
    return y, uplift, treatment


def fixtures() -> dict[tuple[int, str, str], float]:
    import sklift
    from sklift import metrics

    assert sklift.__version__ == "0.5.1", sklift.__version__
    out: dict[tuple[int, str, str], float] = {}
    for seed, n, decimals in DATASETS:
        y, uplift, treatment = dataset(seed, n, decimals)
        for name, kwargs in METRICS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scikit-learn's deprecations inside sklift
                value = getattr(metrics, name)(y, uplift, treatment, **kwargs)
            out[(seed, name, repr(sorted(kwargs.items())))] = float(value)
    return out


def curve_fixtures() -> dict[tuple[int, str], tuple[int, int, float, float]]:
    """Per dataset and curve: (points, sum of x, sum of the heights, the middle height)."""
    from sklift import metrics

    out: dict[tuple[int, str], tuple[int, int, float, float]] = {}
    for seed, n, decimals in DATASETS:
        y, uplift, treatment = dataset(seed, n, decimals)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curves = {
                "uplift_curve": metrics.uplift_curve(y, uplift, treatment),
                "qini_curve": metrics.qini_curve(y, uplift, treatment),
                "perfect_uplift_curve": metrics.perfect_uplift_curve(y, treatment),
                "perfect_qini_curve": metrics.perfect_qini_curve(y, treatment),
            }
        for name, (x, h) in curves.items():
            out[(seed, name)] = (len(x), int(np.sum(x)), float(np.sum(h)), float(h[len(h) // 2]))
    return out


def main() -> None:
    print("SKLIFT_0_5_1 = {")
    for key, value in fixtures().items():
        print(f"    {key!r}: {value!r},")
    print("}")
    print("SKLIFT_0_5_1_CURVES = {")
    for key, points in curve_fixtures().items():
        print(f"    {key!r}: {points!r},")
    print("}")


if __name__ == "__main__":
    main()
