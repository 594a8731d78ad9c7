"""The edge version moves with exactly the changes an edge node must see."""

from __future__ import annotations

from pathlib import Path

import orjson

from shards import schema
from shards.database import Database


async def _insert(
    database: Database, resource_id: str, kind: str, issuer: str, data: object
) -> None:
    async with database.transaction() as tx:
        await tx.execute(
            "INSERT INTO resources (id, kind, issuer_id, parent_id, version, created_at,"
            " updated_at, data) VALUES (?, ?, ?, NULL, 1, 'now', 'now', ?)",
            (resource_id, kind, issuer, orjson.dumps(data).decode()),
        )


async def _versions(database: Database) -> dict[str, int]:
    rows = await database.fetch_all("SELECT issuer_id, version FROM edge_versions")
    return {row["issuer_id"]: row["version"] for row in rows}


async def test_clients_agents_and_agent_memberships_move_the_version(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "s.db", schema.SHARD)
    try:
        await _insert(database, "agt_1", "agent", "i_a", {})
        await _insert(database, "c_1", "client", "i_b", {})
        await _insert(database, "mem_1", "membership", "i_c", {"member_id": "agt_1"})
        assert await _versions(database) == {"i_a": 1, "i_b": 2, "i_c": 3}
        async with database.transaction() as tx:
            await tx.execute("UPDATE resources SET version = 2 WHERE id = 'agt_1'")
        assert (await _versions(database))["i_a"] == 4
        async with database.transaction() as tx:
            await tx.execute("DELETE FROM resources WHERE id = 'c_1'")
        assert (await _versions(database))["i_b"] == 5
    finally:
        await database.close()


async def test_users_and_their_memberships_do_not(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "s.db", schema.SHARD)
    try:
        await _insert(database, "usr_1", "user", "i_a", {"email": "a@example.com"})
        await _insert(database, "mem_1", "membership", "i_a", {"member_id": "usr_1"})
        await _insert(database, "mem_2", "membership", "i_a", {"member_id": "agtx"})
        assert await _versions(database) == {}
    finally:
        await database.close()
