"""``patchdesk report``: the compliance report as CSV, JSON, HTML or PDF."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_OK, open_db
from app.domain.errors import ConfigError
from app.domain.inventory import parse_choice
from app.domain.models import Criticality, Ring


def add_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="compliance report (CSV, JSON, HTML or PDF)")
    report.set_defaults(func=run_report)
    report.add_argument("--group", help="only this patch group (default: all hosts)")
    report.add_argument("--ring", help="only this ring: test | pilot | production")
    report.add_argument("--criticality", help="only this criticality")
    report.add_argument("--os-family", help="only this OS family: debian | redhat | suse | windows | other")
    report.add_argument("--date", help="YYYY-MM-DD: a past day's snapshot (default: now)")
    report.add_argument("--format", choices=["csv", "json", "html", "pdf"], default="csv")
    report.add_argument("-o", "--output", type=Path, help="file to write (default: stdout; required for pdf)")


def _render(fmt: str, report: Any) -> str:
    from app.reports import render

    text: str = {"csv": render.to_csv, "json": render.to_json, "html": render.to_html}[fmt](report)
    return text


def run_report(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import date

    from app.domain.compliance import OS_FAMILIES, OS_FAMILY_OTHER, OS_FAMILY_UNKNOWN, ComplianceFilter
    from app.reports import files, pdf
    from app.services.reports import build_report
    from db.hosts import list_groups

    db = open_db(args)
    if args.group is not None and args.group not in list_groups(db):
        raise ConfigError(f"Unknown group {args.group!r}. Groups: {', '.join(list_groups(db)) or 'none'}.")
    families = (*OS_FAMILIES, OS_FAMILY_OTHER, OS_FAMILY_UNKNOWN)
    if args.os_family and args.os_family not in families:
        raise ConfigError(f"--os-family must be one of {', '.join(families)}.")
    scope = ComplianceFilter(
        group=args.group,
        ring=str(parse_choice(Ring, args.ring, "--ring")) if args.ring else None,
        criticality=(
            str(parse_choice(Criticality, args.criticality, "--criticality")) if args.criticality else None
        ),
        os_family=args.os_family,
    )
    try:
        day = date.fromisoformat(args.date) if args.date else None
    except ValueError as exc:
        raise ConfigError(f"--date must be YYYY-MM-DD, not {args.date!r}.") from exc
    try:
        report = build_report(db, scope, day)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if args.format == "pdf" and args.output is None:
        raise ConfigError("A PDF report needs a file: add -o FILE.pdf.")
    if args.output is None:
        out.write(_render(args.format, report))
        return EXIT_OK
    # The file appears only with its audit entry: a failed write or a locked database leaves neither.
    files.write_report(db, report, args.output, args.format, scope.describe(), pdf.write_pdf)
    print(
        f"Wrote the {args.format.upper()} report ({len(report.hosts)} hosts) to {args.output}.",
        file=sys.stderr,
    )
    return EXIT_OK
