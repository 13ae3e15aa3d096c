"""The offline bundles applied on a dnf host, given to dnf on its command line only.

Each bundle is a repository under /var/lib/patchdesk/bundles/<id>/repo (app/platforms/posix/
bundle_dnf.py). Every dnf command on such a host disables the host's own repositories and names the
bundles instead (``--repofrompath``), so nothing under /etc/yum.repos.d or /etc/dnf is ever written.

``gpgcheck=0`` for these repositories: Patchdesk checked the bundle's Ed25519 signature and every
file's SHA-256 on the host before the repository was made, so that is what vouches for the rpms;
dnf does not check the vendor's rpm signatures again for them (see README, "Offline sites").
``metadata_expire=-1``: a bundle's index never changes, and its age is the bundle's (redate_cache).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from app.domain.bundle import HOST_ROOT, check_id

REPO_PREFIX = "pdbundle-"


def repo_id(bundle_id: str) -> str:
    return f"{REPO_PREFIX}{check_id(bundle_id)}"


def source_options(sources: Sequence[str]) -> list[str]:
    """dnf options that make the bundles applied on the host (``sources``: their ids) its only
    repositories; none when the host has no bundle."""
    if not sources:
        return []
    out = ["--disablerepo=*"]
    for bundle_id in sorted(set(sources)):
        repo = repo_id(bundle_id)
        out += [
            f"--repofrompath={repo},file://{HOST_ROOT}/{bundle_id}/repo",
            f"--enablerepo={repo}",
            f"--setopt={repo}.gpgcheck=0",
            f"--setopt={repo}.metadata_expire=-1",
        ]
    return out


def repos_text(sources: Sequence[str]) -> str:
    """Shell printing what the repository files would say of the bundles' repositories (the index
    reader's view of which repositories are enabled on such a host)."""
    text = "".join(f"[{repo_id(i)}]\\nenabled=1\\n" for i in sorted(set(sources)))
    return f"printf '{text}'"


def cache_files(sources: Sequence[str]) -> list[str]:
    """The cache files of the bundles' repositories (dnf_parse.CACHE_FILES for them only)."""
    return [f"/var/cache/dnf/{repo_id(i)}-*/repodata/*primary*" for i in sorted(set(sources))]


def redate_cache(sources: Sequence[str]) -> str:
    """Shell: give the bundles' metadata caches the time each bundle was built (its ``created`` file),
    as apt_install.redate_lists does: a bundle's index is only as new as the bundle."""
    parts = [
        f"touch -c -r {HOST_ROOT}/{check_id(i)}/created -- {' '.join(cache_files([i]))} 2>/dev/null"
        for i in sorted(set(sources))
    ]
    return "; ".join(parts) + ("; true" if parts else "true")


def join(sources: Sequence[str]) -> str:
    """The options as shell words, with a leading space (empty without bundles)."""
    options = source_options(sources)
    return (" " + shlex.join(options)) if options else ""
