"""The migration set of db/schema.py, registered without importing sqlite-utils.

``@MIGRATIONS()`` records each migration in order, as sqlite-utils' ``Migrations`` does; sqlite-utils
(with click, pluggy and dateutil) is imported only when migrations are applied, which is rare, so that
opening a current database — every start of the GUI and every CLI command — does not load it. The
applying is sqlite-utils' own (its ``_sqlite_migrations`` table, one transaction per migration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import sqlite_utils

    from db.connection import Database

F = TypeVar("F", bound=Callable[..., None])


@dataclass
class Migration:
    name: str
    fn: Callable[[sqlite_utils.Database], None]
    transactional: bool = True


class Migrations:
    """A named, ordered set of migrations (``_migrations``: in the order they apply)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._migrations: list[Migration] = []

    def __call__(self, *, name: str | None = None, transactional: bool = True) -> Callable[[F], F]:
        def inner(func: F) -> F:
            migration_name = name or func.__name__
            if any(m.name == migration_name for m in self._migrations):
                raise ValueError(f"Migration '{migration_name}' is already registered in set '{self.name}'")
            self._migrations.append(Migration(migration_name, func, transactional))
            return func

        return inner

    def apply(
        self, db: Database | sqlite_utils.Database, *, stop_before: str | Iterable[str] | None = None
    ) -> None:
        """Apply the pending migrations (through sqlite-utils, over ``db``'s connection)."""
        import sqlite_utils
        from sqlite_utils.migrations import Migrations as Applier

        target: Any = db
        if not isinstance(target, sqlite_utils.Database):
            # No sqlite-utils plugins: a plugin installed in the same environment must not change
            # the inventory's connection (and finding them scans every package's entry points).
            target = sqlite_utils.Database(db.conn, execute_plugins=False)
        applier = Applier(self.name)
        for m in self._migrations:
            applier(name=m.name, transactional=m.transactional)(m.fn)
        applier.apply(target, stop_before=stop_before)
