"""Ansible inventories, INI and YAML, as far as a patch console needs them.

Host names, ``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``
and ``ansible_connection`` (ssh / winrm / local) are read, from the host line or its groups' vars;
a host's patch group is the first group it appears in. Numeric ranges like ``web[01:03]`` expand.

Inventories are untrusted: ranges count against the file's host cap and an expansion budget, YAML is
composed without recursion and with a depth limit, a group or hosts mapping shared through YAML aliases
is walked once, and every value Patchdesk reads but cannot use (a list, a ``!vault`` or ``!include``
tag) is a problem naming its line rather than a silent default.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from app.domain.errors import ConfigError
from app.domain.models import Host, TransportKind
from app.importers.base import (
    MAX_HOSTS_PER_FILE,
    MAX_NAME_CHARS,
    ImportResult,
    bare,
    long_line_problem,
    port_of,
    quote,
)
from app.importers.yaml_tree import (
    MAX_DEPTH,
    YamlMap,
    YamlNode,
    YamlScalar,
    YamlSeq,
    compose,
    custom_tag,
    is_null,
)

__all__ = ["MAX_CHILD_LINES", "MAX_DEPTH", "MAX_GROUP_VISITS", "parse_ini", "parse_yaml"]

_RANGE = re.compile(r"^(.*)\[(\d+):(\d+)\](.*)$")
_MAX_RANGE = 10000
_CONNECTIONS = {
    "ssh": TransportKind.SSH,
    "paramiko": TransportKind.SSH,
    "smart": TransportKind.SSH,
    "winrm": TransportKind.WINRM,
    "psrp": TransportKind.WINRM,
    "local": TransportKind.LOCAL,
}
#: The only variables read; the others are kept out of memory (a file may hold millions).
_VARS = frozenset(
    {
        "ansible_connection",
        "ansible_host",
        "ansible_ssh_host",
        "ansible_port",
        "ansible_ssh_port",
        "ansible_user",
        "ansible_ssh_user",
        "ansible_ssh_private_key_file",
        "ansible_private_key_file",
    }
)
#: Group visits in one YAML walk, each place a group appears counted (aliases make many from few).
MAX_GROUP_VISITS = 100_000
#: Lines under [group:children] sections in one INI file (each is kept until the groups are resolved).
MAX_CHILD_LINES = 100_000
_MAX_GROUP_DEPTH = 50


def _expand(pattern: str, result: ImportResult, line: int) -> list[str]:
    """The names ``pattern`` stands for, as far as the host cap and the expansion budget allow; past
    the cap the names are only counted (the file's report says how many were not read)."""
    if len(pattern) > MAX_NAME_CHARS:
        raise ConfigError(f"the host name {quote(pattern)} is too long (at most {MAX_NAME_CHARS} characters)")
    m = _RANGE.match(pattern)
    if not m:
        return [pattern]
    prefix, start, end, suffix = m.groups()
    if len(start) > 9 or len(end) > 9 or int(end) < int(start) or int(end) - int(start) > _MAX_RANGE:
        raise ConfigError(f"the range in {quote(pattern)} is empty or too large")
    width = len(start) if start.startswith("0") else 0
    lo, hi = int(start), int(end)
    if result.full:
        result.admit(f"{prefix}{str(lo).zfill(width)}{suffix}", line, hi - lo + 1)
        return []
    if not result.spend_expansion(hi - lo + 1, pattern, line):
        return []
    return [f"{prefix}{str(i).zfill(width)}{suffix}" for i in range(lo, hi + 1)]


def _host_from_vars(name: str, group: str | None, hv: Mapping[str, str]) -> Host:
    conn = hv.get("ansible_connection", "ssh").lower()
    transport = _CONNECTIONS.get(conn)
    if transport is None:
        raise ConfigError(
            f"{bare(name)}: ansible_connection={bare(conn)} is not supported (ssh, winrm or local)"
        )
    port = hv.get("ansible_port", hv.get("ansible_ssh_port"))
    user = hv.get("ansible_user", hv.get("ansible_ssh_user"))
    key = hv.get("ansible_ssh_private_key_file", hv.get("ansible_private_key_file"))
    return Host(
        name=name,
        address=hv.get("ansible_host", hv.get("ansible_ssh_host", name)),
        port=port_of(port) if port else None,
        user=user or None,
        key_file=key or None,
        transport=transport,
        group=None if group in (None, "all", "ungrouped") else group,
    )


# -- INI --------------------------------------------------------------------------------------------


_BAD_SECTION = "\0bad"  # lines under a broken header are skipped, each problem reported once


class _IniReader:
    """The state of one INI parse: hosts with their line and group, group vars and group children."""

    def __init__(self, max_hosts: int) -> None:
        self.result = ImportResult("ansible-ini", max_hosts=max_hosts)
        self.section, self.kind = "ungrouped", "hosts"
        self.hosts: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.group_vars: dict[str, dict[str, str]] = {}
        self.children: dict[str, list[str]] = {}
        self.child_count = 0

    def problem(self, lineno: int, message: str) -> None:
        self.result.problem(lineno, message)

    def read_line(self, lineno: int, line: str) -> None:
        if not line or line.startswith(("#", ";")):
            return
        too_long = long_line_problem(line)
        if too_long is not None:
            self.problem(lineno, too_long)
            if line.startswith("["):
                self.section, self.kind = _BAD_SECTION, "hosts"
            return
        if line.startswith("["):
            self.read_header(lineno, line)
            return
        if self.section == _BAD_SECTION:
            return
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            self.problem(lineno, f"cannot parse {quote(line)}: {exc}")
            return
        if not words:
            return
        if self.kind == "vars":
            self.read_var(lineno, line)
        elif self.kind == "children":
            self.read_child(lineno, words[0])
        else:
            self.read_host(lineno, words)

    def read_child(self, lineno: int, child: str) -> None:
        self.child_count += 1
        if self.child_count <= MAX_CHILD_LINES:
            self.children.setdefault(self.section, []).append(child)
        elif self.child_count == MAX_CHILD_LINES + 1:
            self.problem(
                lineno,
                f"the file has more than {MAX_CHILD_LINES:,} lines under [...:children]; "
                "this one and those after it were not read",
            )

    def read_header(self, lineno: int, line: str) -> None:
        if not line.endswith("]"):
            self.problem(lineno, f"malformed section header {quote(line)}")
            self.section, self.kind = _BAD_SECTION, "hosts"
            return
        section, _, kind = line[1:-1].strip().partition(":")
        self.section, self.kind = section, kind or "hosts"
        if self.kind not in ("hosts", "vars", "children"):
            self.problem(lineno, f"unknown section type {quote(self.kind)}")
            self.section = _BAD_SECTION

    def read_var(self, lineno: int, line: str) -> None:
        k, sep, v = line.partition("=")
        if not sep:
            self.problem(lineno, f"expected key=value, got {quote(line)}")
            return
        if k.strip() in _VARS:
            self.group_vars.setdefault(self.section, {})[k.strip()] = v.strip().strip("'\"")

    def read_host(self, lineno: int, words: list[str]) -> None:
        hv: dict[str, str] = {}
        for w in words[1:]:
            k, sep, v = w.partition("=")
            if not sep:
                self.problem(lineno, f"expected key=value after the host name, got {quote(w)}")
                return
            if k in _VARS:
                hv[k] = v
        try:
            names = _expand(words[0], self.result, lineno)
        except ConfigError as exc:
            self.problem(lineno, str(exc))
            return
        for n in names:
            if n not in self.hosts and self.result.admit(n, lineno):
                self.hosts[n] = (lineno, self.section, hv)

    def inherited_vars(self) -> dict[str, dict[str, str]]:
        """For each group: the vars of ``all``, then of its parent groups, then its own (later ones win).

        Each group is resolved once, without recursion (a chain of children may be thousands long, and
        a lattice of groups with two parents each would double the work per level); a cycle of
        children ends where it closes.
        """
        parents: dict[str, list[str]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                parents.setdefault(kid, []).append(parent)
        base = self.group_vars.get("all", {})
        done: dict[str, dict[str, str]] = {}
        started: set[str] = set()
        for group in {g for _, g, _ in self.hosts.values()}:
            stack = [(group, False)]
            while stack:
                g, ready = stack.pop()
                if ready:
                    merged = dict(base)
                    for p in parents.get(g, []):
                        merged.update(done.get(p, {}))
                    merged.update(self.group_vars.get(g, {}))
                    done[g] = merged
                elif g not in started:
                    started.add(g)
                    stack.append((g, True))
                    stack.extend((p, False) for p in reversed(parents.get(g, [])) if p not in started)
        return done

    def finish(self) -> ImportResult:
        inherited = self.inherited_vars()
        for name, (lineno, group, hv) in self.hosts.items():
            try:
                host = _host_from_vars(name, group, {**inherited.get(group, {}), **hv})
            except ConfigError as exc:
                self.problem(lineno, str(exc))
                continue
            self.result.add(host, lineno, admitted=True)
        return self.result.finish()


def parse_ini(text: str, *, max_hosts: int = MAX_HOSTS_PER_FILE) -> ImportResult:
    reader = _IniReader(max_hosts)
    for lineno, raw in enumerate(text.splitlines(), 1):
        reader.read_line(lineno, raw.strip())
    return reader.finish()


# -- YAML -------------------------------------------------------------------------------------------


_MAX_MERGE_DEPTH = 20
_KIND = {YamlSeq: "list", YamlMap: "mapping"}


class _YamlWalker:
    """Walks the group tree; a host seen in an earlier group keeps that group.

    A mapping reached again through an alias is not walked again (its hosts were all seen the first
    time), and every group visit counts against ``max_groups``, so a small file cannot make the walk
    exponential.
    """

    def __init__(self, max_hosts: int, max_groups: int) -> None:
        self.result = ImportResult("ansible-yaml", max_hosts=max_hosts)
        self.seen: set[str] = set()
        self.walked: dict[YamlNode, int] = {}  # group mapping -> the shallowest depth it was walked at
        self.hosts_read: set[YamlNode] = set()
        self.var_maps: dict[YamlNode, dict[str, YamlNode]] = {}
        self.visits, self.max_groups = 0, max_groups

    def problem(self, line: int, message: str) -> None:
        self.result.problem(line, message)

    def walk(self, group: str, node: YamlNode, inherited: dict[str, YamlNode], depth: int) -> None:
        self.visits += 1
        if self.visits > self.max_groups:
            if self.visits == self.max_groups + 1:
                self.problem(
                    node.line,
                    f"the inventory has more than {self.max_groups:,} groups (counting each place a group "
                    "appears); the rest were not read",
                )
            return
        if depth > _MAX_GROUP_DEPTH:
            self.problem(node.line, "groups nested too deeply")
            return
        if is_null(node):
            return
        tag = custom_tag(node)
        if tag is not None:
            self.problem(
                node.line,
                f"group {quote(group)} uses the tag {bare(tag)}, which Patchdesk does not follow "
                "(no includes); skipped",
            )
            return
        if not isinstance(node, YamlMap):
            self.problem(node.line, f"group {quote(group)} is not a mapping")
            return
        if self.walked.get(node, depth + 1) <= depth:
            return
        self.walked[node] = depth
        parts = {k.value: v for k, v in node.pairs if isinstance(k, YamlScalar)}
        gvars = dict(inherited)
        if "vars" in parts:
            gvars.update(self.var_map(parts["vars"], f"'vars' of {quote(group)}", 0))
        self.read_hosts(group, parts.get("hosts"), gvars)
        self.walk_children(group, parts.get("children"), gvars, depth)

    def walk_children(
        self, group: str, kids: YamlNode | None, gvars: dict[str, YamlNode], depth: int
    ) -> None:
        if kids is None or is_null(kids):
            return
        what = f"'children' of {quote(group)}"
        if not self.usable_mapping(kids, what):
            return
        assert isinstance(kids, YamlMap)
        for k, v in kids.pairs:
            if isinstance(k, YamlScalar):
                self.walk(k.value, v, gvars, depth + 1)
            else:
                self.problem(k.line, f"a group name under {quote(group)} is a {_KIND[type(k)]}; skipped")

    def usable_mapping(self, node: YamlNode, what: str) -> bool:
        """True for a plain mapping; otherwise say why ``what`` is ignored."""
        tag = custom_tag(node)
        if tag is not None:
            self.problem(
                node.line,
                f"{what} uses the tag {bare(tag)}, which Patchdesk does not follow (no includes); ignored",
            )
            return False
        if not isinstance(node, YamlMap):
            self.problem(node.line, f"{what} is not a mapping; ignored")
            return False
        return True

    def var_map(self, node: YamlNode, what: str, depth: int) -> dict[str, YamlNode]:
        """The variables Patchdesk reads from a vars mapping, as YAML nodes (checked when a host uses
        them); ``<<`` merge keys are followed, explicit keys winning."""
        if is_null(node):
            return {}
        known = self.var_maps.get(node)
        if known is not None:
            return known
        if not self.usable_mapping(node, what):
            self.var_maps[node] = {}
            return {}
        assert isinstance(node, YamlMap)
        merged: dict[str, YamlNode] = {}
        own: dict[str, YamlNode] = {}
        for k, v in node.pairs:
            if not isinstance(k, YamlScalar):
                continue
            if k.value == "<<" and depth < _MAX_MERGE_DEPTH:
                sources = v.items if isinstance(v, YamlSeq) else [v]
                for source in reversed(sources):  # the first mapping of a merge list wins
                    merged.update(self.var_map(source, f"the merge at line {v.line}", depth + 1))
            elif k.value in _VARS:
                own[k.value] = v
        merged.update(own)
        self.var_maps[node] = merged
        return merged

    def read_hosts(self, group: str, hosts_node: YamlNode | None, gvars: dict[str, YamlNode]) -> None:
        if hosts_node is None or is_null(hosts_node) or hosts_node in self.hosts_read:
            return
        self.hosts_read.add(hosts_node)  # its hosts are all seen after one reading
        if custom_tag(hosts_node) is not None:
            self.usable_mapping(hosts_node, f"'hosts' of {quote(group)}")
        elif not isinstance(hosts_node, YamlMap):
            self.problem(hosts_node.line, f"'hosts' of {quote(group)} is not a mapping")
        else:
            for k, v in hosts_node.pairs:
                self.read_host(group, k, v, gvars)
            # Never read again (hosts_read), so its nodes can go while the rest is walked: the tree
            # and the hosts built from it are then never both whole (100,000 hosts: 309 -> 240 MB).
            hosts_node.pairs.clear()

    def read_host(self, group: str, k: YamlNode, v: YamlNode, gvars: dict[str, YamlNode]) -> None:
        line = k.line
        if not isinstance(k, YamlScalar):
            self.problem(line, f"a host name in {quote(group)} is a {_KIND[type(k)]}; skipped")
            return
        if not is_null(v) and (custom_tag(v) is not None or not isinstance(v, YamlMap)):
            self.problem(line, f"host {quote(k.value)} must map to its variables")
            return
        try:
            names = _expand(k.value, self.result, line)
        except ConfigError as exc:
            self.problem(line, str(exc))
            return
        hv = {**gvars, **self.var_map(v, f"host {quote(k.value)}", 0)}
        for name in names:
            if name in self.seen:
                continue
            if not self.result.admit(name, line):
                continue  # past the cap: counted, and not remembered (that would take memory)
            self.seen.add(name)
            try:
                host = _host_from_vars(name, group, _scalar_vars(name, hv))
            except ConfigError as exc:
                self.problem(line, str(exc))
                continue
            self.result.add(host, line, admitted=True)


def _scalar_vars(name: str, hv: dict[str, YamlNode]) -> dict[str, str]:
    """The host's variables as text; a list, mapping or unknown tag where one value is needed is a
    ConfigError naming the variable and its line (a default would connect somewhere else)."""
    out: dict[str, str] = {}
    for key, node in hv.items():
        tag = custom_tag(node)
        if tag is not None:
            raise ConfigError(
                f"{bare(name)}: {key} (line {node.line}) uses the tag {bare(tag)}, "
                "which Patchdesk does not read"
            )
        if not isinstance(node, YamlScalar):
            raise ConfigError(
                f"{bare(name)}: {key} (line {node.line}) is a {_KIND[type(node)]}, not a single value"
            )
        if not is_null(node):
            out[key] = node.value
    return out


def parse_yaml(
    text: str, *, max_hosts: int = MAX_HOSTS_PER_FILE, max_groups: int = MAX_GROUP_VISITS
) -> ImportResult:
    walker = _YamlWalker(max_hosts, max_groups)
    for k, v in compose(text).pairs:
        if isinstance(k, YamlScalar):
            walker.walk(k.value, v, {}, 0)
        else:
            walker.problem(k.line, f"a top-level group name is a {_KIND[type(k)]}; skipped")
    return walker.result.finish()
