"""WinRM transport over pywinrm: how Patchdesk reaches Windows hosts without an agent.

Decisions worth knowing:

- **pywinrm's low-level ``Protocol``, not ``Session.run_ps``.** ``run_ps`` waits for output in a loop
  that retries WS-Management operation timeouts forever. We drive Create / Command / Send / Receive /
  Signal / Delete ourselves: every Receive carries an ``OperationTimeout`` no longer than what is left
  of the command's timeout and the job's deadline (and at most :data:`RECEIVE_POLL` seconds, so cancel
  is noticed promptly). When time runs out or the job is cancelled we Signal ``terminate`` to the
  command, delete the shell and raise CommandTimeoutError / DeadlineExceededError / CancelledError.
- **Secure by default.** HTTPS with certificate validation; a CA file or directory per host
  (``ca_trust_path``); switching validation off is an explicit constructor argument. Plain HTTP is
  accepted only with NTLM/Kerberos/CredSSP, whose message encryption we *require*
  (``message_encryption="always"``); Basic over HTTP would put the password and every command on the
  wire in clear text and is refused with a sentence.
- **Nothing from the environment by accident.** pywinrm 0.5 reads ``REQUESTS_CA_BUNDLE`` /
  ``CURL_CA_BUNDLE`` and ``HTTP(S)_PROXY`` unless told otherwise (its ``"legacy_requests"`` defaults).
  We always pass ``ca_trust_path`` (a path, or None = the bundled certifi roots) and ``proxy`` (a URL,
  or None = no proxy at all, which pywinrm turns into ``no_proxy=*``).
- **Commands are PowerShell scripts**, built by app.transports.powershell: on the command line when
  they fit, else through the command's stdin in as many WS-Management Send messages as needed, so
  nothing is ever truncated.
- **Output is UTF-8.** The shell is created with code page 65001 and every script starts with
  a prologue (``ps/prologue.ps1``) that sets ``[Console]::OutputEncoding`` to UTF-8 without BOM and
  silences progress records (which would otherwise arrive as CLIXML noise on stderr). stderr in
  PowerShell's CLIXML serialisation (``#< CLIXML``) is turned into plain text.
- **``sudo`` means nothing on Windows** and is ignored: a WinRM logon of an administrator already
  runs with a full token (local non-builtin accounts need LocalAccountTokenFilterPolicy on the host).
  :attr:`WinRMTransport.is_root` is therefore True.
- **Credentials** live only in the pywinrm session object. They never go into a log line, an exception
  message or the endpoint URL.
- **Every WS-Management fault is a sentence.** An operation timeout on Create, Command or Send (a busy
  host) is a CommandTimeoutError, HTTP 503 (WinRM not up yet: the host boots) an UnreachableError,
  w:AccessDenied an AuthenticationError, quota and envelope-size faults a TransportError naming the
  host setting; the command is stopped and its shell deleted, and the task poller tries again.
- **One shell per command.** Opening a shell costs one round trip, and it makes every command
  independent of the last: after a dropped connection or a reboot the next command simply builds a new
  session and a new shell.
"""

from __future__ import annotations

import logging
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import winrm.transport as winrm_transport
from winrm.exceptions import AuthenticationError as WinRMAuthError
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from app.domain.errors import (
    AuthenticationError,
    CancelledError,
    CommandTimeoutError,
    ConfigError,
    DeadlineExceededError,
    PatchdeskError,
    TransportError,
    UnreachableError,
)
from app.domain.models import Host
from app.transports.base import (
    DEFAULT_COMMAND_TIMEOUT,
    Command,
    CommandResult,
    Deadline,
    OutputCallback,
)
from app.transports.powershell import (
    MAX_COMMAND_LINE,
    POWERSHELL,
    Invocation,
    build_invocation,
    clixml_to_text,
    env_lines,
    prologue,
    to_powershell,
)
from app.transports.ps_files import PowerShellFiles
from app.transports.shell import MAX_OUTPUT, CappedBuffer, short_command

logger = logging.getLogger(__name__)

T = TypeVar("T")

AUTH_METHODS = ("ntlm", "kerberos", "basic", "credssp")
#: auth methods whose messages pywinrm can encrypt, so they may run over plain HTTP
ENCRYPTING_AUTH = frozenset({"ntlm", "kerberos", "credssp"})
DEFAULT_PORTS = {"https": 5986, "http": 5985}
#: auth method -> (pywinrm's flag that its library imported, what to install when it did not)
AUTH_LIBRARIES = {
    "ntlm": ("HAVE_NTLM", "requests-ntlm (pip install requests-ntlm)"),
    "kerberos": ("HAVE_KERBEROS", "pykerberos (pip install 'patchdesk[kerberos]', i.e. pywinrm[kerberos])"),
    "credssp": ("HAVE_CREDSSP", "requests-credssp (pip install 'patchdesk[credssp]', i.e. pywinrm[credssp])"),
}

