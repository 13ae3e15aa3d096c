"""Wiring of the job machinery for one database: recorder, engine and transport factory.

Both faces use it: the CLI starts a job and waits; the GUI starts it and follows the events. Job
creation and the read of trusted host keys happen on the caller's thread with the caller's
connection; everything after that runs on the engine's threads and writes only through the recorder.
"""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.classify import bound
from app.domain.criticality import rule_for
from app.domain.events import Event
from app.domain.models import Host, JobKind, JobTrigger, RebootPolicy
from app.domain.rules import Classifier
from app.jobs.engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_HOST_DEADLINE,
    LOCK_WAIT,
    REBOOT_TIMEOUT,
    JobEngine,
    JobHandle,
    StartBy,
)
from app.jobs.recorder import Recorder
from app.jobs.tasks import scan_host
from app.transports.factory import TransportFactory
from app.transports.pool import DEFAULT_IDLE, ConnectionPool
from db import baselines as db_baselines
from db import bundles as db_bundles
from db import host_policy as db_host_policy
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import scan_basis as db_scan_basis
from db import settings as db_settings
from db.connection import Database

if TYPE_CHECKING:
    from app.jobs.patching import HostSelection
    from app.jobs.verification import VerifyRequest
    from app.secrets import SecretStore

logger = logging.getLogger(__name__)


