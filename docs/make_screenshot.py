"""The README screenshot: the main window after scanning four real Debian test hosts.

    sudo .venv/bin/python docs/make_screenshot.py docs/screenshot.png

Brings up the test hosts (tests/hosts; root needed), scans them headless once (first contact, keys
accepted), then scans again from the real main window offscreen and grabs it with a host selected;
the dashboard goes next to it (``*-dash.png``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    os.environ["PATCHDESK_SCHEDULER"] = "off"
    os.environ["PATCHDESK_NO_FIRST_RUN"] = "1"
    work = Path(tempfile.mkdtemp(prefix="pd-shot-"))
    os.environ["PATCHDESK_LOG_DIR"] = str(work / "logs")

    from PySide6.QtWidgets import QApplication

    from app.jobs.runner import JobRunner
    from app.domain.models import Host, Ring
    from db import hosts as db_hosts
    from db.database import open_database
    from tests.hosts import HostCluster
    from ui import resources

    app = QApplication(sys.argv[:1])
    app.setStyleSheet(resources.stylesheet())

    def settle(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.05)

    with HostCluster(subnet="127.0.71") as cluster:
        names = ["web01", "web02", "db01", "files01"]
        hosts = cluster.start(len(names), prefix="shot")
        db = open_database(work / "shot.sqlite3")
        models = [
            db_hosts.add_host(
                db,
                Host(
                    name=n,
                    address=h.address,
                    port=h.port,
                    user="admin",
                    key_file=str(cluster.client_key),
                    group="web" if n.startswith("web") else "backend",
                    ring=Ring.TEST if n == "web01" else Ring.PRODUCTION,
                ),
            )
            for n, h in zip(names, hosts, strict=True)
        ]
        runner = JobRunner(work / "shot.sqlite3", concurrency=4)
        runner.start_scan(db, models, accept_new_keys=True).wait(120)

        from ui.main_window import MainWindow

        w = MainWindow(db, runner)
        w.resize(1400, 900)
        w.show()
        handle = w.start_scan(db_hosts.list_hosts(db))
        deadline = time.monotonic() + 120
        while handle is not None and not handle.wait(0) and time.monotonic() < deadline:
            settle(0.05)
        settle(2)
        w.reload_hosts()
        assert models[0].id is not None
        w.inventory.select_host(models[0].id)
        settle(2)
        w.grab().save(str(out))
        w.tabs.setCurrentWidget(w.dashboard)
        settle(3)
        w.grab().save(str(out.with_name(out.stem + "-dash.png")))
        w.close()
        runner.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")))
