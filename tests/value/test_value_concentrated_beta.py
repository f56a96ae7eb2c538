"""BG/NBD and MBG/NBD expectations stay finite when the dropout Beta is concentrated (a and b
in the thousands, as a fit on a tiny pool can give): the two forms of the hypergeometric term
(before and after Euler's transformation) agree where both can be computed, and the transformed
one is used where the other would overflow."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from privdomain.simulate import simulate_pool
from privdomain.value import LifetimeValue, beta_geo


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(150.0, 600.0),
    b_minus_1=st.floats(0.5, 2_000.0),
    r=st.floats(0.05, 3.0),
    x=st.integers(0, 60),
    z=st.floats(0.3, 0.95),
)
def test_both_forms_agree_where_both_are_finite(
    a: float, b_minus_1: float, r: float, x: int, z: float
) -> None:
    # where the first form is well past the switch but still far from overflowing
    assume(250 < (a - 1) * -np.log1p(-z) < 550)
    zs = np.array([z])
    bottom = np.array([b_minus_1 + x])
    top = b_minus_1 - r
    swapped = beta_geo.purchases_while_alive(a, top, bottom, zs)
    original = pytest.MonkeyPatch.context()
    with original as mp:
        mp.setattr(beta_geo, "_SWAP_GROWTH", np.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            direct = beta_geo.purchases_while_alive(a, top, bottom, zs)
    assert np.isfinite(swapped).all()
    np.testing.assert_allclose(swapped, direct, rtol=1e-9)


def test_a_fit_on_a_tiny_pool_gives_finite_expectations() -> None:
    """41 simulated customers, 14 buyers: the fitted Beta has a and b in the tens of
    thousands; every customer's expected purchases and CLV are finite, without a warning."""
    sim = simulate_pool(41, seed=1054)
    snapshot = sim.pool().snapshot(sim.as_of - dt.timedelta(days=227))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LifetimeValue().fit(snapshot)
        result = model.apply(snapshot)
    params = model.transaction_model_.params_
    assert params["a"] > 1_000
    assert params["b"] > 1_000
    columns = result.columns()
    assert np.isfinite(columns["expected_purchases"]).all()
    assert np.isfinite(columns["clv"]).all()
    assert (columns["expected_purchases"] >= 0).all()
