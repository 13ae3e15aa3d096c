"""What every inventory importer returns: the good hosts and the bad rows with their line numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.models import Host


@dataclass
class ImportProblem:
    line: int  # 1-based line in the file; 0 when the format gives none
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ImportResult:
    format: str
    hosts: list[Host] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    #: line of each host in the file, by host name (to report problems found later, e.g. duplicates)
    lines: dict[str, int] = field(default_factory=dict)

    def add(self, host: Host, line: int) -> None:
        from app.domain.errors import ConfigError
        from app.domain.inventory import validate_host

        try:
            validate_host(host)
        except ConfigError as exc:
            self.problems.append(ImportProblem(line, str(exc)))
            return
        if host.name.lower() in (n.lower() for n in self.lines):
            self.problems.append(
                ImportProblem(
                    line,
                    f"{host.name} appears again (first at line {self.lines[host.name]}); kept the first.",
                )
            )
            return
        self.hosts.append(host)
        self.lines[host.name] = line
