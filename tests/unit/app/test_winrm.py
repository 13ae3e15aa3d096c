"""WinRMTransport against the loopback WS-Management server, through the real pywinrm client.

Patchdesk's default configuration -- NTLM, with pywinrm's message encryption over HTTP (MS-WSMV
multipart/encrypted) or inside HTTPS -- is what most of these run against; Basic over HTTPS is the
second path. The server accepts only the method under test, so a test cannot pass on another one.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import (
    AuthenticationError,
    CancelledError,
    CommandTimeoutError,
    ConfigError,
    DeadlineExceededError,
    TransportError,
    UnreachableError,
)
from app.domain.models import Host, TransportKind
from app.transports.base import Deadline
from app.transports.powershell import (
    MAX_COMMAND_LINE,
    build_invocation,
    clixml_to_text,
    prologue,
    ps_quote,
    to_powershell,
)
from app.transports.winrm import WinRMTransport
from tests.support.wsman_server import (
    SIGNAL_TERMINATE,
    FakeWindows,
    Reply,
    WSManServer,
    clixml_error,
    start_fake_windows,
)

PASSWORD = "S3cret-Pa55!"

#: (auth, scheme) of the configurations run end to end: the default first.
CONFIGS = {"ntlm-http": ("ntlm", "http"), "ntlm-https": ("ntlm", "https"), "basic-https": ("basic", "https")}


def start(tmp_path: Path, auth: str, scheme: str) -> tuple[WSManServer, FakeWindows]:
    server, fake = start_fake_windows(
        tls_dir=tmp_path / "pki" if scheme == "https" else None,
        password=PASSWORD,
        auth=(auth,),
        ntlm_dir=tmp_path / "ntlm",
    )
    server.test_auth = auth  # type: ignore[attr-defined]
    return server, fake


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def win(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    """The server in each configuration; tests that take it run once per configuration."""
    server, fake = start(tmp_path, *CONFIGS[request.param])
    yield server, fake
    server.stop()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    """HTTPS with the default authentication (NTLM), for the certificate and proxy tests."""
    server, fake = start(tmp_path, "ntlm", "https")
    yield server, fake
    server.stop()


def host(port: int, user: str = "Administrator") -> Host:
    return Host(name="win1", address="127.0.0.1", port=port, transport=TransportKind.WINRM, user=user)


def transport(server: WSManServer, **kw: object) -> WinRMTransport:
    opts: dict[str, object] = {
        "password": PASSWORD,
        "auth": getattr(server, "test_auth", "ntlm"),
        "scheme": server.scheme,
        "ca_trust_path": str(server.ca_path) if server.ca_path else None,
    }
    opts.update(kw)
    return WinRMTransport(host(server.port), **opts)  # type: ignore[arg-type]


def script_is(text: str):  # type: ignore[no-untyped-def]
    return lambda call: text in call.script


# -- pure helpers -------------------------------------------------------------------------------------------


def test_ps_quote_doubles_every_kind_of_single_quote() -> None:
    assert ps_quote("it's") == "'it''s'"
    assert ps_quote("a\u2019b") == "'a\u2019\u2019b'"
    assert ps_quote("$(calc)") == "'$(calc)'"
    assert to_powershell(["choco", "upgrade", "x'; calc"]) == "& 'choco' 'upgrade' 'x''; calc'"


def test_short_script_is_encoded_on_the_command_line() -> None:
    inv = build_invocation(prologue() + "Get-Date")
    assert not inv.via_stdin and inv.stdin is None
    encoded = inv.arguments[-1]
    assert base64.b64decode(encoded).decode("utf-16-le") == prologue() + "Get-Date"
    assert inv.arguments[:-1] == (
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    )


def test_long_script_goes_through_stdin() -> None:
    script = prologue() + "# x\r\n" * 2000
    inv = build_invocation(script)
    assert inv.via_stdin and len(inv.command_line) < MAX_COMMAND_LINE
    assert inv.stdin is not None
    first = inv.stdin.split(b"\r\n")[0]
    assert base64.b64decode(first).decode() == script


def test_clixml_becomes_text() -> None:
    raw = clixml_error("Get-Item : Cannot find path 'C:\\nope' because it does not exist.", "second line")
    text = clixml_to_text(raw).decode()
    assert "Cannot find path 'C:\\nope' because it does not exist." in text
    assert "second line" in text
    assert "CLIXML" not in text and "<Obj" not in text and "Preparing modules" not in text
    assert clixml_to_text(b"plain error\r\n") == b"plain error\r\n"
    assert clixml_to_text(b"#< CLIXML\r\n<Objs broken") == b"#< CLIXML\r\n<Objs broken"


def test_pywinrm_sample_clixml_is_readable() -> None:
    # The Receive sample in pywinrm's own test suite (lines wrapped by PowerShell at console width).
    sample = base64.b64decode(
        "PE9ianMgVmVyc2lvbj0iMS4xLjAuMSIgeG1sbnM9Imh0dHA6Ly9zY2hlbWFzLm1pY3Jvc29mdC5jb20vcG93ZXJzaGVsbC8yMDA0LzA0Ij48"
        "UyBTPSJFcnJvciI+V3JpdGUtRXJyb3IgIkVycm9yIiA6IEVycm9yX3gwMDBEX194MDAwQV88L1M+PC9PYmpzPg=="
    )
    assert clixml_to_text(b"#< CLIXML\r\n" + sample).decode().strip() == 'Write-Error "Error" : Error'


def test_basic_over_http_is_refused() -> None:
    with pytest.raises(ConfigError, match="Refusing Basic authentication over plain HTTP"):
        WinRMTransport(host(5985), password=PASSWORD, auth="basic", scheme="http")


def test_repr_and_errors_never_show_the_password() -> None:
    t = WinRMTransport(host(5986), password=PASSWORD)
    assert PASSWORD not in repr(t)
    assert t.endpoint == "https://127.0.0.1:5986/wsman"


# -- against the server -------------------------------------------------------------------------------------


def test_run_decodes_utf8_output_split_across_receives(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    text = "Grüße aus Köln — 東京 ✓\r\nzweite Zeile\r\n"
    fake.on(script_is("Write-Output 'utf8'"), Reply(stdout=text.encode("utf-8"), pieces=7))
    chunks: list[bytes] = []
    with transport(server) as t:
        res = t.run("Write-Output 'utf8'", on_output=lambda s, c: chunks.append(c))
    assert res.ok and res.out == text
    assert len(chunks) >= 5  # really streamed in pieces, and the multi-byte characters survived the splits
    call = server.calls[-1]
    assert call.raw_script.startswith(prologue())  # UTF-8 console encoding set before the script
    assert "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false" in call.raw_script
    assert "Receive" in server.actions and "Create" in server.actions and "Delete" in server.actions


def test_shell_uses_codepage_65001(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.on(script_is("cp"), Reply(stdout=b"x"))
    with transport(server) as t:
        t.run("cp")
    assert server.codepages and set(server.codepages) == {"65001"}


def test_exit_code_and_clixml_error(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.on(
        script_is("Get-Item C:\\nope"),
        Reply(stderr=clixml_error("Get-Item : Cannot find path 'C:\\nope'."), exit_code=1),
    )
    with transport(server) as t:
        res = t.run("Get-Item C:\\nope")
    assert res.exit_status == 1
    assert res.err.strip() == "Get-Item : Cannot find path 'C:\\nope'."


def test_script_over_the_command_line_limit_is_delivered_whole(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    body = "".join(f"$v{i} = 'line {i} ünïcødé'\r\n" for i in range(3000))  # ~90 KB: several Send messages
    script = "# big-one\r\n" + body + "Write-Output done"
    fake.on(script_is("# big-one"), Reply(stdout=b"done\r\n"))
    with transport(server) as t:
        res = t.run(script)
    assert res.out == "done\r\n"
    call = server.calls[-1]
    assert call.via_stdin
    assert call.script == script  # byte for byte what we sent, nothing truncated
    assert len(call.command_line) < MAX_COMMAND_LINE
    assert server.actions.count("Send") >= 2


def test_stdin_bytes_reach_the_script(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    data = bytes(range(256)) * 700  # binary, > one Send chunk
    with transport(server) as t:
        t.put(data, "C:\\ProgramData\\Patchdesk\\blob.bin")
        assert fake.files["C:\\ProgramData\\Patchdesk\\blob.bin"] == data
        assert t.get("C:\\ProgramData\\Patchdesk\\blob.bin") == data
        with pytest.raises(TransportError, match="does not exist"):
            t.get("C:\\nope.txt")


def test_command_that_never_finishes_is_stopped_at_its_timeout(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.on(script_is("Start-Sleep 100000"), Reply(stdout=b"started\r\n", hang=True))
    with transport(server) as t:
        start = time.monotonic()
        with pytest.raises(CommandTimeoutError, match="did not finish within 2 s"):
            t.run("Start-Sleep 100000", timeout=2)
        assert time.monotonic() - start < 6
    hung = [c for c in server.shells.values()]  # the shell was deleted
    assert not hung
    assert any(code == SIGNAL_TERMINATE for _cid, code in server.signals)
    # pywinrm's operation timeouts were answered with the w:TimedOut fault and retried by us
    assert max(server.operation_timeouts) <= 5


def test_deadline_and_cancel_stop_a_command(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.on(script_is("Wait-Forever"), Reply(hang=True))
    with transport(server, deadline=Deadline(1.5)) as t:
        with pytest.raises(DeadlineExceededError):
            t.run("Wait-Forever", timeout=60)
    cancel = threading.Event()
    with transport(server, deadline=Deadline(None, cancel)) as t:
        threading.Timer(1.0, cancel.set).start()
        with pytest.raises(CancelledError):
            t.run("Wait-Forever", timeout=60)
    assert len([s for s in server.signals if s[1] == SIGNAL_TERMINATE]) >= 2


def test_wrong_password_is_a_sentence(
    win: tuple[WSManServer, FakeWindows], caplog: pytest.LogCaptureFixture
) -> None:
    server, _fake = win
    caplog.set_level(logging.DEBUG)
    with transport(server, password="wrong-" + PASSWORD) as t:
        with pytest.raises(AuthenticationError) as info:
            t.run("Get-Date")
    msg = str(info.value)
    assert msg.startswith("WinRM on win1 (127.0.0.1:") and "refused the credentials for Administrator" in msg
    assert server.auth_failures >= 1 and not server.calls
    assert PASSWORD not in msg and "wrong-" not in msg
    assert info.value.__cause__ is None
    assert PASSWORD not in caplog.text


def test_untrusted_certificate_is_a_sentence(tls: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = tls
    fake.on(script_is("hostname"), Reply(stdout=b"WIN1\r\n"))
    with transport(server, ca_trust_path=None) as t:
        with pytest.raises(TransportError, match=r"TLS certificate of win1 .* could not be verified") as info:
            t.run("hostname")
    assert "CA certificate" in str(info.value) and "switch certificate validation off" in str(info.value)
    with transport(server, ca_trust_path=None, cert_validation=False) as t:
        assert t.run("hostname").out == "WIN1\r\n"
    with transport(server) as t:  # with the test CA
        assert t.run("hostname").out == "WIN1\r\n"


def test_environment_ca_bundle_and_proxy_are_ignored(
    tls: tuple[WSManServer, FakeWindows], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, fake = tls
    fake.on(script_is("hostname"), Reply(stdout=b"WIN1\r\n"))
    # An environment that would make a legacy pywinrm trust the test CA and go through a dead proxy:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_path))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with transport(server, ca_trust_path=None) as t:
        with pytest.raises(TransportError, match="could not be verified"):
            t.run("hostname")  # the environment's CA bundle was not used
    with transport(server) as t:
        assert t.run("hostname").ok  # and the proxy was not either


def test_connection_refused_is_unreachable() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = WinRMTransport(host(port), password=PASSWORD, auth="basic", connect_timeout=2)
    with pytest.raises(UnreachableError, match="Could not reach WinRM on win1") as info:
        t.run("Get-Date")
    assert PASSWORD not in str(info.value)


def test_dropped_connection_then_next_command_reconnects(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.on(script_is("ping"), Reply(stdout=b"pong\r\n"))
    with transport(server) as t:
        assert t.run("ping").ok
        server.drop_next(1)
        with pytest.raises(UnreachableError):
            t.run("ping")
        assert t.run("ping").out == "pong\r\n"


def test_clixml_lowercase_stream_names_get_their_prefix() -> None:
    # Windows PowerShell 5.1 writes S="warning" / S="verbose" (lowercase) for these streams; only
    # errors are S="Error". A case-sensitive match dropped the prefix, so a warning read like an error.
    raw = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<S S="warning">Disk almost full_x000D__x000A_</S><S S="verbose">Checking C:_x000D__x000A_</S>'
        b'<S S="debug">dbg_x000D__x000A_</S><S S="information">info_x000D__x000A_</S>'
        b'<S S="Error">real error_x000D__x000A_</S></Objs>'
    )
    lines = clixml_to_text(raw).decode().splitlines()
    assert lines == [
        "WARNING: Disk almost full",
        "VERBOSE: Checking C:",
        "DEBUG: dbg",
        "INFORMATION: info",
        "real error",
    ]


# -- the default configuration: NTLM with message encryption -------------------------------------------------


def test_default_configuration_is_ntlm_with_encrypted_messages_over_http(tmp_path: Path) -> None:
    server, fake = start(tmp_path, "ntlm", "http")
    try:
        fake.on(script_is("Get-Secretish"), Reply(stdout=b"visible-only-after-decryption\r\n"))
        # no auth= and no message-encryption setting: what Patchdesk uses for a host set to HTTP
        with WinRMTransport(host(server.port), password=PASSWORD, scheme="http") as t:
            assert t.auth == "ntlm"
            res = t.run("Get-Secretish", stdin=b"stdin-payload-" * 10)
        assert res.ok and res.out == "visible-only-after-decryption\r\n"
        assert server.calls[-1].stdin == b"stdin-payload-" * 10
        # every SOAP message was sealed: nothing readable crossed the wire
        assert server.auth_used and set(server.auth_used) == {"ntlm+encrypted"}
        wire = b"".join(server.wire)
        assert b"Encrypted Boundary" in wire and b"application/HTTP-SPNEGO-session-encrypted" in wire
        for plain in (b"<s:Envelope", b"s:Envelope", b"Get-Secretish", b"stdin-payload", b"powershell"):
            assert plain not in wire
        assert PASSWORD.encode() not in wire
    finally:
        server.stop()


def test_ntlm_over_https_passes_the_channel_binding_check(tls: tuple[WSManServer, FakeWindows]) -> None:
    # The acceptor is given the certificate's tls-server-end-point bindings, as a Windows host with
    # CbtHardeningLevel=Strict; pywinrm/requests-ntlm must send matching ones.
    server, fake = tls
    fake.on(script_is("hostname"), Reply(stdout=b"WIN1\r\n"))
    with WinRMTransport(host(server.port), password=PASSWORD, ca_trust_path=str(server.ca_path)) as t:
        assert t.run("hostname").out == "WIN1\r\n"
    assert server.bindings is not None
    assert set(server.auth_used) == {"ntlm"}  # TLS protects it; no second layer of encryption


def test_basic_is_refused_by_an_ntlm_only_host(tls: tuple[WSManServer, FakeWindows]) -> None:
    server, _fake = tls
    with (
        transport(server, auth="basic") as t,
        pytest.raises(AuthenticationError, match="refused the credentials"),
    ):
        t.run("hostname")
    assert not server.calls


# -- declared dependencies (issue 18 item 11) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "flag", "extra"),
    [
        ("kerberos", "HAVE_KERBEROS", "kerberos"),
        ("credssp", "HAVE_CREDSSP", "credssp"),
        ("ntlm", "HAVE_NTLM", None),
    ],
)
def test_transport_whose_library_is_missing_is_refused_with_what_to_install(
    auth: str, flag: str, extra: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kerberos and CredSSP were accepted, then failed at the first command with pywinrm's
    # "requested auth method is kerberos, but pykerberos is not installed".
    import winrm.transport

    monkeypatch.setattr(winrm.transport, flag, False)
    with pytest.raises(ConfigError) as info:
        WinRMTransport(host(5986), password=PASSWORD, auth=auth)
    msg = str(info.value)
    assert "win1" in msg and "pip install" in msg
    if extra:
        assert f"patchdesk[{extra}]" in msg
    monkeypatch.setattr(winrm.transport, flag, True)
    WinRMTransport(host(5986), password=PASSWORD, auth=auth)  # present: accepted


def test_declared_pywinrm_lower_bound_has_what_the_code_uses() -> None:
    # pywinrm>=0.4.3 was declared, but WSManFaultError and get_command_output_raw came with 0.5.
    import re
    import tomllib

    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!\[ ;]", d, maxsplit=1)[0].lower(): d for d in project["dependencies"]}
    low = re.search(r">=\s*([0-9.]+)", deps["pywinrm"])
    assert low is not None and tuple(int(x) for x in low.group(1).split(".")) >= (0, 5, 0)
    extras = project["optional-dependencies"]
    assert any(d.startswith("pywinrm[kerberos]") for d in extras["kerberos"])
    assert any(d.startswith("pywinrm[credssp]") for d in extras["credssp"])
