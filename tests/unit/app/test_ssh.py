"""app/transports/ssh.py against a real OpenSSH server on loopback (tests/support/sshd.py).

Needs root (sshd must switch users). Skips with a reason elsewhere; fails under
PATCHDESK_REQUIRE_HOSTS=1.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
import pytest

from app.domain.errors import (
    AuthenticationError,
    CancelledError,
    CommandTimeoutError,
    DeadlineExceededError,
    HostKeyChangedError,
    HostKeyUnknownError,
    SudoError,
    UnreachableError,
)
from app.domain.models import Host, HostKey
from app.transports.base import Deadline
from app.transports.ssh import SshTransport
from app.transports.ssh_hostkeys import fingerprint_b64
from tests.support import sshd, unavailable

pytestmark = pytest.mark.hosts

NO_CONFIG = Path(os.devnull)


@dataclass
class Env:
    server: sshd.SshServer
    client_key: Path
    tmp: Path

    def trusted(self, server: sshd.SshServer | None = None, pub: Path | None = None) -> list[HostKey]:
        srv = server or self.server
        keytype, b64 = srv.host_key_line(pub)
        return [HostKey(host_id=1, keytype=keytype, key_b64=b64, fingerprint=fingerprint_b64(b64))]

    def transport(self, user: str = "root", server: sshd.SshServer | None = None, **kw: Any) -> SshTransport:
        srv = server or self.server
        host = Host(name="t1", address="127.0.0.1", port=srv.port, user=user, key_file=str(self.client_key))
        kw.setdefault("trusted_keys", self.trusted(srv))
        kw.setdefault("look_for_keys", False)
        kw.setdefault("allow_agent", False)
        kw.setdefault("ssh_config", NO_CONFIG)
        return SshTransport(host, **kw)


def _require_sshd() -> None:
    reason = sshd.missing_reason()
    if reason:
        unavailable(reason)


def _new_server(tmp: Path, client_key: Path, **kw: Any) -> sshd.SshServer:
    srv = sshd.SshServer(tmp, **kw)
    for user in ("root", sshd.PW_USER, sshd.NOPW_USER):
        srv.authorize(user, client_key.with_suffix(".pub"))
    srv.start()
    return srv


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    _require_sshd()
    tmp = tmp_path_factory.mktemp("ssh")
    sshd.ensure_test_users()
    key = sshd.keygen(tmp / "client_key")
    srv = _new_server(tmp / "sshd", key)
    try:
        yield Env(srv, key, tmp)
    finally:
        srv.cleanup()


@pytest.fixture
def own_server(env: Env, tmp_path: Path) -> Iterator[sshd.SshServer]:
    """A server of the test's own, for tests that restart, freeze or re-key it."""
    srv = _new_server(tmp_path / "sshd", env.client_key)
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def auth_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every authentication paramiko sends (the real calls still happen)."""
    calls: list[str] = []
    for name in ("auth_publickey", "auth_password"):
        real = getattr(paramiko.Transport, name)

        def spy(self: paramiko.Transport, *a: Any, _real: Any = real, _name: str = name, **k: Any) -> Any:
            calls.append(_name)
            return _real(self, *a, **k)

        monkeypatch.setattr(paramiko.Transport, name, spy)
    return calls


@pytest.fixture
def sent_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every command line sent to sshd (the real exec still happens)."""
    sent: list[str] = []
    real = paramiko.Channel.exec_command

    def spy(self: paramiko.Channel, command: str) -> Any:
        sent.append(command)
        return real(self, command)

    monkeypatch.setattr(paramiko.Channel, "exec_command", spy)
    return sent


def no_auth_in_log(srv: sshd.SshServer, mark: int) -> None:
    time.sleep(0.3)  # sshd logs the closed connection asynchronously
    log = srv.log_since(mark)
    for word in ("Accepted", "Failed", "authenticating user", "Postponed"):
        assert word not in log, f"sshd saw an authentication attempt:\n{log}"


def wait_gone(pid: int, timeout: float = 3) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


# -- running commands --------------------------------------------------------------------------------


