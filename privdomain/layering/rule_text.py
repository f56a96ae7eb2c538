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

``not`` applies to the whole comparison after it, as in Python. Syntax errors raise
:class:`~privdomain.errors.InvalidRuleError` with the position; unknown feature names are
found when the rule is evaluated on a snapshot (:class:`~privdomain.errors.UnknownFeatureError`
with the closest names).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from privdomain.domain.channels import Channel
from privdomain.domain.segment import And, Compare, Not, Or, Rule
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


def _fail(text: str, pos: int, message: str) -> InvalidRuleError:
    caret = " " * pos + "^"
    return InvalidRuleError(f"{message} at position {pos}\n  {text}\n  {caret}")


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

    def rule(self) -> Rule:
        parts = [self.term()]
        while self.at_keyword("or"):
            self.advance()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def term(self) -> Rule:
        parts = [self.factor()]
        while self.at_keyword("and"):
            self.advance()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def factor(self) -> Rule:
        if self.at_keyword("not"):
            self.advance()
            return Not(self.factor())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.advance()
            inner = self.rule()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Rule:
        if self.tok.kind != "name":
            raise self.error("expected a feature name, 'not' or '('")
        feature = self.advance().text
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            return Compare(feature, tok.text, self.value(feature))
        if self.at_keyword("in"):
            self.advance()
            return Compare(feature, "in", self.values(feature))
        if self.at_keyword("not") and self.tokens[self.i + 1].text == "in":
            self.i += 2
            return Not(Compare(feature, "in", self.values(feature)))
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
        On a syntax error; the message shows the position.

    Examples
    --------
    >>> parse_rule('orders >= 3 and not tag:blocked')
    ((F('orders') >= 3) & ~(F('tag:blocked') == True))
    """
    if not isinstance(text, str):
        raise InvalidRuleError(f"a rule text must be a str, not {type(text).__name__}")
    return _Parser(text).parse()
