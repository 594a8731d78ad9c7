"""The first Core API slice, in process against a one-region install on real files."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from tests.api.conftest import Install

PROBLEMS = "https://authpi.dev/problems/"
NOTHING_STORED = "SELECT COUNT(*) FROM issuers"


async def create(install: Install, body: Any, **headers: str) -> Any:
    return await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        json=body,
        headers={**install.auth(), **headers},
    )


async def test_an_issuer_is_created_in_the_home_shard_with_its_event(install: Install) -> None:
    response = await create(install, {"name": "Acme EU", "jurisdiction": "eu"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("i_")
    assert body == {
        "object": "issuer",
        "id": body["id"],
        "account_id": install.account_id,
        "name": "Acme EU",
        "status": "active",
        "jurisdiction": "eu",
        "home_region": "fra",
        "issuer_url": f"https://id.example.com/{body['id']}",
        "settings": {
            "access_token_lifetime": 3600,
            "id_token_lifetime": 3600,
            "refresh_token_lifetime": 2_592_000,
            "agent_token_lifetime_max": 900,
            "access_token_signing_alg": "ES256",
            "id_token_signing_alg": "RS256",
            "default_audience": None,
        },
        "created_at": "2026-11-29T12:00:00.123Z",
        "updated_at": "2026-11-29T12:00:00.123Z",
    }
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/accounts/{install.account_id}/issuers/{body['id']}"
    shard = sqlite3.connect(install.data_dir / install.shard.file)
    assert shard.execute("SELECT name FROM issuers").fetchall() == [("Acme EU",)]
    actor = install.token.split(".")[0]
    keys = dict(shard.execute("SELECT alg, kid FROM signing_keys").fetchall())
    assert sorted(keys) == ["ES256", "RS256"]
    assert shard.execute("SELECT type, subject, actor FROM events ORDER BY seq").fetchall() == [
        ("issuer.created", body["id"], actor),
        ("signing_key.created", keys["ES256"], actor),
        ("signing_key.created", keys["RS256"], actor),
    ]
    directory = sqlite3.connect(install.data_dir / "directory.db")
    assert directory.execute(
        "SELECT name, home_region, shard_id, epoch FROM issuers"
    ).fetchall() == [("Acme EU", "fra", install.shard.id, 1)]


async def test_the_created_issuer_can_be_read_back_by_its_account_only(install: Install) -> None:
    created = (await create(install, {"name": "Acme", "jurisdiction": "eu"})).json()
    path = f"/v1/accounts/{install.account_id}/issuers/{created['id']}"
    response = await install.client.get(path, headers=install.auth())
    assert (response.status_code, response.json()) == (200, created)
    other = f"/v1/accounts/{install.other_account_id}/issuers/{created['id']}"
    response = await install.client.get(other, headers=install.auth(install.other_token))
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"issuer {created['id']} not found in account {install.other_account_id}"
    )


async def test_discovery_answers_for_the_new_issuer(install: Install) -> None:
    created = (await create(install, {"name": "Acme", "jurisdiction": "eu"})).json()
    response = await install.client.get(f"/{created['id']}/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.json()["issuer"] == f"https://id.example.com/{created['id']}"
    assert response.json()["jwks_uri"] == f"https://id.example.com/{created['id']}/jwks.json"


async def test_discovery_of_an_unknown_issuer_is_a_404_problem(install: Install) -> None:
    response = await install.client.get("/i_nope/.well-known/openid-configuration")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": PROBLEMS + "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "issuer i_nope not found",
    }


async def test_a_home_region_in_another_region_is_replayed_there_untouched(
    install: Install,
) -> None:
    response = await create(install, {"name": "Acme", "jurisdiction": "eu", "home_region": "ams"})
    assert response.status_code == 421
    assert response.headers["fly-replay"] == "region=ams"
    assert response.json()["detail"] == "this request is served in region ams, not fra"
    assert install.count(NOTHING_STORED) == 0


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            {"name": "Acme", "jurisdiction": "mars"},
            422,
            {
                "type": PROBLEMS + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "invalid fields: jurisdiction",
                "errors": [
                    {
                        "field": "jurisdiction",
                        "message": "must be one of: au, br, ca, eu, in, jp, sg, uk, us, za",
                    }
                ],
            },
        ),
        (
            {"name": "Acme", "jurisdiction": "eu", "home_region": "xyz"},
            422,
            {
                "type": PROBLEMS + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "invalid fields: home_region",
                "errors": [
                    {
                        "field": "home_region",
                        "message": "must be one of: ams, arn, bom, cdg,"
                        " dfw, ewr, fra, gru, iad, jnb, lax, lhr, nrt, ord, sin, sjc, syd, yyz",
                    }
                ],
            },
        ),
        (
            {"name": "Acme", "jurisdiction": "eu", "home_region": "lhr"},
            422,
            {
                "type": PROBLEMS + "out-of-jurisdiction",
                "title": "Region outside the jurisdiction",
                "status": 422,
                "detail": "region 'lhr' is outside jurisdiction 'eu';"
                " allowed regions: ams, arn, cdg, fra",
                "jurisdiction": "eu",
                "allowed_regions": ["ams", "arn", "cdg", "fra"],
            },
        ),
        (
            {"jurisdiction": 7, "name": "", "color": "blue"},
            422,
            {
                "type": PROBLEMS + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "invalid fields: color, name, jurisdiction",
                "errors": [
                    {"field": "color", "message": "unknown field"},
                    {"field": "name", "message": "must not be empty"},
                    {"field": "jurisdiction", "message": "must be a string, got number"},
                ],
            },
        ),
        (
            ["not", "an", "object"],
            422,
            {
                "type": PROBLEMS + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "invalid fields: $",
                "errors": [{"field": "$", "message": "the body must be a JSON object"}],
            },
        ),
        (
            {"name": "A" * 201, "jurisdiction": "eu"},
            422,
            {
                "type": PROBLEMS + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "invalid fields: name",
                "errors": [{"field": "name", "message": "must be at most 200 characters"}],
            },
        ),
        (
            {"name": "Acme", "jurisdiction": "us"},
            409,
            {
                "type": PROBLEMS + "no-shard-available",
                "title": "No shard available",
                "status": 409,
                "detail": "no active shard in dfw, ewr, iad, lax, ord, sjc (jurisdiction 'us');"
                " an operator adds one with `authpi ops shards create --region R`",
                "jurisdiction": "us",
            },
        ),
    ],
)
async def test_bad_input_is_a_precise_problem_and_stores_nothing(
    install: Install, body: Any, status: int, expected: dict[str, Any]
) -> None:
    response = await create(install, body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == expected
    assert install.count(NOTHING_STORED) == 0


async def test_malformed_json_is_a_400(install: Install) -> None:
    response = await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        content=b'{"name": "Acme",',
        headers={**install.auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "malformed-json"
    assert response.json()["detail"].startswith("the body is not valid JSON: ")
    assert install.count(NOTHING_STORED) == 0


async def test_a_body_that_is_not_json_is_a_415(install: Install) -> None:
    response = await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        content=b"name=Acme",
        headers={**install.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["detail"] == (
        "the body must be application/json, got application/x-www-form-urlencoded"
    )


async def test_an_oversized_body_is_a_413(install: Install) -> None:
    response = await create(install, {"name": "Acme", "jurisdiction": "eu", "x": "y" * 70_000})
    assert response.status_code == 413
    assert response.json() == {
        "type": PROBLEMS + "payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": "the body is over the limit of 65536 bytes",
    }
    assert install.count(NOTHING_STORED) == 0


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "an API key is required: Authorization: Bearer key_<id>.<secret>"),
        ("Bearer nonsense", "the API key is not valid"),
        ("Token abc", "unsupported authorization scheme 'Token'; use Bearer"),
        ("Basic !!!", "the API key is not valid"),
    ],
)
async def test_a_missing_or_malformed_key_is_a_401(
    install: Install, authorization: str | None, detail: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        json={"name": "Acme", "jurisdiction": "eu"},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="authpi"'
    assert response.json() == {
        "type": PROBLEMS + "unauthenticated",
        "title": "Unauthenticated",
        "status": 401,
        "detail": detail,
    }
    assert install.count(NOTHING_STORED) == 0


async def test_a_wrong_secret_is_a_401(install: Install) -> None:
    key_id = install.token.split(".")[0]
    response = await create(
        install, {"name": "Acme", "jurisdiction": "eu"}, Authorization=f"Bearer {key_id}.wrong"
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is not valid"
    assert install.count(NOTHING_STORED) == 0


async def test_basic_credentials_work_too(install: Install) -> None:
    key_id, secret = install.token.split(".", 1)
    response = await install.client.post(
        f"/v1/accounts/{install.account_id}/issuers",
        json={"name": "Acme", "jurisdiction": "eu"},
        auth=(key_id, secret),
    )
    assert response.status_code == 201


async def test_another_accounts_key_is_a_403(install: Install) -> None:
    response = await create(
        install,
        {"name": "Acme", "jurisdiction": "eu"},
        Authorization=f"Bearer {install.other_token}",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == f"this API key cannot act on account {install.account_id}"
    assert install.count(NOTHING_STORED) == 0


async def test_unknown_routes_and_methods_are_problems(install: Install) -> None:
    response = await install.client.get("/v2/nothing")
    assert (response.status_code, response.json()["type"]) == (404, PROBLEMS + "not-found")
    response = await install.client.delete(f"/v1/accounts/{install.account_id}/issuers")
    assert response.status_code == 405
    assert response.json()["detail"] == (
        f"DELETE is not allowed on /v1/accounts/{install.account_id}/issuers"
    )
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_health_names_the_region(install: Install) -> None:
    response = await install.client.get("/health")
    assert response.status_code == 200
    assert response.headers["authpi-region"] == "fra"
    assert response.json()["region"] == "fra"


async def test_an_idempotency_key_creates_one_issuer_under_concurrency(install: Install) -> None:
    body = {"name": "Once", "jurisdiction": "eu"}
    responses = await asyncio.gather(
        *(create(install, body, **{"Idempotency-Key": "issuer-once"}) for _ in range(10))
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum(r.headers.get("idempotency-replayed") == "true" for r in responses) == 9
    assert (
        install.count("SELECT COUNT(*) FROM issuers WHERE name = 'Once'") == 2
    )  # shard + directory
    reused = await create(install, {**body, "name": "Other"}, **{"Idempotency-Key": "issuer-once"})
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    assert install.count("SELECT COUNT(*) FROM issuers WHERE name = 'Other'") == 0
