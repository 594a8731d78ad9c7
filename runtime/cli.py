"""`authpi`: `dev` runs the local multi-region mesh, `serve` one node, `ops` the operator tools."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ops import cli as ops_cli
from regions import RegionError
from runtime.dev import DEFAULT_PORT, DEFAULT_REGIONS, Mesh
from runtime.processes import granian_command
from runtime.settings import DEFAULT_DATA_DIR, Settings, SettingsError
from shards.clock import SystemClock
from shards.directory import Directory

DEV_DATA_DIR = ".authpi-dev"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authpi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run AuthPI locally: one node per region and a proxy")
    dev.add_argument(
        "--regions",
        default=",".join(DEFAULT_REGIONS),
        help="comma-separated region codes; the first is the primary",
    )
    dev.add_argument("--port", type=int, default=DEFAULT_PORT, help="the proxy's port")
    dev.add_argument("--data-dir", type=Path, default=Path(DEV_DATA_DIR))

    serve = commands.add_parser("serve", help="run one node (settings from the environment)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens publicly
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no line per request (each costs the node some 18 µs of CPU)",
    )

    ops_cli.add_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "dev":
        return _dev(args)
    if args.command == "serve":
        return _serve(args)
    return ops_cli.run(
        args, Path(os.environ.get("AUTHPI_DATA_DIR") or DEFAULT_DATA_DIR), os.environ
    )


def _dev(args: argparse.Namespace) -> int:
    try:
        mesh = Mesh(regions=args.regions.split(","), data_root=args.data_dir, port=args.port)
    except (RegionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bootstrap = mesh.bootstrap()
    mesh.start(os.environ)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print(
        f"AuthPI is running at {mesh.url}\n"
        f"  regions   {', '.join(mesh.regions)} (primary {mesh.primary});"
        f" data in {args.data_dir}\n"
        f"  account   {bootstrap.account_id}\n"
        f"  api key   {bootstrap.key.token}\n"
        "The API key is shown once; a restart mints a new one and revokes this one.\n"
        "Try:\n"
        f"  curl -s {mesh.url}/v1/accounts/{bootstrap.account_id}/issuers \\\n"
        f'    -H "Authorization: Bearer {bootstrap.key.token}" \\\n'
        "    -H 'Content-Type: application/json' -H 'X-Client-Location: LOS' \\\n"
        """    -d '{"name": "Acme", "jurisdiction": "eu"}'\n"""
        "Ctrl-C stops every node.",
        flush=True,
    )
    try:
        while not stopped.wait(0.5):
            for node in [*mesh.nodes.values(), *([mesh.proxy] if mesh.proxy else [])]:
                if node.process is not None and node.process.poll() is not None:
                    print(f"error: {node.name} exited; stopping the mesh", file=sys.stderr)
                    return 1
    finally:
        mesh.stop()
    return 0


def _serve(args: argparse.Namespace) -> int:
    """One node for a one-region install: ensure its directory and a shard, then exec granian."""
    try:
        settings = Settings.from_environ(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.is_primary:
        created = asyncio.run(_ensure_shard(settings))
        if created:
            print(f"created shard {created} in {settings.region}", flush=True)
    command = granian_command(
        "runtime.app:app_from_environ", args.host, args.port, access_log=args.access_log
    )
    os.execv(command[0], command)  # noqa: S606 - replaces this process with the server


async def _ensure_shard(settings: Settings) -> str | None:
    directory = await Directory.open(settings.data_dir, SystemClock())
    try:
        if await directory.shards(settings.region):
            return None
        return (await directory.register_shard(settings.region, actor="bootstrap")).id
    finally:
        await directory.close()
