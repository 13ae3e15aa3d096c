"""The database schema as an ordered list of migrations.

Never edit a migration that has shipped: add a new one. ``SCHEMA_VERSION`` is stored in
``PRAGMA user_version`` so an older Patchdesk can refuse a database from a newer one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from db.migrations import Migrations

if TYPE_CHECKING:
    # what a migration is given: sqlite-utils' own Database (db/migrations.py)
    from sqlite_utils import Database

MIGRATIONS = Migrations("patchdesk")


def _run_script(db: Database, script: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE hosts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            address TEXT NOT NULL,
            port INTEGER,
            transport TEXT NOT NULL DEFAULT 'ssh' CHECK (transport IN ('ssh', 'winrm', 'local')),
            username TEXT,
            key_file TEXT,
            credential_ref TEXT,
            sudo_ref TEXT,
            use_sudo INTEGER NOT NULL DEFAULT 1,
            group_id INTEGER REFERENCES groups(id) ON DELETE SET NULL,
            ring TEXT NOT NULL DEFAULT 'production' CHECK (ring IN ('test', 'pilot', 'production')),
            criticality TEXT NOT NULL DEFAULT 'standard'
                CHECK (criticality IN ('mission-critical', 'standard', 'desktop')),
            tags TEXT NOT NULL DEFAULT '[]',
            os_id TEXT,
            os_name TEXT,
            os_version TEXT,
            kernel TEXT,
            managers TEXT NOT NULL DEFAULT '[]',
            uptime_seconds REAL,
            last_scan_at TEXT,
            last_status TEXT NOT NULL DEFAULT 'never',
            last_error TEXT,
            reboot_required INTEGER NOT NULL DEFAULT 0,
            pending_urgent INTEGER NOT NULL DEFAULT 0,
            pending_important INTEGER NOT NULL DEFAULT 0,
            pending_noncritical INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX hosts_group ON hosts(group_id);
        CREATE TABLE host_keys (
            id INTEGER PRIMARY KEY,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            keytype TEXT NOT NULL,
            key_b64 TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            added_at TEXT NOT NULL,
            UNIQUE (host_id, keytype)
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL DEFAULT 'manual',
            state TEXT NOT NULL DEFAULT 'queued',
            params TEXT NOT NULL DEFAULT '{}',
            concurrency INTEGER,
            actor TEXT,
            pid INTEGER,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE TABLE job_hosts (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
            host_name TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued',
            started_at TEXT,
            finished_at TEXT,
            error TEXT,
            progress REAL NOT NULL DEFAULT 0,
            UNIQUE (job_id, host_id)
        );
        CREATE INDEX job_hosts_host ON job_hosts(host_id, job_id);
        CREATE TABLE job_logs (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
            ts TEXT NOT NULL,
            level TEXT NOT NULL,
            text TEXT NOT NULL
        );
        CREATE INDEX job_logs_job_host ON job_logs(job_id, host_id, id);
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            finished_at TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            os TEXT NOT NULL DEFAULT '{}',
            reboot_required INTEGER NOT NULL DEFAULT 0,
            reboot_packages TEXT NOT NULL DEFAULT '[]',
            pending_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX scans_host ON scans(host_id, id);
        CREATE TABLE pending_updates (
            id INTEGER PRIMARY KEY,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            scan_id INTEGER REFERENCES scans(id) ON DELETE SET NULL,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            arch TEXT NOT NULL DEFAULT '',
            installed TEXT,
            available TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            security INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL DEFAULT 'bugfix',
            severity TEXT,
            cves TEXT NOT NULL DEFAULT '[]',
            advisories TEXT NOT NULL DEFAULT '[]',
            reboot_expected INTEGER NOT NULL DEFAULT 0,
            classification TEXT NOT NULL DEFAULT 'noncritical',
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX pending_host ON pending_updates(host_id);
        CREATE INDEX pending_class ON pending_updates(classification);
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


@MIGRATIONS()
def m002_patching(db: Database) -> None:
    """Patching: per-host reboot policy, pre/post commands and services to check; snapshots taken
    before a change, change records of what really changed, and verification results."""
    _run_script(
        db,
        """
        ALTER TABLE hosts ADD COLUMN reboot_policy TEXT NOT NULL DEFAULT 'if-needed'
            CHECK (reboot_policy IN ('never', 'if-needed', 'always'));
        ALTER TABLE hosts ADD COLUMN pre_command TEXT;
        ALTER TABLE hosts ADD COLUMN post_command TEXT;
        ALTER TABLE hosts ADD COLUMN services TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE hosts ADD COLUMN transport_options TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE job_hosts ADD COLUMN verdict TEXT;
        ALTER TABLE job_hosts ADD COLUMN rolled_back_by INTEGER REFERENCES jobs(id) ON DELETE SET NULL;
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT,
            taken_at TEXT NOT NULL,
            UNIQUE (job_id, host_id, manager, name)
        );
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            arch TEXT NOT NULL DEFAULT '',
            from_version TEXT,
            to_version TEXT,
            kb TEXT,
            transaction_id TEXT,
            recorded_at TEXT NOT NULL,
            rolled_back_by INTEGER REFERENCES jobs(id) ON DELETE SET NULL
        );
        CREATE INDEX changes_host_job ON changes(host_id, job_id);
        CREATE TABLE verifications (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            subject_job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('green', 'amber', 'red')),
            reasons TEXT NOT NULL DEFAULT '[]',
            checked_at TEXT NOT NULL
        );
        CREATE INDEX verifications_host ON verifications(host_id, id)
        """,
    )


@MIGRATIONS()
def m003_policy(db: Database) -> None:
    """Policy: advisories (OSV) and the KEV catalog, classification rules, rollout state per update,
    maintenance windows, the scheduler's decisions and its lock."""
    _run_script(
        db,
        """
        CREATE TABLE advisories (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL DEFAULT 'osv',
            summary TEXT NOT NULL DEFAULT '',
            severity TEXT,
            aliases TEXT NOT NULL DEFAULT '[]',
            cves TEXT NOT NULL DEFAULT '[]',
            published TEXT,
            modified TEXT,
            imported_at TEXT NOT NULL
        );
        CREATE TABLE advisory_packages (
            id INTEGER PRIMARY KEY,
            advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
            ecosystem TEXT NOT NULL,
            name TEXT NOT NULL,
            fixed TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX advisory_packages_name ON advisory_packages(name);
        CREATE INDEX advisory_packages_advisory ON advisory_packages(advisory_id);
        CREATE TABLE advisory_cves (
            advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
            cve TEXT NOT NULL,
            PRIMARY KEY (advisory_id, cve)
        );
        CREATE INDEX advisory_cves_cve ON advisory_cves(cve);
        CREATE TABLE kev (
            cve TEXT PRIMARY KEY,
            vendor TEXT NOT NULL DEFAULT '',
            product TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            date_added TEXT NOT NULL DEFAULT '',
            due_date TEXT NOT NULL DEFAULT '',
            ransomware TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            required_action TEXT NOT NULL DEFAULT '',
            imported_at TEXT NOT NULL
        );
        CREATE TABLE advisory_imports (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            sources TEXT NOT NULL DEFAULT '[]',
            kev_version TEXT,
            kev_count INTEGER NOT NULL DEFAULT 0,
            advisory_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE classification_rules (
            id INTEGER PRIMARY KEY,
            position INTEGER NOT NULL,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            classification TEXT NOT NULL CHECK (classification IN ('urgent', 'important', 'noncritical')),
            conditions TEXT NOT NULL DEFAULT '{}',
            description TEXT NOT NULL DEFAULT '',
            enabled INTEGER NOT NULL DEFAULT 1
        );
        INSERT INTO classification_rules (position, name, classification, conditions, description) VALUES
            (10, 'kev', 'urgent', '{"kev": true}', 'A CVE it fixes is being exploited (CISA KEV).'),
            (20, 'critical', 'urgent', '{"severities": ["critical"]}', 'The vendor rates it Critical.'),
            (30, 'security', 'important', '{"security": true, "severities": ["high", "unknown"]}',
             'Other security updates the vendor rates Important/High, or does not rate.');
        CREATE TABLE rollouts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'bugfix',
            classification TEXT NOT NULL DEFAULT 'noncritical',
            state TEXT NOT NULL DEFAULT 'new'
                CHECK (state IN ('new', 'testing', 'approved', 'deployed', 'declined', 'deferred')),
            ring TEXT CHECK (ring IS NULL OR ring IN ('test', 'pilot', 'production')),
            ring_since TEXT,
            explicit_approval INTEGER NOT NULL DEFAULT 0,
            override_window INTEGER NOT NULL DEFAULT 0,
            deferred_until TEXT,
            note TEXT NOT NULL DEFAULT '',
            actor TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX rollouts_name ON rollouts(manager, name);
        CREATE TABLE rollout_events (
            id INTEGER PRIMARY KEY,
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            ring TEXT,
            note TEXT NOT NULL DEFAULT '',
            actor TEXT
        );
        CREATE INDEX rollout_events_rollout ON rollout_events(rollout_id, id);
        CREATE TABLE maintenance_windows (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            rrule TEXT NOT NULL,
            dtstart TEXT NOT NULL,
            duration_minutes REAL NOT NULL CHECK (duration_minutes > 0),
            tz TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE window_groups (
            window_id INTEGER NOT NULL REFERENCES maintenance_windows(id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            PRIMARY KEY (window_id, group_id)
        );
        CREATE TABLE schedule_events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
            host_name TEXT,
            update_key TEXT,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            dry_run INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX schedule_events_host ON schedule_events(host_id, id);
        CREATE TABLE scheduler_lock (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            pid INTEGER NOT NULL,
            acquired_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
    )


@MIGRATIONS()
def m004_compliance(db: Database) -> None:
    """Compliance and audit: daily compliance snapshots (one row per day and host segment, so any
    dashboard filter sums them), when each urgent update was first seen on a host, the hash-chained
    audit log, and indexes for the dashboard, the per-update view and log search at 5,000 hosts /
    1,000,000 pending rows."""
    _run_script(
        db,
        """
        CREATE TABLE compliance_daily (
            day TEXT NOT NULL,
            group_name TEXT NOT NULL DEFAULT '',
            ring TEXT NOT NULL,
            criticality TEXT NOT NULL,
            os_family TEXT NOT NULL,
            hosts INTEGER NOT NULL DEFAULT 0,
            up_to_date INTEGER NOT NULL DEFAULT 0,
            with_urgent INTEGER NOT NULL DEFAULT 0,
            with_important INTEGER NOT NULL DEFAULT 0,
            with_noncritical INTEGER NOT NULL DEFAULT 0,
            urgent INTEGER NOT NULL DEFAULT 0,
            important INTEGER NOT NULL DEFAULT 0,
            noncritical INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            unreachable INTEGER NOT NULL DEFAULT 0,
            stale INTEGER NOT NULL DEFAULT 0,
            never INTEGER NOT NULL DEFAULT 0,
            reboot INTEGER NOT NULL DEFAULT 0,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (day, group_name, ring, criticality, os_family)
        );
        CREATE TABLE urgent_seen (
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            first_job_id INTEGER,
            PRIMARY KEY (host_id, manager, name)
        );
        CREATE INDEX urgent_seen_first ON urgent_seen(first_seen);
        CREATE INDEX urgent_seen_job ON urgent_seen(first_job_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}',
            prev_hash TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL
        );
        CREATE INDEX pending_class_name ON pending_updates(classification, manager, name, host_id);
        CREATE INDEX pending_name ON pending_updates(name);
        CREATE INDEX job_logs_ts ON job_logs(ts);
        CREATE INDEX job_logs_host ON job_logs(host_id, id);
        CREATE INDEX job_hosts_host_state ON job_hosts(host_id, job_id, state, verdict);
        CREATE INDEX changes_name ON changes(name)
        """,
    )


@MIGRATIONS()
def m005_scan_basis(db: Database) -> None:
    """The raw simulation behind each host's last full scan and the fingerprint of the host state it
    came from, so a scan of a host where nothing changed skips the simulation (app/domain/models.py:
    ScanBasis). Output is zlib-compressed. Deleting a host deletes its basis."""
    _run_script(
        db,
        """
        CREATE TABLE scan_basis (
            host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            output BLOB NOT NULL,
            errors BLOB NOT NULL,
            simulated_at TEXT NOT NULL
        )
        """,
    )


@MIGRATIONS()
def m006_scan_evidence(db: Database) -> None:
    """What the last successful scan of each host could vouch for (app/domain/models.py: ScanResult):
    whether it was complete (NULL before any scan), when the package metadata it read was last
    refreshed (NULL: not known), and the sentences for anything that limited it (a JSON list); and per
    pending update whether the host holds it back, and why."""
    _run_script(
        db,
        """
        ALTER TABLE hosts ADD COLUMN scan_complete INTEGER;
        ALTER TABLE hosts ADD COLUMN index_updated TEXT;
        ALTER TABLE hosts ADD COLUMN scan_notes TEXT;
        ALTER TABLE scans ADD COLUMN complete INTEGER;
        ALTER TABLE scans ADD COLUMN index_updated TEXT;
        ALTER TABLE scans ADD COLUMN notes TEXT;
        ALTER TABLE pending_updates ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE pending_updates ADD COLUMN held_reason TEXT NOT NULL DEFAULT ''
        """,
    )


@MIGRATIONS()
def m007_daily_states(db: Database) -> None:
    """The daily compliance snapshot keeps the non-compliant and unknown counts too, so the trend and a
    past day's report tell "not up to date" from "not known". NULL on days recorded before."""
    _run_script(
        db,
        """
        ALTER TABLE compliance_daily ADD COLUMN non_compliant INTEGER;
        ALTER TABLE compliance_daily ADD COLUMN unknown INTEGER
        """,
    )


