"""Builds the right transport for a host, with its trusted keys and secrets.

The factory is created on the thread that starts a job (it reads trusted host keys up front from the
database); ``connect`` then runs on worker threads and touches no database: newly learned host keys
are reported as events for the recorder to store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.errors import SecretStoreError, UnsupportedHostError
from app.domain.events import Event, HostKeyLearned, HostLog
from app.domain.models import Host, HostKey, LogLevel, TransportKind
from app.transports.base import Deadline, Transport

if TYPE_CHECKING:
    from app.secrets import SecretStore
    from app.transports.pool import ConnectionPool
    from app.transports.ssh_auth import KeyFiles


class TransportFactory:
    def __init__(
        self,
        *,
        trusted_keys: Mapping[int, Sequence[HostKey]] | None = None,
        accept_new_keys: bool = False,
        secrets: SecretStore | None = None,
        ssh_config: Path | None = None,
        connect_timeout: float = 10.0,
        pool: ConnectionPool | None = None,
    ) -> None:
        self.trusted_keys = dict(trusted_keys or {})
        self.accept_new_keys = accept_new_keys
        self.secrets = secrets
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self.pool = pool  # SSH connections kept between jobs (app/transports/pool.py)
        # the job's private keys, read once (app/transports/ssh_auth.py); made by the first SSH host
        self._keys: KeyFiles | None = None
        self._keys_lock = threading.Lock()

    def _secret(
        self, ref: str | None, report: Callable[[Event], None], job_id: int, host: Host
    ) -> str | None:
        if not ref or self.secrets is None:
            return None
        try:
            return self.secrets.get(ref)
        except SecretStoreError as exc:
            # Key and agent authentication may still work: say why the password is missing and go on.
            report(HostLog(job_id, host_id=host.id, level=LogLevel.WARNING, text=str(exc)))
            return None

    def connect(
        self, host: Host, deadline: Deadline, report: Callable[[Event], None], job_id: int
    ) -> Transport:
        if host.transport == TransportKind.LOCAL:
            from app.transports import local_windows
            from app.transports.local import LocalTransport

            if local_windows.workstation_is_windows():
                return local_windows.LocalWindowsTransport(deadline=deadline)

            return LocalTransport(
                deadline=deadline, sudo_password=self._secret(host.sudo_ref, report, job_id, host)
            )
        if host.transport == TransportKind.SSH:
            from app.transports.ssh import SshTransport
            from app.transports.ssh_auth import KeyFiles

            with self._keys_lock:
                if self._keys is None:
                    self._keys = KeyFiles()

            host_id = host.id

            def on_new_key(keytype: str, key_b64: str, fingerprint: str) -> None:
                assert host_id is not None
                key = HostKey(host_id=host_id, keytype=keytype, key_b64=key_b64, fingerprint=fingerprint)
                report(HostKeyLearned(job_id, key=key))
                report(
                    HostLog(
                        job_id,
                        host_id=host_id,
                        level=LogLevel.WARNING,
                        text=f"First contact: trusted {keytype} host key {fingerprint} of {host.name}.",
                    )
                )

            return SshTransport(
                host,
                trusted_keys=self.trusted_keys.get(host.id or -1, ()),
                on_new_key=on_new_key,
                accept_new=self.accept_new_keys,
                password=self._secret(host.credential_ref, report, job_id, host),
                sudo_password=self._secret(host.sudo_ref, report, job_id, host),
                connect_timeout=self.connect_timeout,
                deadline=deadline,
                ssh_config=self.ssh_config,
                pool=self.pool,
                loaded_keys=self._keys,
            )
        if host.transport == TransportKind.WINRM:
            from app.transports.winrm import WinRMTransport

            opts = host.winrm
            return WinRMTransport(
                host,
                password=self._secret(host.credential_ref, report, job_id, host),
                deadline=deadline,
                auth=opts.auth,
                scheme=opts.scheme,
                ca_trust_path=opts.ca_trust_path,
                cert_validation=opts.cert_validation,
                proxy=opts.proxy,
                connect_timeout=self.connect_timeout,
            )
        raise UnsupportedHostError(
            f"{host.name} uses the {host.transport} transport, "
            "which this version of Patchdesk cannot use yet."
        )
