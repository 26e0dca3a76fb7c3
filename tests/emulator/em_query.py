"""The EM query service filter language: tokenizer, parser and evaluator.

Grammar, from Veeam's pages query_comparison, query_and_or, query_grouping and optional_query_parameters
(it is FIQL-like, so AND binds tighter than OR, as in FIQL; the EM pages do not say)::

    filter     := or_expr
    or_expr    := and_expr ( "," and_expr )*
    and_expr   := primary ( ";" primary )*
    primary    := "(" or_expr ")" | comparison
    comparison := NAME OPERATOR value
    OPERATOR   := "==" | "!=" | "<=" | ">=" | "<" | ">"
    value      := QUOTED | WORD

* ``QUOTED`` is a double-quoted string; a ``"`` inside it is doubled (``""``).
* ``WORD`` is an unquoted run of characters other than ``( ) ; , = ! < > "``.  Spaces inside it are dropped
  ("If the string contains spaces and is not included in quotes, the server will ignore spaces").
* Whitespace between tokens is ignored.
* A quoted value must be followed by ``;``, ``,``, ``)`` or the end; anything else (``Name=="a"b``) is a
  syntax error, so a badly quoted value is rejected instead of being read as something else.

Field names are matched case-insensitively.  String comparison is case-insensitive.  Values of fields with
a documented list of possible values (``Result``: Success < Warning < Failed, ``State``) compare by index
("the values are compared by their index", query_comparison).
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_SPECIAL = set('();,=!<>"')


class FilterError(ValueError):
    """A malformed filter or an unknown/invalid field or value: EM answers 400."""


@dataclass
class Token:
    kind: str  # NAME/WORD (same lexical class), QUOTED, OP, AND, OR, LPAREN, RPAREN, END
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            tokens.append(Token("LPAREN", ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token("RPAREN", ch, i))
            i += 1
        elif ch == ";":
            tokens.append(Token("AND", ch, i))
            i += 1
        elif ch == ",":
            tokens.append(Token("OR", ch, i))
            i += 1
        elif ch in "=!<>":
            two = text[i:i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(Token("OP", two, i))
                i += 2
            elif ch in "<>":
                tokens.append(Token("OP", ch, i))
                i += 1
            else:
                raise FilterError(f"Unexpected character '{ch}' at position {i}")
        elif ch == '"':
            start = i
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise FilterError(f"Unterminated quoted value starting at position {start}")
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            tokens.append(Token("QUOTED", "".join(buf), start))
        else:
            start = i
            buf = []
            while i < n:
                c = text[i]
                if c.isspace():
                    # spaces inside an unquoted value are ignored; the word goes on if more word follows
                    j = i
                    while j < n and text[j].isspace():
                        j += 1
                    if j < n and text[j] not in _SPECIAL:
                        i = j
                        continue
                    i = j
                    break
                if c in _SPECIAL:
                    break
                buf.append(c)
                i += 1
            tokens.append(Token("WORD", "".join(buf), start))
    tokens.append(Token("END", "", n))
    return tokens


# --------------------------------------------------------------------------------------------- AST

@dataclass
class Comparison:
    field: str
    op: str
    value: str
    quoted: bool


@dataclass
class BoolOp:
    op: str  # "and" | "or"
    items: list[Any]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self, kind: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            what = tok.text or "end of filter"
            raise FilterError(f"Expected {kind.lower()} at position {tok.pos}, found '{what}'")
        self.pos += 1
        return tok

    def parse(self) -> Any:
        node = self.or_expr()
        tok = self.peek()
        if tok.kind != "END":
            raise FilterError(f"Unexpected '{tok.text}' at position {tok.pos}")
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.peek().kind == "OR":
            self.pos += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def and_expr(self) -> Any:
        items = [self.primary()]
        while self.peek().kind == "AND":
            self.pos += 1
            items.append(self.primary())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def primary(self) -> Any:
        if self.peek().kind == "LPAREN":
            self.pos += 1
            node = self.or_expr()
            self.take("RPAREN")
            return node
        name = self.take("WORD")
        if not name.text:
            raise FilterError(f"Missing parameter name at position {name.pos}")
        op = self.take("OP")
        tok = self.peek()
        if tok.kind == "QUOTED":
            self.pos += 1
            value, quoted = tok.text, True
        elif tok.kind == "WORD":
            self.pos += 1
            value, quoted = tok.text, False
        else:
            raise FilterError(f"Missing value after '{name.text}{op.text}' at position {tok.pos}")
        nxt = self.peek()
        if nxt.kind not in ("AND", "OR", "RPAREN", "END"):
            raise FilterError(f"Unexpected '{nxt.text}' after the value of '{name.text}' at position {nxt.pos}")
        return Comparison(name.text, op.text, value, quoted)


def parse_filter(text: str | None) -> Any:
    """The filter's syntax tree, or ``None`` for an empty filter.  Raises :class:`FilterError`."""
    if text is None or not text.strip():
        return None
    return _Parser(tokenize(text)).parse()


