"""A customer of the pool: who they are, where they came from, how they may be reached."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from privdomain.domain._time import as_utc_datetime
from privdomain.domain.channels import Channel
from privdomain.domain.frozenmap import FrozenMap
from privdomain.errors import InvalidRecordError

__all__ = [
    "AttributeValue",
    "Customer",
    "check_id",
    "customer_id_converter",
    "optional_id_converter",
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
        raise InvalidRecordError(f"{what} must be a str, got {type(value).__name__}: {value!r}")
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


def _tags(value: Iterable[str] | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        raise InvalidRecordError("tags must be a collection of str, not a single str")
    return frozenset(check_id(t, what="tag") for t in value)


def _consent(value: Iterable[Channel | str] | None) -> frozenset[Channel]:
    if value is None:
        return frozenset()
    if isinstance(value, str | Channel):
        value = [value]
    try:
        channels = frozenset(Channel.parse(c) for c in value)
    except (ValueError, TypeError) as exc:
        raise InvalidRecordError(f"consent: {exc}") from None
    public = sorted(c.name for c in channels if not c.owned)
    if public:
        raise InvalidRecordError(f"consent is given for owned channels only, not {public}")
    return channels


def _attributes(value: Mapping[str, AttributeValue] | None) -> Mapping[str, AttributeValue]:
    if value is None:
        return FrozenMap({})
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
    try:
        return Channel.parse(value)
    except (ValueError, TypeError) as exc:
        raise InvalidRecordError(f"source: {exc}") from None


def _joined(value: dt.datetime) -> dt.datetime:
    return as_utc_datetime(value, what="joined_at")


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
        When the customer entered the pool; must be timezone-aware.
    source
        Which public platform, store or referral brought them (e.g. ``Channel.DOUYIN``).
    attributes
        Basic attributes (gender, age, region, vertical-specific facts), ``str`` keys to scalar
        values.
    tags
        The operator's tags (标签).
    consent
        Owned channels on which the customer agreed to be contacted.
    referrer_id
        The customer who brought this one (老带新), if any.
    agent_id
        The small-B agent (导购, store, partner) who serves this customer, if any.
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
    referrer_id: str | None = attrs.field(default=None, converter=optional_id_converter)
    agent_id: str | None = attrs.field(default=None, converter=optional_id_converter)

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
