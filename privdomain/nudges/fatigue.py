"""Contact fatigue: response to a nudge falls with recent contacts and recovers with rest.

The model
---------
A customer's *fatigue load* at instant ``t`` sums the messages the brand sent them in the
``horizon_days`` before ``t``, each weighted by its kind and faded by its age::

    load(t) = Σ_k  w[kind_k] · exp(−(t − t_k) / τ)          (t − horizon ≤ t_k < t)

with ``kind`` content or promotion (the ``promotion`` flag of the SENT touchpoint), and the
chance that a nudge sent at ``t`` gets a response is

    p(t) = p0 · exp(−load(t))

``p0`` (the rested response rate), the weights ``w_content``, ``w_promotion`` and the recovery
time ``τ`` (days) are fitted by maximum likelihood (Bernoulli, L-BFGS-B with an analytic
gradient) from logged SENT contacts and whether each got a response. The planner multiplies its
score by ``exp(−load)`` (the *fatigue multiplier*, 1 for a rested customer) and skips a
customer whose multiplier is below the policy's ``fatigue_floor``.

Sums run over (send, earlier send) pairs of one customer built at once (no loop over customers
or contacts), then ``bincount`` per send.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special
from sklearn.base import BaseEstimator

from privdomain.domain._time import MICROS_PER_DAY, epoch_micros
from privdomain.domain.segment import short_repr
from privdomain.domain.snapshot import CONTACT_HISTORY_DAYS, Snapshot
from privdomain.errors import ConvergenceError, ValidationError
from privdomain.nudges._events import EventIndex
from privdomain.strategy import check_fitted

__all__ = ["FatigueModel", "fatigue_load", "responded_within"]


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValidationError(f"{name} must be a finite number > 0, not {short_repr(value)}")
    if not math.isfinite(float(value)) or value <= 0:
        raise ValidationError(f"{name} must be a finite number > 0, not {short_repr(value)}")
    return float(value)


def fatigue_load(
    row: NDArray[Any],
    at: NDArray[np.int64],
    promotion: NDArray[np.bool_],
    when: NDArray[np.int64],
    *,
    weights: tuple[float, float],
    recovery_days: float,
    horizon_days: float,
) -> NDArray[np.float64]:
    """The fatigue load of every customer at their own instant ``when[row]``.

    Parameters
    ----------
    row, at, promotion : numpy.ndarray
        Past contacts: the customer row, the instant (epoch microseconds) and the promotion flag.
    when : numpy.ndarray of int64
        One instant per customer (epoch microseconds).
    weights : (float, float)
        Weight of a content message and of a promotion.
    recovery_days, horizon_days : float
        ``τ`` and how far back contacts count.

    Returns
    -------
    numpy.ndarray of float64
        ``Σ w · exp(−age / τ)`` over the contacts strictly before ``when`` and at most
        ``horizon_days`` old, per customer.
    """
    row = np.asarray(row, dtype=np.int64)
    age = (when[row] - np.asarray(at, dtype=np.int64)) / MICROS_PER_DAY
    inside = (age > 0) & (age <= horizon_days)
    w = np.where(np.asarray(promotion, dtype=bool), weights[1], weights[0])
    contrib = w[inside] * np.exp(-age[inside] / recovery_days)
    return np.bincount(row[inside], weights=contrib, minlength=when.shape[0]).astype(np.float64)


def responded_within(
    contact_row: NDArray[Any],
    contact_at: NDArray[np.int64],
    order_row: NDArray[Any],
    order_at: NDArray[np.int64],
    window: int,
) -> NDArray[np.bool_]:
    """Whether the customer of each contact ordered in ``[contact_at, contact_at + window)``
    (instants and ``window`` in microseconds).

    Orders are sorted by (customer, instant); every contact then walks its customer's orders in
    time order, all contacts at once, one step per order ordinal, until it meets the first
    order at or after its instant (which decides). The steps are as many as the most orders
    one customer has, and the contacts still walking shrink at each step.
    """
    c_row = np.asarray(contact_row, dtype=np.int64)
    c_at = np.asarray(contact_at, dtype=np.int64)
    o_row = np.asarray(order_row, dtype=np.int64)
    o_at = np.asarray(order_at, dtype=np.int64)
    hit = np.zeros(c_row.shape[0], dtype=bool)
    if not o_row.size or not c_row.size:
        return hit
    order = np.lexsort((o_at, o_row))
    o_at = o_at[order]
    size = int(max(c_row.max(), o_row.max())) + 1
    count = np.bincount(o_row, minlength=size)
    start = np.cumsum(count) - count
    active = np.flatnonzero(count[c_row] > 0)
    first, left, when = start[c_row[active]], count[c_row[active]], c_at[active]
    step = 0
    while active.size:
        seen = o_at[first + step]
        decided = seen >= when
        hit[active[decided & (seen < when + window)]] = True
        keep = ~decided & (left > step + 1)
        active, first, left, when = active[keep], first[keep], left[keep], when[keep]
        step += 1
    return hit


class FatigueModel(BaseEstimator):  # type: ignore[misc]
    """Response decaying with recent contacts (promotions weigh more) and recovering with rest;
    fitted by maximum likelihood from logged contacts and responses.

    Parameters
    ----------
    response_days : float, default 7
        A contact got a response when the customer ordered within this many days after it
        (used by :meth:`fit` on a snapshot).
    horizon_days : float, default 28
        Contacts older than this do not count towards the load.
    recovery_init : float, default 7
        Starting value of ``τ`` (days) for the optimiser.

    Attributes
    ----------
    base_rate_ : float
        ``p0``, the response rate of a rested customer.
    content_weight_, promotion_weight_ : float
        Load added by one content message and by one promotion, just sent.
    recovery_days_ : float
        ``τ``: a contact's weight falls by ``e`` every ``τ`` days.
    n_contacts_, n_responses_ : int
        Logged contacts and responses the fit used.
    log_likelihood_ : float
        The maximised log-likelihood.
    """

    def __init__(
        self, *, response_days: float = 7.0, horizon_days: float = 28.0, recovery_init: float = 7.0
    ) -> None:
        self.response_days = response_days
        self.horizon_days = horizon_days
        self.recovery_init = recovery_init

    # ------------------------------------------------------------------ fitting
    def fit(self, snapshot: Snapshot, y: Any = None) -> FatigueModel:
        """Fit on the contacts of ``snapshot``: a contact got a response when the customer
        ordered within ``response_days`` after it (exact, from the order log). Only contacts
        whose whole history (``horizon_days``) and response window lie inside the snapshot's
        contact history are used.

        Raises
        ------
        ValidationError
            Not a snapshot, bad parameters, or no usable contact.
        """
        if not isinstance(snapshot, Snapshot):
            raise ValidationError(
                f"FatigueModel.fit takes a Snapshot (or use fit_log), not {type(snapshot).__name__}"
            )
        response_days = _positive(self.response_days, "response_days")
        horizon_days = _positive(self.horizon_days, "horizon_days")
        contacts = snapshot.contacts
        row = np.asarray(contacts.row, dtype=np.int64)
        at = contacts.at.astype("datetime64[us]").view(np.int64)
        orders = snapshot.order_log
        o_at = orders.at.astype("datetime64[us]").view(np.int64)
        window = round(response_days * MICROS_PER_DAY)
        responded = responded_within(row, at, np.asarray(orders.row), o_at, window)
        as_of = epoch_micros(snapshot.as_of)
        start = as_of - CONTACT_HISTORY_DAYS * MICROS_PER_DAY
        usable = (at + window <= as_of) & (at - horizon_days * MICROS_PER_DAY >= start)
        return self._fit(row, at, np.asarray(contacts.promotion, dtype=bool), responded, usable)

    def fit_log(
        self, customer: Any, sent_at: Any, promotion: Any, responded: Any, *, use: Any = None
    ) -> FatigueModel:
        """Fit on a log of contacts given as arrays.

        Parameters
        ----------
        customer : array-like
            Who got each contact (any hashable ids or integers).
        sent_at : array-like of datetime64 or int
            When (datetime64, or epoch microseconds).
        promotion, responded : array-like of bool
            Whether each contact was a promotion, and whether it got a response.
        use : array-like of bool, optional
            The contacts whose response counts in the likelihood (default: all); the others
            only add to later contacts' load (e.g. contacts whose window is not over).
        """
        customer = np.asarray(customer)
        n = customer.shape[0] if customer.ndim == 1 else -1
        sent_at = np.asarray(sent_at)
        if sent_at.dtype.kind == "M":
            sent_at = sent_at.astype("datetime64[us]").view(np.int64)
        columns = {"sent_at": sent_at, "promotion": np.asarray(promotion),
                   "responded": np.asarray(responded)}  # fmt: skip
        if use is not None:
            columns["use"] = np.asarray(use)
        for name, col in columns.items():
            if col.ndim != 1 or col.shape[0] != n:
                raise ValidationError(
                    f"{name} must have one entry per contact ({n}), got shape {col.shape}"
                )
        if sent_at.dtype.kind not in "iu":
            raise ValidationError(f"sent_at is datetime64 or integer, not {sent_at.dtype}")
        for name in ("promotion", "responded", "use"):
            if name in columns and columns[name].dtype != np.bool_:
                raise ValidationError(f"{name} is an array of bool, not {columns[name].dtype}")
        _, row = np.unique(customer, return_inverse=True)
        usable = columns.get("use", np.ones(n, dtype=bool))
        return self._fit(
            row.reshape(-1).astype(np.int64), sent_at.astype(np.int64), columns["promotion"],
            columns["responded"], usable,
        )  # fmt: skip

    def _fit(
        self,
        row: NDArray[np.int64],
        at: NDArray[np.int64],
        promotion: NDArray[np.bool_],
        responded: NDArray[np.bool_],
        usable: NDArray[np.bool_],
    ) -> FatigueModel:
        horizon_days = _positive(self.horizon_days, "horizon_days")
        tau0 = _positive(self.recovery_init, "recovery_init")
        _positive(self.response_days, "response_days")
        index = EventIndex(row, at)
        use = np.asarray(usable, dtype=bool)[index.order]
        y = np.asarray(responded, dtype=bool)[index.order][use].astype(np.float64)
        n_use = int(y.shape[0])
        if n_use == 0:
            raise ValidationError("no usable logged contact to fit fatigue on")
        if y.sum() == 0 or y.sum() == n_use:
            raise ValidationError(
                "the logged contacts all got a response or none did: nothing to learn from"
            )
        later, earlier = index.pairs(round(horizon_days * MICROS_PER_DAY))
        keep = use[later]
        renumber = np.cumsum(use) - 1
        later, earlier = renumber[later[keep]], earlier[keep]
        age = (index.at[use][later] - index.at[earlier]) / MICROS_PER_DAY
        promo = np.asarray(promotion, dtype=bool)[index.order][earlier]

        def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            a, b_c, b_p, c = theta
            p0 = float(special.expit(a))
            w_c, w_p, tau = math.exp(b_c), math.exp(b_p), math.exp(c)
            fade = np.exp(-age / tau)
            w = np.where(promo, w_p, w_c)
            load_c = np.bincount(later, weights=np.where(promo, 0.0, fade), minlength=n_use)
            load_p = np.bincount(later, weights=np.where(promo, fade, 0.0), minlength=n_use)
            d_tau = np.bincount(later, weights=w * fade * age / tau, minlength=n_use)
            log_p = math.log(p0) - (w_c * load_c + w_p * load_p)
            p = np.exp(log_p)
            log_q = np.log1p(-p)
            ll = float(np.sum(y * log_p + (1 - y) * log_q))
            g = y - (1 - y) * p / (1 - p)  # d ll / d log p per contact
            grad = np.array(
                [
                    float(g.sum()) * (1 - p0),
                    -float(np.sum(g * load_c)) * w_c,
                    -float(np.sum(g * load_p)) * w_p,
                    -float(np.sum(g * d_tau)),
                ]
            )
            return -ll / n_use, -grad / n_use

        rate = float(y.mean())
        if not later.size:  # no contact follows another: no load to learn from
            self.base_rate_ = rate
            self.content_weight_ = self.promotion_weight_ = 0.0
            self.recovery_days_ = tau0
            self.n_contacts_ = n_use
            self.n_responses_ = int(y.sum())
            self.log_likelihood_ = float(np.sum(y * math.log(rate) + (1 - y) * math.log1p(-rate)))
            return self
        # a kind of message the log never shows before another takes the other kind's weight
        # (the log cannot tell them apart): free parameters u, theta = tie @ u
        tie = np.eye(4)
        if promo.all() or not promo.any():
            tie = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)

        def tied(u: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            value, grad = objective(tie @ u)
            return value, np.asarray(tie.T @ grad, dtype=np.float64)

        logit = float(special.logit(min(max(rate, 1e-6), 1 - 1e-6)))
        full_start = np.array([logit, math.log(0.1), math.log(0.1), math.log(tau0)])
        full_bounds = [(-20.0, 20.0), (-12.0, 4.0), (-12.0, 4.0), (math.log(1e-3), math.log(1e3))]
        first = [int(np.flatnonzero(tie[:, j])[0]) for j in range(tie.shape[1])]
        start = full_start[first]
        bounds = [full_bounds[i] for i in first]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            res = optimize.minimize(tied, start, jac=True, method="L-BFGS-B", bounds=bounds)
        if not np.all(np.isfinite(res.x)) or not math.isfinite(float(res.fun)):
            raise ConvergenceError(f"the fatigue fit did not converge: {res.message}")
        a, b_c, b_p, c = (float(v) for v in tie @ res.x)
        self.base_rate_ = float(special.expit(a))
        self.content_weight_ = math.exp(b_c)
        self.promotion_weight_ = math.exp(b_p)
        self.recovery_days_ = math.exp(c)
        self.n_contacts_ = n_use
        self.n_responses_ = int(y.sum())
        self.log_likelihood_ = -float(res.fun) * n_use
        return self

    # ------------------------------------------------------------------ use
    def multiplier(self, snapshot: Snapshot, at: Any = None) -> NDArray[np.float64]:
        """``exp(−load)`` of every customer of ``snapshot`` at ``at`` (a datetime, or one
        instant per customer as datetime64; default ``snapshot.as_of``), from the snapshot's
        contacts: 1 for a rested customer, towards 0 for a tired one."""
        check_fitted(self, "base_rate_")
        if not isinstance(snapshot, Snapshot):
            raise ValidationError(f"multiplier takes a Snapshot, not {type(snapshot).__name__}")
        n = len(snapshot)
        if at is None:
            when = np.full(n, epoch_micros(snapshot.as_of), dtype=np.int64)
        elif isinstance(at, dt.datetime):
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValidationError(f"at is an aware datetime, not {short_repr(at)}")
            when = np.full(n, epoch_micros(at), dtype=np.int64)
        else:
            arr = np.asarray(at)
            if arr.dtype.kind != "M" or arr.shape != (n,):
                raise ValidationError("at is a datetime or one datetime64 per customer")
            when = arr.astype("datetime64[us]").view(np.int64)
        return self._multiplier(snapshot, when)

    def _multiplier(self, snapshot: Snapshot, when: NDArray[np.int64]) -> NDArray[np.float64]:
        contacts = snapshot.contacts
        load = fatigue_load(
            np.asarray(contacts.row), contacts.at.astype("datetime64[us]").view(np.int64),
            np.asarray(contacts.promotion, dtype=bool), when,
            weights=(self.content_weight_, self.promotion_weight_),
            recovery_days=self.recovery_days_,
            horizon_days=_positive(self.horizon_days, "horizon_days"),
        )  # fmt: skip
        return np.exp(-load)

    def response_probability(self, snapshot: Snapshot, at: Any = None) -> NDArray[np.float64]:
        """``p0 · exp(−load)`` for every customer of ``snapshot`` (see :meth:`multiplier`)."""
        return self.base_rate_ * self.multiplier(snapshot, at)
