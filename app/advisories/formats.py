"""Reading advisory files: the CISA KEV catalog and OSV records, recognised from their content.

Pure functions from text to values. A file that is not valid JSON, or not recognisably either format,
or that lacks a field the format requires, is an :class:`~app.domain.errors.AdvisoryFormatError` naming the
file and what is wrong, and nothing of it is used. Text from a file is untrusted: lengths are capped
and only the fields we use are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from app.domain.advisories import Advisory, AdvisoryBatch, AffectedPackage, KevEntry
from app.domain.errors import AdvisoryFormatError

_CVE = re.compile(r"CVE-\d{4}-\d{4,7}\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
#: biggest single advisory file we read (the full KEV catalog is ~1.5 MB; OSV records are small)
MAX_FILE_BYTES = 64 * 1024 * 1024
_TEXT_CAP = 4000
_MAX_DIGITS = 40  # no advisory field is a number this long; int() of 5,000 digits raises ValueError


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _string(value: object, what: str, name: str, cap: int = _TEXT_CAP) -> str:
    """A field that must be a JSON string (or absent): ``["a"]`` is refused, not stored as "['a']"."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AdvisoryFormatError(f"{name}: {what} must be a string, not {type(value).__name__}.")
    return _text(value, cap)


def _text(value: object, cap: int = _TEXT_CAP) -> str:
    if value is None:
        return ""
    s = str(value)
    s = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in s)
    return s[:cap]


