# -*- coding: utf-8 -*-
# Copyright (c) backupops.veeam contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bodies in, plain data out.  Private to backupops.veeam: not a public API.

Enterprise Manager answers XML by default (namespace ``http://www.veeam.com/ent/v1.0``) and JSON when asked;
VB365 answers JSON.  :func:`parse` turns either into plain Python data; :func:`plain` turns that into
snake_case dicts in which XML attributes and elements look the same as their JSON twins
(``<Link Rel="Up"/>`` and ``{"Rel": "Up"}`` both become ``{"rel": "Up"}``), namespace prefixes are gone, and
list containers are lists (``<Links><Link/></Links>`` and ``"Links": [...]`` both become ``"links": [...]``).
:func:`error_text` finds Veeam's own message in an error body (EM ``Error``, VB365 ``RESTExceptionInfo``,
OAuth ``error_description``).  This module knows nothing of HTTP; every failure is a ``ParseError``.
"""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.backupops.veeam.plugins.module_utils._errors import ParseError

try:
    import xmltodict
    HAS_XMLTODICT = True
    XMLTODICT_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module wrapper
    xmltodict = None
    HAS_XMLTODICT = False
    XMLTODICT_IMPORT_ERROR = exc

BOM = b"\xef\xbb\xbf"

#: Documents nested deeper than this are refused: Veeam's own nest about a dozen levels, and ``plain`` recurses
#: once per level, so a hostile or broken body must not reach Python's recursion limit.
MAX_DEPTH = 100

# Element pairs that are list containers in Veeam's XML although the child name is not the plural's stem:
# <EntityReferences><Ref/></EntityReferences>, <Refs><Ref/></Refs>, <Entities><Jobs>... is handled by the
# generic rule (a container whose single child name is its own name without the trailing "s").
_CONTAINERS = {
    "entityreferences": "ref",
    "refs": "ref",
    "links": "link",
    "supportedversions": "supportedversion",
    "hierarchyitems": "hierarchyitem",
    "nasjobs": "nasjob",
}

_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$",
                       re.IGNORECASE)

_FIRST_CAP = re.compile(r"(.)([A-Z][a-z]+)")
_ALL_CAP = re.compile(r"([a-z0-9])([A-Z])")


def snake(name):
    """``CreationTimeUTC`` -> ``creation_time_utc``, ``UID`` -> ``uid``, ``isEnabled`` -> ``is_enabled``."""
    name = name.lstrip("@").split(":")[-1].lstrip("._")
    name = _FIRST_CAP.sub(r"\1_\2", name)
    name = _ALL_CAP.sub(r"\1_\2", name)
    return name.replace("-", "_").lower()


def _looks_like_html(text):
    head = text[:512].lstrip().lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head[:200]


def _html_title(text):
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return re.sub(r"\s+", " ", match.group(1)).strip()[:200] if match else ""


def parse(body, content_type=None, what="response"):
    """Parse a response body (``bytes``) into plain data: XML via xmltodict, JSON via json (BOM-safe).

    The format comes from the first character when it is ``{``, ``[`` or ``<`` (a mislabelled body is still
    read), else from the content type.  An empty body gives ``None``.  Anything else (HTML error pages,
    truncated documents, random bytes, documents nested more than ``MAX_DEPTH`` levels) raises a
    ``ParseError`` that says what arrived instead.
    """
    if body is None:
        return None
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body.startswith(BOM):
        body = body[len(BOM):]
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("The server sent a %s that is not UTF-8 text (%d bytes, content type %s)"
                         % (what, len(body), content_type or "not given")) from None
    stripped = text.lstrip()
    kind = (content_type or "").split(";")[0].strip().lower()
    if _looks_like_html(stripped):
        title = _html_title(stripped)
        raise ParseError("The server sent an HTML page instead of XML or JSON%s: is the server address right, and "
                         "is it the Veeam REST API?" % ((" (" + repr(title) + ")") if title else ""))
    first = stripped[:1]
    if first in "{[" or (kind.endswith("json") and first != "<"):
        try:
            data = json.loads(stripped)
        except RecursionError:
            raise _deep_error(what, body) from None
        except ValueError as exc:
            raise ParseError("The server sent a %s that is not valid JSON (%s; %d bytes)" % (what, exc, len(body))) from None
        if _too_deep(data):
            raise _deep_error(what, body)
        return data
    if first == "<" or kind.endswith("xml"):
        if not HAS_XMLTODICT:
            raise ParseError("The xmltodict Python library is needed to read XML responses")
        try:
            data = xmltodict.parse(stripped, disable_entities=True)
        except Exception as exc:  # expat raises several types for broken documents
            raise ParseError("The server sent a %s that is not well-formed XML (%s; %d bytes)"
                             % (what, str(exc).splitlines()[0][:200], len(body))) from None
        if _too_deep(data):
            raise _deep_error(what, body)
        return data
    raise ParseError("The server sent a %s that is neither XML nor JSON (content type %s, starting %r)"
                     % (what, content_type or "not given", stripped[:40]))


def _deep_error(what, body):
    return ParseError("The server sent a %s nested more than %d levels deep (%d bytes)" % (what, MAX_DEPTH, len(body)))


def _too_deep(data):
    """True when lists/dicts nest more than MAX_DEPTH levels (checked without recursion)."""
    todo = [(data, 1)]
    while todo:
        value, depth = todo.pop()
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if items is None:
            continue
        if depth > MAX_DEPTH:
            return True
        todo.extend((item, depth + 1) for item in items)
    return False


def _plain_value(value):
    if isinstance(value, dict):
        return _plain_dict(value)
    if isinstance(value, list):
        return [_plain_value(item) for item in value]
    return value


def _plain_dict(data):
    out = {}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        bare = key.split(":")[-1]
        if key.startswith("@xmlns") or bare.startswith("xmlns"):
            continue
        if key == "#text":
            out["text"] = value
            continue
        name = snake(bare)
        out[name] = _as_list_if_container(bare, value)
    return out


def _as_list_if_container(name, value):
    """``{"Link": [..]}`` under ``Links`` -> ``[..]``; JSON lists stay lists; other values become plain."""
    lowered = name.split(":")[-1].lower()
    if isinstance(value, list):
        return [_plain_value(item) for item in value]
    if value is None:
        # <Links/> (an empty container) -> []; other empty elements stay None
        return [] if lowered in _CONTAINERS else None
    if isinstance(value, dict):
        children = [k for k in value if isinstance(k, str) and not k.startswith("@") and k != "#text"]
        attrs = [k for k in value if isinstance(k, str) and k.startswith("@") and not k.startswith("@xmlns")
                 and not k.split(":")[-1].startswith("xmlns")]
        if len(children) == 1 and not attrs:
            child = children[0].split(":")[-1].lower()
            expected = _CONTAINERS.get(lowered)
            if child == lowered and isinstance(value[children[0]], list):
                # EM's JSON wraps some lists in an object of the same name: "Refs": {"Refs": [...]}
                return [_plain_value(item) for item in value[children[0]]]
            if child == expected or (expected is None and lowered.endswith("s") and child == lowered[:-1]):
                inner = value[children[0]]
                items = inner if isinstance(inner, list) else ([] if inner is None else [inner])
                return [_plain_value(item) for item in items]
    return _plain_value(value)


def plain(data):
    """Plain data (from :func:`parse`) as snake_case dicts; see the module docstring for the rules."""
    try:
        if isinstance(data, dict):
            return _plain_dict(data)
        return _plain_value(data)
    except RecursionError:
        raise ParseError("The server sent a document nested too deeply to read") from None


def root(data):
    """The single root element of a parsed XML document as a plain dict, or the JSON object itself.

    XML documents parse to ``{"Task": {...}}``; JSON objects are the entity already.  Returns
    ``(root_name, plain_dict)``; ``root_name`` is ``None`` for JSON.
    """
    if isinstance(data, dict) and len(data) == 1:
        key = next(iter(data))
        value = data[key]
        # XML documents have one root element holding a dict (or nothing); JSON lists and scalars are not roots.
        if isinstance(value, dict):
            return key.split(":")[-1], plain(value)
        if value is None:
            return key.split(":")[-1], {}
    return None, plain(data)


def as_bool(value):
    """``"true"``/``"True"``/``True`` -> ``True``; everything else -> ``False`` (XML attributes are strings)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def parse_time(value):
    """A Veeam date-time as an aware datetime, or None when it is missing or not ISO 8601: VB365's
    ``2026-11-21T19:21:35.0254800Z`` (seven fraction digits), VBR's ``2026-11-22T18:00:02.1234567+01:00``, EM's
    ``2014-10-19T05:22:52Z``; no zone means UTC."""
    match = _ISO_TIME.match(str(value or "").strip())
    if not match:
        return None
    date, clock, fraction, zone = match.groups()
    if len(clock) == 5:
        clock += ":00"
    fraction = (fraction or "0")[:6].ljust(6, "0")
    if not zone or zone.upper() == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        return datetime.datetime.fromisoformat("%sT%s.%s%s" % (date, clock, fraction, zone))
    except ValueError:
        return None


def format_time(moment):
    """An aware datetime as the ISO 8601 UTC text the APIs' time filters take, to the second, rounded down
    (``2026-11-21T19:21:35Z``): a filter "at or after" it never misses the moment itself."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def word(value):
    """An enum value in the collection's spelling (docs/vocabulary.md): its first letter capitalised, so that
    ``working`` (VBR 1.2) and ``Working`` (1.3-rev1) read the same; anything but a non-empty string -> None."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    return value[0].upper() + value[1:]


def text(value):
    """An element's text whether xmltodict gave a string or ``{"#text": ..., "@attr": ...}``."""
    if isinstance(value, dict):
        return value.get("text", value.get("#text"))
    return value


def error_text(data):
    """Veeam's own message in an error body, or ``(None, None)``: returns ``(message, code)``.

    Knows EM ``<Error Message=".." StatusCode="..">`` and its JSON twin, VB365 ``RESTExceptionInfo``
    (``message``, ``errorCode``) and OAuth token errors (``error``, ``error_description``).
    """
    if data is None:
        return None, None
    body = root(data)[1] if isinstance(data, dict) else None
    if not isinstance(body, dict):
        return None, None
    message = _message_text(body.get("message")) or _message_text(body.get("error_description"))
    code = body.get("error_code") or body.get("error")
    if message is None and isinstance(body.get("error"), dict):
        inner = body["error"]
        message, code = _message_text(inner.get("message")), inner.get("code")
    if isinstance(code, (dict, list)):
        code = None
    elif code is not None and not isinstance(code, str):
        code = str(code)
    return message, code


def _message_text(value):
    """A message as text: ``<Message Lang="en">x</Message>`` -> ``x``, numbers as digits, lists/objects -> None."""
    value = text(value)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None
