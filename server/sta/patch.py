"""JSON Patch (RFC 6902) on an entity, as SensorThings 1.1 allows beside JSON merge: the
operations are applied to the entity as served, and the top-level members they changed become
an ordinary update. ``add``, ``replace``, ``remove``, ``test``; ``move`` and ``copy`` are
refused."""

from __future__ import annotations

import copy
from typing import Any

from geo.errors import Conflict, InvalidInput


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput(f"JSON Patch: {path!r} is not a JSON pointer ('/name').")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    for part in parts[:-1]:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise InvalidInput(f"JSON Patch: no member {part!r} on the way.")
    return doc


def apply(current: dict[str, Any], operations: Any) -> dict[str, Any]:
    """The top-level members ``operations`` change in ``current``, with their new values."""
    if not isinstance(operations, list):
        raise InvalidInput("A JSON Patch is an array of operations.")
    doc = copy.deepcopy(current)
    touched: set[str] = set()
    for op in operations:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove", "test"):
            raise InvalidInput("JSON Patch: each operation is add, replace, remove or test.")
        parts = _pointer(op.get("path"))
        parent, key = _parent(doc, parts), parts[-1]
        if op["op"] == "test":
            if not isinstance(parent, dict) or parent.get(key) != op.get("value"):
                raise Conflict(f"JSON Patch: the test of {op['path']} failed.")
            continue
        if not isinstance(parent, dict):
            raise InvalidInput(f"JSON Patch: {op['path']} is not a member of an object.")
        if op["op"] == "remove":
            if key not in parent:
                raise InvalidInput(f"JSON Patch: nothing to remove at {op['path']}.")
            del parent[key]
        else:
            if "value" not in op:
                raise InvalidInput(f"JSON Patch: {op['op']} needs a value.")
            parent[key] = op["value"]
        touched.add(parts[0])
    return {name: doc.get(name) for name in touched}
