"""A node under granian's RSGI: the edge endpoints served directly, everything else bridged
to the starlette app, both answering exactly as the app does in process."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runtime.dev import NODE_TARGET
from runtime.processes import LOOPBACK, granian_command
from tests.e2e.conftest import one_region_node


@dataclass
class Node:
    url: str
    issuer: str
    api: httpx.Client  # the Core API of the issuer's account
    issuer_path: str
    basic: str  # client_secret_basic credentials of a client holding `reports:read`
    data_dir: Path


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    data_dir = tmp_path_factory.mktemp("rsgi")

    with one_region_node(data_dir, "Edge") as (process, account_id, issuer, token):
        api = httpx.Client(base_url=process.url, headers={"Authorization": f"Bearer {token}"})
        with api:
            issuer_path = f"/v1/accounts/{account_id}/issuers/{issuer}"
            client = api.post(
                f"{issuer_path}/clients",
                json={"name": "reports", "type": "m2m", "scopes": ["reports:read"]},
            ).json()
            secret = api.post(
                f"{issuer_path}/clients/{client['id']}/verifiers", json={"type": "secret"}
            ).json()["secret"]
            basic = base64.b64encode(f"{client['id']}:{secret}".encode()).decode()
            yield Node(process.url, issuer, api, issuer_path, f"Basic {basic}", data_dir)


def raw_exchange(url: str, request: bytes) -> bytes:
    """Send bytes as they are (chunked bodies, repeated headers) and read the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def chunked(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: node", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("Transfer-Encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    chunks = b"".join(
        f"{len(body[i : i + 4096]):x}\r\n".encode() + body[i : i + 4096] + b"\r\n"
        for i in range(0, len(body), 4096)
    )
    return head + chunks + b"0\r\n\r\n"


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_edge_and_bridged_answers_name_the_region_with_their_own_headers(node: Node) -> None:
    jwks = httpx.get(f"{node.url}/{node.issuer}/jwks.json")
    assert jwks.status_code == 200
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    assert jwks.headers["cache-control"] == "public, max-age=300"
    assert jwks.headers["authpi-region"] == "fra"
    assert len(jwks.json()["keys"]) == 2
    discovery = httpx.get(f"{node.url}/{node.issuer}/.well-known/openid-configuration")
    assert discovery.headers["authpi-region"] == "fra"
    assert discovery.json()["jwks_uri"].endswith(f"/{node.issuer}/jwks.json")
    issued = httpx.post(
        f"{node.url}/{node.issuer}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": node.basic},
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    assert issued.headers["authpi-region"] == "fra"
    introspected = httpx.post(
        f"{node.url}/{node.issuer}/introspect",
        data={"token": issued.json()["access_token"]},
        headers={"Authorization": node.basic},
    )
    assert introspected.json()["active"] is True


def test_a_chunked_token_request_is_read_whole(node: Node) -> None:
    answer = raw_exchange(
        node.url,
        chunked(
            f"/{node.issuer}/token",
            b"grant_type=client_credentials&scope=reports%3Aread",
            {"Authorization": node.basic, "Content-Type": "application/x-www-form-urlencoded"},
        ),
    )
    status, body = status_and_body(answer)
    assert status == 200, body
    assert b'"scope":"reports:read"' in body


@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_token_request_is_refused_whether_its_length_is_declared_or_not(
    node: Node, declared: bool
) -> None:
    body = b"grant_type=client_credentials&pad=" + b"a" * 20_000
    headers = {"Authorization": node.basic, "Content-Type": "application/x-www-form-urlencoded"}
    if declared:
        response = httpx.post(f"{node.url}/{node.issuer}/token", content=body, headers=headers)
        status, answer = response.status_code, response.content
    else:
        status, answer = status_and_body(
            raw_exchange(node.url, chunked(f"/{node.issuer}/token", body, headers))
        )
    assert status == 413
    assert b'"error":"invalid_request"' in answer
    assert b"at most 16384 bytes" in answer


def test_two_dpop_headers_are_one_too_many(node: Node) -> None:
    request = (
        f"POST /{node.issuer}/token HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
        f"Authorization: {node.basic}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "DPoP: a.b.c\r\nDPoP: d.e.f\r\nContent-Length: 29\r\n\r\n"
        "grant_type=client_credentials"
    ).encode()
    status, body = status_and_body(raw_exchange(node.url, request))
    assert status == 400
    assert b'"error":"invalid_dpop_proof"' in body
    assert b"send one DPoP header" in body


def test_an_edge_header_that_is_not_ascii_is_refused_not_ignored(node: Node) -> None:
    for header, authorization in ((b"DPoP", node.basic.encode()), (b"Authorization", None)):
        request = (
            f"POST /{node.issuer}/token HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n"
        ).encode()
        if authorization is not None:
            request += b"Authorization: " + authorization + b"\r\n"
        request += header + b": caf\xc3\xa9\r\n\r\ngrant_type=client_credentials"
        status, body = status_and_body(raw_exchange(node.url, request))
        assert status == 400, header
        expected = f"the {header.decode().lower()} header must be visible ASCII"
        assert f'"error":"invalid_request","error_description":"{expected}"'.encode() in body


def test_a_bridged_if_match_that_is_not_ascii_refuses_the_write(node: Node) -> None:
    before = node.api.get(node.issuer_path).json()
    request = (
        f"PATCH {node.issuer_path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
        f"Authorization: {node.api.headers['authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 16\r\n"
    ).encode()
    request += b'If-Match: \xc2\x84\r\n\r\n{"name": "Gone"}'
    status, body = status_and_body(raw_exchange(node.url, request))
    assert status == 400, body
    assert b"invalid-header" in body
    assert node.api.get(node.issuer_path).json() == before


def test_an_unknown_issuer_is_a_problem_on_every_edge_endpoint(node: Node) -> None:
    unknown = "iss_01J00000000000000000000000"
    for method, endpoint in (("GET", "jwks.json"), ("POST", "token"), ("POST", "introspect")):
        response = httpx.request(method, f"{node.url}/{unknown}/{endpoint}")
        assert response.status_code == 404, endpoint
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == f"issuer {unknown} not found"
        assert response.headers["authpi-region"] == "fra"


def test_another_method_on_an_edge_path_goes_to_the_app_and_gets_its_405(node: Node) -> None:
    response = httpx.post(f"{node.url}/{node.issuer}/jwks.json")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert response.headers["content-type"] == "application/problem+json"
    assert httpx.head(f"{node.url}/{node.issuer}/jwks.json").status_code == 200


def test_a_chunked_core_api_write_is_bridged_whole_and_an_oversized_one_stores_nothing(
    node: Node,
) -> None:
    auth = node.api.headers["authorization"]
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    status, body = status_and_body(
        raw_exchange(
            node.url,
            chunked(f"{node.issuer_path}/users", b'{"email": "ada@example.com"}', headers),
        )
    )
    assert status == 201, body
    big = b'{"email": "bob@example.com", "name": "' + b"b" * 70_000 + b'"}'
    status, body = status_and_body(
        raw_exchange(node.url, chunked(f"{node.issuer_path}/users", big, headers))
    )
    assert status == 413
    assert b"payload-too-large" in body
    listed = node.api.get(f"{node.issuer_path}/users").json()["data"]
    assert "bob@example.com" not in [user["email"] for user in listed]


def test_query_strings_reach_the_app_as_sent(node: Node) -> None:
    created = node.api.post(f"{node.issuer_path}/users", json={"email": "grace+q@example.com"})
    assert created.status_code == 201
    found = node.api.get(f"{node.issuer_path}/users?email=Grace%2Bq%40example.com&limit=5")
    assert [user["id"] for user in found.json()["data"]] == [created.json()["id"]]
    refused = node.api.get(f"{node.issuer_path}/users", params={"status": "gone away"})
    assert refused.status_code == 400
    assert refused.json()["parameter"] == "status"


def test_a_node_whose_startup_fails_exits_and_says_why(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    result = subprocess.run(
        granian_command(NODE_TARGET, LOOPBACK, 0),
        env={**os.environ, "FLY_REGION": "fra", "AUTHPI_DATA_DIR": str(not_a_directory)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "lifespan startup failed" in result.stderr


def test_a_node_stopped_with_sigterm_runs_its_shutdown_and_closes_every_database(
    tmp_path: Path,
) -> None:
    with one_region_node(tmp_path, "Stop") as (process, _, _, _):
        assert list(tmp_path.rglob("*.db-wal"))  # open, and written to
    assert process.process is not None
    assert process.process.returncode == 0
    assert list(tmp_path.rglob("*.db-wal")) == []  # SQLite removes a WAL at the last close
