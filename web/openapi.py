"""The JSON API's OpenAPI 3.1 document, generated from the app's routes and the pydantic models that validate them.

Nothing is written by hand twice: each ``/api/`` route contributes its path and
method (the URL map), its request body (the model given to ``schemas.accepts``),
who may call it (``instructor_required`` / ``team_required``) and its summary
(the view's docstring). ``GET /api/openapi.json`` serves the document.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel

from crmsim import __version__
from crmsim.web.guard import DATABASE_ID_MAX

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {"field": {"type": "string"}, "rule": {"type": "string"}, "value": {}},
                             "required": ["field", "rule"]}},
    "required": ["error"],
}
PROBLEMS = {
    "type": "object",
    "properties": {"problems": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "rule": {"type": "string"}, "value": {}, "message": {"type": "string"}}}}},
    "required": ["problems"],
}
# answers any route may give, and those that depend on the caller or the body
COMMON = {"413": "the request body is too large", "429": "too many failed sign-in guesses from this address",
          "503": "a storage fault (the database's disk is full, it is read-only or unreachable): nothing was saved"}
WITH_BODY = {"400": "the body is not valid JSON or breaks a rule; the answer names the field"}
SIGNED_IN = {"401": "sign-in required, or the token expired or was revoked"}
WITH_GAME = {"404": "no such game"}
ACTION = {"409": "not now: the game is finished or paused, the period was already resolved, the deadline passed"}
CREATED = {"api.new_game": "201"}
PATH_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def openapi_document(app: Flask) -> dict[str, Any]:
    """The document for every ``api.*`` route of `app`."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR, "Problems": PROBLEMS}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = PATH_PARAM.sub(r"{\2}", rule.rule)
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "crmsim classroom API", "version": __version__,
                 "description": "The classroom server's JSON API (docs/api.md). Sign in with POST /api/login or /api/join "
                                "and send the token as Authorization: Bearer TOKEN."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _operation(rule, view, schemas: dict[str, Any]) -> dict[str, Any]:
    model: type[BaseModel] | None = getattr(view, "request_model", None)
    caller = getattr(view, "caller", None)
    doc = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    answers = {CREATED.get(rule.endpoint, "200"): "done"} | COMMON
    op: dict[str, Any] = {"operationId": rule.endpoint.removeprefix("api."), "summary": doc, "x-crmsim-caller": caller or "anyone"}
    params = [_path_parameter(name) for name in rule.arguments]
    if params:
        op["parameters"] = params
        answers |= WITH_GAME
    if model is not None:
        name = model.__name__
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
        answers |= WITH_BODY
    if caller is not None:
        op["security"] = [{"bearer": []}]
        answers |= SIGNED_IN
        if caller == "team":
            answers |= {"403": "not your game"}
    if rule.methods & {"POST", "PUT"} and caller is not None:
        answers |= ACTION
    if rule.endpoint in ("api.login", "api.join"):
        answers |= {"401": "not the password", "404": "no team has this join code", "409": "this seat is played by a bot"}
    if rule.endpoint == "api.logout":
        answers |= SIGNED_IN
    op["responses"] = {code: _answer(code, text) for code, text in sorted(answers.items())}
    return op


def _path_parameter(name: str) -> dict[str, Any]:
    if not name.endswith("_id"):  # a tender's id: text
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 80}}
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": DATABASE_ID_MAX}}


def _answer(code: str, text: str) -> dict[str, Any]:
    if code.startswith("2"):
        return {"description": text, "content": {"application/json": {"schema": {"type": "object"}}}}
    schema = {"$ref": "#/components/schemas/Error"}
    if code == "400":
        schema = {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/Problems"}]}
    return {"description": text, "content": {"application/json": {"schema": schema}}}
