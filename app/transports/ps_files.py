"""Files on a Windows host, for every transport that runs PowerShell (WinRM and the local one).

Both write with the ``put`` script (the bytes on stdin, a temporary name, then a rename) and read with
the ``get`` script in base64 chunks, one short command each, so one file is never one huge answer.
"""

from __future__ import annotations

import abc
import base64

from app.domain.errors import TransportError
from app.transports.base import Transport
from app.transports.powershell import fill, ps_quote

GET_CHUNK = 4 * 1024 * 1024


class PowerShellFiles(Transport, abc.ABC):
    """put/get through PowerShell scripts; the transport supplies ``run`` and the host's name."""

    @property
    @abc.abstractmethod
    def host_label(self) -> str:
        """The host's name, for messages."""

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o644, timeout: float = 120) -> None:
        """Write a file. ``mode`` is a POSIX notion and ignored: the file inherits its folder's ACL."""
        res = self.run(fill("put", path=ps_quote(remote_path)), stdin=data, timeout=timeout)
        if not res.ok:
            raise TransportError(
                f"Could not write {remote_path} on {self.host_label}: {res.err.strip()[:300]}"
            )

    def get(self, remote_path: str, *, timeout: float = 120) -> bytes:
        """Read a file in base64 chunks of :data:`GET_CHUNK` bytes."""
        parts: list[bytes] = []
        offset = 0
        while True:
            script = fill("get", path=ps_quote(remote_path), offset=str(offset), count=str(GET_CHUNK))
            res = self.run(script, timeout=timeout)
            if res.exit_status == 2:
                raise TransportError(f"{remote_path} does not exist on {self.host_label}.")
            if not res.ok:
                raise TransportError(
                    f"Could not read {remote_path} on {self.host_label}: {res.err.strip()[:300]}"
                )
            try:
                chunk = base64.b64decode("".join(res.out.split()), validate=True)
            except ValueError as exc:
                raise TransportError(f"{self.host_label} sent an unreadable copy of {remote_path}.") from exc
            parts.append(chunk)
            offset += len(chunk)
            if len(chunk) < GET_CHUNK:
                return b"".join(parts)
