"""Commission rates per product category: the host names each order's category."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from referral_helpers import chain_pool, snap

from privdomain import Money
from privdomain.errors import InvalidRuleError, ValidationError
from privdomain.referral import CommissionRule, attribute

RULE = CommissionRule(
    ("0.05", "0.02"),
    agent_rate="0.03",
    category_rates={"baby": ("0.10", "0.05"), "food": "0.01"},
    category_agent_rates={"baby": "0.05"},
)


def _by(ledger: Any, order_id: str) -> list[tuple[str, int, int]]:
    m = ledger.order_id == order_id
    return sorted(
        zip(
            ledger.beneficiary_id[m].tolist(),
            ledger.tier[m].tolist(),
            ledger.amount_minor[m].tolist(),
            strict=True,
        )
    )


def test_rates_by_category_in_log_order_or_by_order_id() -> None:
    s = snap(chain_pool())
    assert s.order_log.order_id.tolist() == ["o1", "o2"]
    ledger = attribute(s, RULE, categories=["baby", "food"])
    # o1: 100.00 at 10% + 5% + agent 5% = 20.00: c 10.00, b 5.00, g1 5.00
    assert _by(ledger, "o1") == [("b", 2, 500), ("c", 1, 1000), ("g1", 1, 500)]
    # o2: 33.33 in food: tier 1 only (1%), no tier 2 rate: floor(33.33) = 33 fen to c
    assert _by(ledger, "o2") == [("c", 1, 33)]
    assert set(ledger.rule.tolist()) == {"commission[baby]", "commission[food]"}
    same = attribute(s, RULE, categories={"o1": "baby", "o2": "food", "elsewhere": "baby"})
    assert same.to_records() == ledger.to_records()


def test_orders_without_a_category_get_the_flat_rates() -> None:
    s = snap(chain_pool())
    flat = attribute(s, RULE)
    assert flat.total() == Money(1233)
    assert set(flat.rule.tolist()) == {"commission"}
    for given in ([None, None], ["", ""], {}, np.array([None, None], dtype=object)):
        assert attribute(s, RULE, categories=given).to_records() == flat.to_records()
    partly = attribute(s, RULE, categories={"o1": "baby"})
    assert partly.total("o2") == flat.total("o2")
    assert partly.total("o1") == Money(2000)


def test_a_category_without_agent_rate_keeps_the_flat_agent_rate() -> None:
    rule = CommissionRule("0.05", agent_rate="0.03", category_rates={"food": "0.01"})
    ledger = attribute(snap(chain_pool()), rule, categories=["food", None])
    assert _by(ledger, "o1") == [("c", 1, 100), ("g1", 1, 300)]
    assert rule.categories == (None, "food")
    assert rule.weight_table().tolist() == [[50_000, 0, 30_000], [10_000, 0, 30_000]]


@pytest.mark.parametrize(
    ("categories", "match"),
    [
        (["baby"], "one value per order"),
        (["baby", "toys"], "no rates for: \\['toys'\\]"),
        ({"o1": "toys"}, "no rates for"),
        ([1, 2], "str"),
        (np.array([1, 2]), "dtype"),
        ("baby", "single str"),
        ([["baby"], ["food"]], "one value per order"),
    ],
)
def test_bad_categories(categories: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        attribute(snap(chain_pool()), RULE, categories=categories)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"category_rates": {"baby": -0.1}}, "baby.*tier-1 rate"),
        ({"category_rates": {"baby": (0.1, 0.1, 0.1)}}, "DOMAIN §6"),
        ({"category_rates": {"baby": (0.7, 0.3)}, "agent_rate": 0.1}, "in category 'baby'"),
        ({"category_rates": {"baby": 0.5}, "category_agent_rates": {"baby": 0.6}}, "100%"),
        ({"category_rates": {"baby": 1.5}}, "baby"),
        ({"category_agent_rates": {"toys": -1}}, "toys"),
        ({"category_rates": {"": 0.1}}, "non-empty"),
        ({"category_rates": {3: 0.1}}, "non-empty str"),
        ({"category_rates": [("baby", 0.1)]}, "maps category"),
        ({"category_agent_rates": "baby"}, "maps category"),
    ],
)
def test_bad_category_rules(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidRuleError, match=match):
        CommissionRule(kwargs.pop("rates", 0.05), **kwargs)


def test_per_category_pool_never_exceeds_its_orders_rates() -> None:
    s = snap(chain_pool())
    rule = CommissionRule(0.0, category_rates={"all": ("0.6", "0.4")})
    ledger = attribute(s, rule, categories=["all", "all"])
    order_ids, totals = ledger.totals_by_order()
    assert dict(zip(order_ids.tolist(), totals.tolist(), strict=True)) == {
        "o1": 10000,
        "o2": 3333,
    }
