"""Loading the classifier from the database, and re-classifying what is already pending.

Tasks never read the database: the runner calls :func:`load_classifier` on the caller's thread and
hands the result to the task, like the selections of a patch job. After an advisory import or a rule
change, :func:`reclassify_all` brings every stored pending update up to date without a rescan.
"""

from __future__ import annotations

from sqlite_utils import Database

from app.domain.rules import Classifier
from db import advisories as db_advisories
from db import hosts as db_hosts
from db import rules as db_rules
from db import scans as db_scans


def load_classifier(db: Database) -> Classifier:
    return Classifier(tuple(db_rules.list_rules(db)), db_advisories.advisory_index(db))


def reclassify_all(db: Database, classifier: Classifier | None = None) -> int:
    """Re-classify every host's pending updates; returns how many changed class."""
    classifier = classifier or load_classifier(db)
    changed = 0
    for host in db_hosts.list_hosts(db):
        assert host.id is not None
        pending = db_scans.pending_for_host(db, host.id)
        if not pending:
            continue
        updated = classifier.classify_all(pending, os_id=host.os_id, os_version=host.os_version)
        changed += sum(
            1 for a, b in zip(pending, updated, strict=True) if a.classification != b.classification
        )
        db_rules.update_pending_classification(db, host.id, updated)
    return changed
