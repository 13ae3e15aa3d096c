"""A database as an older Patchdesk left it, for the tests of a migration's upgrade."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from db.database import _connect
from db.schema import MIGRATIONS, SCHEMA_VERSION


def database_without(db_path: Path, migration: str) -> Database:
    """The file at ``db_path`` with every migration but ``migration``, stamped one version older, so
    that opening it applies that one; close its ``conn`` when filled."""
    older = type(MIGRATIONS)("patchdesk")
    older._migrations.extend(m for m in MIGRATIONS._migrations if m.name != migration)
    old = Database(_connect(db_path), execute_plugins=False)
    older.apply(old)
    old.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    return old
