"""Classification rules: changing them, loading the classifier, re-classifying what is pending.

Tasks never read the database: the runner calls :func:`load_classifier` on the caller's thread and
hands the result to the task, like the selections of a patch job. After an advisory import or a rule
change, :func:`reclassify_all` brings every stored pending update up to date without a rescan; the
rule changes below do that themselves and return how many pending updates changed class.
"""

from __future__ import annotations

from app.domain.errors import ConfigError
from app.domain.rules import DEFAULT_RULES, Classifier, Rule
from db import advisories as db_advisories
from db import hosts as db_hosts
from db import rules as db_rules
from db import scans as db_scans
from db.connection import Database


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


def save_rule(db: Database, rule: Rule, position: int | None = None) -> int:
    """Add or change a rule (``position``: 1-based place in the order), then re-classify."""
    db_rules.save_rule(db, rule, position)
    return reclassify_all(db)


def remove_rule(db: Database, name: str) -> int:
    """Remove a rule by name, then re-classify; an unknown name is a ConfigError."""
    if not db_rules.remove_rule(db, name):
        raise ConfigError(f"No rule named {name!r}. See `patchdesk rules list`.")
    return reclassify_all(db)


def reset_rules(db: Database) -> int:
    """Back to the default rules, then re-classify."""
    db_rules.reset_rules(db, DEFAULT_RULES)
    return reclassify_all(db)
