"""A customer of the pool: who they are, where they came from, how they may be reached."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs
import numpy as np

from privdomain.domain._time import as_utc_datetime, check_time_zone
from privdomain.domain.channels import Channel
from privdomain.domain.frozenmap import FrozenMap
from privdomain.errors import InvalidRecordError, ValidationError, short_repr

__all__ = [
    "AttributeValue",
    "Customer",
    "check_id",
    "check_instant",
    "customer_id_converter",
    "optional_id_converter",
    "parse_channel",
    "tenant_converter",
]

#: What a customer attribute may hold (basic attributes: gender, age, region, ...).
AttributeValue = str | int | float | bool | None

MAX_ID_LENGTH = 256


def check_id(value: object, *, what: str = "id") -> str:
    """Validate an identifier: a non-empty ``str`` of at most 256 characters, no control chars.

    Any Unicode is welcome (Chinese names, emoji); only what would corrupt logs or storage keys
    is refused.
    """
    if not isinstance(value, str):
        raise InvalidRecordError(
            f"{what} must be a str, got {type(value).__name__}: {short_repr(value)}"
        )
    if not value or not value.strip():
        raise InvalidRecordError(f"{what} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidRecordError(f"{what} is {len(value)} characters long; at most {MAX_ID_LENGTH}")
    if not value.isprintable():
        raise InvalidRecordError(f"{what} {value!r} contains control characters")
    return value


def customer_id_converter(value: object) -> str:
    """attrs converter: a valid customer id."""
    return check_id(value, what="customer id")


def tenant_converter(value: object) -> str:
    """attrs converter: a valid tenant id."""
    return check_id(value, what="tenant")


def optional_id_converter(value: object) -> str | None:
    """attrs converter: a valid id or ``None``."""
    return None if value is None else check_id(value, what="id")


def _referrer_id(value: object) -> str | None:
    return None if value is None else check_id(value, what="referrer_id")


def _agent_id(value: object) -> str | None:
    return None if value is None else check_id(value, what="agent_id")


def _store_id(value: object) -> str | None:
    return None if value is None else check_id(value, what="store_id")


def check_instant(value: object, *, what: str) -> dt.datetime:
    """An aware ``datetime`` or a ``datetime64`` as an aware UTC ``datetime`` in range.

    Anything else raises :class:`~privdomain.errors.ValidationError` naming ``what``; naive
    datetimes raise :class:`~privdomain.errors.NaiveDatetimeError`.
    """
    if not isinstance(value, dt.datetime | np.datetime64):
        raise InvalidRecordError(
            f"{what} must be a timezone-aware datetime or a datetime64, "
            f"got {type(value).__name__}: {short_repr(value)}"
        )
    return as_utc_datetime(value, what=what)


def parse_channel(value: object, *, what: str) -> Channel:
    """A :class:`Channel` from itself, its name (any case) or its code, else
    :class:`~privdomain.errors.InvalidRecordError` naming ``what`` and the valid names."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, Channel):
        return value
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        try:
            return Channel.parse(value)
        except (ValueError, TypeError):
            pass
    raise InvalidRecordError(
        f"{what}: unknown channel {short_repr(value)}; a channel is a Channel, one of the names "
        f"{', '.join(c.name.lower() for c in Channel)} (any case), or its code "
        f"0-{len(Channel) - 1}"
    )


