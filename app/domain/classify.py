"""Classification of pending updates into urgent / important / noncritical.

The rules and the advisory data are in :mod:`app.domain.rules` (:class:`Classifier`). The plain
functions here are for code that classifies without holding a classifier, such as the rescan at the
end of a patch job: inside a task wrapped by :func:`bound`, they use the classifier the runner loaded
for that job (and the host's distribution for advisory matching); anywhere else, the default rules
without advisory data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from app.domain.models import PendingUpdate
from app.domain.rules import Classifier

_DEFAULT = Classifier()
#: (classifier, os_id, os_version) of the task running on this thread
_CURRENT: ContextVar[tuple[Classifier, str | None, str | None] | None] = ContextVar(
    "patchdesk_classifier", default=None
)


def classify(update: PendingUpdate) -> PendingUpdate:
    current = _CURRENT.get()
    return (current[0] if current else _DEFAULT).classify(update)


def classify_all(
    updates: Iterable[PendingUpdate], classifier: Classifier | None = None
) -> list[PendingUpdate]:
    current = _CURRENT.get()
    if classifier is None and current is not None:
        return current[0].classify_all(updates, os_id=current[1], os_version=current[2])
    return (classifier or _DEFAULT).classify_all(updates)


def bound(task: Callable[[Any], Any], classifier: Classifier) -> Callable[[Any], Any]:
    """``task`` with ``classifier`` in effect for every ``classify_all`` it calls (per worker call)."""

    def run(ctx: Any) -> Any:
        host = getattr(ctx, "host", None)
        token = _CURRENT.set((classifier, getattr(host, "os_id", None), getattr(host, "os_version", None)))
        try:
            return task(ctx)
        finally:
            _CURRENT.reset(token)

    return run