# --------------------------------------------------------------------------------------------- fields

@dataclass
class Field:
    """One filterable/sortable field of a query type: its documented name, kind and a getter."""

    name: str
    kind: str  # string | uid | bool | datetime | enum | int
    getter: Callable[[Any], Any]
    order: tuple[str, ...] = ()


def parse_datetime(text: str) -> _dt.datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", value)
    if m:  # .NET writes up to 7 fractional digits; Python takes 6
        value = m.group(1) + "." + (m.group(2) + "000000")[:6] + m.group(3)
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(f"Invalid DateTime value '{text}'") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    raise FilterError(f"Invalid Boolean value '{text}'")


def _uid_key(text: str) -> str:
    """UIDs compare case-insensitively; a bare GUID also matches the URN that ends with it."""
    low = text.strip().lower()
    tail = low.rsplit(":", 1)[-1]
    try:
        uuid.UUID(tail)
        return tail
    except ValueError:
        return low


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return op == "!="
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    return left >= right


def _coerce(field: Field, raw: Any, is_value: bool) -> Any:
    """Turn an entity value (``is_value``) or a filter literal into a comparable key."""
    if raw is None:
        return None
    if field.kind == "string":
        return str(raw).casefold()
    if field.kind == "uid":
        return _uid_key(str(raw))
    if field.kind == "bool":
        return raw if isinstance(raw, bool) and is_value else _bool(str(raw))
    if field.kind == "datetime":
        if isinstance(raw, _dt.datetime):
            return raw
        if isinstance(raw, (int, float)):
            return _dt.datetime.fromtimestamp(raw, _dt.timezone.utc)
        return parse_datetime(str(raw))
    if field.kind == "int":
        try:
            return int(raw)
        except ValueError as exc:
            raise FilterError(f"Invalid number '{raw}'") from exc
    if field.kind == "enum":
        low = [o.lower() for o in field.order]
        key = str(raw).strip().lower()
        if key not in low:
            raise FilterError(f"Invalid value '{raw}' for {field.name}; possible values: {', '.join(field.order)}")
        return low.index(key)
    return raw


def compile_filter(tree: Any, fields: dict[str, Field]) -> Callable[[Any], bool]:
    """A predicate for ``tree`` over objects read through ``fields`` (keys lower-case).  Unknown fields and
    invalid literals raise :class:`FilterError` now, not at the first row."""
    if tree is None:
        return lambda obj: True
    if isinstance(tree, BoolOp):
        parts = [compile_filter(item, fields) for item in tree.items]
        if tree.op == "and":
            return lambda obj: all(p(obj) for p in parts)
        return lambda obj: any(p(obj) for p in parts)
    field = fields.get(tree.field.lower())
    if field is None:
        raise FilterError(f"Unknown filter parameter '{tree.field}'; allowed: {', '.join(f.name for f in fields.values())}")
    literal = _coerce(field, tree.value, is_value=False)
    op = tree.op
    if field.kind == "bool" and op not in ("==", "!="):
        raise FilterError(f"Operator '{op}' cannot be used with the Boolean parameter {field.name}")

    def predicate(obj: Any) -> bool:
        return _compare(op, _coerce(field, field.getter(obj), is_value=True), literal)

    return predicate


def sort_key(field: Field) -> Callable[[Any], tuple[int, Any]]:
    def key(obj: Any) -> tuple[int, Any]:
        value = _coerce(field, field.getter(obj), is_value=True)
        return (0, 0) if value is None else (1, value)
    return key
