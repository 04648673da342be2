"""XML ⇄ Python values, guided by the dialect's shapes; parsing is hardened.

Parsing refuses DTDs outright, so entity expansion ("billion laughs") and external
entities never happen; anything that is not well-formed XML, or whose values do
not fit their shape, is a MalformedRequest / InvalidRequest, never an exception
from the XML library.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from cosbatch.errors import InvalidRequest, MalformedRequest
from cosbatch.wire.shapes import Shapes

_TRUE, _FALSE = "true", "false"


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_document(body: bytes, root_name: str) -> ET.Element:
    """The body's root element, which must be `root_name` (in any namespace or none)."""
    if not body.strip():
        raise MalformedRequest(f"the request body must be a {root_name} XML document")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MalformedRequest("XML with a DTD or entity declarations is not accepted") from None
    except ET.ParseError as exc:
        raise MalformedRequest(f"the request body is not well-formed XML ({exc})") from None
    if local_name(root.tag) != root_name:
        raise MalformedRequest(f"expected a {root_name} document, got <{local_name(root.tag)}>")
    return root


def _generic(el: ET.Element) -> Any:
    """An element no shape describes: text, or a dict of its children (left for validation to refuse)."""
    children = list(el)
    if not children:
        return el.text or ""
    out: dict[str, Any] = {}
    for child in children:
        out[local_name(child.tag)] = _generic(child)
    return out


def _scalar(kind: str, text: str, where: str) -> Any:
    text = text.strip() if kind != "string" else text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise InvalidRequest(f"{where} must be an integer, not {text[:40]!r}") from None
    if kind == "boolean":
        if text.lower() == _TRUE:
            return True
        if text.lower() == _FALSE:
            return False
        raise InvalidRequest(f"{where} must be true or false, not {text[:40]!r}")
    if kind in ("double", "float"):
        try:
            return float(text)
        except ValueError:
            raise InvalidRequest(f"{where} must be a number, not {text[:40]!r}") from None
    return text  # string, timestamp (validated by the models), blob


def decode(el: ET.Element, shape_name: str, shapes: Shapes, where: str = "") -> Any:
    """An element's value as botocore would give it for `shape_name` (dicts, lists, scalars)."""
    shape = shapes[shape_name]
    kind = shape["type"]
    where = where or local_name(el.tag)
    if kind == "structure":
        members = shape.get("members", {})
        by_element = {m.get("locationName", name): name for name, m in members.items() if m.get("location") is None}
        out: dict[str, Any] = {}
        for child in el:
            tag = local_name(child.tag)
            if tag in out or by_element.get(tag) in out:
                raise MalformedRequest(f"{where}.{tag} is given more than once")
            name = by_element.get(tag)
            if name is None:
                out[tag] = _generic(child)
            else:
                out[name] = decode(child, members[name]["shape"], shapes, f"{where}.{name}")
        return out
    if kind == "list":
        member = shape["member"]
        element = member.get("locationName", "member")
        items = []
        for child in el:
            if local_name(child.tag) != element:
                raise MalformedRequest(f"{where} holds <{element}> elements, not <{local_name(child.tag)}>")
            items.append(decode(child, member["shape"], shapes, f"{where}[{len(items)}]"))
        return items
    if kind == "map":
        entry = shape.get("entryName", "entry")
        key_el, value_el = shape["key"].get("locationName", "key"), shape["value"].get("locationName", "value")
        mapping: dict[str, Any] = {}
        for child in el:
            parts = {local_name(c.tag): c for c in child}
            if local_name(child.tag) != entry or key_el not in parts or value_el not in parts:
                raise MalformedRequest(f"{where} holds <{entry}><{key_el}/><{value_el}/></{entry}> elements")
            mapping[parts[key_el].text or ""] = decode(parts[value_el], shape["value"]["shape"], shapes, where)
        return mapping
    if len(el):
        raise MalformedRequest(f"{where} must be a plain value, not nested elements")
    return _scalar(kind, el.text or "", where)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def encode(parent: ET.Element, tag: str, value: Any, shape_name: str | None, shapes: Shapes) -> None:
    """Append `<tag>` for `value` (shaped by `shape_name`; a plain rendering where no shape applies)."""
    el = ET.SubElement(parent, tag)
    shape = shapes.get(shape_name) if shape_name else None
    kind = shape["type"] if shape else None
    if isinstance(value, dict) and kind == "map":
        assert shape is not None
        entry = shape.get("entryName", "entry")
        key_el, value_el = shape["key"].get("locationName", "key"), shape["value"].get("locationName", "value")
        for k, v in value.items():
            item = ET.SubElement(el, entry)
            ET.SubElement(item, key_el).text = _text(k)
            encode(item, value_el, v, shape["value"]["shape"], shapes)
    elif isinstance(value, dict):
        members = shape.get("members", {}) if shape and kind == "structure" else {}
        ordered = [k for k in members if k in value] + [k for k in value if k not in members]
        for k in ordered:
            member = members.get(k)
            encode(el, member.get("locationName", k) if member else k, value[k],
                   member["shape"] if member else None, shapes)
    elif isinstance(value, list | tuple):
        member = shape["member"] if shape and kind == "list" else {}
        for item in value:
            encode(el, member.get("locationName", "member"), item, member.get("shape"), shapes)
    elif value is not None:
        el.text = _text(value)


def document(root_name: str, body: dict[str, Any], shape_name: str, shapes: Shapes,
             namespace: str | None) -> bytes:
    """A whole response document: `<root_name xmlns=...>` with `body` encoded by `shape_name`."""
    holder = ET.Element("holder")
    encode(holder, root_name, body, shape_name, shapes)
    root = holder[0]
    if namespace:
        root.set("xmlns", namespace)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