def _tags(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        raise InvalidRecordError("tags must be a collection of str, not a single str")
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise InvalidRecordError(
            f"tags must be a collection of str, got {type(value).__name__}: {short_repr(value)}"
        )
    return frozenset(check_id(t, what="tag") for t in value)


def _consent(value: object) -> frozenset[Channel]:
    if value is None:
        return frozenset()
    if isinstance(value, str | Channel):
        value = [value]
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise InvalidRecordError(
            "consent must be a collection of owned channels, "
            f"got {type(value).__name__}: {short_repr(value)}"
        )
    channels = frozenset(parse_channel(c, what="consent") for c in value)
    public = sorted(c.name for c in channels if not c.owned)
    if public:
        raise InvalidRecordError(f"consent is given for owned channels only, not {public}")
    return channels


def _attributes(value: Mapping[str, AttributeValue] | None) -> Mapping[str, AttributeValue]:
    if value is None:
        return FrozenMap({})
    if not isinstance(value, Mapping):
        raise InvalidRecordError(
            "attributes must be a mapping of str to str, int, float, bool or None, "
            f"got {type(value).__name__}: {short_repr(value)}"
        )
    out: dict[str, AttributeValue] = {}
    for key, item in dict(value).items():
        check_id(key, what="attribute name")
        if item is None:  # None means unset: it is not kept
            continue
        if item is not None and not isinstance(item, str | int | float | bool):
            raise InvalidRecordError(
                f"attribute {key!r} must be str, int, float, bool or None, "
                f"got {type(item).__name__}"
            )
        out[key] = item
    return FrozenMap(out)


def _mapping_repr(value: Mapping[str, AttributeValue]) -> str:
    return repr(dict(value))


def _source(value: Channel | str) -> Channel:
    return parse_channel(value, what="source")


def _updated(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else as_utc_datetime(value, what="updated_at")


def _time_zone(value: object) -> str | None:
    if value is None:
        return None
    try:
        return check_time_zone(value)
    except ValidationError as exc:
        raise InvalidRecordError(str(exc)) from None


def _joined(value: dt.datetime) -> dt.datetime:
    return check_instant(value, what="joined_at")


@attrs.frozen(eq=False)
class Customer:
    """A customer in a brand's pool (an *entity*: equal when ``id`` and ``tenant`` are equal).

    Parameters
    ----------
    id
        The host's identifier of the customer (any Unicode, at most 256 characters).
    tenant
        The brand (or tenant of a multi-brand host) whose pool this customer belongs to.
    joined_at
        When the customer entered the pool: a timezone-aware ``datetime`` or a ``datetime64``
        (UTC), in ``[1900-01-01, 2200-01-01)`` UTC.
    source
        Which public platform, store or referral brought them: a :class:`Channel`, its name
        (any case) or its code (e.g. ``Channel.DOUYIN`` or ``"douyin"``).
    attributes
        Basic attributes (gender, age, region, vertical-specific facts): a mapping of ``str``
        keys to ``str``, ``int``, ``float`` or ``bool`` values (``None`` means unset).
    tags
        The operator's tags (标签): a collection of ``str`` (not a single ``str``).
    consent
        Owned channels on which the customer agreed to be contacted (one channel, or a
        collection of them).
    referrer_id
        The customer who brought this one (老带新), if any.
    agent_id
        The small-B agent (导购, store staff, consultant, partner) bound to this customer, if any.
    store_id
        The store this customer is bound to, if any.
    time_zone
        The customer's own IANA time zone (``"America/Los_Angeles"``), if it differs from the
        pool's business time zone: calendar windows and quiet hours are the customer's.
    updated_at
        When this version of the profile (attributes, tags, consent, agent, store) took effect.
        A customer's first record takes effect when they join unless ``updated_at`` says later;
        a later record that changes the profile needs it, since a pool never guesses when
        something happened (see :meth:`privdomain.Pool.ingest`).

    Raises
    ------
    InvalidRecordError
        If a field has the wrong type or a value the domain does not allow; the message names
        the field. (:class:`~privdomain.errors.NaiveDatetimeError` for a naive ``joined_at``.)
    """

    id: str = attrs.field(converter=customer_id_converter)
    tenant: str = attrs.field(converter=tenant_converter)
    joined_at: dt.datetime = attrs.field(converter=_joined)
    source: Channel = attrs.field(default=Channel.OTHER_PUBLIC, converter=_source)
    attributes: Mapping[str, AttributeValue] = attrs.field(
        factory=dict, converter=_attributes, repr=_mapping_repr
    )
    tags: frozenset[str] = attrs.field(factory=frozenset, converter=_tags)
    consent: frozenset[Channel] = attrs.field(factory=frozenset, converter=_consent)
    referrer_id: str | None = attrs.field(default=None, converter=_referrer_id)
    agent_id: str | None = attrs.field(default=None, converter=_agent_id)
    store_id: str | None = attrs.field(default=None, converter=_store_id)
    time_zone: str | None = attrs.field(default=None, converter=_time_zone)
    updated_at: dt.datetime | None = attrs.field(default=None, converter=_updated)

    def __attrs_post_init__(self) -> None:
        if self.referrer_id == self.id:
            raise InvalidRecordError(f"customer {self.id!r} cannot be their own referrer")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Customer):
            return NotImplemented
        return (self.tenant, self.id) == (other.tenant, other.id)

    def __hash__(self) -> int:
        return hash((Customer, self.tenant, self.id))

    def same_data(self, other: Customer) -> bool:
        """Whether every field, not only the identity, is equal."""
        return all(getattr(self, f.name) == getattr(other, f.name) for f in attrs.fields(Customer))
