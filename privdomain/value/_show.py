"""Bad input, shown in an error message without risk: short, and never raising."""

from __future__ import annotations

import reprlib

__all__ = ["shown"]

_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlong = 40


def shown(value: object) -> str:
    """``repr(value)`` cut short; describing bad input must not fail in turn.

    ``repr`` of an int of more than 4300 digits raises ``ValueError``, of a deeply nested list
    ``RecursionError``, and a foreign ``__repr__`` anything at all.
    """
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<int of {value.bit_length()} bits>"
    try:
        return _SHORT.repr(value)
    except Exception:  # the real error is the one being raised, not this one
        return f"<{type(value).__name__} object>"