def test_key_auth_runs_a_command(env: Env) -> None:
    with env.transport() as t:
        assert t.is_root
        res = t.run("echo out; echo err >&2; exit 7")
        assert (res.exit_status, res.stdout, res.stderr) == (7, b"out\n", b"err\n")
        assert t.run(["id", "-un"]).out == "root\n"


def test_non_utf8_output(env: Env) -> None:
    with env.transport() as t:
        res = t.run(r"printf '\377\376caf\303\251\n'")
        assert res.stdout == b"\xff\xfecaf\xc3\xa9\n"
        assert res.out == "\ufffd\ufffdcafé\n"


def test_huge_output_is_capped_but_streamed(env: Env) -> None:
    total = 0

    def count(stream: str, chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)

    size = 20 * 1024 * 1024
    with env.transport() as t:
        res = t.run(f"head -c {size} /dev/zero", on_output=count, timeout=60)
    cap = SshTransport.max_output
    assert total == size
    assert res.stdout[:cap] == b"\0" * cap
    assert res.stdout[cap:] == f"\n[Patchdesk: {size - cap} more bytes of output dropped]\n".encode()


def test_streaming_callback_order(env: Env) -> None:
    seen: list[tuple[str, bytes, float]] = []
    script = "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three"
    with env.transport() as t:
        t.connect()
        start = time.monotonic()
        t.run(script, on_output=lambda s, c: seen.append((s, c, time.monotonic() - start)))
    assert [(s, c) for s, c, _ in seen] == [
        ("stdout", b"one\n"),
        ("stderr", b"two\n"),
        ("stdout", b"three\n"),
    ]
    # delivered as it happened, not all at the end
    assert seen[2][2] - seen[0][2] > 0.45


def test_stdin_large_and_binary(env: Env) -> None:
    data = os.urandom(3 * 1024 * 1024)
    with env.transport() as t:
        # cat writes back while we are still writing: stdin must not deadlock against stdout
        res = t.run("cat", stdin=data, timeout=60)
        assert res.stdout == data
        assert t.run("cat; echo end").stdout == b"end\n"  # no stdin: EOF at once


def test_env_values_are_quoted(env: Env, tmp_path: Path) -> None:
    target = tmp_path / "pwned-env"
    value = f"a b'$(touch {target})\"`id`"
    with env.transport() as t:
        res = t.run('printf "%s" "$PD_TEST"', env={"PD_TEST": value})
    assert res.out == value
    assert not target.exists()


def test_hostile_list_arguments_are_literal(env: Env) -> None:
    marker = Path("/tmp/pwned-patchdesk-ssh")
    marker.unlink(missing_ok=True)
    with env.transport() as t:
        res = t.run(["echo", f"$(touch {marker})", ";", "touch", str(marker), "|", "`id`"])
    assert res.out == f"$(touch {marker}) ; touch {marker} | `id`\n"
    assert not marker.exists()


def test_command_timeout_stops_and_kills(env: Env, tmp_path: Path) -> None:
    with env.transport() as t:
        start = time.monotonic()
        with pytest.raises(
            CommandTimeoutError, match=r"`sleep 60 & echo .*` did not finish within 1 s on t1"
        ):
            t.run(f"sleep 60 & echo $! > {tmp_path}/pid; wait", timeout=1)
        assert time.monotonic() - start < 2
        pid = int((tmp_path / "pid").read_text())
        assert wait_gone(pid), "the remote command survived its timeout"
        assert t.run("echo still usable").out == "still usable\n"


def test_deadline_exceeded(env: Env) -> None:
    with env.transport(deadline=Deadline(1.5)) as t:
        t.run("true")
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            t.run("sleep 30", timeout=30)
        assert time.monotonic() - start < 2.5


def test_cancel(env: Env) -> None:
    cancel = threading.Event()
    with env.transport(deadline=Deadline(None, cancel)) as t:
        t.run("true")
        timer = threading.Timer(0.5, cancel.set)
        timer.start()
        start = time.monotonic()
        with pytest.raises(CancelledError):
            t.run("sleep 30", timeout=30)
        assert time.monotonic() - start < 1.5
        timer.join()


