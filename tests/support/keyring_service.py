"""A real Secret Service for the keyring tests: gnome-keyring-daemon on a private D-Bus session bus.

Nothing here needs a display. The trick is ``gnome-keyring-daemon --foreground --unlock``: it reads a
login password on stdin until EOF and creates (or unlocks) the "login" collection with it, so the
Secret Service is usable without any prompt. The bus gets its own configuration without service
directories, so D-Bus can never auto-start a second, locked daemon behind our back, and the daemon gets
a temporary HOME/XDG tree, so the user's real keyring is never touched. Both processes are ours and are
killed by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOGIN_PASSWORD = "patchdesk-test-keyring"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def missing_reason() -> str | None:
    """Why a Secret Service can't be started here, or None if it can."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install dbus-daemon gnome-keyring)"
    try:
        import secretstorage  # noqa: F401
    except ImportError:
        return "the SecretStorage Python package is not installed"
    return None


class SecretService:
    """A private session bus with an unlocked gnome-keyring on it."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.address = ""
        self.bus: subprocess.Popen[bytes] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The environment a client needs to reach this Secret Service (and only it)."""
        home = self.dir / "home"
        return {
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(self.dir / "run"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }

    def start(self, timeout: float = 15) -> None:
        run = self.dir / "run"
        run.mkdir(mode=0o700, exist_ok=True)
        (self.dir / "home").mkdir(exist_ok=True)
        socket_path = run / "bus"
        config = self.dir / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket_path))
        self.address = f"unix:path={socket_path}"
        with (self.dir / "dbus.log").open("wb") as log:  # the child keeps its own copy
            self.bus = subprocess.Popen(
                ["dbus-daemon", "--nofork", f"--config-file={config}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self._wait(lambda: socket_path.exists(), timeout, "the D-Bus session bus did not start")
        env = {**os.environ, **self.env()}
        with (self.dir / "gnome-keyring.log").open("wb") as log:
            self.daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        assert self.daemon.stdin is not None
        self.daemon.stdin.write(LOGIN_PASSWORD.encode())
        self.daemon.stdin.close()  # EOF ends the password
        self._wait(self._secrets_ready, timeout, "gnome-keyring-daemon did not offer a Secret Service")

    def _secrets_ready(self) -> bool:
        if self.daemon is not None and self.daemon.poll() is not None:
            log = (self.dir / "gnome-keyring.log").read_text(errors="replace")
            raise RuntimeError(f"gnome-keyring-daemon exited: {log[-2000:]}")
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        bus = DBusAddress(
            "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
        )
        with open_dbus_connection(self.address) as conn:
            reply = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", ("org.freedesktop.secrets",))
            )
        return bool(reply.body[0])

    @staticmethod
    def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return
            time.sleep(0.05)
        raise RuntimeError(what)

    def lock_default_collection(self) -> None:
        """Lock the login collection through SecretStorage, as a screen lock or timeout would."""
        import secretstorage

        conn = secretstorage.dbus_init()
        try:
            secretstorage.get_default_collection(conn).lock()
        finally:
            conn.close()

    def stop(self) -> None:
        for proc in (self.daemon, self.bus):
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.daemon = self.bus = None


@contextlib.contextmanager
def running(workdir: Path) -> Iterator[SecretService]:
    """A started Secret Service for one test (skipped, or failed under PATCHDESK_REQUIRE_HOSTS=1, when
    gnome-keyring/dbus are missing); stopped afterwards even if the test fails."""
    import gc

    from tests.support import unavailable

    reason = missing_reason()
    if reason:
        unavailable(reason)
    service = SecretService(workdir)
    try:
        service.start()
        yield service
    finally:
        gc.collect()  # keyring's SecretService backend leaks a D-Bus socket per call: close them now
        service.stop()
