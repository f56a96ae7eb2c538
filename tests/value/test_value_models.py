"""BG/NBD, MBG/NBD and Pareto/NBD against numbers derived without these implementations.

Likelihoods, P(alive) and conditional expectations are recomputed by numerical integration of
the individual-level models over their mixing distributions; parameter recovery uses data
simulated from known parameters; gradients are checked against finite differences.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import gammaln

from privdomain.errors import ConvergenceError, NotFittedError, ValidationError
from privdomain.value import BetaGeo, ModifiedBetaGeo, ParetoNBD
from privdomain.value._fitting import RepeatData

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW, Fader, Hardie & Lee (2005)
MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
PNBD = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}  # CDNOW, Pareto/NBD
MODELS: list[tuple[type[Any], dict[str, float]]] = [
    (BetaGeo, BG),
    (ModifiedBetaGeo, MBG),
    (ParetoNBD, PNBD),
]
HISTORIES = [(0, 0.0, 5.0), (2, 10.0, 40.0), (5, 20.0, 40.0), (1, 38.0, 38.0), (12, 30.0, 39.0)]

QUAD = {"epsabs": 0.0, "epsrel": 1e-11, "limit": 400}


def quad(f: Callable[[float], float], lo: float, hi: float) -> float:
    # QUADPACK warns when it cannot certify 1e-11; the comparisons below say what is needed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return float(integrate.quad(f, lo, hi, **QUAD)[0])


def gamma_pdf(shape: float, rate: float) -> Callable[[float], float]:
    log_norm = shape * np.log(rate) - gammaln(shape)
    return lambda v: float(np.exp(log_norm + (shape - 1) * np.log(v) - rate * v)) if v > 0 else 0.0


def rate_moment(r: float, alpha: float, x: int, t: float) -> float:
    """E[λ^x e^(-λ t)] for λ ~ Gamma(r, rate alpha), by quadrature."""
    pdf = gamma_pdf(r, alpha)
    return quad(lambda lam: lam**x * np.exp(-lam * t) * pdf(lam), 0, np.inf)


def gamma_laplace(r: float, alpha: float, x: int, t: float) -> float:
    """The same moment in closed form (the Gamma integral), for the inner integrals below."""
    return float(
        np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + t))
    )


def coin_moment(a: float, b: float, f: Callable[[float], float]) -> float:
    pdf = stats.beta(a, b).pdf
    return quad(lambda p: f(p) * pdf(p), 0, 1)


# -- likelihoods --------------------------------------------------------------------------------


def bg_likelihood(p: dict[str, float], x: int, tx: float, t: float, *, modified: bool) -> float:
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    # Alive at T: survived every coin (one more coin after the first purchase in MBG/NBD).
    coins = x + 1 if modified else x
    alive = rate_moment(r, alpha, x, t) * coin_moment(a, b, lambda q: (1 - q) ** coins)
    if x == 0 and not modified:
        return alive
    dead = rate_moment(r, alpha, x, tx) * coin_moment(a, b, lambda q: q * (1 - q) ** (coins - 1))
    return alive + dead


def pareto_log_likelihood(p: dict[str, float], x: int, tx: float, t: float) -> float:
    """Integrating λ and μ out pointwise leaves a one-dimensional integral over the death time."""
    r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
    shift = (r + x) * np.log(alpha + tx)  # keeps the integrand near 1 for large x

    def death_density(y: float) -> float:
        return s * np.exp(shift - (r + x) * np.log(alpha + y) - (s + 1) * np.log(beta + y))

    alive = np.exp(shift - (r + x) * np.log(alpha + t) - s * np.log(beta + t))
    constant = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) - shift
    return float(constant + np.log(alive + quad(death_density, tx, t)))


@pytest.mark.parametrize(("x", "tx", "t"), HISTORIES)
def test_bg_likelihood_matches_integration(x: int, tx: float, t: float) -> None:
    got = BetaGeo.from_params(BG).log_likelihood(x, tx, t)[0]
    assert got == pytest.approx(np.log(bg_likelihood(BG, x, tx, t, modified=False)), abs=1e-8)


@pytest.mark.parametrize(("x", "tx", "t"), HISTORIES)
def test_mbg_likelihood_matches_integration(x: int, tx: float, t: float) -> None:
    got = ModifiedBetaGeo.from_params(MBG).log_likelihood(x, tx, t)[0]
    assert got == pytest.approx(np.log(bg_likelihood(MBG, x, tx, t, modified=True)), abs=1e-8)


@pytest.mark.parametrize(
    "params",
    [
        PNBD,
        {"r": 0.5, "alpha": 12.0, "s": 0.6, "beta": 2.0},
        {"r": 0.5, "alpha": 100.0, "s": 0.6, "beta": 0.2},
    ],
)
@pytest.mark.parametrize(
    ("x", "tx", "t"), [*HISTORIES, (50, 30.0, 40.0), (2000, 35.0, 35.5), (3000, 1.0, 400.0)]
)
def test_pareto_likelihood_matches_integration(
    params: dict[str, float], x: int, tx: float, t: float
) -> None:
    got = ParetoNBD.from_params(params).log_likelihood(x, tx, t)[0]
    assert got == pytest.approx(pareto_log_likelihood(params, x, tx, t), rel=1e-11, abs=1e-9)


# -- P(alive) and conditional expectations --------------------------------------------------------


@pytest.mark.parametrize(("x", "tx", "t"), HISTORIES[1:])
@pytest.mark.parametrize("modified", [False, True])
def test_bg_posterior_quantities_match_integration(
    x: int, tx: float, t: float, modified: bool
) -> None:
    params = MBG if modified else BG
    model = (ModifiedBetaGeo if modified else BetaGeo).from_params(params)
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    coins = x + 1 if modified else x
    total = bg_likelihood(params, x, tx, t, modified=modified)
    alive = rate_moment(r, alpha, x, t) * coin_moment(a, b, lambda q: (1 - q) ** coins)
    assert model.p_alive(x, tx, t) == pytest.approx(alive / total, rel=1e-8)

    horizon = 10.0

    def alive_then_buys(q: float) -> float:
        # Alive, a customer expects (1 - e^(-λ q t)) / q purchases; λ integrates in closed form.
        future = rate_moment_closed(x, t) - rate_moment_closed(x, t + q * horizon)
        return (1 - q) ** coins * future / q

    def rate_moment_closed(k: int, when: float) -> float:
        return gamma_laplace(r, alpha, k, when)

    numerator = coin_moment(a, b, alive_then_buys)
    expected = model.predict_purchases(horizon, x, tx, t)
    assert expected == pytest.approx(numerator / total, rel=1e-6)


@pytest.mark.parametrize(("x", "tx", "t"), HISTORIES)
def test_pareto_posterior_quantities_match_integration(x: int, tx: float, t: float) -> None:
    model = ParetoNBD.from_params(PNBD)
    r, alpha, s, beta = PNBD["r"], PNBD["alpha"], PNBD["s"], PNBD["beta"]
    total = np.exp(pareto_log_likelihood(PNBD, x, tx, t))
    mu_pdf = gamma_pdf(s, beta)
    alive_mu = quad(lambda mu: np.exp(-mu * t) * mu_pdf(mu), 0, np.inf)
    alive = rate_moment(r, alpha, x, t) * alive_mu
    assert model.p_alive(x, tx, t) == pytest.approx(alive / total, rel=1e-9)
    horizon = 10.0
    # Alive at T, a customer then buys λ (1 - e^(-μ t)) / μ in expectation; λ and μ separate.
    buys = rate_moment(r, alpha, x + 1, t) * quad(
        lambda mu: np.exp(-mu * t) * -np.expm1(-mu * horizon) / mu * mu_pdf(mu), 0, np.inf
    )
    assert model.predict_purchases(horizon, x, tx, t) == pytest.approx(buys / total, rel=1e-8)


@pytest.mark.parametrize(("cls", "params"), MODELS)
@pytest.mark.parametrize("horizon", [1.0, 10.0, 100.0])
def test_new_customer_expectation_matches_integration(
    cls: type[Any], params: dict[str, float], horizon: float
) -> None:
    model = cls.from_params(params)
    if cls is ParetoNBD:
        lam_mean = params["r"] / params["alpha"]
        mu_pdf = gamma_pdf(params["s"], params["beta"])
        expected = lam_mean * quad(lambda mu: -np.expm1(-mu * horizon) / mu * mu_pdf(mu), 0, np.inf)
    else:
        r, alpha = params["r"], params["alpha"]
        survive = 1.0 if cls is BetaGeo else 0.0  # MBG/NBD tosses a coin after purchase one

        def individual(q: float) -> float:
            # E over λ of (1 - e^(-λ q t)) / q, the Gamma's Laplace transform in closed form.
            bought = (1 - gamma_laplace(r, alpha, 0, q * horizon)) / q
            return (survive + (1 - survive) * (1 - q)) * bought

        expected = coin_moment(params["a"], params["b"], individual)
    assert model.expected_purchases_new_customer(horizon) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_simulator_agrees_with_new_customer_expectation(
    cls: type[Any], params: dict[str, float]
) -> None:
    model = cls.from_params(params)
    sim = model.simulate(30.0, n_customers=200_000, seed=7)
    mean, se = sim.frequency.mean(), sim.frequency.std() / np.sqrt(len(sim))
    assert abs(mean - model.expected_purchases_new_customer(30.0)) < 4 * se
    assert (sim.recency <= sim.T).all()
    assert (sim.recency[sim.frequency == 0] == 0).all()
    purchases = model.simulate_purchases(30.0, n_customers=100_000, seed=8)
    repeats = np.bincount(purchases.customer, minlength=purchases.n_customers) - 1
    se = repeats.std() / np.sqrt(repeats.shape[0])
    assert abs(repeats.mean() - model.expected_purchases_new_customer(30.0)) < 4 * se
    assert (np.diff(purchases.customer) >= 0).all()
    assert "SimulatedPurchases(" in repr(purchases)
    assert list(purchases.to_frame().columns) == ["customer", "time"]
    assert set(purchases.to_records()[0]) == {"customer", "time"}


# -- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params"),
    [*MODELS, (ParetoNBD, {"r": 0.5, "alpha": 12.0, "s": 0.6, "beta": 2.0})],
)
def test_gradient_matches_finite_differences(cls: type[Any], params: dict[str, float]) -> None:
    x = np.array([0, 1, 2, 5, 30, 2000.0])
    tx = np.array([0, 3, 10, 20, 30, 35.0])
    t = np.array([5, 10, 40, 40, 38, 35.0])
    data = RepeatData.of_rows(x, tx, t, np.ones_like(x))
    model = cls()
    theta = np.array(list(params.values()))
    _, grad = model._row_loglik(theta, data)
    for j in range(theta.shape[0]):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (model._row_loglik(up, data)[0] - model._row_loglik(down, data)[0]) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-6, atol=1e-6)


# -- fitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_parameters_are_recovered_within_confidence_intervals(
    cls: type[Any], params: dict[str, float]
) -> None:
    ages = np.random.default_rng(0).integers(27 * 7, 39 * 7 + 1, 100_000) / 7  # whole days
    data = cls.from_params(params).simulate(ages, seed=11)
    model = cls().fit(data.frequency, data.recency, data.T)
    for name, truth in params.items():
        # 3.5 standard errors: a 99.95% interval for each parameter.
        assert abs(model.params_[name] - truth) < 3.5 * model.standard_errors_[name], name
    assert model.n_customers_ == 100_000
    assert model.log_likelihood_ == pytest.approx(
        model.log_likelihood(data.frequency, data.recency, data.T).sum(), rel=1e-12
    )


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_fit_reaches_the_maximum(cls: type[Any], params: dict[str, float]) -> None:
    data = cls.from_params(params).simulate(39.0, n_customers=3000, seed=3)
    model = cls().fit(data.frequency, data.recency, data.T)
    best = model.log_likelihood_
    # No nearby parameters do better.
    rng = np.random.default_rng(0)
    for _ in range(20):
        nudged = {k: v * np.exp(rng.normal(0, 1e-3)) for k, v in model.params_.items()}
        other = cls.from_params(nudged).log_likelihood(data.frequency, data.recency, data.T)
        assert other.sum() <= best + 1e-9
    again = cls().fit(data.frequency, data.recency, data.T)
    assert again.params_ == model.params_  # deterministic: no random restarts


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_weights_equal_repeated_rows(cls: type[Any], params: dict[str, float]) -> None:
    data = cls.from_params(params).simulate(np.round(np.linspace(20, 40, 500)), seed=5)
    x = np.round(data.frequency)
    tx = np.round(data.recency)
    t = data.T
    counts = np.random.default_rng(1).integers(1, 4, x.shape[0])
    weighted = cls().fit(x, tx, t, weights=counts)
    expanded = cls().fit(np.repeat(x, counts), np.repeat(tx, counts), np.repeat(t, counts))
    for name in params:
        assert weighted.params_[name] == pytest.approx(expanded.params_[name], rel=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-10)


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_thousands_of_purchases_stay_finite(cls: type[Any], params: dict[str, float]) -> None:
    # pytest turns RuntimeWarnings (overflow, invalid value) into errors: none may be emitted.
    model = cls.from_params(params)
    x = np.array([1000.0, 3000.0, 5000.0, 5000.0])
    tx = np.array([300.0, 350.0, 10.0, 400.0])
    t = np.array([365.0, 365.0, 400.0, 400.0])
    for values in (
        model.log_likelihood(x, tx, t),
        model.p_alive(x, tx, t),
        model.predict_purchases(30.0, x, tx, t),
    ):
        assert np.isfinite(values).all()
    alive = np.asarray(model.p_alive(x, tx, t))
    assert alive[2] < 1e-10 < alive[3]  # 5000 purchases, then silence: surely gone
    # A customer who bought 3000 times in 350 days buys about that fast while alive.
    assert np.asarray(model.predict_purchases(30.0, x, tx, t))[1] == pytest.approx(
        alive[1] * 3000 / 365 * 30, rel=0.1
    )


@pytest.mark.parametrize(("cls", "params"), MODELS)
def test_fit_with_heavy_buyers_converges(cls: type[Any], params: dict[str, float]) -> None:
    data = cls.from_params(params).simulate(39.0, n_customers=2000, seed=2)
    x = np.append(data.frequency, [2500.0, 4000.0])
    tx = np.append(data.recency, [38.0, 39.0])
    t = np.append(data.T, [39.0, 39.0])
    model = cls().fit(x, tx, t)
    assert all(np.isfinite(v) for v in model.params_.values())


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
@pytest.mark.parametrize(
    ("x", "tx", "t", "match"),
    [
        ([1, 2], [5, 9], [4, 10], "recency > T"),
        ([1, -2], [5, 9], [6, 10], "negative"),
        ([0, 0], [0, 0], [6, 10], "frequencies are 0"),
        ([1.5, 2], [5, 9], [6, 10], "whole numbers"),
        ([0, 2], [3, 9], [6, 10], "recency must be 0"),
        ([1, np.nan], [5, 9], [6, 10], "NaN"),
        ([1, 2, 3], [5, 9], [6, 10], "matching lengths"),
    ],
)
def test_bad_input_is_refused(
    cls: type[Any], x: list[float], tx: list[float], t: list[float], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        cls().fit(x, tx, t)


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_unfitted_model_says_so(cls: type[Any]) -> None:
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    model = cls()
    for call in (
        lambda: model.p_alive(1, 1, 2),
        lambda: model.predict_purchases(1, 1, 1, 2),
        lambda: model.expected_purchases_new_customer(1),
        lambda: model.simulate(1.0, n_customers=2),
    ):
        with pytest.raises(NotFittedError):
            call()
    with pytest.raises(SklearnNotFittedError):
        model.p_alive(1, 1, 2)


def test_from_params_checks_names_and_values() -> None:
    with pytest.raises(ValidationError, match="missing"):
        BetaGeo.from_params(r=1.0, alpha=1.0, a=1.0)
    with pytest.raises(ValidationError, match="unknown"):
        ParetoNBD.from_params(r=1.0, alpha=1.0, a=1.0, b=1.0)
    with pytest.raises(ValidationError, match="positive"):
        BetaGeo.from_params(r=1.0, alpha=-1.0, a=1.0, b=1.0)


def test_from_params_takes_lifetimes_params_series() -> None:
    pd = pytest.importorskip("pandas")
    assert BetaGeo.from_params(pd.Series(BG)).params_ == BG


def test_scikit_learn_conventions() -> None:
    from sklearn.base import clone

    model = ParetoNBD(penalizer_coef=0.01)
    assert model.get_params() == {
        "penalizer_coef": 0.01,
        "max_iter": 2000,
        "time_unit": "D",
        "horizon": 30.0,
    }
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(model, "params_")


def test_penalizer_shrinks_parameters() -> None:
    data = BetaGeo.from_params(BG).simulate(39.0, n_customers=3000, seed=4)
    free = BetaGeo().fit(data.frequency, data.recency, data.T)
    shrunk = BetaGeo(penalizer_coef=0.1).fit(data.frequency, data.recency, data.T)
    assert sum(v**2 for v in shrunk.params_.values()) < sum(v**2 for v in free.params_.values())


def test_unidentified_model_raises_convergence_error() -> None:
    # One customer: the likelihood keeps growing as the parameters run off to infinity.
    with pytest.raises(ConvergenceError):
        ParetoNBD().fit([3], [10.0], [10.0])


def test_predictions_broadcast_and_keep_scalars() -> None:
    model = BetaGeo.from_params(BG)
    assert isinstance(model.p_alive(2, 30.43, 38.86), float)
    assert np.shape(model.predict_purchases([1, 2, 3], 2, 30.43, 38.86)) == (3,)
    assert np.shape(model.expected_purchases_new_customer(np.array([1.0, 2.0]))) == (2,)
    with pytest.raises(ValidationError):
        model.predict_purchases(-1, 2, 30.43, 38.86)


def test_fitted_models_pickle() -> None:
    import pickle

    data = ParetoNBD.from_params(PNBD).simulate(39.0, n_customers=2000, seed=9)
    model = ParetoNBD().fit(data.frequency, data.recency, data.T)
    again = pickle.loads(pickle.dumps(model))
    assert again.params_ == model.params_
    assert again.p_alive(2, 30.0, 39.0) == model.p_alive(2, 30.0, 39.0)


positive = st.floats(0.05, 50.0)


@settings(max_examples=150, deadline=None)
@given(
    model=st.sampled_from([BetaGeo, ModifiedBetaGeo, ParetoNBD]),
    params=st.tuples(positive, positive, positive, positive),
    x=st.integers(0, 3000),
    recency_share=st.floats(0.0, 1.0),
    age=st.floats(0.01, 1000.0),
)
def test_predictions_are_probabilities_and_grow_with_time(
    model: type[Any],
    params: tuple[float, float, float, float],
    x: int,
    recency_share: float,
    age: float,
) -> None:
    fitted = model.from_params(dict(zip(model._param_names, params, strict=True)))
    recency = recency_share * age if x else 0.0
    alive = fitted.p_alive(x, recency, age)
    assert 0.0 <= alive <= 1.0
    purchases = np.asarray(fitted.predict_purchases([1.0, 10.0, 100.0], x, recency, age))
    assert np.isfinite(purchases).all()
    assert (purchases >= -1e-9).all()
    assert (np.diff(purchases) >= -1e-9 * np.maximum(1.0, purchases[1:])).all()
    assert np.isfinite(fitted.log_likelihood(x, recency, age)).all()


@pytest.mark.parametrize("modified", [False, True])
def test_long_horizons_for_heavy_buyers_match_integration(modified: bool) -> None:
    # 150 purchases and a 1000-week horizon: scipy's hyp2f1(., .; 150+; 0.96) overflows.
    params = MBG if modified else BG
    model = (ModifiedBetaGeo if modified else BetaGeo).from_params(params)
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    x, tx, t, horizon = 150, 38.0, 39.0, 1000.0
    coins = x + 1 if modified else x
    # As bg_likelihood, with the Gamma integrals in closed form (λ^150 overflows a float).
    total = gamma_laplace(r, alpha, x, t) * coin_moment(a, b, lambda q: (1 - q) ** coins)
    total += gamma_laplace(r, alpha, x, tx) * coin_moment(
        a, b, lambda q: q * (1 - q) ** (coins - 1)
    )

    def alive_then_buys(q: float) -> float:
        future = gamma_laplace(r, alpha, x, t) - gamma_laplace(r, alpha, x, t + q * horizon)
        return (1 - q) ** coins * future / q

    expected = coin_moment(a, b, alive_then_buys) / total
    assert model.predict_purchases(horizon, x, tx, t) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("c", [3.5, 29.0, 31.0, 99.5, 150.5, 5000.5])
@pytest.mark.parametrize("z", [0.3, 0.9, 0.98, 0.9999])
def test_hypergeometric_function_for_large_c_matches_euler_integral(c: float, z: float) -> None:
    from privdomain.value._hypergeometric import hyp2f1_large_c

    # 2F1(-0.5, 1; c; z) = (c - 1) * integral of (1-t)^(c-2) (1 - z t)^0.5 over [0, 1].
    euler = (c - 1) * quad(lambda u: (1 - u) ** (c - 2) * (1 - z * u) ** 0.5, 0, 1)
    got = hyp2f1_large_c(1.0, -0.5, np.array([c]), np.array([z]))[0]
    assert got == pytest.approx(euler, rel=1e-10)
