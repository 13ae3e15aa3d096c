"""Small helpers shared by the adapters' parsers of untrusted package-manager output."""

from __future__ import annotations

from app.platforms.posix.facts import clean_value

#: at most this many parse warnings are kept per command; the rest are only counted
MAX_WARNINGS = 50
#: a quoted line of host output is cut to this many characters
MAX_QUOTE = 160


def quote_line(line: str) -> str:
    """A line of host output made safe to show in a warning: no control characters, bounded length."""
    shown = clean_value(line.replace("\t", " "))
    return shown if len(line) <= MAX_QUOTE else shown[:MAX_QUOTE] + "…"


class Warnings:
    """Collects warnings up to a cap, then only counts them (a hostile host cannot flood the log)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(text)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"… and {self.dropped} more unparseable line(s)")
        return tuple(self.items)
