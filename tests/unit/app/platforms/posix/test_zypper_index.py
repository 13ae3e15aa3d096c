"""zypper: the index's age from the repository files and libzypp's raw cache, and scans that could not
see (a failing, empty, cut-short or refused answer, a repository error) are never "nothing pending" nor
complete. Answers are crafted from zypper's documented formats (tests/data/zypper/README.md)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.platforms.posix import zypper
from app.platforms.posix.zypper_parse import INDEX_COMMAND, parse_index, raw_cache_alias
from app.transports.base import CommandResult

DATA = Path(__file__).resolve().parents[4] / "data" / "zypper"
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
HOST_NOW = 1796542902
RAW = "/var/cache/zypp/raw"
REPOS = """\
[repo-oss]
name=Main Repository
enabled=1
autorefresh=1
baseurl=http://download.opensuse.invalid/distribution/leap/15.6/repo/oss/
type=rpm-md

[repo-update]
name=Main Update Repository
enabled=1
baseurl=http://download.opensuse.invalid/update/leap/15.6/oss/

[repo-debug]
enabled=0
"""


def index_answer(times: dict[str, int], repos: str = REPOS) -> str:
    lines = [f"now {HOST_NOW}", *(f"{t} {RAW}/{alias}/repodata/repomd.xml" for alias, t in times.items())]
    return "\n".join(lines) + "\n[[repos]]\n" + repos


def test_raw_cache_paths_name_their_alias() -> None:
    assert raw_cache_alias(f"{RAW}/repo-oss/repodata/repomd.xml") == "repo-oss"
    assert raw_cache_alias(f"{RAW}/SUSE_Updates/content") == "SUSE_Updates"
    assert raw_cache_alias(f"{RAW}/plain/cookie") == "plain"
    assert raw_cache_alias(f"{RAW}/repo-oss/repodata/primary.xml.gz") is None
    assert raw_cache_alias("/etc/zypp/repos.d/x.repo") is None


def test_the_oldest_enabled_repository_dates_the_index() -> None:
    text = index_answer({"repo-oss": HOST_NOW - 600, "repo-update": HOST_NOW - 3 * 3600, "repo-debug": 1})
    state = parse_index(text, NOW)
    assert state.measured and state.updated == NOW - timedelta(hours=3) and state.notes == ()


def test_an_enabled_repository_without_cache_is_unusable() -> None:
    state = parse_index(index_answer({"repo-oss": HOST_NOW}), NOW)
    assert state.measured and state.updated is None and "'repo-update'" in state.notes[0]
    assert "zypper refresh" in state.notes[0]


def test_no_enabled_repository_and_no_answer_are_unmeasured() -> None:
    assert not parse_index(index_answer({}, repos="[a]\nenabled=0\n"), NOW).measured
    assert not parse_index("", NOW).measured
    assert not parse_index("[[repos]]\n" + REPOS, NOW).measured  # no clock: not our answer


def test_the_index_snippet_runs_in_a_real_shell() -> None:
    out = subprocess.run(["sh", "-c", INDEX_COMMAND], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("now ") and "[[repos]]" in out.stdout


# -- the adapter over replayed answers ----------------------------------------------------------------


class Replay:
    host = "replay"

    def __init__(self, *answers: CommandResult) -> None:
        self.answers = list(answers)
        self.ran: list[object] = []

    def run(self, command: object, **kw: object) -> CommandResult:
        self.ran.append(command)
        return self.answers.pop(0)


def ok(name: str, rc: int = 0) -> CommandResult:
    return CommandResult(rc, (DATA / name).read_bytes(), b"")


FRESH = CommandResult(0, index_answer({"repo-oss": HOST_NOW, "repo-update": HOST_NOW}).encode(), b"")


def test_a_whole_answer_is_read_and_dated() -> None:
    adapter = zypper.ZypperAdapter("leap01.invalid")
    t = Replay(FRESH, ok("list_updates_crafted.xml", 100), ok("list_patches_crafted.xml", 100))
    pending = adapter.scan(t)  # type: ignore[arg-type]
    assert len(pending) == 7 and adapter.last_scan_notes == ()
    state = adapter.index_state(Replay())  # type: ignore[arg-type]  # no further command
    assert state.measured and state.updated is not None


# #17 item 7: a scan that could not see is never counted as "nothing pending"


@pytest.mark.parametrize(
    "answer",
    [
        CommandResult(0, b"", b""),  # exit 0 and nothing at all
        CommandResult(0, b"Loading repository data...\n", b""),  # text, no XML
        CommandResult(0, b"<?xml version='1.0'?>\n<stream>\n<update-status version=\"0.6\">\n<upd", b""),
        CommandResult(0, b"<?xml version='1.0'?>\n<stream>\n</stream>\n", b""),  # no update list
    ],
    ids=["empty", "no-xml", "cut-short", "no-update-list"],
)
def test_an_unreadable_answer_fails_the_scan(answer: CommandResult) -> None:
    with pytest.raises(AdapterError, match="could not be read"):
        zypper.ZypperAdapter("leap01.invalid").scan(Replay(FRESH, answer))  # type: ignore[arg-type]


def test_a_failing_zypper_with_no_output_is_an_error() -> None:
    with pytest.raises(AdapterError, match=r"leap01\.invalid"):
        zypper.ZypperAdapter("leap01.invalid").scan(Replay(FRESH, CommandResult(4, b"", b"")))  # type: ignore[arg-type]


REPO_ERROR = b"""<?xml version='1.0'?>
<stream>
<message type="error">Repository 'repo-update' is invalid.</message>
<message type="error">Some of the repositories have not been refreshed because of an error.</message>
<update-status version="0.6">
<update-list>
</update-list>
</update-status>
</stream>
"""


def test_a_repository_error_makes_the_scan_incomplete_with_zyppers_sentence() -> None:
    adapter = zypper.ZypperAdapter("leap01.invalid")
    t = Replay(FRESH, CommandResult(106, REPO_ERROR, b""), ok("list_patches_crafted.xml", 100))
    pending = adapter.scan(t)  # type: ignore[arg-type]
    assert pending  # what it listed is kept
    (note,) = adapter.last_scan_notes
    assert "Repository 'repo-update' is invalid" in note


def test_a_refresh_that_skipped_a_repository_is_a_failure_with_its_sentence() -> None:
    with pytest.raises(AdapterError, match="repo-update"):
        zypper.ZypperAdapter("leap01.invalid").scan(  # type: ignore[arg-type]
            Replay(CommandResult(106, REPO_ERROR, b"")), refresh=True
        )


# locks: what zypper hides is listed, held, with why


LOCKS = """# zypper locks
type: package
match_type: glob
case_sensitive: on
solvable_name: vim*

