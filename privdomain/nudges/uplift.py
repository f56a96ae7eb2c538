"""Uplift models: the effect of a nudge on each customer, learned from randomised contacts.

A nudge is worth sending to the customers whose behaviour it *changes*. The propensity to buy
says nothing about that: a loyal customer buys with or without the coupon (a "sure thing"), and
some customers buy less when pestered ("sleeping dogs"). Uplift models estimate the conditional
average treatment effect (CATE)

    tau(x) = E[Y | X = x, treated] - E[Y | X = x, not treated]

from logs where the contact was assigned at random (an A/B holdout) or with known probabilities.

- :class:`TLearner` ("two models"): one outcome model per arm, ``tau = mu1(x) - mu0(x)``.
- :class:`XLearner` (Künzel, Sekhon, Bickel and Yu, 2019, PNAS 116(10)): the two outcome models,
  then each arm's *imputed* effects (``y - mu0(x)`` for the treated, ``mu1(x) - y`` for the
  control group) are regressed on ``x``, and the two effect models are blended by the
  propensity ``g(x)``: ``tau = g(x) tau0(x) + (1 - g(x)) tau1(x)``. It shines when one arm is
  much smaller than the other (a 10% holdout), because the large arm's outcome model does most
  of the work.
- :class:`ClassTransformation` (Jaskowski and Jaroszewicz, 2012): one classifier of
  ``z = (y == treated)``; ``tau = 2 P(z = 1 | x) - 1``. Valid only for binary outcomes and a
  50/50 random split.

The randomisation contract
--------------------------
Uplift can only be learned where the contact did not depend on anything but what the model
sees. ``fit`` therefore requires ``propensity``, the probability that each logged customer was
contacted:

- a number in (0, 1): the share of a randomised test (``0.5`` for an A/B split, ``0.9`` for a
  10% holdout);
- an array with one probability per row: a logging policy that randomised with known,
  per-customer probabilities;
- ``"estimate"``: no known randomisation. This *assumes* that the contact depended on the
  features ``X`` only (no hidden confounder); the X-learner then fits a propensity model on
  ``X`` for its weights (the T-learner needs none).

Without it ``fit`` refuses, naming what it would have to assume. Probabilities of exactly 0 or
1 are refused (a customer who could never be in one arm says nothing about it), and so are
known probabilities that the logged treatment contradicts (a treated share more than six
standard errors away from the one the probabilities imply: the logs are not randomised as
stated).

Base learners
-------------
Any scikit-learn estimator: a classifier (its ``predict_proba[:, 1]`` is the outcome
probability; the outcome must then be 0/1) or a regressor (``predict``; any real outcome, such
as revenue). The default is scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
when the outcome is 0/1 and :class:`~sklearn.ensemble.HistGradientBoostingRegressor` otherwise,
both with ``random_state=0``: fast on hundreds of thousands of rows, they find interactions
(the heterogeneity uplift is about) without feature engineering. An arm whose outcome is
constant is predicted by that constant (a classifier cannot be fitted on one class).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, clone, is_classifier

from privdomain.errors import ValidationError, short_repr
from privdomain.layering._sklearn import validate_X
from privdomain.strategy import check_fitted

__all__ = ["ClassTransformation", "TLearner", "XLearner"]

#: How far (in standard errors) the treated count may be from what known propensities imply.
_RANDOMISATION_Z = 6.0
#: The largest outcome magnitude accepted: squares and sums of larger ones overflow float64.
_MAX_OUTCOME = 1e150
#: The largest outcome magnitude for the default regressor, which computes in float32
#: (whose largest number is about 3.4e38).
_MAX_DEFAULT_OUTCOME = 1e30


# ---------------------------------------------------------------------- validation helpers
def _vector(name: str, values: Any, n: int | None = None, other: str = "X") -> NDArray[Any]:
    """``values`` as a 1-D numeric (or bool) array, of ``n`` rows when given; no NaN/inf."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name} must be a 1-D array of numbers ({exc})") from None
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a 1-D array, not of shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValidationError(f"{name} must hold numbers, not values of dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValidationError(f"{name} has {arr.shape[0]} rows, but {other} has {n}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValidationError(
                f"{name} must be finite: row {int(bad[0])} is {arr[bad[0]]}"
                + (f" ({bad.size} such rows)" if bad.size > 1 else "")
            )
    return arr


def _floats(name: str, values: Any, n: int | None = None, other: str = "X") -> NDArray[np.float64]:
    return np.asarray(_vector(name, values, n, other), dtype=np.float64)


def _treatment(values: Any, n: int | None = None, other: str = "X") -> NDArray[np.bool_]:
    """The binary treatment flags (bool, or numbers 0 and 1) as a bool array."""
    arr = _vector("treatment", values, n, other)
    if arr.dtype.kind != "b":
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        if bad.size:
            raise ValidationError(
                "treatment must be binary (1 or True: contacted, 0 or False: not), "
                f"but row {int(bad[0])} is {arr[bad[0]]!r}"
            )
    return np.asarray(arr != 0, dtype=np.bool_)


def _propensity(
    values: Any, n: int, *, what: str = "propensity"
) -> tuple[NDArray[np.float64], float | None]:
    """Known treatment probabilities, one per row, and the scalar when one number was given.

    Raises a :class:`ValidationError` explaining positivity for 0 or 1.
    """
    if isinstance(values, bool | np.bool_ | str) or values is None:
        raise ValidationError(
            f"{what} must be a number in (0, 1) or one per row, not {short_repr(values)}"
        )
    if isinstance(values, numbers.Real):
        scalar: float | None = float(values)
        arr = np.full(n, scalar, dtype=np.float64)
    elif isinstance(values, np.ndarray) and values.ndim == 0:
        return _propensity(values.item(), n, what=what)
    else:
        scalar = None
        arr = _floats(what, values, n, "treatment")
    bad = np.flatnonzero(~((arr > 0.0) & (arr < 1.0)))
    if bad.size:
        raise ValidationError(
            f"{what} must be strictly between 0 and 1 (positivity), but row {int(bad[0])} is "
            f"{arr[bad[0]]}: a customer who could never (0) or only (1) be contacted gives no "
            "evidence about the other arm, so no effect can be learned or evaluated there"
        )
    return arr, scalar


def _check_randomised(treated: NDArray[np.bool_], propensity: NDArray[np.float64]) -> None:
    """Refuse logs whose treated count contradicts the known probabilities."""
    expected = float(propensity.sum())
    sd = math.sqrt(float((propensity * (1.0 - propensity)).sum()))
    got = int(treated.sum())
    z = (got - expected) / sd if sd > 0 else 0.0
    if abs(z) > _RANDOMISATION_Z:
        raise ValidationError(
            f"treatment does not look randomised with the propensities given: {got} of "
            f"{treated.size} contacted, {expected:.1f} ± {sd:.1f} expected (z = {z:.1f}); pass "
            "the probabilities the logging policy actually used, or propensity='estimate' to "
            "assume the contact depended on X only"
        )


def _check_arms(treated: NDArray[np.bool_], min_arm_size: int) -> None:
    n_t = int(treated.sum())
    n_c = int(treated.size - n_t)
    for arm, size in (("treated", n_t), ("control", n_c)):
        if size < min_arm_size:
            raise ValidationError(
                f"the {arm} arm has {size} rows, fewer than min_arm_size={min_arm_size}: "
                "uplift needs both contacted and not-contacted customers"
            )


def _check_min_arm_size(value: Any) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ValidationError(f"min_arm_size must be an integer >= 1, not {short_repr(value)}")
    return int(value)


def _is_binary(y: NDArray[np.float64]) -> bool:
    return bool(np.all((y == 0.0) | (y == 1.0)))


def _default_outcome_model(binary: bool) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if binary:
        return HistGradientBoostingClassifier(random_state=0)
    return HistGradientBoostingRegressor(random_state=0)


def _check_default_regressor(y: NDArray[np.float64], name: str) -> None:
    """Refuse outcomes too large for the default (float32) gradient-boosting regressor."""
    if y.size and float(np.max(np.abs(y))) > _MAX_DEFAULT_OUTCOME:
        raise ValidationError(
            f"y reaches {float(np.max(np.abs(y))):.3g}: the default {name} computes in float32 "
            f"and would overflow beyond {_MAX_DEFAULT_OUTCOME:.0e}; rescale y (e.g. to "
            f"thousands) or pass a regressor as {name}"
        )


def _default_propensity_model() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _fit_outcome(template: Any, X: NDArray[np.float64], y: NDArray[np.float64], arm: str) -> Any:
    """A clone of ``template`` fitted on one arm (a constant model if ``y`` is constant)."""
    from sklearn.dummy import DummyRegressor

    if is_classifier(template) and not _is_binary(y):
        raise ValidationError(
            f"{type(template).__name__} is a classifier, so the outcome must be 0 or 1; "
            f"the {arm} arm has other values: use a regressor for real-valued outcomes"
        )
    if y.size and np.all(y == y[0]):
        return DummyRegressor(strategy="constant", constant=float(y[0])).fit(X, y)
    try:
        return clone(template).fit(X, y)
    except ValidationError:
        raise
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"the {arm} arm's {type(template).__name__} refused the data: {exc}"
        ) from None


