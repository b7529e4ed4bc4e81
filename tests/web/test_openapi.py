"""The JSON API's OpenAPI document (GET /api/openapi.json) and schemathesis against it: 0 server errors.

The document is generated from the routes and the pydantic models that
validate the requests (web/openapi.py, web/schemas.py), so these tests also
check that the two cannot drift apart. Schemathesis runs offline against the
app itself (WSGI), as the instructor for the instructor's calls and as a team
of game 1 for the team's, with positive and negative (schema-breaking) data.
"""

from __future__ import annotations

import re

import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe import TALLY  # noqa: E402

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the app's logic, once; the suite has PostgreSQL


@SQLITE
def test_the_document_lists_every_api_route_with_the_model_that_validates_it(app):
    from crmsim.web.schemas import NewGameBody

    doc = app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), m.lower()) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert listed == routes
    new_game = doc["paths"]["/api/games"]["post"]
    assert new_game["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewGameBody"}
    assert doc["components"]["schemas"]["NewGameBody"] == NewGameBody.model_json_schema(ref_template="#/components/schemas/{model}")
    assert new_game["security"] == [{"bearer": []}] and {"201", "400", "401"} <= set(new_game["responses"])
    assert "security" not in doc["paths"]["/api/games"]["get"]
    assert doc["paths"]["/api/team/draft"]["put"]["x-crmsim-caller"] == "team"


@SQLITE
def test_a_body_the_model_refuses_is_a_400_naming_the_field(app, helpers):
    c = app.test_client()
    inst = helpers.bearer(helpers.instructor_token(c))
    r = c.post("/api/games", json={"scenario": "classroom-v1", "seeds": 3}, headers=inst)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "seeds" and "unknown field" in r.get_json()["error"]["rule"]
    r = c.post("/api/games", json={"scenario": "classroom-v1", "seed": True}, headers=inst)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "seed"


# ---------------------------------------------------------------------------
# schemathesis


def world(app, helpers) -> dict[str, dict[str, str]]:
    """Game 1 (classroom-v1) with team 0 joined: the headers each kind of caller sends."""
    c = app.test_client()
    inst = helpers.instructor_token(c)
    game = helpers.api_create_game(c, inst, seed=7)
    team = helpers.api_join(c, game["join_codes"]["0"])["token"]
    return {"instructor": helpers.bearer(inst), "team": helpers.bearer(team), "anyone": {}}


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])


@SQLITE
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_schemathesis_finds_no_server_error(app, helpers, mode):
    """Every operation of the document, with data that fits its schemas (positive) and data that breaks them (negative).

    (Driven through schemathesis' Python API, one hypothesis run per operation; sign-out runs last.)"""
    headers = world(app, helpers)
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = sorted((result.ok() for result in api.get_all_operations()), key=lambda op: op.path.endswith("/logout"))
    assert len(operations) >= 20
    for operation in operations:
        caller = operation.definition.raw.get("x-crmsim-caller", "anyone")
        if mode is GenerationMode.NEGATIVE and not (len(operation.body) or len(operation.path_parameters)):
            continue  # nothing in the request to break

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case):
            response = case.call(headers=headers[caller])
            TALLY.requests += 1
            if response.status_code >= 500:
                TALLY.server_errors += 1
            case.validate_response(response, checks=CHECKS)

        call()
