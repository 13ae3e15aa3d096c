"""A real OpenSSH server on loopback for the SSH transport tests.

The tests talk to ``/usr/sbin/sshd`` itself rather than to a paramiko stub server, because what
matters is how Patchdesk behaves against the server it will meet in the field: its banner, its key
exchange, its sudo, its way of running commands through the login shell. The server runs with a
private configuration (temporary host key, temporary authorized_keys directory, free port on
127.0.0.1) and can be restarted with a new host key, frozen (SIGSTOP: the kernel still completes the TCP
handshake but no banner ever comes) or stopped (connections refused).

Logging in needs root, since sshd must switch to the target user. Test users are created with
``useradd`` (idempotently; they are left in place so concurrent test runs don't pull them out from
under each other) together with a sudoers drop-in:

- ``pdt-pw``: sudo needs the password :data:`PW_PASSWORD`.
- ``pdt-nopw``: sudo without a password.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"

PW_USER = "pdt-pw"
PW_PASSWORD = "Pd-sudo-S3cret!"  # a throwaway account on a test machine
NOPW_USER = "pdt-nopw"
NOPW_PASSWORD = "Pd-login-0nly!"
SUDOERS_DROPIN = Path("/etc/sudoers.d/patchdesk-tests")


def missing_reason() -> str | None:
    """Why a real sshd can't be run here, or None if it can."""
    if os.geteuid() != 0:
        return "a real sshd on loopback needs root (it must switch to the test users)"
    for tool in (SSHD, "ssh-keygen", "useradd", "chpasswd", "sudo", "visudo"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openssh-server sudo)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, keytype: str = "ed25519", comment: str = "patchdesk-test") -> Path:
    """Create a key pair without a passphrase at ``path`` (replacing one that is there)."""
    for p in (path, path.with_suffix(path.suffix + ".pub")):
        p.unlink(missing_ok=True)
    args = ["ssh-keygen", "-q", "-t", keytype, "-N", "", "-C", comment, "-f", str(path)]
    if keytype == "rsa":
        args[4:4] = ["-b", "2048"]
    subprocess.run(args, check=True, capture_output=True)
    return path


def fingerprint(pub_path: Path) -> str:
    """The SHA256 fingerprint exactly as ``ssh-keygen -lf`` prints it (the reference in the tests)."""
    out = subprocess.run(["ssh-keygen", "-lf", str(pub_path)], check=True, capture_output=True, text=True)
    return out.stdout.split()[1]


def ensure_user(name: str, password: str) -> None:
    """Create a local login user with a password (a locked account can't even use keys without PAM)."""
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True, capture_output=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)


def ensure_test_users() -> None:
    """The two sudo test users and their sudoers drop-in (validated with visudo before it goes live)."""
    ensure_user(PW_USER, PW_PASSWORD)
    ensure_user(NOPW_USER, NOPW_PASSWORD)
    rules = (
        f"Defaults:{PW_USER} lecture=never\n{PW_USER} ALL=(ALL) ALL\n{NOPW_USER} ALL=(ALL) NOPASSWD: ALL\n"
    )
    if SUDOERS_DROPIN.exists() and SUDOERS_DROPIN.read_text() == rules:
        return
    tmp = SUDOERS_DROPIN.with_name(".patchdesk-tests.tmp")
    tmp.write_text(rules)
    tmp.chmod(0o440)
    subprocess.run(["visudo", "-cf", str(tmp)], check=True, capture_output=True)
    tmp.rename(SUDOERS_DROPIN)


class SshServer:
    """One sshd process with its own configuration under ``workdir``."""

    def __init__(
        self, workdir: Path, *, host_keytype: str = "ed25519", extra_host_keytypes: tuple[str, ...] = ()
    ) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = self.dir / "ssh_host_key"
        # outside ``workdir`` (pytest's temporary directories are 0700): sshd reads a user's
        # authorized_keys as that user
        self.auth_dir = Path(tempfile.mkdtemp(prefix="patchdesk-sshd-keys-"))
        self.auth_dir.chmod(0o755)
        self.log_path = self.dir / "sshd.log"
        self.config_path = self.dir / "sshd_config"
        self.proc: subprocess.Popen[bytes] | None = None
        keygen(self.host_key, host_keytype, "patchdesk-test-host")
        #: further host keys (offered after the main one), e.g. to test key-type preference
        self.extra_host_keys = [
            keygen(self.dir / f"ssh_host_{kt}_key", kt, "patchdesk-test-host") for kt in extra_host_keytypes
        ]

    # -- set-up ---------------------------------------------------------------------------------------

    @property
    def host_pub(self) -> Path:
        return self.host_key.with_suffix(".pub")

    @property
    def host_fingerprint(self) -> str:
        return fingerprint(self.host_pub)

    def host_key_line(self, pub: Path | None = None) -> tuple[str, str]:
        """(keytype, key_b64) of the current host key, as the database would store it."""
        keytype, b64 = (pub or self.host_pub).read_text().split()[:2]
        return keytype, b64

    def authorize(self, user: str, pub_path: Path) -> None:
        """Let ``user`` log in with the key whose public half is ``pub_path``."""
        target = self.auth_dir / user
        with target.open("a") as f:
            f.write(pub_path.read_text())
        target.chmod(0o644)

    def _write_config(self) -> None:
        self.config_path.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    *(f"HostKey {k}" for k in self.extra_host_keys),
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.auth_dir}/%u",
                    "StrictModes no",
                    # PAM would add nothing here but session noise; passwords are checked from shadow
                    "UsePAM no",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin yes",
                    "UseDNS no",
                    "MaxStartups 100",
                    "MaxSessions 100",
                    "LoginGraceTime 30",
                    "Subsystem sftp internal-sftp",
                    # VERBOSE logs every accepted or failed authentication: the tests prove that no
                    # credentials went to a host whose key did not check out
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self, timeout: float = 10) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory
        self._write_config()
        check = subprocess.run([SSHD, "-t", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejected its test configuration: {check.stderr}")
        with self.log_path.open("ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config_path)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited at start: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.settimeout(2)
                if s.recv(4).startswith(b"SSH-"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not come up on port {self.port}")

    def stop(self) -> None:
        """Stop the server; afterwards connections to its port are refused."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)  # a frozen sshd can't act on SIGTERM
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def cleanup(self) -> None:
        """Stop and remove what lives outside ``workdir``."""
        self.stop()
        shutil.rmtree(self.auth_dir, ignore_errors=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def change_host_key(self, keytype: str = "ed25519") -> None:
        """A new host key and a restart on the same port: what an impostor (or a reinstall) looks like."""
        keygen(self.host_key, keytype, "patchdesk-test-host-new")
        self.restart()

    def freeze(self) -> None:
        """SIGSTOP the listener: TCP connects still succeed (kernel backlog) but no banner comes."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_mark(self) -> int:
        """An offset into the log, to look only at what a test itself caused."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")