class JobRunner:
    def __init__(
        self,
        db_path: Path | str,
        *,
        secrets: SecretStore | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        host_deadline: float = DEFAULT_HOST_DEADLINE,
        ssh_config: Path | None = None,
        connect_timeout: float = 10.0,
        worker_nice: int = 0,
        keep_connections: float = DEFAULT_IDLE,
    ) -> None:
        """``keep_connections``: seconds a finished job's SSH connections stay open for the next job
        on the same host (0: close them at once; app/transports/pool.py)."""
        self.db_path = db_path
        self.worker_nice = worker_nice  # the GUI lowers its job threads' priority (engine.py)
        self.secrets = secrets
        self.concurrency = concurrency
        self.host_deadline = host_deadline
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self.pool = ConnectionPool(keep_connections)
        self.recorder = Recorder(db_path).start()
        self._listeners: list[Callable[[Event], None]] = []
        self._classifier: tuple[object, Classifier] | None = None

    def classifier(self, db: Database) -> Classifier:
        """Rules and advisory data for the tasks, read here on the caller's thread (tasks never read
        the database); the advisory index is reused until an import or a rule change."""
        from app.domain.matching import AdvisoryIndex
        from db import advisories as db_advisories
        from db import rules as db_rules

        rules = tuple(db_rules.list_rules(db))
        key = (db_advisories.generation(db), rules)
        if self._classifier is None or self._classifier[0] != key:
            index = db_advisories.advisory_index(db) if key[0] else AdvisoryIndex()
            self._classifier = (key, Classifier(rules, index))
        return self._classifier[1]

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _engine(self, db: Database, hosts: Sequence[Host], accept_new_keys: bool) -> JobEngine:
        factory = TransportFactory(
            trusted_keys=db_hosts.host_keys_for(db, [h.id for h in hosts if h.id is not None]),
            accept_new_keys=accept_new_keys,
            secrets=self.secrets,
            ssh_config=self.ssh_config,
            connect_timeout=self.connect_timeout,
            pool=self.pool,
        )
        engine = JobEngine(
            self.recorder,
            factory,
            concurrency=self.concurrency,
            host_deadline=self.host_deadline,
            worker_nice=self.worker_nice,
        )
        for listener in self._listeners:
            engine.add_listener(listener)
        engine.sources = db_bundles.sources_for(db, [h.id for h in hosts if h.id is not None])
        return engine

    def _start(
        self,
        db: Database,
        kind: JobKind,
        hosts: Sequence[Host],
        task: Callable[..., object],
        *,
        params: dict[str, object],
        accept_new_keys: bool,
        concurrency: int | None,
        trigger: JobTrigger,
        start_by: Mapping[int, StartBy] | None = None,
    ) -> JobHandle:
        concurrency = concurrency or self.concurrency
        # the tasks never read the database: each host goes with its group's defaults and its
        # criticality's rule filled in where it sets nothing
        hosts = db_host_policy.effective_hosts(db, hosts)
        job_id = db_jobs.create_job(
            db, kind, hosts, trigger=trigger, params=params, concurrency=concurrency, actor=_actor()
        )
        engine = self._engine(db, hosts, accept_new_keys)
        # the rescans inside patch/verify/rollback classify with this job's rules and advisories
        return engine.start(
            job_id, kind, hosts, bound(task, self.classifier(db)), concurrency=concurrency, start_by=start_by
        )

    def start_plan(
        self,
        db: Database,
        hosts: Sequence[Host],
        selections: Mapping[int, HostSelection],
        *,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
    ) -> JobHandle:
        """Read-only preview: what patching ``selections`` would change on each host."""
        # Imported here, like the other kinds' tasks: a one-shot `patchdesk scan` never needs them.
        from app.jobs.patching import plan_host

        return self._start(
            db,
            JobKind.PLAN,
            hosts,
            functools.partial(plan_host, selections=selections),
            params={"selections": _selections_json(selections)},
            accept_new_keys=accept_new_keys,
            concurrency=concurrency,
            trigger=JobTrigger.MANUAL,
        )

    def start_patch(
        self,
        db: Database,
        hosts: Sequence[Host],
        selections: Mapping[int, HostSelection],
        *,
        reboot: RebootPolicy | None = None,
        verify: bool = True,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
        trigger: JobTrigger = JobTrigger.MANUAL,
        lock_wait: float = LOCK_WAIT,
        reboot_timeout: float = REBOOT_TIMEOUT,
        start_by: Mapping[int, StartBy] | None = None,
        auto_rollback: bool = False,
    ) -> JobHandle:
        """``start_by``: per host id, the window-end cut-off after which it is not started but
        deferred (the scheduler's windowed jobs; engine.py). ``auto_rollback`` (``patch
        --auto-rollback``): every host of this job is rolled back at once when its verification is red,
        whatever its own policy."""
        from app.jobs.patching import patch_host

        rules = db_host_policy.criticality_rules(db)
        task = functools.partial(
            patch_host,
            selections=selections,
            reboot=reboot,
            verify=verify,
            lock_wait=lock_wait,
            reboot_timeout=reboot_timeout,
            auto_rollback=auto_rollback,
            reboot_approval=frozenset(
                h.id for h in hosts if h.id is not None and rule_for(rules, h.criticality).reboot_approval
            ),
        )
        params: dict[str, object] = {
            "selections": _selections_json(selections),
            "reboot": str(reboot) if reboot else None,
            "verify": verify,
            "auto_rollback": auto_rollback,
        }
        return self._start(
            db,
            JobKind.PATCH,
            hosts,
            task,
            params=params,
            accept_new_keys=accept_new_keys,
            concurrency=concurrency,
            trigger=trigger,
            start_by=start_by,
        )

    def start_verify(
        self,
        db: Database,
        hosts: Sequence[Host],
        *,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
        requests: Mapping[int, VerifyRequest] | None = None,
        trigger: JobTrigger = JobTrigger.MANUAL,
    ) -> JobHandle:
        """Verify each host against its last patch job (or just rescan and check health without one).

        ``requests``: what to verify each host against instead (the soak checks: app/jobs/soak.py)."""
        from app.jobs.selection import verify_request
        from app.jobs.verification import verify_host

        if requests is None:
            requests = {h.id: verify_request(db, h) for h in hosts if h.id is not None}
        return self._start(
            db,
            JobKind.VERIFY,
            hosts,
            functools.partial(verify_host, requests=requests),
            params={"subjects": {str(k): v.subject_job_id for k, v in requests.items()}},
            accept_new_keys=accept_new_keys,
            concurrency=concurrency,
            trigger=trigger,
        )

    def start_rollback(
        self,
        db: Database,
        hosts: Sequence[Host],
        *,
        job_id: int | None = None,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
        lock_wait: float = LOCK_WAIT,
    ) -> JobHandle:
        """Roll each host back to before ``job_id`` (default: its newest patch not yet rolled back)."""
        from app.jobs.rollback import rollback_host
        from app.jobs.selection import rollback_request

        requests = {h.id: rollback_request(db, h, job_id) for h in hosts if h.id is not None}
        return self._start(
            db,
            JobKind.ROLLBACK,
            hosts,
            functools.partial(rollback_host, requests=requests, lock_wait=lock_wait),
            params={"subjects": {str(k): v.subject_job_id for k, v in requests.items()}},
            accept_new_keys=accept_new_keys,
            concurrency=concurrency,
            trigger=JobTrigger.MANUAL,
        )

    def start_task(
        self,
        db: Database,
        kind: JobKind,
        hosts: Sequence[Host],
        task: Callable[..., object],
        *,
        params: dict[str, object],
        accept_new_keys: bool = False,
        concurrency: int | None = None,
    ) -> JobHandle:
        """A job of ``kind`` running ``task`` on each host (the drift check, capture and fix of
        app/jobs/drift.py, started by app/services/baselines.py)."""
        return self._start(
            db,
            kind,
            hosts,
            task,
            params=params,
            accept_new_keys=accept_new_keys,
            concurrency=concurrency,
            trigger=JobTrigger.MANUAL,
        )

    def start_scan(
        self,
        db: Database,
        hosts: Sequence[Host],
        *,
        refresh: bool = False,
        full: bool = False,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
        trigger: JobTrigger = JobTrigger.MANUAL,
        auto_refresh: bool = True,
    ) -> JobHandle:
        """Create a scan job for ``hosts`` and start it in the background.

        ``refresh`` updates the package indexes first; ``full`` (implied by ``refresh``) simulates on
        every host even where nothing changed since the last scan (see ``scan_host``).
        ``auto_refresh`` (off: ``scan --no-refresh``) refreshes an index found empty or older than
        the policy's ``index_max_age_hours``."""
        concurrency = concurrency or self.concurrency
        job_id = db_jobs.create_job(
            db,
            JobKind.SCAN,
            hosts,
            trigger=trigger,
            params={"refresh": refresh, "full": full or refresh, "auto_refresh": auto_refresh},
            concurrency=concurrency,
            actor=_actor(),
        )
        engine = self._engine(db, hosts, accept_new_keys)
        known = (
            {}
            if refresh or full
            else db_scan_basis.fingerprints(db, [h.id for h in hosts if h.id is not None])
        )
        task = functools.partial(
            scan_host,
            refresh=refresh,
            classifier=self.classifier(db),
            known=known,
            load_basis=db_scan_basis.BasisReader(self.db_path),
            index_max_age=db_settings.policy_settings(db).index_max_age,
            auto_refresh=auto_refresh,
            drift=db_baselines.items_for_hosts(db, hosts),
        )
        return engine.start(job_id, JobKind.SCAN, hosts, task, concurrency=concurrency)

    def clear_connections(self) -> None:
        """Close the kept SSH connections (the next job logs in afresh)."""
        self.pool.clear()

    def ready(self) -> bool:
        """A job starts without waiting (the jobs run in this process)."""
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        return self.recorder.flush(timeout)

    def close(self) -> None:
        self.pool.close()
        # Not imported, or still being imported by another thread (the worker's warm-up, when it is
        # closed right after it started): no SSH connection was made.
        join = getattr(sys.modules.get("app.transports.ssh"), "join_closed_connections", None)
        if join is not None and join(timeout=2.0):
            logger.debug("some closed SSH connections' threads were still running at exit")
        self.recorder.flush()
        self.recorder.close()


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some service contexts): still record the job
        return "unknown"


def _selections_json(selections: Mapping[int, HostSelection]) -> dict[str, object]:
    return {
        str(k): {
            "names": list(v.names),
            "security": list(v.security),
            "security_pending": list(v.security_pending),
        }
        for k, v in selections.items()
    }
