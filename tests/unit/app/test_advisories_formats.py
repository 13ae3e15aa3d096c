"""Reading KEV and OSV files: recognised from content, malformed ones refused with the file named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.advisories.formats import detect, parse_bytes, read_path
from app.domain.errors import AdvisoryFormatError

DATA = Path(__file__).resolve().parents[2] / "data" / "advisories"


def test_kev_catalog() -> None:
    batch = read_path(DATA / "kev_synthetic.json")
    assert batch.kev_version == "2099.01.15" and not batch.advisories
    by = {k.cve: k for k in batch.kev}
    assert by["CVE-2099-0001"].due_date == "2026-12-15"
    assert by["CVE-2099-0001"].ransomware == "Known"
    assert by["CVE-2021-44228"].vendor == "Apache" and by["CVE-2021-44228"].product == "Log4j2"


def test_osv_directory_single_record_and_list() -> None:
    d = read_path(DATA / "osv-debian12")
    assert sorted(a.id for a in d.advisories) == ["DSA-9901-1", "DSA-9902-1"]
    dsa = next(a for a in d.advisories if a.id == "DSA-9901-1")
    assert dsa.cves == ("CVE-2099-0001", "CVE-2099-0002")
    assert dsa.affected[0].ecosystem == "Debian:12" and dsa.affected[0].fixed == ("1.0-2",)
    usn = read_path(DATA / "osv_ubuntu_usn.json").advisories[0]
    assert usn.severity == "critical" and usn.cves == ("CVE-2024-3094",)  # from "upstream"
    listed = read_path(DATA / "osv_list_ghsa_and_alma.json").advisories
    assert [a.id for a in listed] == ["ALSA-2024:1249", "GHSA-jfh8-c2jp-5v3q"]  # withdrawn one skipped
    assert listed[0].severity == "Important"
    assert listed[1].severity == "CRITICAL"  # the word, not the CVSS vector


def test_osv_api_answer() -> None:
    answer = {"vulns": [json.loads((DATA / "osv-debian12" / "DSA-9902-1.json").read_text())]}
    assert parse_bytes(json.dumps(answer).encode(), "api").advisories[0].id == "DSA-9902-1"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("malformed_truncated.json", "malformed_truncated.json: not valid JSON"),
        ("not_an_advisory.json", "not_an_advisory.json: neither a CISA KEV catalog"),
    ],
)
def test_bad_files_name_the_file(name: str, message: str) -> None:
    with pytest.raises(AdvisoryFormatError, match=message):
        read_path(DATA / name)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"catalogVersion": "1", "vulnerabilities": {}}, "'vulnerabilities' is not a list"),
        ({"catalogVersion": "1", "vulnerabilities": [{"cveID": "nope"}]}, "no valid cveID"),
        (
            {"catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2020-1234", "dueDate": "soon"}]},
            "dueDate",
        ),
        ({"id": "X-1", "affected": [{"ranges": []}]}, "has no package"),
        ({"id": "X-1", "affected": [{"package": {"name": "a"}}]}, "lacks ecosystem or name"),
        ({"id": "X-1", "aliases": "CVE-1"}, "'aliases' must be a list"),
    ],
)
def test_malformed_content(doc: object, message: str) -> None:
    with pytest.raises(AdvisoryFormatError, match=message):
        parse_bytes(json.dumps(doc).encode(), "f.json")


def test_hostile_bytes_and_text() -> None:
    with pytest.raises(AdvisoryFormatError, match="not UTF-8"):
        parse_bytes(b'{"id": "\xff"}', "bin.json")
    doc = {"id": "X-1", "summary": "evil\x1b[2Jterm" + "A" * 10000, "affected": []}
    adv = parse_bytes(json.dumps(doc).encode(), "f.json").advisories[0]
    assert "\x1b" not in adv.summary and len(adv.summary) <= 500


def test_a_directory_with_one_bad_file_fails_as_a_whole(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text((DATA / "osv-debian12" / "DSA-9901-1.json").read_text())
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(AdvisoryFormatError, match=r"bad\.json"):
        read_path(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AdvisoryFormatError, match=r"no \.json advisory files"):
        read_path(empty)


def test_detect() -> None:
    assert detect({"catalogVersion": "x", "vulnerabilities": []}) == "kev"
    assert detect({"id": "a", "modified": "x"}) == "osv"
    assert detect([{"id": "a"}]) == "osv"
    assert detect([]) is None and detect({"a": 1}) is None


# -- issue #19: hostile and broken input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 200_000, "nested too deeply"),
        (b'{"id": "X-1", "n": ' + b"9" * 5000 + b"}", "number"),
        (b'{"id": "X-1", "affected": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}", "nested too deeply"),
    ],
)
def test_parser_tracebacks_on_deep_json_and_huge_numbers(raw: bytes, message: str) -> None:
    """Item 8: RecursionError and ValueError escaped parse_bytes."""
    with pytest.raises(AdvisoryFormatError, match=message):
        parse_bytes(raw, "f.json")


@pytest.mark.parametrize("due", ["2024-13-45", "2024-02-30", "0000-00-00"])
def test_unchecked_kev_due_date_is_refused(due: str) -> None:
    """Item 14: a dueDate that matched the pattern but was no date was accepted."""
    doc = {"catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2020-1234", "dueDate": due}]}
    with pytest.raises(AdvisoryFormatError, match="dueDate"):
        parse_bytes(json.dumps(doc).encode(), "kev.json")


@pytest.mark.parametrize(
    "doc",
    [
        {"id": ["a"], "affected": []},
        {"id": {"x": 1}, "aliases": []},
        {"id": "X-1", "aliases": [["CVE-2020-1234"]]},
        {"id": "X-1", "affected": [{"package": {"ecosystem": ["Debian"], "name": "a"}}]},
        {
            "id": "X-1",
            "affected": [
                {"package": {"ecosystem": "Debian", "name": "a"}, "ranges": [{"events": [{"fixed": [1]}]}]}
            ],
        },
    ],
)
def test_unchecked_osv_values_of_the_wrong_type_are_refused(doc: object) -> None:
    """Item 14: an OSV id of ["a"] was stored as "['a']"."""
    with pytest.raises(AdvisoryFormatError, match="must be a string"):
        parse_bytes(json.dumps(doc).encode(), "osv.json")


def test_unbounded_reads_of_special_files(tmp_path: Path) -> None:
    """Item 9: /dev/zero was read until memory ran out; a FIFO hung."""
    import os

    with pytest.raises(AdvisoryFormatError, match="not a regular file"):
        read_path(Path("/dev/zero"))
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(AdvisoryFormatError, match="not a regular file"):
        read_path(fifo)


def test_a_file_growing_past_its_size_is_read_only_to_the_cap(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.advisories import formats

    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 5000)
    with pytest.raises(AdvisoryFormatError, match="holds more than 1,000 bytes"):
        read_path(big)
