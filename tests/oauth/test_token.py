"""client_credentials for agents and clients, answered from the edge snapshot."""

from __future__ import annotations

import pytest

from tests.oauth.conftest import BASE, OAuthSetup, Principal, basic


async def test_an_agent_gets_a_five_minute_rfc_9068_token(oauth: OAuthSetup) -> None:
    response = await oauth.token(scope="tickets:read")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "tickets:read"
    assert "refresh_token" not in body
    claims = await oauth.verified(body["access_token"])
    assert claims["iss"] == f"{BASE}/{oauth.issuer.id}"
    assert claims["sub"] == claims["client_id"] == oauth.agent.id
    assert claims["aud"] == f"{BASE}/{oauth.issuer.id}"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["scope"] == "tickets:read"
    assert claims["jti"]


async def test_without_scope_the_token_carries_every_scope_held(oauth: OAuthSetup) -> None:
    claims = await oauth.verified(await oauth.access_token())
    assert claims["scope"] == "tickets:read tickets:write"


async def test_a_client_authenticates_with_post_and_its_lifetime_is_capped(
    oauth: OAuthSetup,
) -> None:
    response = await oauth.post(
        "token",
        {
            "grant_type": "client_credentials",
            "client_id": oauth.client.id,
            "client_secret": oauth.client.secret,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 3600
    claims = await oauth.verified(response.json()["access_token"])
    assert claims["sub"] == oauth.client.id


async def test_basic_credentials_are_url_decoded(oauth: OAuthSetup) -> None:
    encoded_id = oauth.agent.id.replace("_", "%5F")
    response = await oauth.post(
        "token",
        {"grant_type": "client_credentials"},
        headers={"Authorization": basic(encoded_id, oauth.agent.secret).replace("%", "%25")},
    )
    assert response.status_code == 401  # a double-encoded id names no client
    import base64

    pair = base64.b64encode(f"{encoded_id}:{oauth.agent.secret}".encode()).decode()
    response = await oauth.post(
        "token", {"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {pair}"}
    )
    assert response.status_code == 200, response.text


async def test_resource_sets_the_audience(oauth: OAuthSetup) -> None:
    token = await oauth.access_token(resource="https://api.example.com/")
    assert (await oauth.verified(token))["aud"] == "https://api.example.com/"
    response = await oauth.token(resource="not-a-uri")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


def _error(response: object) -> tuple[int, str]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["error"]


async def test_wrong_and_unknown_credentials_are_invalid_client(oauth: OAuthSetup) -> None:
    wrong = await oauth.token(Principal(oauth.agent.id, "not-the-secret"))
    assert _error(wrong) == (401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic realm=")
    unknown = await oauth.token(Principal("agt_01jd8k2v6m4q9x7c3n5b8r2t0w", "x"))
    assert _error(unknown) == (401, "invalid_client")
    missing = await oauth.post("token", {"grant_type": "client_credentials"})
    assert _error(missing) == (401, "invalid_client")


async def test_a_disabled_agent_gets_no_token_at_once(oauth: OAuthSetup) -> None:
    await oauth.access_token()
    response = await oauth.issuer.patch(f"/agents/{oauth.agent.id}", {"status": "disabled"})
    assert response.status_code == 200
    refused = await oauth.token()
    assert _error(refused) == (401, "invalid_client")
    assert "disabled" in refused.json()["error_description"]


async def test_a_deleted_verifier_stops_working_at_once(oauth: OAuthSetup) -> None:
    listed = await oauth.issuer.get(f"/agents/{oauth.agent.id}/verifiers")
    (verifier,) = listed.json()["data"]
    await oauth.access_token()
    deleted = await oauth.issuer.delete(f"/agents/{oauth.agent.id}/verifiers/{verifier['id']}")
    assert deleted.status_code == 204
    assert _error(await oauth.token()) == (401, "invalid_client")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"scope": "admin"}, (400, "invalid_scope")),
        ({"scope": "tickets:read  tickets:write"}, (400, "invalid_scope")),
        ({"grant_type": "password"}, (400, "unsupported_grant_type")),
        ({"grant_type": "authorization_code"}, (400, "unsupported_grant_type")),
        ({"organization": "org_01jd8k2v6m4q9x7c3n5b8r2t0w"}, (400, "invalid_request")),
    ],
)
async def test_refusals_are_the_rfc_6749_error(
    oauth: OAuthSetup, params: dict[str, str], expected: tuple[int, str]
) -> None:
    assert _error(await oauth.token(None, **params)) == expected


async def test_a_client_without_the_grant_is_unauthorized(oauth: OAuthSetup) -> None:
    web = await oauth.issuer.create(
        "/clients",
        {"name": "web", "type": "web", "redirect_uris": ["https://app.example.com/cb"]},
    )
    secret = await oauth.issuer.create(f"/clients/{web['id']}/verifiers", {"type": "secret"})
    response = await oauth.token(Principal(web["id"], secret["secret"]))
    assert _error(response) == (400, "unauthorized_client")


async def test_malformed_requests(oauth: OAuthSetup) -> None:
    auth = {"Authorization": basic(oauth.agent.id, oauth.agent.secret)}
    no_grant = await oauth.post("token", {}, headers=auth)
    assert _error(no_grant) == (400, "invalid_request")
    twice = await oauth.http.post(
        f"/{oauth.issuer.id}/token",
        content=b"grant_type=client_credentials&scope=a&scope=b",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert _error(twice) == (400, "invalid_request")
    assert "more than once" in twice.json()["error_description"]
    as_json = await oauth.http.post(
        f"/{oauth.issuer.id}/token", json={"grant_type": "client_credentials"}, headers=auth
    )
    assert _error(as_json) == (400, "invalid_request")
    huge = await oauth.post("token", {"grant_type": "client_credentials", "x": "a" * 20_000})
    assert _error(huge) == (413, "invalid_request")
    both = await oauth.post(
        "token",
        {"grant_type": "client_credentials", "client_secret": oauth.agent.secret},
        headers=auth,
    )
    assert _error(both) == (400, "invalid_request")
    wrong_method = await oauth.http.get(f"/{oauth.issuer.id}/token")
    assert wrong_method.status_code == 405


async def test_an_unknown_issuer_is_404(oauth: OAuthSetup) -> None:
    response = await oauth.http.post(
        "/i_01jd8k2v6m4q9x7c3n5b8r2t0w/token", data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 404


async def test_an_agent_token_carries_its_organization_unless_suspended(
    oauth: OAuthSetup,
) -> None:
    org = await oauth.issuer.organization("Globex")
    membership = await oauth.issuer.create(
        f"/organizations/{org['id']}/memberships",
        {"member_id": oauth.agent.id, "scopes": ["billing:read"]},
    )
    claims = await oauth.verified(await oauth.access_token())
    assert claims["org"] == {
        "id": org["id"],
        "membership_id": membership["id"],
        "status": "active",
        "scopes": ["billing:read"],
    }
    assert claims["scope"] == "tickets:read tickets:write billing:read"
    await oauth.issuer.patch(f"/organizations/{org['id']}", {"status": "suspended"})
    claims = await oauth.verified(await oauth.access_token())
    assert "org" not in claims
    assert claims["scope"] == "tickets:read tickets:write"
    refused = await oauth.token(scope="billing:read")
    assert _error(refused) == (400, "invalid_scope")
