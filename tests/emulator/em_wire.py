"""Enterprise Manager wire format: one resource tree, rendered as XML or as JSON.

Every EM resource is built once as a tree of :class:`Node` objects and rendered either way:

* XML follows the documented samples: namespace ``http://www.veeam.com/ent/v1.0`` on the root, element and
  attribute names and nesting as in Veeam's examples, optional elements left out when they have no value.
* JSON follows the documented and observed .NET serialisation (veeam-api.md section A.5 and the real v10
  capture in Ben Young's NAS post): properties are PascalCase, a class's own elements come first, then its
  own attributes, then those of its base class (so an entity ends with ``Name, UID, Links, Href, Type`` and
  a reference is ``Links, UID, Name, Href, Type``); ``Links`` is a bare array; a list type becomes an object
  holding one array named after the plural (``{"Refs": [...]}``, ``{"Jobs": [...]}``); repeated elements
  become an array under a plural key (``"Days": [...]``); an element with attributes and text becomes
  ``{"Name": ..., "Value": ...}``; an absent optional value is ``null``.
"""

from __future__ import annotations

import json
from typing import Any

NS = "http://www.veeam.com/ent/v1.0"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

_MISSING = object()


class Node:
    """One XML element (or a JSON-only null) with enough hints to render JSON the way EM does.

    kind:
      ``value``  simple element with text (``<State>Running</State>``); ``value`` is str/bool/int/None
      ``elem``   element with attributes and/or children; ``base`` decides the JSON property order
      ``list``   container of items (``<Links>``, ``<EntityReferences>``); JSON: array or ``{key: [...]}``
      ``repeat`` the same element repeated inline (``<Days>Sunday</Days><Days>Monday</Days>``); JSON ``key: [...]``
    """

    __slots__ = ("tag", "kind", "attrs", "children", "value", "base", "key", "flat", "empty", "text", "jname",
                 "jvalue", "jfirst")

    def __init__(self, tag: str, kind: str, *, attrs: list[tuple[str, Any]] | None = None,
                 children: list[Node] | None = None, value: Any = None, base: str = "none",
                 key: str | None = None, flat: bool = False, empty: bool = False, text: Any = _MISSING,
                 jname: str | None = None, jvalue: Any = _MISSING, jfirst: tuple[str, ...] = ()) -> None:
        self.tag = tag
        self.jfirst = jfirst
        self.jname = jname
        self.jvalue = jvalue
        self.kind = kind
        self.attrs = list(attrs or [])
        self.children = list(children or [])
        self.value = value
        self.base = base
        self.key = key
        self.flat = flat
        self.empty = empty
        self.text = text


# --------------------------------------------------------------------------------------------- builders

def V(tag: str, value: Any, empty: bool = False, jname: str | None = None,  # pylint: disable=invalid-name
      jvalue: Any = _MISSING) -> Node:
    """A simple element.  ``None`` is left out of XML (or written empty when ``empty``) and is JSON null
    (or ``""`` when ``empty``).  ``jname``/``jvalue`` override the JSON property name/value where the
    serialisers differ (``RetrySpecified`` is ``RetrySpecified1`` in JSON)."""
    return Node(tag, "value", value=value, empty=empty, jname=jname, jvalue=jvalue)


def E(tag: str, attrs: list[tuple[str, Any]] | None = None, children: list[Node] | None = None,  # pylint: disable=invalid-name
      base: str = "none", text: Any = _MISSING, jfirst: tuple[str, ...] = ()) -> Node:
    """A complex element.  ``base``: ``none``, ``resource``, ``entity``, ``ref`` or ``link``.  ``jfirst``
    names children that JSON puts first (properties of a derived class precede the base class's ones:
    ``BackupJobSession`` JSON starts with ``IsRetry``)."""
    return Node(tag, "elem", attrs=attrs, children=children, base=base, text=text, jfirst=jfirst)


def L(tag: str, items: list[Node], key: str | None = None, flat: bool = False) -> Node:  # pylint: disable=invalid-name
    """A list container.  JSON: ``items`` as a bare array when ``flat``, else ``{key: items}``."""
    return Node(tag, "list", children=items, key=key or tag, flat=flat)


def R(tag: str, items: list[Any], key: str) -> Node:  # pylint: disable=invalid-name
    """Repeated inline elements (strings or Nodes) with the JSON array under ``key``."""
    return Node(tag, "repeat", children=list(items), key=key)


def link(rel: str, href: str, type_: str | None = None, name: str | None = None) -> Node:
    attrs: list[tuple[str, Any]] = [("Rel", rel)]
    if type_ is not None:
        attrs.append(("Type", type_))
    attrs.append(("Href", href))
    if name is not None:
        attrs.append(("Name", name))
    return E("Link", attrs, base="link")


def links(items: list[Node]) -> Node:
    return L("Links", items, flat=True)


# --------------------------------------------------------------------------------------------- XML

def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _esc_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_attr(text: str) -> str:
    return (_esc_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))


def _attrs_xml(attrs: list[tuple[str, Any]]) -> str:
    return "".join(f' {k}="{_esc_attr(_xml_text(v))}"' for k, v in attrs if v is not None)


