"""Where customers come from and how the brand meets them: :class:`Channel`, :class:`TouchKind`."""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CONNECT_KINDS",
    "DISCONNECT_KINDS",
    "IS_MONETARY",
    "OWNED_CHANNELS",
    "OWNED_COLUMN",
    "Channel",
    "TouchKind",
    "kind_table",
]


class Channel(enum.Enum):
    """A place where a customer can be met.

    *Owned* channels (私域) are the brand's own and can be used again at low or no cost; *public*
    platforms (公域) are rented traffic and mostly appear as a customer's :attr:`Customer.source`.
    The integer values are stable codes used in the columnar event log: new members are only
    ever appended.
    """

    # owned channels (私域)
    WECHAT = 0
    """Personal WeChat account of the brand or a staff member (个人号)."""
    WECOM = 1
    """WeCom contact (企业微信)."""
    GROUP = 2
    """Customer group (社群)."""
    OFFICIAL_ACCOUNT = 3
    """Official account (公众号)."""
    MINI_PROGRAM = 4
    """Mini-program (小程序)."""
    VIDEO_CHANNEL = 5
    """WeChat video channel (视频号)."""
    APP = 6
    """The brand's own app."""
    SMS = 7
    """Text message."""
    EMAIL = 8
    """E-mail."""
    OFFLINE_STORE = 9
    """A physical store, its staff and shopping guides (门店/导购)."""
    # public platforms (公域)
    TAOBAO = 10
    """Taobao / Tmall (淘宝/天猫)."""
    JD = 11
    """JD.com (京东)."""
    PINDUODUO = 12
    """Pinduoduo (拼多多)."""
    MEITUAN = 13
    """Meituan (美团)."""
    DOUYIN = 14
    """Douyin (抖音)."""
    KUAISHOU = 15
    """Kuaishou (快手)."""
    XIAOHONGSHU = 16
    """Xiaohongshu (小红书)."""
    BILIBILI = 17
    """Bilibili (哔哩哔哩)."""
    ZHIHU = 18
    """Zhihu (知乎)."""
    WEIBO = 19
    """Weibo (微博)."""
    BAIDU = 20
    """Baidu search and feed (百度)."""
    OTHER_PUBLIC = 21
    """Any other public platform."""
    REFERRAL = 22
    """Brought in by an existing customer or agent (老带新), as a source only."""
    # owned channels added later (codes are only ever appended)
    WEB_SHOP = 23
    """The brand's own e-commerce site or web shop (官网/自营商城)."""
    PHONE = 24
    """Phone calls: hotline, customer service, telesales (电话)."""

    @property
    def owned(self) -> bool:
        """Whether the brand owns this channel (a private-domain channel)."""
        return self.value <= Channel.OFFLINE_STORE.value or self.value >= Channel.WEB_SHOP.value

    @property
    def public(self) -> bool:
        """Whether this is a rented public platform (公域)."""
        return Channel.TAOBAO.value <= self.value <= Channel.OTHER_PUBLIC.value

    @classmethod
    def parse(cls, value: Channel | str | int) -> Channel:
        """Read a channel from itself, its name (any case) or its integer code."""
        if isinstance(value, Channel):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown channel {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        raise TypeError(f"a channel is a Channel, its name or its code, not {value!r}")


class TouchKind(enum.Enum):
    """What happened at a touchpoint. Integer values are stable codes in the event log."""

    SENT = 0
    """The brand sent a message (outbound contact)."""
    OPENED = 1
    """The customer opened or read it."""
    CLICKED = 2
    """The customer clicked a link or card."""
    REPLIED = 3
    """The customer replied."""
    VISITED = 4
    """The customer visited a page, mini-program or store."""
    SHARED = 5
    """The customer shared content."""
    INVITED = 6
    """The customer invited someone (``related_customer_id`` is the invitee)."""
    POSTED = 7
    """The customer created content: a review, a post, a photo (UGC)."""
    PURCHASED = 8
    """The customer paid for an order (``amount`` required)."""
    REFUNDED = 9
    """Money went back to the customer (``amount`` required)."""
    JOINED = 10
    """The customer joined a group."""
    LEFT = 11
    """The customer left a group."""
    ADDED = 12
    """The customer added (or accepted) the brand's account."""
    DELETED = 13
    """The customer deleted or blocked the brand's account."""
    SUBSCRIBED = 14
    """The customer followed or subscribed."""
    UNSUBSCRIBED = 15
    """The customer unfollowed or opted out."""

    @property
    def monetary(self) -> bool:
        """Whether a touchpoint of this kind carries an amount."""
        return self in (TouchKind.PURCHASED, TouchKind.REFUNDED)

    @property
    def outbound(self) -> bool:
        """Whether the brand, not the customer, started this touch."""
        return self is TouchKind.SENT

    @classmethod
    def parse(cls, value: TouchKind | str | int) -> TouchKind:
        """Read a kind from itself, its name (any case) or its integer code."""
        if isinstance(value, TouchKind):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown touch kind {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        raise TypeError(f"a touch kind is a TouchKind, its name or its code, not {value!r}")


#: The owned channels, in the column order of the snapshot's per-channel matrices.
OWNED_CHANNELS: tuple[Channel, ...] = tuple(c for c in Channel if c.owned)


def _owned_column() -> NDArray[np.int64]:
    table = np.full(256, -1, dtype=np.int64)
    table[[c.value for c in OWNED_CHANNELS]] = np.arange(len(OWNED_CHANNELS))
    table.flags.writeable = False
    return table


#: ``OWNED_COLUMN[code]`` is the column of owned channel ``code`` in the snapshot's
#: per-channel matrices, -1 for a channel the brand does not own.
OWNED_COLUMN = _owned_column()
#: The consent bits that name owned channels (bit ``c.value`` for each owned channel ``c``).
CONSENT_BITS = sum(1 << c.value for c in OWNED_CHANNELS)

#: Kinds that (re)open a channel: after one of these the customer can be reached there again.
CONNECT_KINDS = frozenset({TouchKind.JOINED, TouchKind.ADDED, TouchKind.SUBSCRIBED})
#: Kinds that close a channel until the next connecting touch.
DISCONNECT_KINDS = frozenset({TouchKind.LEFT, TouchKind.DELETED, TouchKind.UNSUBSCRIBED})


def kind_table(kinds: frozenset[TouchKind]) -> NDArray[np.bool_]:
    """A lookup table over kind codes: ``table[code]`` says whether the kind is in ``kinds``.

    Indexing it with a ``uint8`` column of codes classifies millions of events in one pass.
    """
    table = np.zeros(256, dtype=bool)
    table[[k.value for k in kinds]] = True
    table.flags.writeable = False
    return table


#: Whether a kind code carries money (purchases and refunds).
IS_MONETARY = kind_table(frozenset({TouchKind.PURCHASED, TouchKind.REFUNDED}))
