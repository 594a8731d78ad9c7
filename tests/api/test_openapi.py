from __future__ import annotations

from pathlib import Path

from api.openapi import render
from tests.api.conftest import Install

CHECKED_IN = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_checked_in_document_matches_the_schemas() -> None:
    assert CHECKED_IN.read_bytes() == render(), (
        "docs/openapi.json is stale: run `python -m api.openapi > docs/openapi.json`"
    )


async def test_every_node_serves_the_document(install: Install) -> None:
    response = await install.client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.content == render()


def test_every_operation_has_an_id_a_summary_and_examples() -> None:
    import orjson

    document = orjson.loads(render())
    ids = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            ids.append(operation["operationId"])
            assert operation["summary"], (method, path)
            examples = [
                media.get("example")
                for part in [operation.get("requestBody", {}), *operation["responses"].values()]
                for media in part.get("content", {}).values()
            ]
            examples += [parameter.get("example") for parameter in operation["parameters"]]
            assert any(example is not None for example in examples), (method, path)
    assert len(ids) == len(set(ids))


def test_every_core_api_route_is_in_the_document() -> None:
    import orjson

    from runtime.app import routes

    documented = orjson.loads(render())["paths"]
    for route in routes():
        if not route.path.startswith("/v1/accounts/"):
            continue
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        assert methods <= set(documented.get(route.path, {})), route.path
