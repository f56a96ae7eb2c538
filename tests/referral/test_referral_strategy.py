"""ReferralAttribution follows the strategy contract."""

from __future__ import annotations

import pytest
from referral_helpers import chain_pool, snap

from privdomain.errors import ValidationError
from privdomain.referral import (
    BindingPolicy,
    CommissionRule,
    ReferralAttribution,
    ReferralStrategy,
    attribute,
)
from privdomain.strategy import NoSummary, SummarizingStrategy, fit_partitioned


def test_contract() -> None:
    s = snap(chain_pool())
    model = ReferralAttribution(CommissionRule(0.1), BindingPolicy("last_touch"))
    assert isinstance(model, ReferralStrategy)
    assert isinstance(model, SummarizingStrategy)
    assert model.fit(s) is model
    assert isinstance(model.summarize(s), NoSummary)
    assert fit_partitioned(model, [s, s]) is model
    bindings = model.apply(s)
    assert len(bindings) == len(s)
    ledger = model.attribute(s)
    expected = attribute(s, CommissionRule(0.1), bindings=BindingPolicy("last_touch"))
    assert ledger.to_records() == expected.to_records()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rule": 0.1},
        {"rule": CommissionRule(0.1), "policy": "permanent"},
        {"rule": CommissionRule(0.1), "refund_window_days": -1},
    ],
)
def test_bad_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReferralAttribution(**kwargs)  # type: ignore[arg-type]
