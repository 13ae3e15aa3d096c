"""``patchdesk firmware import``: LVFS metadata and .cab files carried in to an offline site."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_OK, Parser, dump_json, open_db, secret_store
from app.domain.errors import ConfigError


def add_commands(sub: Any) -> None:
    fw = sub.add_parser("firmware", help="offline firmware: import LVFS metadata and .cab files")
    fsub = fw.add_subparsers(dest="firmware_command", metavar="WHAT", required=True, parser_class=Parser)
    imp = fsub.add_parser(
        "import",
        help="put metadata and .cab files on a host as a local fwupd remote (installs nothing: a scan "
        "shows the releases, each still needs its approval)",
    )
    imp.set_defaults(func=import_firmware)
    imp.add_argument("host")
    imp.add_argument("--metadata", type=Path, required=True, help="firmware.xml(.gz|.zst) from the LVFS")
    imp.add_argument("--cab", type=Path, action="append", default=[], help="a .cab file (repeatable)")
    imp.add_argument("--json", action="store_true")


def import_firmware(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import firmware
    from db import hosts as db_hosts

    db = open_db(args)
    found = db_hosts.get_hosts_by_name(db, [args.host])
    if not found:
        raise ConfigError(f"No host named {args.host!r}.")
    result = firmware.import_offline(db, found[0], args.metadata, args.cab, secrets=secret_store())
    if args.json:
        dump_json(out, result.as_json())
    else:
        print(
            f"Imported {result.metadata} and {len(result.cabs)} .cab file(s) to {result.host} "
            f"({firmware.FIRMWARE_DIR}, remote {firmware.REMOTE_ID}). Scan it to see the releases.",
            file=out,
        )
    return EXIT_OK
