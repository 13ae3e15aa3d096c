"""A synthetic shop with history, built only through db/ functions: for the compliance tests, the
dashboard test and the README screenshots.

Hosts are spread over groups, rings, criticalities and OS families; scans over ``days`` days close
most urgent gaps (so the trend rises), a few hosts fail or are unreachable, some are stale, some
need a reboot, a patch job fails on some and a verification is red on one. KEV entries are imported
so the dashboard's KEV panel has due dates past and close.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.advisories.model import AdvisoryBatch, KevEntry
from app.models import (
    Classification,
    Criticality,
    Host,
    HostStatus,
    JobKind,
    JobState,
    OsFacts,
    PackageChange,
    PendingUpdate,
    Ring,
    ScanResult,
    StepState,
    UpdateKind,
)
from db import advisories as db_advisories
from db import changes as db_changes
from db import compliance as db_compliance
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import scans as db_scans

GROUPS = ("web", "databases", "office", "build", "dmz")
OSES = (
    ("debian", "Debian GNU/Linux 12 (bookworm)", "apt"),
    ("ubuntu", "Ubuntu 24.04 LTS", "apt"),
    ("rocky", "Rocky Linux 9.4", "dnf"),
    ("opensuse-leap", "openSUSE Leap 15.5", "zypper"),
    ("windows", "Windows Server 2022", "windows-update"),
)
URGENT_PKGS = ("openssl", "openssh-server", "linux-image-amd64", "sudo", "glibc")
IMPORTANT_PKGS = ("curl", "libxml2", "nginx", "postgresql-15", "bind9")
NONCRIT_PKGS = ("tzdata", "vim", "less", "htop", "git", "rsync", "nano", "man-db")
KEV_CVES = {"openssl": "CVE-2099-0001", "sudo": "CVE-2099-0002", "openssh-server": "CVE-2099-0003"}


@dataclass
class Fleet:
    host_ids: list[int] = field(default_factory=list)
    failed_job: int | None = None


def _update(name: str, cls: Classification, rng: random.Random) -> PendingUpdate:
    cves = (KEV_CVES[name],) if name in KEV_CVES else ()
    return PendingUpdate(
        manager="apt",
        name=name,
        installed=f"1.{rng.randint(0, 9)}",
        available=f"2.{rng.randint(0, 9)}",
        security=cls != Classification.NONCRITICAL,
        kind=UpdateKind.SECURITY if cls != Classification.NONCRITICAL else UpdateKind.BUGFIX,
        cves=cves,
        classification=cls,
    )


def _pending(rng: random.Random, urgent_p: float) -> tuple[PendingUpdate, ...]:
    out = []
    if rng.random() < urgent_p:
        out += [_update(n, Classification.URGENT, rng) for n in rng.sample(URGENT_PKGS, rng.randint(1, 2))]
    if rng.random() < urgent_p + 0.15:
        out += [
            _update(n, Classification.IMPORTANT, rng) for n in rng.sample(IMPORTANT_PKGS, rng.randint(1, 3))
        ]
    if rng.random() < 0.6:
        out += [
            _update(n, Classification.NONCRITICAL, rng) for n in rng.sample(NONCRIT_PKGS, rng.randint(1, 5))
        ]
    return tuple(out)


def _scan(db, host_id: int, os_row: tuple[str, str, str], pending, reboot: bool = False) -> None:  # type: ignore[no-untyped-def]
    facts = OsFacts(id=os_row[0], name=os_row[1], pretty_name=os_row[1], version="1", kernel="6.1.0")
    db_scans.record_scan(db, host_id, None, ScanResult(facts, (os_row[2],), pending, reboot_required=reboot))


def populate(db, hosts: int = 300, days: int = 30, seed: int = 7) -> Fleet:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    fleet = Fleet()
    today = datetime.now(UTC).date()
    oses = {}
    for i in range(hosts):
        os_row = OSES[i % len(OSES)] if i % 23 else OSES[0]
        h = db_hosts.add_host(
            db,
            Host(
                name=f"{GROUPS[i % len(GROUPS)]}-{i:03d}",
                address=f"10.{i // 250}.{i % 250}.{10 + i % 7}",
                group=GROUPS[i % len(GROUPS)] if i % 37 else None,
                ring=(Ring.TEST, Ring.PILOT, Ring.PRODUCTION, Ring.PRODUCTION)[i % 4],
                criticality=(Criticality.MISSION_CRITICAL, Criticality.STANDARD, Criticality.DESKTOP)[i % 3],
            ),
        )
        assert h.id is not None
        fleet.host_ids.append(h.id)
        oses[h.id] = os_row
    never = set(fleet.host_ids[-5:])  # added last week, never scanned
    # Day by day: rescan a share of the hosts; urgent gaps get rarer as the admin patches.
    for d in range(days, -1, -1):
        day = today - timedelta(days=d)
        urgent_p = 0.05 + 0.5 * d / max(days, 1)
        share = 1.0 if d == days else 0.15
        for hid in fleet.host_ids:
            if hid in never or rng.random() > share:
                continue
            _scan(db, hid, oses[hid], _pending(rng, urgent_p), reboot=rng.random() < 0.08)
        db_compliance.record_urgent_seen(db)
        db.execute(
            "UPDATE urgent_seen SET first_seen = ? WHERE first_seen > ?",
            [f"{day.isoformat()}T08:00:00.000+00:00", f"{day.isoformat()}T23:59:59"],
        ) if d else None
        db_compliance.record_daily(
            db, day=day.isoformat(), now=datetime.combine(day, datetime.min.time(), UTC)
        )
    # Stale: last good scan long ago.
    old = (datetime.now(UTC) - timedelta(days=20)).isoformat(timespec="milliseconds")
    for hid in fleet.host_ids[3:12]:
        db_hosts.set_status(db, hid, HostStatus.OK, None, at=old)
    # Unreachable and failed scans.
    for hid in fleet.host_ids[12:20]:
        db_scans.record_scan_failure(db, hid, None, HostStatus.UNREACHABLE, "connection timed out")
    # A patch job: most succeed, a few fail, one verifies red.
    targets = [db_hosts.get_host(db, hid) for hid in fleet.host_ids[20:40]]
    job = db_jobs.create_job(
        db,
        JobKind.PATCH,
        targets,
        params={"selections": {str(h.id): {"names": ["openssl"]} for h in targets}},
    )
    for n, h in enumerate(targets):
        assert h.id is not None
        state = StepState.FAILED if n % 7 == 3 else StepState.SUCCEEDED
        db_jobs.set_host_state(db, job, h.id, StepState.RUNNING)
        db_jobs.add_log_lines(
            db, [(job, h.id, datetime.now(UTC).isoformat(), "info", f"installing openssl on {h.name}")]
        )
        if state == StepState.SUCCEEDED:
            db_changes.record_changes(db, job, h.id, [PackageChange("apt", "openssl", "3.0.1", "3.0.2")])
            db_changes.record_verification(db, job, h.id, job, "red" if n == 5 else "green", ["ok"])
        else:
            db_jobs.add_log_lines(
                db, [(job, h.id, datetime.now(UTC).isoformat(), "error", "dpkg: error processing openssl")]
            )
        db_jobs.set_host_state(db, job, h.id, state, "dpkg failed" if state == StepState.FAILED else None)
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    db_jobs.set_job_state(db, job, JobState.FINISHED)
    fleet.failed_job = job
    db_advisories.import_batch(
        db,
        AdvisoryBatch(
            kev=(
                KevEntry(
                    KEV_CVES["openssl"],
                    "OpenSSL",
                    "OpenSSL",
                    "OpenSSL overflow",
                    "2099-01-01",
                    (today - timedelta(days=3)).isoformat(),
                ),
                KevEntry(
                    KEV_CVES["sudo"],
                    "sudo",
                    "sudo",
                    "sudo heap overflow",
                    "2099-01-01",
                    (today + timedelta(days=5)).isoformat(),
                ),
                KevEntry(
                    KEV_CVES["openssh-server"],
                    "OpenBSD",
                    "OpenSSH",
                    "OpenSSH race",
                    "2099-01-01",
                    (today + timedelta(days=60)).isoformat(),
                ),
            ),
            sources=("fleet",),
        ),
    )
    if db.conn.in_transaction:  # executemany() in db.jobs/db.changes opens an implicit transaction
        db.conn.commit()
    db_compliance.record_daily(db)
    return fleet
