"""The OpenAPI 3.1 document of ``/api/v1``, generated from the endpoint declarations and their
pydantic models (JSON Schema 2020-12, which OpenAPI 3.1 uses as is). A committed copy
(``mobile_api/openapi.json``) is diffed against it by a test, and the served document is
checked by openapi-spec-validator and by clients generated from it (tests/test_openapi.py,
tests/test_generated_clients.py).

What a client generator needs is enforced here, when the document is built: every operation
has a unique ``operationId``; every request body has an example, and the example is valid for
the body's model; query parameters are the query model's fields, one parameter each.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mobile_api.contract import Endpoint, Problem

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
MULTIPART = "multipart/form-data"
_PARAM = re.compile(r"{(\w+)}")
_OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]{2,63}$")

Schemas = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]


class ContractError(ValueError):
    """An endpoint declaration the document cannot describe (named in the message)."""


def _problem_response(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _model_schema(model: type[BaseModel], schemas: Schemas, defs: dict[str, Any]) -> dict[str, Any]:
    """The model's own schema (not a ``$ref`` to it): its properties are needed one by one."""
    schema = schemas[(model, "validation")]
    ref = schema.get("$ref")
    found: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema
    return found


def _parameters(ep: Endpoint, schemas: Schemas, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        }
        for name in _PARAM.findall(ep.path)
    ]
    if ep.query is not None:
        schema = _model_schema(ep.query, schemas, defs)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    if ep.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "Unique per intended operation; a retry with the same key and "
                "body returns the first response and creates nothing.",
                "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
            }
        )
    return params


def _checked_example(ep: Endpoint, model: type[BaseModel] | None) -> Any:
    """The endpoint's example, refused unless its model accepts it."""
    where = f"{ep.method} {ep.path}"
    if ep.example is None:
        raise ContractError(f"{where} takes a request body: declare an example= for it.")
    if model is not None:
        try:
            model.model_validate(ep.example)
        except ValidationError as exc:
            raise ContractError(
                f"{where}: its example is not a valid {model.__name__}: {exc}"
            ) from None
    return ep.example


def _form_body(ep: Endpoint, schemas: Schemas, defs: dict[str, Any]) -> dict[str, Any]:
    """A multipart form: the form model's fields and the file parts, one inline schema (one
    media type: generators give each media type of a body the same model name)."""
    form: dict[str, Any] = (
        dict(_model_schema(ep.form, schemas, defs)) if ep.form else {"type": "object"}
    )
    form.pop("title", None)  # generators name an untitled inline body after its operation
    props = dict(form.get("properties", {}))
    required = list(form.get("required", []))
    example = dict(_checked_example(ep, ep.form))
    for name, (text, most) in ep.files.items():
        binary = {
            "type": "string",
            "format": "binary",
            "contentMediaType": "application/octet-stream",
        }
        if most == 1:
            props[name] = {**binary, "description": text}
            required.append(name)
            example[name] = f"(a file: {text})"
        else:
            props[name] = {"type": "array", "description": text, "maxItems": most, "items": binary}
            example[name] = [f"(a file: {text})"]
    schema = {**form, "properties": props, "required": required}
    return {"required": True, "content": {MULTIPART: {"schema": schema, "example": example}}}


def _body(ep: Endpoint, schemas: Schemas, defs: dict[str, Any]) -> dict[str, Any] | None:
    if ep.body is not None:
        schema = schemas[(ep.body, "validation")]
        media = {"schema": schema, "example": _checked_example(ep, ep.body)}
        return {"required": True, "content": {"application/json": media}}
    if ep.form is not None or ep.files:
        return _form_body(ep, schemas, defs)
    return None


def _responses(ep: Endpoint, schemas: Schemas) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": ep.summary}
    content: dict[str, Any] = {}
    if ep.response is not None:
        content["application/json"] = {"schema": schemas[(ep.response, "serialization")]}
    if ep.media is not None:  # a non-JSON body instead of, or besides, the JSON one
        binary = {"schema": {"type": "string", "format": "binary"}}
        media = (ep.media,) if isinstance(ep.media, str) else ep.media
        content.update({m: binary for m in media})
    if content:
        ok["content"] = content
    responses: dict[str, Any] = {str(ep.status): ok}
    if ep.status == 201 and ep.method == "PUT":
        responses["200"] = {**ok, "description": "Already so: nothing changed"}
    responses["4XX"] = _problem_response(
        "A client error (problem details with a stable type): 400 invalid input, 401 no or "
        "bad token, 403 not allowed, 404, 409 conflict or in flight, 413, 415, 422, 429 "
        "(with Retry-After)."
    )
    return responses


def _check_operation_ids(endpoints: list[Endpoint]) -> None:
    for ep in endpoints:
        if not _OPERATION_ID.match(ep.operation_id):
            raise ContractError(
                f"{ep.method} {ep.path}: operation_id {ep.operation_id!r} is not a camelCase "
                "verb phrase (listMyReports)."
            )
    repeated = [op for op, n in Counter(ep.operation_id for ep in endpoints).items() if n > 1]
    if repeated:
        raise ContractError(f"operation_id used more than once: {', '.join(sorted(repeated))}.")


def build(endpoints: list[Endpoint], *, title: str, version: str, server: str) -> dict[str, Any]:
    _check_operation_ids(endpoints)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for ep in endpoints:
        for model in (ep.body, ep.form, ep.query):
            if model is not None:
                models.append((model, "validation"))
        if ep.response is not None:
            models.append((ep.response, "serialization"))
    schemas, found = models_json_schema(models, ref_template=REF)
    defs: dict[str, Any] = found.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "operationId": ep.operation_id,
            "summary": ep.summary,
            "tags": [ep.tag],
            "parameters": _parameters(ep, schemas, defs),
            "responses": _responses(ep, schemas),
            "security": [] if ep.access.check is None else [{"bearer": []}],
            "x-access": ep.access.name,
        }
        body = _body(ep, schemas, defs)
        if body is not None:
            op["requestBody"] = body
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The citizen app's API: identity, health code (健康码), reports "
            "(随手拍), one-network services (一网通办), notifications. Errors are RFC 9457 "
            "problem details. Browse it at /docs/api; the OGC API's reference is at /docs/ogc.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": _referenced(defs, paths),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _referenced(defs: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """The schemas the operations use, directly or through each other: a query or form model
    spelled out as parameters or an inline body is not left behind as a schema of its own."""
    wanted = _refs(paths) | {"Problem"}
    todo = list(wanted)
    while todo:
        for name in _refs(defs[todo.pop()]) - wanted:
            wanted.add(name)
            todo.append(name)
    return {name: schema for name, schema in defs.items() if name in wanted}
