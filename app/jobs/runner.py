"""Wiring of the job machinery for one database: recorder, engine and transport factory.

Both faces use it: the CLI starts a job and waits; the GUI starts it and follows the events. Job
creation and the read of trusted host keys happen on the caller's thread with the caller's
connection; everything after that runs on the engine's threads and writes only through the recorder.
"""

from __future__ import annotations

import functools
import getpass
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database

from app.jobs.engine import DEFAULT_CONCURRENCY, DEFAULT_HOST_DEADLINE, JobEngine, JobHandle
from app.jobs.events import Event
from app.jobs.recorder import Recorder
from app.jobs.tasks import scan_host
from app.models import Host, JobKind, JobTrigger
from app.transports.factory import TransportFactory
from db import hosts as db_hosts
from db import jobs as db_jobs

if TYPE_CHECKING:
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
    ) -> None:
        self.db_path = db_path
        self.secrets = secrets
        self.concurrency = concurrency
        self.host_deadline = host_deadline
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self.recorder = Recorder(db_path).start()
        self._listeners: list[Callable[[Event], None]] = []

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _engine(self, db: Database, hosts: Sequence[Host], accept_new_keys: bool) -> JobEngine:
        factory = TransportFactory(
            trusted_keys=db_hosts.host_keys_for(db, [h.id for h in hosts if h.id is not None]),
            accept_new_keys=accept_new_keys,
            secrets=self.secrets,
            ssh_config=self.ssh_config,
            connect_timeout=self.connect_timeout,
        )
        engine = JobEngine(
            self.recorder, factory, concurrency=self.concurrency, host_deadline=self.host_deadline
        )
        for listener in self._listeners:
            engine.add_listener(listener)
        return engine

    def start_scan(
        self,
        db: Database,
        hosts: Sequence[Host],
        *,
        refresh: bool = False,
        accept_new_keys: bool = False,
        concurrency: int | None = None,
        trigger: JobTrigger = JobTrigger.MANUAL,
    ) -> JobHandle:
        """Create a scan job for ``hosts`` and start it in the background."""
        concurrency = concurrency or self.concurrency
        job_id = db_jobs.create_job(
            db,
            JobKind.SCAN,
            hosts,
            trigger=trigger,
            params={"refresh": refresh},
            concurrency=concurrency,
            actor=_actor(),
        )
        engine = self._engine(db, hosts, accept_new_keys)
        task = functools.partial(scan_host, refresh=refresh)
        return engine.start(job_id, JobKind.SCAN, hosts, task, concurrency=concurrency)

    def flush(self, timeout: float = 10.0) -> bool:
        return self.recorder.flush(timeout)

    def close(self) -> None:
        self.recorder.flush()
        self.recorder.close()


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some service contexts): still record the job
        return "unknown"
