"""A small, safe text language for segment rules, for hosts that store rules as text.

Text is parsed by a recursive-descent parser into :mod:`privdomain.domain.segment` rule objects;
nothing is ever passed to ``eval``. The grammar, loosest binding first::

    rule       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" rule ")" | comparison
    comparison := FEATURE op value                 e.g.  orders >= 3
                | FEATURE ["not"] "in" list        e.g.  source in ["DOUYIN", "XIAOHONGSHU"]
                | FEATURE "is" ["not"] "missing"   e.g.  recency_days is missing   ("nan" too)
                | FEATURE                          a boolean feature is true, e.g.  tag:vip
    op         := "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := number | "string" | 'string' | true | false
    list       := "[" value ("," value)* "]"

``FEATURE`` is any snapshot feature name, including ``tag:<name>`` and ``attr:<name>`` (tag and
attribute names may be any text without spaces, brackets, commas, quotes or comparison signs).
Keywords are case-insensitive. Values compared with ``source`` may be channel names
(``"DOUYIN"``): they are turned into the channel codes the snapshot stores.

Example::

    tag:vip and (orders >= 3 or source in ["DOUYIN", "XIAOHONGSHU"]) and not attr:gender == "F"

``not`` applies to the whole comparison after it, as in Python.

Types are never mixed silently (see :mod:`privdomain.domain.segment`): a feature on its own
means "is true" and must be boolean (a tag, ``has_referrer``, ``consent_sms``...), so
``orders`` alone is refused when the rule is evaluated instead of meaning ``orders == 1``;
``true`` and ``false`` compare only with boolean features, numbers only with numeric ones,
strings only with text. ``orders >= true`` is refused when parsed (booleans have no order).

Rules nest at most :data:`~privdomain.domain.segment.MAX_RULE_DEPTH` (100) levels of
parentheses, ``not``, ``and`` and ``or``: deeper text is refused with the position rather than
exhausting Python's recursion limit.

Errors: syntax errors and type mismatches raise :class:`~privdomain.errors.InvalidRuleError`
with the position; unknown feature names are found when the rule is evaluated on a snapshot
(:class:`~privdomain.errors.UnknownFeatureError` with the closest names).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import attrs

from privdomain.domain.channels import Channel
from privdomain.domain.segment import MAX_RULE_DEPTH, And, Compare, Not, Or, Rule
from privdomain.errors import InvalidRuleError

__all__ = ["parse_rule"]

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "missing", "nan", "true", "false"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],])
  | (?P<name>[^\W\d]\w*(?::[^\s()\[\],=!<>"']+)?)
    """,
    re.VERBOSE,
)


@attrs.frozen
class _Token:
    kind: str  # number, string, op, punct, name, keyword, end
    text: str
    pos: int


_CONTEXT = 60  # characters of a long rule shown on each side of an error


