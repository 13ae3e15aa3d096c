"""The command line: a plain GUI start is parsed without building every command's parser, and
gives exactly what the full parser gives."""

from __future__ import annotations

import pytest

from app.cli import main as cli

GUI_STARTS = (
    [],
    ["--db", "inventory.sqlite3"],
    ["--db=inventory.sqlite3", "-v"],
    ["--verbose", "--no-first-run", "--db", "x.db"],
)


@pytest.mark.parametrize("argv", GUI_STARTS)
def test_gui_start_matches_the_full_parser(argv: list[str]) -> None:
    assert cli._gui_start(argv)
    fast = cli.parse(argv)
    full = cli.build_parser().parse_args(argv)
    assert vars(fast) == vars(full)
    assert fast.command is None


@pytest.mark.parametrize(
    "argv",
    [
        ["hosts", "list"],
        ["--db", "x.db", "scan", "--all"],
        ["--help"],
        ["--version"],
        ["--db"],  # the value is missing: the full parser's error
        ["--db", "-v"],
        ["--db="],
        ["--unknown"],
    ],
)
def test_anything_else_goes_to_the_full_parser(argv: list[str]) -> None:
    assert not cli._gui_start(argv)


def test_commands_and_errors_still_parse_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.parse(["--db", "x.db", "scan", "--all"])
    assert args.command == "scan" and args.all and str(args.db) == "x.db"
    with pytest.raises(SystemExit) as exc:
        cli.parse(["--db"])
    assert exc.value.code == cli.EXIT_USAGE
    assert "--db" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse(["--help"])
    assert "COMMAND" in capsys.readouterr().out
