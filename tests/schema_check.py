"""A small JSON Schema validator for the keywords our schemas use (no extra package):
type, properties, required, additionalProperties (false), items, enum, const, pattern,
minLength, maxLength, minimum, oneOf and local ``$ref`` (``#/$defs/...``)."""

from __future__ import annotations

import re
from typing import Any, Dict, List

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_ok(value: Any, typ: str) -> bool:
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ == "null":
        return value is None
    return isinstance(value, _TYPES[typ])


def errors(value: Any, schema: Dict[str, Any], root: Dict[str, Any], where: str = "$"
           ) -> List[str]:
    """Every violation of ``schema`` by ``value`` (empty: valid)."""
    known = {"$schema", "$id", "title", "description", "type", "properties", "required",
             "additionalProperties", "items", "enum", "const", "pattern", "minLength",
             "maxLength", "minimum", "oneOf", "$ref", "$defs"}
    unknown = set(schema) - known
    assert not unknown, f"validator does not know {unknown}"
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return errors(value, target, root, where)
    out: List[str] = []
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{where}: not of type {schema['type']}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{where}: too short")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{where}: too long")
    if _type_ok(value, "number") and "minimum" in schema and value < schema["minimum"]:
        out.append(f"{where}: below {schema['minimum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{where}: {key} is required")
        for key, v in value.items():
            if key in props:
                out += errors(v, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{where}: {key} is not allowed")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += errors(v, schema["items"], root, f"{where}[{i}]")
    if "oneOf" in schema:
        results = [errors(value, s, root, where) for s in schema["oneOf"]]
        good = sum(1 for r in results if not r)
        if good != 1:
            out.append(f"{where}: matches {good} of oneOf, not exactly one: "
                       + " | ".join("; ".join(r[:3]) for r in results))
    return out


def validate(value: Any, schema: Dict[str, Any]) -> List[str]:
    return errors(value, schema, schema)