def _predict_outcome(model: Any, X: NDArray[np.float64]) -> NDArray[np.float64]:
    if is_classifier(model):
        proba = model.predict_proba(X)
        column = list(model.classes_).index(1)
        return np.asarray(proba[:, column], dtype=np.float64)
    return np.asarray(model.predict(X), dtype=np.float64)


def _is_estimator(value: Any) -> bool:
    return value is None or (hasattr(value, "fit") and hasattr(value, "get_params"))


class _UpliftBase(BaseEstimator):  # type: ignore[misc]
    """What the learners share: validation of (X, y, treatment, propensity), the arms."""

    min_arm_size: int

    def _validate_fit(
        self, X: Any, y: Any, treatment: Any, propensity: Any
    ) -> tuple[
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.bool_],
        NDArray[np.float64] | None,
        float | None,
    ]:
        """(X, y, treated, per-row propensity or None for 'estimate', scalar or None)."""
        min_arm_size = _check_min_arm_size(self.min_arm_size)
        if propensity is None:
            raise ValidationError(
                f"{type(self).__name__}.fit needs propensity=: uplift is learned only from "
                "randomised contacts. Pass the contact probability of the random test (0.5 "
                "for an A/B split, 0.9 for a 10% holdout), one known probability per row, or "
                "propensity='estimate' to assume the contact depended on X only"
            )
        Xa = validate_X(self, X, reset=True)
        n = Xa.shape[0]
        ya = _floats("y", y, n)
        if n and float(np.max(np.abs(ya))) > _MAX_OUTCOME:
            raise ValidationError(
                f"y reaches {float(np.max(np.abs(ya))):.3g}: outcomes beyond "
                f"{_MAX_OUTCOME:.0e} in magnitude overflow the models; rescale y"
            )
        treated = _treatment(treatment, n)
        if isinstance(propensity, str):
            if propensity != "estimate":
                raise ValidationError(
                    f"propensity must be a number, an array or 'estimate', not {propensity!r}"
                )
            _check_arms(treated, min_arm_size)
            return Xa, ya, treated, None, None
        p, scalar = _propensity(propensity, n)
        _check_arms(treated, min_arm_size)
        _check_randomised(treated, p)
        return Xa, ya, treated, p, scalar

    def _outcome_template(self, estimator: Any, y: NDArray[np.float64], name: str) -> Any:
        if not _is_estimator(estimator):
            raise ValidationError(
                f"{name} must be a scikit-learn estimator or None, not {short_repr(estimator)}"
            )
        if estimator is not None:
            return estimator
        binary = _is_binary(y)
        if not binary:
            _check_default_regressor(y, name)
        return _default_outcome_model(binary)


