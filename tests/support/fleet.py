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

from app.domain.advisories import AdvisoryBatch, KevEntry
from app.domain.models import (
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
from db import compliance_history as db_compliance_history
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
    db_scans.record_scan(
        db, host_id, None, ScanResult(facts, (os_row[2],), pending, reboot_required=reboot, complete=True)
    )


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
                address=f"{GROUPS[i % len(GROUPS)]}-{i:03d}.fleet.invalid",  # never resolves (RFC 6761)
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
        db_compliance_history.record_urgent_seen(db)
        db.execute(
            "UPDATE urgent_seen SET first_seen = ? WHERE first_seen > ?",
            [f"{day.isoformat()}T08:00:00.000+00:00", f"{day.isoformat()}T23:59:59"],
        ) if d else None
        db_compliance_history.record_daily(
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
    db_compliance_history.record_daily(db)
    return fleet


# -- a fleet at scale (bench/gui_scale.py): thousands of hosts, a million pending rows ---------------

#: Bump when the shape of :func:`populate_scale`'s data changes (part of the bench cache key).
SCALE_VERSION = 1

#: (os_id, pretty name, package manager, share of the fleet)
SCALE_OSES = (
    ("debian", "Debian GNU/Linux 12 (bookworm)", "apt", 0.30),
    ("debian", "Debian GNU/Linux 11 (bullseye)", "apt", 0.06),
    ("ubuntu", "Ubuntu 24.04 LTS", "apt", 0.16),
    ("ubuntu", "Ubuntu 22.04.4 LTS", "apt", 0.10),
    ("rhel", "Red Hat Enterprise Linux 9.4 (Plow)", "dnf", 0.08),
    ("rocky", "Rocky Linux 9.4 (Blue Onyx)", "dnf", 0.04),
    ("almalinux", "AlmaLinux 8.10 (Cerulean Leopard)", "dnf", 0.02),
    ("sles", "SUSE Linux Enterprise Server 15 SP5", "zypper", 0.03),
    ("windows", "Windows Server 2022 Standard", "windows-update", 0.08),
    ("windows", "Windows 11 Pro 23H2", "windows-update", 0.10),
    ("freebsd", "FreeBSD 14.1-RELEASE", "pkg", 0.03),
)
#: Roles give host names ("web-017.fra") and groups; weights make a few roles common.
SCALE_ROLES = (
    ("web", "web", 12),
    ("app", "app", 10),
    ("db", "databases", 6),
    ("cache", "app", 3),
    ("lb", "dmz", 2),
    ("mail", "dmz", 2),
    ("dns", "infra", 2),
    ("ci", "build", 3),
    ("build", "build", 3),
    ("mon", "infra", 2),
    ("log", "infra", 2),
    ("file", "office", 3),
    ("print", "office", 1),
    ("vpn", "dmz", 1),
    ("k8s", "platform", 8),
    ("etcd", "platform", 1),
    ("kafka", "data", 2),
    ("spark", "data", 2),
    ("backup", "infra", 2),
    ("ws", "desktops", 30),
)
SCALE_SITES = ("fra", "ams", "lon", "nyc", "sfo", "sin")


def _scale_package_pool(rng: random.Random, size: int) -> list[str]:
    stems = "lib python3- perl- golang- node- fonts- x11- gir1.2- libgl qt6- gstreamer1.0- ruby-".split()
    words = (
        "ssl xml2 curl png jpeg tiff gnutls krb5 ldap sasl pam systemd glib gtk cairo pango harfbuzz "
        "freetype fontconfig sqlite pq mysql zstd lzma bz2 z archive yaml json pcre icu boost nss nspr "
        "dbus udev mount blkid uuid cap acl attr selinux audit seccomp"
    ).split()
    names = {*URGENT_PKGS, *IMPORTANT_PKGS, *NONCRIT_PKGS}
    while len(names) < size:
        names.add(f"{rng.choice(stems)}{rng.choice(words)}{rng.randint(0, 99)}")
    return sorted(names)


def populate_scale(  # type: ignore[no-untyped-def]
    db, hosts: int = 5000, rows: int = 1_000_000, seed: int = 11, history_days: int = 30
) -> Fleet:
    """A big shop with realistic skew: ``hosts`` hosts and exactly ``rows`` pending updates.

    OS mix mostly Debian/Ubuntu with RHEL-likes, SUSE, Windows servers and desktops; groups by role
    (desktops the biggest); per-host pending counts skewed (many hosts with a few dozen, a long tail
    with hundreds, ~4 % up to date); classifications ~1 % urgent, ~12 % important, the rest
    noncritical; ~2 % failed and ~3 % unreachable hosts, ~1 % never scanned, ~4 % stale. Written
    through db/ functions in one transaction (record_scan's executemany per host).
    """
    rng = random.Random(seed)
    fleet = Fleet()
    pool = _scale_package_pool(rng, 4000)
    kb_pool = [f"KB50{n:05d}" for n in range(3000)]
    os_weights = [o[3] for o in SCALE_OSES]
    role_weights = [r[2] for r in SCALE_ROLES]
    per_role: dict[str, int] = {}
    plan: list[tuple[int, tuple[str, str, str, float]]] = []
    # Four indexes over a million rows: a page cache of the default 2 MB thrashes; 512 MB does not.
    old_cache = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute("PRAGMA cache_size = -524288")
    db.conn.execute("BEGIN")
    try:
        for i in range(hosts):
            role, group, _w = rng.choices(SCALE_ROLES, role_weights)[0]
            per_role[role] = per_role.get(role, 0) + 1
            os_row = rng.choices(SCALE_OSES, os_weights)[0]
            if role == "ws":
                os_row = SCALE_OSES[9] if rng.random() < 0.7 else SCALE_OSES[2]
            elif os_row[0] == "windows" and os_row is SCALE_OSES[9]:
                os_row = SCALE_OSES[8]
            h = db_hosts.add_host(
                db,
                Host(
                    name=f"{role}-{per_role[role]:03d}.{SCALE_SITES[i % len(SCALE_SITES)]}",
                    address=f"{role}-{per_role[role]:03d}.{SCALE_SITES[i % len(SCALE_SITES)]}.fleet.invalid",
                    group=group if rng.random() > 0.03 else None,
                    ring=rng.choices((Ring.TEST, Ring.PILOT, Ring.PRODUCTION), (5, 15, 80))[0],
                    criticality=(
                        Criticality.DESKTOP
                        if role == "ws"
                        else rng.choices((Criticality.MISSION_CRITICAL, Criticality.STANDARD), (25, 75))[0]
                    ),
                ),
            )
            assert h.id is not None
            fleet.host_ids.append(h.id)
            plan.append((h.id, os_row))
        # Per-host counts: lognormal (Windows hosts a tenth: a few KBs, not hundreds of packages),
        # never-scanned and ~4 % up-to-date hosts none, capped by the package pool; exactly ``rows``.
        never = set(rng.sample(fleet.host_ids, max(1, hosts // 100))) if hosts > 10 else set()
        weights = [
            0.0
            if hid in never or rng.random() < 0.04
            else rng.lognormvariate(0, 0.8) * (0.1 if os_row[2] == "windows-update" else 1.0)
            for hid, os_row in plan
        ]
        caps = [len(kb_pool) if os_row[2] == "windows-update" else len(pool) for _, os_row in plan]
        counts = _apportion(rows, weights, caps)
        for (hid, os_row), n in zip(plan, counts, strict=True):
            if hid not in never:
                _scale_scan(db, rng, hid, os_row, n, pool, kb_pool)
        others = [hid for hid in fleet.host_ids if hid not in never]
        rng.shuffle(others)
        n_fail, n_unreach, n_stale = hosts * 2 // 100, hosts * 3 // 100, hosts * 4 // 100
        for hid in others[:n_unreach]:
            db_scans.record_scan_failure(db, hid, None, HostStatus.UNREACHABLE, "connection timed out")
        for hid in others[n_unreach : n_unreach + n_fail]:
            db_scans.record_scan_failure(
                db, hid, None, HostStatus.FAILED, "apt-get: E: Could not get lock /var/lib/dpkg/lock-frontend"
            )
        old = (datetime.now(UTC) - timedelta(days=20)).isoformat(timespec="milliseconds")
        for hid in others[n_unreach + n_fail : n_unreach + n_fail + n_stale]:
            db_hosts.set_status(db, hid, HostStatus.OK, None, at=old)
        db.conn.commit()
    except BaseException:
        db.conn.rollback()
        raise
    finally:
        db.execute(f"PRAGMA cache_size = {int(old_cache)}")
    db_compliance_history.record_urgent_seen(db)
    today = datetime.now(UTC).date()
    for d in range(history_days, -1, -1):
        day = today - timedelta(days=d)
        db_compliance_history.record_daily(
            db, day=day.isoformat(), now=datetime.combine(day, datetime.min.time(), UTC)
        )
    return fleet


def _apportion(total: int, weights: list[float], caps: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` with per-item caps; the sum is exactly ``total``
    (or the sum of the caps of the weighted items when that is smaller)."""
    counts = [0] * len(weights)
    open_ = [k for k, w in enumerate(weights) if w > 0]
    left = total
    while left > 0 and open_:
        wsum = sum(weights[k] for k in open_)
        for k in open_:
            counts[k] += min(caps[k] - counts[k], int(left * weights[k] / wsum))
        left = total - sum(counts)
        open_ = [k for k in open_ if counts[k] < caps[k]]
        if left and open_ and left < len(open_) * 2:  # the rounding remainder: one each, heaviest first
            for k in sorted(open_, key=lambda k: -weights[k])[:left]:
                counts[k] += 1
            left = total - sum(counts)
    return counts


def _scale_scan(  # type: ignore[no-untyped-def]
    db, rng: random.Random, host_id: int, os_row, n: int, pool: list[str], kb_pool: list[str]
) -> None:
    manager = os_row[2]
    windows = manager == "windows-update"
    names = rng.sample(kb_pool if windows else pool, min(n, len(kb_pool) if windows else len(pool)))
    pending = []
    rnd = rng.random  # randint() costs more than the rest of a row together: index by a float instead
    for name in names:
        r = rnd()
        cls = (
            Classification.URGENT
            if r < 0.01
            else Classification.IMPORTANT
            if r < 0.13
            else Classification.NONCRITICAL
        )
        sec = cls != Classification.NONCRITICAL
        pending.append(
            PendingUpdate(
                manager=manager,
                name=name,
                installed=None if windows else f"{1 + int(rnd() * 9)}.{int(r * 1000) % 21}-1",
                available="" if windows else f"{1 + int(rnd() * 9)}.{int(r * 7919) % 21}-2",
                source="Windows Update" if windows else ("security" if sec else "updates"),
                security=sec,
                kind=UpdateKind.SECURITY if sec else UpdateKind.BUGFIX,
                severity="critical" if cls == Classification.URGENT else ("high" if sec else None),
                cves=(f"CVE-2026-{1000 + int(rnd() * 49000)}",) if sec else (),
                classification=cls,
            )
        )
    facts = OsFacts(id=os_row[0], name=os_row[1], pretty_name=os_row[1], version="1", kernel="6.1.0-25-amd64")
    db_scans.record_scan(
        db,
        host_id,
        None,
        ScanResult(facts, (manager,), tuple(pending), reboot_required=rng.random() < 0.07, complete=True),
    )
