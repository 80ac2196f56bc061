"""The OpenAPI 3.1 document of ``/api/v1``, generated from the endpoint declarations and their
pydantic models (JSON Schema 2020-12, which OpenAPI 3.1 uses as is). A committed copy
(``mobile_api/openapi.json``) is diffed against it by a test."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mobile_api.contract import Endpoint, Problem

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
_PARAM = re.compile(r"{(\w+)}")


def _problem_response(text: str) -> dict[str, Any]:
    return {"description": text,
            "content": {PROBLEM: {"schema": {"$ref": REF.format(model="Problem")}}}}  # fmt: skip


def _parameters(ep: Endpoint, schemas: dict[Any, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for name in _PARAM.findall(ep.path)
    ]  # fmt: skip
    if ep.query is not None:
        schema = schemas[(ep.query, "validation")]
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required,
                                     "schema": prop}  # fmt: skip
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    if ep.idempotent:
        params.append({
            "name": "Idempotency-Key", "in": "header", "required": True,
            "description": "Unique per intended operation; a retry with the same key and body "
                           "returns the first response and creates nothing.",
            "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
        })  # fmt: skip
    return params


def _body(ep: Endpoint, schemas: dict[Any, Any]) -> dict[str, Any] | None:
    if ep.body is not None:
        return {"required": True, "content": {"application/json": {
            "schema": schemas[(ep.body, "validation")]}}}  # fmt: skip
    if ep.form is not None or ep.files:
        form: dict[str, Any] = (
            dict(schemas[(ep.form, "validation")]) if ep.form else {"type": "object"}
        )
        props = dict(form.get("properties", {}))
        required = list(form.get("required", []))
        for name, (text, most) in ep.files.items():
            binary = {"type": "string", "format": "binary",
                      "contentMediaType": "application/octet-stream"}  # fmt: skip
            if most == 1:
                props[name] = {**binary, "description": text}
                required.append(name)
            else:
                props[name] = {"type": "array", "description": text, "maxItems": most,
                               "items": binary}  # fmt: skip
        content = {"multipart/form-data": {"schema": {**form, "properties": props,
                                                      "required": required}}}  # fmt: skip
        if ep.form is not None and not required[len(form.get("required", [])) :]:
            content["application/x-www-form-urlencoded"] = {"schema": form}
        return {"required": True, "content": content}
    return None


def _responses(ep: Endpoint, schemas: dict[Any, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": ep.summary}
    if ep.response is not None:
        ok["content"] = {"application/json": {"schema": schemas[(ep.response, "serialization")]}}
    elif ep.media is not None:
        ok["content"] = {ep.media: {"schema": {"type": "string", "format": "binary"}}}
    responses: dict[str, Any] = {str(ep.status): ok}
    if ep.status == 201 and ep.method == "PUT":
        responses["200"] = {**ok, "description": "Already so: nothing changed"}
    responses["4XX"] = _problem_response(
        "A client error (problem details with a stable type): 400 invalid input, 401 no or "
        "bad token, 403 not allowed, 404, 409 conflict or in flight, 413, 415, 422, 429 "
        "(with Retry-After)."
    )
    return responses


def build(endpoints: list[Endpoint], *, title: str, version: str, server: str) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for ep in endpoints:
        for model in (ep.body, ep.form, ep.query):
            if model is not None:
                models.append((model, "validation"))
        if ep.response is not None:
            models.append((ep.response, "serialization"))
    schemas, defs = models_json_schema(models, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "operationId": ep.operation_id,
            "summary": ep.summary,
            "tags": [ep.tag],
            "parameters": _parameters(ep, schemas),
            "responses": _responses(ep, schemas),
            "security": [] if ep.access.check is None else [{"bearer": []}],
            "x-access": ep.access.name,
        }
        body = _body(ep, schemas)
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
            "problem details.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
