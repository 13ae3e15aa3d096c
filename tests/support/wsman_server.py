"""A loopback WS-Management server that speaks the WinRM shell protocol to the real pywinrm client.

No Windows host can run here, so this stands in for one: a threaded ``http.server`` (HTTPS with a
test CA made by ``cryptography``, or HTTP) on 127.0.0.1 implementing the parts of MS-WSMV's remote
shell protocol that pywinrm uses -- Create (a shell), Command, Send (stdin), Receive (output in
several pieces, base64 streams, CommandState Running/Done with ExitCode), Signal (terminate) and
Delete -- with real SOAP faults, including the WS-Management OperationTimeout fault (w:TimedOut,
WSManFault code 2150858793) that a Receive gets when no output arrived in time.

Authentication: NTLM (pyspnego as the acceptor, tests/support/wsman_ntlm.py) and Basic, both accepted
unless ``auth`` narrows it. Over HTTP an NTLM connection must use MS-WSMV message encryption, as a
Windows host with the default AllowUnencrypted=false demands; over HTTPS the NTLM handshake is checked
against the certificate's channel bindings. ``fail(op, kind)`` injects the faults a real host gives on
any operation (see :data:`FAULTS`).

``powershell.exe -EncodedCommand`` arguments are decoded (and the stdin bootstrap of
app.transports.winrm is followed), so tests can assert on the exact PowerShell that was sent. What a
script "does" is decided by a pluggable handler: ``FakeWindows`` recognises Patchdesk's scripts by
their ``# patchdesk:<op>`` marker and plays the parts of Windows the adapters use.
"""

# ruff: noqa: E501 - embedded PowerShell (and SOAP) reads better unwrapped

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import socket
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from app.platforms.windows.scripts import script_ops, script_params
from app.transports.powershell import bootstrap, prologue
from tests.support.wsman_ntlm import CONTENT_TYPE as ENCRYPTED_TYPE
from tests.support.wsman_ntlm import NtlmConnection, NtlmError, channel_bindings, write_user_file

if TYPE_CHECKING:
    from app.transports.winrm import WinRMTransport

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = SHELL_URI + "/Command"
ACTION_RECEIVE = SHELL_URI + "/Receive"
ACTION_SEND = SHELL_URI + "/Send"
ACTION_SIGNAL = SHELL_URI + "/Signal"
SIGNAL_TERMINATE = SHELL_URI + "/signal/terminate"
STATE_DONE = SHELL_URI + "/CommandState/Done"
STATE_RUNNING = SHELL_URI + "/CommandState/Running"
TIMEOUT_CODE = 2150858793
#: The operations ``WSManServer.fail`` can break, by the last part of their action URI.
OPERATIONS = ("Create", "Command", "Send", "Receive", "Signal", "Delete")
#: Faults a real host answers with: HTTP status, SOAP subcode, WSManFault code and message (none for 503).
FAULTS: dict[str, tuple[int, str, int, str]] = {
    "timeout": (
        500,
        "w:TimedOut",
        TIMEOUT_CODE,
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
    ),
    # HTTP.sys answers for the WinRM service while it is starting or stopping (the host boots)
    "booting": (503, "", 0, ""),
    "access_denied": (500, "w:AccessDenied", 5, "Access is denied."),
    "quota": (
        500,
        "w:QuotaLimit",
        2150859173,
        "The WS-Management service cannot process the request. This user is allowed a maximum number of 5 "
        "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user.",
    ),
    "too_large": (
        500,
        "w:EncodingLimit",
        2150859025,  # 0x80338111
        "The WS-Management service cannot process the request because the request size exceeded the "
        "configured MaxEnvelopeSize quota.",
    ),
}
_BOOTING_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
    b"<HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD><BODY><h2>Service Unavailable</h2>"
    b"<hr><p>HTTP Error 503. The service is unavailable.</p></BODY></HTML>"
)

_ENV_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<?xml version="1.0" ?>'
        + _ENV_OPEN
        + "<s:Header>"
        + f"<a:Action>{action}</a:Action>"
        + f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        + "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        + f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        + "</s:Header>"
        + f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(relates_to: str, subcode: str, reason: str, code: int) -> bytes:
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        f"<s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(reason)}</s:Text></s:Reason>'
        '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{code}" Machine="fakewin"><f:Message>{escape(reason)}</f:Message></f:WSManFault></s:Detail>'
        "</s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def clixml_error(*messages: str) -> bytes:
    """stderr as powershell.exe writes it when redirected: ``#< CLIXML`` and an <Objs> document."""

    def esc(text: str) -> str:
        return escape(text).replace("\r", "_x000D_").replace("\n", "_x000A_")

    parts = [
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">',
        # a progress record, as PowerShell emits when a module loads
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
        '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for '
        "first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR>"
        "</MS></Obj>",
    ]
    for msg in messages:
        parts.append(f'<S S="Error">{esc(msg + chr(13) + chr(10))}</S>')
    parts.append("</Objs>")
    return b"#< CLIXML\r\n" + "".join(parts).encode("utf-8")


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# -- what a script does -------------------------------------------------------------------------------


@dataclass
class ScriptCall:
    """One PowerShell script as the server received it."""

    command_line: str
    raw_script: str  # decoded -EncodedCommand, or the script the bootstrap read from stdin
    script: str  # without Patchdesk's prologue
    stdin: bytes  # what the script sees as $PatchdeskStdin
    via_stdin: bool


@dataclass
class Reply:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    pieces: int = 3  # stdout arrives in this many Receive responses
    delay: float = 0.0  # seconds before any output
    hang: bool = False  # never finishes (until Signal terminate)


Handler = Callable[[ScriptCall], Reply]


@dataclass
class _Command:
    id: str
    command_line: str
    cond: threading.Condition
    chunks: list[tuple[str, bytes]] = field(default_factory=list)
    done: bool = False
    exit_code: int = 0
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    terminated: bool = False


@dataclass
class _Shell:
    id: str
    codepage: str
    commands: dict[str, _Command] = field(default_factory=dict)


