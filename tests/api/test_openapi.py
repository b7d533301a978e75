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
