"""Ansible inventories, INI and YAML, as far as a patch console needs them.

Host names, ``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``
and ``ansible_connection`` (ssh / winrm / local) are read, from the host line or its groups' vars;
a host's patch group is the first group it appears in. Numeric ranges like ``web[01:03]`` expand.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from app.domain.errors import ConfigError, ImportFormatError
from app.domain.inventory import parse_port
from app.domain.models import Host, TransportKind
from app.importers.base import ImportProblem, ImportResult

if TYPE_CHECKING:
    import yaml

_RANGE = re.compile(r"^(.*)\[(\d+):(\d+)\](.*)$")
_CONNECTIONS = {
    "ssh": TransportKind.SSH,
    "paramiko": TransportKind.SSH,
    "smart": TransportKind.SSH,
    "winrm": TransportKind.WINRM,
    "psrp": TransportKind.WINRM,
    "local": TransportKind.LOCAL,
}


def _expand(pattern: str) -> list[str]:
    m = _RANGE.match(pattern)
    if not m:
        return [pattern]
    prefix, start, end, suffix = m.groups()
    width = len(start) if start.startswith("0") else 0
    lo, hi = int(start), int(end)
    if hi < lo or hi - lo > 10000:
        raise ConfigError(f"the range in {pattern!r} is empty or too large")
    return [f"{prefix}{str(i).zfill(width)}{suffix}" for i in range(lo, hi + 1)]


def _host_from_vars(name: str, group: str | None, hv: dict[str, Any]) -> Host:
    conn = str(hv.get("ansible_connection", "ssh")).lower()
    transport = _CONNECTIONS.get(conn)
    if transport is None:
        raise ConfigError(f"{name}: ansible_connection={conn} is not supported (ssh, winrm or local)")
    port = hv.get("ansible_port", hv.get("ansible_ssh_port"))
    user = hv.get("ansible_user", hv.get("ansible_ssh_user"))
    key = hv.get("ansible_ssh_private_key_file", hv.get("ansible_private_key_file"))
    return Host(
        name=name,
        address=str(hv.get("ansible_host", hv.get("ansible_ssh_host", name))),
        port=parse_port(str(port)) if port not in (None, "") else None,
        user=str(user) if user else None,
        key_file=str(key) if key else None,
        transport=transport,
        group=None if group in (None, "all", "ungrouped") else group,
    )


# -- INI --------------------------------------------------------------------------------------------


_BAD_SECTION = "\0bad"  # lines under a broken header are skipped, each problem reported once


class _IniReader:
    """The state of one INI parse: hosts with their line and group, group vars and group children."""

    def __init__(self) -> None:
        self.result = ImportResult("ansible-ini")
        self.section, self.kind = "ungrouped", "hosts"
        self.hosts: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.group_vars: dict[str, dict[str, str]] = {}
        self.children: dict[str, list[str]] = {}

    def problem(self, lineno: int, message: str) -> None:
        self.result.problems.append(ImportProblem(lineno, message))

    def read_line(self, lineno: int, line: str) -> None:
        if not line or line.startswith(("#", ";")):
            return
        if line.startswith("["):
            self.read_header(lineno, line)
            return
        if self.section == _BAD_SECTION:
            return
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.problem(lineno, f"cannot parse {line!r}: {exc}")
            return
        if not words:
            return
        if self.kind == "vars":
            self.read_var(lineno, line)
        elif self.kind == "children":
            self.children.setdefault(self.section, []).append(words[0])
        else:
            self.read_host(lineno, words)

    def read_header(self, lineno: int, line: str) -> None:
        if not line.endswith("]"):
            self.problem(lineno, f"malformed section header {line!r}")
            self.section, self.kind = _BAD_SECTION, "hosts"
            return
        section, _, kind = line[1:-1].strip().partition(":")
        self.section, self.kind = section, kind or "hosts"
        if self.kind not in ("hosts", "vars", "children"):
            self.problem(lineno, f"unknown section type {self.kind!r}")
            self.section = _BAD_SECTION

    def read_var(self, lineno: int, line: str) -> None:
        k, sep, v = line.partition("=")
        if not sep:
            self.problem(lineno, f"expected key=value, got {line!r}")
            return
        self.group_vars.setdefault(self.section, {})[k.strip()] = v.strip().strip("'\"")

    def read_host(self, lineno: int, words: list[str]) -> None:
        hv: dict[str, str] = {}
        for w in words[1:]:
            k, sep, v = w.partition("=")
            if not sep:
                self.problem(lineno, f"expected key=value after the host name, got {w!r}")
                return
            hv[k] = v
        try:
            names = _expand(words[0])
        except ConfigError as exc:
            self.problem(lineno, str(exc))
            return
        for n in names:
            if n not in self.hosts:
                self.hosts[n] = (lineno, self.section, hv)

    def inherited(self, parents: dict[str, list[str]], group: str, seen: frozenset[str]) -> dict[str, str]:
        """The vars of ``all``, then of the parent groups, then of the group itself (later ones win)."""
        out: dict[str, str] = dict(self.group_vars.get("all", {}))
        for p in parents.get(group, []):
            if p not in seen:  # a cycle of children ends here
                out.update(self.inherited(parents, p, seen | {group}))
        out.update(self.group_vars.get(group, {}))
        return out

    def finish(self) -> ImportResult:
        parents: dict[str, list[str]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                parents.setdefault(kid, []).append(parent)
        for name, (lineno, group, hv) in self.hosts.items():
            merged = {**self.inherited(parents, group, frozenset()), **hv}
            try:
                self.result.add(_host_from_vars(name, group, merged), lineno)
            except ConfigError as exc:
                self.problem(lineno, str(exc))
        return self.result


def parse_ini(text: str) -> ImportResult:
    reader = _IniReader()
    for lineno, raw in enumerate(text.splitlines(), 1):
        reader.read_line(lineno, raw.strip())
    return reader.finish()


# -- YAML -------------------------------------------------------------------------------------------


_YAML_NULLS = ("", "~", "null")


def _yaml_root(text: str) -> yaml.MappingNode:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ImportFormatError(f"The YAML inventory cannot be read (line {line}): {exc}") from exc
    if root is None or not isinstance(root, yaml.MappingNode):
        raise ImportFormatError("The YAML inventory must be a mapping of groups (e.g. 'all:').")
    return root


def _scalar_map(node: yaml.Node) -> dict[str, Any]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return {}
    out: dict[str, Any] = {}
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode):
            out[str(k.value)] = v.value
    return out


def _is_yaml_null(node: yaml.Node) -> bool:
    import yaml

    return isinstance(node, yaml.ScalarNode) and node.value in _YAML_NULLS


class _YamlWalker:
    """Walks the group tree; a host seen in an earlier group keeps that group."""

    def __init__(self) -> None:
        self.result = ImportResult("ansible-yaml")
        self.seen: dict[str, int] = {}

    def problem(self, line: int, message: str) -> None:
        self.result.problems.append(ImportProblem(line, message))

    def walk(self, group: str, node: yaml.Node, inherited: dict[str, Any], depth: int) -> None:
        import yaml

        if depth > 50:
            self.problem(node.start_mark.line + 1, "groups nested too deeply")
            return
        if _is_yaml_null(node):
            return
        if not isinstance(node, yaml.MappingNode):
            self.problem(node.start_mark.line + 1, f"group {group!r} is not a mapping")
            return
        parts = {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        gvars = {**inherited, **_scalar_map(parts["vars"])} if "vars" in parts else dict(inherited)
        self.read_hosts(group, parts.get("hosts"), gvars)
        kids = parts.get("children")
        if isinstance(kids, yaml.MappingNode):
            for k, v in kids.value:
                self.walk(str(k.value), v, gvars, depth + 1)

    def read_hosts(self, group: str, hosts_node: yaml.Node | None, gvars: dict[str, Any]) -> None:
        import yaml

        if isinstance(hosts_node, yaml.MappingNode):
            for k, v in hosts_node.value:
                self.read_host(group, k, v, gvars)
        elif hosts_node is not None and not (
            isinstance(hosts_node, yaml.ScalarNode) and not hosts_node.value
        ):
            self.problem(hosts_node.start_mark.line + 1, f"'hosts' of {group!r} is not a mapping")

    def read_host(self, group: str, k: yaml.Node, v: yaml.Node, gvars: dict[str, Any]) -> None:
        import yaml

        line = k.start_mark.line + 1
        try:
            names = _expand(str(k.value))
        except ConfigError as exc:
            self.problem(line, str(exc))
            return
        if not isinstance(v, yaml.MappingNode) and not _is_yaml_null(v):
            self.problem(line, f"host {k.value!r} must map to its variables")
            return
        for name in names:
            if name in self.seen:
                continue
            self.seen[name] = line
            try:
                self.result.add(_host_from_vars(name, group, {**gvars, **_scalar_map(v)}), line)
            except ConfigError as exc:
                self.problem(line, str(exc))


def parse_yaml(text: str) -> ImportResult:
    walker = _YamlWalker()
    for k, v in _yaml_root(text).value:
        walker.walk(str(k.value), v, {}, 0)
    return walker.result
