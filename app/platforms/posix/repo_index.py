"""How current the metadata of the RPM package managers (dnf/yum, zypper) is: one rule for both.

Both keep one metadata cache per repository, and each refresh touches one file in it: libdnf's
``Repo::getAge`` is the age of the cached primary file (a refresh that finds the repository unchanged
touches it, ``resetTimestamp``), yum 3 touches ``cachecookie``, libzypp ``raw/<alias>/repodata/
repomd.xml`` (``touchIndexFile``; ``content`` for YaST2 repositories, ``cookie`` for plain directories).
The index is as old as its *oldest* enabled repository: one stale repository hides that repository's
updates. An enabled repository without cached metadata makes the index unusable (measured, no date).

The host prints, in one short snippet and without starting a program per repository, its clock, its
repository files (``[id]`` sections with ``enabled=``) and ``<mtime> <path>`` of every cache file that
dates a refresh; the parsers here are pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from app.domain.models import IndexState
from app.platforms.base import clean_value

#: at most this many lines of repository files and cache times are read (a host has a few dozen)
MAX_LINES = 20000
_SECTION_RE = re.compile(r"\[([^\]\s]{1,200})\]")
_FALSE = frozenset({"0", "no", "false", "off"})


def enabled_repos(lines: Iterable[str]) -> list[str]:
    """The ids of the enabled repositories in concatenated ``.repo`` files (INI; ``enabled`` defaults
    to on, ``[main]`` is the configuration, not a repository)."""
    state: dict[str, bool] = {}
    current: str | None = None
    for count, raw in enumerate(lines):
        if count >= MAX_LINES:
            break
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        section = _SECTION_RE.fullmatch(line)
        if section:
            current = None if section.group(1) == "main" else clean_value(section.group(1))
            if current is not None:
                state.setdefault(current, True)
            continue
        key, sep, value = line.partition("=")
        if current is not None and sep and key.strip().lower() == "enabled":
            state[current] = value.strip().lower() not in _FALSE
    return [repo for repo, on in state.items() if on]


def parse_times(
    lines: Iterable[str], repo_of: Callable[[str], str | None]
) -> tuple[int | None, dict[str, int]]:
    """The host's clock (``now <epoch>``) and the newest refresh time per repository from
    ``<epoch> <path>`` lines; ``repo_of`` names the repository a path belongs to (None: not ours)."""
    host_now: int | None = None
    times: dict[str, int] = {}
    for count, raw in enumerate(lines):
        if count >= MAX_LINES:
            return None, {}  # longer than any host's answer: not ours
        word, _, rest = raw.strip().partition(" ")
        if word == "now":
            host_now = int(rest) if rest.strip().isdigit() and len(rest.strip()) < 15 else host_now
            continue
        if not word.isdigit() or len(word) >= 15:
            continue
        repo = repo_of(rest.strip())
        if repo is not None:
            times[repo] = max(times.get(repo, 0), int(word))
    return host_now, times


def index_state(
    manager: str,
    enabled: Iterable[str],
    host_now: int | None,
    times: Mapping[str, int],
    now: datetime,
    *,
    fix: str,
) -> IndexState:
    """The index's state from the enabled repositories and their refresh times.

    The age is taken on the host's own clock and carried over to ``now`` (the console's clock), so a
    host whose clock is off does not move it. ``fix`` says how to fill a missing cache, in a sentence.
    """
    if host_now is None:
        return IndexState(notes=(unreadable_note(manager),))
    repos = list(dict.fromkeys(enabled))
    if not repos:
        return IndexState(
            notes=(
                f"No {manager} repository is enabled on this host, so {manager} knows of no updates at "
                "all and this scan cannot vouch that nothing is pending.",
            )
        )
    missing = [r for r in repos if r not in times]
    if missing:
        shown = ", ".join(repr(r) for r in missing[:5]) + (" …" if len(missing) > 5 else "")
        which = "repository" if len(missing) == 1 else "repositories"
        return IndexState(
            measured=True,
            notes=(
                f"No cached {manager} metadata for the enabled {which} {shown} on this host, so its "
                f"updates are not known; {fix}",
            ),
        )
    oldest = min(times[r] for r in repos)
    return IndexState(now - timedelta(seconds=max(0, host_now - oldest)), measured=True)


def unreadable_note(manager: str) -> str:
    return (
        f"Patchdesk could not read the age of {manager}'s repository metadata on this host, so this scan "
        "cannot vouch that it saw every update."
    )


__all__ = ["enabled_repos", "index_state", "parse_times", "unreadable_note"]