class WSManServer:
    """The loopback server. ``handler`` decides what each script outputs."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls_dir: Path | None = None,
        user: str = "Administrator",
        password: str = "Passw0rd!",
        auth: tuple[str, ...] = ("ntlm", "basic"),
        ntlm_dir: Path | None = None,
    ) -> None:
        """``auth``: the methods accepted ("ntlm", "basic"). ``ntlm_dir`` holds the acceptor's account
        file (a temporary directory when None)."""
        self.handler = handler
        self.user = user
        self.password = password
        self.auth = tuple(a.lower() for a in auth)
        self.auth_used: list[str] = []  # per SOAP request: "basic", "ntlm" or "ntlm+encrypted"
        self.wire: list[bytes] = []  # request bodies as they crossed the network
        self.faults: dict[str, list[str]] = {}
        self.faults_sent: list[tuple[str, str]] = []
        self.ntlm_file: Path | None = None
        self._ntlm_tmp: Any = None
        if "ntlm" in self.auth:
            if ntlm_dir is None:
                import tempfile

                self._ntlm_tmp = tempfile.TemporaryDirectory(prefix="wsman-ntlm-")
                ntlm_dir = Path(self._ntlm_tmp.name)
            self.ntlm_file = write_user_file(ntlm_dir, user, password)
        self.bindings = None
        self.lock = threading.Lock()
        self.shells: dict[str, _Shell] = {}
        self.calls: list[ScriptCall] = []
        self.signals: list[tuple[str, str]] = []  # (command id, code)
        self.actions: list[str] = []
        self.auth_failures = 0
        self.operation_timeouts: list[float] = []
        self.codepages: list[str] = []
        self.down_until = 0.0
        self.booting_until = 0.0
        self.drop_count = 0
        self._stop = threading.Event()
        self.ca_path: Path | None = None
        server = self

        class Handler_(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler_)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls_dir is not None:
            self.ca_path, cert, key = make_test_pki(tls_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
            self.bindings = channel_bindings(cert)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> WSManServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            for shell in self.shells.values():
                for cmd in shell.commands.values():
                    with cmd.cond:
                        cmd.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._ntlm_tmp is not None:
            self._ntlm_tmp.cleanup()

    def go_down(self, seconds: float) -> None:
        """Stop answering (connections are closed without a reply) for ``seconds``; shells are lost."""
        with self.lock:
            self.down_until = time.monotonic() + seconds
            self.shells.clear()

    def boot(self, seconds: float) -> None:
        """Answer every request with HTTP 503, before authentication, for ``seconds`` (as HTTP.sys does
        while the WinRM service is not running yet); shells are lost."""
        with self.lock:
            self.booting_until = time.monotonic() + seconds
            self.shells.clear()

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        with self.lock:
            self.drop_count += n

    def fail(self, operation: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``operation`` (one of :data:`OPERATIONS`) with the
        fault ``kind`` (a key of :data:`FAULTS`) instead of performing them."""
        if operation not in OPERATIONS or kind not in FAULTS:
            raise ValueError(f"unknown operation {operation!r} or fault {kind!r}")
        with self.lock:
            self.faults.setdefault(operation, []).extend([kind] * times)

    def scripts(self, op: str | None = None) -> list[str]:
        """Scripts received, optionally only those whose first marker is ``op``."""
        with self.lock:
            calls = list(self.calls)
        out = []
        for c in calls:
            ops = script_ops(c.script)
            if op is None or (ops and ops[0] == op):
                out.append(c.script)
        return out

    # -- HTTP --------------------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        with self.lock:
            self.wire.append(body)
            down = time.monotonic() < self.down_until
            drop = self.drop_count > 0
            if drop and not down:
                self.drop_count -= 1
        if down or drop:
            req.close_connection = True
            try:
                req.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if time.monotonic() < self.booting_until:
            self._send(req, 503, _BOOTING_PAGE, content_type="text/html; charset=us-ascii")
            return
        method = self._authenticate(req)
        if method is None:
            return
        ntlm: NtlmConnection | None = getattr(req, "ntlm", None)
        encrypted = req.headers.get("Content-Type", "").startswith("multipart/encrypted")
        if method == "ntlm" and encrypted and body:
            assert ntlm is not None
            try:
                body = ntlm.decrypt(body)
            except NtlmError as exc:
                self._send(req, 400, fault("uuid:0", "w:InvalidMessage", f"bad encrypted message: {exc}", 1))
                return
        elif body and method == "ntlm" and self.scheme == "http":
            # AllowUnencrypted=false, the Windows default: an NTLM session over HTTP must seal its messages
            self._send(
                req, 500, fault("uuid:0", "w:AccessDenied", "Unencrypted traffic is currently disabled.", 5)
            )
            return
        if not body:  # pywinrm's empty message that sets up the security context
            self._send(req, 200, b"")
            return
        with self.lock:
            self.auth_used.append(method + ("+encrypted" if encrypted else ""))
        try:
            status, reply = self._dispatch(body)
        except Exception as exc:  # a bug in the fake: answer with a fault the client will show
            status, reply = 500, fault("uuid:0", "w:InternalError", f"fake server error: {exc!r}", 2150858752)
        if status == 503:
            self._send(req, status, reply, content_type="text/html; charset=us-ascii")
        elif encrypted and ntlm is not None:
            self._send(req, status, ntlm.encrypt(reply), content_type=ENCRYPTED_TYPE)
        else:
            self._send(req, status, reply)

    def _authenticate(self, req: BaseHTTPRequestHandler) -> str | None:
        """ "basic" or "ntlm" when the request may proceed; None when a 401 has been sent."""
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        ntlm: NtlmConnection | None = getattr(req, "ntlm", None)
        if scheme == "Basic" and "basic" in self.auth:
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if token == expected:
                return "basic"
        elif scheme in ("NTLM", "Negotiate") and self.ntlm_file is not None:
            if ntlm is None:
                ntlm = NtlmConnection(self.ntlm_file, self.bindings)
                req.ntlm = ntlm  # type: ignore[attr-defined]
            try:
                challenge = ntlm.step(token.strip())
            except NtlmError:
                challenge = ""
            if challenge:
                self._send(req, 401, b"", extra=[("WWW-Authenticate", f"{scheme} {challenge}")])
                return None
            if challenge is None:
                return "ntlm"
        elif not header and ntlm is not None and ntlm.authenticated:
            return "ntlm"  # the connection was authenticated by an earlier handshake
        if header:  # credentials were presented and refused (not the client's first, anonymous try)
            with self.lock:
                self.auth_failures += 1
        offers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")] if self.ntlm_file else []
        if "basic" in self.auth:
            offers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(req, 401, b"", extra=offers)
        return None

    def _send(
        self,
        req: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        extra: list[tuple[str, str]] | None = None,
        content_type: str = "application/soap+xml;charset=UTF-8",
    ) -> None:
        try:
            req.send_response(status)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(body)))
            for k, v in extra or []:
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(body)
        except OSError:
            pass

    # -- WS-Management -----------------------------------------------------------------------------------

    def _dispatch(self, body: bytes) -> tuple[int, bytes]:
        root = ET.fromstring(body)
        header = root.find("s:Header", NS)
        assert header is not None
        action = (header.findtext("a:Action", "", NS) or "").strip()
        msg_id = (header.findtext("a:MessageID", "", NS) or "").strip()
        operation = action.rsplit("/", 1)[-1]
        with self.lock:
            self.actions.append(operation)
            queued = self.faults.get(operation)
            kind = queued.pop(0) if queued else None
            if kind is not None:
                self.faults_sent.append((operation, kind))
        if kind is not None:
            status, subcode, code, reason = FAULTS[kind]
            if status == 503:
                return status, _BOOTING_PAGE
            return status, fault(msg_id, subcode, reason, code)
        shell_id = ""
        for sel in header.iterfind("w:SelectorSet/w:Selector", NS):
            if sel.get("Name") == "ShellId":
                shell_id = (sel.text or "").strip()
        op_timeout = _duration(header.findtext("w:OperationTimeout", "PT20S", NS) or "PT20S")
        bodyel = root.find("s:Body", NS)
        assert bodyel is not None
        if action == ACTION_CREATE:
            codepage = ""
            for opt in header.iterfind("w:OptionSet/w:Option", NS):
                if opt.get("Name") == "WINRS_CODEPAGE":
                    codepage = opt.text or ""
            sid = str(uuid.uuid4()).upper()
            with self.lock:
                self.shells[sid] = _Shell(sid, codepage)
                self.codepages.append(codepage)
            return 200, envelope(
                "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
                msg_id,
                "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address><a:ReferenceParameters>"
                "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
                f'<w:SelectorSet><w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet>'
                f"</a:ReferenceParameters></x:ResourceCreated><rsp:Shell><rsp:ShellId>{sid}</rsp:ShellId></rsp:Shell>",
            )
        shell = self.shells.get(shell_id)
        if shell is None:
            return 500, fault(
                msg_id,
                "w:InvalidSelectors",
                "The request for the Windows Remote Shell with ShellId "
                f"{shell_id} failed because the shell was not found on the server.",
                2150858843,
            )
        if action == ACTION_DELETE:
            with self.lock:
                self.shells.pop(shell_id, None)
            return 200, envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", msg_id, "")
        if action == ACTION_COMMAND:
            line = bodyel.find("rsp:CommandLine", NS)
            assert line is not None
            cmdline = (
                (line.findtext("rsp:Command", "", NS) or "")
                + " "
                + (line.findtext("rsp:Arguments", "", NS) or "")
            ).strip()
            cid = str(uuid.uuid4()).upper()
            cmd = _Command(cid, cmdline, threading.Condition())
            shell.commands[cid] = cmd
            script = _decode_encoded(cmdline)
            if script is None or bootstrap() not in script:
                cmd.stdin_done = True
                threading.Thread(target=self._run, args=(cmd, script, False), daemon=True).start()
            return 200, envelope(
                SHELL_URI + "/CommandResponse",
                msg_id,
                f"<rsp:CommandResponse><rsp:CommandId>{cid}</rsp:CommandId></rsp:CommandResponse>",
            )
        if action == ACTION_SEND:
            stream = bodyel.find("rsp:Send/rsp:Stream", NS)
            assert stream is not None
            cmd = shell.commands[stream.get("CommandId", "").upper()]
            cmd.stdin += base64.b64decode(stream.text or "")
            if stream.get("End") == "true" and not cmd.stdin_done:
                cmd.stdin_done = True
                threading.Thread(target=self._run, args=(cmd, None, True), daemon=True).start()
            return 200, envelope(SHELL_URI + "/SendResponse", msg_id, "<rsp:SendResponse/>")
        if action == ACTION_SIGNAL:
            sig = bodyel.find("rsp:Signal", NS)
            assert sig is not None
            cid = sig.get("CommandId", "").upper()
            code = (sig.findtext("rsp:Code", "", NS) or "").strip()
            with self.lock:
                self.signals.append((cid, code))
            cmd = shell.commands.get(cid)
            if cmd is not None and code == SIGNAL_TERMINATE:
                with cmd.cond:
                    if not cmd.done:
                        cmd.terminated = True
                        cmd.done = True
                        cmd.exit_code = -1
                    cmd.cond.notify_all()
            return 200, envelope(SHELL_URI + "/SignalResponse", msg_id, "<rsp:SignalResponse/>")
        if action == ACTION_RECEIVE:
            with self.lock:
                self.operation_timeouts.append(op_timeout)
            ds = bodyel.find("rsp:Receive/rsp:DesiredStream", NS)
            assert ds is not None
            cmd = shell.commands[ds.get("CommandId", "").upper()]
            return self._receive(cmd, msg_id, op_timeout)
        return 500, fault(msg_id, "w:ActionNotSupported", f"unsupported action {action}", 2150858771)

    def _receive(self, cmd: _Command, msg_id: str, op_timeout: float) -> tuple[int, bytes]:
        end = time.monotonic() + op_timeout
        with cmd.cond:
            while not cmd.chunks and not cmd.done and not self._stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    return 500, fault(
                        msg_id,
                        "w:TimedOut",
                        "The WS-Management service cannot complete the operation within the time specified in "
                        "OperationTimeout.  ",
                        TIMEOUT_CODE,
                    )
                cmd.cond.wait(min(left, 0.1))
            parts = []
            if cmd.chunks:
                stream, data = cmd.chunks.pop(0)
                parts.append(
                    f'<rsp:Stream Name="{stream}" CommandId="{cmd.id}">{base64.b64encode(data).decode()}</rsp:Stream>'
                )
            if cmd.done and not cmd.chunks:
                parts.append(f'<rsp:Stream Name="stdout" CommandId="{cmd.id}" End="true"></rsp:Stream>')
                parts.append(f'<rsp:Stream Name="stderr" CommandId="{cmd.id}" End="true"></rsp:Stream>')
                parts.append(
                    f'<rsp:CommandState CommandId="{cmd.id}" State="{STATE_DONE}">'
                    f"<rsp:ExitCode>{cmd.exit_code}</rsp:ExitCode></rsp:CommandState>"
                )
            else:
                parts.append(f'<rsp:CommandState CommandId="{cmd.id}" State="{STATE_RUNNING}"/>')
        return 200, envelope(
            SHELL_URI + "/ReceiveResponse",
            msg_id,
            "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>",
        )

    def _run(self, cmd: _Command, script: str | None, via_stdin: bool) -> None:
        stdin = b""
        if via_stdin:
            lines = bytes(cmd.stdin).split(b"\r\n")
            script = base64.b64decode(lines[0]).decode("utf-8")
            stdin = base64.b64decode(lines[1]) if len(lines) > 1 and lines[1] else b""
        if script is None:
            reply = Reply(
                stderr=b"'" + cmd.command_line.split(" ")[0].encode() + b"' is not recognized\r\n",
                exit_code=1,
            )
            call = None
        else:
            user = script[len(prologue()) :] if script.startswith(prologue()) else script
            call = ScriptCall(cmd.command_line, script, user, stdin, via_stdin)
            with self.lock:
                self.calls.append(call)
            try:
                reply = self.handler(call)
            except Exception as exc:  # the fake's own bug: show it as PowerShell would
                reply = Reply(stderr=clixml_error(f"fake Windows failed: {exc!r}"), exit_code=1)
        if reply.delay:
            self._stop.wait(reply.delay)
        pieces = max(1, reply.pieces)
        out = reply.stdout
        size = max(1, -(-len(out) // pieces))
        with cmd.cond:
            for i in range(0, len(out), size):
                cmd.chunks.append(("stdout", out[i : i + size]))
            if reply.stderr:
                cmd.chunks.append(("stderr", reply.stderr))
            if not reply.hang and not cmd.done:
                cmd.done = True
                cmd.exit_code = reply.exit_code
            cmd.cond.notify_all()


def _duration(text: str) -> float:
    m = re.fullmatch(r"PT([0-9.]+)S", text.strip())
    return float(m.group(1)) if m else 20.0


def _decode_encoded(cmdline: str) -> str | None:
    m = re.search(r"-EncodedCommand\s+([A-Za-z0-9+/=]+)", cmdline)
    if not m:
        return None
    return base64.b64decode(m.group(1)).decode("utf-16-le")


# -- TLS ------------------------------------------------------------------------------------------------


def make_test_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it: (ca, cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Patchdesk Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fakewin")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, cert_path, key_path


# -- a scripted Windows -----------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parent.parent / "data" / "windows"


def _ps_literal(script: str, var: str) -> str | None:
    m = re.search(r"\$" + var + r" = '((?:[^']|'')*)'", script)
    return m.group(1).replace("''", "'") if m else None


class FakeWindows:
    """The bits of Windows the adapters use, scripted.

    State: a file system (path -> bytes), pending WUA updates (records in the scan script's JSON
    format), installed KBs, a boot time, Chocolatey output. The SYSTEM task runs in a thread that
    writes status.json into the fake file system step by step; ``reboot_during_install`` makes the
    host restart mid-install (the server stops answering, the boot time changes, and the task runs
    again from its at-startup trigger, as the real wrapper would).
    """

    def __init__(self, server_ref: Callable[[], WSManServer | None] | None = None) -> None:
        self.server_ref = server_ref or (lambda: None)
        self.lock = threading.RLock()
        self.files: dict[str, bytes] = {}
        self.boot_time = "2024-01-10T06:00:00.0000000Z"
        scan = json.loads((DATA / "wua_scan_result.json").read_text(encoding="utf-8"))
        self.pending: list[dict[str, Any]] = list(scan["updates"])
        self.installed_kbs: set[str] = {"KB5031364", "KB5032198"}
        self.permanent_kbs: set[str] = set()
        self.hotfix_history: list[dict[str, Any]] = []
        #: the Uninstall keys' programs (windows-history.ps1); None: reading them fails
        self.programs: list[dict[str, str]] | None = [
            {"Name": "Microsoft Edge", "Version": "120.0.2210.91"},
            {"Name": "7-Zip 23.01 (x64)", "Version": "23.01"},
        ]
        self.tasks: dict[str, str] = {}  # id -> state
        self.task_step = 0.3
        self.reboot_during_install = False
        self.reboot_seconds = 1.5
        self.reboots = 0
        self.choco_outdated = (DATA / "choco_outdated.txt").read_bytes()
        self.choco_list = (DATA / "choco_list.txt").read_bytes()
        self.choco_upgrade_exit = 0
        self.winget_available = False
        self.extra: list[tuple[Callable[[ScriptCall], bool], Reply]] = []
        self.uninstalls: list[str] = []
        #: System/Application events of level critical/error (Get-WinEvent's fields), see add_event
        self.events: list[dict[str, Any]] = []
        #: services by name -> Get-Service Status; a name not here is "not found"
        self.services: dict[str, str] = {"WinRM": "Running", "wuauserv": "Running", "Spooler": "Running"}
        #: requests to drop (connection closed, no answer) when the install task starts installing
        self.drop_during_install = 0
        self.restart_delay = 0.5
        self.choco_versions: dict[str, list[str]] = {
            "git": ["2.42.0", "2.43.0", "2.44.0"],
            "7zip": ["23.1.0", "24.1.0"],
            "notepadplusplus": ["8.6.1", "8.6.4"],
        }

    def on(self, predicate: Callable[[ScriptCall], bool], reply: Reply) -> None:
        self.extra.append((predicate, reply))

    def __call__(self, call: ScriptCall) -> Reply:
        for predicate, reply in self.extra:
            if predicate(call):
                return reply
        ops = script_ops(call.script)
        params = script_params(call.script)
        op = ops[0] if ops else ""
        p = params[0] if params else {}
        fn = getattr(self, "op_" + op.replace("-", "_"), None)
        if fn is None:
            return Reply(
                stderr=clixml_error("The term 'Unknown-Command' is not recognized as the name of a cmdlet."),
                exit_code=1,
            )
        return fn(call, p)

    # -- files -------------------------------------------------------------------------------------------

    def op_put(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        path = _ps_literal(call.script, "p")
        assert path is not None
        with self.lock:
            self.files[path] = call.stdin
        return Reply()

    def op_get(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        path = _ps_literal(call.script, "p")
        m = re.search(r"Seek\((\d+),", call.script)
        n = re.search(r"New-Object byte\[\] (\d+)", call.script)
        assert path is not None and m and n
        with self.lock:
            data = self.files.get(path)
        if data is None:
            return Reply(stderr=b"not found\r\n", exit_code=2)
        off, count = int(m.group(1)), int(n.group(1))
        return Reply(stdout=base64.b64encode(data[off : off + count]))

    # -- offline bundles -----------------------------------------------------------------------------------

    #: what bundle-win-state.ps1 reads: CurrentBuildNumber, UBR, PROCESSOR_ARCHITECTURE
    build = ("20348", "2227", "AMD64")

    def op_bundle_win_state(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert "CurrentBuildNumber" in call.script and "PROCESSOR_ARCHITECTURE" in call.script
        build, revision, arch = self.build
        return Reply(stdout=crlf(json.dumps({"Build": build, "Revision": revision, "Arch": arch}) + "\n"))

    #: free bytes on the drive of %ProgramData% (bundle-win-prepare.ps1)
    bundle_free = 20 * 1024**3
    #: file names whose next copy arrives with one byte changed (a bad disk, a filter driver)
    bundle_corrupt: frozenset[str] = frozenset()
    #: wusa.exe/DISM exit code per KB (default 0); e.g. -2145124329 (0x80240017, not applicable)
    bundle_exit_codes: dict[str, int] = {}
    _BUNDLES = "C:\\ProgramData\\Patchdesk\\bundles\\"

    def bundle_files(self, bundle_id: str) -> dict[str, bytes]:
        """name -> content of the files in one bundle's folder."""
        prefix = self._BUNDLES + bundle_id + "\\"
        with self.lock:
            return {k[len(prefix) :]: v for k, v in self.files.items() if k.startswith(prefix)}

    def op_bundle_win_prepare(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert (
            "ReparsePoint" in call.script
            and "GetOwner" in call.script
            and "AvailableFreeSpace" in call.script
        )
        have = {n: len(b) for n, b in self.bundle_files(str(p["id"])).items()}
        answer = {"ok": True, "dir": self._BUNDLES + str(p["id"]), "free": self.bundle_free, "have": have}
        return Reply(stdout=crlf(json.dumps(answer) + "\n"))

    def op_bundle_win_chunk(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert "SetLength($offset)" in call.script and "$PatchdeskStdin" in call.script
        path = self._BUNDLES + str(p["id"]) + "\\" + str(p["name"])
        offset = int(p["offset"])
        with self.lock:
            old = self.files.get(path, b"")
            if len(old) < offset:
                return Reply(stderr=clixml_error("the copy is shorter than expected"), exit_code=1)
            data = old[:offset] + call.stdin
            if str(p["name"]) in self.bundle_corrupt and data:
                self.bundle_corrupt = self.bundle_corrupt - {str(p["name"])}
                data = bytes([data[0] ^ 1]) + data[1:]
            self.files[path] = data
        return Reply()

    def op_bundle_win_hash(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert "Get-FileHash -LiteralPath $path -Algorithm SHA256" in call.script
        have = self.bundle_files(str(p["id"]))
        bad = []
        for want in p["files"]:
            data = have.get(str(want["name"]))
            if data is None or hashlib.sha256(data).hexdigest() != want["sha256"]:
                bad.append(str(want["name"]))
                with self.lock:
                    self.files.pop(self._BUNDLES + str(p["id"]) + "\\" + str(want["name"]), None)
        return Reply(stdout=crlf(json.dumps({"checked": len(p["files"]), "bad": bad}) + "\n"))

    def op_bundle_win_remove(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert (
            "ReparsePoint" in call.script and "Remove-Item -LiteralPath $dir -Recurse -Force" in call.script
        )
        prefix = self._BUNDLES + str(p["id"]) + "\\"
        with self.lock:
            for k in [k for k in self.files if k.startswith(prefix)]:
                del self.files[k]
        return Reply()

    def _bundle_kb_files(self, bundle_ids: list[str]) -> dict[str, str]:
        """KB -> the file carrying it in the first of ``bundle_ids`` that has one."""
        out: dict[str, str] = {}
        for bundle_id in bundle_ids:
            for name in self.bundle_files(bundle_id):
                m = re.search(r"kb(\d{6,8})", name, re.I)
                if m and name.lower().endswith((".msu", ".cab")) and name != "wsusscn2.cab":
                    out.setdefault("KB" + m.group(1), name)
        return out

    def task_bundle_win_install(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any]:
        """wusa/DISM for each KB from the bundle's file: the exit code the test chose (0 by default);
        an installed KB leaves the pending list."""
        files = self._bundle_kb_files([str(i) for i in p["bundles"]])
        results: list[dict[str, Any]] = []
        reboot = False
        for kb in p["kbs"]:
            name = files.get(str(kb))
            if name is None:
                results.append({"KB": kb, "File": "", "Method": "", "ExitCode": -1, "Missing": True})
                continue
            code = self.bundle_exit_codes.get(str(kb), 0)
            method = "wusa" if name.lower().endswith(".msu") else "dism"
            results.append({"KB": kb, "File": name, "Method": method, "ExitCode": code, "Missing": False})
            reboot = reboot or code == 3010
            if code in (0, 3010):
                with self.lock:
                    self.installed_kbs.add(str(kb))
                    self.pending = [u for u in self.pending if "KB" + "".join(u["KBArticleIDs"][:1]) != kb]
        return {"results": results[0] if len(results) == 1 else results, "RebootRequired": reboot}

    # -- facts, reboot flags, inventory --------------------------------------------------------------------

    def op_windows_facts(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        facts = json.loads((DATA / "facts_server2022.json").read_text(encoding="utf-8"))
        facts["LastBoot"] = self.boot_time
        return Reply(stdout=crlf(json.dumps(facts) + "\n"))

    def op_reboot_pending(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        """Every source the script reads; ``reboot_signals`` overrides any of them (a reboot clears it)."""
        for source in (
            "Microsoft.Update.SystemInfo",
            "DetermineIfRebootPending",
            "UpdateExeVolatile",
            "PendingFileRenameOperations2",
            "ActiveComputerName",
            "JoinDomain",
        ):
            assert source in call.script, source
        pending = self._reboot_flag
        answer: dict[str, Any] = {
            "CBSRebootPending": pending,
            "WURebootRequired": pending,
            "SystemInfoRebootRequired": pending,
            "ConfigMgrRebootPending": None,  # no ConfigMgr client
            "UpdateExeVolatile": False,
            "PendingFileRenameOperations": False,
            "PendingFileRenameOperations2": False,
            "PendingComputerRename": False,
            "PendingDomainJoin": False,
            "Errors": [],
        }
        answer.update(self.reboot_signals)
        return Reply(stdout=crlf(json.dumps(answer) + "\n"))

    _reboot_flag = False
    #: reboot-pending sources as the test sets them (a new dict each time), e.g. only
    #: PendingFileRenameOperations, or a source that failed: {"SystemInfoRebootRequired": None, "Errors": [...]}
    reboot_signals: dict[str, Any] = {}  # replaced, never changed in place (a class default)

    # -- health (verification) and restart -----------------------------------------------------------

    def add_event(
        self,
        message: str,
        *,
        log: str = "System",
        source: str = "Service Control Manager",
        event_id: int = 7031,
        when: float | None = None,
    ) -> None:
        """An error in an event log, at ``when`` (epoch; now by default)."""
        at = dt.datetime.fromtimestamp(time.time() if when is None else when, dt.UTC)
        with self.lock:
            self.events.append(
                {
                    "Time": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
                    "Log": log,
                    "Source": source,
                    "Id": event_id,
                    "Level": "Error",
                    "Message": message,
                    "_epoch": at.timestamp(),
                }
            )

    def op_windows_health(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        assert "NoMatchingEventsFound" in call.script and "LastBootUpTime" in call.script
        since = int(p["sinceMs"]) / 1000
        with self.lock:
            events = [
                {k: v for k, v in e.items() if not k.startswith("_")}
                for e in self.events
                if e["_epoch"] >= since
            ][: int(p.get("max") or 50)]
            services = {str(n): self.services.get(str(n), "NotFound") for n in p.get("services") or []}
            boot = self.boot_time
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        out: dict[str, Any] = {
            "Now": now,
            "LastBoot": boot,
            # what ConvertTo-Json makes of @() and of a one-element array
            "Events": events[0] if len(events) == 1 else events,
            "EventsError": None,
            "Services": services,
        }
        return Reply(stdout=crlf(json.dumps(out) + "\n"), pieces=2)

    def op_restart(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        """shutdown /r /t 5: answers at once, restarts ``restart_delay`` seconds later (a real host
        keeps answering, with its old boot time, for a while after it took the order)."""
        assert "shutdown.exe /r" in call.script
        with self.lock:
            self.restarts_ordered += 1

        def later() -> None:
            time.sleep(self.restart_delay)
            self.reboot()

        threading.Thread(target=later, daemon=True).start()
        return Reply()

    #: restarts the console asked for (op_restart); ``reboots`` counts every restart, mid-install ones too
    restarts_ordered = 0

    def op_wua_installed(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        with self.lock:
            hot = [{"HotFixID": kb, "Description": "Security Update"} for kb in sorted(self.installed_kbs)]
        return Reply(
            stdout=crlf(json.dumps({"hotfixes": hot, "history": self.hotfix_history}) + "\n"), pieces=4
        )

    def op_windows_history(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        """The Windows Update history (newest first, as QueryHistory gives it) and the programs."""
        assert "QueryHistory(0, [Math]::Min($total, [int]$P.max))" in call.script
        with self.lock:
            hist = sorted(self.hotfix_history, key=lambda e: str(e.get("Date", "")), reverse=True)
            programs = self.programs
        answer = {
            "total": len(hist),
            "history": hist[: int(p.get("max", 1000))],
            "programsRead": programs is not None,
            "programs": programs or [],
            "errors": []
            if programs is not None
            else ["the installed programs: 0x80070005 Access is denied."],
        }
        return Reply(stdout=crlf(json.dumps(answer) + "\n"))

    # -- the SYSTEM task --------------------------------------------------------------------------------

    #: Folders that exist before Patchdesk creates them, as (path, owner SID, owner name, is a
    #: junction): what a user who planted ``C:\\ProgramData\\Patchdesk`` or its ``tasks`` would leave.
    planted_folders: tuple[tuple[str, str, str, bool], ...] = ()
    #: PowerShell's execution policy set by Group Policy ("" = none); -ExecutionPolicy Bypass cannot
    #: override it, so "AllSigned" refuses an unsigned ``-File run.ps1``.
    group_policy_execution_policy = ""
    #: The console's poll holds status.json open while the task writes it (see op_task_poll).
    status_read_while_written = False
    #: The next n status writes find status.json held open by another reader (antivirus, an editor).
    status_held_by_others = 0
    #: The payload throws a COM error with this HRESULT (PowerShell wraps it in a
    #: MethodInvocationException, whose own HResult is 0x80131501); 0 = it does not.
    payload_throws = 0
    _status_held: tuple[str, bool] | None = None  # (task id, reader shares delete) of the last poll

    _TASKS = "C:\\ProgramData\\Patchdesk\\tasks\\"
    _DEFINITIONS = "C:\\Windows\\System32\\Tasks\\Patchdesk\\Patchdesk-"
    _ADMINS = ("S-1-5-18", "S-1-5-32-544")
    _SHARING_VIOLATION = 0x80070020

    def _status_path(self, task_id: str) -> str:
        return f"{self._TASKS}{task_id}\\status.json"

    def _systask(self) -> dict[str, Any]:
        """Per-instance task bookkeeping: run generations (a restart kills a run), last results, and
        the ids a startup trigger ran."""
        with self.lock:
            return self.__dict__.setdefault("_systask_state", {"gen": {}, "last": {}, "startup_runs": []})

    @property
    def startup_runs(self) -> list[str]:
        """Ids of the tasks that ran again from their at-startup trigger (boot_with_startup_tasks)."""
        return list(self._systask()["startup_runs"])

    def task_definition(self, task_id: str) -> dict[str, Any] | None:
        """What Task Scheduler holds for the task (decided from the start script), or None."""
        with self.lock:
            raw = self.files.get(self._DEFINITIONS + task_id)
        return None if raw is None else json.loads(raw)

    def _write_status(self, task_id: str, status: dict[str, Any]) -> None:
        """The wrapper's write of status.json. It fails with a sharing violation when a reader holds the
        file without delete sharing, unless the wrapper retries (File.Replace in a loop, see
        task-wrapper.ps1), in which case it succeeds once the reader is gone."""
        with self.lock:
            held, self._status_held = self._status_held, None
            collides = held is not None and held[0] == task_id and not held[1]
            if self.status_held_by_others:
                self.status_held_by_others -= 1
                collides = True
            run_ps = self.files.get(f"{self._TASKS}{task_id}\\run.ps1", b"").decode("utf-8")
            retries = "[System.IO.File]::Replace(" in run_ps and "Start-Sleep -Milliseconds" in run_ps
            if collides and not retries:
                raise _SharingViolation
            self.files[self._status_path(task_id)] = json.dumps(status).encode("utf-8")

    def _task_folder_refusal(self, task_id: str, script: str) -> str | None:
        """What task-start.ps1 says about planted folders: a script that checks every level (owner,
        reparse point, the tree below) refuses the first bad one; one that does not uses them."""
        checks = all(
            s in script
            for s in (
                "function Assert-PatchdeskSafe",
                "ReparsePoint",
                "GetOwner(",
                "Reset-PatchdeskTree $root",
            )
        )
        root = "C:\\ProgramData\\Patchdesk"
        levels = [root, root + "\\tasks", self._TASKS + task_id]
        for path, owner, name, junction in sorted(self.planted_folders):
            if not checks or not (path in levels or path.startswith(root + "\\")):
                continue
            if junction:
                return f"{path} is a junction or symbolic link; Patchdesk will not run a SYSTEM task through it. An administrator should delete it."
            if owner not in self._ADMINS:
                return f"{path} is owned by {name}, not by SYSTEM or Administrators; Patchdesk will not run a SYSTEM task from it. An administrator should delete it."
        return None

    def _task_action(self, script: str, p: dict[str, Any], task_id: str) -> str:
        """How the registered action starts the wrapper: "file" (-File run.ps1) or "bootstrap" (an
        encoded command that runs run.ps1's text as a script block)."""
        if "-EncodedCommand ' + $P.bootstrap" in script:
            boot = base64.b64decode(str(p["bootstrap"])).decode("utf-16-le")
            assert script_ops(boot) == ["task-bootstrap"] and script_params(boot) == [{"id": task_id}]
            assert "[ScriptBlock]::Create([System.IO.File]::ReadAllText(" in boot
            return "bootstrap"
        assert "-File" in script
        return "file"

    def op_task_start(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        task_id = str(p["id"])
        script = call.script
        refused = self._task_folder_refusal(task_id, script)
        if refused is not None:
            return Reply(stdout=crlf(json.dumps({"started": False, "error": refused}) + "\n"), exit_code=1)
        run_ps = base64.b64decode(str(p["script"])).decode("utf-8")
        assert run_ps.startswith("# patchdesk:task")
        definition = {
            "action": self._task_action(script, p, task_id),
            "startup": "-AtStartup" in script,
            "delay": "$trigger.Delay = 'PT" in script,
            "end_boundary": "$trigger.EndBoundary = " in script,
            "network": "-RunOnlyIfNetworkAvailable" in script,
            "enabled": True,
        }
        # Group Policy's execution policy refuses an unsigned script file, whatever -ExecutionPolicy says
        blocked = definition["action"] == "file" and self.group_policy_execution_policy in (
            "AllSigned",
            "Restricted",
        )
        with self.lock:
            self.files[f"{self._TASKS}{task_id}\\run.ps1"] = run_ps.encode()
            self.files[self._DEFINITIONS + task_id] = json.dumps(definition).encode()
            self.tasks[task_id] = "Ready" if blocked else "Running"
            self._systask()["last"][task_id] = 1 if blocked else 0x41301  # SCHED_S_TASK_RUNNING
        if not blocked:
            self._start_task_thread(task_id, run_ps, 1)
        policy = self.group_policy_execution_policy or "Bypass"
        out = json.dumps(
            {"started": True, "boot": self.boot_time, "name": "Patchdesk-" + task_id, "policy": policy}
        )
        return Reply(stdout=crlf(out + "\n"))

    def op_task_poll(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        task_id = str(p["id"])
        # [IO.File]::ReadAllText shares reading only: a File.Replace or Move-Item of the file fails
        # while it is open; a FileStream shared 'ReadWrite, Delete' never makes a write fail.
        shares_delete = "[System.IO.FileShare]'ReadWrite, Delete'" in call.script
        with self.lock:
            raw = self.files.get(self._status_path(task_id))
            state = self.tasks.get(task_id, "Missing")
            last = self._systask()["last"].get(task_id) if task_id in self.tasks else None
            if raw is not None and self.status_read_while_written:
                self._status_held = (task_id, shares_delete)
        status = raw.decode("utf-8") if raw is not None else None
        return Reply(
            stdout=crlf(
                json.dumps({"status": status, "task": state, "boot": self.boot_time, "last": last}) + "\n"
            ),
            pieces=2,
        )

    def op_task_cleanup(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        task_id = str(p["id"])
        with self.lock:
            self.tasks.pop(task_id, None)
            self.files.pop(self._DEFINITIONS + task_id, None)
            for path in [k for k in self.files if f"\\tasks\\{task_id}\\" in k]:
                del self.files[path]
        return Reply()

    def op_task_disarm(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        """Disable-ScheduledTask: no trigger fires any more; a run in progress goes on."""
        assert "Disable-ScheduledTask" in call.script
        task_id = str(p["id"])
        with self.lock:
            definition = self.task_definition(task_id)
            if definition is not None:
                definition["enabled"] = False
                self.files[self._DEFINITIONS + task_id] = json.dumps(definition).encode()
            state = "Missing" if definition is None else "Disabled"
        return Reply(stdout=crlf(json.dumps({"task": state}) + "\n"))

    def boot_with_startup_tasks(self) -> None:
        """A restart some time later: runs in progress die with it, then every enabled task with an
        at-startup trigger runs its wrapper again -- which exits at once when its status is final."""
        with self.lock:
            gens = self._systask()["gen"]
            for task_id, state in list(self.tasks.items()):
                gens[task_id] = gens.get(task_id, 0) + 1
                if state == "Running":
                    self.tasks[task_id] = "Ready"
        self.reboot()
        with self.lock:
            ids = [k[len(self._DEFINITIONS) :] for k in self.files if k.startswith(self._DEFINITIONS)]
        for task_id in ids:
            self._at_startup(task_id)

    def _at_startup(self, task_id: str) -> None:
        definition = self.task_definition(task_id)
        if definition is None or not definition["enabled"] or not definition["startup"]:
            return
        with self.lock:
            run_ps = self.files[f"{self._TASKS}{task_id}\\run.ps1"].decode("utf-8")
            raw = self.files.get(self._status_path(task_id))
            self._systask()["startup_runs"].append(task_id)
        status = json.loads(raw) if raw is not None else {}
        if status.get("state") in ("done", "failed"):
            return  # the wrapper finds its work done and exits
        self._start_task_thread(task_id, run_ps, int(status.get("runs") or 0) + 1)

    def _start_task_thread(self, task_id: str, run_ps: str, runs: int) -> None:
        with self.lock:
            self.tasks[task_id] = "Running"
            gen = self._systask()["gen"].get(task_id, 0)
        threading.Thread(target=self._task, args=(task_id, run_ps, runs, gen), daemon=True).start()

    def _task_killed(self, task_id: str, gen: int) -> bool:
        with self.lock:
            return bool(self._systask()["gen"].get(task_id, 0) != gen)

    def _task(self, task_id: str, run_ps: str, runs: int = 1, gen: int = 0) -> None:
        ops = script_ops(run_ps)
        payload_op = ops[1] if len(ops) > 1 else ""
        params = script_params(run_ps)
        p = params[0] if params else {}
        step = self.task_step
        try:
            self._write_status(
                task_id, {"state": "running", "phase": "starting", "progress": 0, "runs": runs}
            )
        except _SharingViolation:
            self._task_failed(task_id, runs, _SharingViolation.text, self._SHARING_VIOLATION)
            return
        time.sleep(step)
        if self._task_killed(task_id, gen):
            return
        fn = getattr(self, "task_" + payload_op.replace("-", "_"), None)
        if fn is None:
            self._write_status(
                task_id,
                {
                    "state": "failed",
                    "runs": runs,
                    "error": f"unknown payload {payload_op}",
                    "hresult": "0x80004005",
                },
            )
        elif self.payload_throws:
            # the wrapper reports the innermost exception's code only if it looks for it
            inner = ".InnerException" in run_ps
            error = f'Exception calling "Search" with "1" argument(s): "Exception from HRESULT: 0x{self.payload_throws:08X}"'
            self._task_failed(task_id, runs, error, self.payload_throws if inner else 0x80131501)
        else:
            try:
                result = fn(task_id, p, runs)
                if result is not None:
                    self._write_status(
                        task_id,
                        {"state": "done", "phase": "done", "progress": 100, "runs": runs, "result": result},
                    )
            except _Rebooted:
                # killed by the restart; the at-startup trigger runs the wrapper again
                self._after_reboot(lambda: self._at_startup(task_id))
                return
            except _SharingViolation:
                # the wrapper's catch reports the failed write as the payload's failure
                self._task_failed(task_id, runs, _SharingViolation.text, self._SHARING_VIOLATION)
        with self.lock:
            if task_id in self.tasks:
                self.tasks[task_id] = "Ready"
                self._systask()["last"][task_id] = 0

    def _task_failed(self, task_id: str, runs: int, error: str, hresult: int) -> None:
        """The wrapper's catch: status "failed" with the error and an HRESULT."""
        status = {
            "state": "failed",
            "phase": "failed",
            "runs": runs,
            "error": error,
            "hresult": f"0x{hresult:08X}",
        }
        with self.lock:
            self.files[self._status_path(task_id)] = json.dumps(status).encode("utf-8")
            if task_id in self.tasks:
                self.tasks[task_id] = "Ready"

    def _after_reboot(self, resume: Callable[[], None]) -> None:
        def later() -> None:
            time.sleep(self.reboot_seconds)
            resume()

        threading.Thread(target=later, daemon=True).start()

    def reboot(self) -> None:
        """Restart: the server stops answering for a while, the boot time changes and what waited for
        the restart (the reboot flags, pending renames) is done."""
        server = self.server_ref()
        with self.lock:
            self.reboots += 1
            self.boot_time = f"2024-01-10T07:{self.reboots:02d}:00.0000000Z"
            self._reboot_flag = False
            self.reboot_signals = {}
        if server is not None:
            server.go_down(self.reboot_seconds)

    #: (search kind, HRESULT) of a Search() that throws, e.g. ("software", 0x8024402C) for a WSUS
    #: name that does not resolve; the script reports the innermost COMException's code
    wua_search_error: tuple[str, int] | None = None
    #: ResultCode per search kind where it is not 2 (3 succeeded with errors, 4 failed, 5 aborted)
    wua_result_codes: dict[str, int] = {}
    #: IUpdateSearcher.Online as the scan script reads it
    wua_online = True
    #: IAutomaticUpdatesResults.LastSearchSuccessDate as the scan script prints it (None: never)
    wua_last_search_success: str | None = "2024-01-10T05:12:00Z"
    #: how many of the install script's searches throw (with this HRESULT) before one succeeds
    wua_install_search_failures = 0
    wua_install_search_hresult = -2145107924  # 0x8024402C

    def _wua_search(self, kind: str, criteria: str) -> dict[str, Any]:
        """One IUpdateSearcher.Search as wua-scan.ps1 reports it: the updates it found and how it ended."""
        outcome: dict[str, Any] = {"Kind": kind, "ResultCode": -1, "HResult": 0, "Error": "", "Warnings": []}
        if self.wua_search_error is not None and self.wua_search_error[0] == kind:
            outcome["HResult"] = self.wua_search_error[1]
            outcome["Error"] = "Exception from HRESULT: 0x%08X" % (self.wua_search_error[1] & 0xFFFFFFFF)
            return {"search": outcome, "updates": []}
        code = self.wua_result_codes.get(kind, 2)
        outcome["ResultCode"] = code
        if code == 3:
            outcome["Warnings"] = ["0x80244022 The request failed with HTTP status 503."]
        want = 2 if kind == "driver" else 1
        with self.lock:
            found = [
                u
                for u in self.pending
                if u["Type"] == want and not ("BrowseOnly=0" in criteria and u.get("BrowseOnly") is True)
            ]
        return {"search": outcome, "updates": found if code in (2, 3) else []}

    def task_wua_scan(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any] | None:
        assert p["software"] == "IsInstalled=0 and Type='Software' and IsHidden=0 and BrowseOnly=0"
        assert p["driver"] == "IsInstalled=0 and Type='Driver' and IsHidden=0"
        self._write_status(
            task_id, {"state": "running", "phase": "searching software", "progress": 20, "runs": runs}
        )
        time.sleep(self.task_step)
        if p.get("offline"):
            return self._offline_scan(task_id, runs, [str(i) for i in p["offline"]])
        software = self._wua_search("software", p["software"])
        driver = self._wua_search("driver", p["driver"])
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        return {
            "updates": software["updates"] + driver["updates"],
            "warnings": [],
            "searches": [software["search"], driver["search"]],
            "online": self.wua_online,
            "serverSelection": 0,
            "searched": now if software["search"]["ResultCode"] in (2, 3) else None,
            "lastSearchSuccess": self.wua_last_search_success,
        }

    #: offline searches (against a bundle's wsusscn2.cab) the scan script ran
    offline_scans = 0

    def _offline_scan(self, task_id: str, runs: int, bundle_ids: list[str]) -> dict[str, Any] | None:
        """The search of a bundle's wsusscn2.cab: the catalogue offers the pending updates whose file
        the bundles carry (a real catalogue offers every update missing; the fake keeps to the bundle's
        list). Without a catalogue the script throws before it searches."""
        with self.lock:
            self.offline_scans += 1
        if not any("wsusscn2.cab" in self.bundle_files(i) for i in bundle_ids):
            error = "No applied bundle on this host holds wsusscn2.cab; apply the bundle again."
            self._task_failed(task_id, runs, error, 0x80131501)
            return None
        kbs = self._bundle_kb_files(bundle_ids)
        with self.lock:
            found = [u for u in self.pending if any("KB" + k in kbs for k in u["KBArticleIDs"])]
        searches = [
            {"Kind": kind, "ResultCode": 2, "HResult": 0, "Error": "", "Warnings": []}
            for kind in ("software", "driver")
        ]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        return {
            "updates": found,
            "warnings": [],
            "searches": searches,
            "online": False,
            "serverSelection": 3,
            "searched": now,
            "lastSearchSuccess": self.wua_last_search_success,
            "offline": True,
        }

    def task_wua_install(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any]:
        ids = [str(i).lower() for i in p.get("ids") or []]
        kbs = [str(k) for k in p.get("kbs") or []]
        attempts = int(p["searchAttempts"])
        if self.wua_install_search_failures >= attempts:
            # every try of the script's bounded retry threw: it gives up and says with what
            self.wua_install_search_failures -= attempts
            return {
                "results": [],
                "RebootRequired": False,
                "ResultCode": 4,
                "HResult": self.wua_install_search_hresult,
                "SearchFailed": True,
                "SearchAttempts": attempts,
                "SearchError": "Exception from HRESULT: 0x%08X"
                % (self.wua_install_search_hresult & 0xFFFFFFFF),
            }
        self.wua_install_search_failures = 0  # the retry got through
        results = []
        with self.lock:
            todo = []
            for u in self.pending:
                by_kb = any("KB" + k in kbs for k in u["KBArticleIDs"])
                pick = (
                    (u["Type"] != 2 and u.get("BrowseOnly") is not True)
                    if p.get("all")
                    else (u["UpdateID"].lower() in ids or (by_kb and u["Type"] != 2))
                )
                if pick:
                    todo.append(u)
            for kb in kbs:
                if not any("KB" + k == kb for u in todo for k in u["KBArticleIDs"]):
                    if kb in self.installed_kbs:
                        results.append(
                            {
                                "Requested": kb,
                                "KBArticleIDs": [kb[2:]],
                                "ResultCode": 2,
                                "HResult": 0,
                                "AlreadyInstalled": True,
                            }
                        )
                    else:
                        results.append({"Requested": kb, "ResultCode": -1, "HResult": 0, "NotFound": True})
        self._write_status(
            task_id, {"state": "running", "phase": "downloading", "progress": 20, "runs": runs}
        )
        time.sleep(self.task_step)
        self._write_status(task_id, {"state": "running", "phase": "installing", "progress": 50, "runs": runs})
        if self.drop_during_install and runs == 1:
            server = self.server_ref()
            if server is not None:
                server.drop_next(self.drop_during_install)
        time.sleep(self.task_step)
        with self.lock:
            for u in todo:
                self.pending.remove(u)
                for k in u["KBArticleIDs"]:
                    self.installed_kbs.add("KB" + k)
                fail = u.get("_fail_hresult")
                results.append(
                    {
                        "UpdateID": u["UpdateID"],
                        "Title": u["Title"],
                        "KBArticleIDs": u["KBArticleIDs"],
                        "ResultCode": 4 if fail else 2,
                        "HResult": fail or 0,
                        "RebootRequired": u["RebootBehavior"] != 0,
                    }
                )
            if todo:
                self._reboot_flag = True
        if self.reboot_during_install and todo:
            self.reboot_during_install = False
            self.reboot()
            raise _Rebooted
        return {
            "results": results,
            "RebootRequired": any(r.get("RebootRequired") for r in results),
            "ResultCode": 2,
            "HResult": 0,
        }

    def add_cbs_package(self, kb: str, name: str, *, permanent: bool) -> None:
        """The CBS package (Get-WindowsPackage) that carries ``kb``: a permanent one (a servicing stack)
        cannot be removed (DISM fails with 0x800F0825 CBS_E_CANNOT_UNINSTALL); a removable one, e.g. the
        LCU part of a combined SSU+LCU, can, even where WUA says the update is not uninstallable."""
        with self.lock:
            self.cbs_packages = {**self.cbs_packages, kb: (name, permanent)}

    #: kb -> (CBS package name, permanent); see add_cbs_package
    cbs_packages: dict[str, tuple[str, bool]] = {}  # replaced, never changed in place
    #: (kb, method) of every removal the uninstall task attempted, in order
    removal_methods: tuple[tuple[str, str], ...] = ()

    #: the bundle ids each uninstall check searched offline (empty: it asked Windows Update)
    removal_checks_offline: tuple[tuple[str, ...], ...] = ()

    def task_wua_removal_check(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any]:
        with self.lock:
            self.removal_checks_offline = (*self.removal_checks_offline, tuple(p.get("offline") or ()))
        checks = []
        with self.lock:
            for kb in p["kbs"]:
                package, permanent = self.cbs_packages.get(kb, (None, None))
                checks.append(
                    {
                        "KB": kb,
                        "Installed": kb in self.installed_kbs,
                        "IsUninstallable": kb not in self.permanent_kbs,
                        "DismPackage": package,
                        "DismPermanent": permanent,
                    }
                )
        return {"checks": checks}

    def task_wua_uninstall(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any]:
        """As ps/wua-uninstall.ps1: one removal after the other, stopping at the first failure."""
        removals: list[dict[str, Any]] = []
        with self.lock:
            for item in p["items"]:
                kb, method = item["kb"], item["method"]
                self.uninstalls.append(kb)
                self.removal_methods = (*self.removal_methods, (kb, method))
                package, permanent = self.cbs_packages.get(kb, (None, None))
                if method == "dism" and (package != item["package"] or permanent):
                    removals.append(
                        {
                            "KB": kb,
                            "Method": "dism",
                            "ExitCode": -2146498523,  # 0x800F0825 CBS_E_CANNOT_UNINSTALL
                            "Error": "Package cannot be uninstalled.",
                        }
                    )
                    break
                if method != "dism" and kb in self.permanent_kbs:
                    removals.append({"KB": kb, "Method": method, "ExitCode": 1, "RebootRequired": False})
                    break
                code = 0 if kb in self.installed_kbs else 2359303
                self.installed_kbs.discard(kb)
                removals.append(
                    {
                        "KB": kb,
                        "Method": method,
                        "ExitCode": 3010 if code == 0 else code,
                        "RebootRequired": code == 0,
                    }
                )
        return {"removals": removals}

    #: the winget source's index time as "winget source list -n winget" shows it (UTC here; None:
    #: never updated), and the exit code of "winget source update" (0: it then is now)
    winget_source_updated: str | None = "2024-01-01T06:00:00Z"
    winget_refresh_exit: int | None = 0
    #: what the payload returns instead of its usual result (a broken answer, another host's)
    winget_result: dict[str, Any] | None = None

    def task_winget_scan(self, task_id: str, p: dict[str, Any], runs: int) -> dict[str, Any]:
        if not self.winget_available:
            return {"unavailable": True}
        if self.winget_result is not None:
            return self.winget_result
        now = dt.datetime.now(dt.UTC)
        updated = self.winget_source_updated
        age = (now - dt.datetime.fromisoformat(updated)) if updated else None
        refreshed = p["refresh"] and (age is None or age.total_seconds() / 3600 > float(p["maxAgeHours"]))
        if refreshed and self.winget_refresh_exit == 0:
            updated = self.winget_source_updated = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        result = json.loads((DATA / "winget_scan_result.json").read_text(encoding="utf-8"))
        result["sources"] = [
            {
                "Name": "winget",
                "Type": "Microsoft.PreIndexed.Package",
                "Updated": updated,
                "Refreshed": refreshed,
                "RefreshExit": self.winget_refresh_exit if refreshed else None,
            },
            {
                "Name": "msstore",
                "Type": "Microsoft.Rest",
                "Updated": None,
                "Refreshed": False,
                "RefreshExit": None,
            },
        ]
        return result

    # -- chocolatey ---------------------------------------------------------------------------------------

    #: ``choco source list -r`` lines, and the names of sources that do not answer
    choco_sources = [
        "chocolatey|https://community.chocolatey.org/api/v2/|False|||0|False|False|False",
        "internal|https://nuget.example.invalid/choco/|False|deploy||1|False|False|True",
        "old-share|\\\\files.example.invalid\\choco|True|||2|False|False|False",
    ]
    choco_unreachable: frozenset[str] = frozenset()
    #: lines choco prints that are not ``id|installed|available|pinned`` (a broken or newer choco)
    choco_noise: tuple[str, ...] = ()
    #: False: choco.exe is not there (the call fails, nothing sets the exit code)
    choco_installed = True

    def op_choco_outdated(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        """choco-outdated.ps1's JSON: the source list, then ``choco outdated -r`` (stdout, stderr, exit)."""
        if not self.choco_installed:
            missing = "The term 'choco.exe' is not recognized as the name of a cmdlet, function, script file, or operable program."
            out: dict[str, Any] = {
                "sources": [missing],
                "sourcesExit": None,
                "out": [],
                "err": [missing],
                "exit": None,
            }
            return Reply(stdout=crlf(json.dumps(out) + "\n"))
        # what is outdated follows what is installed (choco_list), as on a real host
        have = {
            ln.split("|")[0].lower(): ln.split("|")[1]
            for ln in self.choco_list.decode().splitlines()
            if ln.count("|") == 1
        }
        lines = []
        for ln in self.choco_outdated.decode().splitlines():
            parts = ln.split("|")
            if len(parts) != 4 or "chocolatey" in self.choco_unreachable:
                continue  # the fixture's malformed lines are for the parser; a dead source lists nothing
            if parts[0].lower() in have:
                if have[parts[0].lower()] == parts[2]:
                    continue
                parts[1] = have[parts[0].lower()]
            lines.append("|".join(parts))
        lines.extend(self.choco_noise)
        warnings = []
        for src in self.choco_sources:
            name, url = src.split("|")[:2]
            if name in self.choco_unreachable:
                # Chocolatey v2 (NuGet) says so and carries on without that source's packages
                warnings.append(f"Unable to load the service index for source {url}.")
                warnings.append(f"Unable to connect to source '{url}': No such host is known.")
        out = {
            "sources": self.choco_sources,
            "sourcesExit": 0,
            "out": warnings + lines,
            "err": [],
            "exit": 2 if any("|" in ln for ln in lines) else 0,
        }
        return Reply(stdout=crlf(json.dumps(out) + "\n"))

    def op_choco_search(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        pid = str(p["id"]).lower()
        versions = self.choco_versions.get(pid, [])
        return Reply(stdout=crlf("".join(f"{pid}|{v}\n" for v in versions)))

    def op_choco_uninstall(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        pid = str(p["id"]).lower()
        lines = [ln for ln in self.choco_list.decode().splitlines() if not ln.lower().startswith(pid + "|")]
        self.choco_list = crlf("\n".join(lines) + "\n")
        return Reply(stdout=crlf(f"Uninstalling {p['id']}\n"))

    def op_choco_list(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        return Reply(stdout=self.choco_list)

    def op_choco_upgrade(self, call: ScriptCall, p: dict[str, Any]) -> Reply:
        code = self.choco_upgrade_exit
        if code in (0, 1641, 3010):
            lines = [
                ln
                for ln in self.choco_list.decode().splitlines()
                if not ln.lower().startswith(str(p["id"]).lower() + "|")
            ]
            lines.append(f"{p['id']}|{p['version']}")
            self.choco_list = crlf("\n".join(lines) + "\n")
        return Reply(stdout=crlf(f"Upgrading {p['id']}\n"), exit_code=code)


class _Rebooted(Exception):
    pass


class _SharingViolation(Exception):
    """A status write met a reader holding status.json without delete sharing (0x80070020)."""

    text = "The process cannot access the file because it is being used by another process."


def start_fake_windows(tls_dir: Path | None = None, **kw: Any) -> tuple[WSManServer, FakeWindows]:
    holder: list[WSManServer] = []
    fake = FakeWindows(lambda: holder[0] if holder else None)
    server = WSManServer(fake, tls_dir=tls_dir, **kw)
    holder.append(server)
    return server.start(), fake


@contextmanager
def fake_windows(
    tmp_path: Path, password: str, *, task_step: float = 0.1, **kw: Any
) -> Iterator[tuple[WSManServer, FakeWindows]]:
    """A started server (HTTPS with a test CA under ``tmp_path``) and its FakeWindows, stopped after."""
    server, fake = start_fake_windows(tls_dir=tmp_path / "pki", password=password, **kw)
    fake.task_step = task_step
    try:
        yield server, fake
    finally:
        server.stop()


def winrm_to(server: WSManServer, password: str, *, name: str = "win1", **kw: Any) -> WinRMTransport:
    """A WinRMTransport to ``server`` as Administrator (Basic unless ``auth=`` says otherwise)."""
    from app.domain.models import Host, TransportKind
    from app.transports.winrm import WinRMTransport

    host = Host(
        name=name, address="127.0.0.1", port=server.port, transport=TransportKind.WINRM, user="Administrator"
    )
    opts: dict[str, Any] = {"auth": "basic", "connect_timeout": 2}
    if server.ca_path:
        opts["ca_trust_path"] = str(server.ca_path)
    opts.update(kw)
    return WinRMTransport(host, password=password, **opts)
