"""``patchdesk db check``: is the database file sound, and if not, restore its newest good safety copy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_FAILED, EXIT_OK, Parser
from app.domain.errors import ConfigError


def add_commands(sub: Any) -> None:
    dbp = sub.add_parser("db", help="check the database file; restore a safety copy")
    dsub = dbp.add_subparsers(dest="db_command", metavar="ACTION", required=True, parser_class=Parser)
    chk = dsub.add_parser(
        "check", help="check every page of the database; with --restore, put back the newest good copy"
    )
    chk.set_defaults(func=check)
    chk.add_argument(
        "--restore",
        action="store_true",
        help="if the check fails: move the damaged file aside and restore the newest safety copy that passes",
    )


def _when(copy: Any) -> str:
    return str(copy.taken.astimezone().strftime("%Y-%m-%d %H:%M"))


def _audit_restore(path: Path, copy: Path, aside: Path, lost_from: int | None) -> str:
    """The restore goes in the restored log with the entries it lost (up to ``lost_from``, the newest
    anchor of the damaged file), since the anchors that named them are overtaken by the next appends.
    Returns the lost range ("" for none)."""
    from app.services import audit
    from db.database import open_database

    db = open_database(path)
    try:
        newest = audit.entries(db, limit=1)
        kept = newest[0].id if newest else 0
        lost = f"{kept + 1}..{lost_from}" if lost_from is not None and lost_from > kept else ""
        audit.database_restored(db, str(path), str(copy), str(aside), lost)
    finally:
        db.conn.close()
    return lost


def check(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import audit
    from db import safety
    from db.database import default_db_path

    path = Path(args.db) if args.db is not None else default_db_path()
    if not path.is_file():
        raise ConfigError(f"There is no database at {path}.")
    health = safety.check(path)
    if health.ok:
        copy = safety.refresh_checked_copy(path)
        print(f"The database {path} passes the check (SQLite quick_check: ok).", file=out)
        print(f"Safety copy refreshed: {copy}.", file=out)
        return EXIT_OK
    print(f"The database {path} is damaged:", file=out)
    for problem in health.problems:
        print(f"  {problem}", file=out)
    copies = safety.safety_copies(path)
    good = [c for c in copies if c.health.ok]
    for c in copies:
        state = "passes the check" if c.health.ok else "damaged too"
        print(f"  safety copy {c.path} ({_when(c)}): {state}", file=out)
    if not good:
        print(
            "No safety copy that passes the check was found. Keep the damaged file; sqlite3's `.recover` "
            "command may save part of it.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    newest = good[0]
    if not args.restore:
        print(
            f"Run `patchdesk db check --restore` to move the damaged file aside and restore {newest.path} "
            f"({_when(newest)}); changes made after that copy are lost.",
            file=out,
        )
        return EXIT_FAILED
    anchor = audit.newest_anchor(str(path))
    aside = safety.restore(path, newest)
    lost = _audit_restore(path, newest.path, aside, anchor.head_id if anchor else None)
    print(
        f"Restored {newest.path} ({_when(newest)}) to {path}; the damaged file is kept as {aside}. "
        "Changes made after the copy was taken are lost"
        + (f" (audit entries {lost}; the restore's own audit entry names them)." if lost else "."),
        file=out,
    )
    return EXIT_OK