def _xml_lines(node: Node, depth: int, out: list[str], root_attrs: str = "") -> None:
    pad = "  " * depth
    if node.kind == "value":
        if node.value is None:
            if node.empty:
                out.append(f"{pad}<{node.tag}{root_attrs} />")
            return
        out.append(f"{pad}<{node.tag}{root_attrs}>{_esc_text(_xml_text(node.value))}</{node.tag}>")
        return
    if node.kind == "repeat":
        for item in node.children:
            if isinstance(item, Node):
                _xml_lines(item, depth, out)
            else:
                out.append(f"{pad}<{node.tag}>{_esc_text(_xml_text(item))}</{node.tag}>")
        return
    attrs = root_attrs + (_attrs_xml(node.attrs) if node.kind == "elem" else "")
    if node.kind == "elem" and node.text is not _MISSING:
        if node.text is None or node.text == "":
            out.append(f"{pad}<{node.tag}{attrs} />")
        else:
            out.append(f"{pad}<{node.tag}{attrs}>{_esc_text(_xml_text(node.text))}</{node.tag}>")
        return
    inner: list[str] = []
    for child in node.children:
        _xml_lines(child, depth + 1, inner)
    if inner:
        out.append(f"{pad}<{node.tag}{attrs}>")
        out.extend(inner)
        out.append(f"{pad}</{node.tag}>")
    else:
        out.append(f"{pad}<{node.tag}{attrs} />")


def to_xml(root: Node) -> str:
    """The document as EM writes it: XML declaration, namespaces on the root element, 2-space indent."""
    ns = f' xmlns:xsd="{XSD_NS}" xmlns:xsi="{XSI_NS}" xmlns="{NS}"'
    out: list[str] = ['<?xml version="1.0" encoding="utf-8"?>']
    _xml_lines(root, 0, out, root_attrs=ns)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------- JSON

def _json_value(node: Node) -> Any:
    if node.kind == "value":
        if node.jvalue is not _MISSING:
            return node.jvalue
        if node.value is None:
            return "" if node.empty else None
        return node.value
    if node.kind == "list":
        items = [_json_value(c) for c in node.children]
        return items if node.flat else {node.key: items}
    if node.kind == "repeat":
        return [_json_value(c) if isinstance(c, Node) else c for c in node.children]
    return _json_object(node)


def _json_object(node: Node) -> dict[str, Any]:
    attrs = dict(node.attrs)
    if node.base == "link":
        return {"Rel": attrs.get("Rel"), "Href": attrs.get("Href"), "Name": attrs.get("Name"),
                "Type": attrs.get("Type")}
    own: dict[str, Any] = {}
    links_value: Any = None
    children = [c for c in node.children if c.tag in node.jfirst] + [c for c in node.children if c.tag not in node.jfirst]
    for child in children:
        if child.tag == "Links" and node.base in ("resource", "entity", "ref"):
            links_value = _json_value(child)
            continue
        own[_json_name(child)] = _json_value(child)
    if node.text is not _MISSING:
        own["Value"] = node.text
    if node.base == "ref":
        return {"Links": links_value, "UID": attrs.get("UID"), "Name": attrs.get("Name"),
                "Href": attrs.get("Href"), "Type": attrs.get("Type")}
    if node.base in ("resource", "entity"):
        base_keys = {"Href", "Type"} | ({"Name", "UID"} if node.base == "entity" else set())
        for k, v in node.attrs:
            if k not in base_keys:
                own[k] = v
        if node.base == "entity":
            own["Name"] = attrs.get("Name")
            own["UID"] = attrs.get("UID")
        own["Links"] = links_value
        own["Href"] = attrs.get("Href")
        own["Type"] = attrs.get("Type")
        return own
    for k, v in node.attrs:
        own[k] = v
    return own


def _json_name(node: Node) -> str:
    if node.jname:
        return node.jname
    return node.key if node.kind == "repeat" and node.key else node.tag


def to_json_data(root: Node) -> Any:
    return _json_value(root) if root.kind in ("list", "value", "repeat") else _json_object(root)


def camel_keys(data: Any) -> Any:
    """Lower-camel-case every property name (``SessionId`` -> ``sessionId``, ``UID`` -> ``uid``)."""
    if isinstance(data, dict):
        return {_camel(k): camel_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [camel_keys(v) for v in data]
    return data


def _camel(key: str) -> str:
    if key.isupper():
        return key.lower()
    n = 0
    while n < len(key) and key[n].isupper():
        n += 1
    if n <= 1:
        return key[:1].lower() + key[1:]
    return key[:n - 1].lower() + key[n - 1:]


def to_json(root: Node, camel: bool = False) -> str:
    data = to_json_data(root)
    if camel:
        data = camel_keys(data)
    return json.dumps(data, ensure_ascii=False)


# --------------------------------------------------------------------------------------------- errors

def error_xml(status: int, message: str) -> str:
    """``<Error Message=... StatusCode=...>`` (XSD ErrorType; real 500 capture in veeam-api.md A.10)."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<Error xmlns:xsd="{XSD_NS}" xmlns:xsi="{XSI_NS}" Message="{_esc_attr(message)}" '
            f'StatusCode="{int(status)}" xmlns="{NS}" />\n')


def error_json_data(status: int, message: str) -> dict[str, Any]:
    """The observed JSON error (``em_error_400.json``), property order included."""
    return {"FirstChanceExceptionMessage": None, "Message": message, "StackTrace": None, "Status": None,
            "StatusCode": int(status)}
