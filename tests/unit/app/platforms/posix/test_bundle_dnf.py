"""The pure edges of dnf offline bundles: reading the installed list, choosing what travels, the
advisories carried with it, and the dnf command lines that give a host its bundles as sources."""

from __future__ import annotations

import gzip
import shlex
import xml.etree.ElementTree as ET

import pytest

from app.domain.bundle import BundleError, Purpose, ResolvedPackage
from app.domain.models import PackageChange, PendingUpdate, UpdateKind
from app.platforms.posix import bundle_dnf, dnf, dnf_sources

BUNDLE = "0123456789abcdef"

UPDATEINFO = b"""<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@patchdesk.invalid" status="final" type="security" version="2.0">
    <id>PDSA-2099:0001</id>
    <severity>Important</severity>
    <references><reference href="https://www.cve.org/" id="CVE-2099-0001" type="cve"/></references>
    <pkglist><collection short="t"><name>t</name>
      <package name="pd-secfix" version="1.0" release="2" epoch="0" arch="noarch">
        <filename>x</filename></package>
    </collection></pkglist>
  </update>
  <update from="x@patchdesk.invalid" status="final" type="bugfix" version="2.0">
    <id>PDBA-2099:0002</id>
    <pkglist><collection short="t"><name>t</name>
      <package name="pd-regular" version="2.1" release="1" epoch="0" arch="noarch">
        <filename>y</filename></package>
    </collection></pkglist>
  </update>
</updates>
"""


def test_installed_list_reads_rpm_lines_and_refuses_a_hostile_name() -> None:
    status = b"pd-chain\t0:1.0-1.noarch\nkernel\t(none):5.14.0-1.el9.x86_64\ngpg-pubkey\t0:abc-def.(none)\n"
    found = bundle_dnf.parse_installed(status)
    assert found["pd-chain"][0].nevra == "pd-chain-0:1.0-1.noarch"
    assert found["kernel"][0].evr == "0:5.14.0-1.el9" and found["kernel"][0].shown == "5.14.0-1.el9"
    with pytest.raises(BundleError, match="cannot read"):
        bundle_dnf.parse_installed(b"x;rm -rf /\t0:1-1.noarch\n")


def test_repoquery_line_keeps_its_repository_and_epoch() -> None:
    rpm = bundle_dnf.parse_rpm_line("pd-epoch\t2:1.0-1.noarch\tpatchdesk-test")
    assert rpm is not None and (rpm.evr, rpm.repo, rpm.shown) == ("2:1.0-1", "patchdesk-test", "2:1.0-1")
    assert bundle_dnf.parse_rpm_line("pd-x\t1.0-1.noarch") is None  # no epoch: not what we asked for


def test_commands_pass_names_as_single_words_and_refuse_bad_ones() -> None:
    words = shlex.split(bundle_dnf.latest_command("/tmp/patchdesk-bundle.AAAAAAAAAA", ["b", "a"]))
    assert (
        words[-3:] == ["--", "a", "b"] and "--setopt=cachedir=/tmp/patchdesk-bundle.AAAAAAAAAA/cache" in words
    )
    with pytest.raises(BundleError):
        bundle_dnf.latest_command("/tmp/x", ["$(reboot)"])
    p = ResolvedPackage("pd-chain", "0:1.1-1", "noarch", Purpose.UPDATE)
    assert (
        shlex.split(bundle_dnf.download_command("/tmp/s", "/tmp/s/rpms", [p]))[-1]
        == "pd-chain-0:1.1-1.noarch"
    )


def test_a_multilib_half_does_not_replace_the_installed_architecture() -> None:
    x86 = bundle_dnf.Rpm("glibc", "0:2.34-1", "x86_64")
    assert bundle_dnf._fits(bundle_dnf.Rpm("glibc", "0:2.34-2", "x86_64"), x86, "x86_64")
    assert not bundle_dnf._fits(bundle_dnf.Rpm("glibc", "0:2.34-2", "i686"), x86, "x86_64")
    assert bundle_dnf._fits(bundle_dnf.Rpm("newdep", "0:1-1", "noarch"), None, "x86_64")
    assert not bundle_dnf._fits(bundle_dnf.Rpm("newdep", "0:1-1", "i686"), None, "x86_64")


def test_a_chosen_classification_sees_the_advisories_of_the_new_versions() -> None:
    advisories = bundle_dnf.read_updateinfo("x-updateinfo.xml.gz", gzip.compress(UPDATEINFO))
    pending = [
        PendingUpdate("dnf", "pd-secfix", "1.0-2", "1.0-1", "noarch"),
        PendingUpdate("dnf", "pd-regular", "2.1-1", "2.0-1", "noarch"),
        PendingUpdate("dnf", "pd-current", "1.1-1", "1.0-1", "noarch"),
    ]
    sec, reg, cur = bundle_dnf.annotate(pending, advisories)
    assert (sec.security, sec.kind, sec.severity, sec.cves) == (
        True,
        UpdateKind.SECURITY,
        "Important",
        ("CVE-2099-0001",),
    )
    assert (reg.security, reg.kind, reg.advisories) == (False, UpdateKind.BUGFIX, ("PDBA-2099:0002",))
    assert cur == pending[2]


