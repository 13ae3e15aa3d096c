"""``patchdesk bundle``: offline patch bundles -- request, create, verify, apply, remove, key, trust."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Parser,
    dump_json,
    open_db,
    print_table,
    secret_store,
    split_list,
)
from app.domain.errors import ConfigError


def add_commands(sub: Any) -> None:
    bundle = sub.add_parser("bundle", help="offline patch bundles: built where there is a connection")
    bsub = bundle.add_subparsers(dest="bundle_command", metavar="ACTION", required=True, parser_class=Parser)

    p = bsub.add_parser("request", help="write what offline hosts have installed, for `bundle create`")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every apt host in the inventory")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=request)

    p = bsub.add_parser("create", help="build a signed bundle on a connected reference host")
    p.add_argument(
        "--reference",
        metavar="HOST",
        help="a host of the same release that reaches the repositories (apt and dnf hosts)",
    )
    p.add_argument(
        "--from-dir",
        type=Path,
        metavar="DIR",
        help="Windows hosts: the directory holding the downloaded .msu/.cab files and wsusscn2.cab",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--hosts", metavar="H,...", help="offline hosts of this inventory (read now)")
    who.add_argument("--all", action="store_true", help="every apt host of this inventory but the reference")
    who.add_argument("--request", type=Path, metavar="FILE", help="a request written by `bundle request`")
    p.add_argument(
        "--classification", metavar="C,...", help="only urgent, important and/or noncritical updates"
    )
    p.add_argument(
        "--estimate", action="store_true", help="resolve and print the download size; write nothing"
    )
    p.add_argument("-o", "--output", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=create)

    p = bsub.add_parser("verify", help="check a bundle completely: signature, every file's hash and size")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=verify)

    p = bsub.add_parser("apply", help="copy to each host what it needs; its package manager then uses it")
    p.add_argument("file", type=Path)
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every host of the bundle in this inventory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=apply)

    p = bsub.add_parser("remove", help="delete a bundle (and its rollback packages) from hosts")
    p.add_argument("bundle", metavar="FILE|ID")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=remove)

    p = bsub.add_parser("list", help="the bundles known here and what each host received")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=list_bundles)

    p = bsub.add_parser("key", help="write this workstation's public signing key (for `bundle trust`)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.set_defaults(func=key)

    p = bsub.add_parser("trust", help="accept bundles signed by the key another workstation exported")
    p.add_argument("keyfile", type=Path)
    p.add_argument("--label", default="")
    p.set_defaults(func=trust)


def _progress(args: argparse.Namespace) -> Any:
    shown = [-1]

    def show(fraction: float, message: str) -> None:
        step = int(fraction * 10)
        if step != shown[0] and not getattr(args, "json", False):
            shown[0] = step
            print(f"  {int(fraction * 100):3d}% {message}", file=sys.stderr)

    return show


def request(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundles

    if not args.names and not args.all:
        raise ConfigError("Name the hosts, or give --all.")
    db = open_db(args)
    hosts = bundles.hosts_named(db, args.names, args.all)
    states, failed = bundles.gather(db, hosts, secret_store(), _progress(args))
    if states:
        bundles.write_request(args.output, states)
    if args.json:
        dump_json(out, {"written": [s.name for s in states], "failed": failed, "file": str(args.output)})
    else:
        for s in states:
            print(f"{s.name}: {s.manager}, {s.os_id} {s.release} {s.arch}", file=out)
        for name, why in failed.items():
            print(f"{name}: not read: {why}", file=sys.stderr)
        if states:
            print(f"Request written to {args.output}.", file=out)
    return EXIT_OK if states and not failed else EXIT_FAILED


def _classes(value: str | None) -> list[Any] | None:
    from app.domain.models import Classification

    items = split_list(value)
    if items is None:
        return None
    try:
        return [Classification(c) for c in items]
    except ValueError:
        raise ConfigError("--classification takes urgent, important and/or noncritical.") from None


def create(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundles

    if not args.estimate and args.output is None:
        raise ConfigError("Give the bundle file to write with -o FILE (or --estimate).")
    db = open_db(args)
    secrets = secret_store()
    failed: dict[str, str] = {}
    if args.request is not None:
        states = bundles.read_request(args.request)
    else:
        names = split_list(args.hosts) or []
        hosts = [h for h in bundles.hosts_named(db, names, args.all) if h.name != args.reference]
        states, failed = bundles.gather(db, hosts, secrets, _progress(args))
    result = bundles.create(
        db,
        args.reference,
        states,
        args.output or Path("unused"),
        secrets=secrets,
        classifications=_classes(args.classification),
        progress=_progress(args),
        estimate_only=args.estimate,
        from_dir=args.from_dir,
    )
    hosts_json = [{"name": h.name, "updates": [list(u) for u in h.updates]} for h in result.hosts]
    if args.estimate:
        if args.json:
            dump_json(out, {"estimate_bytes": result.estimate, "hosts": hosts_json, "failed": failed})
        else:
            print(f"About {result.estimate / 2**20:.1f} MB to download.", file=out)
        return EXIT_OK if not failed else EXIT_FAILED
    manifest = result.manifest
    assert manifest is not None
    if args.json:
        dump_json(
            out,
            {
                "id": manifest.id,
                "file": str(args.output),
                "size": manifest.total_size,
                "hosts": [{"name": h.name, "updates": [list(u) for u in h.updates]} for h in manifest.hosts],
                "files": len(manifest.files),
                "failed": failed,
            },
        )
    else:
        print(
            f"Bundle {manifest.id} written to {args.output}: {len(manifest.files)} file(s), "
            f"{manifest.total_size / 2**20:.1f} MB, for {', '.join(h.name for h in manifest.hosts)}.",
            file=out,
        )
        for name, why in failed.items():
            print(f"{name}: not included: {why}", file=sys.stderr)
    return EXIT_OK if not failed else EXIT_FAILED


def verify(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundle_apply

    manifest = bundle_apply.verify(open_db(args), args.file, secret_store())
    if args.json:
        dump_json(
            out,
            {
                "ok": True,
                "id": manifest.id,
                "signer": manifest.signer,
                "created": manifest.created,
                "files": len(manifest.files),
                "size": manifest.total_size,
                "hosts": [h.name for h in manifest.hosts],
            },
        )
    else:
        print(
            f"Bundle {manifest.id} is intact: {len(manifest.files)} file(s) match the manifest signed by "
            f"{manifest.signer[:16]}… on {manifest.created}.",
            file=out,
        )
    return EXIT_OK


def _outcomes(args: argparse.Namespace, out: TextIO, outcomes: list[Any]) -> int:
    if args.json:
        dump_json(out, {"hosts": [{"name": o.host, "ok": o.ok, "message": o.message} for o in outcomes]})
    else:
        for o in outcomes:
            print(f"{o.host}: {o.message}", file=out if o.ok else sys.stderr)
    return EXIT_OK if outcomes and all(o.ok for o in outcomes) else EXIT_FAILED


def apply(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundle_apply

    if not args.names and not args.all:
        raise ConfigError("Name the hosts, or give --all.")
    outcomes = bundle_apply.apply(
        open_db(args),
        args.file,
        args.names,
        all_hosts=args.all,
        secrets=secret_store(),
        progress=_progress(args),
    )
    return _outcomes(args, out, outcomes)


def remove(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundle_apply

    outcomes = bundle_apply.remove(open_db(args), args.bundle, args.names, secrets=secret_store())
    if not outcomes:
        raise ConfigError(f"No host has received {args.bundle}.")
    return _outcomes(args, out, outcomes)


def list_bundles(args: argparse.Namespace, out: TextIO) -> int:
    from db import bundles as db_bundles

    db = open_db(args)
    stored = db_bundles.list_bundles(db)
    applied = db_bundles.applied(db)
    if args.json:
        dump_json(
            out,
            {
                "bundles": [
                    {
                        "id": b.id,
                        "path": b.path,
                        "created": b.created,
                        "size": b.size,
                        "verified_at": b.verified_at,
                        "hosts": [h.name for h in b.manifest.hosts],
                        "applied": [
                            {"host": a.host, "files": a.files, "bytes": a.bytes, "at": a.applied_at}
                            for a in applied
                            if a.bundle_id == b.id
                        ],
                    }
                    for b in stored
                ]
            },
        )
        return EXIT_OK
    print_table(
        out,
        ["ID", "CREATED", "SIZE (MB)", "FOR", "APPLIED ON"],
        [
            [
                b.id,
                b.created[:19].replace("T", " "),
                f"{b.size / 2**20:.1f}",
                ", ".join(h.name for h in b.manifest.hosts),
                ", ".join(a.host for a in applied if a.bundle_id == b.id),
            ]
            for b in stored
        ],
    )
    return EXIT_OK


def key(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundle_apply

    text = bundle_apply.export_key(secret_store())
    args.output.write_text(text, encoding="ascii")
    print(f"Public key written to {args.output} ({text.split()[4][:16]}…).", file=out)
    return EXIT_OK


def trust(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import bundle_apply

    fingerprint = bundle_apply.trust_key(open_db(args), args.keyfile, args.label)
    print(f"Bundles signed by {fingerprint[:16]}… are now accepted.", file=out)
    return EXIT_OK
