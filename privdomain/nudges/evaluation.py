"""Evaluating nudges before sending: uplift curves and scores, bootstrap intervals, and the
off-policy value of a plan from logged randomised contacts.

Uplift metrics
--------------
The definitions, and the numbers, are scikit-uplift's (``sklift.metrics``, version 0.5.1) for
the same predictions; the computation is vectorised (one sort, cumulative sums).

Rows are ranked by predicted uplift, highest first; rows with equal scores form one step of a
curve. At the end of each step, with ``N`` rows so far, ``Nt``/``Nc`` of them treated/control
and ``Yt``/``Yc`` their outcomes summed:

- **uplift curve**: ``(Yt / Nt - Yc / Nc) * N`` (a rate of 0 where a group is empty);
- **Qini curve**: ``Yt - Yc * Nt / Nc``;

both start at ``(0, 0)``. :func:`uplift_auc_score` and :func:`qini_auc_score` are the area
between the curve and the straight line from ``(0, 0)`` to its end point, divided by the same
area for the perfect ranking (:func:`perfect_uplift_curve`, :func:`perfect_qini_curve`); areas
are trapezoids. 1 is a perfect ranking, 0 no better than random, negative worse than random.
:func:`uplift_at_k` is the treated minus the control response rate among the top ``k`` rows.

The curves and :func:`uplift_at_k` accept any real outcome (revenue, say); the two scores need
a 0/1 outcome (the perfect ranking is defined for it), as in scikit-uplift. Where scikit-uplift
would return NaN or infinity with a warning (no control row among the top ``k``, a perfect
curve with no area), these functions raise a :class:`~privdomain.errors.ValidationError`.

Off-policy evaluation
---------------------
:func:`off_policy_value` estimates the mean reward per customer that a *new* plan would earn,
from contacts logged under a randomised policy: inverse propensity scoring (IPS),
self-normalised IPS (SNIPS) and doubly robust (DR) estimators, each with a standard error and a
normal confidence interval.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from privdomain.errors import ValidationError, short_repr
from privdomain.nudges.uplift import (
    _check_randomised,
    _floats,
    _propensity,
    _treatment,
)

__all__ = [
    "OFF_POLICY_METHODS",
    "MetricInterval",
    "PolicyValue",
    "bootstrap",
    "off_policy_value",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_auc_score",
    "qini_curve",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_curve",
]

#: The estimators of :func:`off_policy_value`.
OFF_POLICY_METHODS = ("ips", "snips", "dr")

#: Weights of at most this many cells are built at once by :func:`bootstrap` (memory bound).
_BLOCK_CELLS = 1 << 21

Float = NDArray[np.float64]


# ---------------------------------------------------------------------- input checks
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _inputs(
    y_true: Any, uplift: Any, treatment: Any, *, binary: bool
) -> tuple[Float, Float, NDArray[np.bool_]]:
    y = _floats("y_true", y_true)
    n = y.shape[0]
    u = _floats("uplift", uplift, n, "y_true")
    t = _treatment(treatment, n, "y_true")
    if n == 0:
        raise ValidationError("uplift metrics need at least one row")
    if t.all() or not t.any():
        raise ValidationError(
            "uplift metrics need both treated and control rows, but every row is "
            + ("treated" if t.all() else "control")
        )
    if binary and not np.all((y == 0.0) | (y == 1.0)):
        raise ValidationError("this score needs a binary outcome y_true (0 or 1)")
    return y, u, t


def _outcome_and_treatment(y_true: Any, treatment: Any) -> tuple[Float, NDArray[np.bool_]]:
    y = _floats("y_true", y_true)
    y, _, t = _inputs(y, np.zeros(y.size), treatment, binary=True)
    return y, t


def _descending(uplift: Float, *, ties_in_reverse_row_order: bool = True) -> NDArray[np.intp]:
    """Row order by score, highest first; equal scores in reverse row order (as
    scikit-uplift's ``argsort(kind="mergesort")[::-1]``), or in any order where only the ends
    of runs of equal scores matter and sums over a run are exact (0/1 outcomes)."""
    if ties_in_reverse_row_order:
        return _stable_argsort(uplift)[::-1]
    return np.argsort(uplift)[::-1]


#: The sign bit of an int64.
_SIGN = np.int64(-(1 << 63))


def _stable_argsort(values: Float) -> NDArray[np.intp]:
    """``numpy.argsort(values, kind="stable")`` of finite floats, about twice as fast: an LSD
    radix sort of the floats' bits, read as integers that sort as the floats do, 16 bits per
    pass (numpy sorts 16-bit integers stably by radix)."""
    bits = (values + 0.0).view(np.int64)  # + 0.0: -0.0 becomes 0.0, which it equals
    bits ^= (bits >> 63) | _SIGN  # negatives: every bit flipped; positives: the sign bit
    digits = bits.view(np.uint16).reshape(-1, 4).T.copy()  # one row per 16-bit digit
    if sys.byteorder != "little":  # pragma: no cover - the machines we know are little-endian
        digits = digits[::-1]
    order = np.argsort(digits[0], kind="stable")
    for digit in digits[1:]:
        order = order[np.argsort(digit[order], kind="stable")]
    return np.asarray(order, dtype=np.intp)


def _step_ends(sorted_scores: Float) -> NDArray[np.intp] | None:
    """The last position of each run of equal scores; None when no two scores are equal
    (every row ends its own step)."""
    same = sorted_scores[1:] == sorted_scores[:-1]
    if not same.any():
        return None
    ends = np.r_[np.flatnonzero(~same), sorted_scores.size - 1]
    return np.asarray(ends, dtype=np.intp)


def _curve_values(kind: str, n_all: Float, n_t: Float, y_t: Float, y_c: Float) -> Float:
    """Curve heights from cumulative counts and sums (any leading shape); the same operations
    as scikit-uplift's, in place where the inputs are not needed again."""
    n_c = n_all - n_t
    if kind == "uplift":
        rate_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
        rate_c = np.divide(y_c, n_c, out=n_c, where=n_c != 0)  # 0 stays where n_c is 0
        rate_t -= rate_c
        rate_t *= n_all
        return rate_t
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    ratio *= y_c
    return np.subtract(y_t, ratio, out=ratio)


def _cumulative(
    y: Float,
    t: NDArray[np.bool_],
    order: NDArray[np.intp],
    ends: NDArray[np.intp] | None,
    weights: NDArray[np.int64] | None,
) -> tuple[Float, Float, Float, Float]:
    """(N, Nt, Yt, Yc) at each step end; rows of ``weights`` (how often each row was drawn,
    in ``order``) are resamples."""
    if y.size < _PACKED_ROWS and _binary(y):
        return _cumulative_counts(y, t, order, ends, weights)
    ys, treated = y[order], t[order]
    yt = np.where(treated, ys, 0.0)
    yc = ys - yt
    if weights is None:
        n = y.size
        n_all = np.arange(1.0, n + 1.0) if ends is None else (ends + 1).astype(np.float64)
        sums = [np.cumsum(treated, dtype=np.float64), np.cumsum(yt), np.cumsum(yc)]
        if ends is not None:
            sums = [part[ends] for part in sums]
        return n_all, sums[0], sums[1], sums[2]
    w = weights.astype(np.float64)
    parts = (w, w * treated, w * yt, w * yc)
    cums = [np.cumsum(part, axis=-1) for part in parts]
    if ends is not None:
        cums = [part[..., ends] for part in cums]
    return cums[0], cums[1], cums[2], cums[3]


#: Counts of fewer rows than this fit in 21 bits: three of them share one int64.
_PACKED_ROWS = 1 << 21

#: The packed (treated, treated buyer, control buyer) counts of a row of each class
#: ``2 * buyer + treated``.
_PACKED_CLASS = np.array([0, 1, 1 << 42, 1 | (1 << 21)], dtype=np.int64)


def _binary(y: Float) -> bool:
    return bool(np.all((y == 0.0) | (y == 1.0)))


def _cumulative_counts(
    y: Float,
    t: NDArray[np.bool_],
    order: NDArray[np.intp],
    ends: NDArray[np.intp] | None,
    weights: NDArray[np.int64] | None,
) -> tuple[Float, Float, Float, Float]:
    """:func:`_cumulative` of 0/1 outcomes: the three running counts (treated, treated buyers,
    control buyers) packed in 21-bit fields of one int64 and summed at once (an integer
    cumulative sum is many times faster than a floating-point one, and exact)."""
    if weights is None:
        return _counts_of_classes(_classes(y, t)[order], ends)
    treated = t[order].astype(np.int64)
    buyer = (y[order] == 1.0).astype(np.int64)
    w_treated = weights * treated
    packed = w_treated | ((w_treated * buyer) << 21) | (((weights - w_treated) * buyer) << 42)
    running = np.cumsum(packed, axis=-1)
    drawn = np.cumsum(weights, axis=-1)
    if ends is not None:
        drawn = drawn[..., ends]
    if ends is not None:
        running = running[..., ends]
    mask = (1 << 21) - 1
    return (
        drawn.astype(np.float64),
        (running & mask).astype(np.float64),
        ((running >> 21) & mask).astype(np.float64),
        (running >> 42).astype(np.float64),
    )


def _classes(y: Float, t: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """The class ``2 * buyer + treated`` of each row (0/1 outcomes)."""
    return np.asarray(((y == 1.0).view(np.uint8) << 1) | t.view(np.uint8), dtype=np.uint8)


def _counts_of_classes(
    ranked: NDArray[Any], ends: NDArray[np.intp] | None
) -> tuple[Float, Float, Float, Float]:
    """(N, Nt, Yt, Yc) at each step end from the classes of the rows in ranking order; the
    three running counts packed in 21-bit fields of one int64 (see :func:`_cumulative_counts`)."""
    running = _PACKED_CLASS[ranked]
    np.cumsum(running, out=running)
    n = ranked.size
    n_all = np.arange(1.0, n + 1.0) if ends is None else (ends + 1).astype(np.float64)
    if ends is not None:
        running = running[ends]
    mask = (1 << 21) - 1
    field = np.bitwise_and(running, mask)
    n_t = field.astype(np.float64)
    np.right_shift(running, 21, out=field)
    field &= mask
    y_t = field.astype(np.float64)
    np.right_shift(running, 42, out=running)
    return n_all, n_t, y_t, running.astype(np.float64)


#: The sign bit of an int32.
_SIGN32 = np.int32(-(1 << 31))

Int32 = NDArray[np.int32]

#: Counts of fewer rows than this fit in int32.
_INT32_ROWS = (1 << 31) - 1


def _ranked_counts(
    y: Float, t: NDArray[np.bool_], u: Float
) -> tuple[Int32, Int32, Int32, Int32, bool]:
    """(N, Nt, Yt, Yc) at each step end of the ranking by score, highest first, for 0/1
    outcomes (fewer than 2**31 - 1 rows), and whether every step is one row.

    No float64 argsort: a radix sort of the scores rounded to float32 (two 16-bit passes
    instead of four), made exact after: rounding to nearest never reverses two scores, so only
    rows whose distinct scores round to one float32 (adjacent in the ranking) can be out of
    order, and they are re-sorted by their float64 scores (all the rows of such a run keep
    the run's place). The order of rows within a step does not matter: only the counts at its
    end are read, and counts are exact. The running counts are int32 (memory is the cost
    here: every fresh array is paid for page by page)."""
    n = u.size
    with np.errstate(over="ignore"):  # beyond float32's range: infinity, still in order
        single = u.astype(np.float32)
    single += np.float32(0.0)  # -0.0 becomes 0.0, which it equals
    bits = single.view(np.int32)
    bits ^= (bits >> 31) | _SIGN32  # read as uint32, the keys sort as the floats
    digits = bits.view(np.uint16).reshape(-1, 2)
    if sys.byteorder != "little":  # pragma: no cover - the machines we know are little-endian
        digits = digits[:, ::-1]
    first = np.argsort(digits[:, 0], kind="stable")
    high, keys, classes = digits[first, 1], bits[first], _classes(y, t)[first]
    first = first.astype(np.int32) if n < _INT32_ROWS else first  # less fresh memory below
    del single, bits, digits
    second = np.argsort(high, kind="stable")[::-1]  # highest first
    keys, classes = keys[second], classes[second]
    same = keys[1:] == keys[:-1]  # equal float32: maybe equal scores
    del keys, high
    pairs = np.flatnonzero(same)
    if pairs.size:
        equal = u[first[second[pairs]]] == u[first[second[pairs + 1]]]
        if not equal.all():  # distinct scores of one float32: re-sort their runs
            order = first[second]
            run = np.r_[0, np.cumsum(~same)]
            rows = np.flatnonzero(np.isin(run, run[pairs[~equal]]))
            resorted = np.argsort(u[order[rows]], kind="stable")[::-1]
            order[rows] = order[rows][resorted]
            classes[rows] = classes[rows][resorted]
            equal = u[order[pairs]] == u[order[pairs + 1]]
        same[pairs] = equal
    del first, second
    ends = np.flatnonzero(~same) if pairs.size and same.any() else None
    n_t = np.cumsum(classes & 1, dtype=np.int32)
    y_t = np.cumsum(classes == 3, dtype=np.int32)
    y_c = np.cumsum(classes == 2, dtype=np.int32)
    if ends is None:
        return np.arange(1, n + 1, dtype=np.int32), n_t, y_t, y_c, True
    ends = np.r_[ends, n - 1]
    n_all = np.asarray(ends + 1, dtype=np.int32)
    return n_all, n_t[ends], y_t[ends], y_c[ends], False


def _count_curve(kind: str, n_all: Int32, n_t: Int32, y_t: Int32, y_c: Int32) -> Float:
    """:func:`_curve_values` of integer counts (each converted to float64 exactly inside the
    same operations, so the same bits), with fewer temporary arrays."""
    n_c = n_all - n_t
    out = np.zeros(n_all.shape)
    if kind == "uplift":
        np.divide(y_t, n_t, out=out, where=n_t != 0)
        rate_c = np.divide(y_c, n_c, out=np.zeros(n_all.shape), where=n_c != 0)
        out -= rate_c
        out *= n_all
        return out
    np.divide(n_t, n_c, out=out, where=n_c != 0)
    out *= y_c
    return np.subtract(y_t, out, out=out)


def _with_origin(x: Float, values: Float) -> tuple[Float, Float]:
    zeros = np.zeros((*x.shape[:-1], 1))
    return np.concatenate([zeros, x], axis=-1), np.concatenate([zeros, values], axis=-1)


def _curve(kind: str, y_true: Any, uplift: Any, treatment: Any) -> tuple[NDArray[Any], Float]:
    y, u, t = _inputs(y_true, uplift, treatment, binary=False)
    order = _descending(u, ties_in_reverse_row_order=not _binary(y))
    ends = _step_ends(u[order])
    n_all, n_t, y_t, y_c = _cumulative(y, t, order, ends, None)
    values = _curve_values(kind, n_all, n_t, y_t, y_c)
    return np.r_[0, n_all].astype(np.int64), np.r_[0.0, values]


def uplift_curve(y_true: Any, uplift: Any, treatment: Any) -> tuple[NDArray[np.int64], Float]:
    """The uplift curve: ``(Yt/Nt - Yc/Nc) * N`` over the top ``N`` rows by predicted uplift.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Outcomes (0/1, or any real number such as revenue).
    uplift : array-like of shape (n,)
        Predicted uplift, the ranking score.
    treatment : array-like of shape (n,)
        1 or True for treated (contacted) rows, 0 or False for control rows; both must occur.

    Returns
    -------
    (numpy.ndarray of int64, numpy.ndarray of float64)
        The number of rows ``N`` at the end of each step of equal scores, and the curve there;
        both start with 0. The same points as ``sklift.metrics.uplift_curve``.

    Raises
    ------
    ValidationError
        Lengths that differ, values that are not finite, treatment not 0/1, an empty arm.
    """
    x, values = _curve("uplift", y_true, uplift, treatment)
    return x, values


def qini_curve(y_true: Any, uplift: Any, treatment: Any) -> tuple[NDArray[np.int64], Float]:
    """The Qini curve: ``Yt - Yc * Nt / Nc`` over the top ``N`` rows by predicted uplift.

    The incremental responses among the top ``N``, counting the control group's responses as
    if it were as large as the treated group there (Radcliffe 2007). Parameters, return value
    and errors as :func:`uplift_curve`; the same points as ``sklift.metrics.qini_curve``.
    """
    x, values = _curve("qini", y_true, uplift, treatment)
    return x, values


_Class = tuple[int, bool]  # (outcome, treated)


def _perfect_steps(kind: str, control_responders_first: bool) -> list[list[_Class]]:
    """The (outcome, treated) classes in the order of scikit-uplift's perfect ranking; the
    classes of one step tie. For the uplift curve, control responders come before treated
    non-responders when there are more of them."""
    if kind == "uplift":
        if control_responders_first:
            return [[(1, True)], [(0, False)], [(1, False)], [(0, True)]]
        return [[(1, True)], [(0, False)], [(0, True)], [(1, False)]]
    return [[(1, True)], [(0, True), (0, False)], [(1, False)]]


def _class_weights(y: Float, t: NDArray[np.bool_], w: Float | None) -> dict[_Class, Float]:
    """The weight of each (outcome, treated) class, one per resample (row of ``w``; no ``w``:
    one resample of every row once)."""
    code = 2 * (y == 1) + t  # 0: (0, control), 1: (0, treated), 2: (1, control), 3: (1, treated)
    if w is None:
        counts = np.bincount(code, minlength=4).astype(np.float64)
        per_class = [counts[k : k + 1] for k in range(4)]
    else:
        per_class = [(w * (code == k)).sum(axis=-1) for k in range(4)]
    return {(k // 2, bool(k % 2)): per_class[k] for k in range(4)}


def _perfect_points(
    kind: str, mass: dict[_Class, Float], steps: list[list[_Class]], drop_empty: bool
) -> tuple[Float, Float]:
    """The perfect curve's points from the classes' weights, one row per resample."""
    zero = np.zeros_like(mass[(1, True)])

    def total(keys: list[_Class]) -> Float:
        return zero + sum((mass[key] for key in keys), zero)

    n_all = [total(step) for step in steps]
    n_t = [total([key for key in step if key[1]]) for step in steps]
    y_t = [total([key for key in step if key[1] and key[0] == 1]) for step in steps]
    y_c = [total([key for key in step if not key[1] and key[0] == 1]) for step in steps]
    cum = [np.cumsum(np.stack(part, axis=-1), axis=-1) for part in (n_all, n_t, y_t, y_c)]
    if drop_empty:  # steps of no row are no points (one resample only)
        present = np.stack(n_all, axis=-1)[0] > 0
        cum = [part[:, present] for part in cum]
    return _with_origin(cum[0], _curve_values(kind, cum[0], cum[1], cum[2], cum[3]))


def _perfect_curve(
    kind: str,
    y: Float,
    t: NDArray[np.bool_],
    negative_effect: bool,
    weights: NDArray[Any] | None,
    mass: dict[_Class, Float] | None = None,
) -> tuple[Float, Float]:
    """The perfect curve's points; leading axis one per resample (1 without weights).
    ``mass``: the classes' weights, when known."""
    if mass is None:
        mass = _class_weights(y, t, weights)
    if kind == "qini" and not negative_effect:
        n_t = mass[(0, True)] + mass[(1, True)]
        n_c = mass[(0, False)] + mass[(1, False)]
        n = n_t + n_c
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample without control
            ratio = mass[(1, True)] - n_t * mass[(1, False)] / n_c
        x = np.stack([np.zeros_like(n), ratio, n], axis=-1)
        return x, np.stack([np.zeros_like(n), ratio, ratio], axis=-1)
    if kind == "qini":
        return _perfect_points(kind, mass, _perfect_steps(kind, False), weights is None)
    first = mass[(1, False)] > mass[(0, True)]  # control responders > treated non-responders
    if weights is None:
        return _perfect_points(kind, mass, _perfect_steps(kind, bool(first[0])), True)
    x1, v1 = _perfect_points(kind, mass, _perfect_steps(kind, True), False)
    x0, v0 = _perfect_points(kind, mass, _perfect_steps(kind, False), False)
    return np.where(first[:, None], x1, x0), np.where(first[:, None], v1, v0)


def perfect_uplift_curve(y_true: Any, treatment: Any) -> tuple[NDArray[np.int64], Float]:
    """The uplift curve of the perfect ranking of a 0/1 outcome (scikit-uplift's definition).

    Treated responders first, then control non-responders, then, in the order that gives the
    larger area, control responders and treated non-responders.

    Returns
    -------
    (numpy.ndarray of int64, numpy.ndarray of float64)
        Points as :func:`uplift_curve`.
    """
    y, t = _outcome_and_treatment(y_true, treatment)
    x, values = _perfect_curve("uplift", y, t, True, None)
    return x[0].astype(np.int64), values[0]


def perfect_qini_curve(
    y_true: Any, treatment: Any, negative_effect: bool = True
) -> tuple[Float, Float]:
    """The Qini curve of the perfect ranking of a 0/1 outcome (scikit-uplift's definition).

    Parameters
    ----------
    y_true, treatment : array-like of shape (n,)
        0/1 outcomes and treatment flags.
    negative_effect : bool, default True
        True: the perfect ranking puts treated responders first and control responders (whom
        the nudge would have lost) last. False: the curve rises straight to the overall
        incremental responses ``r = Yt - Nt Yc / Nc`` at ``x = r`` and stays there (no
        customer is hurt by a nudge); it needs ``r >= 0``.

    Returns
    -------
    (numpy.ndarray of float64, numpy.ndarray of float64)
        The points (``x`` may be fractional when ``negative_effect`` is False).
    """
    if not isinstance(negative_effect, bool):
        raise ValidationError(f"negative_effect must be a bool, not {short_repr(negative_effect)}")
    y, t = _outcome_and_treatment(y_true, treatment)
    x, values = _perfect_curve("qini", y, t, negative_effect, None)
    if not negative_effect and values[0, 1] < 0:
        raise ValidationError(
            "the treated group responded less than the control group overall, so the perfect "
            "Qini curve without negative effects is undefined (its x would be negative)"
        )
    return x[0], values[0]


# ---------------------------------------------------------------------- areas
def _area(x: Float, values: Float) -> Float:
    """Trapezoid areas along the last axis (as ``numpy.trapezoid``)."""
    d = np.diff(x, axis=-1)
    return np.asarray((d * (values[..., 1:] + values[..., :-1]) / 2.0).sum(axis=-1))


def _area_from_origin(x: NDArray[Any], values: Float, unit_steps: bool) -> Float:
    """:func:`_area` of the curve ``(0, 0), (x, values)...`` without building it: the same
    trapezoids, summed in the same order. ``unit_steps``: every step of ``x`` is 1 (then the
    products by 1 are left out, which changes no bit)."""
    terms = np.empty(values.shape)
    np.multiply(x[..., :1], values[..., :1], out=terms[..., :1])
    rest = np.add(values[..., 1:], values[..., :-1], out=terms[..., 1:])
    if not unit_steps:
        rest *= np.diff(x, axis=-1)
    terms /= 2.0
    return np.asarray(terms.sum(axis=-1))


def _normalised_area(actual_area: Float, perfect: tuple[Float, Float]) -> tuple[Float, Float]:
    """(numerator, denominator): areas above the straight line to the perfect curve's end."""
    x_perfect, y_perfect = perfect
    baseline = _area(
        np.stack([np.zeros_like(x_perfect[..., -1]), x_perfect[..., -1]], axis=-1),
        np.stack([np.zeros_like(y_perfect[..., -1]), y_perfect[..., -1]], axis=-1),
    )
    return actual_area - baseline, _area(*perfect) - baseline


def _auc_scores(
    kind: str,
    y: Float,
    u: Float,
    t: NDArray[np.bool_],
    negative_effect: bool,
    order: NDArray[np.intp],
    ends: NDArray[np.intp] | None,
    weights: NDArray[Any] | None,
    cumulative: tuple[Int32, Int32, Int32, Int32] | None = None,
) -> Float:
    """The normalised areas; NaN where undefined. ``weights`` in row order (or None);
    ``cumulative``: the counts at each step end, when known (then ``order`` and ``ends`` are
    not read, but ``ends`` is None when every step is one row)."""
    if cumulative is None:
        sorted_w = None if weights is None else weights[:, order]
        n_all, n_t, y_t, y_c = _cumulative(y, t, order, ends, sorted_w)
        values = _curve_values(kind, n_all, n_t, y_t, y_c)
    else:
        values = _count_curve(kind, *cumulative)
        n_all, n_t, y_t, y_c = (a[-1:].astype(np.float64) for a in cumulative)
    if weights is None:
        n_all, n_t, y_t, y_c, values = (a[None, :] for a in (n_all, n_t, y_t, y_c, values))
    if cumulative is None:
        actual = _area_from_origin(n_all, values, weights is None and ends is None)
    else:
        x: NDArray[Any] = cumulative[0][None, :]  # int32: converted exactly in the products
        actual = _area_from_origin(x, values, ends is None)
    # the classes' weights are the totals at the last step (exact: counts of 0/1 outcomes)
    mass = {
        (1, True): y_t[:, -1],
        (0, True): n_t[:, -1] - y_t[:, -1],
        (1, False): y_c[:, -1],
        (0, False): n_all[:, -1] - n_t[:, -1] - y_c[:, -1],
    }
    perfect = _perfect_curve(kind, y, t, negative_effect, weights, mass)
    num, den = _normalised_area(actual, perfect)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    if kind == "qini" and not negative_effect:
        score = np.where(perfect[1][..., 1] < 0, np.nan, score)
    return np.asarray(score, dtype=np.float64)


def _score(kind: str, y_true: Any, uplift: Any, treatment: Any, negative_effect: bool) -> float:
    y, u, t = _inputs(y_true, uplift, treatment, binary=True)
    if kind == "qini" and not negative_effect:
        perfect_qini_curve(y, t, negative_effect=False)  # refuses r < 0 with the reason
    if y.size < _INT32_ROWS:
        n_all, n_t, y_t, y_c, unit_steps = _ranked_counts(y, t, u)
        unread = np.empty(0, dtype=np.intp)  # the order is not needed with the counts
        ends = None if unit_steps else unread
        counts = (n_all, n_t, y_t, y_c)
        value = float(_auc_scores(kind, y, u, t, negative_effect, unread, ends, None, counts)[0])
    else:  # pragma: no cover - 2**31 rows and more
        order = _descending(u, ties_in_reverse_row_order=False)
        ends = _step_ends(u[order])
        value = float(_auc_scores(kind, y, u, t, negative_effect, order, ends, None)[0])
    if math.isnan(value):
        raise ValidationError(
            f"the {kind} score is undefined here: the perfect ranking's curve encloses no area "
            "above the random line (e.g. no row responded, or the responses of both arms are "
            "equal at every step)"
        )
    return value


def uplift_auc_score(y_true: Any, uplift: Any, treatment: Any) -> float:
    """Normalised area under the uplift curve (AUUC), scikit-uplift's ``uplift_auc_score``.

    ``(A(model) - A(random)) / (A(perfect) - A(random))`` where ``A`` is the trapezoid area
    under the uplift curve and ``A(random)`` the area under the straight line from ``(0, 0)``
    to the curve's end.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 outcomes.
    uplift : array-like of shape (n,)
        Predicted uplift.
    treatment : array-like of shape (n,)
        Treatment flags (1/True treated, 0/False control).

    Returns
    -------
    float
        1 for the perfect ranking, about 0 for a random one.

    Raises
    ------
    ValidationError
        Bad input (see :func:`uplift_curve`), an outcome that is not 0/1, or a perfect curve
        with no area above the random line (the score would be a division by zero).
    """
    return _score("uplift", y_true, uplift, treatment, True)


def qini_auc_score(y_true: Any, uplift: Any, treatment: Any, negative_effect: bool = True) -> float:
    """Normalised area under the Qini curve (Qini coefficient), scikit-uplift's
    ``qini_auc_score``.

    ``(A(model) - A(random)) / (A(perfect) - A(random))`` with the Qini curve, and the perfect
    curve of :func:`perfect_qini_curve` (``negative_effect`` as there).

    Returns
    -------
    float
        1 for the perfect ranking, about 0 for a random one.

    Raises
    ------
    ValidationError
        As :func:`uplift_auc_score`; with ``negative_effect=False`` also when the treated
        group responded less than the control group overall.
    """
    if not isinstance(negative_effect, bool):
        raise ValidationError(f"negative_effect must be a bool, not {short_repr(negative_effect)}")
    return _score("qini", y_true, uplift, treatment, negative_effect)


# ---------------------------------------------------------------------- uplift at k
STRATEGIES = ("overall", "by_group")


def _top(scores: Float, m: int) -> NDArray[np.bool_]:
    """The first ``m`` rows of the ranking (score descending, equal scores in reverse row
    order), in O(n): a selection, not a sort."""
    n = scores.size
    chosen = np.zeros(n, dtype=np.bool_)
    if m <= 0:
        return chosen
    if m >= n:
        chosen[:] = True
        return chosen
    cut = np.partition(scores, n - m)[n - m]  # the m-th largest score
    chosen = np.asarray(scores > cut, dtype=np.bool_)
    ties = np.flatnonzero(scores == cut)
    need = m - int(chosen.sum())
    chosen[ties[ties.size - need :]] = True
    return chosen


def _check_k(k: Any, n: int) -> tuple[bool, float]:
    """(k is a share, k) after scikit-uplift's rules: a share in (0, 1) or a count in (0, n)."""
    if isinstance(k, bool | np.bool_):
        raise ValidationError(f"k must be a share in (0, 1) or a row count, not {k!r}")
    if isinstance(k, numbers.Integral):
        if not 0 < int(k) < n:
            raise ValidationError(f"k={k} rows must be positive and smaller than the {n} rows")
        return False, float(k)
    if isinstance(k, numbers.Real):
        if not 0.0 < float(k) < 1.0:
            raise ValidationError(f"k={k} must be a share in the open interval (0, 1)")
        return True, float(k)
    raise ValidationError(f"k must be a share in (0, 1) or a row count, not {short_repr(k)}")


def _check_strategy(strategy: Any) -> str:
    if strategy not in STRATEGIES:
        raise ValidationError(f"strategy must be one of {STRATEGIES}, not {short_repr(strategy)}")
    return str(strategy)


def uplift_at_k(
    y_true: Any, uplift: Any, treatment: Any, strategy: str = "overall", k: float = 0.3
) -> float:
    """Treated minus control response rate among the top ``k`` rows by predicted uplift.

    scikit-uplift's ``uplift_at_k``: rows are ranked by score, highest first, and rows with
    equal scores in reverse row order.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Outcomes (0/1 or real).
    uplift : array-like of shape (n,)
        Predicted uplift.
    treatment : array-like of shape (n,)
        Treatment flags.
    strategy : {"overall", "by_group"}, default "overall"
        ``"overall"``: the top ``int(n * k)`` rows of the whole ranking (or ``k`` rows), and
        the rates of each arm among them. ``"by_group"``: the top ``int(n_arm * k)`` (or ``k``)
        rows of each arm's own ranking.
    k : float in (0, 1) or int, default 0.3
        A share of the rows (rounded down) or a number of rows (``0 < k < n``).

    Returns
    -------
    float
        ``mean(y | treated, top) - mean(y | control, top)``.

    Raises
    ------
    ValidationError
        Bad input (see :func:`uplift_curve`), ``k`` out of range or larger than an arm
        (``"by_group"``), or an arm with no row among the top (the rate would be undefined).
    """
    strategy = _check_strategy(strategy)
    y, u, t = _inputs(y_true, uplift, treatment, binary=False)
    is_share, kk = _check_k(k, y.size)
    if strategy == "overall":
        size = int(y.size * kk) if is_share else int(kk)
        top = _top(u, size)
        top_t, top_c = top & t, top & ~t
        what = f"among the top {size} rows"
    else:
        idx_t, idx_c = np.flatnonzero(t), np.flatnonzero(~t)
        size_t = int(idx_t.size * kk) if is_share else int(kk)
        size_c = int(idx_c.size * kk) if is_share else int(kk)
        for arm, size, have in (("treated", size_t, idx_t.size), ("control", size_c, idx_c.size)):
            if size > have:
                raise ValidationError(f"k={k} is more than the {have} rows of the {arm} arm")
        top_t = np.zeros(y.size, dtype=np.bool_)
        top_c = np.zeros(y.size, dtype=np.bool_)
        top_t[idx_t[_top(u[idx_t], size_t)]] = True
        top_c[idx_c[_top(u[idx_c], size_c)]] = True
        what = f"among the top {size_t} treated and {size_c} control rows"
    n_t, n_c = int(top_t.sum()), int(top_c.sum())
    if n_t == 0 or n_c == 0:
        arm = "treated" if n_t == 0 else "control"
        raise ValidationError(
            f"uplift at k={k} is undefined: no {arm} row {what} (its response rate is 0/0)"
        )
    return float(y[top_t].sum() / n_t - y[top_c].sum() / n_c)


def _uplift_at_k_weighted(
    y: Float,
    u: Float,
    t: NDArray[np.bool_],
    order: NDArray[np.intp],
    weights: NDArray[np.int64],
    strategy: str,
    is_share: bool,
    k: float,
) -> Float:
    """uplift_at_k of each resample (a row of ``weights``, in row order): each row counts as
    many times as it was drawn; copies of a row are adjacent in the ranking."""
    w = weights[:, order].astype(np.float64)
    ys, ts = y[order], t[order].astype(np.float64)
    if strategy == "overall":
        total = w.sum(axis=1, keepdims=True)
        size = np.floor(total * k) if is_share else np.full_like(total, k)
        before = np.cumsum(w, axis=1) - w
        taken = np.clip(size - before, 0.0, w)
        taken_t, taken_c = taken * ts, taken * (1.0 - ts)
    else:
        parts = []
        for arm in (ts, 1.0 - ts):
            wa = w * arm
            total = wa.sum(axis=1, keepdims=True)
            size = np.floor(total * k) if is_share else np.full_like(total, k)
            size = np.where(size > total, np.nan, size)
            before = np.cumsum(wa, axis=1) - wa
            parts.append(np.clip(size - before, 0.0, wa))
        taken_t, taken_c = parts
    n_t, n_c = taken_t.sum(axis=1), taken_c.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (taken_t * ys).sum(axis=1) / n_t - (taken_c * ys).sum(axis=1) / n_c
    return np.asarray(np.where((n_t > 0) & (n_c > 0), out, np.nan), dtype=np.float64)


# ---------------------------------------------------------------------- bootstrap
@attrs.frozen(eq=False)
class MetricInterval:
    """A metric with a bootstrap percentile confidence interval (from :func:`bootstrap`).

    Attributes
    ----------
    metric : str
        The metric's name.
    estimate : float
        The metric on all the rows.
    low, high : float
        The percentile interval of the resampled values (NaN resamples left out).
    level : float
        The confidence level, such as 0.95.
    std_error : float
        Standard deviation of the resampled values.
    resamples : numpy.ndarray of float64
        The metric on each resample (NaN where it is undefined there).
    """

    metric: str
    estimate: float
    low: float
    high: float
    level: float
    std_error: float
    resamples: Float = attrs.field(repr=False)

    @property
    def undefined(self) -> int:
        """Resamples where the metric is undefined (e.g. no control row in the top k)."""
        return int(np.isnan(self.resamples).sum())

    def __str__(self) -> str:
        return (
            f"{self.metric} {self.estimate:.4g} ({self.level:.0%} CI {self.low:.4g} to "
            f"{self.high:.4g}; {self.resamples.size} resamples)"
        )


_FAST: dict[str, Callable[..., float]] = {
    "uplift_auc_score": uplift_auc_score,
    "qini_auc_score": qini_auc_score,
    "uplift_at_k": uplift_at_k,
}


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str):
        if metric not in _FAST:
            raise ValidationError(
                f"metric must be one of {sorted(_FAST)} or a callable, not {metric!r}"
            )
        return metric
    if not callable(metric):
        raise ValidationError(f"metric must be a metric function or name, not {short_repr(metric)}")
    return str(getattr(metric, "__name__", type(metric).__name__))


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if _is_int(seed) and int(seed) >= 0:
        return np.random.default_rng(int(seed))
    raise ValidationError(
        f"seed must be a non-negative integer or a numpy Generator, not {short_repr(seed)}"
    )


def _draws(
    rng: np.random.Generator, t: NDArray[np.bool_], rows: int, stratify: bool
) -> NDArray[np.int64]:
    """How often each row is drawn in each of ``rows`` resamples, shape (rows, n)."""
    n = t.size
    if stratify:
        idx_t, idx_c = np.flatnonzero(t), np.flatnonzero(~t)
        drawn = np.concatenate(
            [
                idx_t[rng.integers(0, idx_t.size, size=(rows, idx_t.size))],
                idx_c[rng.integers(0, idx_c.size, size=(rows, idx_c.size))],
            ],
            axis=1,
        )
    else:
        drawn = rng.integers(0, n, size=(rows, n))
    flat = (np.arange(rows)[:, None] * n + drawn).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def bootstrap(
    metric: Callable[..., float] | str,
    y_true: Any,
    uplift: Any,
    treatment: Any,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator = 0,
    stratify: bool = True,
    **kwargs: Any,
) -> MetricInterval:
    """A bootstrap percentile confidence interval for an uplift metric.

    Each resample draws rows with replacement (within each arm when ``stratify``, so both arms
    keep their sizes); its rows keep their original order (a row drawn twice appears twice,
    side by side). For :func:`uplift_auc_score`, :func:`qini_auc_score` and
    :func:`uplift_at_k` all resamples are computed at once from one sort (each resample is a
    row of weights over the ranking); any other callable ``metric(y_true, uplift, treatment,
    **kwargs)`` is called once per resample.

    Parameters
    ----------
    metric : callable or str
        The metric, or its name.
    y_true, uplift, treatment : array-like of shape (n,)
        As for the metric.
    n_resamples : int, default 1000
    level : float, default 0.95
        Confidence level of the interval.
    seed : int or numpy.random.Generator, default 0
        Randomness of the resampling (a fixed seed: the same interval every run).
    stratify : bool, default True
        Resample within the treated and the control arm separately.
    **kwargs
        Passed to the metric (``strategy=``, ``k=``, ``negative_effect=``).

    Returns
    -------
    MetricInterval
        Estimate, interval, standard error and every resampled value. Resamples where the
        metric is undefined are NaN and left out of the interval.

    Raises
    ------
    ValidationError
        Bad input or parameters, or a metric undefined on the full data.
    """
    name = _metric_name(metric)
    if not _is_int(n_resamples) or n_resamples < 2:
        raise ValidationError(f"n_resamples must be an integer >= 2, not {short_repr(n_resamples)}")
    if not _is_real(level) or not 0.0 < float(level) < 1.0:
        raise ValidationError(f"level must be in (0, 1), not {short_repr(level)}")
    if not isinstance(stratify, bool):
        raise ValidationError(f"stratify must be a bool, not {short_repr(stratify)}")
    rng = _rng(seed)
    fast = name in _FAST and (isinstance(metric, str) or metric is _FAST[name])
    function = _FAST[name] if fast else metric
    if isinstance(function, str):  # pragma: no cover - names are checked by _metric_name
        raise ValidationError(f"unknown metric {function!r}")
    estimate = float(function(y_true, uplift, treatment, **kwargs))  # validates everything
    y, u, t = _inputs(y_true, uplift, treatment, binary=False)
    n = y.size
    block = max(1, _BLOCK_CELLS // max(n, 1))
    values = np.empty(int(n_resamples), dtype=np.float64)
    order = _descending(u, ties_in_reverse_row_order=name == "uplift_at_k")
    ends = _step_ends(u[order])
    for start in range(0, int(n_resamples), block):
        rows = min(block, int(n_resamples) - start)
        weights = _draws(rng, t, rows, stratify)
        values[start : start + rows] = _resampled(
            name if fast else None, function, y, u, t, order, ends, weights, kwargs
        )
    finite = values[~np.isnan(values)]
    alpha = (1.0 - float(level)) / 2.0
    if finite.size:
        low, high = (float(q) for q in np.quantile(finite, [alpha, 1.0 - alpha]))
        spread = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
    else:
        low = high = spread = math.nan
    return MetricInterval(name, estimate, low, high, float(level), spread, values)


def _resampled(
    name: str | None,
    function: Callable[..., float],
    y: Float,
    u: Float,
    t: NDArray[np.bool_],
    order: NDArray[np.intp],
    ends: NDArray[np.intp] | None,
    weights: NDArray[np.int64],
    kwargs: dict[str, Any],
) -> Float:
    if name in ("uplift_auc_score", "qini_auc_score"):
        negative_effect = bool(kwargs.get("negative_effect", True))
        kind = "uplift" if name == "uplift_auc_score" else "qini"
        return _auc_scores(kind, y, u, t, negative_effect, order, ends, weights)
    if name == "uplift_at_k":
        strategy = _check_strategy(kwargs.get("strategy", "overall"))
        is_share, k = _check_k(kwargs.get("k", 0.3), y.size)
        return _uplift_at_k_weighted(y, u, t, order, weights, strategy, is_share, k)
    out = np.empty(weights.shape[0])
    for b, counts in enumerate(weights):  # one call per resample, not per customer
        rows = np.repeat(np.arange(y.size), counts.astype(np.int64))
        try:
            out[b] = float(function(y[rows], u[rows], t[rows], **kwargs))
        except ValidationError:
            out[b] = math.nan
    return out


# ---------------------------------------------------------------------- off-policy value
@attrs.frozen
class PolicyValue:
    """The estimated value of a policy from logged randomised data (:func:`off_policy_value`).

    Attributes
    ----------
    method : str
        ``"ips"``, ``"snips"`` or ``"dr"``.
    value : float
        Estimated mean reward per logged customer had the policy been followed (or its gain
        over the baseline policy).
    std_error : float
        Its standard error, from each row's influence on the estimate (the delta method for
        SNIPS): ``sqrt(sum(psi^2) / (n (n - 1)))``.
    low, high : float
        Normal confidence interval ``value ± z std_error``.
    level : float
        Its confidence level.
    n : int
        Logged customers.
    effective_sample_size : float
        ``(sum w)^2 / sum w^2`` of the target's importance weights: how many customers the
        estimate is really worth (far below ``n`` when the policy differs much from the
        logging).
    versus_baseline : bool
        True when ``value`` is the gain over a baseline policy (``baseline=``).
    """

    method: str
    value: float
    std_error: float
    low: float
    high: float
    level: float
    n: int
    effective_sample_size: float
    versus_baseline: bool = False

    def __str__(self) -> str:
        what = "gain over the baseline" if self.versus_baseline else "value"
        return (
            f"{self.method.upper()} {what} {self.value:.4g} ± {self.std_error:.2g} "
            f"({self.level:.0%} CI {self.low:.4g} to {self.high:.4g}; n={self.n}, "
            f"effective {self.effective_sample_size:.0f})"
        )


def _target(target: Any, n: int, name: str = "target") -> Float:
    if _is_real(target) or isinstance(target, bool | np.bool_):
        arr = np.full(n, float(target))
    else:
        arr = _floats(name, target, n, "reward")
    bad = np.flatnonzero((arr < 0.0) | (arr > 1.0) | np.isnan(arr))
    if bad.size:
        raise ValidationError(
            f"{name} must be a policy's probability of contacting each customer, in "
            f"[0, 1] (or a decision, 0/1), but row {int(bad[0])} is {arr[bad[0]]}"
        )
    return arr


def off_policy_value(
    reward: Any,
    treatment: Any,
    propensity: Any,
    target: Any,
    *,
    method: str = "dr",
    outcomes: tuple[Any, Any] | None = None,
    baseline: Any = None,
    level: float = 0.95,
) -> PolicyValue:
    """The mean reward a new contact policy would earn, estimated from logged contacts.

    The logs come from a randomised policy that contacted customer ``i`` with known
    probability ``p_i`` (``treatment`` says whether it did, ``reward`` what followed). The new
    policy contacts ``i`` with probability ``pi_i`` (``target``; 0/1 for a plan's decisions).
    The importance weight of a logged row is the probability of its logged action under the
    new policy over that under the logging one: ``w_i = pi_i / p_i`` if contacted,
    ``(1 - pi_i) / (1 - p_i)`` if not.

    - ``"ips"``: ``mean(w r)``; unbiased, high variance.
    - ``"snips"``: ``sum(w r) / sum(w)``; a small bias, much less variance when weights vary.
    - ``"dr"`` (doubly robust): ``mean(pi mu1 + (1 - pi) mu0 + w (r - mu_a))`` with an outcome
      model's predictions ``outcomes = (mu0, mu1)`` (e.g.
      :meth:`TLearner.predict_outcomes <privdomain.nudges.TLearner.predict_outcomes>`, fitted on
      other data); unbiased when the propensities are right, whatever the model, and with a
      smaller variance the better the model.

    **Positivity**: every logged customer must have had a chance of both arms (``0 < p < 1``);
    where the logging policy never (or always) contacted, the logs say nothing about the other
    action, and no estimator can recover it.

    Parameters
    ----------
    reward : array-like of shape (n,)
        The outcome of each logged customer (a purchase 0/1, revenue, margin net of cost).
    treatment : array-like of shape (n,)
        1/True where the logged policy contacted the customer.
    propensity : float or array-like of shape (n,)
        The logging policy's contact probabilities, strictly in (0, 1).
    target : float or array-like of shape (n,)
        The new policy's contact probability (or 0/1 decision) for each logged customer.
    method : {"dr", "ips", "snips"}
    outcomes : (array-like, array-like), optional
        ``(mu0, mu1)``, the predicted reward of each customer without and with contact;
        required by ``"dr"`` and only by it.
    baseline : float or array-like of shape (n,), optional
        Another policy (like ``target``): then the estimate is the *gain* of ``target`` over
        it, ``V(target) - V(baseline)``, with the standard error of the paired difference
        (both are estimated on the same customers; with ``"dr"`` the customers' own spread
        cancels and the error is smaller than the two separate ones combined).
        ``baseline=0.0`` is "contact nobody", so the gain is the incremental reward of the
        plan.
    level : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    PolicyValue

    Raises
    ------
    ValidationError
        Propensities of 0 or 1 (positivity) or contradicted by the logged treatment; lengths
        that differ; NaN or infinite values; treatment not 0/1; target outside [0, 1]; an
        unknown method; ``outcomes`` missing for ``"dr"`` or given to another method; fewer
        than two rows.
    """
    if method not in OFF_POLICY_METHODS:
        raise ValidationError(
            f"method must be one of {OFF_POLICY_METHODS}, not {short_repr(method)}"
        )
    if not _is_real(level) or not 0.0 < float(level) < 1.0:
        raise ValidationError(f"level must be in (0, 1), not {short_repr(level)}")
    r = _floats("reward", reward)
    n = r.size
    if n < 2:
        raise ValidationError(f"off-policy evaluation needs at least two logged rows, not {n}")
    a = _treatment(treatment, n, "reward")
    p, _ = _propensity(propensity, n)
    _check_randomised(a, p)
    pi = _target(target, n)
    mu0 = mu1 = r
    if method == "dr":
        if outcomes is None:
            raise ValidationError(
                "method='dr' needs outcomes=(mu0, mu1): each customer's predicted reward "
                "without and with contact (TLearner.predict_outcomes)"
            )
        if not isinstance(outcomes, tuple | list) or len(outcomes) != 2:
            raise ValidationError("outcomes must be a pair (mu0, mu1) of arrays")
        mu0 = _floats("outcomes[0] (mu0)", outcomes[0], n, "reward")
        mu1 = _floats("outcomes[1] (mu1)", outcomes[1], n, "reward")
    elif outcomes is not None:
        raise ValidationError(f"outcomes are used by method='dr' only, not {method!r}")
    mus = (mu0, mu1) if method == "dr" else None
    value, influence, w = _policy_estimate(method, r, a, p, pi, mus)
    if baseline is not None:
        base_value, base_influence, _ = _policy_estimate(
            method, r, a, p, _target(baseline, n, "baseline"), mus
        )
        value -= base_value
        influence = influence - base_influence
    se = math.sqrt(float((influence**2).sum()) / (n * (n - 1)))
    z = NormalDist().inv_cdf(0.5 + float(level) / 2.0)
    w2 = float((w * w).sum())
    ess = float(w.sum() ** 2 / w2) if w2 > 0 else 0.0
    return PolicyValue(
        method,
        value,
        se,
        value - z * se,
        value + z * se,
        float(level),
        n,
        ess,
        baseline is not None,
    )


def _policy_estimate(
    method: str,
    r: Float,
    a: NDArray[np.bool_],
    p: Float,
    pi: Float,
    outcomes: tuple[Float, Float] | None,
) -> tuple[float, Float, Float]:
    """(value, influence of each row, importance weights) of one target policy."""
    w = np.where(a, pi / p, (1.0 - pi) / (1.0 - p))
    if method == "ips":
        terms = w * r
        value = float(terms.mean())
        return value, terms - value, w
    if method == "snips":
        total = float(w.sum())
        if total <= 0:
            raise ValidationError(
                "the policy gives zero weight to every logged action: SNIPS is 0/0"
            )
        value = float((w * r).sum() / total)
        return value, w * (r - value) / (total / r.size), w
    if outcomes is None:  # pragma: no cover - checked by the caller
        raise ValidationError("method='dr' needs outcomes")
    mu0, mu1 = outcomes
    terms = pi * mu1 + (1.0 - pi) * mu0 + w * (r - np.where(a, mu1, mu0))
    value = float(terms.mean())
    return value, terms - value, w
