"""The OpenAPI document is readable by a PLC integrator or a quality engineer."""

from __future__ import annotations

from typing import Any


def test_every_operation_is_named_summarised_tagged_and_documents_its_errors(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    operation_ids = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op.get("operationId"), f"{method} {path} has no operationId"
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op.get("tags"), f"{method} {path} has no tag"
            operation_ids.append(op["operationId"])
            if method in ("post", "put") or "{" in path:
                assert any(code.startswith("4") for code in op["responses"]), f"{method} {path}: no 4xx documented"
    assert len(operation_ids) == len(set(operation_ids))
    assert {"startOperation", "completeOperation", "getBirthRecord", "reverseGenealogy", "holdByComponent"} <= set(
        operation_ids
    )


def test_result_fields_carry_descriptions(client: Any) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    complete = schemas["CompleteRequest"]
    assert "idempotent" in complete["description"]
    assert complete["properties"]["result_id"]["description"]
    value = schemas["MeasurementIn"]["properties"]["value"]
    assert "null" in value["description"] and "not measured" in value["description"]
    assert schemas["Problem"]["description"].startswith("RFC 9457")


def test_error_responses_are_documented_as_the_problem_documents_they_are(client: Any) -> None:
    """Found by schemathesis: errors were documented as application/json, served as application/problem+json."""
    doc = client.get("/openapi.json").json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")) and "content" in response:
                    assert response["content"] == problem, f"{method} {path} {status}"
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's body, which is never sent
    response = client.get("/api/v1/units?limit=0")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
