"""UpdatesTableModel.column_texts keeps the first rows between calls (ui/widgets/columns.py measures
every column on them): what it answers must still follow each new set of updates."""

from __future__ import annotations

from app.domain.models import PendingUpdate
from ui.models.updates_model import COL_NAME, UpdatesTableModel


def _rows(prefix: str, n: int) -> list[PendingUpdate]:
    return [PendingUpdate("apt", f"{prefix}{i:03d}", "2", "1") for i in range(n)]


def test_column_texts_follow_each_new_set_of_updates(qapp) -> None:  # type: ignore[no-untyped-def]
    model = UpdatesTableModel()
    model.set_updates(_rows("old", 5))
    assert model.column_texts(COL_NAME, 3) == ["old000", "old001", "old002"]
    model.set_updates(_rows("new", 2))  # fewer rows than the limit asked for
    assert model.column_texts(COL_NAME, 3) == ["new000", "new001"]
    model.set_updates(_rows("big", 10))
    assert model.column_texts(COL_NAME, 2) == ["big000", "big001"]
    assert model.column_texts(COL_NAME, 4) == ["big000", "big001", "big002", "big003"]  # a wider look
    model.set_updates([])
    assert model.column_texts(COL_NAME, 3) == []