def test_put_and_get(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "remote.conf"
    with env.transport() as t:
        t.put(b"x\0y" * 1000, str(path), mode=0o600)
        assert t.get(str(path)) == b"x\0y" * 1000
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["remote.conf"]


def test_close_is_idempotent_and_reconnects(env: Env) -> None:
    t = env.transport()
    t.close()
    assert t.run("echo 1").out == "1\n"
    t.close()
    t.close()
    assert t.run("echo 2").out == "2\n"
    t.close()


# -- reachability ------------------------------------------------------------------------------------


def test_refused_is_unreachable_fast(env: Env) -> None:
    host = Host(name="gone", address="127.0.0.1", port=sshd.free_port(), user="root")
    t = SshTransport(host, ssh_config=NO_CONFIG, look_for_keys=False, allow_agent=False)
    start = time.monotonic()
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:\d+.*connection refused"):
        t.run("true")
    assert time.monotonic() - start < 1


def test_frozen_sshd_is_unreachable_within_banner_timeout(env: Env, own_server: sshd.SshServer) -> None:
    own_server.freeze()
    try:
        t = env.transport(server=own_server, banner_timeout=1.5)
        start = time.monotonic()
        with pytest.raises(UnreachableError, match=r"no SSH banner within 1\.5 s"):
            t.run("true")
        assert time.monotonic() - start < 3
    finally:
        own_server.thaw()


def test_unresolvable_name(env: Env) -> None:
    host = Host(name="nx", address="no-such-host.invalid", user="root")
    with pytest.raises(UnreachableError, match="does not resolve"):
        SshTransport(host, ssh_config=NO_CONFIG).run("true")


# -- host keys ---------------------------------------------------------------------------------------


def test_unknown_key_refused_before_auth(env: Env, auth_spy: list[str]) -> None:
    mark = env.server.log_mark()
    t = env.transport(trusted_keys=(), accept_new=False, password="not-to-be-sent")
    with pytest.raises(HostKeyUnknownError) as err:
        t.run("true")
    keytype, b64 = env.server.host_key_line()
    assert (err.value.keytype, err.value.key_b64) == (keytype, b64)
    assert err.value.fingerprint == env.server.host_fingerprint
    assert env.server.host_fingerprint in str(err.value)
    assert auth_spy == []
    no_auth_in_log(env.server, mark)


def test_accept_new_records_the_key(env: Env) -> None:
    learned: list[tuple[str, str, str]] = []
    with env.transport(trusted_keys=(), accept_new=True, on_new_key=lambda *a: learned.append(a)) as t:
        assert t.run("echo hi").out == "hi\n"
    keytype, b64 = env.server.host_key_line()
    assert learned == [(keytype, b64, env.server.host_fingerprint)]  # as `ssh-keygen -lf` prints it


def test_hosts_of_one_job_read_their_key_file_once(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each login parsed the key file again: for a job, the same file once per host (#25). The job's
    factory now reads it once for all its hosts, and again when the file changes."""
    from app.transports.factory import TransportFactory

    reads: list[str] = []
    real = paramiko.PKey.from_path

    def spy(cls: type, path: Any, passphrase: str | None = None) -> Any:
        reads.append(str(path))
        return real(path, passphrase)

    monkeypatch.setattr(paramiko.PKey, "from_path", classmethod(spy))

    def login(factory: TransportFactory, host_id: int) -> None:
        host = Host(
            id=host_id,
            name=f"h{host_id}",
            address="127.0.0.1",
            port=env.server.port,
            user="root",
            key_file=str(env.client_key),
        )
        t = factory.connect(host, Deadline(30), lambda ev: None, 1)
        try:
            assert t.run("true").exit_status == 0
        finally:
            t.close()

    job = TransportFactory(accept_new_keys=True, ssh_config=NO_CONFIG)
    for host_id in (1, 2, 3):
        login(job, host_id)
    assert reads == [str(env.client_key)]
    st = env.client_key.stat()
    os.utime(env.client_key, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    login(job, 4)
    assert len(reads) == 2
    login(TransportFactory(accept_new_keys=True, ssh_config=NO_CONFIG), 5)  # another job reads it afresh
    assert len(reads) == 3


def test_changed_key_refused_before_auth(env: Env, own_server: sshd.SshServer, auth_spy: list[str]) -> None:
    trusted = env.trusted(own_server)
    old_fp = own_server.host_fingerprint
    own_server.change_host_key()
    new_fp = own_server.host_fingerprint
    assert old_fp != new_fp
    mark = own_server.log_mark()
    t = env.transport(server=own_server, trusted_keys=trusted, accept_new=True, password="not-to-be-sent")
    with pytest.raises(HostKeyChangedError) as err:
        t.run("true")
    msg = str(err.value)
    assert f"was {old_fp}, now {new_fp}" in msg
    assert "possible interception" in msg
    assert (err.value.old_fingerprint, err.value.fingerprint) == (old_fp, new_fp)
    assert auth_spy == []
    no_auth_in_log(own_server, mark)


def test_trusted_key_type_is_preferred(env: Env, tmp_path: Path) -> None:
    """A host offering ed25519 and RSA whose RSA key we trust is not reported as changed."""
    srv = _new_server(tmp_path / "multi", env.client_key, extra_host_keytypes=("rsa",))
    try:
        rsa_pub = srv.extra_host_keys[0].with_suffix(".pub")
        with env.transport(server=srv, trusted_keys=env.trusted(srv, rsa_pub)) as t:
            assert t.run("echo ok").out == "ok\n"
    finally:
        srv.cleanup()


# -- authentication ----------------------------------------------------------------------------------


def test_password_login(env: Env, tmp_path: Path) -> None:
    host = Host(name="t1", address="127.0.0.1", port=env.server.port, user=sshd.PW_USER)
    t = SshTransport(
        host,
        trusted_keys=env.trusted(),
        password=sshd.PW_PASSWORD,
        ssh_config=NO_CONFIG,
        look_for_keys=False,
        allow_agent=False,
    )
    with t:
        assert t.run("id -un").out == f"{sshd.PW_USER}\n"
        assert not t.is_root


def test_wrong_credentials_are_a_sentence(env: Env, tmp_path: Path) -> None:
    stranger = sshd.keygen(tmp_path / "stranger")
    host = Host(name="t1", address="127.0.0.1", port=env.server.port, user="root", key_file=str(stranger))
    t = SshTransport(
        host,
        trusted_keys=env.trusted(),
        password="Zq9-wrong-pw",
        ssh_config=NO_CONFIG,
        look_for_keys=False,
        allow_agent=False,
    )
    with pytest.raises(AuthenticationError) as err:
        t.run("true")
    msg = str(err.value)
    assert msg.startswith(
        f"root@t1 (127.0.0.1:{env.server.port}) refused the key {stranger} and the password"
    )
    assert "Zq9-wrong-pw" not in msg


# -- sudo --------------------------------------------------------------------------------------------


def test_sudo_without_password_nopasswd_rule(env: Env) -> None:
    with env.transport(sshd.NOPW_USER) as t:
        assert not t.is_root
        res = t.run("id -un; cat; echo err >&2", sudo=True, stdin=b"fed\n")
        assert res.ok, res.err
        assert res.stdout == b"root\nfed\n"
        assert res.stderr == b"err\n"  # sudo's and our markers are not in the command's stderr


def test_sudo_needs_a_password(env: Env) -> None:
    with env.transport(sshd.PW_USER) as t, pytest.raises(SudoError) as err:
        t.run("id -un", sudo=True)
    assert str(err.value) == (
        f"sudo on t1 requires a password for {sshd.PW_USER}; store the sudo password in the host's "
        "settings or allow NOPASSWD for Patchdesk's commands."
    )


def test_sudo_password_on_stdin_never_on_command_line(
    env: Env, sent_commands: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    seen_in_ps: list[str] = []

    def watch_ps() -> None:
        for _ in range(20):
            ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            seen_in_ps.extend(line for line in ps.splitlines() if sshd.PW_PASSWORD in line)
            time.sleep(0.05)

    with env.transport(sshd.PW_USER, sudo_password=sshd.PW_PASSWORD) as t:
        watcher = threading.Thread(target=watch_ps)
        watcher.start()
        res = t.run("sleep 0.8; id -un; cat", sudo=True, stdin=b"payload\n", env={"X": "1"})
        watcher.join()
        assert res.ok, res.err
        assert res.stdout == b"root\npayload\n"  # the password went to sudo, not to the command
        assert res.stderr == b""
    assert sent_commands and all(sshd.PW_PASSWORD not in c for c in sent_commands)
    assert seen_in_ps == []
    assert sshd.PW_PASSWORD not in caplog.text


def test_sudo_password_not_fed_to_nopasswd_command(env: Env) -> None:
    """With NOPASSWD sudo never prompts, so a stored password must not end up on the command's stdin."""
    with env.transport(sshd.NOPW_USER, sudo_password="would-leak") as t:
        res = t.run("cat", sudo=True)
    assert res.stdout == b""


def test_wrong_sudo_password(env: Env) -> None:
    with env.transport(sshd.PW_USER, sudo_password="wrong-one") as t:
        with pytest.raises(SudoError, match="refused the stored sudo password") as err:
            t.run("id -un", sudo=True)
        assert "wrong-one" not in str(err.value)
        assert t.run("echo alive").out == "alive\n"


def test_sudo_timeout_kills_root_command(env: Env, tmp_path: Path) -> None:
    with env.transport(sshd.PW_USER, sudo_password=sshd.PW_PASSWORD) as t:
        with pytest.raises(CommandTimeoutError):
            t.run(f"sleep 60 & echo $! > {tmp_path}/pid; wait", sudo=True, timeout=1.5)
        pid = int((tmp_path / "pid").read_text())
        assert wait_gone(pid), "the root command survived its timeout"


# -- ~/.ssh/config -----------------------------------------------------------------------------------


def test_ssh_config_alias(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host pd-alias\n"
        "  HostName 127.0.0.1\n"
        f"  Port {env.server.port}\n"
        f"  User {sshd.NOPW_USER}\n"
        f"  IdentityFile {env.client_key}\n"
        "  ConnectTimeout 4\n"
    )
    alias = Host(name="aliased", address="pd-alias")
    t = SshTransport(
        alias, trusted_keys=env.trusted(), ssh_config=config, look_for_keys=False, allow_agent=False
    )
    assert t.endpoint == ("127.0.0.1", env.server.port)
    assert t.user == sshd.NOPW_USER
    with t:
        assert t.run("id -un").out == f"{sshd.NOPW_USER}\n"

    # explicit Host fields win over the config
    explicit = Host(name="aliased", address="pd-alias", user="root")
    with SshTransport(
        explicit, trusted_keys=env.trusted(), ssh_config=config, look_for_keys=False, allow_agent=False
    ) as t:
        assert t.run("id -un").out == "root\n"


def test_proxy_jump(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "Host pd-bastion\n"
        "  HostName 127.0.0.1\n"
        f"  Port {env.server.port}\n"
        "  User root\n"
        f"  IdentityFile {env.client_key}\n"
        "Host pd-behind\n"
        "  HostName 127.0.0.1\n"
        f"  Port {env.server.port}\n"
        "  User root\n"
        f"  IdentityFile {env.client_key}\n"
        "  ProxyJump pd-bastion\n"
    )
    known = tmp_path / "known_hosts"
    keytype, b64 = env.server.host_key_line()
    known.write_text(f"[127.0.0.1]:{env.server.port} {keytype} {b64}\n")
    host = Host(name="behind", address="pd-behind")
    kw: dict[str, Any] = {"ssh_config": config, "look_for_keys": False, "allow_agent": False}
    with SshTransport(host, trusted_keys=env.trusted(), known_hosts=known, **kw) as t:
        assert t.run("echo $SSH_CONNECTION").out.startswith("127.0.0.1 ")

    # a jump host that is not in known_hosts is refused before logging in to it
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyUnknownError, match="jump host"):
        SshTransport(host, trusted_keys=env.trusted(), known_hosts=empty, **kw).run("true")
