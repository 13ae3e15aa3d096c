"""app/secrets.py against a real Secret Service (gnome-keyring on a private D-Bus bus).

The point of these tests is the behaviour a user meets: secrets round-trip through the real keyring,
and a missing or locked keyring produces a sentence -- never a plaintext fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import SecretStoreError
from app.secrets import NO_KEYRING, SERVICE, SecretStore, new_ref
from tests.support import keyring_service

# keyring's SecretService backend opens a new D-Bus connection per call and never closes it; the
# garbage collector does, with a ResourceWarning. Only those sockets, to our private bus, are ignored.
leaked_bus_sockets = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
    ":pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture
def secret_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[keyring_service.SecretService]:
    with keyring_service.running(tmp_path / "keyring") as service:
        for key, value in service.env().items():
            monkeypatch.setenv(key, value)
        yield service


def secret_service_backend():  # type: ignore[no-untyped-def]
    from keyring.backends import SecretService

    return SecretService.Keyring()


def test_new_ref_names_host_and_kind() -> None:
    ref = new_ref("sudo", "web1")
    assert re.fullmatch(r"host:web1:sudo:[0-9a-f]{12}", ref)
    assert new_ref("sudo", "web1") != ref
    assert SecretStore.new_ref("key-passphrase", "db").startswith("host:db:key-passphrase:")
    with pytest.raises(ValueError):
        new_ref("bogus", "web1")  # type: ignore[arg-type]


@pytest.mark.keyring_service
@leaked_bus_sockets
def test_round_trip_on_real_secret_service(secret_service: keyring_service.SecretService) -> None:
    store = SecretStore(secret_service_backend())
    ok, message = store.status()
    assert ok, message
    assert "SecretService" in store.backend_name()

    ref = new_ref("login", "web1")
    assert store.get(ref) is None
    store.set(ref, "pä$$ 'word\"\n")
    assert store.get(ref) == "pä$$ 'word\"\n"

    # it really is in the Secret Service, under our service name, where other tools can see it
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        items = list(secretstorage.search_items(conn, {"service": SERVICE, "username": ref}))
        assert len(items) == 1
        assert items[0].get_secret() == "pä$$ 'word\"\n".encode()
    finally:
        conn.close()

    store.set(ref, "second")
    assert store.get(ref) == "second"
    store.delete(ref)
    assert store.get(ref) is None
    store.delete(ref)  # idempotent


def test_fail_backend_refuses_with_a_sentence(tmp_path: Path) -> None:
    from keyring.backends import fail

    store = SecretStore(fail.Keyring())
    ok, message = store.status()
    assert not ok
    assert message == NO_KEYRING
    assert "never stores passwords in plain text" in message
    with pytest.raises(SecretStoreError) as err:
        store.set(new_ref("sudo", "web1"), "secret")
    assert str(err.value) == NO_KEYRING
    with pytest.raises(SecretStoreError):
        store.get("host:web1:sudo:abc")
    # and nothing leaked to disk as a fallback
    assert not any("secret" in p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())


def test_default_backend_under_test_env_is_refused() -> None:
    """conftest pins keyring to the fail backend; SecretStore() must report it, not fall back."""
    store = SecretStore()
    ok, message = store.status()
    assert not ok and message == NO_KEYRING


def test_plaintext_backend_is_refused() -> None:
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):  # the name keyrings.alt uses for its plaintext file
        priority = 1  # type: ignore[assignment]
        stored: dict[str, str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.stored.get(username)

        def set_password(self, service: str, username: str, password: str) -> None:
            self.stored[username] = password

        def delete_password(self, service: str, username: str) -> None:
            self.stored.pop(username, None)

    backend = PlaintextKeyring()
    store = SecretStore(backend)
    with pytest.raises(SecretStoreError):
        store.set("host:x:login:1", "secret")
    assert backend.stored == {}


@pytest.mark.keyring_service
@leaked_bus_sockets
def test_locked_collection_is_a_known_error(secret_service: keyring_service.SecretService) -> None:
    store = SecretStore(secret_service_backend())
    ref = new_ref("sudo", "db1")
    store.set(ref, "before-lock")
    secret_service.lock_default_collection()

    ok, message = store.status()
    assert not ok
    assert "locked" in message
    with pytest.raises(SecretStoreError, match="locked"):
        store.set(ref, "after-lock")
    with pytest.raises(SecretStoreError, match="locked"):
        store.get(ref)


@pytest.mark.keyring_service
@leaked_bus_sockets
def test_secret_service_gone_is_a_known_error(secret_service: keyring_service.SecretService) -> None:
    backend = secret_service_backend()
    store = SecretStore(backend)
    secret_service.stop()
    with pytest.raises(SecretStoreError) as err:
        store.set(new_ref("login", "web1"), "x")
    assert "keyring" in str(err.value)
