"""The repurchase playbook as configuration: :class:`NudgePolicy` and its parts.

Every number is a default taken from the operators' playbook (see the domain page, §3–§6) and
every one can be changed; platform contact rules (for example WeCom mass messages reaching a
customer at most 4 times per calendar month) are caps in the policy, never constants.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import zoneinfo
from collections.abc import Mapping
from typing import Any

import attrs

from privdomain.domain.channels import OWNED_CHANNELS, Channel
from privdomain.errors import ValidationError

__all__ = [
    "BUSINESS_TYPES",
    "COUPONS",
    "DISCOUNT_OFFERS",
    "OFFERS",
    "PERIODS",
    "WINDOWS",
    "FrequencyCap",
    "NudgePolicy",
    "PeriodRule",
    "QuietHours",
]

#: Every offer a nudge can carry.
OFFERS: tuple[str, ...] = (
    "none",  # content only: product value, stories, how-to
    "bestseller",  # the bestseller, to trigger the first (or next) purchase
    "small_coupon",  # a small promotion
    "targeted_coupon",  # a coupon chosen for this customer
    "win_back_coupon",  # a bigger promotion to win the customer back
    "bundle",  # a bundle price
    "threshold_discount",  # 满减: money off above an order value
    "sale_invite",  # an invitation to a major sale
    "privilege",  # a member privilege or personal service, not a discount
    "referral_invite",  # an invitation to refer friends
    "member_day",  # a member-day reminder (members get it instead of a discount)
    "balance_reminder",  # a reminder of the stored value left (instead of a discount)
)
#: Offers that lead with a discount (recorded as ``promotion`` on the touchpoint).
DISCOUNT_OFFERS: frozenset[str] = frozenset(
    {"small_coupon", "targeted_coupon", "win_back_coupon", "bundle", "threshold_discount",
     "sale_invite"}
)  # fmt: skip
#: Offers that are coupons sent to one customer (never to coupon hunters).
COUPONS: frozenset[str] = frozenset({"small_coupon", "targeted_coupon", "win_back_coupon"})
#: The post-purchase periods a policy has a rule for (the lifecycle's post-purchase ladder).
PERIODS: tuple[str, ...] = ("not_bought", "active", "silent", "sleeping", "lost")
#: Calendar windows of frequency caps, in the customer's own time zone.
WINDOWS: tuple[str, ...] = ("day", "week", "month")
#: Business types with a preset policy (:meth:`NudgePolicy.for_business`).
BUSINESS_TYPES: tuple[str, ...] = ("high_end", "high_frequency")


def _offer(value: Any, what: str) -> str:
    if not isinstance(value, str) or value not in OFFERS:
        raise ValidationError(f"{what}: unknown offer {value!r}; offers are {list(OFFERS)}")
    return value


def _channel(value: Any, what: str) -> Channel:
    try:
        channel = Channel.parse(value)
    except (ValueError, TypeError):
        raise ValidationError(f"{what}: unknown channel {value!r}") from None
    if channel not in OWNED_CHANNELS:
        raise ValidationError(f"{what}: {channel.name} is not an owned channel")
    return channel


def _probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


@attrs.frozen
class PeriodRule:
    """What one post-purchase period gets.

    Attributes
    ----------
    message : str
        The message type (``"value_content"``, ``"small_promotion"``, ...).
    offer : str
        The period's own offer (one of :data:`OFFERS`).
    discounts : bool
        Whether a discount-led offer may be sent in this period.
    layer_offers : bool
        Whether the relationship stage's offer (bestseller, targeted coupon, 满减) replaces the
        period's own offer.
    response_prior : float
        Prior chance that a customer in this period buys after a nudge that reaches them
        (responses, incremental or not: the channel choice's prior).
    only_in_major_sale : bool
        Contact only when the plan is made for a major sale.
    lift_prior : float or None
        Prior chance that a nudge that reaches a customer in this period makes them buy when
        they would not have bought without it (the incremental response, at most
        ``response_prior``); the plan's score, and so a budget, ranks by it. ``None``: the
        ``response_prior`` (every response counted as caused by the nudge).
    """

    message: str
    offer: str
    discounts: bool
    layer_offers: bool
    response_prior: float
    only_in_major_sale: bool = False
    lift_prior: float | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.message, str) or not self.message:
            raise ValidationError(f"a period's message is a non-empty str, not {self.message!r}")
        _offer(self.offer, "period rule")
        if self.offer in DISCOUNT_OFFERS and not self.discounts:
            raise ValidationError(
                f"a period without discounts cannot lead with the discount offer {self.offer!r}"
            )
        _probability(self.response_prior, "response_prior")
        if self.lift_prior is not None:
            _probability(self.lift_prior, "lift_prior")
            if self.lift_prior > self.response_prior:
                raise ValidationError(
                    f"lift_prior ({self.lift_prior!r}) cannot exceed response_prior "
                    f"({self.response_prior!r}): a nudge causes at most the responses it gets"
                )

    @property
    def incremental_share(self) -> float:
        """The share of responses the nudge causes, ``lift_prior / response_prior`` (1 without a
        lift prior; 0 when the response prior is 0)."""
        if self.lift_prior is None:
            return 1.0
        return self.lift_prior / self.response_prior if self.response_prior > 0 else 0.0


@attrs.frozen
class FrequencyCap:
    """At most ``limit`` messages per customer in each calendar ``window`` (``"day"``,
    ``"week"`` from Monday, ``"month"``) of the customer's own time zone, on ``channel`` or, when
    ``channel`` is ``None``, on all owned channels together. History and the plan both count.
    """

    window: str
    limit: int
    channel: Channel | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValidationError(f"a cap's window is one of {list(WINDOWS)}, not {self.window!r}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValidationError(
                f"a cap's limit is an int >= 1, got {self.limit!r} (to stop a channel, leave it "
                "out of the channel order)"
            )
        if self.channel is not None:
            object.__setattr__(self, "channel", _channel(self.channel, "cap"))


@attrs.frozen
class QuietHours:
    """A daily window of local wall-clock time, ``start`` inclusive to ``end`` exclusive, in
    which no message is sent; it may run over midnight (``22:00``–``08:00``). A nudge that
    falls in it is sent at ``end``."""

    start: dt.time
    end: dt.time

    def __attrs_post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, dt.time) or value.tzinfo is not None:
                raise ValidationError(
                    f"quiet hours' {name} is a naive datetime.time, not {value!r}"
                )
        if self.start == self.end:
            raise ValidationError("quiet hours need start != end (an empty or all-day window)")

    def minutes(self) -> list[tuple[int, int]]:
        """The window as minute-of-day intervals ``[a, b)`` (two when it runs over midnight)."""
        a = self.start.hour * 60 + self.start.minute
        b = self.end.hour * 60 + self.end.minute
        if self.start.second or self.start.microsecond or self.end.second or self.end.microsecond:
            raise ValidationError("quiet hours are given to the minute")
        if a == b:
            raise ValidationError("quiet hours need start != end")
        return [(a, b)] if a < b else [(a, 24 * 60), (0, b)]


# Response and lift priors per period. The playbook [003] orders the periods by what a nudge
# changes: an active customer keeps their own rhythm and buys anyway (content, no discount: most
# responses would have happened without the message); a silent customer is the one a small
# promotion moves; a sleeping one needs a bigger win-back and answers less often, but an answer
# is mostly won back; a lost customer is reached only in a major sale. A never-bought customer
# has no rhythm yet, so a first purchase after the bestseller is mostly the nudge's. Hence the
# shares of responses caused by the nudge: active 0.1, silent 0.6, sleeping 0.8, never bought
# 0.75, lost 0.5, giving lift priors silent 0.03 > sleeping 0.024 > never bought 0.015 > active
# 0.01 > lost 0.005.
_DEFAULT_PERIODS: dict[str, PeriodRule] = {
    "not_bought": PeriodRule("first_purchase", "bestseller", False, False, 0.02, lift_prior=0.015),
    "active": PeriodRule("value_content", "none", False, True, 0.10, lift_prior=0.01),
    "silent": PeriodRule("small_promotion", "small_coupon", True, True, 0.05, lift_prior=0.03),
    "sleeping": PeriodRule("win_back", "win_back_coupon", True, False, 0.03, lift_prior=0.024),
    "lost": PeriodRule(
        "major_sale", "sale_invite", True, False, 0.01, only_in_major_sale=True, lift_prior=0.005
    ),
}
_DEFAULT_ORDER = (
    Channel.WECOM, Channel.WECHAT, Channel.GROUP, Channel.MINI_PROGRAM, Channel.APP,
    Channel.OFFICIAL_ACCOUNT, Channel.VIDEO_CHANNEL, Channel.EMAIL, Channel.SMS,
)  # fmt: skip
_DEFAULT_REACH = {
    Channel.WECOM: 0.40, Channel.WECHAT: 0.40, Channel.GROUP: 0.20, Channel.MINI_PROGRAM: 0.10,
    Channel.APP: 0.05, Channel.OFFICIAL_ACCOUNT: 0.05, Channel.VIDEO_CHANNEL: 0.05,
    Channel.EMAIL: 0.02, Channel.SMS: 0.0003,
}  # fmt: skip
#: Face value of each discount-led offer in minor units of the pool's currency (fen for CNY):
#: what one sent offer takes from a discount budget, and its cost in the expected value.
_DEFAULT_OFFER_COST = {
    "small_coupon": 500, "targeted_coupon": 1_000, "win_back_coupon": 2_000, "bundle": 1_000,
    "threshold_discount": 2_000, "sale_invite": 0,
}  # fmt: skip
_DEFAULT_CAPS = (
    FrequencyCap("day", 1),
    FrequencyCap("week", 2),
    FrequencyCap("month", 6),
    FrequencyCap("month", 4, Channel.WECOM),  # platform rule: WeCom mass messages
    FrequencyCap("month", 2, Channel.SMS),
)


def _periods(value: Any) -> dict[str, PeriodRule]:
    if not isinstance(value, Mapping):
        raise ValidationError("periods is a mapping of period name to PeriodRule")
    out = dict(_DEFAULT_PERIODS)
    for name, rule in value.items():
        if name not in PERIODS:
            raise ValidationError(f"unknown period {name!r}; periods are {list(PERIODS)}")
        if not isinstance(rule, PeriodRule):
            raise ValidationError(f"the rule of {name!r} is a PeriodRule, not {rule!r}")
        out[name] = rule
    return out


def _offers_by_name(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError("offers are a mapping of name to offer")
    return {str(k): _offer(v, f"offer of {k!r}") for k, v in value.items()}


def _order(value: Any) -> tuple[Channel, ...]:
    out = tuple(_channel(c, "channel order") for c in value)
    if not out:
        raise ValidationError("the channel order needs at least one channel")
    if len(set(out)) != len(out):
        raise ValidationError("the channel order names a channel twice")
    return out


def _reach(value: Any) -> dict[Channel, float]:
    if not isinstance(value, Mapping):
        raise ValidationError("reach is a mapping of channel to a probability")
    out = dict(_DEFAULT_REACH)
    for k, v in value.items():
        out[_channel(k, "reach")] = _probability(v, f"reach of {k}")
    return out


def _offer_cost(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValidationError("offer_cost is a mapping of offer to minor units")
    out = dict(_DEFAULT_OFFER_COST)
    for k, v in value.items():
        offer = _offer(k, "offer_cost")
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValidationError(f"the cost of {offer!r} is an int >= 0 (minor units), not {v!r}")
        if v and offer not in DISCOUNT_OFFERS:
            raise ValidationError(f"{offer!r} is not a discount: it has no face value")
        out[offer] = v
    return out


def _optional_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(f"a tag or attribute name is a non-empty str or None, not {value!r}")
    return value


def _caps(value: Any) -> tuple[FrequencyCap, ...]:
    caps = tuple(value)
    if not all(isinstance(c, FrequencyCap) for c in caps):
        raise ValidationError("caps are FrequencyCap objects")
    return caps


def _quiet(value: Any) -> tuple[QuietHours, ...]:
    if isinstance(value, QuietHours):
        value = (value,)
    windows = tuple(value)
    if not all(isinstance(q, QuietHours) for q in windows):
        raise ValidationError("quiet hours are QuietHours objects")
    spans = sorted(span for q in windows for span in q.minutes())
    for (_, b), (c, _) in itertools.pairwise(spans):
        if c <= b:
            raise ValidationError(
                "quiet hours overlap or touch: give them as one window (start to end)"
            )
    return windows


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(x) for x in value)


def _zone(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"a time zone is an IANA name, not {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {value!r}") from None
    return value


@attrs.frozen
class NudgePolicy:
    """Who gets which nudge, on which channel, how often and when (the playbook, configured).

    Attributes
    ----------
    periods : dict of str to PeriodRule
        One rule per post-purchase period (:data:`PERIODS`); entries given replace the defaults:
        active → value content, no discount; silent → small promotions; sleeping → a bigger
        win-back offer; lost → only in a major sale; never bought → the bestseller. Their
        ``lift_prior`` (the incremental response) orders a budget: silent 0.03, sleeping 0.024,
        never bought 0.015, active 0.01, lost 0.005 (response priors 0.05, 0.03, 0.02, 0.10,
        0.01).
    stage_offers : dict of str to str
        The offer for each relationship stage where the period allows it: new → the bestseller,
        growth → a targeted coupon, mature → a threshold discount (满减).
    layer_offers : dict of str to str
        Offers for members of layers (segment names of the ``layers`` given to the plan) that
        replace every other offer: super users get privileges, KOCs referral invitations.
    no_coupon_layers : tuple of str
        Layers (coupon hunters) that never get a coupon sent to them: content instead.
    channel_order : tuple of Channel
        Owned channels in order of preference; only these are used.
    reach : dict of Channel to float
        Chance that a message on each channel is seen (SMS ~0.03%, WeChat-style ~40%).
    multi_point_bonus : float
        Extra weight per additional reachable channel in the score (multi-point retention).
    caps : tuple of FrequencyCap
        Frequency caps, per channel and overall, including platform rules.
    quiet_hours : tuple of QuietHours
        Windows of local time with no messages (default 21:00–09:00); they may not overlap.
    time_zone : str or None
        IANA zone for customers without their own (``None``: the snapshot's business offset).
    min_score : float
        Customers whose score (expected incremental response) is not above this are skipped
        (``not_worth_it``).
    response_days : float
        A message got a response when the customer ordered within this many days after it
        (the customer's response history per channel).
    channel_prior_strength : float
        Weight, in messages, of the reach prior against a customer's own response history on a
        channel (empirical-Bayes shrinkage: with few messages the prior decides).
    fatigue_floor : float
        Customers whose fatigue multiplier (with a fatigue model) is below this are skipped
        (``fatigued``).
    member_tag : str or None
        Profile tag of members: they get ``"member_day"`` instead of a discount-led offer.
    balance_attribute : str or None
        Numeric profile attribute of the stored value (balance); customers with a positive
        balance get ``"balance_reminder"`` instead of a discount-led offer.
    offer_cost : dict of str to int
        Face value of each discount-led offer in minor units (what a discount budget counts).
    """

    periods: dict[str, PeriodRule] = attrs.field(factory=dict, converter=_periods)
    stage_offers: dict[str, str] = attrs.field(
        factory=lambda: {"new": "bestseller", "growth": "targeted_coupon",
                         "mature": "threshold_discount"},
        converter=_offers_by_name,
    )  # fmt: skip
    layer_offers: dict[str, str] = attrs.field(
        factory=lambda: {"Super user": "privilege", "KOC": "referral_invite"},
        converter=_offers_by_name,
    )
    no_coupon_layers: tuple[str, ...] = attrs.field(default=("Coupon hunter",), converter=_names)
    channel_order: tuple[Channel, ...] = attrs.field(default=_DEFAULT_ORDER, converter=_order)
    reach: dict[Channel, float] = attrs.field(factory=dict, converter=_reach)
    multi_point_bonus: float = 0.1
    caps: tuple[FrequencyCap, ...] = attrs.field(default=_DEFAULT_CAPS, converter=_caps)
    quiet_hours: tuple[QuietHours, ...] = attrs.field(
        default=(QuietHours(dt.time(21), dt.time(9)),), converter=_quiet
    )
    time_zone: str | None = attrs.field(default=None, converter=_zone)
    min_score: float = 0.0
    response_days: float = 7.0
    channel_prior_strength: float = 20.0
    fatigue_floor: float = 0.5
    member_tag: str | None = attrs.field(default="member", converter=_optional_name)
    balance_attribute: str | None = attrs.field(default="stored_value", converter=_optional_name)
    offer_cost: dict[str, int] = attrs.field(factory=dict, converter=_offer_cost)

    def __attrs_post_init__(self) -> None:
        _probability(self.fatigue_floor, "fatigue_floor")
        for name in ("response_days", "channel_prior_strength"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v <= 0:  # fmt: skip
                raise ValidationError(f"{name} must be a finite number > 0, got {v!r}")
        for name in ("multi_point_bonus", "min_score"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v < 0:  # fmt: skip
                raise ValidationError(f"{name} must be a finite number >= 0, got {v!r}")

    @classmethod
    def for_business(cls, kind: str, **changes: Any) -> NudgePolicy:
        """The preset policy of a business type, with ``changes`` applied on top.

        - ``"high_end"`` (high price, low frequency; "user thinking"): fewer and more personal
          contacts — at most one message a week and two a month, on personal channels first
          (WeCom, personal WeChat), privileges instead of coupons for silent, growth and mature
          customers, and a stricter fatigue floor.
        - ``"high_frequency"`` (low price, frequent purchases; "traffic thinking"): more frequent
          perks — up to three messages a week and ten a month (platform rules kept), groups and
          the mini-program first, a small perk even for active customers (a lift prior of 0.02:
          a perk moves a frequent buyer more than content does).

        Both presets keep the default lift priors of the other periods.

        Raises
        ------
        ValidationError
            An unknown business type, or a change that is not a valid policy field.
        """
        if kind == "high_end":
            preset: dict[str, Any] = {
                "periods": {
                    "silent": PeriodRule(
                        "personal_care", "privilege", False, True, 0.05, lift_prior=0.03
                    ),
                    "sleeping": PeriodRule(
                        "win_back", "privilege", False, False, 0.03, lift_prior=0.024
                    ),
                },
                "stage_offers": {"new": "bestseller", "growth": "privilege",
                                 "mature": "privilege"},
                "channel_order": (
                    Channel.WECOM, Channel.WECHAT, Channel.APP, Channel.MINI_PROGRAM,
                    Channel.OFFICIAL_ACCOUNT, Channel.EMAIL, Channel.SMS,
                ),
                "caps": (
                    FrequencyCap("day", 1), FrequencyCap("week", 1), FrequencyCap("month", 2),
                    FrequencyCap("month", 2, Channel.SMS),
                ),
                "fatigue_floor": 0.7,
                "multi_point_bonus": 0.2,
            }  # fmt: skip
        elif kind == "high_frequency":
            preset = {
                "periods": {
                    "active": PeriodRule(
                        "perk", "small_coupon", True, True, 0.10, lift_prior=0.02
                    ),
                },
                "channel_order": (
                    Channel.GROUP, Channel.MINI_PROGRAM, Channel.WECOM, Channel.WECHAT,
                    Channel.APP, Channel.OFFICIAL_ACCOUNT, Channel.VIDEO_CHANNEL, Channel.SMS,
                ),
                "caps": (
                    FrequencyCap("day", 1), FrequencyCap("week", 3), FrequencyCap("month", 10),
                    FrequencyCap("month", 4, Channel.WECOM), FrequencyCap("month", 2, Channel.SMS),
                ),
                "fatigue_floor": 0.3,
            }  # fmt: skip
        else:
            raise ValidationError(
                f"unknown business type {kind!r}; business types are {list(BUSINESS_TYPES)}"
            )
        unknown = sorted(set(changes) - {f.name for f in attrs.fields(cls)})
        if unknown:
            raise ValidationError(f"unknown policy fields {unknown}")
        return cls(**{**preset, **changes})
