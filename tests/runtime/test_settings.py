from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import Settings, SettingsError

SECRET = "s" * 32
KEK = "k" * 43  # 32 bytes in base64url


def test_a_one_region_node_needs_only_its_region() -> None:
    settings = Settings.from_environ({"FLY_REGION": "FRA"})
    assert (settings.region, settings.primary_region, settings.is_primary) == ("fra", "fra", True)
    assert (settings.instance, settings.data_dir) == ("fra-1", Path("data"))
    assert settings.public_url == "http://127.0.0.1:8080"


def test_a_region_node_knows_where_the_primary_answers() -> None:
    settings = Settings.from_environ(
        {
            "FLY_REGION": "iad",
            "PRIMARY_REGION": "fra",
            "AUTHPI_PEERS": "fra=http://10.0.0.1:8080, iad=http://10.0.0.2:8080",
            "AUTHPI_MESH_SECRET": SECRET,
            "AUTHPI_KEY_ENCRYPTION_KEY": KEK,
            "AUTHPI_PUBLIC_URL": "https://id.example.com/",
        }
    )
    assert settings.primary_url == "http://10.0.0.1:8080"
    assert settings.key_encryption_key is not None
    assert len(settings.key_encryption_key) == 32
    assert KEK not in repr(settings)
    assert dict(settings.peers) == {"fra": "http://10.0.0.1:8080"}
    assert settings.public_url == "https://id.example.com"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "FLY_REGION is required: the Fly region code of this node, e.g. fra"),
        ({"FLY_REGION": "xyz"}, "FLY_REGION: unknown region 'xyz'; known regions: ams,"),
        (
            {"FLY_REGION": "iad", "PRIMARY_REGION": "fra"},
            "PRIMARY_REGION is 'fra' but AUTHPI_PEERS has no address for it;"
            " add fra=http://... to AUTHPI_PEERS",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_PEERS": "fra=http://x"},
            "AUTHPI_MESH_SECRET is required when AUTHPI_PEERS is set",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_PEERS": "fra=http://x", "AUTHPI_MESH_SECRET": "short"},
            "AUTHPI_MESH_SECRET must be at least 32 characters",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_PEERS": "fra=http://x", "AUTHPI_MESH_SECRET": SECRET},
            "AUTHPI_KEY_ENCRYPTION_KEY is required when AUTHPI_PEERS is set",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_KEY_ENCRYPTION_KEY": "c2hvcnQ"},
            "AUTHPI_KEY_ENCRYPTION_KEY must be 32 random bytes in base64url",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_PEERS": "fra"},
            "AUTHPI_PEERS entry 'fra' must be region=url",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_PUBLIC_URL": "ftp://x"},
            "AUTHPI_PUBLIC_URL must be an http(s) URL without a query, got 'ftp://x'",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_DIRECTORY_REFRESH_SECONDS": "soon"},
            "AUTHPI_DIRECTORY_REFRESH_SECONDS must be a number of seconds, got 'soon'",
        ),
        (
            {"FLY_REGION": "iad", "AUTHPI_DIRECTORY_REFRESH_SECONDS": "0"},
            "AUTHPI_DIRECTORY_REFRESH_SECONDS must be positive, got '0'",
        ),
        *(
            (
                {"FLY_REGION": "fra", "AUTHPI_REPLICA_URL": url, "AUTHPI_KEY_ENCRYPTION_KEY": KEK},
                "AUTHPI_REPLICA_URL must be a Litestream replica URL (file, s3, gs, abs, sftp,"
                f" webdav; file:///absolute/path or s3://bucket/path), got {url!r}",
            )
            for url in ("file://relative/path", "s3:///no-bucket", "ftp://x/y", "s3://b/p?x=1")
        ),
        (
            {"FLY_REGION": "fra", "AUTHPI_REPLICA_URL": "s3://authpi-eu/fra"},
            "AUTHPI_KEY_ENCRYPTION_KEY is required when AUTHPI_REPLICA_URL is set: a restored"
            " node needs the key that sealed its signing keys",
        ),
    ],
)
def test_invalid_settings_name_the_variable_and_the_fix(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ(environ)
    assert str(caught.value).startswith(message)


def test_key_usage_is_reported_once_a_minute_unless_told() -> None:
    assert Settings.from_environ({"FLY_REGION": "fra"}).key_usage_flush_seconds == 60.0
    environ = {"FLY_REGION": "fra", "AUTHPI_KEY_USAGE_FLUSH_SECONDS": "0.5"}
    assert Settings.from_environ(environ).key_usage_flush_seconds == 0.5


def test_a_replica_url_is_kept_without_its_trailing_slash() -> None:
    settings = Settings.from_environ(
        {
            "FLY_REGION": "fra",
            "AUTHPI_REPLICA_URL": "s3://authpi-eu/fra/",
            "AUTHPI_KEY_ENCRYPTION_KEY": KEK,
        }
    )
    assert settings.replica_url == "s3://authpi-eu/fra"
    assert Settings.from_environ({"FLY_REGION": "fra"}).replica_url is None
