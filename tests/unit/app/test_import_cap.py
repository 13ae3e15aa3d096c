"""The per-file host cap is a setting, reported when it bites; `hosts import -` reads stdin; policy
numbers must be finite (issue #19 items 5, 9, 14)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from app.cli.main import parse, run


def cli(db: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return run(parse(["--db", str(db), *argv]), out), out.getvalue()


CSV = "name,address\nweb1,127.0.0.11\nweb2,127.0.0.12\nweb3,127.0.0.13\n"


def test_the_host_cap_is_a_setting_and_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "pd.sqlite3"
    assert cli(db, "policy", "set", "import_max_hosts", "2")[0] == 0
    f = tmp_path / "hosts.csv"
    f.write_text(CSV)
    code, text = cli(db, "hosts", "import", str(f), "--json")
    assert code == 1  # a file with problems exits 1, its good rows imported
    data = json.loads(text)
    assert data["added"] == ["web1", "web2"]
    assert any("web3" in p for p in data["problems"])  # named, not silently dropped


def test_import_from_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "pd.sqlite3"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CSV.encode())))
    code, text = cli(db, "hosts", "import", "-", "--format", "csv", "--json")
    assert code == 0 and json.loads(text)["added"] == ["web1", "web2", "web3"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("verify_share", "nan"),
        ("reserve_factor", "inf"),
        ("import_max_hosts", "0"),
        ("import_max_hosts", "2.5"),
    ],
)
def test_policy_numbers_must_be_finite_and_in_range(tmp_path: Path, key: str, value: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli(tmp_path / "pd.sqlite3", "policy", "set", key, value)
    assert code != 0 and key in capsys.readouterr().err
