"""`authpi ops`, run as an operator runs it: the installed command on a real data directory."""

from __future__ import annotations

from pathlib import Path

from tests.support.ops import ops, ops_json


def test_accounts_create_prints_the_first_key_once(tmp_path: Path) -> None:
    result = ops(tmp_path, "accounts", "create", "Acme")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("account  acct_")
    assert lines[0].endswith("  Acme")
    assert lines[1].startswith("api key  key_")
    assert lines[2] == "This key is shown once and cannot be recovered: store it now."
    listed = ops(tmp_path, "accounts", "list").stdout
    assert lines[1].split()[-1].split(".")[1] not in listed


def test_regions_lists_the_catalogue_with_jurisdictions(tmp_path: Path) -> None:
    result = ops(tmp_path, "regions")
    assert result.stdout.splitlines()[0].split() == [
        "CODE", "CITY", "COUNTRY", "JURISDICTION", "LAT", "LON"
    ]  # fmt: skip
    eu = ops_json(tmp_path, "regions", "--jurisdiction", "eu")
    assert [r["code"] for r in eu] == ["ams", "arn", "cdg", "fra"]


def test_shards_are_created_and_listed_with_their_issuer_count(tmp_path: Path) -> None:
    created = ops_json(tmp_path, "shards", "create", "--region", "fra")
    assert created["region"] == "fra"
    listed = ops_json(tmp_path, "shards", "list")
    assert listed == [{**created, "issuers": 0}]
    table = ops(tmp_path, "shards", "list", "--region", "fra").stdout.splitlines()
    assert table[0].split() == ["ID", "REGION", "STATUS", "ISSUERS", "FILE", "CREATED_AT"]
    assert table[1].split()[:4] == [created["id"], "fra", "active", "0"]


def test_an_unknown_region_is_a_clear_error(tmp_path: Path) -> None:
    result = ops(tmp_path, "shards", "create", "--region", "mars")
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown region 'mars'; known regions: ams, arn,")


def test_issuers_list_and_a_placement_refused_outside_the_jurisdiction(tmp_path: Path) -> None:
    issuer = _issuer_on_fra(tmp_path)
    lhr = ops_json(tmp_path, "shards", "create", "--region", "lhr")
    result = ops(tmp_path, "issuers", "place", issuer, "--shard", lhr["id"])
    assert result.returncode == 1
    assert result.stderr == (
        "error: region 'lhr' is outside jurisdiction 'eu'; allowed regions: ams, arn, cdg, fra\n"
    )
    listed = ops_json(tmp_path, "issuers", "list")
    assert [(p["home_region"], p["epoch"]) for p in listed] == [("fra", 1)]


def test_a_placement_inside_the_jurisdiction_advances_the_epoch(tmp_path: Path) -> None:
    issuer = _issuer_on_fra(tmp_path)
    ams = ops_json(tmp_path, "shards", "create", "--region", "ams")
    result = ops(tmp_path, "issuers", "place", issuer, "--shard", ams["id"])
    assert result.stdout == f"issuer {issuer} placed on {ams['id']} in ams (epoch 2)\n"


def _issuer_on_fra(data_dir: Path) -> str:
    """An issuer placed through the directory, as a node does after writing its shard."""
    import asyncio

    from shards.clock import SystemClock
    from shards.directory import Directory
    from shards.ids import new_id

    async def place() -> str:
        directory = await Directory.open(data_dir, SystemClock())
        account, _ = await directory.create_account("Acme")
        shard = await directory.register_shard("fra")
        issuer_id = new_id("i")
        await directory.register_issuer(issuer_id, account.id, "eu", shard)
        await directory.close()
        return issuer_id

    return asyncio.run(place())