def _fail(text: str, pos: int, message: str) -> InvalidRuleError:
    start = max(0, pos - _CONTEXT)
    end = min(len(text), pos + _CONTEXT)
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    caret = " " * (pos - start + (1 if start else 0)) + "^"
    return InvalidRuleError(f"{message} at position {pos}\n  {shown}\n  {caret}")


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = "; compare with '=='" if ch == "=" else ""
            raise _fail(text, pos, f"unexpected character {ch!r}{hint}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "space":
            word = m.group()
            if kind == "name" and word.lower() in _KEYWORDS:
                out.append(_Token("keyword", word.lower(), pos))
            else:
                out.append(_Token(kind, word, pos))
        pos = m.end()
    out.append(_Token("end", "", len(text)))
    return out


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0  # open parentheses

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_keyword(self, word: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.text == word

    def expect(self, kind: str, text: str | None = None) -> _Token:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            wanted = repr(text) if text is not None else kind
            raise self.error(f"expected {wanted}")
        return self.advance()

    def error(self, message: str) -> InvalidRuleError:
        tok = self.tok
        found = "the end of the rule" if tok.kind == "end" else repr(tok.text)
        return _fail(self.text, tok.pos, f"{message}, found {found}")

    # ------------------------------------------------------------------ grammar
    def parse(self) -> Rule:
        if self.tok.kind == "end":
            raise self.error("expected a rule")
        rule = self.rule()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the rule")
        return rule

    def build(self, pos: int, make: Callable[[], Rule]) -> Rule:
        """Build a rule node; a refusal (too deep, a bad value) points at ``pos``."""
        try:
            return make()
        except InvalidRuleError as exc:
            raise _fail(self.text, pos, str(exc)) from None

    def rule(self) -> Rule:
        pos = self.tok.pos
        parts = [self.term()]
        while self.at_keyword("or"):
            self.advance()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else self.build(pos, lambda: Or(tuple(parts)))

    def term(self) -> Rule:
        pos = self.tok.pos
        parts = [self.factor()]
        while self.at_keyword("and"):
            self.advance()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else self.build(pos, lambda: And(tuple(parts)))

    def factor(self) -> Rule:
        # a run of "not" is counted, not recursed into: "not not ... x" cannot overflow the stack
        nots: list[int] = []
        while self.at_keyword("not"):
            nots.append(self.advance().pos)
        if self.tok.kind == "punct" and self.tok.text == "(":
            opening = self.advance()
            self.depth += 1
            if self.depth > MAX_RULE_DEPTH:
                raise _fail(
                    self.text,
                    opening.pos,
                    f"the rule nests more than {MAX_RULE_DEPTH} levels of parentheses",
                )
            inner = self.rule()
            self.expect("punct", ")")
            self.depth -= 1
        else:
            inner = self.comparison()
        for pos in reversed(nots):
            inner = self.build(pos, functools.partial(Not, inner))
        return inner

    def comparison(self) -> Rule:
        if self.tok.kind != "name":
            raise self.error("expected a feature name, 'not' or '('")
        start = self.advance()
        feature = start.text
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            value_tok = self.tok
            value = self.value(feature)
            if isinstance(value, bool) and tok.text not in ("==", "!="):
                raise _fail(
                    self.text,
                    value_tok.pos,
                    f"{tok.text} {value_tok.text}: true and false have no order; compare a "
                    "boolean feature with == or !=, or use it on its own",
                )
            return self.build(start.pos, lambda: Compare(feature, tok.text, value))
        if self.at_keyword("in"):
            self.advance()
            items = self.values(feature)
            return self.build(start.pos, lambda: Compare(feature, "in", items))
        if self.at_keyword("not") and self.tokens[self.i + 1].text == "in":
            self.i += 2
            items = self.values(feature)
            return self.build(start.pos, lambda: Not(Compare(feature, "in", items)))
        if self.at_keyword("is"):
            self.advance()
            negate = self.at_keyword("not")
            if negate:
                self.advance()
            if not (self.at_keyword("missing") or self.at_keyword("nan")):
                raise self.error("expected 'missing' after 'is'")
            self.advance()
            missing = Compare(feature, "isnan", None)
            return Not(missing) if negate else missing
        # a feature on its own: "is true", which the evaluation refuses unless it is boolean
        return Compare(feature, "==", True)

    def values(self, feature: str) -> tuple[Any, ...]:
        self.expect("punct", "[")
        items = [self.value(feature)]
        while self.tok.kind == "punct" and self.tok.text == ",":
            self.advance()
            items.append(self.value(feature))
        self.expect("punct", "]")
        return tuple(items)

    def value(self, feature: str) -> Any:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            is_int = re.fullmatch(r"-?\d+", tok.text) is not None
            return int(tok.text) if is_int else float(tok.text)
        if tok.kind == "string":
            self.advance()
            text = _unescape(tok.text)
            if feature == "source":
                try:
                    return Channel.parse(text)
                except ValueError:
                    names = ", ".join(c.name for c in Channel)
                    raise _fail(
                        self.text, tok.pos, f"unknown channel {text!r} (channels: {names})"
                    ) from None
            return text
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            self.advance()
            return tok.text == "true"
        raise self.error("expected a value (a number, a quoted string, true or false)")


def parse_rule(text: str) -> Rule:
    """Parse a rule written in the rule language (see the module documentation).

    Parameters
    ----------
    text
        The rule, e.g. ``'tag:vip and orders >= 3'``.

    Returns
    -------
    Rule
        A tree of :class:`~privdomain.domain.segment.Compare`, ``And``, ``Or`` and ``Not``.

    Raises
    ------
    InvalidRuleError
        On a syntax error, a value that can never fit (``orders >= true``), or nesting deeper
        than :data:`~privdomain.domain.segment.MAX_RULE_DEPTH`; the message shows the
        position. A feature whose type does not fit the comparison (``orders`` on its own) is
        refused when the rule is evaluated, with the same class.

    Examples
    --------
    >>> parse_rule('orders >= 3 and not tag:blocked')
    ((F('orders') >= 3) & ~(F('tag:blocked') == True))
    """
    if not isinstance(text, str):
        raise InvalidRuleError(f"a rule text must be a str, not {type(text).__name__}")
    return _Parser(text).parse()
