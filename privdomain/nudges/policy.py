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
        Prior chance that a customer in this period responds to a nudge that reaches them
        (the budget's expected-value score).
    only_in_major_sale : bool
        Contact only when the plan is made for a major sale.
    """

    message: str
    offer: str
    discounts: bool
    layer_offers: bool
    response_prior: float
    only_in_major_sale: bool = False

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.message, str) or not self.message:
            raise ValidationError(f"a period's message is a non-empty str, not {self.message!r}")
        _offer(self.offer, "period rule")
        if self.offer in DISCOUNT_OFFERS and not self.discounts:
            raise ValidationError(
                f"a period without discounts cannot lead with the discount offer {self.offer!r}"
            )
        _probability(self.response_prior, "response_prior")


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


_DEFAULT_PERIODS: dict[str, PeriodRule] = {
    "not_bought": PeriodRule("first_purchase", "bestseller", False, False, 0.02),
    "active": PeriodRule("value_content", "none", False, True, 0.10),
    "silent": PeriodRule("small_promotion", "small_coupon", True, True, 0.05),
    "sleeping": PeriodRule("win_back", "win_back_coupon", True, False, 0.03),
    "lost": PeriodRule("major_sale", "sale_invite", True, False, 0.01, only_in_major_sale=True),
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
        win-back offer; lost → only in a major sale; never bought → the bestseller.
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
        Customers whose expected-value score is not above this are skipped (``not_worth_it``).
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

    def __attrs_post_init__(self) -> None:
        for name in ("multi_point_bonus", "min_score"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v < 0:  # fmt: skip
                raise ValidationError(f"{name} must be a finite number >= 0, got {v!r}")
