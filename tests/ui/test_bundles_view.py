"""The Bundles view: the bundles known here and what each host received; verify runs off the main
thread with a progress bar and says plainly when a bundle is damaged."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.domain.bundle import BundleFile, BundleHost, Manifest, Purpose, key_fingerprint
from app.domain.models import Host
from app.services.bundle_file import write_bundle
from db import bundles as db_bundles
from db import hosts as db_hosts

GROUP = "apt-bookworm-amd64"


def make_bundle(tmp_path: Path, db) -> tuple[Path, Manifest]:  # type: ignore[no-untyped-def]
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    db_bundles.trust_key(db, key_fingerprint(public), public.hex(), "connected side")
    files, local = [], {}
    for name, purpose in (
        ("pd-secfix_1.0-2_all.deb", Purpose.UPDATE),
        ("pd-secfix_1.0-1_all.deb", Purpose.ROLLBACK),
    ):
        data = name.encode() * 4000
        (tmp_path / name).write_bytes(data)
        f = BundleFile(
            GROUP, name, hashlib.sha256(data).hexdigest(), len(data), purpose, hosts=("web1", "web2")
        )
        files.append(f)
        local[f.member] = tmp_path / name
    updates = (("pd-secfix", "1.0-1", "1.0-2"),)
    manifest = Manifest(
        "0123456789abcdef",
        "2026-12-06T09:30:00+00:00",
        "admin@connected",
        "ref1",
        key_fingerprint(public),
        public.hex(),
        tuple(BundleHost(n, "apt", GROUP, "bookworm", "amd64", updates) for n in ("web1", "web2")),
        tuple(files),
    )
    path = tmp_path / "site.pdbundle"
    write_bundle(path, manifest, key.sign(manifest.to_bytes()), local)
    return path, manifest


@pytest.fixture
def view(qtbot, db, tmp_path):  # type: ignore[no-untyped-def]
    from ui.views.bundles_view import BundlesView

    web1 = db_hosts.add_host(db, Host("web1", "web1.invalid"))
    db_hosts.add_host(db, Host("web2", "web2.invalid"))
    path, manifest = make_bundle(tmp_path, db)
    db_bundles.record_bundle(db, manifest, str(path), verified=True)
    assert web1.id is not None
    db_bundles.record_applied(db, manifest.id, web1.id, "apt", 4, 72_000)
    v = BundlesView(db)
    qtbot.addWidget(v)
    v.resize(1280, 800)
    v.show()
    v.bundle_path = path  # type: ignore[attr-defined]
    return v


def test_bundles_and_what_each_host_received_are_listed(view) -> None:  # type: ignore[no-untyped-def]
    m = view.bundles_model
    assert m.rowCount() == 1
    assert m.rows[0][0] == "0123456789abcdef" and m.rows[0][3] == "web1, web2" and m.rows[0][4] == "web1"
    assert [r[0] for r in view.received_model.rows] == ["web1"]
    assert not view.buttons["remove"].isEnabled()
    view.bundles_table.selectRow(0)
    assert view.buttons["remove"].isEnabled()


def test_verify_runs_off_the_main_thread_and_names_a_damaged_file(view, qtbot, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path: Path = view.bundle_path
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    view.verify()
    assert view.busy and view.progress_bar.isVisible()
    qtbot.waitUntil(lambda: not view.busy, timeout=20_000)
    assert "is intact: 2 file(s)" in view.status.text()

    damaged = tmp_path / "damaged.pdbundle"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    warned: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(damaged), ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: warned.append(text))
    view.verify()
    qtbot.waitUntil(lambda: not view.busy, timeout=20_000)
    assert warned and "bundle" in warned[0].lower() and "Traceback" not in warned[0]
    assert view.status.text() == warned[0]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot(view, qtbot, qapp, scheme) -> None:  # type: ignore[no-untyped-def]
    from ui import theme

    theme.apply_theme(scheme, qapp)
    view.reload()  # as when the window opens: the columns fit the theme's fonts
    view.bundles_table.selectRow(0)
    if scheme == "light":
        view.status.setText("Bundle 0123456789abcdef is intact: 2 file(s) match the manifest signed by 4f1c…")
    else:  # an apply under way: the buttons wait, the bar shows what is being copied where
        view._set_busy(True, "Applying the bundle…")
        view._progress(0.42, "copying to web2")
    qtbot.wait(100)
    image = view.grab()
    assert image.width() == 1280 and image.height() == 800
    target = os.environ.get("PATCHDESK_SCREENSHOT_DIR")
    if target:
        image.save(str(Path(target) / f"bundles_{scheme}.png"))
    view._set_busy(False)
    theme.apply_theme("light", qapp)


def test_the_file_menu_opens_the_bundles_window(window) -> None:  # type: ignore[no-untyped-def]
    window.bundles_action.trigger()
    view = window.bundles_view
    assert view.isVisible() and view.isWindow() and view.bundles_model.rowCount() == 0
    window.bundles_action.trigger()  # a second time: the same window, raised
    assert window.bundles_view is view
