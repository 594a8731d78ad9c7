"""Litestream replication and restore, with the real binary: a node's data survives the loss
of its machine."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from runtime.dev import NODE_TARGET
from runtime.processes import GranianProcess
from tests.e2e.conftest import one_region_node
from tests.support.ops import ops


def wait_for_replica(replica: Path, shard_count: int) -> None:
    """Litestream ships about once a second: wait for the directory and every shard."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shipped = list(replica.glob("shards/*.db/ltx"))
        if (replica / "directory" / "ltx").exists() and len(shipped) >= shard_count:
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing replicated to {replica}")


def test_a_lost_node_comes_back_from_its_replica_with_its_data_and_keys(tmp_path: Path) -> None:
    replica, lost, restored = tmp_path / "replica", tmp_path / "lost", tmp_path / "restored"
    env = {
        "AUTHPI_REPLICA_URL": f"file://{replica}",
        "AUTHPI_KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
    }
    with one_region_node(lost, "Replicated", **env) as (node, account_id, issuer, token):
        api = httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {token}"})
        with api:
            users = f"/v1/accounts/{account_id}/issuers/{issuer}/users"
            created = [
                api.post(users, json={"email": email}).json()["id"]
                for email in ("ada@example.com", "bob@example.com")
            ]
            kids = {key["kid"] for key in api.get(f"/{issuer}/jwks.json").json()["keys"]}
            wait_for_replica(replica, shard_count=1)
            last = api.post(users, json={"email": "cy@example.com"}).json()["id"]
    # The node stopped (Litestream ships what it still held), then its machine was lost.
    shutil.rmtree(lost)

    refused = ops(restored, "restore", "--region", "fra")
    assert refused.returncode == 1
    assert refused.stderr == "error: no replica: pass --replica-url or set AUTHPI_REPLICA_URL\n"
    result = ops(
        restored, "--json", "restore", "--replica-url", f"file://{replica}", "--region", "fra"
    )
    assert result.returncode == 0, result.stderr
    outcomes = {row["database"]: row["outcome"] for row in json.loads(result.stdout)}
    assert outcomes["directory.db"] == "restored"
    [shard_file] = [name for name in outcomes if name.startswith("shards/")]
    assert outcomes[shard_file] == "restored"
    shard_id = Path(shard_file).stem
    again = ops(
        restored, "--json", "restore", "--replica-url", f"file://{replica}", "--shard", shard_id
    )
    assert again.returncode == 0, again.stderr
    assert {row["outcome"] for row in json.loads(again.stdout)} == {"present (left alone)"}

    back = GranianProcess(
        "restored node",
        NODE_TARGET,
        {"FLY_REGION": "fra", "AUTHPI_DATA_DIR": str(restored), **env},
    )
    back.start(os.environ)
    try:
        back.wait_ready()
        api = httpx.Client(base_url=back.url, headers={"Authorization": f"Bearer {token}"})
        with api:
            listed = api.get(f"/v1/accounts/{account_id}/issuers/{issuer}/users").json()["data"]
            assert [user["id"] for user in listed] == [*created, last]
            jwks = api.get(f"/{issuer}/jwks.json").json()
            assert {key["kid"] for key in jwks["keys"]} == kids
    finally:
        back.stop()


def litestream_pids(config: Path) -> list[int]:
    """Processes running `litestream replicate` with this configuration file."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"replicate" in command and str(config).encode() in command:
            found.append(int(entry.name))
    return found


def replicated_emails(replica: Path, shard_id: str, scratch: Path) -> set[str]:
    target = scratch / f"{time.monotonic_ns()}.db"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("litestream")),
            "restore",
            "-o",
            str(target),
            f"file://{replica}/shards/{shard_id}.db",
        ],
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(target) as db:
        rows = db.execute("SELECT data FROM resources WHERE kind = 'user'").fetchall()
    return {json.loads(data)["email"] for (data,) in rows}


def test_litestream_killed_is_started_again_and_catches_up(tmp_path: Path) -> None:
    replica, data, scratch = tmp_path / "replica", tmp_path / "data", tmp_path / "scratch"
    scratch.mkdir()
    env = {
        "AUTHPI_REPLICA_URL": f"file://{replica}",
        "AUTHPI_KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
    }
    with one_region_node(data, "Supervised", **env) as (node, account_id, issuer, token):
        [shard_id] = [path.stem for path in (data / "shards").glob("*.db")]
        [first] = litestream_pids(data / "litestream.yml")
        os.kill(first, signal.SIGKILL)
        users = f"{node.url}/v1/accounts/{account_id}/issuers/{issuer}/users"
        created = httpx.post(
            users, json={"email": "ada@example.com"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert created.status_code == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = litestream_pids(data / "litestream.yml")
            if running and running != [first] and (replica / "shards").exists():
                emails = replicated_emails(replica, shard_id, scratch)
                if emails == {"ada@example.com"}:
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("the write never reached the replica after the restart")
    assert litestream_pids(data / "litestream.yml") == []  # stopped with the node


def test_litestream_stops_when_its_node_is_killed(tmp_path: Path) -> None:
    """A crashed node must not leave a Litestream behind: its restart would start a second
    one, and two writers to one replica would spoil it."""
    data = tmp_path / "data"
    env = {
        "AUTHPI_REPLICA_URL": f"file://{tmp_path / 'replica'}",
        "AUTHPI_KEY_ENCRYPTION_KEY": secrets.token_urlsafe(32),
    }
    with one_region_node(data, "Crashing", **env) as (node, _, _, _):
        [running] = litestream_pids(data / "litestream.yml")
        node.kill()
        deadline = time.monotonic() + 10
        while litestream_pids(data / "litestream.yml") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert litestream_pids(data / "litestream.yml") == [], f"litestream {running} lingers"
