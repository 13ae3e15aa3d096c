"""The server half of WinRM's NTLM authentication and MS-WSMV message encryption, for the loopback server.

pyspnego (already a dependency of pywinrm's requests-ntlm) is the NTLM acceptor. Its acceptor reads the
accounts it may accept from the file named by the ``NTLM_USER_FILE`` environment variable (lines of
``DOMAIN:USER:PASSWORD``); as one test process may run several servers with different accounts, the
variable is set only around the acceptor calls, under a lock.

The encryption framing is MS-WSMV 2.2.9.1.1 ("Negotiate"): a ``multipart/encrypted`` body with the
protocol ``application/HTTP-SPNEGO-session-encrypted``, two MIME parts separated by
``--Encrypted Boundary``: the first names the original content type and its length, the second is
``application/octet-stream`` holding a 4-byte little-endian signature length, the NTLM signature and
the sealed message. It is what pywinrm's ``winrm/encryption.py`` writes and reads on the client side.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"
CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
ORIGINAL_TYPE = "application/soap+xml;charset=UTF-8"

_ENV_LOCK = threading.Lock()


class NtlmError(Exception):
    """The client's NTLM token or encrypted message was refused."""


@contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _ENV_LOCK:
        old = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = old


def write_user_file(directory: Path, user: str, password: str) -> Path:
    """The acceptor's account file: ``DOMAIN:USER:PASSWORD`` (``DOMAIN\\user`` or a bare user name)."""
    domain, _, name = user.rpartition("\\")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ntlm_users"
    path.write_text(f"{domain}:{name}:{password}\n", encoding="utf-8")
    return path


def channel_bindings(cert_pem: Path) -> GssChannelBindings:
    """RFC 5929 tls-server-end-point bindings of the server certificate (what requests-ntlm sends)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        algorithm = hashes.SHA256()
    der = cert.public_bytes(serialization.Encoding.DER)
    digest = hashlib.new(algorithm.name, der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


class NtlmConnection:
    """NTLM state of one HTTP connection: NTLM authenticates the connection, not each request."""

    def __init__(self, user_file: Path, bindings: GssChannelBindings | None) -> None:
        self.user_file = user_file
        self.bindings = bindings
        self.context: spnego.ContextProxy | None = None
        self.user: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.context is not None and self.context.complete

    def step(self, token_b64: str) -> str | None:
        """Process one ``Authorization: NTLM <token>``; the challenge to send back, or None when done."""
        try:
            token = base64.b64decode(token_b64, validate=True)
        except ValueError as exc:
            raise NtlmError("not base64") from exc
        with _user_file(self.user_file):
            try:
                if token[8:12] == b"\x01\x00\x00\x00":  # a NEGOTIATE message starts a new handshake
                    self.context = spnego.server(
                        protocol="ntlm",
                        service="http",
                        channel_bindings=self.bindings,
                        # the pure-Python acceptor, never a system GSSAPI that would ignore the file
                        options=spnego.NegotiateOptions.use_ntlm,
                    )
                if self.context is None:
                    raise NtlmError("AUTHENTICATE without NEGOTIATE")
                out = self.context.step(token)
            except SpnegoError as exc:
                self.context = None
                raise NtlmError(str(exc)) from exc
        if self.context.complete:
            self.user = self.context.client_principal
            return None
        return base64.b64encode(out or b"").decode()

    def decrypt(self, body: bytes) -> bytes:
        """The SOAP message inside an MS-WSMV encrypted body."""
        assert self.context is not None
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        if len(parts) != 2:
            raise NtlmError(f"expected 2 MIME parts, got {len(parts)}")
        header, payload = parts
        m = re.search(rb"Content-Type: " + re.escape(PROTOCOL.encode()) + rb"\r\n", header)
        length = re.search(rb"Length=(\d+)", header)
        if m is None or length is None:
            raise NtlmError("bad encrypted-part header")
        if payload.endswith(BOUNDARY + b"--\r\n"):
            payload = payload[: -len(BOUNDARY + b"--\r\n")]
        prefix = b"\tContent-Type: application/octet-stream\r\n"
        if not payload.startswith(prefix):
            raise NtlmError("no octet-stream part")
        data = payload[len(prefix) :]
        (sig_len,) = struct.unpack("<i", data[:4])
        signature, sealed = data[4 : 4 + sig_len], data[4 + sig_len :]
        try:
            message = self.context.unwrap(signature + sealed).data
        except SpnegoError as exc:
            raise NtlmError(f"unwrap failed: {exc}") from exc
        if len(message) != int(length.group(1)):
            raise NtlmError("decrypted length differs from the declared Length")
        return message

    def encrypt(self, message: bytes) -> bytes:
        """``message`` sealed and framed as Windows sends an encrypted reply."""
        assert self.context is not None
        wrapped = self.context.wrap(message, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        return (
            BOUNDARY
            + b"\r\n\tContent-Type: "
            + PROTOCOL.encode()
            + b"\r\n\tOriginalContent: type="
            + ORIGINAL_TYPE.encode()
            + b";Length="
            + str(len(message)).encode()
            + b"\r\n"
            + BOUNDARY
            + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature))
            + signature
            + sealed
            + BOUNDARY
            + b"--\r\n"
        )