@MIGRATIONS()
def m008_host_policy(db: Database) -> None:
    """Per-host custom health check and automatic rollback; the reboot policy becomes optional (NULL:
    the group's default, then the criticality rule decide), and 'if-needed', the old column default
    every host got without choosing, becomes NULL; group defaults; editable criticality rules (a JSON
    object per criticality, app/domain/criticality.py; absent: the built-in rule)."""
    _run_script(
        db,
        """
        ALTER TABLE hosts ADD COLUMN check_command TEXT;
        ALTER TABLE hosts ADD COLUMN auto_rollback TEXT
            CHECK (auto_rollback IS NULL OR auto_rollback IN ('off', 'on-red'));
        ALTER TABLE hosts ADD COLUMN reboot_choice TEXT
            CHECK (reboot_choice IS NULL OR reboot_choice IN ('never', 'if-needed', 'always'));
        UPDATE hosts SET reboot_choice = NULLIF(reboot_policy, 'if-needed');
        ALTER TABLE hosts DROP COLUMN reboot_policy;
        ALTER TABLE hosts RENAME COLUMN reboot_choice TO reboot_policy;
        CREATE TABLE group_defaults (
            group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
            reboot_policy TEXT CHECK (reboot_policy IS NULL OR reboot_policy IN ('never', 'if-needed', 'always')),
            pre_command TEXT,
            post_command TEXT,
            services TEXT NOT NULL DEFAULT '[]',
            check_command TEXT,
            auto_rollback TEXT CHECK (auto_rollback IS NULL OR auto_rollback IN ('off', 'on-red')),
            updated_at TEXT NOT NULL
        );
        CREATE TABLE criticality_rules (
            criticality TEXT PRIMARY KEY CHECK (criticality IN ('mission-critical', 'standard', 'desktop')),
            rule TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        )
        """,
    )