type: package
match_type: exact
solvable_name: nonexistent
"""


def test_locked_updates_are_listed_and_held() -> None:
    from app.platforms.posix.zypper_parse import parse_locks

    locked = index_answer({"repo-oss": HOST_NOW, "repo-update": HOST_NOW}).replace(
        "[[repos]]", "[[locks]]\n" + LOCKS + "[[repos]]"
    )
    assert parse_locks(locked) == [("glob", "vim*"), ("exact", "nonexistent")]
    shown = (DATA / "list_updates_crafted.xml").read_text()
    hidden = (
        shown[: shown.index('<update kind="package" name="vim"')]
        + "</update-list>\n</update-status>\n</stream>\n"
    )
    adapter = zypper.ZypperAdapter("leap01.invalid")
    t = Replay(
        CommandResult(0, locked.encode(), b""),
        CommandResult(100, hidden.encode(), b""),
        ok("list_patches_crafted.xml", 100),
        ok("list_updates_crafted.xml", 100),  # list-updates --all
    )
    pending = adapter.scan(t)  # type: ignore[arg-type]
    by = {u.name: u for u in pending}
    assert by["vim"].held and "zypper lock" in by["vim"].held_reason
    assert not by["openssl-3"].held and sum(1 for u in pending if u.name == "openssl-3") == 1
    assert t.ran[-1][-2:] == ["list-updates", "--all"]
    assert adapter.last_scan_notes == ()


def test_include_held_refuses_to_pass_a_lock() -> None:
    locked = index_answer({"repo-oss": HOST_NOW}).replace("[[repos]]", "[[locks]]\n" + LOCKS + "[[repos]]")
    shown = (DATA / "list_updates_crafted.xml").read_text()
    hidden = (
        shown[: shown.index('<update kind="package" name="vim"')]
        + "</update-list>\n</update-status>\n</stream>\n"
    )
    adapter = zypper.ZypperAdapter("leap01.invalid")
    adapter.allow_held = True
    t = Replay(
        CommandResult(0, locked.encode(), b""),
        CommandResult(100, hidden.encode(), b""),
        ok("list_updates_crafted.xml", 100),
    )
    with pytest.raises(AdapterError, match="removelock"):
        adapter.install(t, ["vim"])  # type: ignore[arg-type]


def test_real_recordings_parse() -> None:
    from app.platforms.posix.zypper_parse import parse_list_patches, parse_list_updates

    updates = parse_list_updates((DATA / "list_updates_real.xml").read_text())
    assert {u.name for u in updates.pending} == {
        "pd-chain",
        "pd-chain-lib",
        "pd-reboot",
        "pd-regular",
        "pd-secfix",
    }
    assert updates.warnings == () and updates.unreadable is None and updates.errors == ()
    patches = {u.name: u for u in parse_list_patches((DATA / "list_patches_real.xml").read_text()).pending}
    assert set(patches) == {"patch:PDSA-2099:0001", "patch:PDBA-2099:0002", "patch:PDSA-2099:0003"}
    assert patches["patch:PDSA-2099:0001"].severity == "Important"
    assert patches["patch:PDSA-2099:0001"].cves == ("CVE-2099-0001",)
    assert patches["patch:PDSA-2099:0003"].reboot_expected
    locked = parse_list_updates((DATA / "list_updates_locked_real.xml").read_text())
    everything = parse_list_updates((DATA / "list_updates_all_locked_real.xml").read_text())
    assert {u.name for u in everything.pending} - {u.name for u in locked.pending} == {"pd-regular"}