class _ArmModels(_UpliftBase):
    """Learners with one outcome model per arm (T- and X-learner)."""

    def _fit_arms(
        self,
        treated_template: Any,
        control_template: Any,
        X: NDArray[np.float64],
        y: NDArray[np.float64],
        treated: NDArray[np.bool_],
    ) -> None:
        self.estimator_control_ = _fit_outcome(
            control_template, X[~treated], y[~treated], "control"
        )
        self.estimator_treated_ = _fit_outcome(treated_template, X[treated], y[treated], "treated")
        self.n_treated_ = int(treated.sum())
        self.n_control_ = int(treated.size - self.n_treated_)

    def predict_outcomes(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The expected outcome of each row without and with the nudge, ``(mu0, mu1)``.

        These are the per-arm predictions a doubly robust evaluation needs
        (:func:`privdomain.nudges.off_policy_value` with ``outcomes=``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``mu0`` (not contacted) and ``mu1`` (contacted), float64, one per row.
        """
        check_fitted(self, "estimator_control_", "estimator_treated_")
        Xa = validate_X(self, X, reset=False)
        return (
            _predict_outcome(self.estimator_control_, Xa),
            _predict_outcome(self.estimator_treated_, Xa),
        )


class TLearner(_ArmModels):
    """T-learner ("two models"): one outcome model per arm; uplift = ``mu1(x) - mu0(x)``.

    Parameters
    ----------
    estimator : scikit-learn estimator or None, default None
        The outcome model of the treated arm, cloned (and of the control arm too, unless
        ``control_estimator`` is given). A classifier (``predict_proba[:, 1]``; outcome 0/1) or
        a regressor. ``None``: :class:`~sklearn.ensemble.HistGradientBoostingClassifier` for a
        0/1 outcome, else :class:`~sklearn.ensemble.HistGradientBoostingRegressor`
        (``random_state=0``).
    control_estimator : scikit-learn estimator or None, default None
        The outcome model of the control arm (``None``: the same as ``estimator``).
    min_arm_size : int, default 10
        The fewest rows each arm must have.

    Attributes
    ----------
    estimator_treated_, estimator_control_ : estimator
        The fitted outcome models (a constant model for an arm whose outcome is constant).
    n_treated_, n_control_ : int
        Rows of each arm in the fit.
    n_features_in_ : int
        Features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2))
    >>> t = rng.random(2000) < 0.5
    >>> y = X[:, 0] + t * (1.0 + X[:, 1]) + rng.normal(size=2000)
    >>> model = TLearner(LinearRegression()).fit(X, y, t, propensity=0.5)
    >>> np.round(model.predict([[0.0, 0.0], [0.0, 1.0]]))
    array([1., 2.])
    """

    def __init__(
        self, estimator: Any = None, control_estimator: Any = None, min_arm_size: int = 10
    ) -> None:
        self.estimator = estimator
        self.control_estimator = control_estimator
        self.min_arm_size = min_arm_size

    def fit(self, X: Any, y: Any, treatment: Any, *, propensity: Any = None) -> TLearner:
        """Fit one outcome model on each arm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the logged customers (finite numbers).
        y : array-like of shape (n_samples,)
            Their outcome after the contact window (0/1 purchase, or revenue with a regressor).
        treatment : array-like of shape (n_samples,)
            1 or True where the customer was contacted, 0 or False where held out.
        propensity : float in (0, 1), array-like of shape (n_samples,), or "estimate"
            The probability that each row was contacted (see the module's randomisation
            contract). Required. The T-learner only checks it (both arms are fitted as they
            are); it is what makes the arms comparable.

        Returns
        -------
        TLearner
            ``self``, fitted.

        Raises
        ------
        ValidationError
            No ``propensity``; propensities of 0 or 1, or contradicted by the treated share;
            treatment not 0/1; an arm smaller than ``min_arm_size``; ``y`` not finite, or
            beyond 1e150 in magnitude (beyond 1e30 with the default regressor, which computes
            in float32: rescale it); lengths that differ; a classifier with an outcome that is
            not 0/1.

        Notes
        -----
        An arm whose outcome is constant (nobody in the holdout bought, say) gets a constant
        model of that value; the uplift is then the other arm's model minus that constant.
        """
        Xa, ya, treated, _, _ = self._validate_fit(X, y, treatment, propensity)
        treated_template = self._outcome_template(self.estimator, ya, "estimator")
        control_template = (
            treated_template
            if self.control_estimator is None
            else self._outcome_template(self.control_estimator, ya, "control_estimator")
        )
        self._fit_arms(treated_template, control_template, Xa, ya, treated)
        return self

    def predict(self, X: Any) -> NDArray[np.float64]:
        """The estimated uplift of each row, ``mu1(x) - mu0(x)``."""
        mu0, mu1 = self.predict_outcomes(X)
        return mu1 - mu0


class XLearner(_ArmModels):
    """X-learner (Künzel et al. 2019): outcome models, imputed effects, propensity blend.

    1. ``mu0`` and ``mu1`` are fitted on the control and treated arms (as :class:`TLearner`).
    2. Imputed effects: ``d1 = y - mu0(x)`` on the treated rows, ``d0 = mu1(x) - y`` on the
       control rows; ``tau1`` and ``tau0`` regress them on ``x``.
    3. ``tau(x) = g(x) tau0(x) + (1 - g(x)) tau1(x)`` with ``g`` the propensity: the effect
       model of the arm whose *other* arm's outcome model is better informed gets more weight
       (with a 10% holdout, ``g = 0.9`` and ``tau0``, built on ``mu1`` from the large treated
       arm, dominates).

    ``g`` is the number given as ``propensity`` to ``fit``; with per-row or estimated
    propensities, a propensity model fitted on ``(X, treatment)`` gives ``g`` for new rows
    (or pass known ones to :meth:`predict`).

    Parameters
    ----------
    outcome_estimator : scikit-learn estimator or None, default None
        The outcome model of both arms (cloned); default as :class:`TLearner`'s.
    effect_estimator : scikit-learn regressor or None, default None
        The model of the imputed effects (cloned); ``None``:
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor` (``random_state=0``).
    propensity_estimator : scikit-learn classifier or None, default None
        The propensity model used when the propensity is not one number; ``None``: a logistic
        regression on standardised features.
    min_arm_size : int, default 10
        The fewest rows each arm must have.

    Attributes
    ----------
    estimator_treated_, estimator_control_ : estimator
        The fitted outcome models ``mu1`` and ``mu0``.
    effect_treated_, effect_control_ : estimator
        The fitted effect models ``tau1`` (on treated rows) and ``tau0`` (on control rows).
    propensity_ : float or None
        The propensity given as one number, else ``None``.
    propensity_estimator_ : estimator or None
        The fitted propensity model when ``propensity_`` is ``None``.
    n_treated_, n_control_, n_features_in_ : int
    """

    def __init__(
        self,
        outcome_estimator: Any = None,
        effect_estimator: Any = None,
        propensity_estimator: Any = None,
        min_arm_size: int = 10,
    ) -> None:
        self.outcome_estimator = outcome_estimator
        self.effect_estimator = effect_estimator
        self.propensity_estimator = propensity_estimator
        self.min_arm_size = min_arm_size

    def fit(self, X: Any, y: Any, treatment: Any, *, propensity: Any = None) -> XLearner:
        """Fit the outcome, effect and (unless the propensity is one number) propensity models.

        Parameters and errors as :meth:`TLearner.fit`.

        Returns
        -------
        XLearner
            ``self``, fitted.
        """
        Xa, ya, treated, _, scalar = self._validate_fit(X, y, treatment, propensity)
        template = self._outcome_template(self.outcome_estimator, ya, "outcome_estimator")
        if not _is_estimator(self.effect_estimator):
            raise ValidationError(
                "effect_estimator must be a scikit-learn regressor or None, not "
                f"{short_repr(self.effect_estimator)}"
            )
        if not _is_estimator(self.propensity_estimator):
            raise ValidationError(
                "propensity_estimator must be a scikit-learn classifier or None, not "
                f"{short_repr(self.propensity_estimator)}"
            )
        if self.effect_estimator is not None and is_classifier(self.effect_estimator):
            raise ValidationError("effect_estimator must be a regressor: effects are real")
        self._fit_arms(template, template, Xa, ya, treated)
        x1, x0 = Xa[treated], Xa[~treated]
        d1 = ya[treated] - _predict_outcome(self.estimator_control_, x1)
        d0 = _predict_outcome(self.estimator_treated_, x0) - ya[~treated]
        if self.effect_estimator is None:
            _check_default_regressor(ya, "effect_estimator")
        effect = _default_outcome_model(False) if self.effect_estimator is None else None
        effect_template = self.effect_estimator if effect is None else effect
        self.effect_treated_ = _fit_outcome(effect_template, x1, d1, "treated")
        self.effect_control_ = _fit_outcome(effect_template, x0, d0, "control")
        self.propensity_ = scalar
        self.propensity_estimator_: Any = None
        if scalar is None:
            pmodel = (
                _default_propensity_model()
                if self.propensity_estimator is None
                else self.propensity_estimator
            )
            self.propensity_estimator_ = clone(pmodel).fit(Xa, treated.astype(np.int64))
        return self

    def predict(self, X: Any, *, propensity: Any = None) -> NDArray[np.float64]:
        """The estimated uplift of each row, ``g tau0(x) + (1 - g) tau1(x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        propensity : float or array-like of shape (n_samples,), optional
            Known contact probabilities of these rows (the weight ``g``); default: the number
            given to ``fit``, or the fitted propensity model.
        """
        check_fitted(self, "effect_treated_", "effect_control_")
        Xa = validate_X(self, X, reset=False)
        n = Xa.shape[0]
        if propensity is not None:
            g, _ = _propensity(propensity, n)
        elif self.propensity_ is not None:
            g = np.full(n, self.propensity_)
        else:
            g = np.asarray(self.propensity_estimator_.predict_proba(Xa)[:, 1], dtype=np.float64)
        tau1 = _predict_outcome(self.effect_treated_, Xa)
        tau0 = _predict_outcome(self.effect_control_, Xa)
        return np.asarray(g * tau0 + (1.0 - g) * tau1, dtype=np.float64)


class ClassTransformation(_UpliftBase):
    """Class transformation (Jaskowski and Jaroszewicz 2012): one classifier of ``z``.

    ``z = 1`` for treated buyers and untreated non-buyers, ``0`` otherwise. With a 50/50 random
    split, ``P(z = 1 | x) = (1 + tau(x)) / 2``, so ``uplift = 2 P(z = 1 | x) - 1``. Only for a
    0/1 outcome and ``propensity=0.5``: with any other split the identity does not hold and
    ``fit`` refuses (use :class:`TLearner` or :class:`XLearner`).

    Parameters
    ----------
    estimator : scikit-learn classifier or None, default None
        ``None``: :class:`~sklearn.ensemble.HistGradientBoostingClassifier`
        (``random_state=0``).
    min_arm_size : int, default 10

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier of ``z`` (a constant model if ``z`` is constant).
    n_treated_, n_control_, n_features_in_ : int
    """

    def __init__(self, estimator: Any = None, min_arm_size: int = 10) -> None:
        self.estimator = estimator
        self.min_arm_size = min_arm_size

    def fit(self, X: Any, y: Any, treatment: Any, *, propensity: Any = None) -> ClassTransformation:
        """Fit the classifier of ``z = (y == treatment)``.

        Parameters and errors as :meth:`TLearner.fit`; in addition ``y`` must be 0/1, not
        constant in both arms at once (nobody, or everybody, responded in each arm: then ``z``
        only encodes the treatment and there is no uplift to learn), and the propensity 0.5
        for every row. One arm with a constant outcome is fine.
        """
        Xa, ya, treated, p, _ = self._validate_fit(X, y, treatment, propensity)
        if p is None or not np.all(p == 0.5):
            raise ValidationError(
                "ClassTransformation needs a 50/50 random split (propensity=0.5): "
                "2 P(z=1|x) - 1 is the uplift only then; use TLearner or XLearner otherwise"
            )
        if not _is_binary(ya):
            raise ValidationError("ClassTransformation needs a 0/1 outcome y")
        if not _is_estimator(self.estimator) or (
            self.estimator is not None and not is_classifier(self.estimator)
        ):
            raise ValidationError(
                f"estimator must be a scikit-learn classifier or None, not "
                f"{short_repr(self.estimator)}"
            )
        y1, y0 = ya[treated], ya[~treated]
        if np.all(y1 == y1[0]) and np.all(y0 == y0[0]):
            raise ValidationError(
                f"the outcome is constant in each arm (treated: all {y1[0]:g}, control: all "
                f"{y0[0]:g}): the uplift is plainly {y1[0] - y0[0]:g} and z would only encode "
                "the treatment, so the classifier would learn noise; there is nothing to model"
            )
        template = _default_outcome_model(True) if self.estimator is None else self.estimator
        z = (ya == treated).astype(np.float64)
        self.estimator_ = _fit_outcome(template, Xa, z, "whole")
        self.n_treated_ = int(treated.sum())
        self.n_control_ = int(treated.size - self.n_treated_)
        return self

    def predict(self, X: Any) -> NDArray[np.float64]:
        """The estimated uplift of each row, ``2 P(z = 1 | x) - 1``."""
        check_fitted(self, "estimator_")
        Xa = validate_X(self, X, reset=False)
        return 2.0 * _predict_outcome(self.estimator_, Xa) - 1.0