@MIGRATIONS()
def m009_soak(db: Database) -> None:
    """Soak monitoring (app/jobs/soak.py): every re-check of a host that got an update while the update
    soaks in the host's ring, with the scheduler's time, the verdict (``unknown`` when it could not see)
    and its reasons; and the health baseline each patch took before changing anything, which the soak
    checks compare load, memory and failed units with."""
    _run_script(
        db,
        """
        CREATE TABLE soak_checks (
            id INTEGER PRIMARY KEY,
            rollout_id INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES hosts(id) ON DELETE SET NULL,
            host_name TEXT NOT NULL,
            ring TEXT NOT NULL,
            at TEXT NOT NULL,
            verdict TEXT NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX soak_checks_rollout ON soak_checks(rollout_id, at);
        CREATE TABLE health_baselines (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            health TEXT NOT NULL,
            taken_at TEXT NOT NULL,
            PRIMARY KEY (job_id, host_id)
        )
        """,
    )


@MIGRATIONS()
def m012_bundles(db: Database) -> None:
    """Offline patch bundles (app/domain/bundle.py): the bundles this workstation built, verified or
    applied, the signing keys it trusts besides its own, and which bundle each host received, so the
    package manager's command line on that host can name the bundle as an extra source."""
    _run_script(
        db,
        """
        CREATE TABLE bundles (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            signer TEXT NOT NULL,
            size INTEGER NOT NULL,
            manifest BLOB NOT NULL,
            verified_at TEXT
        );
        CREATE TABLE bundle_keys (
            fingerprint TEXT PRIMARY KEY,
            public_key TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL
        );
        CREATE TABLE bundle_hosts (
            bundle_id TEXT NOT NULL REFERENCES bundles(id) ON DELETE CASCADE,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            files INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (bundle_id, host_id)
        )
        """,
    )


