"""Gamma-Gamma against numerical integration, simulation and finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import gammaln

from privdomain.errors import ConvergenceError, NotFittedError, ValidationError
from privdomain.value import BetaGeo, GammaGamma
from privdomain.value.gamma_gamma import _row_loglik

GG = {"p": 6.25, "q": 3.74, "v": 15.44}  # CDNOW, Fader, Hardie & Lee (2005)


def quad(f, lo: float, hi: float) -> float:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return float(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-11, limit=400)[0])


def log_gamma_pdf(value: float, shape: float, rate: float) -> float:
    return float(shape * np.log(rate) - gammaln(shape) + (shape - 1) * np.log(value) - rate * value)


def mean_spend_density(m: float, x: int, nu: float, p: float) -> float:
    # The mean of x Gamma(p, nu) purchases is Gamma(p x, x nu).
    return float(np.exp(log_gamma_pdf(m, p * x, x * nu)))


@pytest.mark.parametrize(("x", "m"), [(1, 30.0), (2, 12.5), (7, 41.0), (40, 25.0)])
def test_likelihood_and_posterior_mean_match_integration(x: int, m: float) -> None:
    p, q, v = GG["p"], GG["q"], GG["v"]
    model = GammaGamma.from_params(GG)

    def joint(nu: float) -> float:
        return mean_spend_density(m, x, nu, p) * float(np.exp(log_gamma_pdf(nu, q, v)))

    density = quad(joint, 0, np.inf)
    assert model.log_likelihood(x, m)[0] == pytest.approx(np.log(density), abs=1e-9)
    # A customer's expected spend per purchase is p / nu, averaged over nu's posterior.
    posterior_mean = quad(lambda nu: p / nu * joint(nu), 0, np.inf) / density
    assert model.expected_spend(x, m) == pytest.approx(posterior_mean, rel=1e-9)


def test_gradient_matches_finite_differences() -> None:
    x = np.array([1.0, 2.0, 5.0, 300.0])
    m = np.array([10.0, 55.5, 3.2, 20.0])
    theta = np.array([GG["p"], GG["q"], GG["v"]])
    _, grad = _row_loglik(theta, x, m)
    for j in range(3):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (_row_loglik(up, x, m)[0] - _row_loglik(down, x, m)[0]) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-6, atol=1e-6)


def test_parameters_are_recovered_within_confidence_intervals() -> None:
    frequency = (
        BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
        .simulate(39.0, n_customers=100_000, seed=3)
        .frequency
    )
    spend = GammaGamma.from_params(GG).simulate_spend(frequency, seed=4)
    model = GammaGamma().fit(frequency, spend)
    for name, truth in GG.items():
        assert abs(model.params_[name] - truth) < 3.5 * model.standard_errors_[name], name
    assert model.n_customers_ == (frequency > 0).sum()


def test_customers_without_repeat_purchases_are_ignored() -> None:
    frequency = np.array([1, 2, 3, 1, 4, 2, 6, 1, 1, 3.0])
    spend = np.array([10, 20, 15, 30, 12, 18, 25, 9, 14, 22.0])
    base = GammaGamma().fit(frequency, spend)
    padded = GammaGamma().fit(np.append(frequency, [0, 0]), np.append(spend, [0, 55.0]))
    assert padded.params_ == base.params_
    again = GammaGamma().fit(frequency, spend)
    assert again.params_ == base.params_


def test_weights_equal_repeated_rows() -> None:
    frequency = np.random.default_rng(0).integers(1, 8, 300).astype(float)
    spend = np.round(GammaGamma.from_params(GG).simulate_spend(frequency, seed=1), 1)
    counts = np.random.default_rng(2).integers(1, 4, 300)
    weighted = GammaGamma().fit(frequency, spend, weights=counts)
    expanded = GammaGamma().fit(np.repeat(frequency, counts), np.repeat(spend, counts))
    for name in GG:
        assert weighted.params_[name] == pytest.approx(expanded.params_[name], rel=1e-6)


def test_spend_without_heterogeneity_is_reported_not_returned() -> None:
    # Spend less dispersed across customers than within: the spread of spend rates shrinks to
    # 0 and q, v run off to infinity. An error says so rather than returning q = 3e7.
    with pytest.raises(ConvergenceError, match="penalizer_coef"):
        GammaGamma().fit(
            [1, 2, 3, 1, 4, 2, 6], [10, 20, 15, 30, 12, 18, 25], weights=[3, 1, 2, 5, 1, 2, 4]
        )


def test_heavy_tailed_spend_never_gives_negative_expectations() -> None:
    # q <= 1: the population mean spend p v / (q - 1) does not exist.
    model = GammaGamma.from_params(p=0.2, q=0.8, v=10.0)
    spend = np.asarray(model.expected_spend([0, 1, 2, 10], [0.0, 20.0, 20.0, 20.0]))
    assert spend[0] == np.inf  # no repeat purchase: nothing but the (infinite) population mean
    assert spend[1] == np.inf  # p x + q - 1 = 0: the posterior mean is infinite too
    assert spend[2] == pytest.approx(0.2 * (10 + 40) / (0.4 + 0.8 - 1))
    assert spend[3] == pytest.approx(0.2 * (10 + 200) / (2 + 0.8 - 1))


@settings(max_examples=200, deadline=None)
@given(
    p=st.floats(0.01, 50),
    q=st.floats(0.01, 50),
    v=st.floats(0.01, 1000),
    x=st.integers(0, 500),
    m=st.floats(0.01, 1e5),
)
def test_expected_spend_is_never_negative_or_nan(
    p: float, q: float, v: float, x: int, m: float
) -> None:
    spend = GammaGamma.from_params(p=p, q=q, v=v).expected_spend(x, m)
    assert spend > 0
    assert not np.isnan(spend)


@pytest.mark.parametrize(
    ("x", "m", "match"),
    [
        ([1, 2], [0.0, -1.0], "positive spend"),
        ([0, 0], [0.0, 0.0], "no customer has a repeat"),
        ([1.5, 2], [10.0, 3.0], "whole numbers"),
        ([1, 2], [10.0, np.inf], "NaN or infinite"),
    ],
)
def test_bad_input_is_refused(x: list[float], m: list[float], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        GammaGamma().fit(x, m)


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError):
        GammaGamma().expected_spend(1, 10.0)
