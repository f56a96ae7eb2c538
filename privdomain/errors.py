"""The one exception hierarchy of privdomain.

Every error the library raises on purpose derives from :class:`PrivdomainError`, so a host can
catch everything with one ``except`` clause, or pick the precise class. Each class also derives
from the closest built-in exception (``ValueError``, ``TypeError``, ``KeyError``) so that code
written against the standard library keeps working.

Records that fail validation *inside a batch* are not raised: they come back as rejections in
an :class:`~privdomain.IngestReport`, each with a :class:`~privdomain.RejectReason`. Errors are
for calls that cannot proceed at all.
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ConvergenceError",
    "CurrencyMismatchError",
    "EmptyPoolError",
    "InvalidMoneyError",
    "InvalidRecordError",
    "InvalidRuleError",
    "NaiveDatetimeError",
    "NotFittedError",
    "PrivdomainError",
    "UnknownCustomerError",
    "UnknownFeatureError",
    "ValidationError",
]


class PrivdomainError(Exception):
    """Base class of every error raised by privdomain."""


class ValidationError(PrivdomainError, ValueError):
    """An argument or record does not have the form the library requires."""


class InvalidRecordError(ValidationError):
    """A domain object (customer, touchpoint, ...) was built from invalid data."""


class NaiveDatetimeError(ValidationError):
    """A ``datetime`` without a time zone was given where an instant is needed.

    privdomain's policy: every ``datetime`` passed in must be timezone-aware. Naive datetimes are
    refused everywhere (never guessed to be local time or UTC), because a guess would silently
    shift purchases across day boundaries. numpy ``datetime64`` values carry no zone and are, by
    numpy's own convention, read as UTC.
    """


class InvalidMoneyError(ValidationError):
    """An amount is NaN, infinite, negative where it must not be, or not representable exactly."""


class CurrencyMismatchError(ValidationError):
    """Amounts of different currencies were combined, or a pool got a foreign currency."""


class UnknownCustomerError(PrivdomainError, KeyError):
    """A customer id is not in the pool."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown customer"


class UnknownFeatureError(PrivdomainError, KeyError):
    """A rule or segment names a feature that the snapshot does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown feature"


class InvalidRuleError(ValidationError):
    """A segment rule or rule table is malformed (syntax, overlaps, gaps)."""


class EmptyPoolError(ValidationError):
    """An operation needs at least one customer (or one purchase) and got none."""


if TYPE_CHECKING:

    class NotFittedError(PrivdomainError, ValueError, AttributeError):
        """A strategy or model was used before ``fit``."""

else:

    def __getattr__(name: str) -> Any:
        # NotFittedError is also scikit-learn's NotFittedError, so that code catching that
        # keeps working. Importing scikit-learn costs a second (it pulls in scipy and pandas),
        # so the class is made on first use: `import privdomain` stays light.
        if name != "NotFittedError":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from sklearn.exceptions import NotFittedError as SklearnNotFittedError

        class NotFittedError(PrivdomainError, SklearnNotFittedError):
            """A strategy or model was used before ``fit``.

            Also a scikit-learn ``NotFittedError`` (hence a ``ValueError`` and an
            ``AttributeError``), so code catching scikit-learn's class keeps working.
            """

        NotFittedError.__module__ = __name__
        NotFittedError.__qualname__ = "NotFittedError"
        globals()["NotFittedError"] = NotFittedError
        return NotFittedError


class ConvergenceError(PrivdomainError, RuntimeError):
    """A numerical fit did not converge."""


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = 80
_SHORT.maxother = 80
_SHORT.maxlong = 40


def short_repr(value: object) -> str:
    """``repr(value)`` cut short, for error messages: it never raises and never runs long.

    A message must not fail while describing bad input: ``repr`` of an int of more than 4300
    digits raises ``ValueError``, of a deeply nested list ``RecursionError``, and of a broken
    object anything at all.
    """
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<int of {value.bit_length()} bits>"
    try:
        return _SHORT.repr(value)
    except Exception:  # any failure of a foreign __repr__ must not replace the real error
        return f"<{type(value).__name__} object>"