@MIGRATIONS()
def m014_alerts(db: Database) -> None:
    """Every alert raised (a job failed, a verification red, a host key changed, an urgent update
    appeared), kept until the administrator acknowledges it: the console's alerts list (#23 item 7)."""
    _run_script(
        db,
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            raised_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            message TEXT NOT NULL,
            job_id INTEGER,
            hosts TEXT NOT NULL DEFAULT '[]',
            acknowledged_at TEXT
        );
        CREATE INDEX alerts_open ON alerts (acknowledged_at, id)
        """,
    )


@MIGRATIONS()
def m010_baselines(db: Database) -> None:
    """Configuration baselines (app/domain/baseline.py): named sets of checks, their history (who changed
    what, when), the file contents they restore (by SHA-256, bounded), where they are assigned (hosts or
    groups), each host's last result per item with the time it first differed, and the remediations
    (with what they replaced, so a fix can be undone)."""
    _run_script(
        db,
        """
        CREATE TABLE baselines (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        );
        CREATE TABLE baseline_items (
            id INTEGER PRIMARY KEY,
            baseline_id INTEGER NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            expected TEXT NOT NULL DEFAULT '{}',
            UNIQUE (baseline_id, kind, target)
        );
        CREATE TABLE baseline_history (
            id INTEGER PRIMARY KEY,
            baseline_id INTEGER REFERENCES baselines(id) ON DELETE SET NULL,
            baseline_name TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE baseline_blobs (
            sha256 TEXT PRIMARY KEY,
            content BLOB NOT NULL
        );
        CREATE TABLE baseline_assignments (
            id INTEGER PRIMARY KEY,
            baseline_id INTEGER NOT NULL REFERENCES baselines(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES hosts(id) ON DELETE CASCADE,
            group_name TEXT,
            CHECK ((host_id IS NULL) != (group_name IS NULL)),
            UNIQUE (baseline_id, host_id, group_name)
        );
        CREATE TABLE drift_state (
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES baseline_items(id) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('ok', 'drifted', 'unknown')),
            actual TEXT NOT NULL DEFAULT '{}',
            reason TEXT NOT NULL DEFAULT '',
            since TEXT,
            checked_at TEXT NOT NULL,
            job_id INTEGER,
            PRIMARY KEY (host_id, item_id)
        );
        CREATE TABLE remediations (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            host_id INTEGER REFERENCES hosts(id) ON DELETE CASCADE,
            item_id INTEGER,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            before TEXT NOT NULL DEFAULT '{}',
            before_content BLOB,
            state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            undoes_job INTEGER,
            at TEXT NOT NULL,
            UNIQUE (job_id, host_id, item_id)
        )
        """,
    )


@MIGRATIONS()
def m011_outside_changes(db: Database) -> None:
    """The package history each scan reads from a host (app/domain/outside_changes.py), with the
    Patchdesk job that made each entry (NULL: a change made outside Patchdesk), and per host how far
    the history was read and whether it could be (an unreadable history is unknown, not empty).
    Versions and arch are '' rather than NULL so the UNIQUE key sees a repeated read as the same entry.
    ``inventory`` keeps a list that has no history of its own (Windows' installed programs, JSON) for
    the next read to compare with."""
    _run_script(
        db,
        """
        CREATE TABLE host_history (
            id INTEGER PRIMARY KEY,
            host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            action TEXT NOT NULL,
            name TEXT NOT NULL,
            arch TEXT NOT NULL DEFAULT '',
            from_version TEXT NOT NULL DEFAULT '',
            to_version TEXT NOT NULL DEFAULT '',
            happened_at TEXT NOT NULL,
            seen_job_id INTEGER,
            seen_at TEXT NOT NULL,
            authorized_job_id INTEGER,
            UNIQUE (host_id, manager, happened_at, action, name, arch, from_version, to_version)
        );
        CREATE INDEX host_history_when ON host_history(host_id, happened_at);
        CREATE INDEX host_history_seen ON host_history(seen_job_id);
        CREATE TABLE host_history_state (
            host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
            manager TEXT NOT NULL,
            status TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            cursor TEXT NOT NULL,
            covered_from TEXT,
            read_at TEXT NOT NULL,
            inventory TEXT
        )
        """,
    )


@MIGRATIONS()
def m013_firmware(db: Database) -> None:
    """The hardware inventory of each host, as its last scan read it (app/domain/hardware.py): one row
    per host, NULL for what the host could not tell, the disks as a JSON list. Deleting a host deletes
    its row."""
    _run_script(
        db,
        """
        CREATE TABLE host_hardware (
            host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
            manufacturer TEXT,
            model TEXT,
            serial TEXT,
            bios_vendor TEXT,
            bios_version TEXT,
            bios_date TEXT,
            cpu_model TEXT,
            cpu_count INTEGER,
            memory_bytes INTEGER,
            disks TEXT NOT NULL DEFAULT '[]',
            updated_at TEXT NOT NULL
        );
        CREATE INDEX host_hardware_model ON host_hardware(model, manufacturer)
        """,
    )


def _summary_key(row: str, table: str = "") -> str:
    """The update summary's key of ``row`` (NEW or OLD) matched against ``table``'s columns."""
    t = f"{table}." if table else ""
    return " AND ".join(f"{t}{c} = {row}.{c}" for c in ("classification", "manager", "name"))


def _summary_triggers(db: Database) -> None:
    """Keep update_summary true on every write to pending_updates, whatever the path (a scan's
    results, a reclassification, a host deleted by cascade, a bundle import): a host counts once per
    (classification, manager, name), like count(DISTINCT host_id), so a row changes a count only when
    it is the host's first or last row of that key."""
    # One statement each (a scan rewrites all of a host's rows): a key nobody needs any more keeps
    # its row at 0, which the list reads past (db/updates.py), rather than a delete per row.
    add = (
        "INSERT INTO update_summary VALUES (NEW.classification, NEW.manager, NEW.name, 1) "
        "ON CONFLICT (classification, manager, name) DO UPDATE SET hosts = hosts + 1;"
    )
    drop = f"UPDATE update_summary SET hosts = hosts - 1 WHERE {_summary_key('OLD')};"
    first = (
        f"NOT EXISTS (SELECT 1 FROM pending_updates p WHERE {_summary_key('NEW', 'p')} "
        "AND p.host_id = NEW.host_id AND p.id != NEW.id)"
    )
    last = (
        f"NOT EXISTS (SELECT 1 FROM pending_updates p WHERE {_summary_key('OLD', 'p')} "
        "AND p.host_id = OLD.host_id)"
    )
    moved = (
        "(OLD.classification IS NOT NEW.classification OR OLD.manager IS NOT NEW.manager "
        "OR OLD.name IS NOT NEW.name OR OLD.host_id IS NOT NEW.host_id)"
    )
    of = "AFTER UPDATE OF classification, manager, name, host_id ON pending_updates"
    for statement in (
        f"CREATE TRIGGER update_summary_insert AFTER INSERT ON pending_updates WHEN {first} BEGIN {add} END",
        f"CREATE TRIGGER update_summary_delete AFTER DELETE ON pending_updates WHEN {last} BEGIN {drop} END",
        # an update is the old row gone and the new one come, each counted only when the key moved
        f"CREATE TRIGGER update_summary_update_old {of} WHEN {moved} AND {last} BEGIN {drop} END",
        f"CREATE TRIGGER update_summary_update_new {of} WHEN {moved} AND {first} BEGIN {add} END",
    ):
        db.execute(statement)


@MIGRATIONS()
def m015_update_summary(db: Database) -> None:
    """How many hosts need each pending update (classification, manager, name), kept by triggers on
    pending_updates: the unfiltered update list reads ~15,000 rows instead of grouping 1,000,000
    (db/updates.py, #25). Filled from the rows already there."""
    _run_script(
        db,
        """
        CREATE TABLE update_summary (
            -- hosts: how many hosts have a pending row of this key (0: none now)
            classification TEXT NOT NULL,
            manager TEXT NOT NULL,
            name TEXT NOT NULL,
            hosts INTEGER NOT NULL,
            PRIMARY KEY (classification, manager, name)
        ) WITHOUT ROWID;
        INSERT INTO update_summary (classification, manager, name, hosts)
            SELECT classification, manager, name, count(DISTINCT host_id) FROM pending_updates
            GROUP BY classification, manager, name
        """,
    )
    _summary_triggers(db)


@MIGRATIONS()
def m016_host_list_order(db: Database) -> None:
    """A host's pending updates indexed in the order its list shows them (rank, name; the rowid
    last): the host detail's first page is read by walking the index, not by sorting all of the
    host's rows (2.1 -> 0.8 ms for 4,000 rows, #25). It replaces the host_id index, which it serves
    as well, so a scan writes no more indexes than before. The rank is db/scans.py's _CLASS_ORDER,
    the very expression the list orders by (SQLite matches them; tests/unit/db hold them together)."""
    _run_script(
        db,
        """
        DROP INDEX IF EXISTS pending_host;
        CREATE INDEX pending_host_order ON pending_updates(
            host_id, CASE classification WHEN 'urgent' THEN 0 WHEN 'important' THEN 1 ELSE 2 END, name
        )
        """,
    )


#: One per migration (the test suite holds the two together).
SCHEMA_VERSION = len(MIGRATIONS._migrations)
