"""A YAML document as a small tree of nodes, composed from the parser's events without recursion.

PyYAML's composer recurses once per nesting level (5,000 nested flow mappings end in RecursionError,
and the C composer would overflow the C stack instead), and it keeps a reader's mark on every node.
This composer keeps an explicit stack with a depth limit, the line of each node and its tag, and
resolves an alias to the node its anchor names, shared rather than copied, so whoever walks the tree
can recognise a node seen before. An anchor becomes usable when its node is complete, so a node
cannot contain itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

from app.domain.errors import ImportFormatError
from app.importers.base import bare

#: Nesting levels of mappings and sequences; an inventory of 50 nested groups needs about 110.
MAX_DEPTH = 200
#: Values (scalars, aliases, mappings, lists) in one document: 100,000 hosts with three variables each
#: take 800,000; at 1.5 million short host names the tree alone takes about 200 MB.
MAX_NODES = 1_500_000
_NULLS = ("", "~", "null", "Null", "NULL")
_CORE_TAGS = "tag:yaml.org,2002:"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(eq=False, slots=True)
class YamlScalar:
    line: int
    tag: str | None
    value: str


@dataclass(eq=False, slots=True)
class YamlMap:
    line: int
    tag: str | None
    pairs: list[tuple[YamlNode, YamlNode]] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class YamlSeq:
    line: int
    tag: str | None
    items: list[YamlNode] = field(default_factory=list)


YamlNode: TypeAlias = "YamlScalar | YamlMap | YamlSeq"


def is_null(node: YamlNode) -> bool:
    return isinstance(node, YamlScalar) and node.tag is None and node.value in _NULLS


def custom_tag(node: YamlNode) -> str | None:
    """The node's tag when it is not one of YAML's own (``!include``, ``!vault``...), else None."""
    tag = node.tag
    if tag is None or tag in ("!", "?") or tag.startswith(_CORE_TAGS):
        return None
    return tag


class _Composer:
    def __init__(self) -> None:
        self.stack: list[YamlMap | YamlSeq] = []
        self.keys: list[YamlNode | None] = []  # per open mapping: a key waiting for its value
        self.open_anchors: list[str | None] = []
        self.anchors: dict[str, YamlNode] = {}
        self.root: YamlNode | None = None
        self.documents = 0
        self.nodes = 0

    def attach(self, node: YamlNode) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        if isinstance(parent, YamlSeq):
            # Only the mappings of a list are ever read (a << merge); the rest would only take memory.
            if isinstance(node, YamlMap):
                parent.items.append(node)
            return
        key = self.keys[-1]
        if key is None:
            self.keys[-1] = node
        else:
            parent.pairs.append((key, node))
            self.keys[-1] = None

    def anchor(self, name: str | None, node: YamlNode) -> None:
        if name is not None:
            self.anchors[name] = node

    def open(self, node: YamlMap | YamlSeq, anchor: str | None) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise ImportFormatError(
                f"The YAML inventory nests deeper than {MAX_DEPTH} levels (line {node.line}); "
                "no inventory needs that many."
            )
        self.stack.append(node)
        self.keys.append(None)
        self.open_anchors.append(anchor)

    def close(self) -> None:
        node = self.stack.pop()
        self.keys.pop()
        self.anchor(self.open_anchors.pop(), node)
        self.attach(node)

    def feed(self, event: object) -> None:
        import yaml

        line = event.start_mark.line + 1 if getattr(event, "start_mark", None) is not None else 0  # type: ignore[attr-defined]
        if isinstance(event, yaml.NodeEvent):  # scalars, aliases and collection starts
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise ImportFormatError(
                    f"The YAML inventory holds more than {MAX_NODES:,} values (at line {line}); "
                    "split it into smaller files."
                )
        if isinstance(event, yaml.ScalarEvent):
            scalar = YamlScalar(line, event.tag, event.value)
            self.anchor(event.anchor, scalar)
            self.attach(scalar)
        elif isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is None:
                alias = bare("*" + (event.anchor or ""))
                raise ImportFormatError(
                    f"The YAML inventory cannot be read (line {line}): the alias {alias} "
                    "names no anchor defined before it."
                )
            self.attach(target)
        elif isinstance(event, yaml.MappingStartEvent):
            self.open(YamlMap(line, event.tag), event.anchor)
        elif isinstance(event, yaml.SequenceStartEvent):
            self.open(YamlSeq(line, event.tag), event.anchor)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.close()
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise ImportFormatError(
                    f"The YAML inventory holds more than one document (the second starts at line {line})."
                )


def compose(text: str) -> YamlMap:
    """The single document of ``text``, which must be a mapping; ImportFormatError with a line
    otherwise."""
    import yaml

    composer = _Composer()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed: 10x faster
    try:
        for event in yaml.parse(text, Loader=loader):
            composer.feed(event)
    except yaml.YAMLError as exc:
        raise ImportFormatError(f"The YAML inventory cannot be read {_describe(exc, text)}") from None
    root = composer.root
    if root is None or not isinstance(root, YamlMap):
        raise ImportFormatError("The YAML inventory must be a mapping of groups (e.g. 'all:').")
    return root


def _describe(exc: Exception, text: str) -> str:
    """``(line N): problem`` on one line, without the snippet of input PyYAML may add (it can be a
    huge line) and with control characters escaped."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line = mark.line + 1
    elif isinstance(getattr(exc, "position", None), int):  # a ReaderError: bad characters
        line = text.count("\n", 0, exc.position) + 1  # type: ignore[attr-defined]
    else:
        line = 0
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    context = getattr(exc, "context", None)
    what = " ".join(f"{context}: {problem}".split() if context else str(problem).split())
    what = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", what)
    return f"(line {line}): {what if len(what) <= 200 else what[:200] + '…'}"