def test_the_carried_advisories_are_only_those_of_the_bundle_s_updates() -> None:
    advisories = bundle_dnf.read_updateinfo("updateinfo.xml", UPDATEINFO)
    only = bundle_dnf.updateinfo_for(
        advisories, [ResolvedPackage("pd-secfix", "0:1.0-2", "noarch", Purpose.UPDATE)]
    )
    assert only is not None
    ids = [u.findtext("id") for u in ET.fromstring(only)]
    assert ids == ["PDSA-2099:0001"]
    none = bundle_dnf.updateinfo_for(advisories, [ResolvedPackage("pd-x", "0:1-1", "noarch", Purpose.UPDATE)])
    assert none is None


def test_advisories_with_a_dtd_or_an_unknown_compression_are_refused() -> None:
    with pytest.raises(BundleError, match="DTD"):
        bundle_dnf.read_updateinfo("u.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><updates/>')
    with pytest.raises(BundleError, match="compressed"):
        bundle_dnf.read_updateinfo("u.xml.zst", b"\x28\xb5\x2f\xfd")
    with pytest.raises(BundleError, match="cannot be read"):
        bundle_dnf.read_updateinfo("u.xml.gz", b"not gzip")


def test_source_options_disable_the_host_repositories_and_name_the_bundle() -> None:
    options = dnf_sources.source_options([BUNDLE])
    assert options[0] == "--disablerepo=*"
    assert f"--repofrompath=pdbundle-{BUNDLE},file:///var/lib/patchdesk/bundles/{BUNDLE}/repo" in options
    assert (
        f"--enablerepo=pdbundle-{BUNDLE}" in options and f"--setopt=pdbundle-{BUNDLE}.gpgcheck=0" in options
    )
    assert dnf_sources.source_options([]) == []
    with pytest.raises(BundleError):
        dnf_sources.source_options(["../../etc"])


def test_every_dnf_command_of_a_bundle_host_carries_the_bundle() -> None:
    """A command without the bundle would ask the host's own (unreachable) repositories."""
    src = [BUNDLE]
    repo = f"--enablerepo=pdbundle-{BUNDLE}"
    scan = dnf.scan_command("abcdefgh12", sources=src)
    assert (
        scan.count("check-update") >= 1
        and f"'--disablerepo=*' {shlex.join(dnf_sources.source_options(src)[1:])}" in scan
    )
    assert "/etc/yum.repos.d" not in scan.split("check-update")[0]  # the index reads the bundles' repos only
    assert repo in dnf.install_command(["pd-a"], sources=src)
    assert repo in dnf.plan_command(["pd-a"], sources=src)
    assert repo in dnf.list_command(["pd-a"], sources=src)
    assert repo in dnf.history_undo_command("7", sources=src)
    change = PackageChange("dnf", "pd-a", "1.0-1", "1.1-1", "noarch")
    assert all(repo in c for c in dnf.rollback_commands([change], sources=src))
    refresh = dnf.refresh_command("dnf", src)
    assert (
        isinstance(refresh, str)
        and repo in refresh
        and f"/var/lib/patchdesk/bundles/{BUNDLE}/created" in refresh
    )
    assert repo in dnf.held_command("abcdefgh12", sources=src)
    assert "--repofrompath" not in dnf.scan_command("abcdefgh12") + shlex.join(dnf.install_command(None))


def test_the_host_index_becomes_repodata_and_a_bad_pocket_is_refused() -> None:
    command = bundle_dnf.install_command(BUNDLE, "h1", 1_700_000_000)
    assert command.endswith("mv h1 repodata") and "sha256sum --quiet -c SHA256SUMS" in command
    with pytest.raises(BundleError):
        bundle_dnf.install_command(BUNDLE, "../x", 0)
    assert bundle_dnf.sources_command([]) is None
    assert "makecache" in (bundle_dnf.sources_command([BUNDLE]) or "")


def test_a_host_that_needs_nothing_gets_an_empty_index() -> None:
    command = bundle_dnf.index_command("/tmp/patchdesk-bundle.AAAAAAAAAA", "h0", [], updateinfo=False)
    assert ": > h0.list" in command and "modifyrepo_c" not in command


def test_the_request_leaves_repository_credentials_at_the_site() -> None:
    import subprocess

    text = "[r]\nbaseurl=https://x.invalid/\npassword=hunter2\n  Username = me\nenabled=1\n"
    pipeline = bundle_dnf.SOURCES_COMMAND.split("|", 1)[1].rsplit("|", 1)[0]
    out = subprocess.run(
        ["sh", "-c", pipeline], input=text, capture_output=True, text=True, check=True
    ).stdout
    assert "hunter2" not in out and "Username" not in out and "baseurl=https://x.invalid/" in out
