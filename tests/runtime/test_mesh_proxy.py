"""The local mesh proxy, end to end: three echo nodes (fra, iad, jnb) and the proxy, each a
real granian process on loopback. Problems the proxy reaches without a healthy node are tested
in-process; so are the fly-replay parser and the settings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from runtime.mesh import MeshConfigError, MeshNode, ProxySettings, create_proxy
from runtime.mesh.replay import (
    InvalidReplayHeader,
    ReplayInstruction,
    choose_replay_target,
    parse_replay_header,
)
from tests.runtime.mesh_proxy_app import locate
from tests.support.processes import Server, free_port

REGIONS = ("fra", "iad", "jnb")
MiB = 1024 * 1024
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for region in REGIONS:
            env = {"ECHO_REGION": region, "ECHO_INSTANCE": f"{region}-1"}
            servers[region] = Server("tests.runtime.mesh_echo_app:create_echo_app", env).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def proxy(nodes: dict[str, Server]) -> Iterator[Server]:
    listed = ",".join(f"{region}={region}-1@{nodes[region].url}" for region in REGIONS)
    server = Server("tests.runtime.mesh_proxy_app:create_test_proxy", {"AUTHPI_MESH_NODES": listed})
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(proxy: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, trust_env=False) as client:
        yield client


def seen(response: httpx.Response) -> dict[str, Any]:
    """What the node that answered received."""
    echoed: dict[str, Any] = response.json()
    echoed["headers"] = dict(echoed["headers"])
    return echoed


def problem(slug: str, title: str, status: int, detail: str) -> dict[str, Any]:
    return {
        "type": f"https://authpi.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }


# Entry


def test_without_a_location_the_request_enters_at_the_first_node(client: httpx.Client) -> None:
    response = client.get("/hello", params={"a": "1"})
    assert response.status_code == 200
    assert response.headers["x-authpi-mesh-path"] == "fra"
    assert seen(response)["region"] == "fra"
    assert seen(response)["headers"]["fly-region"] == "fra"


@pytest.mark.parametrize(("location", "region"), [("LOS", "jnb"), ("JFK", "iad"), ("fra", "fra")])
def test_the_client_location_chooses_the_entry_node(
    client: httpx.Client, location: str, region: str
) -> None:
    response = client.get("/hello", headers={"X-Client-Location": location})
    assert response.status_code == 200
    assert response.headers["x-authpi-mesh-path"] == region
    assert seen(response)["region"] == region
    assert seen(response)["headers"]["fly-region"] == region
    assert "x-client-location" not in seen(response)["headers"]


def test_an_unknown_location_is_a_400_problem(client: httpx.Client) -> None:
    response = client.get("/hello", headers={"X-Client-Location": "ZZZ"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == problem(
        "unknown-location",
        "Unknown client location",
        400,
        "X-Client-Location 'ZZZ' is not a location the mesh can place.",
    )
    assert response.headers["x-authpi-mesh-path"] == ""
    assert response.headers["fly-request-id"]


# Headers


def test_the_node_gets_fly_headers_from_the_proxy_not_the_client(client: httpx.Client) -> None:
    forged = {
        "X-Client-Location": "JFK",
        "Fly-Region": "zzz",
        "Fly-Request-Id": "forged",
        "Fly-Client-IP": "203.0.113.9",
        "Fly-Forwarded-Port": "1",
        "fly-replay-src": "instance=evil-1;region=zzz;t=1",
    }
    response = client.get("/hello", headers=forged)
    headers = seen(response)["headers"]
    assert headers["fly-region"] == "iad"
    assert headers["fly-request-id"] == response.headers["fly-request-id"] != "forged"
    assert headers["fly-client-ip"] == "127.0.0.1"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    for name in ("fly-forwarded-port", "fly-replay-src", "x-client-location"):
        assert name not in headers


def test_every_request_gets_a_fresh_request_id(client: httpx.Client) -> None:
    first, second = client.get("/a"), client.get("/a")
    assert first.headers["fly-request-id"] != second.headers["fly-request-id"]


def test_end_to_end_headers_pass_and_hop_by_hop_headers_do_not(client: httpx.Client) -> None:
    response = client.get(
        "/hello",
        headers={
            "Host": "tenant.example",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "1",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "X-Custom": "kept",
        },
    )
    headers = seen(response)["headers"]
    assert headers["host"] == "tenant.example"
    assert headers["x-custom"] == "kept"
    for name in ("x-hop", "keep-alive", "proxy-authorization"):
        assert name not in headers


def test_the_response_passes_through(client: httpx.Client) -> None:
    response = client.get("/status/418")
    assert response.status_code == 418
    assert response.headers["x-echo-instance"] == "fra-1"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["content-type"] == "application/json"
    assert seen(response)["path"] == "/status/418"


# Replays


def test_a_replay_sends_the_same_request_to_the_region_named(client: httpx.Client) -> None:
    before = time.time_ns() // 1000
    response = client.post(
        "/orders",
        params={"b": "2", "a": "1"},
        content=b'{"item": 7}',
        headers={"X-Client-Location": "LOS", "X-Echo-Replay": "region=fra;state=home-write"},
    )
    assert response.status_code == 200
    assert response.headers["x-authpi-mesh-path"] == "jnb,fra"
    echoed = seen(response)
    assert (echoed["region"], echoed["method"], echoed["path"]) == ("fra", "POST", "/orders")
    assert (echoed["query"], echoed["body"]) == ("b=2&a=1", '{"item": 7}')
    assert echoed["headers"]["fly-region"] == "jnb"
    assert echoed["headers"]["fly-request-id"] == response.headers["fly-request-id"]
    source = dict(field.split("=", 1) for field in echoed["headers"]["fly-replay-src"].split(";"))
    assert source.keys() == {"instance", "region", "t", "state"}
    assert (source["instance"], source["region"], source["state"]) == ("jnb-1", "jnb", "home-write")
    assert before <= int(source["t"]) <= time.time_ns() // 1000
    assert "fly-replay" not in response.headers


@pytest.mark.parametrize(
    ("location", "replay", "path"),
    [
        ("LOS", 'region="syd,iad,fra"', "jnb,iad"),
        ("FRA", "instance=jnb-1", "fra,jnb"),
        ("LOS", "elsewhere=true", "jnb,fra"),
        ("FRA", "elsewhere=true", "fra,iad"),
        ("JFK", "region=iad;elsewhere=true;instance=iad-1", None),
    ],
)
def test_replay_targets(client: httpx.Client, location: str, replay: str, path: str | None) -> None:
    response = client.get("/x", headers={"X-Client-Location": location, "X-Echo-Replay": replay})
    if path is None:
        assert response.status_code == 503
    else:
        assert response.headers["x-authpi-mesh-path"] == path
        assert seen(response)["region"] == path.split(",")[-1]


def test_a_replay_loop_is_cut_at_the_limit(client: httpx.Client) -> None:
    response = client.get("/x", headers={"X-Echo-Replay-Always": "elsewhere=true"})
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == problem(
        "replay-limit",
        "Too many replays",
        502,
        "The request was replayed 5 times, the most the mesh allows; "
        "it went through fra,iad,fra,iad,fra,iad.",
    )
    assert response.headers["x-authpi-mesh-path"] == "fra,iad,fra,iad,fra,iad"


def test_a_body_over_1_mib_cannot_be_replayed(client: httpx.Client) -> None:
    response = client.put(
        "/upload",
        content=b"x" * (MiB + 1),
        headers={"X-Client-Location": "LOS", "X-Echo-Replay": "region=fra"},
    )
    assert response.status_code == 413
    assert response.json() == problem(
        "replay-body-too-large",
        "Request body too large to replay",
        413,
        "Node jnb-1 asked for a replay, but the request body of 1048577 bytes "
        "is larger than the 1048576 bytes a replay can carry.",
    )
    assert response.headers["x-authpi-mesh-path"] == "jnb"


def test_a_body_of_1_mib_is_replayed(client: httpx.Client) -> None:
    response = client.put(
        "/upload",
        content=b"x" * MiB,
        headers={"X-Client-Location": "LOS", "X-Echo-Replay": "region=fra"},
    )
    assert response.headers["x-authpi-mesh-path"] == "jnb,fra"
    assert seen(response)["body_bytes"] == MiB


def test_a_body_over_1_mib_is_forwarded_when_no_replay_is_asked(client: httpx.Client) -> None:
    response = client.put("/upload", content=b"x" * (2 * MiB))
    assert response.status_code == 200
    assert seen(response)["body_bytes"] == 2 * MiB


def test_a_replay_to_a_region_without_a_node_is_a_503_problem(client: httpx.Client) -> None:
    response = client.get("/x", headers={"X-Echo-Replay": "region=syd"})
    assert response.status_code == 503
    assert response.json() == problem(
        "replay-target-unavailable",
        "No node for the replay target",
        503,
        "Node fra-1 asked for a replay to a node in region 'syd', but no configured node matches.",
    )
    assert response.headers["x-authpi-mesh-path"] == "fra"


def test_a_replay_to_an_unknown_instance_is_a_503_problem(client: httpx.Client) -> None:
    response = client.get("/x", headers={"X-Echo-Replay": "instance=fra-9"})
    assert response.json()["detail"] == (
        "Node fra-1 asked for a replay to instance 'fra-9', but no configured node matches."
    )


def test_a_malformed_replay_header_is_a_502_problem(client: httpx.Client) -> None:
    response = client.get("/x", headers={"X-Echo-Replay": "app=billing"})
    assert response.status_code == 502
    assert response.json() == problem(
        "invalid-replay-header",
        "Invalid fly-replay header",
        502,
        "Node fra-1 answered fly-replay 'app=billing': "
        "field 'app' is not supported by the mesh proxy.",
    )


# Internal paths


@pytest.mark.parametrize("path", ["/_internal/snapshots", "/_internal", "/%5Finternal/x"])
def test_internal_paths_are_not_forwarded(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-authpi-mesh-path"] == ""


def test_an_internal_path_is_a_404_problem(client: httpx.Client) -> None:
    response = client.post("/_internal/snapshots", content=b"{}")
    assert response.json() == problem(
        "not-found",
        "Not found",
        404,
        "/_internal/snapshots is under /_internal/, which only nodes may call.",
    )


# Without a healthy node (in-process proxy)


@asynccontextmanager
async def in_process(*nodes: MeshNode, **limits: Any) -> AsyncIterator[httpx.AsyncClient]:
    proxy = create_proxy(ProxySettings(nodes=nodes, **limits), locate=locate)
    transport = httpx.ASGITransport(app=proxy)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mesh") as client:
            yield client
    finally:
        await proxy.aclose()


async def test_an_unreachable_node_is_a_502_problem() -> None:
    down = MeshNode("fra", "fra-1", f"http://127.0.0.1:{free_port()}")
    async with in_process(down) as client:
        response = await client.get("/hello")
    assert response.status_code == 502
    assert response.json() == problem(
        "upstream-unreachable",
        "Node unreachable",
        502,
        "Node fra-1 in region fra could not be reached.",
    )


async def test_a_node_that_does_not_answer_in_time_is_a_504_problem(
    nodes: dict[str, Server],
) -> None:
    slow = MeshNode("fra", "fra-1", nodes["fra"].url)
    async with in_process(slow, upstream_timeout_seconds=0.2) as client:
        response = await client.get("/slow", params={"seconds": "2"})
    assert response.status_code == 504
    assert response.json() == problem(
        "upstream-timeout",
        "Node timed out",
        504,
        "Node fra-1 in region fra did not answer within 0.2 s.",
    )


async def test_a_body_over_the_proxy_limit_is_a_413_problem() -> None:
    node = MeshNode("fra", "fra-1", f"http://127.0.0.1:{free_port()}")
    async with in_process(node, max_body_bytes=1000) as client:
        response = await client.post("/upload", content=b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == problem(
        "request-too-large",
        "Request body too large",
        413,
        "The request body is larger than the 1000 bytes the mesh accepts.",
    )


# The fly-replay header


@pytest.mark.parametrize(
    ("value", "instruction"),
    [
        ("region=fra", ReplayInstruction(regions=("fra",))),
        ('region="fra,ams"', ReplayInstruction(regions=("fra", "ams"))),
        ("region=fra, ams", ReplayInstruction(regions=("fra", "ams"))),
        ("instance=fra-1", ReplayInstruction(instance="fra-1")),
        ("elsewhere=true", ReplayInstruction(elsewhere=True)),
        (
            'Region=iad; state="a;b=c" ;',
            ReplayInstruction(regions=("iad",), state="a;b=c"),
        ),
    ],
)
def test_parse_replay_header(value: str, instruction: ReplayInstruction) -> None:
    assert parse_replay_header(value) == instruction


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "the header is empty"),
        ("fra", "field 'fra' is not name=value"),
        ("region=", "region must list one or more region codes"),
        ("region=fra,,ams", "region must list one or more region codes"),
        ("instance=", "instance is empty"),
        ("elsewhere=yes", "elsewhere must be true or false, not 'yes'"),
        ("state=x", "names no target (region, instance or elsewhere=true)"),
        ("elsewhere=false", "names no target (region, instance or elsewhere=true)"),
        ("region=fra;region=iad", "field 'region' is given twice"),
        ("colour=red", "unknown field 'colour'"),
        ("prefer_instance=fra-1", "field 'prefer_instance' is not supported by the mesh proxy"),
        ('region="fra', "a quoted value is not closed"),
    ],
)
def test_parse_replay_header_refuses(value: str, reason: str) -> None:
    with pytest.raises(InvalidReplayHeader) as raised:
        parse_replay_header(value)
    assert raised.value.reason == reason


def test_replay_regions_are_tried_in_the_order_given() -> None:
    fra, ams = MeshNode("fra", "fra-1", "http://a"), MeshNode("ams", "ams-1", "http://b")
    instruction = ReplayInstruction(regions=("syd", "ams", "fra"))
    assert choose_replay_target(instruction, (fra, ams), answered_by=fra) == ams


# Settings


def test_settings_from_environ() -> None:
    settings = ProxySettings.from_environ(
        {"AUTHPI_MESH_NODES": "fra=fra-1@http://127.0.0.1:8101/, iad=iad-1@http://127.0.0.1:8102"}
    )
    assert settings.nodes == (
        MeshNode("fra", "fra-1", "http://127.0.0.1:8101"),
        MeshNode("iad", "iad-1", "http://127.0.0.1:8102"),
    )
    assert (settings.max_replays, settings.max_replay_body_bytes) == (5, MiB)
    assert settings.max_body_bytes == 10 * MiB


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "",
            "AUTHPI_MESH_NODES is not set: list the nodes as region=instance@url, "
            "e.g. fra=fra-1@http://127.0.0.1:8101",
        ),
        (
            "fra@http://127.0.0.1:8101",
            "AUTHPI_MESH_NODES entry 'fra@http://127.0.0.1:8101' is not of the form "
            "region=instance@url, e.g. fra=fra-1@http://127.0.0.1:8101",
        ),
        (
            "FRA=fra-1@http://127.0.0.1:8101",
            "AUTHPI_MESH_NODES entry 'FRA=fra-1@http://127.0.0.1:8101': region 'FRA' is not a "
            "three-letter lowercase Fly.io region code",
        ),
        (
            "fra=fra-1@127.0.0.1:8101",
            "AUTHPI_MESH_NODES entry 'fra=fra-1@127.0.0.1:8101': url '127.0.0.1:8101' is not of "
            "the form http(s)://host[:port], with no path, query or fragment",
        ),
        (
            "fra=fra-1@http://127.0.0.1:81x",
            "AUTHPI_MESH_NODES entry 'fra=fra-1@http://127.0.0.1:81x': url "
            "'http://127.0.0.1:81x' is not of the form http(s)://host[:port], with no path, "
            "query or fragment",
        ),
        (
            "fra=fra-1@http://127.0.0.1:8101,iad=fra-1@http://127.0.0.1:8102",
            "AUTHPI_MESH_NODES lists the instance 'fra-1' more than once",
        ),
    ],
)
def test_settings_refuse_a_malformed_node_list(value: str, message: str) -> None:
    with pytest.raises(MeshConfigError) as raised:
        ProxySettings.from_environ({"AUTHPI_MESH_NODES": value})
    assert str(raised.value) == message