#: Longest single Receive wait; keeps cancel and deadlines prompt while output is slow.
RECEIVE_POLL = 5
#: Seconds added to an operation timeout for the HTTP read timeout (the server may block that long).
READ_MARGIN = 10.0
#: Raw stdin bytes per Send message (pywinrm's envelope limit is 150 KiB, and base64 adds a third).
SEND_CHUNK = 64 * 1024
#: How long the clean-up (Signal, Delete) of an abandoned command may take per request.
ABORT_TIMEOUT = 5
#: Bytes per round trip when reading a file from the host.


def _proto_timeout(proto: Protocol | None) -> str:
    return "?" if proto is None else f"{proto.operation_timeout_sec:g}"


def _reason(exc: BaseException) -> str:
    """A short reason from a requests/urllib3 exception chain ("Connection refused", "timed out")."""
    text = str(exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip()
    m = re.search(r"\[SSL: [A-Z_]+\] ([^(')\"]+)", text)
    if m:
        return m.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed by the host"
    return type(exc).__name__


def _receive(proto: Protocol, shell: str, command_id: str) -> tuple[bytes, bytes, int, bool] | None:
    """One Receive; None when the host had no output within the operation timeout (poll again)."""
    try:
        return proto.get_command_output_raw(shell, command_id)
    except WinRMOperationTimeoutError:
        return None


# -- the transport ----------------------------------------------------------------------------------------


class WinRMTransport(PowerShellFiles):
    """Runs PowerShell scripts on one Windows host over WinRM. Not thread-safe: one per host per job."""

    kind = "winrm"

    #: Per-stream memory cap for one command's output.
    max_output = MAX_OUTPUT
    #: Longest command line before a script goes through stdin (tests lower it).
    max_command_line = MAX_COMMAND_LINE

    def __init__(
        self,
        host: Host,
        *,
        password: str | None,
        deadline: Deadline | None = None,
        auth: str = "ntlm",
        scheme: str = "https",
        port: int | None = None,
        ca_trust_path: str | None = None,
        cert_validation: bool = True,
        proxy: str | None = None,
        connect_timeout: float = 10,
        operation_timeout: float = 20,
        read_timeout: float = 30,
    ) -> None:
        """Check the settings (no network yet: the connection is made by the first command).

        ``ca_trust_path`` is a CA bundle file or a c_rehash'd directory; None uses the bundled certifi
        roots. ``cert_validation=False`` is the explicit "ignore" choice. ``proxy`` is a proxy URL;
        None means no proxy (never the environment's). ``operation_timeout`` caps one WS-Management
        operation; ``read_timeout`` must exceed it (the server may block that long).
        """
        super().__init__(deadline)
        auth = auth.lower()
        scheme = scheme.lower()
        if auth not in AUTH_METHODS:
            raise ConfigError(
                f"Unknown WinRM authentication {auth!r} for {host.name}; use one of {AUTH_METHODS}."
            )
        if auth in AUTH_LIBRARIES:
            flag, install = AUTH_LIBRARIES[auth]
            # pywinrm would accept the method and fail at the first command; say it now, with the fix.
            if not getattr(winrm_transport, flag, False):
                raise ConfigError(
                    f"WinRM {auth} authentication for {host.name} needs a library that is not installed: "
                    f"{install}."
                )
        if scheme not in DEFAULT_PORTS:
            raise ConfigError(f"Unknown WinRM scheme {scheme!r} for {host.name}; use https or http.")
        if scheme == "http" and auth not in ENCRYPTING_AUTH:
            raise ConfigError(
                f"Refusing Basic authentication over plain HTTP to {host.name}: the password and every "
                "command would cross the network unencrypted. Use HTTPS (port 5986) or NTLM/Kerberos, "
                "which encrypt WinRM messages over HTTP."
            )
        if read_timeout <= operation_timeout:
            raise ConfigError("The WinRM read timeout must be longer than the operation timeout.")
        if not host.user:
            raise ConfigError(f"No user name is set for {host.name}; WinRM needs one (DOMAIN\\user or user).")
        self.host = host
        self.user = host.user
        self.auth = auth
        self.scheme = scheme
        self.port = port or host.port or DEFAULT_PORTS[scheme]
        self.ca_trust_path = ca_trust_path
        self.cert_validation = cert_validation
        self.proxy = proxy
        self.connect_timeout = connect_timeout
        self.operation_timeout = operation_timeout
        self.read_timeout = read_timeout
        self._password = password
        address = host.address
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"  # IPv6 literal
        self.endpoint = f"{scheme}://{address}:{self.port}/wsman"
        self.label = f"{host.name} ({address}:{self.port})"
        self._proto: Protocol | None = None
        if not cert_validation:
            logger.warning("%s: TLS certificate validation is switched OFF for this host", self.label)

    def __repr__(self) -> str:  # never the password
        return f"<WinRMTransport {self.user}@{self.endpoint} auth={self.auth}>"

    @property
    def is_root(self) -> bool:
        """WinRM logons of administrators run elevated; ``sudo`` is ignored on Windows."""
        return True

    # -- protocol ---------------------------------------------------------------------------------------

    def _protocol(self) -> Protocol:
        if self._proto is None:
            if self._password is None and self.auth != "kerberos":
                raise AuthenticationError(
                    f"No password is stored for {self.user} on {self.host.name}; WinRM {self.auth} "
                    "authentication needs one."
                )
            try:
                proto = Protocol(
                    self.endpoint,
                    transport=self.auth,  # type: ignore[arg-type]
                    username=self.user,
                    password=self._password,
                    # Both always explicit: pywinrm's default "legacy_requests" reads the environment.
                    ca_trust_path=self.ca_trust_path if self.cert_validation else None,  # type: ignore[arg-type]
                    server_cert_validation="validate" if self.cert_validation else "ignore",
                    proxy=self.proxy,
                    read_timeout_sec=max(2, math.ceil(self.read_timeout)),
                    operation_timeout_sec=max(1, math.floor(self.operation_timeout)),
                    message_encryption="always" if self.scheme == "http" else "auto",
                )
            except WinRMError as exc:
                raise self._map(exc, "setting up WinRM") from None
            self._proto = proto
        return self._proto

    def _set_timeouts(self, proto: Protocol, operation: int) -> None:
        """Per-request timeouts: the WS-Management OperationTimeout, and (connect, read) for HTTP."""
        proto.operation_timeout_sec = operation
        # requests accepts a (connect, read) pair; pywinrm passes the attribute straight through.
        proto.transport.read_timeout_sec = (self.connect_timeout, operation + READ_MARGIN)  # type: ignore[assignment]

    def _call(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One pywinrm request, with its failures turned into known errors."""
        try:
            return fn(*args, **kwargs)
        except WinRMOperationTimeoutError:
            # Outside the Receive loop (which polls again) an operation timeout means the host is too
            # busy to open a shell, start a command or take its input: a retryable timeout, not a crash.
            raise CommandTimeoutError(
                f"{self.label} is busy: WinRM could not finish {doing} within its operation timeout "
                f"({_proto_timeout(self._proto)} s)."
            ) from None
        except PatchdeskError:
            raise
        except (
            requests.RequestException,
            WinRMError,
            WinRMTransportError,
            ET.ParseError,
            StopIteration,
        ) as exc:
            err = self._map(exc, doing)
            # A SOAP fault comes over a working, authenticated connection: keep it for the clean-up.
            lost = isinstance(err, UnreachableError | CommandTimeoutError | AuthenticationError)
            if lost and not isinstance(exc, WSManFaultError):
                self._drop()
            raise err from None

    def _drop(self) -> None:
        """Forget the HTTP session (after a lost connection or a reboot the next call starts afresh)."""
        proto, self._proto = self._proto, None
        if proto is not None:
            try:
                proto.transport.close_session()
            except Exception:  # closing is best effort
                logger.debug("closing the WinRM session of %s failed", self.label, exc_info=True)

    def _map(self, exc: BaseException, doing: str) -> PatchdeskError:
        """The sentence for a pywinrm/requests failure. Never includes the password."""
        if isinstance(exc, InvalidCredentialsError | WinRMAuthError):
            return AuthenticationError(
                f"WinRM on {self.label} refused the credentials for {self.user} ({self.auth}): check the "
                "user name (DOMAIN\\user or user@domain), the stored password, and that the account may "
                "log on remotely (Administrators or Remote Management Users)."
            )
        if isinstance(exc, requests.exceptions.SSLError):
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
                return TransportError(
                    f"The TLS certificate of {self.label} could not be verified ({_reason(exc)}). Set the "
                    "CA certificate that signed it (a file or directory) in the host's WinRM settings, "
                    "or, only if you accept that anyone on the network could impersonate the host, "
                    "switch certificate validation off for this host."
                )
            return TransportError(
                f"TLS with {self.label} failed while {doing} ({_reason(exc)}); is WinRM listening for "
                f"HTTPS on port {self.port}?"
            )
        if isinstance(exc, requests.exceptions.ProxyError):
            return UnreachableError(f"The proxy {self.proxy} refused the connection to {self.label}.")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return UnreachableError(
                f"Could not reach WinRM on {self.label}: no answer within {self.connect_timeout:g} s."
            )
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return CommandTimeoutError(f"{self.label} stopped answering while {doing}.")
        if isinstance(exc, requests.exceptions.ConnectionError):
            if self._proto is not None and doing != "opening a shell":
                return UnreachableError(f"Lost the connection to {self.label} while {doing}: {_reason(exc)}.")
            return UnreachableError(f"Could not reach WinRM on {self.label}: {_reason(exc)}.")
        if isinstance(exc, WSManFaultError):
            return self._map_fault(exc, doing)
        if isinstance(exc, WinRMTransportError):
            return self._map_status(exc.code, doing)
        if isinstance(exc, ET.ParseError | StopIteration):
            return TransportError(f"{self.label} sent an answer that is not WS-Management while {doing}.")
        if isinstance(exc, WinRMError):
            return TransportError(f"WinRM with {self.label} failed while {doing}: {exc}")
        return TransportError(f"WinRM with {self.label} failed while {doing}: {type(exc).__name__}")

    def _map_status(self, code: int, doing: str) -> PatchdeskError:
        """An HTTP error status without a SOAP fault."""
        if code == 503:
            # HTTP.sys answers so while the WinRM service is not running: the host boots or shuts down
            return UnreachableError(
                f"WinRM on {self.label} is not available yet (HTTP 503 while {doing}): the host is "
                "probably starting or shutting down."
            )
        if code == 413:
            return TransportError(self._too_large(doing, "HTTP 413"))
        if code in (404, 405):
            return TransportError(f"{self.label} answered HTTP {code}: is this a WinRM endpoint?")
        return TransportError(f"WinRM on {self.label} answered HTTP {code} while {doing}.")

    def _map_fault(self, exc: WSManFaultError, doing: str) -> PatchdeskError:
        """A WS-Management SOAP fault, by its subcode (w:AccessDenied, w:QuotaLimit, w:EncodingLimit)."""
        reason = " ".join(str(exc.reason).split())[:300]
        subcode = (exc.fault_subcode or "").rpartition(":")[2]
        if subcode == "AccessDenied" or exc.wsman_fault_code == 5:
            return AuthenticationError(
                f"WinRM on {self.label} denied {self.user} access while {doing} ({reason}): the account "
                "must be an administrator of the host (for a local account other than Administrator, "
                "LocalAccountTokenFilterPolicy must be 1) or allowed by the WinRM service's ACL."
            )
        if subcode == "QuotaLimit":
            return TransportError(
                f"WinRM on {self.label} refused {doing}: a WinRM quota is exhausted ({reason}). Other "
                f"sessions of {self.user} may hold the shells; they expire after the idle timeout, or "
                "raise MaxShellsPerUser/MaxConcurrentUsers on the host."
            )
        if subcode == "EncodingLimit" or exc.wsman_fault_code == 2150859025:
            return TransportError(self._too_large(doing, reason))
        return TransportError(f"WinRM on {self.label} refused {doing}: {reason}")

    def _too_large(self, doing: str, reason: str) -> str:
        return (
            f"WinRM on {self.label} refused {doing}: a message was larger than the host's "
            f"MaxEnvelopeSizekb allows ({reason}). Raise it on the host (e.g. "
            "Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 500)."
        )

    # -- running ----------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in now (open and close one shell) rather than on the first command."""
        proto = self._protocol()
        self._set_timeouts(proto, max(1, math.floor(self.operation_timeout)))
        shell = self._call("opening a shell", proto.open_shell, codepage=65001, noprofile=True)
        self._close_shell(proto, shell)

    def run(
        self,
        command: Command,
        *,
        sudo: bool = False,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        on_output: OutputCallback | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run a PowerShell script (``sudo`` is ignored, see the module docstring).

        ``on_output`` receives stdout as it arrives and stderr once, at the end, after CLIXML has been
        turned into text. ``stdin`` bytes reach the script as ``$PatchdeskStdin``.
        """
        script = to_powershell(command)
        short = short_command(script)
        budget = self.deadline.clamp(timeout)
        end = time.monotonic() + budget
        inv = build_invocation(prologue() + env_lines(env) + script, stdin, limit=self.max_command_line)
        logger.debug("%s: running %s%s", self.label, short, " (via stdin)" if inv.via_stdin else "")
        proto = self._protocol()
        self._set_timeouts(proto, self._op_timeout(end))
        shell = self._call("opening a shell", proto.open_shell, codepage=65001, noprofile=True)
        try:
            return self._execute(proto, shell, inv, on_output, end, budget, short)
        except (CommandTimeoutError, DeadlineExceededError, CancelledError):
            logger.info("%s: `%s` stopped (timeout, deadline or cancel)", self.label, short)
            raise

    def _op_timeout(self, end: float) -> int:
        left = end - time.monotonic()
        dl = self.deadline.remaining()
        if dl is not None:
            left = min(left, dl)
        return int(max(1, min(self.operation_timeout, RECEIVE_POLL, math.ceil(left))))

    def _execute(
        self,
        proto: Protocol,
        shell: str,
        inv: Invocation,
        on_output: OutputCallback | None,
        end: float,
        budget: float,
        short: str,
    ) -> CommandResult:
        command_id: str | None = None
        try:
            command_id = self._call(
                f"starting `{short}`",
                proto.run_command,
                shell,
                POWERSHELL,
                list(inv.arguments),
                console_mode_stdin=inv.stdin is None,
                skip_cmd_shell=True,
            )
            if inv.stdin is not None:
                data = inv.stdin
                for start in range(0, len(data), SEND_CHUNK):
                    self._check_time(end, budget, short)
                    chunk = data[start : start + SEND_CHUNK]
                    last = start + SEND_CHUNK >= len(data)
                    self._call(
                        f"sending `{short}`", proto.send_command_input, shell, command_id, chunk, end=last
                    )
            out, err = CappedBuffer(self.max_output), CappedBuffer(self.max_output)
            while True:
                self._check_time(end, budget, short)
                self._set_timeouts(proto, self._op_timeout(end))
                polled = self._call(f"running `{short}`", _receive, proto, shell, command_id)
                if polled is None:
                    continue  # no output within this poll: look at the clock and ask again
                stdout, stderr, code, done = polled
                if stdout:
                    out.add(stdout)
                    if on_output is not None:
                        on_output("stdout", stdout)
                if stderr:
                    err.add(stderr)
                if done:
                    break
        except PatchdeskError:
            # Timeout, deadline, cancel or a refused operation: stop the command and delete its shell,
            # unless the connection itself is gone (then the shell dies with its idle timeout).
            if self._proto is not None:
                self._abort(proto, shell, command_id)
            raise
        self._finish(proto, shell, command_id)
        err_text = clixml_to_text(err.value())
        if err_text and on_output is not None:
            on_output("stderr", err_text)
        return CommandResult(code, out.value(), err_text)

    def _check_time(self, end: float, budget: float, short: str) -> None:
        """Raise when the job was cancelled or the command's time is up (the caller aborts the command)."""
        if self.deadline.cancel.is_set():
            raise CancelledError(f"Cancelled by the user while `{short}` was running on {self.host.name}.")
        left = self.deadline.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceededError(
                f"{self.host.name} ran out of its job deadline while `{short}` was running."
            )
        if time.monotonic() >= end:
            raise CommandTimeoutError(f"`{short}` did not finish within {budget:g} s on {self.host.name}.")

    def _finish(self, proto: Protocol, shell: str, command_id: str | None) -> None:
        """Normal end of a command: Signal terminate (releases it on the host) and delete the shell."""
        try:
            self._set_timeouts(proto, max(1, math.floor(self.operation_timeout)))
            if command_id is not None:
                proto.cleanup_command(shell, command_id)
        except Exception:  # the command is done; clean-up failures only leak a shell until its idle timeout
            logger.debug("%s: cleanup of a finished command failed", self.label, exc_info=True)
        self._close_shell(proto, shell)

    def _abort(self, proto: Protocol, shell: str, command_id: str | None) -> None:
        """Stop a command we gave up on: Signal terminate, then delete its shell (both best effort)."""
        self._set_timeouts(proto, ABORT_TIMEOUT)
        if command_id is not None:
            try:
                proto.cleanup_command(shell, command_id)
            except Exception as exc:
                logger.warning("%s: could not stop the abandoned command: %s", self.label, _reason(exc))
        self._close_shell(proto, shell)

    def _close_shell(self, proto: Protocol, shell: str) -> None:
        try:
            proto.close_shell(shell, close_session=False)
        except Exception:
            logger.debug("%s: deleting shell %s failed", self.label, shell, exc_info=True)

    # -- files ------------------------------------------------------------------------------------------

    @property
    def host_label(self) -> str:
        return self.host.name

    def close(self) -> None:
        self._drop()