def read_path(path: Path) -> AdvisoryBatch:
    """A KEV catalog file, an OSV file (one record or a list) or a directory of OSV files."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise AdvisoryFormatError(f"{path}: the directory holds no .json advisory files.")
        batch = AdvisoryBatch()
        for f in files:
            batch = batch.merged(read_file(f))
        return batch
    if not path.exists():
        raise AdvisoryFormatError(f"{path}: no such file or directory.")
    return read_file(path)


def read_file(path: Path) -> AdvisoryBatch:
    """A regular file only (a device or FIFO would never end), read up to the cap whatever its size
    says: a file may grow while it is read."""
    from app.importers.base import read_bounded

    raw = read_bounded(path, MAX_FILE_BYTES, what="advisory", error=AdvisoryFormatError)
    return parse_bytes(raw, str(path))


def parse_bytes(raw: bytes, name: str) -> AdvisoryBatch:
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_int=_bounded_int)
    except RecursionError:
        raise AdvisoryFormatError(f"{name}: the JSON is nested too deeply to be an advisory file.") from None
    except UnicodeDecodeError as exc:
        raise AdvisoryFormatError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except json.JSONDecodeError as exc:
        raise AdvisoryFormatError(
            f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from exc
    except ValueError as exc:  # from _bounded_int
        raise AdvisoryFormatError(f"{name}: not an advisory file: it holds {exc}.") from None
    try:
        return parse_json(data, name)
    except RecursionError:
        # json decodes deeper than the code that walks it (a KEV entry's fields are str()'d)
        raise AdvisoryFormatError(f"{name}: the JSON is nested too deeply to be an advisory file.") from None


def detect(data: object) -> str | None:
    """ "kev", "osv" or None, from the content alone."""
    if isinstance(data, dict):
        if "vulnerabilities" in data and ("catalogVersion" in data or "dateReleased" in data):
            return "kev"
        if "id" in data and ("affected" in data or "aliases" in data or "modified" in data):
            return "osv"
        if isinstance(data.get("vulns"), list):  # the osv.dev API's query answer
            return "osv"
    if isinstance(data, list) and data and all(isinstance(d, dict) and "id" in d for d in data):
        return "osv"
    return None


def parse_json(data: object, name: str) -> AdvisoryBatch:
    kind = detect(data)
    if kind == "kev":
        assert isinstance(data, dict)
        return parse_kev(data, name)
    if kind == "osv":
        records: Iterable[Any]
        if isinstance(data, dict) and isinstance(data.get("vulns"), list):
            records = data["vulns"]
        elif isinstance(data, dict):
            records = [data]
        else:
            assert isinstance(data, list)
            records = data
        advisories = tuple(a for i, r in enumerate(records) if (a := parse_osv(r, f"{name}[{i}]")))
        return AdvisoryBatch(advisories=advisories, sources=(name,))
    raise AdvisoryFormatError(
        f"{name}: neither a CISA KEV catalog (catalogVersion, vulnerabilities) nor OSV advisories "
        "(id, affected, modified)."
    )


def parse_kev(data: dict[str, Any], name: str) -> AdvisoryBatch:
    vulns = data.get("vulnerabilities")
    if not isinstance(vulns, list):
        raise AdvisoryFormatError(f"{name}: the KEV catalog's 'vulnerabilities' is not a list.")
    entries: dict[str, KevEntry] = {}
    for i, v in enumerate(vulns):
        if not isinstance(v, dict):
            raise AdvisoryFormatError(f"{name}: KEV entry {i} is not an object.")
        cve = _text(v.get("cveID"), 32).strip().upper()
        if not _CVE.fullmatch(cve):
            raise AdvisoryFormatError(f"{name}: KEV entry {i} has no valid cveID ({cve or 'missing'}).")
        due = _text(v.get("dueDate"), 10)
        added = _text(v.get("dateAdded"), 10)
        for field, value in (("dueDate", due), ("dateAdded", added)):
            if value and not _is_date(value):
                raise AdvisoryFormatError(f"{name}: KEV entry {cve} has a malformed {field} {value!r}.")
        entries[cve] = KevEntry(
            cve=cve,
            vendor=_text(v.get("vendorProject"), 200),
            product=_text(v.get("product"), 200),
            name=_text(v.get("vulnerabilityName"), 500),
            date_added=added,
            due_date=due,
            ransomware=_text(v.get("knownRansomwareCampaignUse"), 20),
            description=_text(v.get("shortDescription")),
            required_action=_text(v.get("requiredAction"), 1000),
        )
    return AdvisoryBatch(
        kev=tuple(entries.values()),
        kev_version=_text(data.get("catalogVersion"), 40) or None,
        kev_released=_text(data.get("dateReleased"), 40) or None,
        sources=(name,),
    )


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_osv(record: object, name: str) -> Advisory | None:
    """One OSV record; None for a withdrawn one (it no longer applies)."""
    if not isinstance(record, dict):
        raise AdvisoryFormatError(f"{name}: an OSV record is not an object.")
    adv_id = _string(record.get("id"), "an OSV record's id", name, 100).strip()
    if not adv_id:
        raise AdvisoryFormatError(f"{name}: an OSV record has no id.")
    if record.get("withdrawn"):
        return None
    aliases = record.get("aliases") or []
    upstream = record.get("upstream") or []
    if not isinstance(aliases, list) or not isinstance(upstream, list):
        raise AdvisoryFormatError(f"{name}: {adv_id}: 'aliases' must be a list.")
    affected_raw = record.get("affected") or []
    if not isinstance(affected_raw, list):
        raise AdvisoryFormatError(f"{name}: {adv_id}: 'affected' must be a list.")
    affected: list[AffectedPackage] = []
    severities: list[str] = []
    for a in affected_raw:
        if not isinstance(a, dict) or not isinstance(a.get("package"), dict):
            raise AdvisoryFormatError(f"{name}: {adv_id}: an 'affected' entry has no package.")
        pkg = a["package"]
        where = f"{name}: {adv_id}"
        eco = _string(pkg.get("ecosystem"), "a package's ecosystem", where, 100)
        pname = _string(pkg.get("name"), "a package's name", where, 200)
        if not eco or not pname:
            raise AdvisoryFormatError(f"{name}: {adv_id}: an affected package lacks ecosystem or name.")
        fixed: list[str] = []
        for rng in a.get("ranges") or []:
            if not isinstance(rng, dict) or not isinstance(rng.get("events", []), list):
                raise AdvisoryFormatError(f"{name}: {adv_id}: a range of {pname} is malformed.")
            if rng.get("type") not in ("ECOSYSTEM", None):
                continue  # GIT/SEMVER ranges say nothing about distribution package versions
            for ev in rng.get("events", []):
                if isinstance(ev, dict) and ev.get("fixed"):
                    fixed.append(_string(ev["fixed"], f"a fixed version of {pname}", where, 200))
        affected.append(AffectedPackage(eco, pname, tuple(dict.fromkeys(fixed))))
        severities.extend(_severities(a))
    severities.extend(_severities(record))
    return Advisory(
        id=adv_id,
        source="osv",
        summary=_text(record.get("summary") or record.get("details"), 500),
        severity=severities[0] if severities else None,
        aliases=tuple(
            dict.fromkeys(
                _string(x, "an alias", f"{name}: {adv_id}", 100) for x in [*aliases, *upstream] if x
            )
        ),
        published=_text(record.get("published"), 40),
        modified=_text(record.get("modified"), 40),
        affected=tuple(affected),
    )


def _severities(obj: dict[str, Any]) -> list[str]:
    """Vendor words first (database_specific/ecosystem_specific), then typed severity scores."""
    out: list[str] = []
    for key in ("database_specific", "ecosystem_specific"):
        spec = obj.get(key)
        if isinstance(spec, dict):
            for field in ("severity", "urgency", "cvss_severity"):
                v = spec.get(field)
                if isinstance(v, str) and v.strip():
                    out.append(_text(v, 40))
    sev = obj.get("severity")
    if isinstance(sev, list):
        for s in sev:
            if isinstance(s, dict) and isinstance(s.get("score"), str):
                score = s["score"]
                # a CVSS vector is not a score; vendor types (Ubuntu) carry a word
                if not score.upper().startswith("CVSS:"):
                    out.append(_text(score, 40))
    return out
