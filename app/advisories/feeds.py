"""Online advisory sources: the CISA KEV feed and the OSV.dev API, when the workstation has internet.

Every request has a short timeout and the whole refresh a deadline, so an offline site gets a plain
"offline — import a file instead" within seconds rather than a hang. Answers are parsed by the same
code as imported files and imported all-or-nothing.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from app.advisories.formats import MAX_FILE_BYTES, parse_bytes, parse_json
from app.domain.advisories import AdvisoryBatch
from app.domain.errors import AdvisoryFormatError, AdvisorySourceError

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
OSV_API = "https://api.osv.dev/v1"
DEFAULT_TIMEOUT = 8.0
#: most advisories fetched one by one from OSV.dev in one refresh
MAX_OSV_FETCH = 300


@dataclass(frozen=True)
class PackageQuery:
    ecosystem: str
    name: str
    version: str  # the installed version: what is vulnerable now


def _offline(url: str, why: object) -> AdvisorySourceError:
    host = urllib.parse.urlsplit(url).hostname or url
    return AdvisorySourceError(
        f"offline — cannot reach {host} ({why}). Import a file instead: "
        "patchdesk advisories import FILE (a KEV catalog, an OSV file or a directory of OSV files)."
    )


def _fetch(url: str, timeout: float, data: bytes | None = None) -> bytes:
    req = urllib.request.Request(  # noqa: S310 - https/http URLs only, checked below
        url,
        data=data,
        headers={"User-Agent": "patchdesk", "Content-Type": "application/json", "Accept": "application/json"},
    )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise AdvisorySourceError(f"{url}: only http(s) sources are supported.")
    _resolve(url, parts.hostname or "", timeout)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            body: bytes = resp.read(MAX_FILE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise AdvisorySourceError(f"{url} answered HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _offline(url, reason) from exc
    if len(body) > MAX_FILE_BYTES:
        raise AdvisorySourceError(f"{url}: the answer is too large.")
    return body


def _resolve(url: str, host: str, timeout: float) -> None:
    """Name resolution has no timeout of its own (getaddrinfo can hang for long on a site without
    DNS): do it on a daemon thread and give up after ``timeout``."""
    result: list[BaseException | None] = []

    def work() -> None:
        try:
            socket.getaddrinfo(host, None)
            result.append(None)
        except OSError as exc:
            result.append(exc)

    t = threading.Thread(target=work, name="patchdesk-resolve", daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        raise _offline(url, f"no answer from DNS within {timeout:.0f} s")
    if result[0] is not None:
        raise _offline(url, getattr(result[0], "strerror", None) or result[0])


def fetch_kev(url: str = KEV_URL, timeout: float = DEFAULT_TIMEOUT) -> AdvisoryBatch:
    batch = parse_bytes(_fetch(url, timeout), url)
    if not batch.kev:
        raise AdvisoryFormatError(f"{url}: the answer is not a KEV catalog.")
    return batch


def fetch_osv(
    queries: Sequence[PackageQuery],
    api: str = OSV_API,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = 60.0,
) -> AdvisoryBatch:
    """Advisories affecting the given installed packages (querybatch, then each record)."""
    if not queries:
        return AdvisoryBatch(sources=(api,))
    end = time.monotonic() + deadline
    body = json.dumps(
        {
            "queries": [
                {"package": {"ecosystem": q.ecosystem, "name": q.name}, "version": q.version} for q in queries
            ]
        }
    ).encode()
    answer = _json(_fetch(f"{api}/querybatch", timeout, body), api)
    ids: list[str] = []
    for result in answer.get("results", []) if isinstance(answer, dict) else []:
        for v in (result or {}).get("vulns", []) or []:
            if isinstance(v, dict) and isinstance(v.get("id"), str) and v["id"] not in ids:
                ids.append(v["id"])
    batch = AdvisoryBatch(sources=(api,))
    for vid in ids[:MAX_OSV_FETCH]:
        if time.monotonic() > end:
            raise AdvisorySourceError(
                f"{api}: the refresh took longer than {deadline:.0f} s; nothing was imported. "
                "Try again later."
            )
        record = _json(_fetch(f"{api}/vulns/{urllib.parse.quote(vid, safe='')}", timeout), api)
        batch = batch.merged(parse_json(record, f"{api}/vulns/{vid}"))
    return batch


def _json(raw: bytes, source: str) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdvisorySourceError(f"{source} answered something that is not JSON.") from exc
